"""All terminals expected at one text position, matched together byte by byte.

A scan state is the tuple of (entry, priority-automaton state) pairs still running from one
start position; its transitions are memoized, so stepping every terminal expected at a
position costs one dictionary lookup per byte once the state has been visited.
"""
from __future__ import annotations

from constraints.regular.automaton import DEFAULT_STATE_BUDGET, PikeDfa


class ScanState:
    """Running terminals: `entries` is a tuple of (entry id, PikeState), sorted by entry id."""
    __slots__ = ("entries", "next", "__weakref__")

    def __init__(self, entries: tuple):
        self.entries, self.next = entries, {}

    def entry_ids(self) -> frozenset:
        return frozenset(e for e, _ in self.entries)

    def __repr__(self) -> str:
        return f"ScanState({[e for e, _ in self.entries]})"


class Scanner:
    """Steps many terminal matchers at once.

    `step(state, byte)` returns `(next_state, flagged, gone)`: `flagged` lists
    `(entry, survives)` for each entry whose `re.match` may end after this byte (`survives`:
    a longer, preferred match is still possible), `gone` lists entries that stopped without a
    match on this byte.
    """

    def __init__(self, matchers: list[PikeDfa], state_budget: int = DEFAULT_STATE_BUDGET):
        self.matchers = matchers
        self.state_budget = state_budget
        self._states: dict[tuple, ScanState] = {}
        self._starts: dict[tuple, ScanState | None] = {}

    def start(self, entries: frozenset, prev: int | None) -> ScanState | None:
        key = (entries, prev)
        if key in self._starts:
            return self._starts[key]
        pairs = []
        for entry in sorted(entries):
            pike, _empty_match = self.matchers[entry].start_after(prev)
            if pike is not None:
                pairs.append((entry, pike))
        state = self._intern(tuple(pairs))
        if len(self._starts) > self.state_budget:
            self._starts.clear()
        self._starts[key] = state
        return state

    def step(self, state: ScanState, byte: int):
        result = state.next.get(byte)
        if result is None:
            result = self._compute(state, byte)
        return result

    def restrict(self, state: ScanState, keep: frozenset) -> ScanState | None:
        """The same running terminals, minus those whose entry is not in `keep`."""
        return self._intern(tuple(pair for pair in state.entries if pair[0] in keep))

    def _compute(self, state: ScanState, byte: int):
        pairs = []
        flagged = []
        gone = []
        matchers = self.matchers
        for entry, pike in state.entries:
            nxt, matched = matchers[entry].step(pike, byte)
            if nxt is not None:
                pairs.append((entry, nxt))
            if matched:
                flagged.append((entry, nxt is not None))
            elif nxt is None:
                gone.append(entry)
        result = (self._intern(tuple(pairs)), tuple(flagged), tuple(gone))
        if len(self._states) > self.state_budget:
            self._flush()
        state.next[byte] = result
        return result

    def _intern(self, pairs: tuple) -> ScanState | None:
        if not pairs:
            return None
        state = self._states.get(pairs)
        if state is None:
            state = self._states[pairs] = ScanState(pairs)
        return state

    def _flush(self) -> None:
        for state in self._states.values():
            state.next.clear()
        self._states.clear()
        self._starts.clear()
