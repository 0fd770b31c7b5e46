"""A trie of the vocabulary's byte strings, for whole-vocabulary constraint masks.

Token masking (locally constrained decoding) needs, at every step, the set of tokens whose
bytes keep the constraint viable. Walking a trie advances the constraint once per trie edge,
so a prefix shared by many tokens is checked once, and a dead prefix prunes its whole subtree.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


class TokenTrie:
    """The vocabulary (token id → bytes) as a byte trie; special tokens are left out."""

    def __init__(self, vocabulary: Sequence[bytes | None]):
        self.size = len(vocabulary)
        # Node i: children {byte: node}, tokens ending here.
        self._children: list[dict[int, int]] = [{}]
        self._ends: list[list[int]] = [[]]
        for token_id, data in enumerate(vocabulary):
            if not data:
                continue
            node = 0
            for byte in data:
                nxt = self._children[node].get(byte)
                if nxt is None:
                    nxt = len(self._children)
                    self._children[node][byte] = nxt
                    self._children.append({})
                    self._ends.append([])
                node = nxt
            self._ends[node].append(token_id)

    @property
    def nodes(self) -> int:
        return len(self._children)

    def mask(self, constraint: Any, state: Any, keep: Callable[[Any], bool] | None = None) -> tuple[np.ndarray, int]:
        """Tokens whose bytes extend `state` viably, and the number of constraint advances made.

        `keep(state after the token)`, if given, must also hold for a token to be allowed (a test of
        whole tokens, such as a token budget, that cannot prune inside the trie).

        Where the constraint names *neutral* bytes (`constraint.neutral_bytes(state)`: bytes that, in any
        number, keep the text viable and change neither the neutral set nor the shortest completion, such
        as plain characters inside a JSON string), the walk reads them without advancing the constraint:
        a token made of them is allowed as its region's first state is (keep asked once per region), and
        the constraint is advanced only at the next other byte, by everything read since in one chunk."""
        allowed = np.zeros(self.size, dtype=bool)
        advances = 0
        neutral_of = getattr(constraint, "neutral_bytes", None)
        stack = [(0, state, b"", _region(neutral_of, state))]
        while stack:
            node, base, pending, region = stack.pop()
            for byte, child in self._children[node].items():
                ends = self._ends[child]
                if region is not None and byte in region[0]:
                    if ends:
                        if region[1] is None:
                            region[1] = keep is None or keep(base)
                        if region[1]:
                            allowed[ends] = True
                    stack.append((child, base, pending + bytes((byte,)), region))
                    continue
                child_state = constraint.advance(base, pending + bytes((byte,)))
                advances += 1
                if child_state is None:
                    continue
                if ends and (keep is None or keep(child_state)):
                    allowed[ends] = True
                stack.append((child, child_state, b"", _region(neutral_of, child_state)))
        return allowed, advances

    def fewest_tokens(self, text: bytes) -> int | None:
        """The fewest tokens whose bytes concatenate to `text` (None if none do): a shortest path over
        the trie, O(len(text) x longest token)."""
        best = [0] + [None] * len(text)
        for i in range(len(text)):
            if best[i] is None:
                continue
            node = 0
            for j in range(i, len(text)):
                node = self._children[node].get(text[j])
                if node is None:
                    break
                if self._ends[node] and (best[j + 1] is None or best[i] + 1 < best[j + 1]):
                    best[j + 1] = best[i] + 1
        return best[len(text)]


def _region(neutral_of: Callable[[Any], Any] | None, state: Any) -> list | None:
    """[neutral bytes, keep answer (None until asked)] for a state that has neutral bytes, else None."""
    if neutral_of is None:
        return None
    neutral = neutral_of(state)
    return [neutral, None] if neutral else None
