"""`smc_steer` (LLaMPPL's beam-like SMC) on the one engine: expand each particle K ways, keep N without replacement.

Each step every unfinished particle is cloned K times and each clone takes one step; a clone's
weight is its parent's weight divided by K times its incremental weight (so the K clones
together stand for the parent). A finished particle passes on as a single child with its
weight. Of the children, at most N distinct ones are kept by Fearnhead and Clifford's optimal
resampling: child j survives with probability pi_j = min(1, c w_j) and is reweighted by
1 / pi_j, so the population stays properly weighted and log_ml = log(final total weight / N)
is an unbiased estimate. Twists are handled by Model.untwist as in `smc`.
"""
from __future__ import annotations

from typing import Any

from inference.history.recorder import HistoryRecorder
from inference.arguments import check_max_steps, check_particles
from inference.result import Result
from inference.smc_engine.engine import KeepDistinct, Observer, run_smc
from inference.smc_engine.model_population import ModelPopulation
from ppl.model import Model
from ppl.rng import rng as as_rng


def smc_steer(model: Model, *, particles: int = 10, expansions: int = 3, rng: Any = 0, max_steps: int = 10_000,
              on_step: Observer | None = None, record: bool = False) -> Result:
    """Beam-like SMC on a ppl.Model with `particles` survivors and `expansions` children each.

    `record=True` keeps every step's particles (the K expansions, before keep-N) in `result.history`."""
    n = check_particles(particles)
    k = check_particles(expansions, "expansions")
    limit = check_max_steps(max_steps)
    if not isinstance(model, Model):
        raise TypeError(f"smc_steer needs a ppl.Model, got {type(model).__name__}")
    return run_smc(ModelPopulation(model, n), as_rng(rng), KeepDistinct(k, n), max_steps=limit,
                   name="smc_steer", subject=type(model).__name__, observer=on_step,
                   history=HistoryRecorder() if record else None)
