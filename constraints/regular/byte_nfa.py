"""Thompson NFAs over UTF-8 bytes, compiled from regex trees over characters.

Character sets become small byte tries (one path per UTF-8 byte-range sequence), so an
automaton can stop in the middle of a multi-byte character, as LM tokens do. Zero-width
lookbehind tests look only at the previous byte (enough for the sets the parser admits), so
bytes fall into a few *classes* that the tests cannot tell apart. Nodes that cannot reach the
match node are marked dead, which is what makes "no completion exists" exact downstream.
"""
from __future__ import annotations

import functools
from collections import deque

from constraints.regular.regex_parser import RegexError
from constraints.regular.regex_syntax import (
    Alt, CharSet, Concat, EndAnchor, Lookbehind, Node, Ranges, Repeat, contains, without_surrogates,
)

BYTE, SPLIT, ASSERT, MATCH = 0, 1, 2, 3
MAX_NODES = 200_000


class ByteNfa:
    """An NFA over bytes with prioritized epsilon splits (Python's leftmost-first order).

    `kind[n]` is BYTE, SPLIT, ASSERT or MATCH; `edges[n]` holds (lo, hi, target) triples for
    BYTE, targets in priority order for SPLIT, (condition, target) for ASSERT. `loop_exit`
    maps the split node of each unbounded loop to the node after the loop. `byte_class[b]` and
    `start_class` index `holds[condition][class]`; `live[n]` says a match is reachable.
    """

    def __init__(self, kind, edges, loop_exit, start, match, byte_class, start_class, holds):
        self.kind, self.edges, self.loop_exit = kind, edges, loop_exit
        self.start, self.match = start, match
        self.byte_class, self.start_class, self.holds = byte_class, start_class, holds
        self.num_classes = max(max(byte_class), start_class) + 1
        self.live = _live_nodes(self)

    def class_after(self, prev: int | None) -> int:
        """The class of the position after byte `prev` (None: the start of the text)."""
        return self.start_class if prev is None else self.byte_class[prev]

    def __len__(self) -> int:
        return len(self.kind)


def build_nfa(tree: Node, pattern: str = "") -> ByteNfa:
    """Compile a regex tree; raises RegexError when it would exceed MAX_NODES."""
    if _size_bound(tree, {}) > 4 * MAX_NODES:  # refuse early, before building anything
        raise RegexError(f"regex too large (more than {MAX_NODES} automaton nodes)", pattern, 0)
    return _Builder(pattern).finish(tree)


def _size_bound(tree: Node, charsets: dict) -> int:
    """A rough upper bound on the node count (repetitions multiply their body)."""
    if isinstance(tree, CharSet):
        if tree.ranges not in charsets:
            charsets[tree.ranges] = 1 + 3 * len(utf8_sequences(without_surrogates(tree.ranges)))
        return charsets[tree.ranges]
    if isinstance(tree, Concat):
        return sum(_size_bound(i, charsets) for i in tree.items)
    if isinstance(tree, Alt):
        return 1 + sum(_size_bound(o, charsets) for o in tree.options)
    if isinstance(tree, Repeat):
        copies = tree.min + 1 if tree.max is None else tree.max
        return 1 + copies * (1 + _size_bound(tree.item, charsets))
    return 1


class _Builder:
    def __init__(self, pattern: str):
        self.pattern = pattern
        self.kind: list[int] = []
        self.edges: list = []
        self.loop_exit: dict[int, int] = {}
        self.conditions: list[tuple[frozenset, bool]] = []
        self.condition_index: dict[tuple[frozenset, bool], int] = {}
        self.charset_entries: dict = {}

    def node(self, kind: int, edges) -> int:
        if len(self.kind) >= MAX_NODES:
            raise RegexError(f"regex too large (more than {MAX_NODES} automaton nodes)", self.pattern, 0)
        self.kind.append(kind)
        self.edges.append(edges)
        return len(self.kind) - 1

    def finish(self, tree: Node) -> ByteNfa:
        match = self.node(MATCH, None)
        start = self.build(tree, match)
        byte_class, start_class, holds = self.classes()
        return ByteNfa(self.kind, self.edges, self.loop_exit, start, match, byte_class, start_class, holds)

    def classes(self):
        """Partition the 256 bytes and the text start by the answers of all lookbehind tests."""
        signatures: dict[tuple, int] = {}
        byte_class = []
        for b in range(256):
            sig = tuple(b in bytes_ for bytes_, _ in self.conditions)
            byte_class.append(signatures.setdefault(sig, len(signatures)))
        start_sig = tuple(at_start for _, at_start in self.conditions)
        start_class = signatures.setdefault(start_sig, len(signatures))
        by_class = {cls: sig for sig, cls in signatures.items()}
        holds = [tuple(by_class[c][i] for c in range(len(signatures))) for i in range(len(self.conditions))]
        return tuple(byte_class), start_class, holds

    def build(self, tree: Node, nxt: int) -> int:
        """The entry node of `tree` followed by node `nxt` (built right to left)."""
        if isinstance(tree, CharSet):
            return self.charset(tree.ranges, nxt)
        if isinstance(tree, Concat):
            for item in reversed(tree.items):
                nxt = self.build(item, nxt)
            return nxt
        if isinstance(tree, Alt):
            return self.node(SPLIT, tuple(self.build(o, nxt) for o in tree.options))
        if isinstance(tree, Repeat):
            return self.repeat(tree, nxt)
        if isinstance(tree, Lookbehind):
            return self.node(ASSERT, (self.condition(tree), nxt))
        if isinstance(tree, EndAnchor):
            return nxt
        raise TypeError(f"unknown regex node {tree!r}")

    def repeat(self, tree: Repeat, nxt: int) -> int:
        entry = nxt
        if tree.max is None:
            loop = self.node(SPLIT, ())
            body = self.build(tree.item, loop)
            self.edges[loop] = (body, nxt) if tree.greedy else (nxt, body)
            self.loop_exit[loop] = nxt
            entry = loop
        else:
            for _ in range(tree.max - tree.min):
                body = self.build(tree.item, entry)
                entry = self.node(SPLIT, (body, nxt) if tree.greedy else (nxt, body))
        for _ in range(tree.min):
            entry = self.build(tree.item, entry)
        return entry

    def condition(self, tree: Lookbehind) -> int:
        """Index of the test "the previous character is (not) in the set", read off the last byte."""
        non_ascii = any(hi >= 0x80 for _, hi in tree.chars)
        holds_for = []
        for b in range(256):
            if b < 0x80:
                inside = contains(tree.chars, b)
            else:  # only continuation bytes end a character; the parser admitted all-or-none sets
                inside = non_ascii and b <= 0xBF
            holds_for.append(inside != tree.negate)
        key = (frozenset(b for b in range(256) if holds_for[b]), tree.negate)
        if key not in self.condition_index:
            self.condition_index[key] = len(self.conditions)
            self.conditions.append(key)
        return self.condition_index[key]

    def charset(self, ranges: Ranges, nxt: int) -> int:
        """Instantiate the character set's byte-trie template with exits to `nxt`."""
        key = (ranges, nxt)
        if key not in self.charset_entries:
            template = _utf8_template(ranges)
            base = len(self.kind)
            if base + len(template) > MAX_NODES:
                raise RegexError(f"regex too large (more than {MAX_NODES} automaton nodes)", self.pattern, 0)
            for edges in template:
                self.kind.append(BYTE)
                self.edges.append(tuple((lo, hi, nxt if t < 0 else base + t) for lo, hi, t in edges))
            self.charset_entries[key] = base + len(template) - 1
        return self.charset_entries[key]


@functools.lru_cache(maxsize=1024)
def _utf8_template(ranges: Ranges) -> tuple:
    """The UTF-8 encodings of a character set as BYTE nodes with local ids; target -1 is the
    exit after the last byte, the last node is the entry. Identical sub-tries share nodes."""
    trie: dict = {}
    for sequence in utf8_sequences(without_surrogates(ranges)):
        level = trie
        for byte_range in sequence:
            level = level.setdefault(byte_range, {})
    nodes: list[tuple] = []
    index: dict[tuple, int] = {}

    def build(level: dict) -> int:
        out = []
        for (lo, hi), child in sorted(level.items()):
            target = build(child) if child else -1
            if out and out[-1][2] == target and out[-1][1] + 1 == lo:
                out[-1] = (out[-1][0], hi, target)
            else:
                out.append((lo, hi, target))
        edges = tuple(out)
        if edges not in index:
            index[edges] = len(nodes)
            nodes.append(edges)
        return index[edges]

    entry = build(trie)
    if entry != len(nodes) - 1:  # an empty set: its single node is both
        nodes.append(nodes[entry])
    return tuple(nodes)


_LENGTH_BOUNDS = ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF))


def utf8_sequences(ranges: Ranges) -> list[tuple[tuple[int, int], ...]]:
    """Byte-range sequences whose concatenation products are exactly the UTF-8 encodings."""
    out = []
    for lo, hi in ranges:
        for a, b in _LENGTH_BOUNDS:
            if lo <= b and hi >= a:
                _split_same_length(max(lo, a), min(hi, b), out)
    return out


def _split_same_length(lo: int, hi: int, out: list) -> None:
    for i in range(1, 4):
        mask = (1 << (6 * i)) - 1
        if lo & ~mask != hi & ~mask:
            if lo & mask:
                _split_same_length(lo, lo | mask, out)
                _split_same_length((lo | mask) + 1, hi, out)
                return
            if hi & mask != mask:
                _split_same_length(lo, (hi & ~mask) - 1, out)
                _split_same_length(hi & ~mask, hi, out)
                return
    first, last = chr(lo).encode("utf-8"), chr(hi).encode("utf-8")
    out.append(tuple(zip(first, last)))


def _live_nodes(nfa: ByteNfa) -> list[bool]:
    """Which nodes can reach MATCH (per class for epsilon nodes, folded to any class)."""
    n, classes = len(nfa.kind), nfa.num_classes
    # vertex v < n*classes: epsilon view (node, class); v >= n*classes: BYTE node consuming
    reverse: list[list[int]] = [[] for _ in range(n * classes + n)]
    for x, kind in enumerate(nfa.kind):
        if kind == SPLIT:
            for t in nfa.edges[x]:
                for c in range(classes):
                    reverse[t * classes + c].append(x * classes + c)
        elif kind == ASSERT:
            cond, t = nfa.edges[x]
            for c in range(classes):
                if nfa.holds[cond][c]:
                    reverse[t * classes + c].append(x * classes + c)
        elif kind == BYTE:
            for c in range(classes):
                reverse[n * classes + x].append(x * classes + c)
            for lo, hi, t in nfa.edges[x]:
                for c in (set(nfa.byte_class[lo:hi + 1]) if classes > 1 else (0,)):
                    reverse[t * classes + c].append(n * classes + x)
    seen = [False] * len(reverse)
    queue = deque(nfa.match * classes + c for c in range(classes))
    for v in queue:
        seen[v] = True
    while queue:
        v = queue.popleft()
        for u in reverse[v]:
            if not seen[u]:
                seen[u] = True
                queue.append(u)
    live = [False] * n
    for x in range(n):
        if nfa.kind[x] == BYTE:
            live[x] = seen[n * classes + x]
        else:
            live[x] = any(seen[x * classes + c] for c in range(classes))
    return live
