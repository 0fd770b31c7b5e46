"""`inference.smc`: SMC over `ppl.Model` particles and `ppl.unfold` generative functions, on the one engine.

For a Model the population is N clones stepped together (their LM requests batched); for an
unfold it is N prefixes extended by the prior kernel, with optional resample-move. Both run
under `EssResampling`: resample when the ESS of the (twisted) weights falls to
ess_threshold * N, every offspring taking the log mean weight, so log_ml = log mean final
weight is unbiased for the marginal likelihood whatever the threshold and scheme.
See inference/smc_engine/engine.py.
"""
from __future__ import annotations

from typing import Any, Callable

from inference.history.recorder import HistoryRecorder
from inference.arguments import check_ess_threshold, check_max_steps, check_particles, check_scheme
from inference.result import Result
from inference.smc_engine.engine import EssResampling, Observer, run_smc
from inference.smc_engine.model_population import ModelPopulation
from inference.smc_engine.unfold_population import UnfoldPopulation
from ppl.combinators import Unfold
from ppl.model import Model
from ppl.rng import rng as as_rng


def smc(model: Any, *args: Any, particles: int = 100, ess_threshold: float = 0.5, resampling: str = "systematic",
        rng: Any = 0, rejuvenation: Callable[[Any, Any], Any] | None = None, max_steps: int = 10_000,
        on_step: Observer | None = None, record: bool = False) -> Result:
    """SMC on a ppl.Model (no args) or a ppl.unfold generative function (args: initial state, params).

    `rejuvenation(rng, trace) -> trace` or `-> (trace, accepted)` is an MCMC kernel applied to every particle after
    each resampling; it must leave the current prefix posterior invariant. A Model's particles are moved on the
    traces of their prefix programs (`Model.program(steps=k)`: its steps replayed under the GFI). `on_step(info)` is called after
    every step with its `StepInfo` (ESS, resampled, live particles, running log-ML, seconds); Ctrl-C raises
    `inference.Interrupted`, whose `.result` holds the population so far. `record=True` keeps every step's particles
    in `result.history` (`result.save_html(path)` shows them: docs/viewer.md).
    """
    n = check_particles(particles)
    selection = EssResampling(check_ess_threshold(ess_threshold), check_scheme(resampling))
    limit = check_max_steps(max_steps)
    if rejuvenation is not None and not callable(rejuvenation):
        raise TypeError(f"rejuvenation must be a kernel(rng, trace) -> trace, got {type(rejuvenation).__name__}")
    r = as_rng(rng)
    history = HistoryRecorder() if record else None
    if isinstance(model, Model):
        if args:
            raise TypeError("smc(model) takes no extra arguments for a ppl.Model: the instance holds its state")
        return run_smc(ModelPopulation(model, n, rejuvenation), r, selection, max_steps=limit, subject=type(model).__name__,
                       observer=on_step, history=history)
    if isinstance(model, Unfold):
        model.check_args(args)
        population = UnfoldPopulation(model, args, n, r, rejuvenation=rejuvenation)
        return run_smc(population, r, selection, max_steps=limit, steps_known=model.steps, observer=on_step,
                       history=history)
    raise TypeError(f"smc needs a ppl.Model or a ppl.unfold generative function, got {type(model).__name__} "
                    "(for any other generative function use inference.importance)")
