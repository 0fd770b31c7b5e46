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
import re
from typing import Any, Callable

from constraints.json import json_numbers as numbers
from constraints.json.json_schema_compile import CompiledSchema, valid
from constraints.json.json_strings import (CLOSE, append, continuations, continues_with, needless_escape,
                                         pending_range, string_byte)

ROOT, OBJ, ARR, STR, KEY, NUM, LIT = range(7)
_PLAIN_INTEGER = re.compile(r"-?[0-9]+")
O_FIRST, O_COLON, O_COLON_SP, O_VALUE, O_AFTER, O_COMMA_SP, O_KEY = range(7)
A_FIRST, A_AFTER, A_COMMA_SP, A_VALUE = range(4)
R_VALUE, R_DONE = range(2)

_WS = frozenset(b" \t\n\r")
_EMPTY: frozenset[str] = frozenset()


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
        if result is CLOSE:
            seen = obj[3]
            if content in seen:
                return []
            child = spec.child(content)
            if child is None:
                return []
            return [((OBJ, O_COLON, spec, seen | {content}, child, obj[5]), owner[1])]
        lex, acc, code, escaped = result
        if self.canonical_escapes and needless_escape(lex, code, escaped, pending_range(lex, acc) if code < 0 else None):
            return []
        if code >= 0:
            content, high = append(content, high, code, escaped)
            if not high and not spec.key_prefix_ok(content, obj[3]):
                return []
        if (high or code < 0) and spec.closed:
            options = continuations(content, high, lex, acc, self.canonical_escapes)
            if not any(spec.key_prefix_range_ok(prefix, low, top, obj[3]) for prefix, low, top in options):
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
        if result is CLOSE:
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
                content, high = append(content, high, code, escaped)
                if not high and not _string_prefix_ok(spec, content, lo, hi):
                    return []
                if spec.enum is not None and not high:
                    lo, hi = _narrow(spec.enum, content, lo, hi)
            else:
                high = escaped and 0xD800 <= code <= 0xDBFF
        elif not high and spec.max_length is not None and length >= spec.max_length:
            return []  # the pending character will be one too many
        if spec.enum is not None and (high or code < 0):
            options = continuations(content, high, lex, acc, self.canonical_escapes)
            if not any(continues_with(spec.enum, prefix, low, top, lo, hi) for prefix, low, top in options):
                return []
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
        if not spec.checks and spec.candidates is None and spec.bounds.is_unbounded() \
                and len(text) < 4000 and _PLAIN_INTEGER.fullmatch(text):
            return True  # digits alone: an integer for every schema without bounds, values or checks (most masks)
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
