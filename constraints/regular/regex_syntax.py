"""Regex syntax trees and character sets: the values the regex parser produces.

A pattern is a tree over *characters* (code points); `byte_nfa` turns it into an automaton
over UTF-8 bytes. Character sets are sorted tuples of disjoint inclusive code-point ranges.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Union

MAX_CODE_POINT = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)

Ranges = tuple  # tuple[tuple[int, int], ...], sorted, disjoint, non-adjacent


def normalize_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort and merge overlapping or adjacent inclusive ranges."""
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def ranges_from_code_points(points: Iterable[int]) -> Ranges:
    """Ranges covering exactly the given code points."""
    return normalize_ranges((p, p) for p in points)


def complement_ranges(ranges: Ranges) -> Ranges:
    """All code points not in `ranges`."""
    out = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CODE_POINT:
        out.append((nxt, MAX_CODE_POINT))
    return tuple(out)


def union_ranges(*sets: Ranges) -> Ranges:
    return normalize_ranges(r for s in sets for r in s)


def intersect_ranges(a: Ranges, b: Ranges) -> Ranges:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def without_surrogates(ranges: Ranges) -> Ranges:
    """Surrogate code points have no UTF-8 encoding, so no byte string can match them."""
    return intersect_ranges(ranges, ((0, SURROGATES[0] - 1), (SURROGATES[1] + 1, MAX_CODE_POINT)))


def contains(ranges: Ranges, point: int) -> bool:
    lo_i, hi_i = 0, len(ranges)
    while lo_i < hi_i:
        mid = (lo_i + hi_i) // 2
        lo, hi = ranges[mid]
        if point < lo:
            hi_i = mid
        elif point > hi:
            lo_i = mid + 1
        else:
            return True
    return False


@dataclass(frozen=True)
class CharSet:
    """One character from a set of code points."""
    ranges: Ranges


@dataclass(frozen=True)
class Concat:
    items: tuple


@dataclass(frozen=True)
class Alt:
    """Alternatives in priority order (leftmost preferred, as in Python's `re`)."""
    options: tuple


@dataclass(frozen=True)
class Repeat:
    """`item{min,max}`; max None means unbounded; greedy False is the lazy `?` variant."""
    item: "Node"
    min: int
    max: int | None
    greedy: bool


@dataclass(frozen=True)
class Lookbehind:
    """A zero-width test of the previous character: `(?<=S)`, `(?<!S)`, `^`, `\\A`.

    `chars` is a one-character set; `negate` flips the test. At the start of the text there is
    no previous character, so `(?<=S)` fails and `(?<!S)` holds there.
    """
    chars: Ranges
    negate: bool


@dataclass(frozen=True)
class EndAnchor:
    """`$` or `\\Z` where nothing can follow it: under whole-string matching it always holds."""
    position: int = field(default=-1, compare=False)


Node = Union[CharSet, Concat, Alt, Repeat, Lookbehind, EndAnchor]

EMPTY = Concat(())
