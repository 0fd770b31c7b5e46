"""Conditional SMC (particle Gibbs, Andrieu, Doucet & Holenstein 2010) as an MCMC kernel, on the one engine.

`particle_gibbs(model, particles=N)` returns `kernel(rng, trace) -> trace` for traces of a
`ppl.unfold` model. The kernel runs SMC with N - 1 free particles and one reference particle
that follows the given trace step by step; after every step but the last, the free
particles draw their ancestors multinomially from all N (the reference keeps its own path).
At the end one particle is drawn in proportion to its final weight and its full trace
returned. The posterior of the unfold is invariant under this kernel (the tests check it
exactly by enumeration).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from inference.arguments import check_particles
from inference.smc_engine.engine import Conditional, run_smc
from inference.smc_engine.unfold_population import UnfoldPopulation
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
        r = as_rng(rng)
        population = UnfoldPopulation(model, trace.args, n, r, reference=trace)
        result = run_smc(population, r, Conditional(), max_steps=model.steps, steps_known=model.steps,
                         name="particle_gibbs")
        chosen = r.categorical(normalized(result.log_weights)) if n > 1 else 0
        return result.particles[chosen].trace

    kernel.__name__ = f"particle_gibbs({model.name}, particles={n})"
    return kernel
