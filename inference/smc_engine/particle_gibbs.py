"""Conditional SMC (particle Gibbs, Andrieu, Doucet & Holenstein 2010) as an MCMC kernel.

`particle_gibbs(model, particles=N)` returns `kernel(rng, trace) -> trace` for traces of a
`ppl.unfold` model. The kernel runs SMC with N - 1 free particles and one reference particle
that follows the given trace step by step; before every step after the first, the free
particles draw their ancestors multinomially from all N (the reference keeps its own path).
At the end one particle is drawn in proportion to its final weight and its full trace
returned. The posterior of the unfold is invariant under this kernel (the tests check it
exactly by enumeration).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from inference.arguments import check_particles
from inference.smc_engine.smc_unfold import Prefixes, extend, initial_particle
from inference.weighting import normalized
from ppl.combinators import Unfold
from ppl.errors import ModelError
from ppl.rng import rng as as_rng


def particle_gibbs(model: Unfold, particles: int = 2) -> Callable[[Any, Any], Any]:
    """A conditional-SMC kernel on traces of the unfold `model` with `particles` particles (>= 1)."""
    n = check_particles(particles)
    if not isinstance(model, Unfold):
        raise TypeError(f"particle_gibbs needs a ppl.unfold generative function, got {type(model).__name__}")

    def kernel(rng: Any, trace: Any) -> Any:
        if trace.gen_fn is not model:
            raise ModelError(f"particle_gibbs: the trace is of {getattr(trace.gen_fn, 'name', trace.gen_fn)!r}, not of {model.name}")
        if trace.score == -math.inf:
            raise ModelError("particle_gibbs: the reference trace has probability zero under the model")
        return _conditional_smc(as_rng(rng), model, trace, n)

    kernel.__name__ = f"particle_gibbs({model.name}, particles={n})"
    return kernel


def _conditional_smc(rng: Any, model: Unfold, reference: Any, n: int) -> Any:
    args = reference.args
    params = tuple(args[1:])
    population = [initial_particle(args[0]) for _ in range(n)]
    for t in range(model.steps):
        if t > 0:
            weights = normalized([p.log_weight for p in population])
            ancestors = [rng.categorical(weights) for _ in range(n - 1)] + [n - 1]
            population = [population[a].reweighted(0.0) for a in ancestors]
        free = [extend(rng, model.kernel, p, params) for p in population[:-1]]
        fixed = extend(rng, model.kernel, population[-1], params, constraint=reference.choices.submap(t))
        population = free + [fixed]
    chosen = population[rng.categorical(normalized([p.log_weight for p in population]))] if n > 1 else population[0]
    return Prefixes(model, args).trace(rng, chosen)
