"""Token sequences as nodes of a prefix trie, so equal prefixes share logits and KV rows.

A node stands for one token sequence; a child adds one token. Children are held weakly (a
branch no context, cache row or memo refers to disappears) and parents strongly, so a node
always knows its whole sequence. A node records where its keys/values live (a pool row and
the row's generation at the time) and, while memoized, the next-token distribution (a NextTokenTable).
"""
from __future__ import annotations

import weakref
from typing import Any, Iterable


class PrefixNode:
    """One token sequence: parent + token, its depth (length), and what is cached for it."""

    __slots__ = ("parent", "token", "depth", "children", "table", "row", "row_generation", "__weakref__")

    def __init__(self, parent: "PrefixNode | None", token: int):
        self.parent = parent
        self.token = token
        self.depth = 0 if parent is None else parent.depth + 1
        self.children: dict[int, weakref.ref] | None = None
        self.table: Any = None
        self.row: Any = None
        self.row_generation = -1

    def child(self, token: int) -> "PrefixNode":
        """The node of this sequence followed by `token` (shared if it already exists)."""
        children = self.children
        if children is None:
            children = self.children = {}
        else:
            ref = children.get(token)
            if ref is not None:
                node = ref()
                if node is not None:
                    return node
        node = PrefixNode(self, token)
        children[token] = weakref.ref(node)
        return node

    def descend(self, tokens: Iterable[int]) -> "PrefixNode":
        node = self
        for t in tokens:
            node = node.child(int(t))
        return node

    def path(self, above: "PrefixNode | None" = None) -> list["PrefixNode"]:
        """The nodes from just below `above` (default: the root) down to this one."""
        nodes = []
        node = self
        while node is not above and node.parent is not None:
            nodes.append(node)
            node = node.parent
        nodes.reverse()
        return nodes

    def token_ids(self) -> list[int]:
        return [n.token for n in self.path()]

    def has_kv(self) -> bool:
        """Whether a pool row still holds this sequence's keys and values."""
        row = self.row
        return row is not None and row.generation == self.row_generation

    def __repr__(self) -> str:
        return f"PrefixNode(depth={self.depth}, token={self.token})"


def new_root() -> PrefixNode:
    return PrefixNode(None, -1)
