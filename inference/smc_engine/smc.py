"""Sequential Monte Carlo over `ppl.Model` particles and `ppl.unfold` generative functions.

For a Model: the model is cloned N times; each step drives every unfinished particle's
`run_step(rng)` coroutine together through `ppl.run_batched`, so their LM requests are served in
one batch. After a step the ESS of the (twisted) weights decides whether to resample; the chosen
ancestors are cloned (cloning copies state, it never re-runs the program) and every offspring
gets the log mean weight. Finished particles keep their weight and are carried along (they take
part in resampling like the others). Twists are removed by `Model.untwist` before a particle's
next step and when it finishes, so they steer resampling but the final weights, and hence
the estimate log_ml = log mean final weight, are untwisted; the estimate is unbiased for the
marginal likelihood whatever the threshold and scheme.

For a `ppl.unfold` generative function see inference.smc_engine.smc_unfold.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from inference.arguments import check_ess_threshold, check_max_steps, check_particles, check_scheme
from inference.smc_engine.population import resample_population, should_resample
from inference.result import Particle, Result, StepInfo
from inference.weighting import check_log_weights, effective_sample_size, log_sum_exp
from ppl.batching import run_batched
from ppl.combinators import Unfold
from ppl.errors import ModelError
from ppl.model import Model
from ppl.rng import rng as as_rng


def smc(model: Any, *args: Any, particles: int = 100, ess_threshold: float = 0.5, resampling: str = "systematic",
        rng: Any = 0, rejuvenation: Callable[[Any, Any], Any] | None = None, max_steps: int = 10_000) -> Result:
    """SMC on a ppl.Model (no args) or a ppl.unfold generative function (args: initial state, params).

    `rejuvenation(rng, trace) -> trace` or `-> (trace, accepted)` (unfold only) is an MCMC kernel applied to every particle
    after each resampling; it must leave the current prefix posterior invariant.
    """
    n = check_particles(particles)
    threshold = check_ess_threshold(ess_threshold)
    check_scheme(resampling)
    limit = check_max_steps(max_steps)
    if rejuvenation is not None and not callable(rejuvenation):
        raise TypeError(f"rejuvenation must be a kernel(rng, trace) -> trace, got {type(rejuvenation).__name__}")
    if isinstance(model, Model):
        if args:
            raise TypeError("smc(model) takes no extra arguments for a ppl.Model: the instance holds its state")
        if rejuvenation is not None:
            raise TypeError("smc: rejuvenation needs traces of a generative function; use it with a ppl.unfold model")
        return _model_smc(model, n, threshold, resampling, as_rng(rng), limit)
    if isinstance(model, Unfold):
        from inference.smc_engine.smc_unfold import unfold_smc

        return unfold_smc(model, args, n, threshold, resampling, as_rng(rng), rejuvenation)
    raise TypeError(f"smc needs a ppl.Model or a ppl.unfold generative function, got {type(model).__name__} "
                    "(for any other generative function use inference.importance)")


def model_log_weights(population: list[Model], where: str) -> np.ndarray:
    return check_log_weights([p.weight for p in population], where)


def clone_ancestors(population: list[Model], ancestors: np.ndarray, log_weight: float) -> list[Model]:
    """The offspring: each ancestor object reused once, cloned for its further copies."""
    used: set[int] = set()
    offspring = []
    for a in ancestors:
        a = int(a)
        child = population[a] if a not in used else population[a].clone()
        used.add(a)
        child.weight = log_weight
        offspring.append(child)
    return offspring


def result_of_models(population: list[Model], steps: list[StepInfo], message: str = "", over: int | None = None) -> Result:
    """The result of a Model population; log_ml = log of the total weight over `over` (default: the population size)."""
    log_weights = model_log_weights(population, "smc result")
    log_ml = log_sum_exp(log_weights) - math.log(over or len(population))
    return Result([Particle(p, float(w)) for p, w in zip(population, log_weights)], log_ml, message=message, steps=steps)


def step_all(population: list[Model], rng: Any) -> None:
    """One step of every unfinished particle, their LM requests batched together."""
    run_batched([p.run_step(rng) for p in population if not p.finished])


def _model_smc(model: Model, n: int, threshold: float, scheme: str, rng: Any, max_steps: int) -> Result:
    population = [model.clone() for _ in range(n)]
    steps: list[StepInfo] = []
    for step in range(max_steps):
        if all(p.finished for p in population):
            break
        step_all(population, rng)
        log_weights = model_log_weights(population, f"smc step {step}")
        if not np.isfinite(log_weights).any():
            return result_of_models(population, steps, f"all particles have weight zero after step {step}")
        if all(p.finished for p in population):
            steps.append(StepInfo(step, effective_sample_size(log_weights), False))
            break
        ess, resample_now = should_resample(log_weights, threshold)
        if resample_now:
            ancestors, log_weight = resample_population(rng, log_weights, scheme)
            population = clone_ancestors(population, ancestors, log_weight)
        steps.append(StepInfo(step, ess, resample_now))
    else:
        unfinished = sum(not p.finished for p in population)
        raise ModelError(f"smc: {unfinished} of {n} particles of {type(model).__name__} did not finish within max_steps={max_steps}")
    return result_of_models(population, steps)
