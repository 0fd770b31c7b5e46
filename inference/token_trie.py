"""A trie of the vocabulary's byte strings, for whole-vocabulary constraint masks.

Token masking (locally constrained decoding) needs, at every step, the set of tokens whose
bytes keep the constraint viable. Walking a trie advances the constraint once per trie edge,
so a prefix shared by many tokens is checked once, and a dead prefix prunes its whole subtree.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


_REGIONS_KEPT = 4096  # cached neutral regions per trie (oldest dropped first)
_BYTES = [bytes((byte,)) for byte in range(256)]


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
        self._regions: dict[tuple[int, frozenset], tuple[np.ndarray, list[tuple[int, bytes]]]] = {}
        self._single_edges: dict[int, list[tuple[int, bytes]]] = {}  # at most one entry per node

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
        stack = [(0, state, _neutral(neutral_of, state))]
        while stack:
            node, base, neutral = stack.pop()
            if neutral is not None:
                inside, edges = self._region(node, neutral)
                if inside.size and (keep is None or keep(base)):
                    allowed[inside] = True
            else:
                edges = self._edges(node)
            for child, chunk in edges:
                child_state = constraint.advance(base, chunk)
                advances += 1
                if child_state is None:
                    continue
                ends = self._ends[child]
                if ends and (keep is None or keep(child_state)):
                    allowed[ends] = True
                stack.append((child, child_state, _neutral(neutral_of, child_state)))
        return allowed, advances

    def _edges(self, node: int) -> list[tuple[int, bytes]]:
        """The edges leaving `node` as (child, its one byte), built once per node: a mask walks the same
        nodes at every step (the root's ~200 edges at least), and rebuilding them cost more than the walk."""
        edges = self._single_edges.get(node)
        if edges is None:
            edges = self._single_edges[node] = [(child, _BYTES[byte]) for byte, child in self._children[node].items()]
        return edges

    def _region(self, node: int, neutral: frozenset) -> tuple[np.ndarray, list[tuple[int, bytes]]]:
        """Below `node` through `neutral` bytes only: the tokens ending there, and the edges leaving by another
        byte as (child, bytes read from `node`). Cached: a JSON string's region below the root spans most of
        the vocabulary, and walking it in Python cost more than all the constraint advances of a mask."""
        key = (node, neutral)
        cached = self._regions.get(key)
        if cached is not None:
            return cached
        inside: list[int] = []
        edges: list[tuple[int, bytes]] = []
        stack = [(node, b"")]
        while stack:
            at, path = stack.pop()
            for byte, child in self._children[at].items():
                if byte in neutral:
                    inside.extend(self._ends[child])
                    stack.append((child, path + bytes((byte,))))
                else:
                    edges.append((child, path + bytes((byte,))))
        if len(self._regions) >= _REGIONS_KEPT:
            self._regions.pop(next(iter(self._regions)))
        self._regions[key] = cached = (np.array(inside, dtype=np.int64), edges)
        return cached

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


def _neutral(neutral_of: Callable[[Any], Any] | None, state: Any) -> frozenset | None:
    """The state's neutral bytes, or None where it names none."""
    if neutral_of is None:
        return None
    neutral = neutral_of(state)
    return frozenset(neutral) if neutral else None
