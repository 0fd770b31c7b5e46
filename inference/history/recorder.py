"""`HistoryRecorder`: what `run_smc(..., history=HistoryRecorder())` uses to record a run step by step.

The engine hands the recorder its population once (`watch`, which returns the population
with `reindex` observed, so every selection rule's re-indexing is composed into each particle's
parent without the rules knowing), then after every step's `advance` calls `snapshot` (the
particles before selection) and, once the step's `StepInfo` is made, `on_step`. A population
that has a `summaries()` method (one `ParticleSummary` per particle) contributes texts, causes of
death and constraint evaluations; any other records weights and ancestry with empty texts.
Nothing here runs unless a recorder is passed: an unrecorded run pays one `is None` test a step.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from inference.history.record import History, HistoryStep, ParticleSummary


class HistoryRecorder:
    """Collects a `History` as run_smc goes (see the module docstring)."""

    def __init__(self, meta: dict | None = None):
        self.meta = dict(meta or {})
        self.steps: list[HistoryStep] = []
        self.initial = 0
        self._pending: dict | None = None

    def watch(self, population: Any, log_weights: np.ndarray) -> Any:
        """The population to drive instead of `population`: the same, with its re-indexing recorded."""
        n = len(log_weights)
        self.initial = n
        self._parents = np.arange(n)
        self._weights_in = np.asarray(log_weights, dtype=np.float64).copy()
        self._texts = [""] * n
        self._evaluations = np.zeros(n, dtype=np.int64)
        return _Watched(population, self)

    def reindexed(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        """Particle i is now a copy of particle ancestors[i] with log weight log_weights[i]."""
        self._parents = self._parents[np.asarray(ancestors, dtype=np.int64)]
        self._weights_in = np.asarray(log_weights, dtype=np.float64).copy()

    def snapshot(self, population: Any, log_weights: np.ndarray, finished: np.ndarray) -> None:
        """The particles right after a step's advance, before selection."""
        n = len(log_weights)
        summaries = population.summaries() if hasattr(population, "summaries") else [ParticleSummary("")] * n
        parents = self._parents
        log_weights = np.asarray(log_weights, dtype=np.float64)
        unchanged = log_weights == self._weights_in  # finished particles, or dead ones staying dead
        with np.errstate(invalid="ignore"):
            increments = np.where(unchanged, 0.0, log_weights - self._weights_in)
        keep, pieces = [], []
        for summary, parent in zip(summaries, parents):
            kept = _common_prefix(self._texts[parent], summary.text)
            keep.append(kept)
            pieces.append(summary.text[kept:])
        evaluations = np.array([s.evaluations for s in summaries], dtype=np.int64)
        self._pending = dict(
            parents=tuple(int(p) for p in parents), keep=tuple(keep), pieces=tuple(pieces),
            log_weights=tuple(float(w) for w in log_weights), increments=tuple(float(d) for d in increments),
            finished=tuple(bool(f) for f in finished),
            causes=tuple(s.cause if w == -math.inf else "" for s, w in zip(summaries, log_weights)),
            evaluations=tuple(int(e) for e in evaluations - self._evaluations[parents]))
        self._texts = [s.text for s in summaries]
        self._evaluations = evaluations
        self._parents = np.arange(n)
        self._weights_in = log_weights.copy()

    def on_step(self, info: Any) -> None:
        """Close the step whose snapshot was taken, with its StepInfo (ESS, resampled, live, log-ML, seconds)."""
        if self._pending is None:
            return
        self.steps.append(HistoryStep(step=int(info.step), **self._pending, ess=float(info.ess),
                                      resampled=bool(info.resampled), live=int(info.live),
                                      log_ml=float(info.log_ml), seconds=float(info.seconds)))
        self._pending = None

    def history(self) -> History:
        """The steps recorded so far (a step interrupted before its StepInfo is left out)."""
        return History(particles=self.initial, steps=tuple(self.steps), meta=dict(self.meta))


class _Watched:
    """A population whose `reindex` calls are also told to the recorder; everything else is the population's."""

    def __init__(self, population: Any, recorder: HistoryRecorder):
        self._population = population
        self._recorder = recorder

    def __len__(self) -> int:
        return len(self._population)

    def reindex(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        self._population.reindex(ancestors, log_weights)
        self._recorder.reindexed(ancestors, log_weights)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._population, name)


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of a and b (all of a when b extends it: the usual case)."""
    if b.startswith(a):
        return len(a)
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
