"""JSON Schema as a constraint: a streaming, schema-aware validator over bytes.

`json_schema(schema)` accepts exactly the JSON documents (UTF-8 bytes, in the chosen
whitespace convention) that are valid under `schema`. Prefixes are checked as they
stream in: a prefix is rejected only when no valid document starts with it (sound), and
most dead prefixes are caught at the byte where they die (see docs/json_schema.md for
where the prefix test is looser). Completion is exact: a document is accepted only if the
stream accepts it *and* `jsonschema` (the schema's draft, default 2020-12, with format
assertion for every format listed in docs/json_schema.md) validates it.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from constraints.base import Constraint, ConstraintError
from constraints.json.json_completion import JsonCompletions
from constraints.json.json_schema_compile import CompiledSchema, valid
from constraints.json.json_stream import Document, JsonMachine

WHITESPACE_MODES = ("compact", "minified", "any")
NUMBER_MODES = ("plain", "json")
_ACCEPT_CACHE = 4096
_STEP_CACHE = 16384


class _Text:
    """The bytes read so far as a persistent list of chunks: O(1) to extend, hash cached."""

    __slots__ = ("prev", "chunk", "length", "_hash")

    def __init__(self, prev: "_Text | None", chunk: bytes):
        self.prev, self.chunk = prev, chunk
        self.length = (prev.length if prev is not None else 0) + len(chunk)
        self._hash = hash((prev._hash if prev is not None else 0, chunk))

    def extend(self, chunk: bytes) -> "_Text":
        return _Text(self, chunk)

    def tail(self, start: int) -> bytes:
        """The bytes from offset `start` to the end."""
        parts, node = [], self
        while node is not None and node.length > start:
            parts.append(node.chunk)
            node = node.prev
        joined = b"".join(reversed(parts))
        first = node.length if node is not None else 0
        return joined[start - first:]

    def bytes(self) -> bytes:
        return self.tail(0)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, _Text) or self.length != other.length or self._hash != other._hash:
            return False
        return self.bytes() == other.bytes()


class JsonSchemaState:
    """Immutable: the live parser threads and the text read so far."""

    __slots__ = ("threads", "text", "_hash")

    def __init__(self, threads: tuple, text: _Text):
        self.threads, self.text = threads, text
        self._hash = None

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.threads, self.text))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, JsonSchemaState) and hash(self) == hash(other)
                and self.threads == other.threads and self.text == other.text)

    def __repr__(self) -> str:
        return f"JsonSchemaState({len(self.threads)} threads, {self.text.length} bytes)"


class JsonSchemaConstraint(Constraint):
    """JSON documents valid under a JSON Schema, written in one whitespace convention."""

    def __init__(self, schema: Any, *, whitespace: str = "compact", numbers: str | None = None,
                 relax: bool = False, allow_extra_keys: bool = True):
        if whitespace not in WHITESPACE_MODES:
            raise ConstraintError(f"whitespace must be one of {WHITESPACE_MODES}, not {whitespace!r}")
        if numbers is None:
            numbers = "json" if whitespace == "any" else "plain"
        if numbers not in NUMBER_MODES:
            raise ConstraintError(f"numbers must be one of {NUMBER_MODES}, not {numbers!r}")
        if isinstance(schema, (str, bytes)):
            try:
                schema = json.loads(schema)
            except ValueError as err:
                raise ConstraintError(f"the schema text is not JSON: {err}") from None
        self.schema = schema
        self.whitespace = whitespace
        self.numbers = numbers
        self.allow_extra_keys = allow_extra_keys
        self._compiled = CompiledSchema(schema, relax=relax, allow_extra_keys=allow_extra_keys)
        self._machine = JsonMachine(self._compiled, whitespace, exponent=numbers == "json")
        self._start = JsonSchemaState(self._machine.start(), _Text(None, b""))
        if not self._start.threads:
            raise ConstraintError("the schema accepts no JSON value (keyword 'false' at '/')")
        self._completions = JsonCompletions(self._machine)
        if self._completions.shortest(self._start.threads) is None:
            raise ConstraintError("the schema accepts no JSON value: no value satisfies all of its keywords "
                                  f"together (keyword '{_root_keyword(schema)}' at '/')")
        self._accepting: OrderedDict[JsonSchemaState, bool] = OrderedDict()
        self._steps: dict[tuple[JsonSchemaState, bytes], JsonSchemaState | None] = {}

    @property
    def draft(self) -> int:
        """The draft the schema is read under (4, 6, 7, 2019 or 2020)."""
        return self._compiled.draft

    @property
    def unsupported(self) -> tuple[str, ...]:
        """Keywords that relax=True let through unstreamed ('keyword at /pointer')."""
        return tuple(self._compiled.unsupported)

    @property
    def annotation_formats(self) -> frozenset[str]:
        """`format` values outside the specification, treated as annotations (not checked)."""
        return frozenset(self._compiled.annotation_formats)

    def start(self) -> JsonSchemaState:
        return self._start

    def advance(self, state: JsonSchemaState, chunk: bytes) -> JsonSchemaState | None:
        if not state.threads:
            return None
        if not chunk:
            return state
        key = (state, chunk)
        if key in self._steps:  # particles that share a state try the same tokens
            return self._steps[key]
        text = state.text
        threads = self._machine.advance(state.threads, chunk, text.length,
                                        Document(text.tail, chunk, text.length))
        result = JsonSchemaState(threads, text.extend(chunk)) if threads else None
        if len(self._steps) >= _STEP_CACHE:
            self._steps.clear()
        self._steps[key] = result
        return result

    def is_accepting(self, state: JsonSchemaState) -> bool:
        if not self._machine.can_finish(state.threads):
            return False
        cached = self._accepting.get(state)
        if cached is None:
            cached = self._validate(state.text.bytes())
            self._accepting[state] = cached
            if len(self._accepting) > _ACCEPT_CACHE:
                self._accepting.popitem(last=False)
        return cached

    def shortest_completion(self, state: JsonSchemaState) -> bytes | None:
        """The shortest closing of the open values (json_completion.py: exact for what the stream checks,
        a lower bound where only the final jsonschema check decides)."""
        if self.is_accepting(state):
            return b""
        return self._completions.shortest(state.threads)

    def neutral_bytes(self, state: JsonSchemaState) -> frozenset | None:
        """Plain characters inside a string nothing checks (json_completion.JsonCompletions.neutral)."""
        return self._completions.neutral(state.threads)

    def _validate(self, text: bytes) -> bool:
        """The final, exact check of a syntactically complete document."""
        try:
            value = json.loads(text.decode("utf-8"))
        except (ValueError, RecursionError):
            return False  # integers beyond int()'s digit limit, absurd nesting depth
        return valid(self._compiled.validator, value)

    def dumps(self, value: Any) -> bytes:
        """`value` written in this constraint's convention (e.g. for few-shot prompts):
        compact/minified separators, or `indent=2` for "any"; plain numbers if chosen."""
        if self.whitespace == "any":
            return json.dumps(value, indent=2, ensure_ascii=False).encode()
        separators = (", ", ": ") if self.whitespace == "compact" else (",", ":")
        if self.numbers == "json":
            return json.dumps(value, separators=separators, ensure_ascii=False).encode()
        return _plain_dumps(value, separators).encode()

    def __repr__(self) -> str:
        extra = "" if self.allow_extra_keys else ", allow_extra_keys=False"
        return f"json_schema(<draft {self.draft}>, whitespace={self.whitespace!r}, numbers={self.numbers!r}{extra})"


def _root_keyword(schema: Any) -> str:
    """The root keyword to name when no value satisfies the schema: an applicator if there is one."""
    if not isinstance(schema, dict) or not schema:
        return "false" if schema is False else "type"
    return next((k for k in ("allOf", "anyOf", "oneOf", "$ref") if k in schema), next(iter(schema)))


def _plain_dumps(value: Any, separators: tuple[str, str]) -> str:
    """JSON text with every float written without an exponent (1e-07 -> 0.0000001)."""
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, list):
        return "[" + separators[0].join(_plain_dumps(item, separators) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + separators[0].join(
            json.dumps(key, ensure_ascii=False) + separators[1] + _plain_dumps(item, separators)
            for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def json_schema(schema: Any, *, whitespace: str = "compact", numbers: str | None = None,
                relax: bool = False, allow_extra_keys: bool = True) -> JsonSchemaConstraint:
    """The constraint "a JSON document valid under `schema`" (a dict, bool or JSON text).

    whitespace: "compact" (default; exactly `json.dumps` separators ", " and ": ", no other
    whitespace: what generation should produce), "minified" ("," and ":", no whitespace),
    or "any" (JSON whitespace wherever the grammar allows it, for checking documents).
    numbers: "plain" (no exponent, and integers without a fraction: every value still has a
    spelling, and a number that can only miss its bounds dies at its first digit) or "json"
    (any JSON number spelling: `5`, `5.0`, `50e-1`). Default: "plain" for "compact" and
    "minified" (generation), "json" for "any" (checking documents).
    relax: accept keywords that can't be streamed ($dynamicRef, $recursiveRef, unchecked
    spec formats) and schemas that fail their metaschema; they are then enforced only by
    the final `jsonschema` check. Without it such schemas raise ConstraintError naming
    the keyword and its JSON pointer.
    allow_extra_keys=False: an object schema that lists properties (or patternProperties) but
    states neither additionalProperties nor unevaluatedProperties takes no other key, as if it
    said `additionalProperties: false` (what `lm.generate(json_schema=...)` uses by default,
    as Outlines and XGrammar do); True (here the default) follows the specification.
    """
    return JsonSchemaConstraint(schema, whitespace=whitespace, numbers=numbers, relax=relax,
                                allow_extra_keys=allow_extra_keys)
