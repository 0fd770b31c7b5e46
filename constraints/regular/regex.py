"""Regular-expression constraints: byte strings whose UTF-8 text fully matches a pattern.

The pattern uses a documented subset of Python `re` syntax (see docs/constraints.md) and is
compiled to a lazy DFA over bytes, so a token may end inside a multi-byte character.
`compile_regex` exposes the automaton itself for other constraints (e.g. JSON Schema
`pattern`).
"""
from __future__ import annotations

from constraints.regular.automaton import DEFAULT_STATE_BUDGET, Dfa, DfaState, PikeDfa
from constraints.base import Constraint, ConstraintError
from constraints.regular.byte_nfa import build_nfa
from constraints.regular.regex_parser import parse_regex
from constraints.regular.regex_search import search_tree

__all__ = ["compile_regex", "compile_regex_matcher", "compile_search", "regex", "RegexConstraint", "Dfa", "DfaState"]


def compile_regex(pattern: str, flags: int = 0, state_budget: int = DEFAULT_STATE_BUDGET) -> Dfa:
    """A lazy byte DFA for whole-string matching of `pattern` (Python syntax, `re` flags).

    Use `dfa.start`, `dfa.step(state, byte)`, `dfa.advance(state, data)` and
    `dfa.is_accepting(state)`; a None state means no continuation can match.
    Raises ConstraintError (a RegexError with `.position`) for invalid or unsupported syntax.
    """
    tree = parse_regex(pattern, flags)
    return Dfa(build_nfa(tree, pattern), state_budget)


def compile_search(pattern: str, flags: int = 0, state_budget: int = DEFAULT_STATE_BUDGET) -> Dfa:
    """A lazy byte DFA for the texts in which `re.search(pattern, text)` finds a match (JSON Schema's
    `pattern` and `patternProperties`): regex_search.py. Raises ConstraintError as compile_regex does."""
    tree = parse_regex(pattern, flags)
    return Dfa(build_nfa(search_tree(tree, pattern, flags), pattern), state_budget)


def compile_regex_matcher(pattern: str, flags: int = 0,
                          state_budget: int = DEFAULT_STATE_BUDGET) -> PikeDfa:
    """A lazy automaton reporting where `re.match(pattern, text)` ends, byte by byte.

    `$` and `\\Z` are rejected here: a match followed by more text cannot test for the end.
    """
    tree = parse_regex(pattern, flags, end_anchors=False)
    return PikeDfa(build_nfa(tree, pattern), state_budget)


class RegexConstraint(Constraint):
    """Byte strings whose UTF-8 decoding `re.fullmatch`es the pattern; states are DFA states."""

    def __init__(self, pattern: str, flags: int = 0, state_budget: int = DEFAULT_STATE_BUDGET):
        self.pattern, self.flags = pattern, flags
        self.dfa = compile_regex(pattern, flags, state_budget)
        if self.dfa.start is None:
            raise ConstraintError(f"regex {pattern!r} matches no string")

    def start(self) -> DfaState:
        return self.dfa.start

    def advance(self, state: DfaState, chunk: bytes) -> DfaState | None:
        return self.dfa.advance(state, chunk)

    def is_accepting(self, state: DfaState) -> bool:
        return state.accepting

    def shortest_completion(self, state: DfaState) -> bytes:
        """Exact: breadth-first in the DFA, cached per state."""
        return self.dfa.shortest_suffix(state)

    def neutral_bytes(self, state: DfaState) -> frozenset:
        """The bytes that loop on this DFA state (they change nothing)."""
        return self.dfa.self_loops(state)

    def __repr__(self) -> str:
        return f"regex({self.pattern!r})"


def regex(pattern: str, flags: int = 0) -> RegexConstraint:
    """The constraint "the whole output matches `pattern`" (Python `re` syntax subset)."""
    return RegexConstraint(pattern, flags)
