"""Shortest completions per constraint family, against brute force.

Brute force is breadth-first search over bytes from the state: over all 256 bytes with states
merged where states are canonical (regex DFA states, and pairs of them for `&`), over every
string of a small alphabet that covers the language otherwise (grammars, JSON). The family's
answer must be a completion, and as short as the shortest one found.
"""
import bisect
import itertools
import json
import random
from collections import deque

import jsonschema
import pytest
from hypothesis import assume, given, settings, strategies as st

from constraints.base import Anything, Constraint
from lm import constraints

SETTINGS = settings(max_examples=60, deadline=None)


def dfa_shortest(constraint, state):
    """Exact: BFS over all 256 bytes, states merged (they are canonical objects)."""
    seen, queue = {state: 0}, deque([state])
    while queue:
        node = queue.popleft()
        if constraint.is_accepting(node):
            return seen[node]
        for byte in range(256):
            following = constraint.advance(node, bytes((byte,)))
            if following is not None and following not in seen:
                seen[following] = seen[node] + 1
                queue.append(following)
    return None


def string_shortest(constraint, state, alphabet: bytes, max_len: int):
    """Exact within `alphabet` and `max_len`: BFS over strings (states are not merged)."""
    layer = [state]
    for length in range(max_len + 1):
        if any(constraint.is_accepting(s) for s in layer):
            return length
        layer = [f for s in layer for b in alphabet if (f := constraint.advance(s, bytes((b,)))) is not None]
    return None


def walk(constraint, draw_index, alphabet: bytes, steps: int):
    """A random viable prefix: `steps` bytes, each chosen among the viable ones of `alphabet`."""
    state, text = constraint.start(), b""
    for _ in range(steps):
        options = [b for b in alphabet if constraint.advance(state, bytes((b,))) is not None]
        if not options:
            break
        byte = options[draw_index(len(options))]
        state, text = constraint.advance(state, bytes((byte,))), text + bytes((byte,))
    return state, text


@st.composite
def regexes(draw, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["a", "b", "c", "[ab]", "[^a]", ".", "é", "\\d"]))
    kind = draw(st.sampled_from(["cat", "alt", "star", "plus", "opt", "rep"]))
    inner = draw(regexes(depth=depth - 1))
    if kind == "cat":
        return inner + draw(regexes(depth=depth - 1))
    if kind == "alt":
        return f"(?:{inner}|{draw(regexes(depth=depth - 1))})"
    if kind == "rep":
        low = draw(st.integers(0, 3))
        return f"(?:{inner}){{{low},{low + draw(st.integers(0, 2))}}}"
    return f"(?:{inner}){ {'star': '*', 'plus': '+', 'opt': '?'}[kind]}"


def _check(constraint, state, expected):
    text = constraint.shortest_completion(state)
    assert (text is None) == (expected is None)
    if text is not None:
        assert len(text) == expected == constraint.min_completion_bytes(state)
        assert constraint.completes(state, text)


@SETTINGS
@given(regexes(), st.data())
def test_regex_shortest_completion_is_exact(pattern, data):
    constraint = constraints.regex(pattern)
    state, _ = walk(constraint, lambda n: data.draw(st.integers(0, n - 1)), b"abc\xc3\xa90123 ", data.draw(st.integers(0, 6)))
    _check(constraint, state, dfa_shortest(constraint, state))


@SETTINGS
@given(regexes(), regexes(), st.data())
def test_conjunction_shortest_completion_is_exact_on_regexes(left, right, data):
    try:
        both = constraints.regex(left) & constraints.regex(right)
    except constraints.ConstraintError:
        return
    assume(dfa_shortest(both, both.start()) is not None)
    state, _ = walk(both, lambda n: data.draw(st.integers(0, n - 1)), b"abc\xc3\xa90123 ", data.draw(st.integers(0, 4)))
    expected = dfa_shortest(both, state)
    text = both.shortest_completion(state)
    if expected is None:  # each side is viable, their intersection is not: found by search, or a bound
        assert text is None or not both.completes(state, text)
    elif both.completes(state, text):  # exact: witness accepted, or the bounded A* search found it
        assert len(text) == expected
    else:  # the search gave up: the length is still a lower bound
        assert len(text) <= expected


def test_anything_and_unknown_constraints():
    assert Anything().shortest_completion(0) == b"" and Anything().min_completion_bytes(0) == 0

    class Evens(Constraint):  # a user constraint that knows nothing about completions
        def start(self):
            return 0

        def advance(self, state, chunk):
            return state + len(chunk)

        def is_accepting(self, state):
            return state % 2 == 0

    evens = Evens()
    assert evens.min_completion_bytes(0) == 0 and evens.min_completion_bytes(1) == 1
    with pytest.raises(NotImplementedError):
        evens.shortest_completion(1)


GRAMMARS = {
    "arithmetic": (r"""
        start: expr
        expr: term (("+" | "-") term)*
        term: factor ("*" factor)*
        factor: NUMBER | "(" expr ")" | "-" factor
        NUMBER: /[0-9]+/
    """, b"0123+-*()"),
    "json-like": (r"""
        start: value
        value: obj | arr | STRING | NUMBER | "true" | "null"
        obj: "{" [pair ("," pair)*] "}"
        pair: STRING ":" value
        arr: "[" [value ("," value)*] "]"
        STRING: /"[ab]*"/
        NUMBER: /-?[0-9]/
    """, b'{}[]:,"ab-0truenl'),
    "ignored spaces": (r"""
        start: "let" NAME "=" NAME ";"
        NAME: /[xy]+/
        %ignore " "
    """, b"let xy=; "),
    "nested lists": (r"""
        start: list
        list: "(" item* ")"
        item: list | "a" | "bb"
    """, b"()ab"),
}


@pytest.mark.parametrize("name", sorted(GRAMMARS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_grammar_shortest_completion_is_the_shortest_derivation(name, data):
    grammar, alphabet = GRAMMARS[name]
    constraint = _lark(grammar)
    state, text = walk(constraint, lambda n: data.draw(st.integers(0, n - 1)), alphabet, data.draw(st.integers(0, 8)))
    found = constraint.shortest_completion(state)
    assert found is not None and constraint.completes(state, found), (text, found)
    assert string_shortest(constraint, state, alphabet, len(found)) == len(found)


def test_a_lexical_side_condition_makes_the_grammar_length_a_lower_bound():
    """NAME NAME cannot be "ab" (one NAME by longest match): the derivation says 2 bytes, the truth is 3."""
    constraint = _lark('start: NAME NAME\nNAME: /[ab]+/\n%ignore " "')
    assert constraint.min_completion_bytes(constraint.start()) == 2
    assert string_shortest(constraint, constraint.start(), b"ab ", 3) == 3


_LARKS: dict = {}


def _lark(text):
    if text not in _LARKS:
        _LARKS[text] = constraints.lark(text)
    return _LARKS[text]


SCHEMAS = {
    "two integers": ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, b"[]01,-"),
    "required key": ({"type": "object", "properties": {"a": {"type": "string", "minLength": 2}, "b": {"type": "integer"}},
                      "required": ["a"], "additionalProperties": False}, b'{}":ab,0'),
    "enum": ({"enum": ["ab", "b", "ba", 12]}, b'"ab12'),
    "bounded number": ({"type": "number", "minimum": 5, "maximum": 70}, b"56789-.0"),
    "recursive": ({"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#"}, "minItems": 1}]}, b"[],nul"),
    "date": ({"type": "string", "format": "date"}, b'"0123-'),
    "nested": ({"type": "object", "properties": {"x": {"type": "array", "items": {"type": "boolean"}, "minItems": 1}},
                "required": ["x"]}, b'{}":x[]truefals,'),
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@pytest.mark.parametrize("whitespace", ["minified", "compact"])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_json_shortest_completion_completes_and_is_shortest(name, whitespace, data):
    schema, alphabet = SCHEMAS[name]
    constraint = _json(name, whitespace)
    if whitespace == "compact":
        alphabet += b" "
    state, text = walk(constraint, lambda n: data.draw(st.integers(0, n - 1)), alphabet, data.draw(st.integers(0, 12)))
    found = constraint.shortest_completion(state)
    assert found is not None and constraint.min_completion_bytes(state) == len(found)
    if not constraint.completes(state, found):
        # the stream's prefix test passes year 0000 and February 29 of a common year, which no date
        # completes: a lower bound
        assert name == "date" and (text.startswith(b'"0000') or text[6:11] == b"02-29"), (text, found)
        assert string_shortest(constraint, state, alphabet, min(len(found), 6) - 1) is None
    elif len(found) <= 5:  # exhaustive over the alphabet: nothing shorter completes
        assert string_shortest(constraint, state, alphabet, len(found)) == len(found), (text, found)


def test_json_shortest_instances():
    cases = [({"type": "object", "required": ["b", "a"], "properties": {"a": {"type": "string", "format": "date-time"}}},
              b'{"a": "2000-01-01T00:00:00Z", "b": 0}'),
             ({"type": "integer", "minimum": 1000, "maximum": 5000}, b"1000"),
             ({"type": "string", "enum": ["long one", "mid", "x"], "minLength": 2}, b'"mid"'),
             ({"type": "array", "prefixItems": [{"const": "ab"}, {"type": "boolean"}], "minItems": 2}, b'["ab", true]'),
             ({"type": "object", "minProperties": 1}, b'{"": 0}')]
    for schema, expected in cases:
        constraint = constraints.json_schema(schema)
        assert constraint.shortest_completion(constraint.start()) == expected
        assert constraint.accepts(expected)


def test_json_keywords_only_the_final_check_decides_make_it_a_lower_bound():
    constraint = constraints.json_schema({"type": "array", "items": {"type": "integer"}, "minItems": 2,
                                          "uniqueItems": True}, whitespace="minified")
    found = constraint.shortest_completion(constraint.start())
    assert found == b"[0,0]" and not constraint.accepts(found)  # "[0,1]": same length here
    assert string_shortest(constraint, constraint.start(), b"[]01,", 5) == 5


_JSONS: dict = {}


def _json(name, whitespace):
    key = (name, whitespace)
    if key not in _JSONS:
        _JSONS[key] = constraints.json_schema(SCHEMAS[name][0], whitespace=whitespace)
    return _JSONS[key]


class SearchTooLarge(Exception):
    """threads_shortest met more states than its budget."""


def threads_shortest(constraint, state, alphabet: bytes, max_len: int, escaped: bool = False, budget: int = 4000):
    """The length of a shortest completion of `state` within `alphabet` and `max_len` bytes that writes no
    \\u escape (`escaped`: the text so far ends inside a backslash escape): BFS over bytes, states merged by
    their parser threads (which decide everything that follows, for schemas without keywords only the final
    check decides). Without \\u escapes the search stays small; the schemas below never need one (a key or
    string that only a \\u escape spells, a control character or a non-ASCII one, is never the cheapest).
    Raises SearchTooLarge past `budget` states (free keys: every key text is a state)."""
    seen, layer = {state.threads}, [(state, escaped)]
    for length in range(max_len + 1):
        if any(constraint.is_accepting(s) for s, _ in layer):
            return length
        following = []
        for s, esc in layer:
            for b in alphabet:
                if esc and b == 0x75:
                    continue
                f = constraint.advance(s, bytes((b,)))
                if f is not None and f.threads not in seen:
                    seen.add(f.threads)
                    following.append((f, b == 0x5C and not esc))
                    if len(seen) > budget:
                        raise SearchTooLarge
        layer = following
    return None


def walk_without_u_escapes(constraint, draw_index, alphabet: bytes, steps: int):
    """`walk`, never writing a \\u escape; also says whether the text ends inside a backslash escape."""
    state, text, escaped = constraint.start(), b"", False
    for _ in range(steps):
        options = [b for b in alphabet if not (escaped and b == 0x75)
                   and constraint.advance(state, bytes((b,))) is not None]
        if not options:
            break
        byte = options[draw_index(len(options))]
        state, text, escaped = constraint.advance(state, bytes((byte,))), text + bytes((byte,)), byte == 0x5C and not escaped
    return state, text, escaped


PATTERN_SCHEMAS = {
    # digits only as keys; two of them
    "digit keys": ({"type": "object", "patternProperties": {"^[0-9]$": {"type": "integer", "minimum": 10, "maximum": 12}},
                    "additionalProperties": False, "minProperties": 2}, b'{}":,0123\\n'),
    # "b" matches both patterns (boolean and 1: nothing), "bx" only the second: a longer key, a shorter entry
    "overlapping patterns": ({"type": "object", "patternProperties": {"^[ab]$": {"type": "boolean"}, "^b.$": {"enum": [1, "xy"]},
                                                                     "^c[0-9]?$": {"type": "null"}},
                              "additionalProperties": False, "minProperties": 2}, b'{}":,abcxy01truenl\\'),
    # keys in a closed set of short names, nested objects
    "nested": ({"type": "object", "patternProperties": {"^[xy]$": {"type": "object", "patternProperties": {
        "^[0-9]$": {"type": "null"}}, "additionalProperties": False, "minProperties": 1}},
               "additionalProperties": False, "required": ["y"]}, b'{}":,xy01nul'),
}


@pytest.mark.parametrize("name", sorted(PATTERN_SCHEMAS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_json_pattern_property_completions_are_shortest(name, data):
    """Keys allowed only by patternProperties: the completion exists, completes, and is the shortest (BFS)."""
    schema, alphabet = PATTERN_SCHEMAS[name]
    constraint = _pattern_json(name)
    draw = lambda n: data.draw(st.integers(0, n - 1))  # noqa: E731
    state, text, escaped = walk_without_u_escapes(constraint, draw, alphabet, data.draw(st.integers(0, 16)))
    found = constraint.shortest_completion(state)
    if found is None:  # a dead key the prefix check lets through (docs/json_schema.md, "incomplete"): `{"\\`
        assert threads_shortest(constraint, state, alphabet, 12, escaped) is None, text
        return
    assert constraint.completes(state, found), (text, found)
    try:
        shortest = threads_shortest(constraint, state, alphabet, len(found), escaped)
    except SearchTooLarge:  # too far from the end for a brute-force check: only that it completes
        return
    assert shortest == len(found), (text, found)


def _pattern_json(name):
    key = ("patterns", name)
    if key not in _JSONS:
        _JSONS[key] = constraints.json_schema(PATTERN_SCHEMAS[name][0], whitespace="minified")
    return _JSONS[key]


# A named key, patterns (one a boolean only a pattern allows), and other keys allowed with a costlier value:
# every key is free, too many key texts for a search over bytes, so documents are enumerated instead.
FREE_KEYS_SCHEMA = {"type": "object", "properties": {"a": {"enum": ["abab"]}},
                    "patternProperties": {"^a.$": {"enum": [10, 2]}, "^r$": {"type": "boolean"}},
                    "additionalProperties": {"type": "array", "items": {"const": 0}, "minItems": 2, "maxItems": 2},
                    "minProperties": 2, "maxProperties": 3}


def valid_objects(schema: dict, keys: list[str], values: list, max_entries: int) -> list[bytes]:
    """Every minified JSON object with at most `max_entries` distinct keys from `keys` and values from
    `values` that `jsonschema` finds valid under `schema` (entries are checked on their own first)."""
    validator = jsonschema.Draft202012Validator(schema)
    alone = jsonschema.Draft202012Validator({**schema, "minProperties": 0})
    entries = {key: [json.dumps({key: v}, separators=(",", ":"))[1:-1] for v in values if alone.is_valid({key: v})]
               for key in keys}
    out = []
    for count in range(max_entries + 1):
        for chosen in itertools.permutations(keys, count):
            for parts in itertools.product(*(entries[key] for key in chosen)):
                text = "{" + ",".join(parts) + "}"
                if validator.is_valid(json.loads(text)):
                    out.append(text.encode())
    return sorted(out)


def test_json_free_key_completions_match_enumerated_documents():
    """Every prefix of a valid document is viable and its shortest completion is as short as the shortest
    valid document (of those enumerated: keys of up to two characters, which hold the cheapest key of
    every class the patterns tell apart) that starts with it."""
    keys = ["".join(chars) for n in range(3) for chars in itertools.product("ab0r", repeat=n)]
    documents = valid_objects(FREE_KEYS_SCHEMA, keys, ["abab", 10, 2, True, [0, 0]], 3)
    constraint = constraints.json_schema(FREE_KEYS_SCHEMA, whitespace="minified")
    rng = random.Random(0)
    prefixes = {b"", b"{", b'{"', b'{"a', b'{"a"', b'{"r":true,"'}
    prefixes.update(doc[:rng.randrange(len(doc) + 1)] for doc in rng.sample(documents, 150))
    for prefix in sorted(prefixes):
        state = constraint.advance(constraint.start(), prefix)
        assert state is not None, prefix
        found = constraint.shortest_completion(state)
        assert found is not None and constraint.completes(state, found), (prefix, found)
        index, shortest = bisect.bisect_left(documents, prefix), None
        while index < len(documents) and documents[index].startswith(prefix):
            shortest = min(shortest or len(documents[index]), len(documents[index]))
            index += 1
        assert len(found) == shortest - len(prefix), (prefix, found)
