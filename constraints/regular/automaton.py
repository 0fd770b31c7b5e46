"""Lazy deterministic automata over bytes, built from a `ByteNfa` as they are visited.

`Dfa` is the subset construction (which strings match as a whole). `PikeDfa` keeps the
threads in Python's backtracking priority order and reports where `re.match` would end,
which is how Lark's dynamic lexer cuts terminals out of the text. Both build only the states
that are visited and memoize transitions; when more than `state_budget` states are cached the
cache is dropped and rebuilt on demand, so a pathological pattern costs time per byte
proportional to the NFA, never unbounded memory, and nothing hangs.
"""
from __future__ import annotations

from collections import deque

from constraints.regular.byte_nfa import ASSERT, BYTE, MATCH, SPLIT, ByteNfa

DEFAULT_STATE_BUDGET = 50_000
_UNKNOWN = object()  # a transition not computed yet (None means: no state, dead)


class DfaState:
    """A set of NFA positions; `accepting` says the bytes read so far form a match.

    Hashable by identity: the automaton interns states, so equal sets are the same object
    (until a cache flush, after which a rebuilt state may be a new, equivalent object).
    """
    __slots__ = ("nodes", "accepting", "next", "__weakref__")

    def __init__(self, nodes: frozenset, accepting: bool):
        self.nodes, self.accepting, self.next = nodes, accepting, {}

    def __repr__(self) -> str:
        return f"DfaState({sorted(self.nodes)}, accepting={self.accepting})"


class Dfa:
    """Whole-string matching over bytes. `step` returns None exactly when no extension of the
    bytes read can match (dead states are never materialized)."""

    def __init__(self, nfa: ByteNfa, state_budget: int = DEFAULT_STATE_BUDGET):
        self.nfa = nfa
        self.state_budget = state_budget
        self._states: dict[tuple, DfaState] = {}
        self._closures: dict[tuple[int, int], tuple[frozenset, bool]] = {}
        self._starts: dict[int, DfaState | None] = {}
        self._suffixes: dict[DfaState, bytes] = {}
        self._loops: dict[DfaState, frozenset] = {}
        self.start: DfaState | None = self.start_after(None)

    def start_after(self, prev: int | None) -> DfaState | None:
        """The start state when the text before the match ends with byte `prev` (None: nothing)."""
        cls = self.nfa.class_after(prev)
        if cls not in self._starts:
            nodes, accepting = self._closure(self.nfa.start, cls)
            self._starts[cls] = self._intern(nodes, accepting)
        return self._starts[cls]

    def step(self, state: DfaState, byte: int) -> DfaState | None:
        nxt = state.next.get(byte, _UNKNOWN)
        if nxt is _UNKNOWN:
            nxt = self._compute(state, byte)
        return nxt

    def advance(self, state: DfaState | None, data: bytes) -> DfaState | None:
        for byte in data:
            if state is None:
                return None
            nxt = state.next.get(byte, _UNKNOWN)
            state = self._compute(state, byte) if nxt is _UNKNOWN else nxt
        return state

    @staticmethod
    def is_accepting(state: DfaState | None) -> bool:
        return state is not None and state.accepting

    def matches(self, data: bytes) -> bool:
        return self.is_accepting(self.advance(self.start, data))

    def self_loops(self, state: DfaState) -> frozenset:
        """The bytes that lead from `state` back to itself (cached)."""
        known = self._loops.get(state)
        if known is None:
            known = frozenset(b for b in range(256) if self.step(state, b) is state)
            if len(self._loops) > self.state_budget:
                self._loops.clear()
            self._loops[state] = known
        return known

    def shortest_suffix(self, state: DfaState) -> bytes:
        """A shortest byte string from `state` to an accepting state (every materialized state has one).

        Breadth-first over the transitions of one representative byte per range of bytes the
        state cannot tell apart; states on a path found are cached with their exact suffixes.
        """
        known = self._suffixes.get(state)
        if known is not None:
            return known
        depth = {state: 0}
        parent: dict = {state: None}
        queue = deque([state])
        best: tuple[int, DfaState, bytes] | None = None
        while queue:
            node = queue.popleft()
            d = depth[node]
            if best is not None and d >= best[0]:
                break
            if node.accepting:
                best = (d, node, b"")
                break
            cached = self._suffixes.get(node) if node is not state else None
            if cached is not None:
                if best is None or d + len(cached) < best[0]:
                    best = (d + len(cached), node, cached)
                continue
            for byte in representative_bytes(self.nfa, node.nodes):
                following = self.step(node, byte)
                if following is not None and following not in depth:
                    depth[following] = d + 1
                    parent[following] = (node, byte)
                    queue.append(following)
        _, node, suffix = best
        path = bytearray()
        on_path = [node]
        while parent[node] is not None:
            node, byte = parent[node]
            path.append(byte)
            on_path.append(node)
        text = bytes(reversed(path)) + suffix
        for i, node in enumerate(reversed(on_path)):
            self._suffixes[node] = text[i:]
        return text

    def _compute(self, state: DfaState, byte: int) -> DfaState | None:
        nfa = self.nfa
        cls = nfa.byte_class[byte]
        nodes: set[int] = set()
        accepting = False
        for q in state.nodes:
            for lo, hi, target in nfa.edges[q]:
                if lo <= byte <= hi:
                    reach, match = self._closure(target, cls)
                    nodes |= reach
                    accepting |= match
        result = self._intern(frozenset(nodes), accepting)
        if len(self._states) > self.state_budget:
            self._flush()
        state.next[byte] = result
        return result

    def _intern(self, nodes: frozenset, accepting: bool) -> DfaState | None:
        if not nodes and not accepting:
            return None
        key = (nodes, accepting)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = DfaState(nodes, accepting)
        return state

    def _flush(self) -> None:
        for state in self._states.values():
            state.next.clear()
        self._states.clear()
        self._closures.clear()
        self._suffixes.clear()
        self._loops.clear()
        for state in self._starts.values():
            if state is not None:
                self._states[(state.nodes, state.accepting)] = state

    def _closure(self, root: int, cls: int) -> tuple[frozenset, bool]:
        """Live BYTE nodes reachable from `root` by epsilon moves, and whether MATCH is."""
        key = (root, cls)
        cached = self._closures.get(key)
        if cached is not None:
            return cached
        nfa = self.nfa
        kind, edges, live, holds = nfa.kind, nfa.edges, nfa.live, nfa.holds
        seen = {root}
        stack = [root]
        out = set()
        match = False
        while stack:
            x = stack.pop()
            k = kind[x]
            if k == BYTE:
                if live[x]:
                    out.add(x)
            elif k == SPLIT:
                for t in edges[x]:
                    if t not in seen:
                        seen.add(t)
                        stack.append(t)
            elif k == ASSERT:
                cond, t = edges[x]
                if holds[cond][cls] and t not in seen:
                    seen.add(t)
                    stack.append(t)
            elif k == MATCH:
                match = True
        result = (frozenset(out), match)
        self._closures[key] = result
        return result


class PikeState:
    """Threads in priority order (a tuple of NFA BYTE nodes), all of which can still match."""
    __slots__ = ("threads", "next", "__weakref__")

    def __init__(self, threads: tuple):
        self.threads, self.next = threads, {}

    def __repr__(self) -> str:
        return f"PikeState({list(self.threads)})"


class PikeDfa:
    """Where Python's `re.match` ends, decided byte by byte.

    `step(state, byte)` returns `(next_state, matched)`: `matched` says a match ends after
    this byte and is preferred over every lower-priority alternative, and `next_state` keeps
    only the threads that are preferred over it (None if there are none). The final match is
    the last one reported before the threads run out or the text ends. Unbounded loops whose
    body matched empty exit to the tail, as `re` does.
    """

    def __init__(self, nfa: ByteNfa, state_budget: int = DEFAULT_STATE_BUDGET):
        self.nfa = nfa
        self.state_budget = state_budget
        self._states: dict[tuple, PikeState] = {}
        self._starts: dict[int, tuple[PikeState | None, bool]] = {}
        self._shortest: dict[PikeState, bytes] = {}

    def start_after(self, prev: int | None) -> tuple[PikeState | None, bool]:
        """The start state after byte `prev` (None: text start), and whether `re.match` would
        already return an empty match there."""
        cls = self.nfa.class_after(prev)
        if cls not in self._starts:
            out: list[int] = []
            matched = self._closure_into(self.nfa.start, cls, out, set())
            self._starts[cls] = (self._intern(tuple(out)), matched)
        return self._starts[cls]

    def step(self, state: PikeState, byte: int) -> tuple[PikeState | None, bool]:
        result = state.next.get(byte)
        if result is None:
            result = self._compute(state, byte)
        return result

    def shortest_match(self, state: PikeState) -> bytes:
        """The fewest bytes after which a match ends when read from `state` (breadth-first, cached)."""
        known = self._shortest.get(state)
        if known is not None:
            return known
        parent: dict = {state: None}
        queue = deque([state])
        found = None
        while queue and found is None:
            node = queue.popleft()
            for byte in representative_bytes(self.nfa, node.threads):
                following, matched = self.step(node, byte)
                if matched:
                    found = (node, byte)
                    break
                if following is not None and following not in parent:
                    parent[following] = (node, byte)
                    queue.append(following)
        if found is None:  # a live thread always reaches a match; kept total for safety
            raise ValueError(f"no match can end from {state!r}")
        node, byte = found
        path = bytearray([byte])
        while parent[node] is not None:
            node, byte = parent[node]
            path.append(byte)
        text = bytes(reversed(path))
        if len(self._shortest) > self.state_budget:
            self._shortest.clear()
        self._shortest[state] = text
        return text

    def _compute(self, state: PikeState, byte: int) -> tuple[PikeState | None, bool]:
        nfa = self.nfa
        cls = nfa.byte_class[byte]
        out: list[int] = []
        visited: set[int] = set()
        matched = False
        for q in state.threads:
            for lo, hi, target in nfa.edges[q]:
                if lo <= byte <= hi and self._closure_into(target, cls, out, visited):
                    matched = True
                    break
            if matched:
                break
        result = (self._intern(tuple(out)), matched)
        if len(self._states) > self.state_budget:
            self._flush()
        state.next[byte] = result
        return result

    def _intern(self, threads: tuple) -> PikeState | None:
        if not threads:
            return None
        state = self._states.get(threads)
        if state is None:
            state = self._states[threads] = PikeState(threads)
        return state

    def _flush(self) -> None:
        for state in self._states.values():
            state.next.clear()
        self._states.clear()
        for state, _ in self._starts.values():
            if state is not None:
                self._states[state.threads] = state

    def _closure_into(self, root: int, cls: int, out: list, visited: set) -> bool:
        """Depth-first, in priority order: append live BYTE nodes to `out`; True at MATCH."""
        nfa = self.nfa
        kind, edges, live, holds, loop_exit = nfa.kind, nfa.edges, nfa.live, nfa.holds, nfa.loop_exit
        stack = [root]
        on_path: set[int] = set()
        while stack:
            x = stack.pop()
            if x < 0:
                on_path.discard(~x)
                continue
            while x in on_path:  # an unbounded loop came back without consuming: take its tail
                x = loop_exit.get(x, -1)
                if x < 0:
                    break
            if x < 0 or x in visited:
                continue
            visited.add(x)
            k = kind[x]
            if k == BYTE:
                if live[x]:
                    out.append(x)
            elif k == SPLIT:
                stack.append(~x)
                on_path.add(x)
                stack.extend(reversed(edges[x]))
            elif k == ASSERT:
                cond, t = edges[x]
                if holds[cond][cls]:
                    stack.append(~x)
                    on_path.add(x)
                    stack.append(t)
            else:  # MATCH: everything after this in priority order is cut
                return True
        return False


_PREFERRED = ((0x61, 0x7A), (0x30, 0x39), (0x41, 0x5A), (0x20, 0x7E))  # a-z, 0-9, A-Z, printable


def representative_bytes(nfa: ByteNfa, nodes) -> list[int]:
    """One byte from each range of bytes that every BYTE node of `nodes` treats alike (edges and
    lookbehind class both), letters first, then digits and printable ASCII: the bytes a shortest
    path needs to try. Cached per node set on the NFA."""
    cache = nfa.__dict__.setdefault("_representatives", {})
    key = nodes if isinstance(nodes, (tuple, frozenset)) else tuple(nodes)
    known = cache.get(key)
    if known is not None:
        return known
    out = [_pick(lo, hi) for lo, hi in byte_ranges(nfa, key)]
    out.sort(key=_rank)
    if len(cache) > 100_000:
        cache.clear()
    cache[key] = out
    return out


def byte_ranges(nfa: ByteNfa, nodes) -> list[tuple[int, int]]:
    """The ranges [lo, hi] of bytes that every BYTE node of `nodes` treats alike (edges and
    lookbehind class both), among the bytes some edge of theirs takes, in byte order."""
    class_cuts = nfa.__dict__.get("_class_cuts")
    if class_cuts is None:
        byte_class = nfa.byte_class
        class_cuts = nfa._class_cuts = [b for b in range(1, 256) if byte_class[b] != byte_class[b - 1]]
    cuts = {0, 256, *class_cuts}
    covered = []
    for q in nodes:
        for lo, hi, _ in nfa.edges[q]:
            cuts.add(lo)
            cuts.add(hi + 1)
            covered.append((lo, hi))
    bounds = sorted(cuts)
    return [(a, b - 1) for a, b in zip(bounds, bounds[1:]) if any(lo <= a <= hi for lo, hi in covered)]


def _pick(a: int, b: int) -> int:
    for lo, hi in _PREFERRED:
        x = max(a, lo)
        if x <= min(b, hi):
            return x
    return a


def _rank(byte: int) -> tuple[int, int]:
    for rank, (lo, hi) in enumerate(_PREFERRED):
        if lo <= byte <= hi:
            return rank, byte
    return len(_PREFERRED), byte
