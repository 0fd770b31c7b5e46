"""JSON Schema -> a graph of nodes that a streaming validator can walk.

A schema object becomes a *node*: a *leaf* (the keywords that constrain one value in
place: type, bounds, properties, items, ...) plus *applicators* (allOf and $ref as
conjuncts, anyOf/oneOf as disjunctions). Expanding applicators turns a set of nodes into
*alternatives* in disjunctive normal form, each a set of leaves that must all hold; the
streaming validator runs alternatives in parallel and drops the dead ones.

Keywords are classified per draft (the validator class `jsonschema` picks for the
schema's `$schema`):
- streamed: checked byte by byte, so dead prefixes are rejected early;
- checked at value close ("residual"): `not`, `if`/`then`/`else`, `oneOf` exclusivity,
  `uniqueItems`, `contains`, `dependentSchemas`, `unevaluated*`, enum/const with
  container values. The value is validated against the whole schema object with
  `jsonschema` when it closes: exact, but a prefix can be viable without any valid
  completion;
- unsupported: `$dynamicRef`, `$recursiveRef`, draft-03, formats the specification defines
  but nothing here checks. ConstraintError unless `relax=True`, which treats them as
  `true` while streaming (the final `jsonschema` check still enforces them).
"""
from __future__ import annotations

import bisect
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
import regex
from jsonschema.validators import validator_for

from constraints.base import ConstraintError
from constraints.json.json_formats import PREFIX_PATTERNS, SPEC_FORMATS, format_checker, is_checked
from constraints.json.json_numbers import Bounds, Candidates, exact
from constraints.json.json_patterns import prefix_pattern
from constraints.json.json_strings import continues_with

TRUE, FALSE = 0, 1
KINDS = ("object", "array", "string", "number", "boolean", "null")
MAX_ALTERNATIVES = 4096
MAX_NUMBER_CANDIDATES = 64
_MAX_CACHED_KEYS = 4096

_DRAFTS = {
    jsonschema.Draft3Validator: 3, jsonschema.Draft4Validator: 4, jsonschema.Draft6Validator: 6,
    jsonschema.Draft7Validator: 7, jsonschema.Draft201909Validator: 2019,
    jsonschema.Draft202012Validator: 2020,
}
_SCALAR_KEYWORDS = frozenset({
    "type", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
})
_RESIDUAL_KEYWORDS = frozenset({
    "not", "if", "oneOf", "uniqueItems", "contains", "minContains", "maxContains",
    "dependentSchemas", "unevaluatedProperties", "unevaluatedItems",
})
_UNSUPPORTED_KEYWORDS = frozenset({"$dynamicRef", "$recursiveRef"})


def pointer_join(pointer: str, *parts: object) -> str:
    """A JSON pointer extended by reference tokens (escaped per RFC 6901)."""
    for part in parts:
        pointer += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return pointer


def _error(pointer: str, keyword: str, message: str) -> ConstraintError:
    return ConstraintError(f"{message} (keyword '{keyword}' at '{pointer or '/'}')")


def canonical(value: Any) -> Any:
    """A hashable key under which JSON values are equal exactly when JSON Schema says so."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", exact(value) if value == value and abs(value) != float("inf") else value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("list", tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("dict", frozenset((key, canonical(item)) for key, item in value.items()))
    raise TypeError(f"not a JSON value: {value!r}")


def valid(validator: Any, value: Any) -> bool:
    """`validator.is_valid(value)`, False where jsonschema itself fails on the value
    (float overflow in multipleOf, recursion depth)."""
    try:
        return validator.is_valid(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return False


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@dataclass(frozen=True, eq=False)
class Dialect:
    """A draft as `jsonschema` implements it: its validator class and keyword vocabulary."""
    cls: Any
    draft: int
    vocabulary: frozenset[str]
    specification: Any

    @classmethod
    def of(cls, validator_class: Any) -> "Dialect":
        specification = referencing.jsonschema.specification_with(
            validator_class.ID_OF(validator_class.META_SCHEMA) or "urn:unknown-dialect",
            default=referencing.Specification.OPAQUE)
        return cls(validator_class, _DRAFTS.get(validator_class, 2020),
                   frozenset(validator_class.VALIDATORS), specification)


@dataclass(eq=False)
class Leaf:
    """The in-place keywords of one schema object."""
    id: int
    pointer: str
    schema: Any
    resolver: Any
    dialect: Dialect
    types: frozenset[str] | None = None
    enum: tuple[Any, ...] | None = None
    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    format: str | None = None
    bounds: Bounds = Bounds()
    prefix_items: tuple[int, ...] = ()
    rest_items: int = TRUE
    min_items: int = 0
    max_items: int | None = None
    properties: dict[str, int] = field(default_factory=dict)
    pattern_properties: tuple[tuple[str, int], ...] = ()
    additional: int = TRUE
    extra_keys_stated: bool = False  # additionalProperties or unevaluatedProperties given
    required: frozenset[str] = frozenset()
    min_properties: int = 0
    max_properties: int | None = None
    dependent_required: tuple[tuple[str, tuple[str, ...]], ...] = ()
    property_names: int | None = None
    scalar_keywords: tuple[str, ...] = ()
    residual: bool = False

    def allows(self, kind: str) -> bool:
        if self.types is not None:
            if kind == "number":
                if "number" not in self.types and "integer" not in self.types:
                    return False
            elif kind not in self.types:
                return False
        if self.enum is not None:
            return any(kind_of(value) == kind for value in self.enum)
        return True

    def integer_only(self) -> bool:
        return self.types is not None and "number" not in self.types

    def integer_lexical(self) -> bool:
        """Draft-04 integers are JSON numbers without fraction or exponent."""
        return self.dialect.draft == 4 and self.integer_only()


@dataclass(eq=False)
class Node:
    """A schema object: its leaf (if it constrains in place) and its applicators."""
    id: int
    pointer: str
    leaf: Leaf | None = None
    schema: Any = None
    resolver: Any = None
    dialect: Dialect | None = None
    conjuncts: tuple[int, ...] = ()
    disjunctions: tuple[tuple[int, ...], ...] = ()


@dataclass(eq=False)
class ObjectSpec:
    """What an alternative asks of an object."""
    compiled: "CompiledSchema"
    leaves: tuple[Leaf, ...]
    required: frozenset[str]
    min_properties: int
    max_properties: int | None
    dependent_required: tuple[tuple[str, tuple[str, ...]], ...]
    closed: tuple[tuple[tuple[str, ...], tuple[Any, ...]], ...]  # (sorted names, partial regexes)
    name_checks: tuple[Any, ...]
    residual: tuple[Any, ...]
    listed: tuple[frozenset[str], tuple[str, ...]] | None = None  # the only keys when closed by default
    children: dict[str, int | None] = field(default_factory=dict)

    def child(self, key: str) -> int | None:
        """The node set for the value under `key`, or None if the key is not allowed."""
        if key in self.children:
            return self.children[key]
        result: int | None = None
        targets: set[int] = set()
        if self.listed is not None and key not in self.listed[0] and not any(
                self.compiled.python_regex(pattern).search(key) for pattern in self.listed[1]):
            return None
        for leaf in self.leaves:
            hits = [node for pattern, node in leaf.pattern_properties
                    if self.compiled.python_regex(pattern).search(key)]
            if key in leaf.properties:
                targets.add(leaf.properties[key])
            elif not hits:
                if leaf.additional == FALSE:
                    break
                targets.add(leaf.additional)
            targets.update(hits)
        else:
            if all(valid(check, key) for check in self.name_checks):
                nodeset = self.compiled.nodeset(targets)
                if self.compiled.inhabited(nodeset):
                    result = nodeset
        if len(self.children) < _MAX_CACHED_KEYS:  # generated keys are unbounded; memory isn't
            self.children[key] = result
        return result

    def key_prefix_ok(self, prefix: str, seen: frozenset[str]) -> bool:
        for names, patterns in self.closed:
            index = bisect.bisect_left(names, prefix)
            while index < len(names) and names[index].startswith(prefix):
                if names[index] not in seen:
                    break
                index += 1
            else:
                if not any(pattern.search(prefix, partial=True) for pattern in patterns):
                    return False
        return True

    def key_prefix_range_ok(self, prefix: str, low: int, high: int, seen: frozenset[str]) -> bool:
        """Some allowed key continues `prefix` with a character in [low, high): the character being read is incomplete."""
        for names, patterns in self.closed:
            if patterns:
                continue  # a pattern cannot be tested on half a character: stay permissive (sound)
            if not continues_with(names, prefix, low, high, excluded=seen):
                return False
        return True

    def can_add_key(self, seen: frozenset[str]) -> bool:
        if self.max_properties is not None and len(seen) >= self.max_properties:
            return False
        for names, patterns in self.closed:
            if not patterns and all(name in seen for name in names):
                return False
        return True

    def close_ok(self, seen: frozenset[str]) -> bool:
        if len(seen) < self.min_properties or not self.required <= seen:
            return False
        return all(key not in seen or all(dep in seen for dep in deps)
                   for key, deps in self.dependent_required)


@dataclass(eq=False)
class ArraySpec:
    """What an alternative asks of an array."""
    compiled: "CompiledSchema"
    leaves: tuple[Leaf, ...]
    min_items: int
    max_items: int | None
    residual: tuple[Any, ...]
    children: dict[int, int | None] = field(default_factory=dict)

    def child(self, index: int) -> int | None:
        """The node set for item `index`, or None if no item may stand there."""
        if self.max_items is not None and index >= self.max_items:
            return None
        horizon = max((len(leaf.prefix_items) for leaf in self.leaves), default=0)
        key = min(index, horizon)
        if key not in self.children:
            targets = {leaf.prefix_items[key] if key < len(leaf.prefix_items) else leaf.rest_items
                       for leaf in self.leaves}
            nodeset = self.compiled.nodeset(targets)
            self.children[key] = nodeset if self.compiled.inhabited(nodeset) else None
        return self.children[key]


@dataclass(eq=False)
class StringSpec:
    """What an alternative asks of a string."""
    min_length: int
    max_length: int | None
    patterns: tuple[Any, ...]       # `regex` objects for partial (prefix) search
    formats: tuple[Any, ...]        # `regex` objects for partial full matches
    enum: tuple[str, ...] | None    # sorted candidates
    searches: tuple[re.Pattern, ...]  # `pattern`s, as jsonschema runs them (re.search)
    format_names: tuple[str, ...]
    format_checker: Any
    checks: tuple[Any, ...]         # validators of residual schema objects
    needs_content: bool

    def close_ok(self, content: str) -> bool:
        """The exact checks of a complete string (length and enum are checked by the stream)."""
        if not all(search.search(content) for search in self.searches):
            return False
        if not all(self.format_checker.conforms(content, name) for name in self.format_names):
            return False
        return all(valid(check, content) for check in self.checks)


@dataclass(eq=False)
class NumberSpec:
    """What an alternative asks of a number."""
    bounds: Bounds
    integer: bool
    integer_lexical: bool
    candidates: Candidates | None
    checks: tuple[Any, ...]
    prunes: bool


@dataclass(eq=False)
class LiteralSpec:
    """Which of true/false/null an alternative allows."""
    literals: frozenset[bytes]
    checks: tuple[Any, ...]


class CompiledSchema:
    """The node graph of one schema, with lazily computed alternatives and specs."""

    def __init__(self, schema: Any, *, relax: bool = False, allow_extra_keys: bool = True):
        if not isinstance(schema, (dict, bool)):
            raise ConstraintError(f"a JSON schema is an object or a boolean, not {type(schema).__name__}")
        self.relax = relax
        self.allow_extra_keys = allow_extra_keys
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cls = validator_for(schema, default=jsonschema.Draft202012Validator)
        self.dialect = Dialect.of(cls)
        self.draft = self.dialect.draft
        self._dialects = {cls: self.dialect}
        if self.draft == 3:
            raise _error("", "$schema", "draft-03 schemas are not supported")
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as err:
            if not relax:
                where = pointer_join("", *err.path)
                keyword = next((p for p in reversed(err.path) if isinstance(p, str)), str(err.validator))
                raise _error(where, keyword, f"invalid schema: {err.message[:200]}") from None
        self.format_checker = format_checker()
        self.validator = cls(schema, format_checker=self.format_checker, registry=referencing.Registry())
        self.nodes: list[Node] = [Node(TRUE, ""), Node(FALSE, "")]
        self.leaves: list[Leaf] = []
        self.unsupported: list[str] = []   # what relax=True let through
        self.annotation_formats: set[str] = set()
        self._by_object: dict[int, int] = {}
        self._keep_alive: list[Any] = []
        self._nodesets: dict[frozenset[int], int] = {}
        self._nodeset_members: list[frozenset[int]] = []
        self._alts: dict[frozenset[int], int] = {}
        self._alt_leaves: list[tuple[Leaf, ...]] = []
        self._alternatives: dict[int, tuple[int, ...]] = {}
        self._expanded: dict[int, list[frozenset[int]]] = {}
        self._expanding: set[int] = set()
        self._specs: dict[tuple[str, int], Any] = {}
        self._inhabited: dict[int, bool] = {}
        self._python_regex: dict[str, re.Pattern] = {}
        self._partial_regex: dict[str, Any] = {}
        self._validators: dict[tuple[int, str], Any] = {}
        self.root = self._compile(schema, "", self.validator._resolver, self.dialect)
        self.root_nodeset = self.nodeset({self.root})
        for node in range(len(self.nodes)):
            self._expand(node)  # $ref cycles and anyOf blow-ups surface here, not mid-generation

    # ---- compiling schema objects into nodes -------------------------------------------

    def _compile(self, schema: Any, pointer: str, resolver: Any, dialect: Dialect) -> int:
        """Compile the schema object and everything it reaches; return its node id."""
        pending: list[tuple[Any, str, Any, int]] = []
        root = self._node_for(schema, pointer, resolver, dialect, pending)
        while pending:
            obj, where, scope, node_id = pending.pop()
            self._fill(obj, where, scope, self.nodes[node_id], pending)
        return root

    def _dialect_of(self, schema: dict, inherited: Dialect, pointer: str) -> Dialect:
        """A subschema with its own `$schema` switches draft for its subtree, as in jsonschema."""
        if "$schema" not in schema:
            return inherited
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cls = validator_for(schema, default=inherited.cls)
        if cls not in self._dialects:
            self._dialects[cls] = Dialect.of(cls)
            if self._dialects[cls].draft == 3:
                raise _error(pointer, "$schema", "draft-03 schemas are not supported")
        return self._dialects[cls]

    def _node_for(self, schema: Any, pointer: str, resolver: Any, dialect: Dialect, pending: list,
                  scope: Any = None) -> int:
        if schema is True:
            return TRUE
        if schema is False:
            return FALSE
        if not isinstance(schema, dict):
            raise _error(pointer, "", f"a subschema must be an object or a boolean, not {schema!r:.60}")
        dialect = self._dialect_of(schema, dialect, pointer)
        key = (id(schema), dialect.draft)
        if key in self._by_object:
            return self._by_object[key]
        node = Node(len(self.nodes), pointer, dialect=dialect)
        self.nodes.append(node)
        self._by_object[key] = node.id
        self._keep_alive.append(schema)
        if scope is None:
            scope = resolver.in_subresource(dialect.specification.create_resource(schema))
        pending.append((schema, pointer, scope, node.id))
        return node.id

    def _fill(self, schema: dict, pointer: str, resolver: Any, node: Node, pending: list) -> None:
        dialect = node.dialect
        if dialect.draft <= 7 and "$ref" in schema:
            keywords = {"$ref": schema["$ref"]}    # siblings of $ref are ignored before 2019-09
        else:
            keywords = {k: v for k, v in schema.items() if k in dialect.vocabulary}

        def sub(value: Any, *parts: object) -> int:
            return self._node_for(value, pointer_join(pointer, *parts), resolver, dialect, pending)

        node.schema, node.resolver = schema, resolver
        leaf = Leaf(len(self.leaves), pointer, schema, resolver, dialect)
        in_place = False
        conjuncts: list[int] = []
        disjunctions: list[tuple[int, ...]] = []
        for keyword, value in keywords.items():
            at = pointer_join(pointer, keyword)
            if keyword == "$ref":
                conjuncts.append(self._resolve(value, at, resolver, dialect, pending))
            elif keyword in _UNSUPPORTED_KEYWORDS:
                self._unsupported(at, keyword, f"{keyword} is not supported")
            elif keyword == "allOf":
                conjuncts.extend(sub(item, keyword, i) for i, item in enumerate(value))
            elif keyword in ("anyOf", "oneOf"):
                disjunctions.append(tuple(sub(item, keyword, i) for i, item in enumerate(value)))
                if keyword == "oneOf":
                    leaf.residual = in_place = True
            elif keyword == "not":
                in_place |= self._fold_not(leaf, value, at)
                sub(value, keyword)
            elif keyword in ("then", "else"):
                sub(value, keyword)  # only meaningful with `if`, which makes the object residual
            elif keyword in _RESIDUAL_KEYWORDS:
                if keyword != "uniqueItems" or value:
                    leaf.residual = in_place = True
                if keyword == "dependentSchemas":
                    for name, item in value.items():
                        sub(item, keyword, name)
                elif keyword in ("contains", "if", "unevaluatedProperties", "unevaluatedItems"):
                    sub(value, keyword)
            else:
                try:
                    in_place |= self._leaf_keyword(leaf, keyword, value, keywords, at, sub)
                except (TypeError, ValueError, AttributeError) as err:
                    if isinstance(err, ConstraintError):
                        raise
                    raise _error(at, keyword, f"malformed value {value!r:.60}") from None
        leaf.scalar_keywords = tuple(k for k in keywords if k in _SCALAR_KEYWORDS)
        leaf.extra_keys_stated = "additionalProperties" in keywords or "unevaluatedProperties" in keywords
        if in_place or leaf.scalar_keywords:
            self.leaves.append(leaf)
            node.leaf = leaf
        node.conjuncts = tuple(conjuncts)
        node.disjunctions = tuple(disjunctions)

    def _resolve(self, ref: Any, pointer: str, resolver: Any, dialect: Dialect, pending: list) -> int:
        if not isinstance(ref, str):
            raise _error(pointer, "$ref", f"$ref must be a string, not {ref!r:.60}")
        try:
            resolved = resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as err:
            raise _error(pointer, "$ref", f"cannot resolve $ref {ref!r} ({type(err).__name__}); "
                                          "only references inside the schema are supported") from None
        where = ref[1:] if ref.startswith("#/") else f"{pointer}->{ref}"
        # jsonschema validates a $ref target in the target's own scope, reading it with the
        # referrer's draft unless the target declares its own $schema
        return self._node_for(resolved.contents, where, resolved.resolver, dialect, pending,
                              scope=resolved.resolver)

    def _unsupported(self, pointer: str, keyword: str, message: str) -> None:
        if not self.relax:
            raise _error(pointer, keyword, message + "; pass relax=True to check it only at completion")
        self.unsupported.append(f"{keyword} at {pointer}")

    def _fold_not(self, leaf: Leaf, value: Any, pointer: str) -> bool:
        """`not` of a bare type list narrows the types; anything else is checked at close."""
        if value is False:
            return False
        if value is True or value == {}:
            leaf.types = frozenset()
            return True
        vocabulary = leaf.dialect.vocabulary
        active = {k for k in value if k in vocabulary} if isinstance(value, dict) else None
        if active == {"type"} and "$schema" not in value and (leaf.dialect.draft > 7 or "$ref" not in value):
            excluded = value["type"]
            excluded = {excluded} if isinstance(excluded, str) else set(excluded)
            if "integer" in excluded and "number" not in excluded:
                leaf.residual = True
                return True
            if "number" in excluded:
                excluded.add("integer")
            allowed = (set(leaf.types) if leaf.types is not None else
                       {"object", "array", "string", "number", "integer", "boolean", "null"})
            leaf.types = frozenset(allowed - excluded)
            return True
        leaf.residual = True
        return True

    def _leaf_keyword(self, leaf: Leaf, keyword: str, value: Any, keywords: dict, pointer: str,
                      sub) -> bool:
        """Record one in-place keyword on the leaf; True if it constrains anything."""
        if keyword == "type":
            names = {value} if isinstance(value, str) else set(value)
            if "number" in names:
                names.add("integer")
            leaf.types = frozenset(names) if leaf.types is None else leaf.types & frozenset(names)
        elif keyword in ("enum", "const"):
            values = tuple(value) if keyword == "enum" else (value,)
            if leaf.enum is not None:
                allowed = {canonical(v) for v in leaf.enum}
                values = tuple(v for v in values if canonical(v) in allowed)
            leaf.enum = values
            if any(isinstance(v, (list, dict)) for v in values):
                leaf.residual = True
        elif keyword == "minLength":
            leaf.min_length = int(value)
        elif keyword == "maxLength":
            leaf.max_length = int(value)
        elif keyword == "pattern":
            self._check_pattern(value, pointer, keyword)
            leaf.patterns = (value,)
        elif keyword == "format":
            if not isinstance(value, str):
                return False
            if is_checked(value, self.format_checker):
                leaf.format = value
            elif value in SPEC_FORMATS:
                self._unsupported(pointer, keyword, f"format {value!r} is not checked")
            else:
                self.annotation_formats.add(value)
                return False
        elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            leaf.bounds = leaf.bounds.tighten(self._bound(keyword, value, leaf.schema, leaf.dialect.draft))
        elif keyword == "multipleOf":
            pass  # checked when the number closes (scalar keyword)
        elif keyword == "items":
            self._items(leaf, value, keywords, sub)
        elif keyword == "prefixItems":
            leaf.prefix_items = tuple(sub(item, keyword, i) for i, item in enumerate(value))
        elif keyword == "additionalItems":
            items = keywords.get("items", {})
            if isinstance(items, list):
                leaf.rest_items = sub(value, keyword)
            elif isinstance(items, bool):
                raise _error(pointer, keyword, "additionalItems next to a boolean 'items' is not supported")
            else:
                return False
        elif keyword == "minItems":
            leaf.min_items = int(value)
        elif keyword == "maxItems":
            leaf.max_items = int(value)
        elif keyword == "properties":
            leaf.properties = {name: sub(item, keyword, name) for name, item in value.items()}
        elif keyword == "patternProperties":
            for name in value:
                self._check_pattern(name, pointer_join(pointer, name), keyword)
            leaf.pattern_properties = tuple((name, sub(item, keyword, name)) for name, item in value.items())
        elif keyword == "additionalProperties":
            leaf.additional = sub(value, keyword)
        elif keyword == "required":
            if not isinstance(value, list):
                raise _error(pointer, keyword, f"required must be an array, not {value!r:.40}")
            leaf.required = frozenset(value)
        elif keyword == "minProperties":
            leaf.min_properties = int(value)
        elif keyword == "maxProperties":
            leaf.max_properties = int(value)
        elif keyword == "dependentRequired":
            leaf.dependent_required += tuple((k, tuple(v)) for k, v in value.items())
        elif keyword == "dependencies":
            for name, dependency in value.items():
                if isinstance(dependency, list):
                    leaf.dependent_required += ((name, tuple(dependency)),)
                else:
                    sub(dependency, keyword, name)
                    leaf.residual = True
        elif keyword == "propertyNames":
            leaf.property_names = sub(value, keyword)
        else:
            raise _error(pointer, keyword, "keyword not supported")
        return True

    def _items(self, leaf: Leaf, value: Any, keywords: dict, sub) -> None:
        if isinstance(value, list):
            if leaf.dialect.draft >= 2020:
                raise _error(leaf.pointer, "items", "an array 'items' is not valid in draft 2020-12")
            leaf.prefix_items = tuple(sub(item, "items", i) for i, item in enumerate(value))
            if "additionalItems" not in keywords:
                leaf.rest_items = TRUE
        else:
            leaf.rest_items = sub(value, "items")

    def _bound(self, keyword: str, value: Any, keywords: dict, draft: int) -> Bounds:
        if isinstance(value, bool):
            if draft == 4 and keyword.startswith("exclusive"):
                return Bounds()  # a modifier of minimum/maximum, read there
            raise _error("", keyword, f"{keyword} must be a number")
        bound = exact(value)
        if keyword == "minimum":
            return Bounds(lo=bound, lo_excl=draft == 4 and keywords.get("exclusiveMinimum") is True)
        if keyword == "maximum":
            return Bounds(hi=bound, hi_excl=draft == 4 and keywords.get("exclusiveMaximum") is True)
        if keyword == "exclusiveMinimum":
            return Bounds(lo=bound, lo_excl=True)
        return Bounds(hi=bound, hi_excl=True)

    def _check_pattern(self, pattern: Any, pointer: str, keyword: str) -> None:
        if not isinstance(pattern, str):
            raise _error(pointer, keyword, f"a pattern must be a string, not {pattern!r:.40}")
        try:
            self.python_regex(pattern)
        except re.error as err:
            raise _error(pointer, keyword, f"pattern {pattern!r:.60} is not a Python regular expression ({err})") from None

    def python_regex(self, pattern: str) -> re.Pattern:
        if pattern not in self._python_regex:
            self._python_regex[pattern] = re.compile(pattern)
        return self._python_regex[pattern]

    def partial_regex(self, pattern: str) -> Any:
        """The pattern, relaxed for prefix tests (json_patterns.py), in the `regex` module
        (partial matching), or None if it won't compile: then prefixes are not pruned by it."""
        if pattern not in self._partial_regex:
            relaxed = prefix_pattern(pattern)
            try:
                self._partial_regex[pattern] = regex.compile(relaxed) if relaxed is not None else None
            except Exception:
                self._partial_regex[pattern] = None
        return self._partial_regex[pattern]

    # ---- alternatives --------------------------------------------------------------------

    def nodeset(self, nodes: set[int] | frozenset[int]) -> int:
        """The id of a set of nodes that must all hold (TRUE members dropped)."""
        key = frozenset(n for n in nodes if n != TRUE)
        if key not in self._nodesets:
            self._nodesets[key] = len(self._nodeset_members)
            self._nodeset_members.append(key)
        return self._nodesets[key]

    def inhabited(self, nodeset: int) -> bool:
        """Some alternative of the node set admits a kind of value whose own bounds agree (its spec exists:
        minItems <= maxItems across allOf branches, say); what lies deeper is not looked at."""
        if nodeset not in self._inhabited:
            self._inhabited[nodeset] = any(self.spec(alt, kind) is not None
                                           for alt in self.alternatives(nodeset) for kind in KINDS)
        return self._inhabited[nodeset]

    def alternatives(self, nodeset: int) -> tuple[int, ...]:
        """The satisfiable-looking alternatives (alt ids) of a node set."""
        if nodeset not in self._alternatives:
            alts: list[frozenset[int]] = [frozenset()]
            for node in sorted(self._nodeset_members[nodeset]):
                alts = self._product(alts, self._expand(node), self.nodes[node].pointer)
            result = []
            for alt in alts:
                leaves = tuple(self.leaves[i] for i in sorted(alt))
                if any(all(leaf.allows(kind) for leaf in leaves) for kind in KINDS):
                    result.append(self._alt_id(alt, leaves))
            self._alternatives[nodeset] = tuple(result)
        return self._alternatives[nodeset]

    def alt_leaves(self, alt: int) -> tuple[Leaf, ...]:
        return self._alt_leaves[alt]

    def _alt_id(self, alt: frozenset[int], leaves: tuple[Leaf, ...]) -> int:
        if alt not in self._alts:
            self._alts[alt] = len(self._alt_leaves)
            self._alt_leaves.append(leaves)
        return self._alts[alt]

    def _expand(self, node_id: int) -> list[frozenset[int]]:
        if node_id == TRUE:
            return [frozenset()]
        if node_id == FALSE:
            return []
        if node_id in self._expanded:
            return self._expanded[node_id]
        node = self.nodes[node_id]
        if node_id in self._expanding:
            raise _error(node.pointer, "$ref", "the schema refers to itself without consuming input "
                                               "(a $ref/allOf/anyOf cycle)")
        self._expanding.add(node_id)
        try:
            alts = [frozenset([node.leaf.id])] if node.leaf is not None else [frozenset()]
            for conjunct in node.conjuncts:
                alts = self._product(alts, self._expand(conjunct), node.pointer)
            for group in node.disjunctions:
                union: list[frozenset[int]] = []
                for member in group:
                    union.extend(self._expand(member))
                alts = self._product(alts, list(dict.fromkeys(union)), node.pointer)
        finally:
            self._expanding.discard(node_id)
        self._expanded[node_id] = alts
        return alts

    def _product(self, left: list[frozenset[int]], right: list[frozenset[int]], pointer: str) -> list[frozenset[int]]:
        if len(left) * len(right) > MAX_ALTERNATIVES * 4:
            raise _error(pointer, "anyOf", f"the anyOf/oneOf combinations exceed {MAX_ALTERNATIVES} alternatives")
        combined: dict[frozenset[int], None] = {}
        for a in left:
            for b in right:
                union = a | b
                leaves = [self.leaves[i] for i in union]
                if any(all(leaf.allows(kind) for leaf in leaves) for kind in KINDS):
                    combined[union] = None
        if len(combined) > MAX_ALTERNATIVES:
            raise _error(pointer, "anyOf", f"the anyOf/oneOf combinations exceed {MAX_ALTERNATIVES} alternatives")
        return list(combined)

    # ---- per-alternative specs ---------------------------------------------------------

    def validator_for_leaf(self, leaf: Leaf, what: str) -> Any:
        """A jsonschema validator for the leaf's whole schema object ("node") or one keyword."""
        key = (leaf.id, what)
        if key not in self._validators:
            schema = leaf.schema if what == "node" else {what: leaf.schema[what]}
            self._validators[key] = leaf.dialect.cls(schema, format_checker=self.format_checker,
                                                     _resolver=leaf.resolver)
        return self._validators[key]

    def node_validator(self, node_id: int) -> Any:
        """A jsonschema validator for a node's schema object, in its resolution scope."""
        key = (-node_id - 1, "node")
        if key not in self._validators:
            node = self.nodes[node_id]
            self._validators[key] = node.dialect.cls(node.schema, format_checker=self.format_checker,
                                                     _resolver=node.resolver)
        return self._validators[key]

    def _residual(self, leaves: tuple[Leaf, ...]) -> tuple[Any, ...]:
        return tuple(self.validator_for_leaf(leaf, "node") for leaf in leaves if leaf.residual)

    def _scalar_checks(self, leaves: tuple[Leaf, ...], kind: str) -> tuple[Any, ...]:
        """Validators for a complete scalar: residual schema objects, and `multipleOf` (whose
        float arithmetic is jsonschema's to define)."""
        checks = []
        for leaf in leaves:
            if leaf.residual:
                checks.append(self.validator_for_leaf(leaf, "node"))
            elif kind == "number" and "multipleOf" in leaf.scalar_keywords:
                checks.append(self.validator_for_leaf(leaf, "multipleOf"))
        return tuple(checks)

    def _enum_values(self, leaves: tuple[Leaf, ...], kind: str) -> list[Any] | None:
        values: list[Any] | None = None
        for leaf in leaves:
            if leaf.enum is None:
                continue
            mine = [v for v in leaf.enum if kind_of(v) == kind]
            if values is None:
                values = mine
            else:
                keys = {canonical(v) for v in mine}
                values = [v for v in values if canonical(v) in keys]
        return values

    def specs_for(self, nodeset: int, kind: str) -> tuple[Any, ...]:
        """The specs of the node set's alternatives that allow `kind` (distinct)."""
        key = (kind, -nodeset - 1)
        if key not in self._specs:
            specs = (self.spec(alt, kind) for alt in self.alternatives(nodeset))
            self._specs[key] = tuple(dict.fromkeys(spec for spec in specs if spec is not None))
        return self._specs[key]

    def spec(self, alt: int, kind: str) -> Any:
        """The ObjectSpec/ArraySpec/StringSpec/NumberSpec/LiteralSpec, or None if `kind` is out."""
        key = (kind, alt)
        if key not in self._specs:
            leaves = self._alt_leaves[alt]
            allowed = all(leaf.allows(kind) for leaf in leaves)
            self._specs[key] = getattr(self, f"_{kind}_spec")(leaves) if allowed else None
        return self._specs[key]

    def _object_spec(self, leaves: tuple[Leaf, ...]) -> ObjectSpec | None:
        closed = []
        name_checks = []
        for leaf in leaves:
            if leaf.property_names is not None:
                if leaf.property_names == FALSE:
                    closed.append(((), ()))
                elif leaf.property_names != TRUE:
                    name_checks.append(self.node_validator(leaf.property_names))
            if leaf.additional == FALSE or not self.alternatives(self.nodeset({leaf.additional})):
                # a key whose value no instance satisfies is no key: its name or pattern is left out
                patterns = tuple(self.partial_regex(p) for p, node in leaf.pattern_properties
                                 if self.inhabited(self.nodeset({node})))
                if any(p is None for p in patterns):
                    continue  # a pattern the partial matcher can't read: no key pruning
                closed.append((tuple(sorted(name for name, node in leaf.properties.items()
                                            if self.inhabited(self.nodeset({node})))), patterns))
        listed = None if self.allow_extra_keys else self._listed_keys(leaves)
        if listed is not None:
            patterns = tuple(self.partial_regex(p) for p in listed[1])
            if all(p is not None for p in patterns):
                closed.append((tuple(sorted(listed[0])), patterns))
        max_props = [leaf.max_properties for leaf in leaves if leaf.max_properties is not None]
        required = frozenset().union(*(leaf.required for leaf in leaves))
        min_properties = max((leaf.min_properties for leaf in leaves), default=0)
        if max_props and max(min_properties, len(required)) > min(max_props):
            return None  # more keys needed than allowed: no object
        return ObjectSpec(
            self, leaves,
            required=required, min_properties=min_properties,
            max_properties=min(max_props) if max_props else None,
            dependent_required=tuple(d for leaf in leaves for d in leaf.dependent_required),
            closed=tuple(closed), name_checks=tuple(name_checks), residual=self._residual(leaves), listed=listed)

    @staticmethod
    def _listed_keys(leaves: tuple[Leaf, ...]) -> tuple[frozenset[str], tuple[str, ...]] | None:
        """Property names and patterns an object alternative lists, when it lists some and no leaf
        states additionalProperties/unevaluatedProperties: the only keys allowed with allow_extra_keys=False."""
        if any(leaf.extra_keys_stated for leaf in leaves):
            return None
        names = frozenset().union(*(leaf.properties for leaf in leaves))
        patterns = tuple(dict.fromkeys(p for leaf in leaves for p, _ in leaf.pattern_properties))
        return (names, patterns) if names or patterns else None

    def _array_spec(self, leaves: tuple[Leaf, ...]) -> ArraySpec | None:
        max_items = [leaf.max_items for leaf in leaves if leaf.max_items is not None]
        min_items = max((leaf.min_items for leaf in leaves), default=0)
        if max_items and min_items > min(max_items):
            return None  # minItems above maxItems (across allOf branches, say): no array
        return ArraySpec(self, leaves, min_items, min(max_items) if max_items else None, self._residual(leaves))

    def _string_spec(self, leaves: tuple[Leaf, ...]) -> StringSpec | None:
        max_length = [leaf.max_length for leaf in leaves if leaf.max_length is not None]
        patterns = tuple(p for leaf in leaves for p in
                         (self.partial_regex(s) for s in leaf.patterns) if p is not None)
        formats = tuple(p for p in (self.partial_regex(PREFIX_PATTERNS[leaf.format]) for leaf in leaves
                                    if leaf.format in PREFIX_PATTERNS) if p is not None)
        min_length = max((leaf.min_length for leaf in leaves), default=0)
        if max_length and min_length > min(max_length):
            return None  # minLength above maxLength: no string
        values = self._enum_values(leaves, "string")
        if values is not None:
            values = [v for v in values if min_length <= len(v) and (not max_length or len(v) <= min(max_length))]
            if not values:
                return None
        checks = self._scalar_checks(leaves, "string")
        searches = tuple(self.python_regex(p) for leaf in leaves for p in leaf.patterns)
        format_names = tuple(leaf.format for leaf in leaves if leaf.format is not None)
        enum = tuple(sorted(set(values))) if values is not None else None
        return StringSpec(
            min_length=min_length,
            max_length=min(max_length) if max_length else None,
            patterns=patterns, formats=formats, enum=enum, searches=searches,
            format_names=format_names, format_checker=self.format_checker, checks=checks,
            needs_content=bool(patterns or formats or enum is not None or checks or searches or format_names))

    def _number_spec(self, leaves: tuple[Leaf, ...]) -> NumberSpec | None:
        bounds = Bounds()
        for leaf in leaves:
            bounds = bounds.tighten(leaf.bounds)
        integer = any(leaf.integer_only() for leaf in leaves)
        values = self._enum_values(leaves, "number")
        if values is not None and not values:
            return None
        candidates = None
        if values is not None:
            finite = [exact(v) for v in values if v == v and abs(v) != float("inf")]
            candidates = tuple(sorted(set(c for c in finite if bounds.contains(c))))
            if not candidates:
                return None
            if len(candidates) > MAX_NUMBER_CANDIDATES:
                bounds = bounds.tighten(Bounds(candidates[0], False, candidates[-1], False))
                candidates = None
        if candidates is not None:
            candidates = Candidates(candidates)
        return NumberSpec(bounds, integer, any(leaf.integer_lexical() for leaf in leaves), candidates,
                          self._scalar_checks(leaves, "number"),
                          prunes=integer or candidates is not None or not bounds.is_unbounded())

    def _boolean_spec(self, leaves: tuple[Leaf, ...]) -> LiteralSpec | None:
        values = self._enum_values(leaves, "boolean")
        literals = {b"true", b"false"} if values is None else {b"true" if v else b"false" for v in values}
        return LiteralSpec(frozenset(literals), self._scalar_checks(leaves, "boolean")) if literals else None

    def _null_spec(self, leaves: tuple[Leaf, ...]) -> LiteralSpec | None:
        values = self._enum_values(leaves, "null")
        if values is not None and not values:
            return None
        return LiteralSpec(frozenset({b"null"}), self._scalar_checks(leaves, "null"))
