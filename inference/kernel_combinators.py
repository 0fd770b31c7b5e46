"""Kernel combinators: repetition, deterministic cycles and random mixtures of MCMC kernels.

Each combinator is again a kernel `(rng, trace) -> (trace, accepted)`; `accepted` is True when
any constituent move changed the state. Constituents may also return a bare trace. Cycles and repetitions of kernels that leave the
posterior invariant leave it invariant too (though a cycle is not reversible in general);
a mixture of reversible kernels is reversible.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ppl.trace import Trace

from inference.kernels import Kernel, TraceKernel, run_kernel


def check_kernel(kernel: Any, what: str) -> Kernel:
    """`kernel` if it is callable, else TypeError naming `what`."""
    if not callable(kernel):
        raise TypeError(f"{what} must be a kernel, a callable (rng, trace) -> (trace, accepted) or -> trace, got {type(kernel).__name__}: {kernel!r}")
    return kernel


class Repeat(TraceKernel):
    """Apply one kernel `n` times in a row."""

    def __init__(self, kernel: Kernel, n: int):
        self.kernel = check_kernel(kernel, "repeat: the kernel")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"repeat: n must be a positive int, got {n!r}")
        self.n = int(n)

    def __repr__(self) -> str:
        return f"repeat({self.kernel!r}, {self.n})"

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        any_accepted = False
        for _ in range(self.n):
            trace, accepted = run_kernel(self.kernel, rng, trace)
            any_accepted = any_accepted or bool(accepted)
        return trace, any_accepted


class Cycle(TraceKernel):
    """Apply several kernels in order."""

    def __init__(self, kernels: Sequence[Kernel]):
        if not kernels:
            raise ValueError("cycle needs at least one kernel")
        self.kernels = tuple(check_kernel(k, f"cycle: kernel {i}") for i, k in enumerate(kernels))

    def __repr__(self) -> str:
        return f"cycle({', '.join(map(repr, self.kernels))})"

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        any_accepted = False
        for kernel in self.kernels:
            trace, accepted = run_kernel(kernel, rng, trace)
            any_accepted = any_accepted or bool(accepted)
        return trace, any_accepted


class Mixture(TraceKernel):
    """Apply one kernel, chosen at random with fixed probabilities (drawn by rng.categorical)."""

    def __init__(self, kernels: Sequence[Kernel], probs: Sequence[float] | None):
        if not kernels:
            raise ValueError("mixture needs at least one kernel")
        self.kernels = tuple(check_kernel(k, f"mixture: kernel {i}") for i, k in enumerate(kernels))
        p = np.full(len(self.kernels), 1.0) if probs is None else np.asarray(probs, dtype=np.float64)
        if p.shape != (len(self.kernels),):
            raise ValueError(f"mixture: {len(self.kernels)} kernels but probabilities of shape {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ValueError(f"mixture: probabilities must be finite, non-negative, with a positive sum, got {list(p)}")
        self.probs = p / p.sum()

    def __repr__(self) -> str:
        return f"mixture([{', '.join(map(repr, self.kernels))}], {self.probs.round(4).tolist()})"

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        return run_kernel(self.kernels[rng.categorical(self.probs)], rng, trace)


def repeat(kernel: Kernel, n: int) -> Repeat:
    """`kernel` applied `n` times."""
    return Repeat(kernel, n)


def cycle(*kernels: Kernel) -> Cycle:
    """`kernels` applied in order: cycle(k1, k2) is k2 after k1."""
    return Cycle(kernels)


def mixture(kernels: Sequence[Kernel], probs: Sequence[float] | None = None) -> Mixture:
    """One of `kernels` per step, chosen with probabilities `probs` (uniform if omitted)."""
    return Mixture(list(kernels), probs)
