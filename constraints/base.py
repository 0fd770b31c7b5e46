"""The constraint interface: predicates on byte strings with incremental prefix tests.

A constraint is a set of accepted byte strings. Generation walks it byte chunk by byte
chunk (one chunk per LM token) through immutable parser *states*, so that a particle can
keep its state and extend it by one token without re-parsing its prefix, and so that two
particles can share a state after resampling.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Hashable


class ConstraintError(ValueError):
    """A constraint could not be built: the message names the position, keyword or field."""


State = Hashable


class Constraint(ABC):
    """A predicate on byte strings with a prefix test and a completion test.

    Subclasses implement `start`, `advance` and `is_accepting`; `viable` and `accepts`
    follow. States are immutable values; `advance` never mutates its argument. Constraints
    are shared, never copied, when a ppl.Model particle is cloned.
    """

    __ppl_shared__ = True

    @abstractmethod
    def start(self) -> State:
        """The state before any byte is read."""

    @abstractmethod
    def advance(self, state: State, chunk: bytes) -> State | None:
        """The state after reading `chunk`, or None if no accepted string has that prefix."""

    @abstractmethod
    def is_accepting(self, state: State) -> bool:
        """Whether the bytes read so far form an accepted string."""

    def viable(self, prefix: bytes) -> bool:
        """Some accepted string starts with `prefix`."""
        return self.advance(self.start(), prefix) is not None

    def accepts(self, string: bytes) -> bool:
        """`string` itself is accepted."""
        state = self.advance(self.start(), string)
        return state is not None and self.is_accepting(state)

    def __and__(self, other: "Constraint") -> "Constraint":
        return Conjunction(self, other)


class Conjunction(Constraint):
    """Strings accepted by both constraints; the state is the pair of states."""

    def __init__(self, left: Constraint, right: Constraint):
        self.left, self.right = left, right

    def start(self) -> State:
        return (self.left.start(), self.right.start())

    def advance(self, state: State, chunk: bytes) -> State | None:
        left = self.left.advance(state[0], chunk)
        if left is None:
            return None
        right = self.right.advance(state[1], chunk)
        if right is None:
            return None
        return (left, right)

    def is_accepting(self, state: State) -> bool:
        return self.left.is_accepting(state[0]) and self.right.is_accepting(state[1])

    def __repr__(self) -> str:
        return f"({self.left!r} & {self.right!r})"


class Anything(Constraint):
    """Every byte string: the unconstrained case, so one code path serves both."""

    def start(self) -> State:
        return 0

    def advance(self, state: State, chunk: bytes) -> State | None:
        return 0

    def is_accepting(self, state: State) -> bool:
        return True

    def __repr__(self) -> str:
        return "Anything()"
