"""The rng protocol: every algorithm draws its randomness from an explicit rng object.

One small protocol (categorical draws, uniforms, normals, a numpy Generator for other
continuous draws, JAX keys, splitting) with two implementations: `SeededRng` here, fast and
reproducible, and `semantics.EnumeratingRng`, which explores every outcome of every
categorical draw with its probability. Algorithms that express their discrete randomness
through `categorical` can therefore be run exhaustively and checked exactly.
"""
from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

_running_sum = np.add.accumulate  # np.cumsum without its wrapper
_smallest = np.minimum.reduce  # ndarray.min without its wrapper


@runtime_checkable
class Rng(Protocol):
    """What an algorithm may ask of its source of randomness."""

    def categorical(self, probs: np.ndarray) -> int:
        """An index drawn with probability proportional to `probs` (non-negative, finite)."""

    def uniform(self) -> float:
        """A draw from U[0, 1)."""

    def normal(self) -> float:
        """A draw from N(0, 1)."""

    def numpy(self) -> np.random.Generator:
        """A numpy Generator for continuous draws (not enumerable)."""

    def jax_key(self):
        """A fresh JAX PRNG key (for numpyro sampling and jitted code)."""

    def split(self, n: int) -> list["Rng"]:
        """`n` independent child rngs."""


def normalized(probs: np.ndarray) -> np.ndarray:
    """Probabilities proportional to `probs`; ValueError if they are not a valid weighting."""
    p = np.asarray(probs, dtype=np.float64)
    total = p.sum()
    if p.ndim != 1 or not np.isfinite(total) or total <= 0 or (p < 0).any():
        raise ValueError(f"categorical needs non-negative finite probabilities with a positive sum, got {p}")
    return p / total


class SeededRng:
    """A reproducible rng on a numpy PCG64 Generator."""

    def __init__(self, seed: int | np.random.SeedSequence | None = 0):
        self._seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._gen = np.random.Generator(np.random.PCG64(self._seq))

    def categorical(self, probs: np.ndarray) -> int:
        # Inverse CDF over one cumulative sum, with numpy's ufunc methods called directly: AWRS makes
        # about a hundred of these per SMC step on arrays of a few hundred entries, where numpy's
        # wrapper functions (np.cumsum, np.searchsorted, ndarray.min) cost as much as the work.
        p = probs if type(probs) is np.ndarray and probs.dtype == np.float64 else np.asarray(probs, dtype=np.float64)
        if p.ndim != 1 or not p.size:
            raise ValueError(f"categorical needs non-negative finite probabilities with a positive sum, got {p}")
        cumulative = _running_sum(p)
        total = float(cumulative[-1])
        if not 0.0 < total < math.inf or _smallest(p) < 0:
            raise ValueError(f"categorical needs non-negative finite probabilities with a positive sum, got {p}")
        index = int(cumulative.searchsorted(self._gen.random() * total, side="right"))
        if index == len(p):  # rounding at the top end: take the last index with mass
            index = int(np.flatnonzero(p)[-1])
        return index

    def uniform(self) -> float:
        return float(self._gen.random())

    def normal(self) -> float:
        return float(self._gen.standard_normal())

    def numpy(self) -> np.random.Generator:
        return self._gen

    def jax_key(self):
        import jax

        return jax.random.PRNGKey(int(self._gen.integers(0, 2**31 - 1)))

    def split(self, n: int) -> list["SeededRng"]:
        return [SeededRng(s) for s in self._seq.spawn(n)]

    def __repr__(self) -> str:
        return f"SeededRng(entropy={self._seq.entropy})"


def rng(seed_or_rng: "int | Rng | None" = 0) -> Rng:
    """An rng from an int seed, or the rng itself: every public function accepts either."""
    if isinstance(seed_or_rng, (bool,)):
        raise TypeError("rng must be an int seed or an rng object, got a bool")
    if isinstance(seed_or_rng, (int, np.integer)) or seed_or_rng is None:
        return SeededRng(None if seed_or_rng is None else int(seed_or_rng))
    if isinstance(seed_or_rng, Rng):
        return seed_or_rng
    raise TypeError(f"rng must be an int seed or an rng object, got {type(seed_or_rng).__name__}")
