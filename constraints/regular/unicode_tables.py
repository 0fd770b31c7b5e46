"""Python `re`'s character categories and case-insensitive matching, as code-point ranges.

The tables are read off `re` itself (the runs of `\\w` etc. over all code points), so a
compiled set agrees with `re` exactly. Each table is computed once per process (a pure
function, memoized).
"""
from __future__ import annotations

import array
import functools
import re

from constraints.regular.regex_syntax import MAX_CODE_POINT, Ranges, normalize_ranges, ranges_from_code_points

try:  # the case predicate `re` itself uses; str methods give the same set on CPython 3.11
    from _sre import unicode_iscased as _iscased
except ImportError:  # pragma: no cover - other interpreters
    def _iscased(code: int) -> bool:
        ch = chr(code)
        return ch.lower() != ch or ch.upper() != ch

ASCII_DIGIT = ((0x30, 0x39),)
ASCII_WORD = normalize_ranges([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
ASCII_SPACE = ranges_from_code_points(map(ord, " \t\n\r\f\v"))


@functools.cache
def _all_characters() -> str:
    """Every code point once, in order (built in C: UTF-32 bytes decoded, surrogates kept)."""
    return array.array("I", range(MAX_CODE_POINT + 1)).tobytes().decode("utf-32-le", "surrogatepass")


def _scan(category: str) -> Ranges:
    """The code points `re` matches with `category` (such as backslash-w), read off its runs."""
    return tuple((m.start(), m.end() - 1) for m in re.finditer(category + "+", _all_characters()))


@functools.cache
def unicode_digit() -> Ranges:
    """`\\d` for str patterns: Unicode decimal digits."""
    return _scan(r"\d")


@functools.cache
def unicode_word() -> Ranges:
    """`\\w` for str patterns: alphanumerics and underscore."""
    return _scan(r"\w")


@functools.cache
def unicode_space() -> Ranges:
    """`\\s` for str patterns: Unicode whitespace."""
    return _scan(r"\s")


@functools.cache
def cased_code_points() -> tuple[int, ...]:
    """Every code point whose case-insensitive matching can differ from plain membership."""
    return tuple(c for c in range(MAX_CODE_POINT + 1) if _iscased(c))


@functools.lru_cache(maxsize=4096)
def case_insensitive(atom_source: str, flags: int, plain: Ranges) -> Ranges:
    """The code points that the one-character atom `atom_source` matches under `flags`.

    `plain` is what the atom matches without IGNORECASE. Uncased code points match exactly
    when they are in `plain`; each cased one is decided by `re` itself, so the subtle rules
    (Kelvin sign, long s, range folding) are Python's own.
    """
    compiled = re.compile(atom_source, flags & ~re.VERBOSE)
    cased = cased_code_points()
    cased_set = set(cased)
    keep = [r for r in _subtract_points(plain, cased_set)]
    matched = [c for c in cased if compiled.fullmatch(chr(c))]
    return normalize_ranges(keep + [(c, c) for c in matched])


def _subtract_points(ranges: Ranges, points: set[int]):
    for lo, hi in ranges:
        if hi - lo > 4096:
            inside = sorted(p for p in points if lo <= p <= hi)
        else:
            inside = [p for p in range(lo, hi + 1) if p in points]
        start = lo
        for p in inside:
            if p > start:
                yield (start, p - 1)
            start = p + 1
        if start <= hi:
            yield (start, hi)
