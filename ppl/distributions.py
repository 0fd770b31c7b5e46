"""Primitive distributions: the protocol a random choice follows, and `Choice` over Python values.

`Primitive` is the protocol the language needs of a distribution (sample with our rng,
log_prob in float64, a support test, finite enumeration). `NumpyroPrimitive`
(ppl/numpyro_primitive.py) adapts any numpyro distribution; it is imported only once a numpyro
distribution is used, so programs without one (constrained generation) never import JAX.
`Choice` is a categorical over arbitrary Python values, for symbolic choices.
"""
from __future__ import annotations

import math
import sys
from typing import Any, Sequence

import numpy as np

from ppl.errors import NotFiniteError, ParameterError


class Primitive:
    """A distribution usable as a random choice."""

    def sample(self, rng) -> Any:
        raise NotImplementedError

    def log_prob(self, value: Any) -> float:
        raise NotImplementedError

    def in_support(self, value: Any) -> bool:
        raise NotImplementedError

    def enumerate_support(self) -> list | None:
        """Every value of a finite support, or None when the support is infinite or continuous."""
        return None

    def pending(self):
        """An awaitable to resolve before sampling (a batched LM request), or None."""
        return None


def as_primitive(d: Any) -> Primitive:
    """Our primitive for a numpyro distribution, or `d` itself if it already is one."""
    if isinstance(d, Primitive):
        return d
    numpyro_distributions = sys.modules.get("numpyro.distributions")  # not imported: d is no numpyro distribution
    if numpyro_distributions is not None and isinstance(d, numpyro_distributions.Distribution):
        from ppl.numpyro_primitive import NumpyroPrimitive

        return NumpyroPrimitive(d)
    raise TypeError(f"expected a distribution or a generative-function call, got {type(d).__name__}: {d!r}")


class Choice(Primitive):
    """A categorical over arbitrary Python values: `Choice(["a", "b"], [0.3, 0.7])` or `Choice({"a": 0.3, "b": 0.7})`."""

    def __init__(self, values: "Sequence | dict", probs: Sequence[float] | None = None):
        if isinstance(values, dict):
            if probs is not None:
                raise ParameterError("Choice: give probabilities either in the dict or as `probs`, not both")
            values, probs = list(values.keys()), list(values.values())
        values = list(values)
        if probs is None:
            probs = [1.0] * len(values)
        p = np.asarray(probs, dtype=np.float64)
        if len(values) == 0:
            raise ParameterError("Choice: no values given")
        if p.shape != (len(values),):
            raise ParameterError(f"Choice: {len(values)} values but probabilities of shape {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ParameterError(f"Choice: probabilities must be finite, non-negative, with a positive sum: {probs}")
        self.values = values
        self.probs = p / p.sum()

    def __repr__(self) -> str:
        return f"Choice({dict(zip(self.values, self.probs.round(4).tolist()))!r})"

    def sample(self, rng) -> Any:
        return self.values[rng.categorical(self.probs)]

    def _mass(self, value: Any) -> float:
        return float(sum(p for v, p in zip(self.values, self.probs) if v == value))

    def log_prob(self, value: Any) -> float:
        mass = self._mass(value)
        return math.log(mass) if mass > 0 else -math.inf

    def in_support(self, value: Any) -> bool:
        return any(v == value for v in self.values)

    def enumerate_support(self) -> list:
        return list(self.values)


def require_finite(primitive: Primitive, what: str) -> list:
    """The finite support of a primitive, or NotFiniteError naming `what`."""
    values = primitive.enumerate_support()
    if values is None:
        raise NotFiniteError(f"{what}: {primitive!r} has no finite support to enumerate")
    return values


def __getattr__(name: str) -> Any:
    if name == "NumpyroPrimitive":  # imports numpyro and JAX on first use
        from ppl.numpyro_primitive import NumpyroPrimitive

        return NumpyroPrimitive
    raise AttributeError(f"module 'ppl.distributions' has no attribute {name!r}")
