"""The primitives variational objectives are written with: draw from the guide, score under the model.

An objective is a plain function `objective(model, guide, params, key) -> scalar` built from
`sample_guide` and `log_density`; inside `vi.gradient`/`vi.fit` each guide choice is drawn the
way its gradient estimator needs (reparameterized, score-function, or enumerated).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ppl.choicemap import ChoiceMap
from ppl.generative import DynamicGenFn, GenCall, GenerativeFunction

from inference.vi.branching import current_branch
from inference.vi.handlers import DensityHandler, ProposeHandler


@dataclass(frozen=True)
class GuideSample:
    """One draw from the guide: its choices, log q of them (a JAX scalar), and the guide's return value."""

    choices: ChoiceMap
    log_q: Any
    retval: Any


def bound_model(model: Any) -> tuple[GenerativeFunction, tuple]:
    """(generative function, arguments) of a model given as `g` (no arguments) or `g(*args)`."""
    if isinstance(model, GenCall):
        return model.gen_fn, model.args
    if isinstance(model, GenerativeFunction):
        return model, ()
    raise TypeError(f"model must be a generative function or one applied to its arguments (model(x, y)), "
                    f"got {type(model).__name__}")


def check_guide(guide: Any) -> DynamicGenFn:
    """The guide itself: a @ppl.gen function whose first argument is the parameter pytree."""
    if isinstance(guide, GenCall):
        raise TypeError(f"pass the guide itself ({guide.gen_fn.name}), not applied to arguments: it is called as guide(params)")
    if not isinstance(guide, DynamicGenFn):
        raise TypeError(f"guide must be a @ppl.gen function taking the parameter pytree, got {type(guide).__name__}")
    return guide


def sample_guide(guide: DynamicGenFn, params: Any, key: Any) -> GuideSample:
    """Run `guide(params)` with JAX key `key`: its choices and their log density log q."""
    handler = ProposeHandler(key, current_branch())
    retval = handler.run(check_guide(guide), (params,))
    return GuideSample(ChoiceMap(handler.choices), handler.score, retval)


def log_density(model: Any, choices: Any) -> Any:
    """log p(choices, evidence) of the model (`g` or `g(*args)`) as a JAX scalar.

    `choices` must give every latent choice the model makes, and nothing else.
    """
    gen_fn, args = bound_model(model)
    handler = DensityHandler(ChoiceMap.coerce(choices))
    handler.run(gen_fn, args)
    handler.check_all_visited()
    return handler.score
