"""A trie of the vocabulary's byte strings, for whole-vocabulary constraint masks.

Token masking (locally constrained decoding) needs, at every step, the set of tokens whose
bytes keep the constraint viable. Walking a trie advances the constraint once per trie edge,
so a prefix shared by many tokens is checked once, and a dead prefix prunes its whole subtree.
"""
from __future__ import annotations

from typing import Any, Sequence

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

    def mask(self, constraint: Any, state: Any) -> tuple[np.ndarray, int]:
        """Tokens whose bytes extend `state` viably, and the number of constraint advances made."""
        allowed = np.zeros(self.size, dtype=bool)
        advances = 0
        stack = [(0, state)]
        while stack:
            node, node_state = stack.pop()
            for byte, child in self._children[node].items():
                child_state = constraint.advance(node_state, bytes((byte,)))
                advances += 1
                if child_state is None:
                    continue
                for token_id in self._ends[child]:
                    allowed[token_id] = True
                stack.append((child, child_state))
        return allowed, advances
