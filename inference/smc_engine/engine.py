"""The one SMC loop: every SMC variant is a population driven by this engine under a selection rule.

A population (the `Population` protocol) is N weighted particles that can take one step
together, report their log weights and which are finished, be re-indexed by ancestor indices
(repeats allowed, with new log weights), and hand back their final weighted particles. What a
particle is (a `ppl.Model` object, an unfold prefix, rows of a KV cache on a GPU) is the
population's business; resampling schemes, ESS triggering, log-ML accounting, diagnostics,
the observer hook, interruption and the optional run history (`history=HistoryRecorder()`:
every step's particles, weights and ancestry; a population may offer `summaries()`, one
`ParticleSummary` per particle, for their text) are written here once.

Selection rules decide what happens around a step:
* `EssResampling(threshold, scheme)`: after a step, resample when the ESS falls to
  threshold * N; every offspring gets the log mean weight, so the population stays properly
  weighted and the evidence estimate is the log mean final weight (Del Moral 2004).
* `KeepDistinct(expansions)`: smc_steer's rule: before a step each unfinished particle is
  expanded into K copies of 1/K its weight; after it at most N distinct children are kept by
  Fearnhead and Clifford's optimal resampling, reweighted by 1 / inclusion probability.
* `Conditional()`: conditional SMC (particle Gibbs): after every step but the last, the free
  particles (all but the last, the reference) draw ancestors multinomially; the reference
  keeps its own path.
The evidence estimate is log(sum of final weights / N0), N0 the initial population size.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from inference.history.recorder import HistoryRecorder
from inference.resampling import keep_without_replacement, resample
from inference.smc_engine.frozen_heap import older_objects_frozen
from inference.result import Particle, Result, StepInfo
from inference.weighting import check_log_weights, effective_sample_size, log_mean_exp, log_sum_exp, normalized
from ppl.errors import ModelError


class Population(Protocol):
    """N weighted particles stepping together (see the module docstring)."""

    def __len__(self) -> int: ...

    def advance(self, rng: Any) -> None:
        """One step of every unfinished particle."""

    def status(self) -> tuple[np.ndarray, np.ndarray]:
        """(log weights as float64, finished flags as bool), one entry per particle."""

    def reindex(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        """Particle i becomes a copy of particle ancestors[i] with log weight log_weights[i]."""

    def particles(self) -> list[Particle]:
        """The weighted particles as the result reports them."""

    # Optional: `summaries() -> list[ParticleSummary]`, each particle's text so far (or a summary of its
    # trace), cause of death and constraint evaluations, read only when a run is recorded.


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during an SMC run; `result` holds the population as it stood (unfinished particles included)."""

    def __init__(self, result: Result):
        super().__init__("SMC interrupted")
        self.result = result


Observer = Callable[[StepInfo], None]


@dataclass
class EssResampling:
    """Resample with `scheme` when ESS <= threshold * N (never at threshold 0, every step at 1)."""

    threshold: float = 0.5
    scheme: str = "systematic"

    def before_step(self, population: Population, rng: Any, log_weights: np.ndarray, finished: np.ndarray) -> None:
        pass

    def after_step(self, population: Population, rng: Any, log_weights: np.ndarray, last: bool) -> bool:
        if last or not should_resample(log_weights, self.threshold):
            return False
        ancestors = resample(rng, normalized(log_weights), len(log_weights), self.scheme)
        population.reindex(ancestors, np.full(len(log_weights), log_mean_exp(log_weights)))
        return True


@dataclass
class KeepDistinct:
    """smc_steer: expand each unfinished particle K ways before a step, keep N distinct children after it."""

    expansions: int
    keep: int

    def before_step(self, population: Population, rng: Any, log_weights: np.ndarray, finished: np.ndarray) -> None:
        k = self.expansions
        ancestors = np.concatenate([[i] if done else [i] * k for i, done in enumerate(finished)]).astype(np.int64)
        expanded = log_weights[ancestors] - np.where(finished[ancestors], 0.0, math.log(k))
        population.reindex(ancestors, expanded)

    def after_step(self, population: Population, rng: Any, log_weights: np.ndarray, last: bool) -> bool:
        kept, inclusion = keep_without_replacement(rng, normalized(log_weights), self.keep)
        population.reindex(kept, log_weights[kept] - np.log(inclusion))
        return len(kept) < len(log_weights)


@dataclass
class Conditional:
    """Conditional SMC: the last particle is the reference; the others draw ancestors from all before each step."""

    def before_step(self, population: Population, rng: Any, log_weights: np.ndarray, finished: np.ndarray) -> None:
        pass

    def after_step(self, population: Population, rng: Any, log_weights: np.ndarray, last: bool) -> bool:
        if last:
            return False
        n = len(log_weights)
        weights = normalized(log_weights)
        ancestors = np.array([rng.categorical(weights) for _ in range(n - 1)] + [n - 1], dtype=np.int64)
        population.reindex(ancestors, np.zeros(n))
        return True


def should_resample(log_weights: np.ndarray, threshold: float) -> bool:
    """Whether the ESS calls for resampling: ESS <= threshold * N (never at 0, always at 1)."""
    if threshold <= 0.0:
        return False
    return threshold >= 1.0 or effective_sample_size(log_weights) <= threshold * len(log_weights)


def run_smc(population: Population, rng: Any, selection: Any, *, max_steps: int, name: str = "smc",
            subject: str = "", steps_known: int | None = None, observer: Observer | None = None,
            unfinished: str = "raise", history: HistoryRecorder | None = None) -> Result:
    """Drive `population` until every particle is finished (or `steps_known` steps), under `selection`.

    `unfinished="raise"` makes a population still running after `max_steps` an error;
    "stop" returns it as it stands (its particles say which are unfinished). With a `history`
    recorder the result's `history` holds every step (inference/history/). The cyclic garbage collector
    skips the objects older than the run while it lasts (frozen_heap.py).
    """
    with older_objects_frozen():
        return _run_smc(population, rng, selection, max_steps=max_steps, name=name, subject=subject,
                        steps_known=steps_known, observer=observer, unfinished=unfinished, history=history)


def _run_smc(population: Population, rng: Any, selection: Any, *, max_steps: int, name: str, subject: str,
             steps_known: int | None, observer: Observer | None, unfinished: str,
             history: HistoryRecorder | None) -> Result:
    initial = len(population)
    steps: list[StepInfo] = []
    start = time.perf_counter()
    log_weights, finished = _status(population, name)
    if history is not None:
        population = history.watch(population, log_weights)
        observer = _both(history.on_step, observer)
    try:
        for step in range(max_steps if steps_known is None else steps_known):
            if finished.all():
                break
            selection.before_step(population, rng, log_weights, finished)
            population.advance(rng)
            log_weights, finished = _status(population, f"{name} step {step}")
            if history is not None:
                history.snapshot(population, log_weights, finished)
            ess = effective_sample_size(log_weights)
            alive = np.isfinite(log_weights)
            if not alive.any():
                steps.append(_info(step, ess, False, log_weights, finished, initial, start))
                _notify(observer, steps[-1], population)
                if len(log_weights) > initial:  # an expanded (smc_steer) population reports N particles
                    population.reindex(np.arange(initial), log_weights[:initial])
                return _result(population, initial, steps, f"all particles have weight zero after step {step}", history)
            last = bool(finished.all()) or (steps_known is not None and step + 1 == steps_known)
            resampled = selection.after_step(population, rng, log_weights, last)
            if resampled and hasattr(population, "rejuvenate"):
                population.rejuvenate(rng)  # resample-move
            if resampled:
                log_weights, finished = _status(population, f"{name} step {step}")
            steps.append(_info(step, ess, resampled, log_weights, finished, initial, start))
            _notify(observer, steps[-1], population)
        else:
            if steps_known is None and not finished.all() and unfinished == "raise":
                of = f" of {subject}" if subject else ""
                raise ModelError(f"{name}: {int((~finished).sum())} of {len(finished)} particles{of} did not finish "
                                 f"within max_steps={max_steps}")
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, Interrupted):
            raise
        raise Interrupted(_result(population, initial, steps, "interrupted", history)) from None
    return _result(population, initial, steps, history=history)


def _status(population: Population, where: str) -> tuple[np.ndarray, np.ndarray]:
    log_weights, finished = population.status()
    return check_log_weights(log_weights, where), np.asarray(finished, dtype=bool)


def _info(step: int, ess: float, resampled: bool, log_weights: np.ndarray, finished: np.ndarray, initial: int,
          start: float) -> StepInfo:
    live = int((~finished & np.isfinite(log_weights)).sum())
    log_ml = log_sum_exp(log_weights) - math.log(initial)
    return StepInfo(step, ess, resampled, live=live, log_ml=log_ml, seconds=time.perf_counter() - start)


def _notify(observer: Observer | None, info: StepInfo, population: Population) -> None:
    """Call the observer with the step's info and, for it alone, `particles()` (the stored steps never hold the population)."""
    if observer is not None:
        observer(dataclasses.replace(info, particles=population.particles))


def _both(first: Observer, second: Observer | None) -> Observer:
    if second is None:
        return first

    def observe(info: StepInfo) -> None:
        first(info)
        second(info)

    return observe


def _result(population: Population, initial: int, steps: Sequence[StepInfo], message: str = "",
            history: HistoryRecorder | None = None) -> Result:
    particles = population.particles()
    log_ml = log_sum_exp(np.array([p.log_weight for p in particles], dtype=np.float64)) - math.log(initial)
    return Result(particles, log_ml, message=message, steps=steps,
                  history=None if history is None else history.history())
