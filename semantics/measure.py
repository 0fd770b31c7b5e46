"""Finite weighted measures: outcomes with log weights, and the distances between them."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from inference.weighting import log_sum_exp
from ppl.errors import ModelError


def _logsumexp(values: Iterable[float]) -> float:
    return log_sum_exp(np.asarray(list(values), dtype=np.float64))


def _key(outcome: Any) -> Any:
    try:
        hash(outcome)
        return outcome
    except TypeError:
        return repr(outcome)


class FiniteMeasure:
    """A finite measure: distinct outcomes with log weights (merged when equal)."""

    def __init__(self, items: Iterable[tuple[Any, float]] = ()):
        self._log_weights: dict = {}
        self._outcomes: dict = {}
        for outcome, log_weight in items:
            key = _key(outcome)
            self._outcomes.setdefault(key, outcome)
            old = self._log_weights.get(key, -math.inf)
            self._log_weights[key] = float(np.logaddexp(old, log_weight))

    def items(self) -> list[tuple[Any, float]]:
        """(outcome, log weight) pairs."""
        return [(self._outcomes[k], w) for k, w in self._log_weights.items()]

    @property
    def log_total(self) -> float:
        return _logsumexp(self._log_weights.values())

    def normalized(self) -> "FiniteMeasure":
        total = self.log_total
        if total == -math.inf:
            raise ModelError("the measure has total mass zero (every execution has probability 0): no distribution to normalize")
        return FiniteMeasure((o, w - total) for o, w in self.items())

    def probabilities(self) -> dict:
        """Outcome → normalized probability, for the outcomes with positive mass."""
        return {o: math.exp(w) for o, w in self.normalized().items() if w > -math.inf}

    def probability(self, event: Callable[[Any], bool]) -> float:
        return sum(p for o, p in self.probabilities().items() if event(o))

    def expectation(self, f: Callable[[Any], float]) -> float:
        return float(sum(p * f(o) for o, p in self.probabilities().items()))

    def map(self, f: Callable[[Any], Any]) -> "FiniteMeasure":
        """The pushforward of the measure through `f` (weights of equal images add up)."""
        return FiniteMeasure((f(o), w) for o, w in self.items())

    def support(self) -> list:
        return [o for o, w in self.items() if w > -math.inf]

    def __len__(self) -> int:
        return len(self._log_weights)

    def __repr__(self) -> str:
        shown = ", ".join(f"{o!r}: {math.exp(w):.6g}" for o, w in sorted(self.items(), key=lambda x: -x[1])[:8])
        return f"FiniteMeasure({{{shown}{', ...' if len(self) > 8 else ''}}})"


def total_variation(p: FiniteMeasure, q: FiniteMeasure) -> float:
    """TV distance between the normalized measures."""
    pp, qp = _aligned(p, q)
    return 0.5 * sum(abs(pp.get(k, 0.0) - qp.get(k, 0.0)) for k in set(pp) | set(qp))


def kl_divergence(p: FiniteMeasure, q: FiniteMeasure) -> float:
    """KL(p || q) between the normalized measures (inf where p has mass q lacks)."""
    pp, qp = _aligned(p, q)
    total = 0.0
    for k, pk in pp.items():
        if pk == 0:
            continue
        qk = qp.get(k, 0.0)
        if qk == 0:
            return math.inf
        total += pk * math.log(pk / qk)
    return max(total, 0.0)


def _aligned(p: FiniteMeasure, q: FiniteMeasure) -> tuple[dict, dict]:
    return ({_key(o): v for o, v in p.probabilities().items()}, {_key(o): v for o, v in q.probabilities().items()})
