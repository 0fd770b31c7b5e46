"""The result vocabulary shared by every inference call.

A `Result` holds weighted particles (each a trace, or a `ppl.Model` particle, with its log
weight) and the log marginal-likelihood estimate, and answers the questions users ask of a
weighted sample: normalized weights, effective sample size, posterior expectations, marginals
of a choice, and the distinct outputs with their probabilities. A population whose weights are
all zero is a valid result (log_ml = -inf, ess = 0, weights all zero, a `message` saying so). A run recorded with `record=True` also has a `history`
(inference/history/: every step's particles), which `save_html` shows as a page (docs/viewer.md).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from inference.history.record import History, RecordedSample
from inference.result_display import result_html, result_text
from inference.weighting import check_log_weights, effective_sample_size, normalized

ALL_DEAD = "all particles have weight zero (every execution failed a condition or scored -inf)"


@dataclass(frozen=True)
class Particle:
    """One weighted particle: a trace (or a ppl.Model particle) and its log weight."""

    trace: Any
    log_weight: float


@dataclass(frozen=True)
class Sample:
    """A distinct output and its posterior probability under the weighted particles."""

    value: Any
    probability: float


@dataclass(frozen=True)
class StepInfo:
    """Diagnostics of one SMC step: the ESS before resampling, whether it resampled, live particles
    (unfinished, weight > 0), the running log-ML estimate and the seconds since the run started."""

    step: int
    ess: float
    resampled: bool
    live: int = 0
    log_ml: float = math.nan
    seconds: float = 0.0


def default_output(trace: Any) -> Any:
    """What a particle produced: a trace's return value, a Model particle's choices, else its `output`
    (the texts of lm's device populations) or the particle itself."""
    if trace is None:
        return None
    if hasattr(trace, "retval"):
        return trace.retval
    if hasattr(trace, "choices"):
        return trace.choices
    return getattr(trace, "output", trace)


def hashable(value: Any) -> Any:
    """A dict key standing for `value` (arrays and lists become tuples)."""
    if isinstance(value, np.ndarray):
        return tuple(hashable(v) for v in value.tolist()) if value.ndim else value.item()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def ranked(probabilities: dict) -> dict:
    """The same value -> probability dict, most probable first (what every `marginal` returns)."""
    return dict(sorted(probabilities.items(), key=lambda item: -item[1]))


class Result:
    """Weighted particles and what can be read off them (see the module docstring)."""

    def __init__(self, particles: Sequence[Particle], log_ml: float, *, message: str = "",
                 steps: Sequence[StepInfo] = (), output: Callable[[Any], Any] | None = None,
                 history: History | None = None):
        self.particles = list(particles)
        self.log_weights = check_log_weights([p.log_weight for p in self.particles], "Result")
        log_ml = float(log_ml)
        if math.isnan(log_ml) or log_ml == math.inf:
            raise ValueError(f"Result: log marginal-likelihood estimate is {log_ml}")
        self.log_ml = log_ml
        self.weights = normalized(self.log_weights)
        self.ess = effective_sample_size(self.log_weights)
        dead = not self.weights.any()
        if dead:
            self.log_ml = -math.inf
        self.message = message or (ALL_DEAD if dead else "")
        self.steps = list(steps)
        self.output = output or default_output
        self.recorded = history  # the steps as the engine recorded them (a Result made from another passes this on)

    @property
    def history(self) -> History | None:
        """The run's per-step record with this result's final samples, log-ML, ESS and message (None unless
        the run was recorded: `record=True`)."""
        if self.recorded is None:
            return None
        samples = tuple(RecordedSample(s.value if isinstance(s.value, str) else repr(s.value), float(s.probability))
                        for s in self.group(self.output))
        return dataclasses.replace(self.recorded, samples=samples, log_ml=self.log_ml, ess=float(self.ess),
                                   message=self.message)

    def save_html(self, path: str, title: str | None = None) -> None:
        """Write the run's viewer, one self-contained HTML file (docs/viewer.md); the run must be recorded."""
        history = self.history
        if history is None:
            raise ValueError("save_html: this run has no history; run it with record=True "
                             "(inference.smc, lm.generate, ...) to record one")
        history.save_html(path, title=title)

    @property
    def traces(self) -> list:
        return [p.trace for p in self.particles]

    @property
    def all_dead(self) -> bool:
        return not self.weights.any()

    def _alive(self) -> list[tuple[float, Any]]:
        return [(float(w), p.trace) for w, p in zip(self.weights, self.particles) if w > 0]

    def expectation(self, f: Callable[[Any], Any]) -> Any:
        """sum_i w_i f(trace_i) over particles of positive weight; ValueError if every weight is zero."""
        alive = self._alive()
        if not alive:
            raise ValueError(f"no posterior expectation: {self.message}")
        total = sum(w * np.asarray(f(trace), dtype=np.float64) for w, trace in alive)
        return float(total) if np.ndim(total) == 0 else total

    def marginal(self, address: Any) -> dict:
        """Value -> posterior probability of the choice at `address` (None where it was not made)."""
        out: dict = {}
        for w, trace in self._alive():
            key = hashable(trace.choices.get(address))
            out[key] = out.get(key, 0.0) + w
        return ranked(out)

    def group(self, key: Callable[[Any], Any]) -> list[Sample]:
        """Distinct values of key(trace) with their probabilities, most probable first."""
        probabilities: dict = {}
        values: dict = {}
        for w, trace in self._alive():
            value = key(trace)
            k = hashable(value)
            values.setdefault(k, value)
            probabilities[k] = probabilities.get(k, 0.0) + w
        ranked = sorted(probabilities.items(), key=lambda item: -item[1])
        return [Sample(values[k], p) for k, p in ranked]

    @property
    def samples(self) -> list[Sample]:
        """Distinct outputs (return values, or what `output` picks) with their probabilities."""
        return self.group(self.output)

    def __len__(self) -> int:
        return len(self.particles)

    def __str__(self) -> str:
        return result_text(self)

    def _repr_html_(self) -> str:
        return result_html(self)

    def __repr__(self) -> str:
        note = f", message={self.message!r}" if self.message else ""
        return f"Result(particles={len(self.particles)}, log_ml={self.log_ml:.6g}, ess={self.ess:.4g}{note})"
