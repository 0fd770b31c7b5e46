"""`LiteralPrefix`: strings that start with fixed bytes and go on as another constraint allows.

Token healing backs a prompt up to a token boundary and owes the removed bytes to the
generated text: the state is the bytes still owed plus the inner constraint's state, which
starts reading only once the owed bytes are written (a token may finish them and go on).
"""
from __future__ import annotations

from constraints.base import Anything, Constraint, State


class LiteralPrefix(Constraint):
    """`prefix` followed by a string `inner` accepts (any string when `inner` is None)."""

    def __init__(self, prefix: bytes, inner: Constraint | None = None):
        if not isinstance(prefix, bytes):
            raise TypeError(f"LiteralPrefix: prefix must be bytes, got {type(prefix).__name__}")
        self.prefix = prefix
        self.inner = inner if inner is not None else Anything()

    def start(self) -> State:
        return (self.prefix, self.inner.start())

    def advance(self, state: State, chunk: bytes) -> State | None:
        owed, inner_state = state
        if owed:
            n = min(len(owed), len(chunk))
            if chunk[:n] != owed[:n]:
                return None
            owed, chunk = owed[n:], chunk[n:]
            if owed:
                return (owed, inner_state)
        if not chunk:
            return (b"", inner_state)
        inner_state = self.inner.advance(inner_state, chunk)
        return None if inner_state is None else (b"", inner_state)

    def is_accepting(self, state: State) -> bool:
        owed, inner_state = state
        return not owed and self.inner.is_accepting(inner_state)

    def shortest_completion(self, state: State) -> bytes | None:
        """The bytes still owed, then the inner constraint's shortest completion."""
        owed, inner_state = state
        rest = self.inner.shortest_completion(inner_state)
        return None if rest is None else owed + rest

    @property
    def costly_completions(self) -> bool:
        return self.inner.costly_completions

    def budget_completion(self, state: State) -> bytes | None:
        owed, inner_state = state
        rest = self.inner.budget_completion(inner_state)
        return None if rest is None else owed + rest

    def neutral_bytes(self, state: State) -> frozenset | None:
        """The inner constraint's, once the owed bytes are written."""
        owed, inner_state = state
        return None if owed else self.inner.neutral_bytes(inner_state)

    def __repr__(self) -> str:
        return f"LiteralPrefix({self.prefix!r}, {self.inner!r})"
