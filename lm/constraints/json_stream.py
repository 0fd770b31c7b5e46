"""A streaming, schema-aware JSON recognizer over bytes.

The recognizer's configuration is a set of *threads*, one per live reading of the input
(anyOf/oneOf alternatives run side by side). A thread is an immutable stack of frames,
linked as (top frame, rest of stack) pairs, so pushing and popping share structure and
threads are hashable. Frames are plain tuples:

    (ROOT, phase, nodeset)
    (OBJ, phase, spec, seen_keys, child_nodeset, start)
    (ARR, phase, spec, next_index, start)
    (STR, spec, lex, acc, length, content, enum_lo, enum_hi, high)
    (KEY, lex, acc, content, high)
    (NUM, spec, lexical_state, text)
    (LIT, spec, literal, index)

`spec` is what one alternative of the compiled schema asks of the value (an ObjectSpec,
StringSpec, ... from json_schema_compile, hashed by identity); `start` is the byte
offset where a container began, kept (else -1) only when its value must be checked as a
whole when it closes. Whitespace: "compact" is exactly Python's json.dumps separators
(", " and ": ") and nothing else; "minified" is "," and ":"; "any" allows JSON whitespace
(space, tab, LF, CR) wherever the JSON grammar does, including around the document.
With `exponent=False` numbers are written without an exponent, and integers without a
fraction ("plain" numbers).
"""
from __future__ import annotations

import bisect
import json
from typing import Any, Callable

from lm.constraints import json_numbers as numbers
from lm.constraints.json_schema_compile import CompiledSchema, valid

ROOT, OBJ, ARR, STR, KEY, NUM, LIT = range(7)
O_FIRST, O_COLON, O_COLON_SP, O_VALUE, O_AFTER, O_COMMA_SP, O_KEY = range(7)
A_FIRST, A_AFTER, A_COMMA_SP, A_VALUE = range(4)
R_VALUE, R_DONE = range(2)

_WS = frozenset(b" \t\n\r")
_EMPTY: frozenset[str] = frozenset()
_CLOSE = "close"
_ESCAPES = {0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A,
            0x72: 0x0D, 0x74: 0x09}
_HEX = {b: int(chr(b), 16) for b in b"0123456789abcdefABCDEF"}
# string lexer states: 0 plain, 1 after backslash, 2..5 inside \uXXXX (digits read + 2),
# 10.. inside a UTF-8 sequence: 10 one continuation byte left, 11 two left, 14 three left;
# 12/13 and 15/16 are the lead bytes whose first continuation has a narrower range.
_CONTINUATION = {10: (0x80, 0xBF, -1), 11: (0x80, 0xBF, 10), 12: (0xA0, 0xBF, 10),
                 13: (0x80, 0x9F, 10), 14: (0x80, 0xBF, 11), 15: (0x90, 0xBF, 11),
                 16: (0x80, 0x8F, 11)}


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
    """One byte inside a JSON string: None (invalid), _CLOSE, or (lex, acc, codepoint, escaped)
    where codepoint is -1 while a character is incomplete."""
    if lex == 0:
        if b == 0x22:
            return _CLOSE
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
        code = _ESCAPES.get(b)
        return None if code is None else (0, 0, code, False)
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


_MISSING_UTF8 = {10: 1, 11: 2, 14: 3}
_AFTER_NARROW_LEAD = {12: (0x800, 0x1000), 13: (0xD000, 0xD800), 15: (0x10000, 0x40000), 16: (0x100000, 0x110000)}


def pending_range(lex: int, acc: int) -> tuple[int, int] | None:
    """Code points [low, high) an incomplete character can still become, or None if unknown.

    A UTF-8 sequence with k continuation bytes missing spans [acc << 6k, (acc + 1) << 6k); a \\u
    escape with m hex digits missing spans the escape values [acc 16^m, (acc + 1) 16^m) (see
    escape_spans for the characters those become); a bare backslash is left unchecked.
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
    """A \\u escape of a printable ASCII character other than '"' and '\\', which json.dumps never writes.

    Checked on the complete escape (`code`) and early on the range an incomplete one can still
    become (`span`), so generation cannot wander into spelling keys as "\\u0070\\u0061...".
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
        allowed = [(0, 0x20), (0x22, 0x23), (0x5C, 0x5D), (0x7F, 0x110000)]
        cuts = [(max(a, c), min(b, d)) for a, b in cuts for c, d in allowed]
    return [(a, b) for a, b in cuts if a < b]


class Document:
    """Byte access to the text read so far plus the chunk being read (for whole-value checks)."""

    def __init__(self, tail: Callable[[int], bytes], chunk: bytes, base: int):
        self._tail, self._chunk, self._base = tail, chunk, base

    def slice(self, start: int, end: int) -> bytes:
        if start >= self._base:
            return self._chunk[start - self._base:end - self._base]
        return self._tail(start) + self._chunk[:end - self._base]


class JsonMachine:
    """Advances thread sets byte by byte for one compiled schema and whitespace mode."""

    def __init__(self, compiled: CompiledSchema, whitespace: str, exponent: bool = True):
        self.compiled = compiled
        self.any_ws = whitespace == "any"
        self.spaced = whitespace == "compact"
        self.canonical_escapes = whitespace != "any"  # compact/minified: no needless \\u escapes
        self.exponent = exponent  # False: numbers are written without an exponent

    def _lexical(self, spec: Any) -> bool:
        """Whether a number must be a bare integer (draft-04 integer, or a plain integer)."""
        return spec.integer_lexical or (spec.integer and not self.exponent)

    def start(self) -> tuple:
        if not self.compiled.alternatives(self.compiled.root_nodeset):
            return ()
        return (((ROOT, R_VALUE, self.compiled.root_nodeset), None),)

    def advance(self, threads: tuple, chunk: bytes, base: int, doc: Document) -> tuple:
        """The threads after `chunk` (distinct, in a deterministic order); () if none lives."""
        current = threads
        step = self._step
        pos = base
        for b in chunk:
            if len(current) == 1:
                current = step(current[0], b, pos, doc)
            else:
                following: list = []
                for thread in current:
                    following.extend(step(thread, b, pos, doc))
                current = list(dict.fromkeys(following)) if len(following) > 1 else following
            if not current:
                return ()
            pos += 1
        return tuple(current)

    def can_finish(self, threads: tuple) -> bool:
        """Whether some thread is a complete document if the input ends here."""
        for thread in threads:
            frame = thread[0]
            if frame[0] == ROOT and frame[1] == R_DONE:
                return True
            if frame[0] == NUM and frame[2] in numbers.CLOSABLE and self._number_ok(frame):
                parent = thread[1][0]
                if parent[0] == ROOT and parent[1] == R_DONE:
                    return True
        return False

    # ---- dispatch ------------------------------------------------------------------------

    def _step(self, thread: tuple, b: int, pos: int, doc: Document) -> list:
        frame = thread[0]
        tag = frame[0]
        if tag == STR:
            return self._string(thread, frame, b, pos, doc)
        if tag == KEY:
            return self._key(thread, frame, b)
        if tag == NUM:
            return self._number(thread, frame, b, pos, doc)
        if tag == OBJ:
            return self._object(thread, frame, b, pos, doc)
        if tag == ARR:
            return self._array(thread, frame, b, pos, doc)
        if tag == LIT:
            return self._literal(thread, frame, b)
        if frame[1] == R_VALUE:
            if b in _WS and self.any_ws:
                return [thread]
            return self._start_value(frame[2], ((ROOT, R_DONE, frame[2]), None), b, pos)
        return [thread] if b in _WS and self.any_ws else []

    def _start_value(self, nodeset: int, parent: tuple, b: int, pos: int) -> list:
        specs = self.compiled.specs_for
        out = []
        if b == 0x7B:
            for spec in specs(nodeset, "object"):
                out.append(((OBJ, O_FIRST, spec, _EMPTY, None, pos if spec.residual else -1), parent))
        elif b == 0x5B:
            for spec in specs(nodeset, "array"):
                out.append(((ARR, A_FIRST, spec, 0, pos if spec.residual else -1), parent))
        elif b == 0x22:
            for spec in specs(nodeset, "string"):
                top = len(spec.enum) if spec.enum is not None else 0
                content = "" if spec.needs_content else None
                out.append(((STR, spec, 0, 0, 0, content, 0, top, False), parent))
        elif b == 0x2D or 0x30 <= b <= 0x39:
            text = chr(b)
            for spec in specs(nodeset, "number"):
                lexical = self._lexical(spec)
                state = numbers.step(None, b, lexical, self.exponent)
                if (spec.prunes or not self.exponent) and not numbers.prefix_viable(
                        text, state, spec.bounds, spec.integer, lexical, spec.candidates, self.exponent):
                    continue
                out.append(((NUM, spec, state, text), parent))
        elif b in (0x74, 0x66, 0x6E):
            for spec in specs(nodeset, "null" if b == 0x6E else "boolean"):
                out.extend(((LIT, spec, literal, 1), parent) for literal in spec.literals
                           if literal[0] == b)
        return out

    # ---- containers ------------------------------------------------------------------------

    def _object(self, thread: tuple, frame: tuple, b: int, pos: int, doc: Document) -> list:
        _, phase, spec, seen, child, start = frame
        if b in _WS and self.any_ws and phase not in (O_COLON_SP, O_COMMA_SP):
            return [thread]
        if phase == O_AFTER:
            if b == 0x2C:
                if not spec.can_add_key(seen):
                    return []
                return [((OBJ, O_COMMA_SP if self.spaced else O_KEY, spec, seen, None, start), thread[1])]
            return self._close_object(thread, frame, b, pos, doc)
        if phase == O_VALUE:
            parent = ((OBJ, O_AFTER, spec, seen, None, start), thread[1])
            return self._start_value(child, parent, b, pos)
        if phase == O_COLON:
            if b != 0x3A:
                return []
            return [((OBJ, O_COLON_SP if self.spaced else O_VALUE, spec, seen, child, start), thread[1])]
        if phase == O_COLON_SP:
            return [((OBJ, O_VALUE, spec, seen, child, start), thread[1])] if b == 0x20 else []
        if phase == O_COMMA_SP:
            return [((OBJ, O_KEY, spec, seen, None, start), thread[1])] if b == 0x20 else []
        if b == 0x22:
            if phase == O_FIRST and not spec.can_add_key(seen):
                return []
            return [((KEY, 0, 0, "", False), thread)]
        if phase == O_FIRST:
            return self._close_object(thread, frame, b, pos, doc)
        return []

    def _close_object(self, thread: tuple, frame: tuple, b: int, pos: int, doc: Document) -> list:
        if b != 0x7D:
            return []
        spec = frame[2]
        if not spec.close_ok(frame[3]):
            return []
        if spec.residual and not self._whole_value_ok(spec.residual, doc.slice(frame[5], pos + 1)):
            return []
        return [thread[1]]

    def _key(self, thread: tuple, frame: tuple, b: int) -> list:
        _, lex, acc, content, high = frame
        result = string_byte(lex, acc, b)
        if result is None:
            return []
        owner = thread[1]
        obj = owner[0]
        spec = obj[2]
        if result is _CLOSE:
            seen = obj[3]
            if content in seen:
                return []
            child = spec.child(content)
            if child is None:
                return []
            return [((OBJ, O_COLON, spec, seen | {content}, child, obj[5]), owner[1])]
        lex, acc, code, escaped = result
        span = pending_range(lex, acc) if code < 0 else None
        if self.canonical_escapes and needless_escape(lex, code, escaped, span):
            return []
        if code >= 0:
            content, high = _append(content, high, code, escaped)
            if not high and not spec.key_prefix_ok(content, obj[3]):
                return []
        elif not high and lex == 1:  # after a backslash: a simple escape or any \\u escape may follow
            spans = [(c, c + 1) for c in _ESCAPES.values() if not (self.canonical_escapes and c == 0x2F)]
            spans += escape_spans((0, 0x10000), self.canonical_escapes)
            if not any(spec.key_prefix_range_ok(content, low, high_, obj[3]) for low, high_ in spans):
                return []
        elif not high and span is not None:
            spans = escape_spans(span, self.canonical_escapes) if 2 <= lex <= 5 else [span]
            if not any(spec.key_prefix_range_ok(content, low, high_, obj[3]) for low, high_ in spans):
                return []
        return [((KEY, lex, acc, content, high), owner)]

    def _array(self, thread: tuple, frame: tuple, b: int, pos: int, doc: Document) -> list:
        _, phase, spec, index, start = frame
        if b in _WS and self.any_ws and phase != A_COMMA_SP:
            return [thread]
        if phase == A_AFTER:
            if b == 0x2C:
                if spec.child(index) is None:
                    return []
                return [((ARR, A_COMMA_SP if self.spaced else A_VALUE, spec, index, start), thread[1])]
            return self._close_array(thread, frame, spec, b, pos, doc)
        if phase == A_COMMA_SP:
            return [((ARR, A_VALUE, spec, index, start), thread[1])] if b == 0x20 else []
        if phase == A_FIRST and b == 0x5D:
            return self._close_array(thread, frame, spec, b, pos, doc)
        child = spec.child(index)
        if child is None:
            return []
        return self._start_value(child, ((ARR, A_AFTER, spec, index + 1, start), thread[1]), b, pos)

    def _close_array(self, thread: tuple, frame: tuple, spec: Any, b: int, pos: int, doc: Document) -> list:
        if b != 0x5D or frame[3] < spec.min_items:
            return []
        if spec.residual and not self._whole_value_ok(spec.residual, doc.slice(frame[4], pos + 1)):
            return []
        return [thread[1]]

    @staticmethod
    def _whole_value_ok(validators: tuple, text: bytes) -> bool:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return False
        return all(valid(validator, value) for validator in validators)

    # ---- scalars ---------------------------------------------------------------------------

    def _string(self, thread: tuple, frame: tuple, b: int, pos: int, doc: Document) -> list:
        _, spec, lex, acc, length, content, lo, hi, high = frame
        result = string_byte(lex, acc, b)
        if result is None:
            return []
        if result is _CLOSE:
            if length < spec.min_length:
                return []
            if spec.enum is not None:
                index = bisect.bisect_left(spec.enum, content, lo, hi)
                if index >= hi or spec.enum[index] != content:
                    return []
            if not spec.close_ok(content):
                return []
            return [thread[1]]
        lex, acc, code, escaped = result
        if self.canonical_escapes and needless_escape(lex, code, escaped, pending_range(lex, acc) if code < 0 else None):
            return []
        if code >= 0:
            paired = high and escaped and 0xDC00 <= code <= 0xDFFF
            if not paired:
                length += 1
                if spec.max_length is not None and length > spec.max_length:
                    return []
            if content is not None:
                content, high = _append(content, high, code, escaped)
                if not high and not _string_prefix_ok(spec, content, lo, hi):
                    return []
                if spec.enum is not None and not high:
                    lo, hi = _narrow(spec.enum, content, lo, hi)
            else:
                high = escaped and 0xD800 <= code <= 0xDBFF
        return [((STR, spec, lex, acc, length, content, lo, hi, high), thread[1])]

    def _number(self, thread: tuple, frame: tuple, b: int, pos: int, doc: Document) -> list:
        _, spec, state, text = frame
        lexical = self._lexical(spec)
        following = numbers.step(state, b, lexical, self.exponent)
        if following is None:
            if state not in numbers.CLOSABLE or not self._number_ok(frame):
                return []
            return self._step(thread[1], b, pos, doc)
        text += chr(b)
        if spec.prunes and not numbers.prefix_viable(
                text, following, spec.bounds, spec.integer, lexical, spec.candidates, self.exponent):
            return []
        return [((NUM, spec, following, text), thread[1])]

    @staticmethod
    def _number_ok(frame: tuple) -> bool:
        spec = frame[1]
        text = frame[3]
        if not numbers.value_ok(text, spec.bounds, spec.integer):
            return False
        if spec.candidates is not None and not numbers.value_in(text, spec.candidates):
            return False
        if spec.checks or spec.integer:
            try:
                value = json.loads(text)
            except ValueError:
                return False  # an integer beyond Python's digit limit for int()
            if spec.integer and isinstance(value, float) and not value.is_integer():
                return False  # jsonschema's integer: 1e400 parses to inf, which is not one
            return all(valid(check, value) for check in spec.checks)
        return True

    def _literal(self, thread: tuple, frame: tuple, b: int) -> list:
        _, spec, literal, index = frame
        if literal[index] != b:
            return []
        if index + 1 < len(literal):
            return [((LIT, spec, literal, index + 1), thread[1])]
        if spec.checks:
            value = {b"true": True, b"false": False, b"null": None}[literal]
            if not all(valid(check, value) for check in spec.checks):
                return []
        return [thread[1]]


def _append(content: str, high: bool, code: int, escaped: bool) -> tuple[str, bool]:
    """Append a code point; a \\u low surrogate right after a \\u high one joins it (as json does)."""
    if high and escaped and 0xDC00 <= code <= 0xDFFF:
        joined = 0x10000 + ((ord(content[-1]) - 0xD800) << 10) + (code - 0xDC00)
        return content[:-1] + chr(joined), False
    return content + chr(code), escaped and 0xD800 <= code <= 0xDBFF


def _narrow(candidates: tuple[str, ...], prefix: str, lo: int, hi: int) -> tuple[int, int]:
    lo = bisect.bisect_left(candidates, prefix, lo, hi)
    end = lo
    while end < hi and candidates[end].startswith(prefix):
        end += 1
    return lo, end


def _string_prefix_ok(spec: Any, content: str, lo: int, hi: int) -> bool:
    if spec.enum is not None:
        index = bisect.bisect_left(spec.enum, content, lo, hi)
        if index >= hi or not spec.enum[index].startswith(content):
            return False
    for pattern in spec.patterns:
        if pattern.search(content, partial=True) is None:
            return False
    for pattern in spec.formats:
        if pattern.fullmatch(content, partial=True) is None:
            return False
    return True
