"""The token budget as part of the constraint: a prefix is viable only if it can still finish in time.

`TokenBudget(constraint, max_tokens)` is a constraint over *token sequences*: each `advance`
reads one token (generation advances one token per call), and its state is (inner state,
tokens used). A token is refused when the text it makes can no longer be completed, EOS
included, within `max_tokens` tokens: when

    tokens used + tokens needed(shortest completion of the new state) + eos_tokens > max_tokens.

"Tokens needed" is `tokens(state, limit)`, one of:

* `bytes_as_tokens` (default): the shortest completion's length in bytes; an upper bound on
  the tokens needed when every byte is a token (byte-level BPE vocabularies);
* `spelled_by(trie)`: the fewest vocabulary tokens that spell the shortest completion (what
  generation uses): a much tighter count than bytes, still a real way to finish;
* `searched_over(vocabulary)`: the exact fewest tokens of any completion, by search over the
  vocabulary; for small vocabularies (it makes the budget test exactly "fits in max_tokens").

Generation with AWRS, token masking or the prior then samples the model conditioned on the
constraint and on every prefix passing this test (docs/generation.md, "Token budget"): a
particle closes its string or query in time instead of dying at max_tokens.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from constraints.base import Constraint, ConstraintError, State

Tokens = Callable[[Constraint, Any, int], "int | None"]
_MASKS_KEPT = 4


class BudgetTooSmall(ConstraintError):
    """No output of the constraint fits in max_tokens: raised before generation, naming both lengths.

    `shortest` (bytes) and `needed` (tokens, EOS not counted) describe the shortest output; None where
    the constraint accepts nothing."""

    def __init__(self, message: str, *, shortest: int | None = None, needed: int | None = None,
                 max_tokens: int | None = None):
        super().__init__(message)
        self.shortest, self.needed, self.max_tokens = shortest, needed, max_tokens


def _shortest(constraint: Constraint, state: Any) -> bytes | None:
    """The inner constraint's shortest completion as the budget counts it (`Constraint.budget_completion`);
    b"" or one unknown byte where it cannot tell."""
    try:
        return constraint.budget_completion(state)
    except NotImplementedError:
        return b"" if constraint.is_accepting(state) else b"?"


def bytes_as_tokens(constraint: Constraint, state: Any, limit: int) -> int | None:
    """The shortest completion's byte length (b bytes take at most b tokens when every byte is one)."""
    text = _shortest(constraint, state)
    return None if text is None else len(text)


def spelled_by(trie: Any) -> Tokens:
    """Tokens needed = the fewest tokens of `trie` (a `TokenTrie`) that spell the shortest completion;
    its byte length where the vocabulary cannot spell it."""
    cache: dict[bytes, int] = {}

    def tokens(constraint: Constraint, state: Any, limit: int) -> int | None:
        text = _shortest(constraint, state)
        if text is None:
            return None
        count = cache.get(text)
        if count is None:
            count = trie.fewest_tokens(text)
            count = len(text) if count is None else count
            if len(cache) > 65_536:
                cache.clear()
            cache[text] = count
        return count
    return tokens


def searched_over(vocabulary: Sequence[bytes | None], max_nodes: int = 100_000) -> Tokens:
    """Tokens needed = the exact fewest tokens of `vocabulary` (ordinary tokens; None for the rest) that
    complete the state, by iterative deepening up to `limit` (more than `limit` answers limit + 1).

    Depth-first over every token at every node: for small vocabularies. More than `max_nodes` advances
    raise ValueError rather than run on.
    """
    tokens_list = [t for t in vocabulary if t]
    longest = max((len(t) for t in tokens_list), default=1)

    def tokens(constraint: Constraint, state: Any, limit: int) -> int | None:
        if _shortest(constraint, state) is None:
            return None
        work = [0]

        def within(node: Any, depth: int) -> bool:
            if constraint.is_accepting(node):
                return True
            if depth == 0:
                return False
            need = constraint.min_completion_bytes(node)
            if need is None or need > depth * longest:
                return False
            for token in tokens_list:
                work[0] += 1
                if work[0] > max_nodes:
                    raise ValueError(f"searched_over: more than {max_nodes} advances; use spelled_by for this vocabulary")
                following = constraint.advance(node, token)
                if following is not None and within(following, depth - 1):
                    return True
            return False

        for depth in range(limit + 1):
            if within(state, depth):
                return depth
        return limit + 1
    return tokens


class TokenBudget(Constraint):
    """`constraint` finished, EOS included, within `max_tokens` tokens; `advance` reads one token."""

    __ppl_shared__ = True

    def __init__(self, constraint: Constraint, max_tokens: int, *, tokens: Tokens = bytes_as_tokens,
                 eos_tokens: int = 1):
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
        if eos_tokens < 0:
            raise ValueError(f"eos_tokens must be >= 0, got {eos_tokens!r}")
        self.inner = constraint
        self._masks: dict = {}
        self.max_tokens = max_tokens
        self.eos_tokens = eos_tokens
        self.tokens = tokens
        start = constraint.start()
        room = self.room(0)
        need = tokens(constraint, start, max(room, 0))
        if need is None:
            raise BudgetTooSmall(f"{constraint!r} accepts no string at all")
        if need > room:
            shortest = constraint.min_completion_bytes(start)
            raise BudgetTooSmall(
                f"the shortest output {constraint!r} accepts is {shortest} bytes and needs {need} tokens "
                f"+ {eos_tokens} EOS, but max_tokens={max_tokens} leaves room for {max(room, 0)} tokens + EOS",
                shortest=shortest, needed=need, max_tokens=max_tokens)

    def room(self, used: int) -> int:
        """The tokens left after `used`, EOS set aside (negative: over the budget)."""
        return self.max_tokens - self.eos_tokens - used

    def fits(self, inner_state: Any, used: int) -> bool:
        """Whether `inner_state`, reached after `used` tokens, can still finish within the budget: its
        shortest completion (`Constraint.budget_completion`) fits."""
        room = self.room(used)
        if room < 0:
            return False
        need = self.tokens(self.inner, inner_state, room)
        return need is not None and need <= room

    def start(self) -> State:
        return (self.inner.start(), 0)

    def advance(self, state: State, chunk: bytes) -> State | None:
        """The state after one token spelled `chunk`, or None if the text cannot finish in time."""
        inner, used = state
        following = self.inner.advance(inner, chunk)
        if following is None or not self.fits(following, used + 1):
            return None
        return (following, used + 1)

    def is_accepting(self, state: State) -> bool:
        return self.inner.is_accepting(state[0]) and state[1] + self.eos_tokens <= self.max_tokens

    def shortest_completion(self, state: State) -> bytes | None:
        """The inner constraint's, if it fits in the tokens left, else None."""
        inner, used = state
        if not self.fits(inner, used):
            return None
        return _shortest(self.inner, inner)

    def token_mask(self, trie: Any, state: State) -> tuple[Any, int]:
        """The tokens that keep the text finishable in time: one trie walk over the inner constraint,
        each token's end state checked against the budget. The last few masks are kept: particles cloned
        by resampling reach the same tight state together (the walk is reported once, as the work done)."""
        key = (id(trie), state)
        known = self._masks.get(key)
        if known is not None:
            return known[0].copy(), 0
        inner, used = state
        if self.room(used + 1) < 0:  # no room for another token: no walk
            return np.zeros(trie.size, dtype=bool), 0
        result = trie.mask(self.inner, inner, keep=lambda following: self.fits(following, used + 1))
        if len(self._masks) >= _MASKS_KEPT:
            self._masks.pop(next(iter(self._masks)))
        self._masks[key] = result
        return result

    @property
    def costly_completions(self) -> bool:
        return self.inner.costly_completions

    def token_candidates(self, trie: Any, state: State) -> tuple[Any, int]:
        """The inner constraint's tokens (one trie walk, no completion searches): a superset of the mask,
        where each token's budget test may cost a search (SQL)."""
        inner, used = state
        if self.room(used + 1) < 0:
            return np.zeros(trie.size, dtype=bool), 0
        return trie.mask(self.inner, inner)

    def viable(self, prefix: bytes) -> bool:
        """`prefix` read as one token."""
        return self.advance(self.start(), prefix) is not None

    def __repr__(self) -> str:
        return f"TokenBudget({self.inner!r}, max_tokens={self.max_tokens})"
