"""The constraint interface: predicates on byte strings with incremental prefix tests.

A constraint is a set of accepted byte strings. Generation walks it byte chunk by byte
chunk (one chunk per LM token) through immutable parser *states*, so that a particle can
keep its state and extend it by one token without re-parsing its prefix, and so that two
particles can share a state after resampling.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Hashable


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

    def shortest_completion(self, state: State) -> bytes | None:
        """A shortest byte string that takes `state` to an accepted string (b"" if it accepts), None if none does.

        Each family computes it from its own structure (docs/constraints.md says how exactly); a
        constraint that does not know raises NotImplementedError, and `min_completion_bytes`
        then gives the trivial lower bound.
        """
        if self.is_accepting(state):
            return b""
        raise NotImplementedError(f"{type(self).__name__} does not know its shortest completions")

    def budget_completion(self, state: State) -> bytes | None:
        """The completion a token budget counts (constraints.token_budget): `shortest_completion`, or None
        where a family's search finds none (a family may search less hard here; None refuses the state)."""
        return self.shortest_completion(state)

    def min_completion_bytes(self, state: State) -> int | None:
        """The byte length of the shortest completion of `state`, None if no completion exists.

        For a constraint without `shortest_completion`: 0 if it accepts, else the lower bound 1.
        """
        try:
            text = self.shortest_completion(state)
        except NotImplementedError:
            return 0 if self.is_accepting(state) else 1
        return None if text is None else len(text)

    def completes(self, state: State, text: bytes) -> bool:
        """Whether reading `text` from `state` ends in an accepted string."""
        following = self.advance(state, text) if text else state
        return following is not None and self.is_accepting(following)

    def neutral_bytes(self, state: State) -> frozenset | None:
        """Bytes that, read from `state` in any number and order, keep the text viable and change neither
        this set nor the shortest completion (plain characters inside a JSON string); None if unknown.
        Token masks read them without advancing the constraint (inference.token_trie.TokenTrie.mask)."""
        return None

    def token_mask(self, trie: Any, state: State) -> tuple[Any, int]:
        """The tokens of `trie` (an inference.token_trie.TokenTrie) that extend `state` viably, and the
        advances made: one trie walk (a token-level constraint such as TokenBudget overrides it)."""
        return trie.mask(self, state)

    # Whether finding a shortest completion costs a search per state (SQL): a token budget's exact mask
    # then costs one per allowed token, and AWRS's fallback draws among `token_candidates` instead.
    costly_completions: bool = False

    def token_candidates(self, trie: Any, state: State) -> tuple[Any, int] | None:
        """A superset of `token_mask`'s tokens that is much cheaper to find, and its work; None where there is
        none. AWRS's fallback then draws among them, testing only the tokens it draws (inference.awrs)."""
        return None

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
        self._shortest: dict = {}

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

    def shortest_completion(self, state: State) -> bytes | None:
        """Exact when one side's shortest completion is accepted by the other or a bounded search finds one;
        otherwise the longer side's (a lower bound in length: see constraints.completion_search)."""
        from constraints.completion_search import shortest_common_completion

        known = self._shortest.get(state, False)
        if known is False:
            if len(self._shortest) >= 4096:
                self._shortest.clear()
            known = self._shortest[state] = shortest_common_completion(self, state)
        return known

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

    def shortest_completion(self, state: State) -> bytes | None:
        return b""

    def __repr__(self) -> str:
        return "Anything()"
