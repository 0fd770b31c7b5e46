"""`smc_steer` (LLaMPPL's beam-like SMC): expand each particle K ways, keep N without replacement.

Each step every unfinished particle is cloned K times and each clone takes one step; a clone's
weight is its parent's weight divided by K times its incremental weight (so the K clones
together stand for the parent). A finished particle passes on as a single child with its
weight. Of the children, at most N distinct ones are kept by Fearnhead and Clifford's optimal
resampling (`keep_without_replacement`): child j survives with probability pi_j = min(1, c w_j)
and is reweighted by 1 / pi_j, so the population stays properly weighted and
log_ml = log mean final weight (over the N starting particles) is an unbiased estimate.
Twists are handled by Model.untwist as in `smc`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from inference.arguments import check_max_steps, check_particles
from inference.resampling import keep_without_replacement
from inference.result import Result, StepInfo
from inference.smc_engine.smc import model_log_weights, result_of_models, step_all
from inference.weighting import effective_sample_size, normalized
from ppl.errors import ModelError
from ppl.model import Model
from ppl.rng import rng as as_rng


def smc_steer(model: Model, *, particles: int = 10, expansions: int = 3, rng: Any = 0, max_steps: int = 10_000) -> Result:
    """Beam-like SMC on a ppl.Model with `particles` survivors and `expansions` children each."""
    n = check_particles(particles)
    k = check_particles(expansions, "expansions")
    limit = check_max_steps(max_steps)
    if not isinstance(model, Model):
        raise TypeError(f"smc_steer needs a ppl.Model, got {type(model).__name__}")
    r = as_rng(rng)
    population = [model.clone() for _ in range(n)]
    steps: list[StepInfo] = []
    for step in range(limit):
        if all(p.finished for p in population):
            break
        children = _expand(population, k)
        step_all(children, r)
        log_weights = model_log_weights(children, f"smc_steer step {step}")
        if not np.isfinite(log_weights).any():
            return result_of_models(children[:n], steps, f"all particles have weight zero after step {step}", over=n)
        # Children's weights sum to about N times the estimate; keep_without_replacement preserves that sum.
        kept, inclusion = keep_without_replacement(r, normalized(log_weights), n)
        population = []
        for j, pi in zip(kept, inclusion):
            child = children[int(j)]
            child.weight = float(log_weights[j]) - math.log(pi)
            population.append(child)
        steps.append(StepInfo(step, effective_sample_size(log_weights), len(kept) < len(children)))
    else:
        if not all(p.finished for p in population):
            raise ModelError(f"smc_steer: {type(model).__name__} did not finish within max_steps={limit}")
    # The estimate averages over the N starting particles, however many survive.
    return result_of_models(population, steps, over=n)


def _expand(population: list[Model], k: int) -> list[Model]:
    log_k = math.log(k)
    children: list[Model] = []
    for parent in population:
        if parent.finished:
            children.append(parent)
            continue
        for i in range(k):
            child = parent.clone() if i < k - 1 else parent
            child.weight -= log_k
            children.append(child)
    return children
