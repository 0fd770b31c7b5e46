"""The cheapest object keys an object alternative allows besides the keys it names.

Which value schema an unnamed key gets depends only on which `patternProperties` patterns it
matches (`re.search`), so keys are searched in the product of one search automaton per pattern
(regex_search.py), an automaton for well-formed UTF-8, and a trie of the keys to leave out
(named and already written keys): keys ending in the same product state are interchangeable.
The search is Dijkstra's over bytes weighted by their length in JSON text (`"` and `\\` take
2 bytes, control characters 2 or 6), keeping the `count` cheapest keys per product state and
trying, per range of bytes the automata treat alike, the `count` cheapest bytes. So it yields,
cheapest first, at least the `count` cheapest keys of every class; with `count` at least the
number of keys a caller needs, the cheapest choice among what it yields is a cheapest choice.
"""
from __future__ import annotations

import bisect
import functools
import heapq
from typing import Any, Iterator

from constraints.base import ConstraintError
from constraints.regular.automaton import byte_ranges
from constraints.regular.regex import Dfa, compile_regex, compile_search

MAX_POPS = 4096  # keys a search may take from its queue (a pathological product stops there)
_PREFERRED = ((0x61, 0x7A), (0x30, 0x39), (0x41, 0x5A), (0x20, 0x7E), (0x00, 0xFF))  # a-z, 0-9, A-Z, ASCII
_TWO_BYTE_ESCAPES = frozenset(b'"\\\b\f\n\r\t')


def json_cost(byte: int) -> int:
    """The bytes one byte of a key's UTF-8 text takes in `json.dumps(key, ensure_ascii=False)`."""
    if byte in _TWO_BYTE_ESCAPES:
        return 2
    return 6 if byte < 0x20 else 1


@functools.lru_cache(maxsize=None)
def _utf8() -> Dfa:
    return compile_regex("(?s:.*)")


@functools.lru_cache(maxsize=4096)
def _search(pattern: str) -> Dfa | None:
    """The search automaton of a pattern, None where our regex syntax lacks a feature it uses (the key's
    class then ignores that pattern, and the answer is the cheapest among keys that check out)."""
    try:
        return compile_search(pattern)
    except ConstraintError:
        return None


class KeySearch:
    """Unnamed keys of one ObjectSpec, cheapest first (module docstring)."""

    def __init__(self, spec: Any):
        patterns = dict.fromkeys(pattern for leaf in spec.leaves for pattern, _ in leaf.pattern_properties)
        self.automata = tuple(dfa for dfa in map(_search, patterns) if dfa is not None)

    def keys(self, prefix: str, excluded: frozenset[str], count: int, partial: bytes = b"") -> Iterator[tuple[int, str]]:
        """(cost, key): keys whose UTF-8 text starts with `prefix` then the bytes `partial` (of a character
        not finished yet), not `excluded`, in nondecreasing cost: the bytes json.dumps(key) has beyond those;
        at least the `count` cheapest of each class (module docstring). Not checked: whether the object
        allows the key (ObjectSpec.child)."""
        start = _utf8_or_none(prefix)
        if start is None:  # a lone surrogate, written as an escape: no automaton reads it
            return
        start += partial
        avoid = sorted(b for b in map(_utf8_or_none, excluded) if b is not None and b.startswith(start))
        utf8 = _utf8()
        first = (utf8.advance(utf8.start, start), tuple(dfa.advance(dfa.start, start) for dfa in self.automata))
        if first[0] is None:
            return
        avoided = frozenset(avoid)
        queue = [(0, start, first)]
        taken: dict[tuple, int] = {}
        pops = 0
        while queue and pops < MAX_POPS:
            cost, text, (valid, states) = heapq.heappop(queue)
            on_trie = _on_trie(avoid, text)
            place = (valid, states, text if on_trie else None)
            if taken.get(place, 0) >= count:
                continue
            taken[place] = taken.get(place, 0) + 1
            pops += 1
            if valid.accepting and text not in avoided:
                yield cost, text.decode()
            for byte in self._next_bytes(valid, states, avoid, text, on_trie, count):
                following = utf8.step(valid, byte)
                if following is None:
                    continue
                nxt = tuple(None if s is None else dfa.step(s, byte) for dfa, s in zip(self.automata, states))
                heapq.heappush(queue, (cost + json_cost(byte), text + bytes((byte,)), (following, nxt)))

    def _next_bytes(self, valid: Any, states: tuple, avoid: list[bytes], text: bytes, on_trie: bool,
                    count: int) -> list[int]:
        """`count` bytes (the cheapest) from each range of bytes that every automaton and the trie treat alike."""
        cuts = {0, 256}
        for dfa, state in ((_utf8(), valid), *zip(self.automata, states)):
            if state is not None:
                for lo, hi in byte_ranges(dfa.nfa, state.nodes):
                    cuts.update((lo, hi + 1))
        if on_trie:
            index = bisect.bisect_left(avoid, text)
            while index < len(avoid) and avoid[index].startswith(text):
                if len(avoid[index]) > len(text):
                    byte = avoid[index][len(text)]
                    cuts.update((byte, byte + 1))
                index += 1
        bounds = sorted(cuts)
        out = []
        for lo, top in zip(bounds, bounds[1:]):
            out.extend(_cheapest(lo, top - 1, count))
        return out


def _utf8_or_none(text: str) -> bytes | None:
    try:
        return text.encode()
    except UnicodeEncodeError:
        return None


def _on_trie(avoid: list[bytes], text: bytes) -> bool:
    """Some key to leave out starts with `text`."""
    index = bisect.bisect_left(avoid, text)
    return index < len(avoid) and avoid[index].startswith(text)


def _cheapest(lo: int, hi: int, count: int) -> list[int]:
    """Up to `count` bytes of [lo, hi], JSON-cheap and familiar first (letters, digits, ASCII)."""
    out: list[int] = []
    for a, b in _PREFERRED:
        for byte in range(max(lo, a), min(hi, b) + 1):
            if len(out) == count:
                return out
            if byte not in out and json_cost(byte) == 1:
                out.append(byte)
    for byte in sorted(range(lo, hi + 1), key=json_cost):
        if len(out) == count:
            break
        if byte not in out:
            out.append(byte)
    return out
