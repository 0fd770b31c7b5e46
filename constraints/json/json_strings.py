"""JSON strings over bytes: the lexer, and the characters an incomplete one can still become.

A string prefix can end inside a character: inside a UTF-8 sequence, inside a \\u escape,
right after a backslash, or between the two \\u halves of a surrogate pair. `continuations`
says how the decoded string can go on from there, and `continues_with` asks a sorted tuple
of candidates (the names of a closed key set, the strings of an enum/const) whether one of
them goes on that way, so such a prefix is pruned at once instead of a byte or a token later.
"""
from __future__ import annotations

import bisect
from typing import Any, Sequence

CLOSE = "close"
SIMPLE_ESCAPES = {0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A,
                  0x72: 0x0D, 0x74: 0x09}
_HEX = {b: int(chr(b), 16) for b in b"0123456789abcdefABCDEF"}
# lexer states: 0 plain, 1 after backslash, 2..5 inside \uXXXX (digits read + 2),
# 10.. inside a UTF-8 sequence: 10 one continuation byte left, 11 two left, 14 three left;
# 12/13 and 15/16 are the lead bytes whose first continuation has a narrower range.
_CONTINUATION = {10: (0x80, 0xBF, -1), 11: (0x80, 0xBF, 10), 12: (0xA0, 0xBF, 10),
                 13: (0x80, 0x9F, 10), 14: (0x80, 0xBF, 11), 15: (0x90, 0xBF, 11),
                 16: (0x80, 0x8F, 11)}
_MISSING_UTF8 = {10: 1, 11: 2, 14: 3}
_AFTER_NARROW_LEAD = {12: (0x800, 0x1000), 13: (0xD000, 0xD800), 15: (0x10000, 0x40000),
                      16: (0x100000, 0x110000)}
_LOW_SURROGATES = (0xDC00, 0xE000)
_MAX_CODE = 0x110000


def _lead(b: int) -> tuple[int, int] | None:
    """Lexer state and accumulated bits after a non-ASCII lead byte, or None if invalid."""
    if 0xC2 <= b <= 0xDF:
        return 10, b & 0x1F
    if b == 0xE0:
        return 12, 0
    if b == 0xED:
        return 13, 0xD
    if 0xE1 <= b <= 0xEF:
        return 11, b & 0x0F
    if b == 0xF0:
        return 15, 0
    if b == 0xF4:
        return 16, 4
    if 0xF1 <= b <= 0xF3:
        return 14, b & 0x07
    return None


def string_byte(lex: int, acc: int, b: int) -> Any:
    """One byte inside a JSON string: None (invalid), CLOSE, or (lex, acc, codepoint, escaped)
    where codepoint is -1 while a character is incomplete and `escaped` says it was written
    as an escape (\\n, \\/, \\u00e9, ...)."""
    if lex == 0:
        if b == 0x22:
            return CLOSE
        if b == 0x5C:
            return 1, 0, -1, False
        if b < 0x20:
            return None
        if b < 0x80:
            return 0, 0, b, False
        lead = _lead(b)
        return None if lead is None else (lead[0], lead[1], -1, False)
    if lex == 1:
        if b == 0x75:
            return 2, 0, -1, False
        code = SIMPLE_ESCAPES.get(b)
        return None if code is None else (0, 0, code, True)
    if lex <= 5:
        digit = _HEX.get(b)
        if digit is None:
            return None
        acc = acc * 16 + digit
        return (0, 0, acc, True) if lex == 5 else (lex + 1, acc, -1, False)
    low, high, following = _CONTINUATION[lex]
    if not low <= b <= high:
        return None
    acc = (acc << 6) | (b & 0x3F)
    return (0, 0, acc, False) if following < 0 else (following, acc, -1, False)


def append(content: str, high: bool, code: int, escaped: bool) -> tuple[str, bool]:
    """Append a code point; a \\u low surrogate right after a \\u high one joins it (as json does).
    The flag returned says the string now ends with a \\u high surrogate that may still pair."""
    if high and escaped and 0xDC00 <= code <= 0xDFFF:
        joined = 0x10000 + ((ord(content[-1]) - 0xD800) << 10) + (code - 0xDC00)
        return content[:-1] + chr(joined), False
    return content + chr(code), escaped and 0xD800 <= code <= 0xDBFF


def pending_range(lex: int, acc: int) -> tuple[int, int] | None:
    """Code points [low, high) an incomplete character can still become, or None after a bare backslash.

    A UTF-8 sequence with k continuation bytes missing spans [acc << 6k, (acc + 1) << 6k); a \\u
    escape with m hex digits missing spans the escape values [acc 16^m, (acc + 1) 16^m) (see
    escape_spans for the characters those become).
    """
    if 2 <= lex <= 5:
        missing = 6 - lex
        return acc << (4 * missing), (acc + 1) << (4 * missing)
    if lex in _AFTER_NARROW_LEAD:  # E0, ED, F0, F4: the next byte's range is narrower than the bits say
        return _AFTER_NARROW_LEAD[lex]
    missing = _MISSING_UTF8.get(lex)
    if missing is None:
        return None
    return acc << (6 * missing), (acc + 1) << (6 * missing)


def needless_escape(lex: int, code: int, escaped: bool, span: tuple[int, int] | None) -> bool:
    """An escape (\\/ or \\uXXXX) of a printable ASCII character other than '"' and '\\', which
    json.dumps never writes.

    Checked on the complete character (`code`) and early on the range an incomplete \\u escape can
    still become (`span`), so generation cannot wander into spelling keys as "\\u0070\\u0061...".
    """
    if code >= 0:
        return escaped and 0x20 <= code < 0x7F and code not in (0x22, 0x5C)
    if span is None or not 2 <= lex <= 5:
        return False
    low, high = span
    return 0x20 <= low and high <= 0x7F and not (low <= 0x22 < high or low <= 0x5C < high)


def escape_spans(span: tuple[int, int], canonical: bool) -> list[tuple[int, int]]:
    """The characters a pending \\u escape with values in `span` can still stand for.

    High surrogates become the astral characters of their pairs; with canonical escapes the
    printable ASCII characters other than '"' and '\\' are left out (they are written literally).
    """
    low, high = span
    cuts = [(low, min(high, 0xD800)), (max(low, 0xDC00), high)]
    if low < 0xDC00 and high > 0xD800:
        a, b = max(low, 0xD800), min(high, 0xDC00)
        cuts.append((((a - 0xD800) << 10) + 0x10000, ((b - 0xD800) << 10) + 0x10000))
    if canonical:
        allowed = [(0, 0x20), (0x22, 0x23), (0x5C, 0x5D), (0x7F, _MAX_CODE)]
        cuts = [(max(a, c), min(b, d)) for a, b in cuts for c, d in allowed]
    return [(a, b) for a, b in cuts if a < b]


def _after_backslash(canonical: bool, paired: bool) -> list[tuple[int, int]]:
    """The characters an escape just begun can stand for (after a \\u high surrogate, `paired`,
    a low surrogate would join it, so it is left to the caller)."""
    spans = [(c, c + 1) for c in SIMPLE_ESCAPES.values() if not (canonical and c == 0x2F)]
    if paired:
        return spans + escape_spans((0, 0xDC00), canonical) + escape_spans((0xE000, 0x10000), canonical)
    return spans + escape_spans((0, 0x10000), canonical)


def continuations(content: str, high: bool, lex: int, acc: int,
                  canonical: bool) -> list[tuple[str, int, int]] | None:
    """How the decoded string can go on while a character is pending: (prefix, low, high)
    triples, meaning "`prefix` followed by a character in [low, high)"; the string takes one of
    them. None when nothing is pending (the string so far is `content`, and it is complete).

    `content` holds the complete characters; with `high` its last one is a \\u high surrogate
    that a \\u low surrogate may still join into an astral character. `canonical`: needless
    escapes are refused, so the characters they would spell are left out.
    """
    if not high:
        if lex == 0:
            return None
        if lex == 1:
            spans = _after_backslash(canonical, paired=False)
        elif lex <= 5:
            spans = escape_spans(pending_range(lex, acc), canonical)
        else:
            spans = [pending_range(lex, acc)]
        return [(content, low, top) for low, top in spans]
    head, lead = content[:-1], ord(content[-1])
    pair = 0x10000 + ((lead - 0xD800) << 10)  # the first astral character this high surrogate leads
    if lex == 0:  # the pair, or the lone surrogate followed by anything (or nothing)
        return [(head, pair, pair + 0x400), (head, lead, lead + 1)]
    if lex == 1:
        return [(head, pair, pair + 0x400)] + [(content, low, top) for low, top in
                                                _after_backslash(canonical, paired=True)]
    if lex <= 5:
        low, top = pending_range(lex, acc)
        out = []
        a, b = max(low, _LOW_SURROGATES[0]), min(top, _LOW_SURROGATES[1])
        if a < b:
            out.append((head, pair + a - 0xDC00, pair + b - 0xDC00))
        for span in ((low, min(top, _LOW_SURROGATES[0])), (max(low, _LOW_SURROGATES[1]), top)):
            if span[0] < span[1]:
                out += [(content, x, y) for x, y in escape_spans(span, canonical)]
        return out
    low, top = pending_range(lex, acc)  # raw UTF-8 after a lone high surrogate
    return [(content, low, top)]


def continues_with(names: Sequence[str], prefix: str, low: int, high: int, lo: int = 0,
                   hi: int | None = None, excluded: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether one of the sorted `names[lo:hi]`, other than those `excluded`, is `prefix`
    followed by a character in [low, high) (and possibly more)."""
    if hi is None:
        hi = len(names)
    high = min(high, _MAX_CODE)
    if low >= high:
        return False
    at = len(prefix)
    index = bisect.bisect_left(names, prefix + chr(low), lo, hi)
    while index < hi:
        name = names[index]
        if not name.startswith(prefix) or ord(name[at]) >= high:
            return False
        if name not in excluded:
            return True
        index += 1
    return False
