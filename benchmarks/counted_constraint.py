"""A constraint wrapper for benchmarks: counts and times `advance` calls, and is shared between particles.

`CountedConstraint(inner, prefix=b" ")` accepts `prefix + s` for every `s` the inner constraint
accepts, so a prompt like "SQL:" can be continued by the model's own " SELECT" token instead of
forcing an unnatural token boundary. Its states wrap the inner states; both the constraint and
its states declare `__ppl_shared__`, so SMC's particle clones share them (as the library's own
constraints now do) instead of deep-copying the inner constraint.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from constraints.base import Constraint


@dataclass
class AdvanceCounts:
    """Constraint work done through one wrapper: calls, bytes read, seconds spent."""

    calls: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def reset(self) -> None:
        self.calls, self.bytes, self.seconds = 0, 0, 0.0


class CountedState:
    """A state of `CountedConstraint`: bytes of the prefix still to read, and the inner state."""

    __ppl_shared__ = True
    __slots__ = ("pending", "inner")

    def __init__(self, pending: bytes, inner: Any):
        self.pending, self.inner = pending, inner

    def __hash__(self) -> int:
        return hash((self.pending, self.inner))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CountedState) and self.pending == other.pending and self.inner == other.inner


class CountedConstraint(Constraint):
    """`prefix` then the language of `inner`; counts every `advance` in `counts`."""

    __ppl_shared__ = True

    def __init__(self, inner: Constraint, prefix: bytes = b""):
        self.inner = inner
        self.prefix = prefix
        self.counts = AdvanceCounts()

    def start(self) -> CountedState:
        return CountedState(self.prefix, self.inner.start())

    def advance(self, state: CountedState, chunk: bytes) -> CountedState | None:
        started = time.perf_counter()
        self.counts.calls += 1
        self.counts.bytes += len(chunk)
        try:
            return self._advance(state, chunk)
        finally:
            self.counts.seconds += time.perf_counter() - started

    def _advance(self, state: CountedState, chunk: bytes) -> CountedState | None:
        pending = state.pending
        if pending:
            k = min(len(pending), len(chunk))
            if chunk[:k] != pending[:k]:
                return None
            pending, chunk = pending[k:], chunk[k:]
            if not chunk:
                return CountedState(pending, state.inner)
        inner = self.inner.advance(state.inner, chunk)
        if inner is None:
            return None
        return CountedState(b"", inner)

    def is_accepting(self, state: CountedState) -> bool:
        return not state.pending and self.inner.is_accepting(state.inner)
