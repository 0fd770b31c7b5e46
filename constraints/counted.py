"""`Counted`: a constraint that counts the work done on it (calls to `advance` and `is_accepting`).

Particles share one constraint object, so the count is the whole run's constraint work, with
no double counting across resampled clones; states pass through unchanged.
"""
from __future__ import annotations

from constraints.base import Constraint, State


class Counted(Constraint):
    """`inner`, unchanged, with `evaluations` = advances + completion tests made so far."""

    def __init__(self, inner: Constraint):
        self.inner = inner
        self.evaluations = 0

    def start(self) -> State:
        return self.inner.start()

    def advance(self, state: State, chunk: bytes) -> State | None:
        self.evaluations += 1
        return self.inner.advance(state, chunk)

    def is_accepting(self, state: State) -> bool:
        self.evaluations += 1
        return self.inner.is_accepting(state)

    def shortest_completion(self, state: State) -> bytes | None:
        return self.inner.shortest_completion(state)

    @property
    def costly_completions(self) -> bool:
        return self.inner.costly_completions

    def budget_completion(self, state: State) -> bytes | None:
        return self.inner.budget_completion(state)

    def neutral_bytes(self, state: State) -> frozenset | None:
        return self.inner.neutral_bytes(state)

    def __repr__(self) -> str:
        return f"Counted({self.inner!r})"
