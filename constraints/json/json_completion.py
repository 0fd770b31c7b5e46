"""Shortest completions of the streaming JSON Schema validator's states.

A state is a set of threads; a thread is a stack of frames. Its shortest completion is the
shortest way to finish the top frame (the rest of a string, number, literal or key, or of a
container whose next token is pending) followed by the shortest closing of every container
below it: the required keys not yet written with their shortest values, `minItems` items,
then the bracket. A value's shortest instance is computed per node set, the minimum over its
alternatives: `{}` plus required keys, `[]` plus `minItems` items, `""` plus `minLength`
characters (the shortest enum member, or the shortest text of the format's pattern, when
given), the shortest number within the bounds, `true`, `false`, `null`. The state's answer is
the minimum over its threads.

Exact for what the stream itself checks byte by byte (types, properties, required,
additionalProperties, items, min/maxItems, min/maxLength, enum/const, number bounds and
formats by their prefix patterns), with the spelling `json.dumps` would use. What only the
final `jsonschema` check decides (uniqueItems, dependencies between values, `not`, residual
keywords, a pattern's exact language, a format's calendar) is left out: the length is then a
lower bound.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from constraints.json import json_numbers as numbers
from constraints.json.json_formats import PREFIX_PATTERNS
from constraints.json.json_keys import KeySearch
from constraints.json.json_strings import append, string_byte
from constraints.regular.regex import compile_regex
from constraints.json.json_stream import (A_AFTER, A_COMMA_SP, A_FIRST, A_VALUE, ARR, KEY, LIT, NUM, O_AFTER, O_COLON,
                                          O_COLON_SP, O_COMMA_SP, O_FIRST, O_KEY, O_VALUE, OBJ, R_DONE, R_VALUE, ROOT,
                                          STR)

_KINDS = ("null", "boolean", "number", "string", "array", "object")
_UTF8_MISSING = {10: 1, 11: 2, 12: 2, 13: 2, 14: 3, 15: 3, 16: 3}
# The first continuation byte after a lead whose next byte has a narrow range (E0, ED, F0, F4).
_UTF8_FIRST = {12: 0xA0, 13: 0x80, 15: 0x90, 16: 0x80}
_CACHE_LIMIT = 65_536
# Printable ASCII but '"' and '\\' (and DEL): one character each inside a JSON string, nothing to check.
PLAIN_STRING_BYTES = frozenset(range(0x20, 0x80)) - {0x22, 0x5C}


class _InProgress(Exception):
    """A value's shortest instance was asked for while it was being computed (a recursive schema)."""


class JsonCompletions:
    """Shortest completions for one `JsonMachine` (see the module docstring)."""

    def __init__(self, machine: Any):
        self.machine = machine
        self.compiled = machine.compiled
        self.comma = b", " if machine.spaced else b","
        self.colon = b": " if machine.spaced else b":"
        self._values: dict[int, bytes | None] = {}
        self._busy: set[int] = set()
        self._cuts = 0
        self._rests: dict[Any, bytes | None] = {}
        self._threads: dict[Any, bytes | None] = {}
        self._numbers: dict[int, bytes | None] = {}
        self._extras: dict[Any, tuple[str, ...] | None] = {}
        self._spec_names: dict[Any, frozenset[str]] = {}
        self._searches: dict[Any, KeySearch] = {}

    # -- states ----------------------------------------------------------------------------------
    def shortest(self, threads: tuple) -> bytes | None:
        """The shortest completion over all threads (None if none completes)."""
        best = None
        for thread in threads:
            text = self._thread(thread)
            if text is not None and (best is None or len(text) < len(best)):
                best = text
        return best

    def neutral(self, threads: tuple) -> frozenset | None:
        """PLAIN_STRING_BYTES when every thread is inside a string whose content nothing checks (no enum,
        pattern, format, maxLength; minLength reached) and no escape or UTF-8 sequence is pending: such bytes
        only lengthen the string, so they keep it viable and its shortest completion unchanged."""
        for top, _ in threads:
            if top[0] != STR:
                return None
            _, spec, lex, _, length, content, _, _, high = top
            if lex or high or spec.needs_content or spec.max_length is not None or length < spec.min_length:
                return None
        return PLAIN_STRING_BYTES

    def _thread(self, thread: tuple) -> bytes | None:
        known = self._threads.get(thread, False)
        if known is not False:
            return known
        top, rest = thread
        if top[0] == KEY:  # a key's owner object is finished by the key's own completion
            text = self._key(top, rest[0])
            below = rest[1]
        else:
            text = self._top(top)
            below = rest
        tail = self._rest(below) if text is not None else None
        result = None if tail is None else text + tail
        _remember(self._threads, thread, result)
        return result

    def _rest(self, stack: Any) -> bytes | None:
        """The shortest closing of the containers in `stack` (continuation frames, as the stream keeps them)."""
        if stack is None:
            return b""
        known = self._rests.get(stack, False)
        if known is not False:
            return known
        parts = []
        node = stack
        result: bytes | None = b""
        while node is not None:
            text = self._continuation(node[0])
            if text is None:
                result = None
                break
            parts.append(text)
            node = node[1]
        if result is not None:
            result = b"".join(parts)
        _remember(self._rests, stack, result)
        return result

    def _continuation(self, frame: tuple) -> bytes | None:
        tag = frame[0]
        if tag == ROOT:
            return b""
        if tag == OBJ:
            return self._close_object(frame[2], frame[3], first=False)
        if tag == ARR:
            return self._close_array(frame[2], frame[3], first=False)
        return self._top(frame)

    def _top(self, frame: tuple) -> bytes | None:
        tag = frame[0]
        if tag == ROOT:
            return self.value(frame[2]) if frame[1] == R_VALUE else b""
        if tag == STR:
            return self._string_rest(frame)
        if tag == NUM:
            return self._number_rest(frame)
        if tag == LIT:
            _, spec, literal, index = frame
            return literal[index:]
        if tag == OBJ:
            _, phase, spec, seen, child, _ = frame
            if phase in (O_FIRST, O_AFTER):
                return self._close_object(spec, seen, first=phase == O_FIRST)
            if phase in (O_KEY, O_COMMA_SP):
                text = self._forced_key(spec, seen, "")
                prefix = b" " if phase == O_COMMA_SP else b""
                return None if text is None else prefix + b'"' + text
            value = self.value(child)
            close = self._close_object(spec, seen, first=False)
            if value is None or close is None:
                return None
            lead = {O_COLON: self.colon, O_COLON_SP: b" ", O_VALUE: b""}[phase]
            return lead + value + close
        if tag == ARR:
            _, phase, spec, index, _ = frame
            if phase in (A_FIRST, A_AFTER):
                return self._close_array(spec, index, first=phase == A_FIRST)
            child = spec.child(index)
            value = self.value(child) if child is not None else None
            close = self._close_array(spec, index + 1, first=False)
            if value is None or close is None:
                return None
            return (b" " if phase == A_COMMA_SP else b"") + value + close
        raise ValueError(f"unknown JSON frame {frame[:2]!r}")

    # -- containers ------------------------------------------------------------------------------
    def _entry(self, spec: Any, key: str, first: bool) -> bytes | None:
        """`"key": <shortest value>` (after a comma unless first), or None if the key is not allowed."""
        child = spec.child(key)
        value = self.value(child) if child is not None else None
        if value is None:
            return None
        return (b"" if first else self.comma) + _dumps(key) + self.colon + value

    def _close_object(self, spec: Any, seen: frozenset, first: bool) -> bytes | None:
        """The required (and dependent-required) keys not written yet, extra keys for minProperties, then '}'."""
        missing = set(spec.required) - seen
        grow = True
        while grow:
            grow = False
            for key, deps in spec.dependent_required:
                if key in seen or key in missing:
                    for dep in deps:
                        if dep not in seen and dep not in missing:
                            missing.add(dep)
                            grow = True
        extra = spec.min_properties - len(seen) - len(missing)
        if spec.max_properties is not None and len(seen) + len(missing) + max(extra, 0) > spec.max_properties:
            return None
        parts = []
        for key in sorted(missing):
            entry = self._entry(spec, key, first and not parts)
            if entry is None:
                return None
            parts.append(entry)
        if extra > 0:
            keys = self._extra_keys(spec, frozenset(seen | missing), extra)
            if keys is None:
                return None
            for key in keys:
                parts.append(self._entry(spec, key, first and not parts))
        return b"".join(parts) + b"}"

    def _extra_keys(self, spec: Any, taken: frozenset, extra: int) -> tuple[str, ...] | None:
        """The `extra` keys outside `taken` whose entries (key and shortest value) are the shortest."""
        cache_key = (spec, taken, extra)
        known = self._extras.get(cache_key, False)
        if known is not False:
            return known
        options = []
        for key in self._named_keys(spec, ""):
            if key not in taken and (entry := self._entry(spec, key, False)) is not None:
                options.append((len(entry), key))
        floor = len(self.comma) + 2 + len(self.colon) + 1  # the entry of "" with a one-byte value
        for cost, key in self._key_search(spec).keys("", self._names(spec) | taken, extra):
            options.sort()
            if len(options) >= extra and options[extra - 1][0] <= floor + cost:
                break  # no key this costly or costlier makes a shorter entry
            entry = self._entry(spec, key, False)
            if entry is not None:
                options.append((len(entry), key))
        options.sort()
        result = tuple(key for _, key in options[:extra]) if len(options) >= extra else None
        _remember(self._extras, cache_key, result)
        return result

    def _names(self, spec: Any) -> frozenset[str]:
        """The keys an object alternative names: properties, required and dependent-required keys."""
        known = self._spec_names.get(spec)
        if known is None:
            names = {name for leaf in spec.leaves for name in leaf.properties} | set(spec.required)
            for key, deps in spec.dependent_required:
                names.add(key)
                names.update(deps)
            known = frozenset(names)
            _remember(self._spec_names, spec, known)
        return known

    def _named_keys(self, spec: Any, prefix: str) -> list[str]:
        return sorted(name for name in self._names(spec) if name.startswith(prefix))

    def _key_search(self, spec: Any) -> KeySearch:
        known = self._searches.get(spec)
        if known is None:
            known = KeySearch(spec)
            _remember(self._searches, spec, known)
        return known

    def _forced_key(self, spec: Any, seen: frozenset, prefix: str, partial: bytes = b"") -> bytes | None:
        """The rest of a key that starts with `prefix` then the bytes `partial` of an unfinished character
        (after its opening quote), its value and the object's closing: the cheapest over the keys the
        object allows (named ones, and the cheapest others per class of keys the object cannot tell
        apart: json_keys.py)."""
        best = None
        written = len(_dumps(prefix)) - 1 + len(partial)  # the key's bytes so far, its opening quote included

        def consider(key: str) -> None:
            nonlocal best
            child = spec.child(key)
            if child is None:
                return
            value = self.value(child)
            close = self._close_object(spec, seen | {key}, first=False)
            if value is None or close is None:
                return
            text = _dumps(key)[written:] + self.colon + value + close
            if best is None or len(text) < len(best):
                best = text

        for key in self._named_keys(spec, prefix):
            if key not in seen and _dumps(key)[1:].startswith(_dumps(prefix)[1:-1] + partial):
                consider(key)
        floor = 1 + len(self.colon) + 2  # closing quote, colon, a one-byte value, '}'
        for cost, key in self._key_search(spec).keys(prefix, self._names(spec) | seen, 1, partial):
            if best is not None and cost + floor >= len(best):
                break
            consider(key)
        return best

    def _close_array(self, spec: Any, index: int, first: bool) -> bytes | None:
        parts = []
        for i in range(index, max(index, spec.min_items)):
            child = spec.child(i)
            value = self.value(child) if child is not None else None
            if value is None:
                return None
            parts.append((b"" if first and i == index else self.comma) + value)
        return b"".join(parts) + b"]"

    # -- values ----------------------------------------------------------------------------------
    def value(self, nodeset: int) -> bytes | None:
        """The shortest instance of the node set (None if it has none)."""
        known = self._values.get(nodeset, False)
        if known is not False:
            return known
        if nodeset in self._busy:
            raise _InProgress(nodeset)
        self._busy.add(nodeset)
        cuts = self._cuts
        best = None
        try:
            for kind in _KINDS:
                for spec in self.compiled.specs_for(nodeset, kind):
                    try:
                        text = self._instance(kind, spec)
                    except _InProgress:
                        self._cuts += 1  # a shortest instance never contains an instance of itself
                        continue
                    if text is not None and (best is None or len(text) < len(best)):
                        best = text
        finally:
            self._busy.discard(nodeset)
        # A value computed while an enclosing one was cut off may be too long: kept only when exact.
        if self._cuts == cuts or not self._busy:
            self._values[nodeset] = best
        return best

    def _instance(self, kind: str, spec: Any) -> bytes | None:
        if kind in ("null", "boolean"):
            options = sorted(spec.literals, key=lambda x: (len(x), x))
            for literal in options:
                value = {b"true": True, b"false": False, b"null": None}[literal]
                if all(_valid(check, value) for check in spec.checks):
                    return literal
            return options[0] if options else None
        if kind == "number":
            return self._number(spec)
        if kind == "string":
            return b'"' + self._string_content(spec) + b'"'
        if kind == "array":
            close = self._close_array(spec, 0, first=True)
            return None if close is None else b"[" + close
        close = self._close_object(spec, frozenset(), first=True)
        return None if close is None else b"{" + close

    # -- strings ---------------------------------------------------------------------------------

    def _string_content(self, spec: Any, content: str = "", chars: int = 0) -> bytes:
        """The shortest rest of a string's content (escaped bytes, no closing quote) after `content`
        (`chars` characters read): an enum member, a format's shortest text, then padding to minLength."""
        if spec.enum is not None:
            options = [v for v in spec.enum if v.startswith(content) and _fits_length(spec, len(v))]
            good = [v for v in options if spec.close_ok(v)]
            pick = min(good or options or [content], key=lambda v: (len(_dumps(v)), v))
            return _dumps(pick)[1:-1][len(_dumps(content)) - 2:]
        rest = ""
        for name in spec.format_names:
            example = FORMAT_EXAMPLES.get(name)
            automaton = _format_automaton(name)
            state = automaton.advance(automaton.start, content.encode()) if automaton is not None else None
            suffix = automaton.shortest_suffix(state).decode("utf-8", errors="replace") if state is not None else ""
            if example is not None and example.startswith(content) and (
                    not content or len(example) - len(content) == len(suffix)):
                suffix = example[len(content):]
            if len(suffix) > len(rest):
                rest = suffix
        missing = spec.min_length - chars - len(rest)
        if missing > 0:
            rest += "a" * missing
        if spec.format_names and not spec.close_ok(content + rest):
            # the pattern's first shortest text may miss the calendar (year 0000): a digit changed, same length
            for i, char in enumerate(rest):
                variant = rest[:i] + "1" + rest[i + 1:]
                if char == "0" and spec.close_ok(content + variant):
                    rest = variant
                    break
        return _dumps(rest)[1:-1]

    def _string_rest(self, frame: tuple) -> bytes | None:
        _, spec, lex, acc, length, content, lo, hi, high = frame
        pending = _pending_char(lex, acc)
        if content is None:
            content = ""
        if pending and spec.needs_content:
            # the pending character is part of the content: end it, then go on as if it were read
            return pending + self._string_content(spec, content, length + 1) + b'"'
        if spec.enum is not None:
            members = spec.enum[lo:hi]
            narrowed = _EnumView(members, spec)
            return self._string_content(narrowed, content, length) + b'"'
        return pending + self._string_content(spec, content, length + (1 if pending else 0)) + b'"'

    def _key(self, frame: tuple, owner: tuple) -> bytes | None:
        """The rest of an object key being read, then its value and the object's closing."""
        _, lex, acc, content, high = frame
        partial = _utf8_read(lex, acc)
        if partial is not None:  # inside a UTF-8 sequence: the search goes on from its bytes
            return self._forced_key(owner[2], owner[3], content, partial)
        pending = _pending_char(lex, acc)
        if pending:  # inside an escape: finished as _pending_char does, the key goes on from that character
            for byte in pending:
                lex, acc, code, escaped = string_byte(lex, acc, byte)
            content = append(content, high, code, escaped)[0]
        text = self._forced_key(owner[2], owner[3], content)
        return None if text is None else pending + text

    # -- numbers ---------------------------------------------------------------------------------
    def _extend_number(self, spec: Any, text: str, state: Any, limit: int) -> str | None:
        """The shortest suffix (up to `limit` characters) that makes `text` a valid number for `spec`."""
        lexical = self.machine._lexical(spec)
        alphabet = "0123456789-." + ("e+" if self.machine.exponent and not lexical else "")
        if state is not None and state in numbers.CLOSABLE and self.machine._number_ok((NUM, spec, state, text)):
            return ""
        def search(current: Any, chars: str, size: int) -> str | None:
            """The first suffix of `size` characters in alphabet order (dead prefixes skipped)."""
            if len(chars) == size:
                ok = current in numbers.CLOSABLE and self.machine._number_ok((NUM, spec, current, text + chars))
                return chars if ok else None
            for char in alphabet:
                following = numbers.step(current, ord(char), lexical, self.machine.exponent)
                if following is not None and (found := search(following, chars + char, size)) is not None:
                    return found
            return None

        for size in range(1, limit + 1):
            found = search(state, "", size)
            if found is not None:
                return found
        return None

    def _number(self, spec: Any) -> bytes | None:
        known = self._numbers.get(id(spec), False)
        if known is not False:
            return known
        found = self._extend_number(spec, "", None, 3)
        if found is None:
            for candidate in _number_candidates(spec):
                if self._extend_number(spec, candidate, _number_state(self.machine, spec, candidate), 0) == "":
                    if found is None or len(candidate) < len(found):
                        found = candidate
        result = found.encode() if found is not None else None
        self._numbers[id(spec)] = result
        return result

    def _number_rest(self, frame: tuple) -> bytes | None:
        _, spec, state, text = frame
        found = self._extend_number(spec, text, state, 3)
        return found.encode() if found is not None else b"0"


# Shortest valid values of formats whose prefix pattern's shortest text is not itself valid (year 0000,
# "a" as an IPv6 address) or that have no prefix pattern.
FORMAT_EXAMPLES = {"date": "2000-01-01", "date-time": "2000-01-01T00:00:00Z", "time": "00:00:00Z", "ipv6": "::",
                   "idn-email": "a@a", "idn-hostname": "a", "relative-json-pointer": "0"}


@functools.lru_cache(maxsize=None)
def _format_automaton(name: str) -> Any:
    """The DFA of a format's prefix pattern (None where there is none or our regex syntax lacks a feature)."""
    if name not in PREFIX_PATTERNS:
        return None
    try:
        return compile_regex(PREFIX_PATTERNS[name])
    except ValueError:
        return None


class _EnumView:
    """A string spec whose enum is narrowed to the members still reachable (the frame's [lo, hi))."""

    def __init__(self, members: tuple, spec: Any):
        self.enum, self._spec = members, spec
        self.min_length, self.max_length = spec.min_length, spec.max_length
        self.format_names = ()

    def close_ok(self, content: str) -> bool:
        return self._spec.close_ok(content)


def _fits_length(spec: Any, length: int) -> bool:
    return length >= spec.min_length and (spec.max_length is None or length <= spec.max_length)


def _pending_char(lex: int, acc: int) -> bytes:
    """Bytes that finish a character the string lexer is inside of (b"" if none)."""
    if lex == 0:
        return b""
    if lex == 1:
        return b"n"  # \n
    if 2 <= lex <= 5:
        return b"0" * (6 - lex) if lex > 2 or acc else b"000a"  # \u000a: a control character, escaped
    missing = _UTF8_MISSING.get(lex, 1)
    first = _UTF8_FIRST.get(lex, 0x80)
    return bytes([first] + [0x80] * (missing - 1))


def _utf8_read(lex: int, acc: int) -> bytes | None:
    """The bytes of an unfinished UTF-8 character the string lexer has read (json_strings.string_byte's
    states), None when it is not inside one. The bits read tell the sequence's length: after one byte of
    a 3-byte sequence at most 15 (E1..EF), after two at least 32 (E0 needs A0..BF next); a 4-byte one
    read so far has more."""
    if lex < 10:
        return None
    if lex in (12, 13, 15, 16):  # a lead with a narrower next byte: E0, ED, F0, F4
        return bytes([{12: 0xE0, 13: 0xED, 15: 0xF0, 16: 0xF4}[lex]])
    if lex == 14:
        return bytes([0xF0 | acc])
    if lex == 11:  # two bytes left: after a 3-byte lead, or after a 4-byte lead and one continuation
        return bytes([0xE0 | acc]) if acc < 16 else bytes([0xF0 | acc >> 6, 0x80 | acc & 0x3F])
    if acc < 32:  # one byte left: a 2-byte sequence ...
        return bytes([0xC0 | acc])
    if acc < 1024:  # ... a 3-byte one ...
        return bytes([0xE0 | acc >> 6, 0x80 | acc & 0x3F])
    return bytes([0xF0 | acc >> 12, 0x80 | (acc >> 6) & 0x3F, 0x80 | acc & 0x3F])  # ... or a 4-byte one


def _number_state(machine: Any, spec: Any, text: str) -> Any:
    state = None
    lexical = machine._lexical(spec)
    for char in text:
        state = numbers.step(state, ord(char), lexical, machine.exponent)
        if state is None:
            return None
    return state


def _number_candidates(spec: Any) -> list[str]:
    """Spellings worth trying when no number of three characters fits: the bounds and enum values."""
    out = []
    values = list(spec.candidates.values) if spec.candidates is not None else []
    bounds = spec.bounds
    for end in (bounds.lo, bounds.hi):
        if end is not None:
            values += [end, end + 1, end - 1]
            floor = end.numerator // end.denominator
            values += [floor, floor + 1, floor - 1]
    for value in values:
        if value.denominator == 1:
            out.append(str(value.numerator))
        else:
            out.append(format(numbers.Decimal(value.numerator) / numbers.Decimal(value.denominator), "f"))
    return sorted(set(out), key=lambda text: (len(text), text))


def _dumps(value: str) -> bytes:
    """JSON text as json.dumps writes it (ensure_ascii=False); a lone surrogate as its \\u escape."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


def _valid(check: Any, value: Any) -> bool:
    from constraints.json.json_schema_compile import valid
    return valid(check, value)


def _remember(table: dict, key: Any, value: Any) -> None:
    if len(table) >= _CACHE_LIMIT:
        table.clear()
    table[key] = value
