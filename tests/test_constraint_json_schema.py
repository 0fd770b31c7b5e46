"""JSON Schema constraint: exact acceptance and sound prefixes on real schemas
(JSONSchemaBench), on generated schemas/instances (Hypothesis), and keyword by keyword."""
from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from shared_data import JSONSCHEMABENCH
from constraints.base import ConstraintError
from constraints.json.json_numbers import Bounds, Candidates, prefix_viable, step as number_step, value_ok
from constraints.json.json_schema import json_schema
from semantics import CheckFailed, check_constraint

DATA = JSONSCHEMABENCH / "schemas"
SAMPLE = sorted(DATA.glob("*.json"))[::19] if DATA.exists() else []
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- real schemas ---------------------------------------------------------------------------

def _shuffled(value, rng):
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(item, rng) for key, item in items}
    return [_shuffled(item, rng) for item in value] if isinstance(value, list) else value


@pytest.mark.skipif(not SAMPLE, reason="JSONSchemaBench data not present")
def test_benchmark_sample_exact_and_prefix_sound():
    """300 files (every 19th by name): valid instances accepted with every prefix viable,
    invalid ones rejected, under both whitespace conventions and with keys shuffled;
    chunking doesn't matter."""
    rng = random.Random(0)
    compiled = valid_rejected = invalid_accepted = 0
    errors, broken = [], []
    for path in SAMPLE:
        record = json.loads(path.read_text())
        try:
            compact = json_schema(record["schema"])
            loose = json_schema(record["schema"], whitespace="any")
            spelled = json_schema(record["schema"], numbers="json")
        except ConstraintError as err:
            errors.append((path.name, str(err)))
            continue
        compiled += 1
        for test in record["tests"]:
            for constraint, text in ((compact, compact.dumps(test["data"])),
                                     (loose, json.dumps(test["data"], indent=2, ensure_ascii=False).encode()),
                                     (spelled, json.dumps(_shuffled(test["data"], rng)).encode())):
                accepted = constraint.accepts(text)
                if test["valid"]:
                    valid_rejected += not accepted
                else:
                    invalid_accepted += accepted
                try:  # the constraint contract: prefixes of accepted documents viable, chunking, immutable states,
                    # and (compact only, for time) a completion for the longest viable prefix of a rejected one
                    check_constraint(constraint, [text], vocabulary=[], chunkings=1, tracked_states=4, seed=compiled,
                                     completions=constraint is compact)
                except CheckFailed as failure:
                    broken.append((path.name, str(failure)))
    assert len(SAMPLE) == 300
    assert (valid_rejected, invalid_accepted, broken) == (0, 0, [])
    # every refusal names its keyword and a JSON pointer
    assert all("(keyword '" in message and "' at '" in message for _, message in errors)
    assert compiled >= 295, errors


# ---- generated schemas and instances --------------------------------------------------------

def _schemas():
    names = st.sampled_from(["a", "b", "ab", "c"])
    scalars = st.one_of(
        st.just({"type": "string"}),
        st.builds(lambda lo, hi: {"type": "string", "minLength": lo, "maxLength": lo + hi},
                  st.integers(0, 2), st.integers(0, 3)),
        st.just({"type": "string", "pattern": "^a+b?$"}),
        st.just({"enum": ["x", "xy", "yz", 1, None]}),
        st.just({"const": "ab"}),
        st.builds(lambda lo, hi: {"type": "integer", "minimum": lo, "maximum": lo + hi},
                  st.integers(-20, 20), st.integers(0, 30)),
        st.builds(lambda lo: {"type": "number", "exclusiveMinimum": lo}, st.integers(-5, 5)),
        st.just({"type": "number", "multipleOf": 0.5}),
        st.just({"type": ["boolean", "null"]}),
        st.just({"type": "string", "format": "date"}),
        st.just({"not": {"type": "string"}}),
        st.just(True),
    )

    def extend(inner):
        return st.one_of(
            st.builds(lambda props, req, extra: {
                "type": "object", "properties": props,
                "required": sorted(set(req) & set(props)), "additionalProperties": extra},
                st.dictionaries(names, inner, max_size=3), st.lists(names, max_size=2),
                st.one_of(st.booleans(), inner)),
            st.builds(lambda items, lo, hi: {"type": "array", "items": items, "minItems": lo,
                                             "maxItems": lo + hi},
                      inner, st.integers(0, 1), st.integers(0, 3)),
            st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner),
            st.builds(lambda a, b: {"oneOf": [a, b]}, inner, inner),
            st.builds(lambda a, b: {"allOf": [a, b]}, inner, inner),
            st.builds(lambda a: {"type": "array", "prefixItems": [a], "items": False}, inner),
            st.builds(lambda a: {"type": "object", "patternProperties": {"^a": a},
                                 "additionalProperties": False, "maxProperties": 2}, inner),
            st.builds(lambda a: {"type": "array", "items": a, "uniqueItems": True}, inner),
        )

    return st.recursive(scalars, extend, max_leaves=5)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-30, 30),
              st.sampled_from([0.5, -1.5, 2.25, 1e3, 10.0]),
              st.sampled_from(["", "a", "ab", "aab", "x", "xy", "é", "2024-02-29", "2023-02-29", "a\"\\"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "ab", "c", "ad"]), inner, max_size=3)),
    max_leaves=6)


def _truth(schema, value) -> bool:
    from constraints.json.json_formats import format_checker
    checker = format_checker()
    return jsonschema.Draft202012Validator(schema, format_checker=checker).is_valid(value)


def _constraint_or_empty(schema, values, whitespace):
    """The constraint; None (after checking the values are all invalid) if it accepts nothing."""
    try:
        return json_schema(schema, whitespace=whitespace)
    except ConstraintError as err:
        assert "accepts no JSON value" in str(err)
        assert not any(_truth(schema, value) for value in values)
        return None


@SETTINGS
@given(_schemas(), st.lists(JSON_VALUES, min_size=1, max_size=6), st.sampled_from(["compact", "minified", "any"]))
@example(  # found by Hypothesis: the only pattern's value is unsatisfiable, so `{"a` starts no key
    schema={"type": "object", "patternProperties": {"^a": {"allOf": [{"type": "string"}, {"type": "number", "multipleOf": 0.5}]}},
            "additionalProperties": False, "maxProperties": 2},
    values=[{"a": None}], whitespace="compact")
def test_generated_schemas_accept_exactly_the_valid_documents(schema, values, whitespace):
    constraint = _constraint_or_empty(schema, values, whitespace)
    if constraint is None:
        return
    spelled = json_schema(schema, whitespace=whitespace, numbers="json")
    separators = (", ", ": ") if whitespace == "compact" else (",", ":")
    texts, plains = [], []
    for value in values:
        text = json.dumps(value, separators=separators).encode()
        if whitespace == "any":
            text = json.dumps(value, indent=1).encode() + b"\n"
        truth = _truth(schema, value)
        assert spelled.accepts(text) == truth, (schema, text)
        texts.append(text)
        # plain numbers (the generation default): a sublanguage, same values
        plain = constraint.dumps(value)
        if constraint.accepts(plain):
            assert _truth(schema, json.loads(plain)), (schema, plain)
        elif truth:
            assert b"." in plain and constraint.numbers == "plain", (schema, plain)
        plains.append(plain)
    # the constraint contract: every prefix of an accepted document viable, chunking invariance, immutable states
    # and a completion for the longest viable prefix of every rejected document
    check_constraint(spelled, texts, vocabulary=[], chunkings=1, tracked_states=4)
    check_constraint(constraint, plains, vocabulary=[], chunkings=1, tracked_states=4)


@SETTINGS
@given(_schemas(), st.randoms(use_true_random=False))
def test_random_byte_walks_never_accept_an_invalid_document(schema, rnd):
    """Walk bytes the constraint allows; every accepted document validates and parses."""
    constraint = _constraint_or_empty(schema, [], "compact")
    if constraint is None:
        return
    alphabet = [bytes([b]) for b in b'{}[],: "abcxyz-019.eE\\ntfrul'] + ["é".encode()]
    state, text = constraint.start(), b""
    for _ in range(60):
        if constraint.is_accepting(state):
            assert _truth(schema, json.loads(text)), (schema, text)
            if rnd.random() < 0.3:
                break
        options = [(chunk, nxt) for chunk in alphabet
                   if (nxt := constraint.advance(state, chunk)) is not None]
        if not options:
            break
        chunk, state = rnd.choice(options)
        text += chunk


# ---- number prefixes against brute force ----------------------------------------------------

def _extensions(prefix: str, depth: int):
    """All JSON number texts extending `prefix` by up to `depth` characters."""
    frontier = {prefix}
    for _ in range(depth):
        frontier |= {text + c for text in frontier for c in "0123456789.e-"}
    for text in frontier:
        try:
            json.loads(text)
        except ValueError:
            continue
        if text.startswith(prefix) and not text.endswith(".") and text.lstrip("-")[:1] and \
                not (len(text.lstrip("-")) > 1 and text.lstrip("-")[0] == "0" and text.lstrip("-")[1].isdigit()):
            yield text


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["-", "0", "1", "12", "-3", "5.", "0.0", "2.5", "-0.", "70", "1.25"]),
       st.one_of(st.none(), st.integers(-30, 30)), st.integers(0, 40), st.booleans(), st.booleans(),
       st.booleans(), st.booleans())
def test_number_prefix_pruning_is_sound(prefix, lo, width, integer, lo_excl, hi_excl, exponent):
    """Any extension (≤ 3 more characters) that meets the bounds keeps the prefix viable,
    with JSON spellings (exponent) or plain ones (no exponent; integers bare)."""
    lexical = integer and not exponent
    assume(not lexical or "." not in prefix)
    bounds = Bounds(None if lo is None else Fraction(lo), lo_excl,
                    None if lo is None else Fraction(lo + width), hi_excl)
    state = None
    for ch in prefix.encode():
        state = number_step(state, ch, lexical, exponent)
    viable = prefix_viable(prefix, state, bounds, integer, lexical, None, exponent)
    witnesses = [t for t in _extensions(prefix, 3) if value_ok(t, bounds, integer)
                 and (exponent or "e" not in t) and (not lexical or "." not in t)]
    if witnesses:
        assert viable, (prefix, bounds, integer, exponent, witnesses[:3])


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["-", "0", "1", "12", "-3", "5.", "0.0", "2.5", "-0.", "10", "1.2", "20"]),
       st.lists(st.sampled_from(["0", "1", "12", "-3", "0.12", "120", "2.5", "25", "-0.3", "1.25", "7"]),
                min_size=1, max_size=4), st.booleans(), st.booleans(), st.booleans())
def test_number_enum_pruning_is_sound(prefix, values, integer, lexical, exponent):
    assume(not lexical or ("." not in prefix))
    candidates = Candidates(tuple(Fraction(v) for v in values))
    state = None
    for ch in prefix.encode():
        state = number_step(state, ch, lexical, exponent)
    viable = prefix_viable(prefix, state, Bounds(), integer or lexical, lexical, candidates, exponent)
    for text in _extensions(prefix, 3):
        if (lexical and ("." in text or "e" in text)) or (not exponent and "e" in text):
            continue
        if (integer or lexical) and not value_ok(text, Bounds(), True):
            continue
        if any(Fraction(text) == c for c in candidates.values):
            assert viable, (prefix, values, text)


def test_number_prefix_pruning_rejects_dead_prefixes():
    small = Bounds(Fraction(1), False, Fraction(5), False)
    assert not prefix_viable("7", 2, small, True, False, None)       # 7·10^k never in [1, 5]
    assert not prefix_viable("-", 0, small, False, False, None)
    assert prefix_viable("50", 2, small, True, False, None)          # 50e-1 = 5
    assert not prefix_viable("6", 2, small, True, True, None)        # draft-04 integer: no exponent
    assert prefix_viable("2", 2, Bounds(), True, False, Candidates((Fraction(25),)))
    assert not prefix_viable("3", 2, Bounds(), False, False, Candidates((Fraction(25), Fraction(2, 10))))
    assert prefix_viable("20", 2, Bounds(), False, False, Candidates((Fraction(2, 10),)))   # 20e-2
    assert not prefix_viable("20", 2, Bounds(), True, True, Candidates((Fraction(2),)))     # no exponent


# ---- keywords one by one ---------------------------------------------------------------------

def test_object_keys_any_order_required_and_duplicates():
    c = json_schema({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                     "required": ["a", "b"], "additionalProperties": False})
    assert c.accepts(b'{"a": 1, "b": "x"}') and c.accepts(b'{"b": "x", "a": 1}')
    assert not c.accepts(b'{"a": 1}')                      # required, enforced at "}"
    assert c.viable(b'{"a": 1') and not c.viable(b'{"a": 1}')
    assert not c.viable(b'{"a": 1, "a"')                   # duplicate key
    assert not c.viable(b'{"c')                            # no property starts with c
    assert not c.viable(b'{"a": 1, "b": "x", ')            # nothing left to add
    assert not c.accepts(b'{"\\u0061": 1, "b": "x"}')      # compact writes printable ASCII literally, as json.dumps does
    loose = json_schema({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                         "required": ["a", "b"], "additionalProperties": False}, whitespace="any")
    assert loose.accepts(b'{"\\u0061": 1, "b": "x"}')      # keys compare decoded
    assert not loose.viable(b'{"\\u0061": 1, "a"')         # ... so this is a duplicate


def test_whitespace_conventions():
    schema = {"type": "object", "properties": {"a": {"type": "array"}}}
    compact, minified, loose = (json_schema(schema, whitespace=w) for w in ("compact", "minified", "any"))
    assert compact.accepts(b'{"a": [1, 2]}') and not compact.accepts(b'{"a":[1,2]}')
    assert minified.accepts(b'{"a":[1,2]}') and not minified.accepts(b'{"a": [1, 2]}')
    assert loose.accepts(b' {\n  "a" :[1 ,\t2]\r\n}\n') and not compact.accepts(b' {"a": []}')
    assert not loose.viable(b'{"a": [1 2')
    with pytest.raises(ConstraintError, match="whitespace"):
        json_schema(schema, whitespace="pretty")


def test_strings_lengths_escapes_and_unicode():
    c = json_schema({"type": "string", "minLength": 2, "maxLength": 3})
    assert c.accepts(b'"ab"') and not c.accepts(b'"a"') and not c.viable(b'"abcd')
    assert c.accepts('"é\\n"'.encode()) and c.accepts(b'"\\ud83d\\ude00a"')   # a pair is one character
    assert not c.viable(b'"\xff') and not c.viable(b'"\xe2\x28')             # invalid UTF-8
    assert c.viable(b'"\xe2\x82') and c.accepts(b'"\xe2\x82\xac\xe2\x82\xac"')
    assert not c.viable(b'"a\nb"') and not c.viable(b'"\\x')                 # control char, bad escape


def test_enum_const_and_early_rejection():
    c = json_schema({"enum": ["red", "green", 3, None, {"k": [1]}]})
    assert all(c.accepts(t) for t in (b'"red"', b'"green"', b'3', b'3.0', b'null', b'{"k": [1]}'))
    assert not c.viable(b'"re"x') and not c.viable(b'"blue') and not c.viable(b'4')
    assert not c.accepts(b'{"k": [2]}') and not c.viable(b'true')
    assert json_schema({"const": False}).accepts(b"false") and not json_schema({"const": False}).viable(b"t")


def test_numbers_bounds_integers_and_multiples():
    c = json_schema({"type": "integer", "minimum": 1, "maximum": 5}, numbers="json")
    assert c.accepts(b"5") and c.accepts(b"5.0") and c.accepts(b"50e-1") and not c.accepts(b"6")
    assert not c.viable(b"7") and not c.viable(b"-") and not c.viable(b"9.")
    assert c.viable(b"0") and c.viable(b"0.") and not c.accepts(b"0")        # 0.5e1 = 5 is coming
    plain = json_schema({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 50}, "x": {"type": "number", "maximum": 2.5}}})
    assert plain.numbers == "plain" and plain.accepts(b'{"n": 50, "x": 0.0000001}')
    assert not plain.viable(b'{"n": 51') and not plain.viable(b'{"n": 0') and not plain.viable(b'{"n": 5.')
    assert not plain.viable(b'{"x": 3') and not plain.viable(b'{"x": 2.6') and not plain.viable(b'{"x": 1e')
    assert plain.viable(b'{"x": 2.50') and not plain.viable(b'{"x": 2.501')
    assert plain.dumps({"x": 1e-07, "n": 3}) == b'{"x": 0.0000001, "n": 3}'
    with pytest.raises(ConstraintError, match="numbers"):
        json_schema({}, numbers="float")
    d4 = json_schema({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer",
                      "maximum": 5, "exclusiveMaximum": True})
    assert d4.accepts(b"4") and not d4.accepts(b"5") and not d4.viable(b"4.")
    m = json_schema({"type": "number", "multipleOf": 0.5, "exclusiveMaximum": 2})
    assert m.accepts(b"1.5") and not m.accepts(b"1.25") and not m.accepts(b"2")


def test_formats():
    cases = {
        "date": (["2024-02-29"], ["2023-02-29", "2024-1-01", "2024-01-01T00:00:00Z"]),
        "date-time": (["2024-01-01T10:00:00Z", "2024-01-01t10:00:00.5+01:00"], ["2024-01-01 10:00:00", "2024-01-01T25:00:00Z"]),
        "time": (["10:00:00Z"], ["10:00", "24:00:00Z"]),
        "email": (["a.b@example.com"], ["a@b@c", "no at", "a..b@x.com"]),
        "uuid": (["123e4567-e89b-12d3-a456-426655440000"], ["123e4567-e89b-12d3-a456-42665544000"]),
        "ipv4": (["192.168.0.1"], ["256.1.1.1", "1.2.3"]),
        "uri": (["https://example.com/a?b=c#d", "urn:isbn:0451450523"], ["not a uri", ".", "http://exa mple.com"]),
        "hostname": (["example.com", "localhost"], ["exa mple.com", "example.com:8080", "-a.com"]),
    }
    for name, (good, bad) in cases.items():
        c = json_schema({"type": "string", "format": name})
        for value in good:
            assert c.accepts(json.dumps(value).encode()), (name, value)
        for value in bad:
            assert not c.accepts(json.dumps(value).encode()), (name, value)
    assert not json_schema({"format": "date"}).viable(b'"2024-13')            # pruned while streaming
    assert json_schema({"format": "no-such-format"}).annotation_formats == {"no-such-format"}


def test_pattern_pruning_and_search_semantics():
    c = json_schema({"type": "string", "pattern": "^[a-z]+[0-9]$"})
    assert c.accepts(b'"ab1"') and not c.viable(b'"A') and not c.viable(b'"ab12')
    unanchored = json_schema({"type": "string", "pattern": "b+"})
    assert unanchored.accepts(b'"abba"') and unanchored.viable(b'"xyz') and not unanchored.accepts(b'"xyz"')


def test_combinators_and_refs():
    one = json_schema({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]})
    assert one.accepts(b"1") and one.accepts(b"2.5") and not one.accepts(b"3")   # 3 matches both
    anyof = json_schema({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "array"}]})
    assert anyof.accepts(b'"a"') and anyof.accepts(b"[1]") and not anyof.viable(b'"ab') and not anyof.viable(b"{")
    allof = json_schema({"allOf": [{"properties": {"a": {"minimum": 3}}}, {"required": ["a"]}]})
    assert allof.accepts(b'{"a": 4}') and not allof.accepts(b'{}') and not allof.viable(b'{"a": 2}')
    tree = json_schema({"$defs": {"node": {"type": "object", "properties": {
        "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "additionalProperties": False}}, "$ref": "#/$defs/node"})
    assert tree.accepts(b'{"v": 1, "kids": [{"v": 2, "kids": [{"kids": []}]}]}')
    assert not tree.viable(b'{"kids": [{"kids": [{"w')
    nullable = json_schema({"type": ["string", "null"]})
    assert nullable.accepts(b"null") and nullable.accepts(b'"x"') and not nullable.viable(b"1")
    assert json_schema(True).accepts(b'{"anything": [1]}')
    with pytest.raises(ConstraintError, match="accepts no JSON value"):
        json_schema({"not": {}})


def test_arrays_prefix_items_and_bounds():
    c = json_schema({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                     "items": False, "minItems": 1})
    assert c.accepts(b'["a", 1]') and c.accepts(b'["a"]') and not c.accepts(b"[]")
    assert not c.viable(b'[1') and not c.viable(b'["a", 1, ')
    old = json_schema({"$schema": "http://json-schema.org/draft-07/schema#",
                       "items": [{"type": "string"}], "additionalItems": {"type": "integer"}, "maxItems": 3})
    assert old.accepts(b'["a", 1, 2]') and not old.viable(b'["a", "b"') and not old.viable(b'["a", 1, 2, ')
    unique = json_schema({"type": "array", "uniqueItems": True})
    assert unique.accepts(b"[1, 2]") and not unique.accepts(b"[1, 1]")


def test_pattern_properties_and_additional_schema():
    c = json_schema({"type": "object", "patternProperties": {"^x-": {"type": "integer"}},
                     "additionalProperties": {"type": "string"}, "maxProperties": 2})
    assert c.accepts(b'{"x-a": 1, "b": "s"}') and not c.viable(b'{"x-a": "s"')
    assert not c.viable(b'{"b": 1') and not c.viable(b'{"a": "1", "b": "2", ')
    closed = json_schema({"type": "object", "patternProperties": {"^x-\\d+$": {}}, "additionalProperties": False})
    assert closed.viable(b'{"x-1') and not closed.viable(b'{"y') and not closed.viable(b'{"x-a')


def test_states_are_immutable_values():
    """The constraint contract (semantics.check_constraint), alone and in a conjunction."""
    c = json_schema({"type": "object", "properties": {"a": {"type": "string"}}})
    strings = ['{"a": "x"}', '{"a": "y"}', '{"a": "x"}x', '{"a": "\\u00e9\\"é"}', '{"a": 1}', "{}"]
    assert check_constraint(c, strings, chunkings=6).accepted == 4
    s1 = c.advance(c.start(), b'{"a": "')
    assert c.advance(c.start(), b'{"a": "') == s1 and hash(c.advance(c.start(), b'{"a": "')) == hash(s1)
    both = c & json_schema({"type": "object", "required": ["a"]})
    assert both.accepts(b'{"a": "x"}') and not both.accepts(b"{}")
    assert check_constraint(both, strings).accepted == 3


def test_pattern_property_keys_have_a_shortest_completion():
    """Found by semantics.check_constraint on JSONSchemaBench Handwritten---pnmp2: keys allowed only by
    patternProperties used to get no completion."""
    c = json_schema({"type": "object", "patternProperties": {"^[0-9]$": {"type": "integer"}}, "additionalProperties": False})
    check_constraint(c, ['{"1": 2}', '{"x": 2}', '{"1": 2, "1x"'], vocabulary=[])
    assert c.shortest_completion(c.advance(c.start(), b'{"')) == b'0": 0}'
    assert c.shortest_completion(c.advance(c.start(), b'{"1": 2, "1')) == b'\\n": 0}'  # re.search's $ before a final newline


def test_contradictory_bounds_are_an_empty_language_error():
    """Found by semantics.check_constraint on generated schemas: an allOf of contradictory array bounds compiled."""
    for schema in ({"allOf": [{"type": "array", "maxItems": 0}, {"type": "array", "minItems": 1}]},
                   {"allOf": [{"type": "array", "minItems": 3}, {"maxItems": 1}]},
                   {"allOf": [{"type": "string", "maxLength": 1}, {"minLength": 2}]},
                   {"type": "object", "maxProperties": 1, "required": ["a", "b"]},
                   {"allOf": [{"type": "object", "minProperties": 2}, {"maxProperties": 1}]},
                   {"enum": ["abc"], "maxLength": 2},
                   {"type": "object", "patternProperties": {"^a\\Z": {}}, "additionalProperties": False,
                    "minProperties": 2},  # (with "^a$", {"a": 0, "a\\n": 0}: `$` matches before a final newline)
                   {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2}):
        assert not _truth(schema, [0, 0]) and not _truth(schema, "ab")
        with pytest.raises(ConstraintError, match=r"accepts no JSON value.*\(keyword '.*' at '/'\)"):
            json_schema(schema)
    # one alternative empty, the other not: compiles, and the empty one takes nothing
    c = json_schema({"anyOf": [{"type": "array", "minItems": 3, "maxItems": 1}, {"type": "string", "maxLength": 1}]})
    assert c.accepts(b'"a"') and not c.viable(b"[") and not c.viable(b'"ab')


_BOUNDS = {"array": ("minItems", "maxItems", [[0] * n for n in range(5)]),
           "string": ("minLength", "maxLength", ["a" * n for n in range(5)]),
           "object": ("minProperties", "maxProperties", [{k: 0 for k in "abcd"[:n]} for n in range(5)])}


def _bounded(kind: str, low: int | None, high: int | None) -> dict:
    low_name, high_name, _ = _BOUNDS[kind]
    return {**({} if low is None else {low_name: low}), **({} if high is None else {high_name: high})}


def test_bounds_across_allof_branches_brute_force():
    """allOf of two branches with size bounds (arrays, strings, objects, also with `required`), at the root
    and under a property: the schema compiles exactly when `jsonschema` finds some value valid, accepts
    exactly the valid values (every size up to 4, and other types), and a property whose schema admits no
    value dies at its key's closing quote."""
    rng = random.Random(0)
    sizes = [None, 0, 1, 3]
    others = [None, True, 0, "", [], {}]
    checked = {"empty": 0, "compiled": 0}
    for kind in _BOUNDS:
        for a, b, c, d in rng.sample(list(itertools.product(sizes, repeat=4)), 60):
            first = {"type": kind, **_bounded(kind, a, b)}
            second = _bounded(kind, c, d)
            if kind == "object" and rng.random() < 0.3:
                second["required"] = ["a", "b"]
            schema = {"allOf": [first, second]}
            values = _BOUNDS[kind][2] + others
            nested = {"type": "object", "properties": {"x": schema}}
            try:
                constraint = json_schema(schema, whitespace="minified")
            except ConstraintError as err:
                assert "accepts no JSON value" in str(err) and not any(_truth(schema, v) for v in values), schema
                outer = json_schema(nested, whitespace="minified")
                assert outer.accepts(b"{}") and not outer.viable(b'{"x":'), schema
                checked["empty"] += 1
                continue
            checked["compiled"] += 1
            shortest = constraint.shortest_completion(constraint.start())
            assert shortest is not None and _truth(schema, json.loads(shortest)), (schema, shortest)
            for value in values:
                text = json.dumps(value, separators=(",", ":")).encode()
                assert constraint.accepts(text) == _truth(schema, value), (schema, value)
    assert min(checked.values()) >= 20, checked


def test_bad_schemas_name_keyword_and_path():
    with pytest.raises(ConstraintError, match=r"minLength.*'/properties/a/minLength'|'minLength' at '/properties/a"):
        json_schema({"properties": {"a": {"minLength": -1}}})
    with pytest.raises(ConstraintError, match=r"keyword '\$ref' at '/properties/b/\$ref'"):
        json_schema({"properties": {"b": {"$ref": "#/definitions/missing"}}})
    with pytest.raises(ConstraintError, match=r"keyword '\$dynamicRef' at '/items/\$dynamicRef'"):
        json_schema({"items": {"$dynamicRef": "#meta"}})
    relaxed = json_schema({"items": {"$dynamicRef": "#meta"}}, relax=True)
    assert relaxed.unsupported == ("$dynamicRef at /items/$dynamicRef",)
    with pytest.raises(ConstraintError, match=r"keyword 'pattern' at '/pattern'"):
        json_schema({"pattern": "\\p{L}"})
    with pytest.raises(ConstraintError, match=r"cycle.*keyword .\$ref. at ./\$defs/a."):
        json_schema({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}},
                     "$ref": "#/$defs/a"}).viable(b"1")
    with pytest.raises(ConstraintError, match="not JSON"):
        json_schema("{not json")


def test_key_prefix_ending_inside_a_character_is_checked():
    """A closed key set also prunes prefixes that end inside a UTF-8 sequence or a \\u escape."""
    c = json_schema({"type": "object", "properties": {"passengers": {"type": "integer"}, "café": {"type": "integer"},
                                                      "\U0001F600": {"type": "integer"}},
                     "additionalProperties": False})
    start = c.start()
    dead = [b'{"pa\xc3', b'{"\\u00e', b'{"caf\\u00f', b'{"\xe2', b'{"\xf0\x9f\x99', b'{"pa\xe0', b'{"\xf4', b'{"\\u0070as']
    alive = [b'{"pa', b'{"caf\xc3', b'{"caf\\u00e', b'{"caf\\u0', b'{"\xf0\x9f\x98', b'{"\\ud83d']
    for prefix in dead:
        assert c.advance(start, prefix) is None, prefix
    for prefix in alive:
        assert c.advance(start, prefix) is not None, prefix
    for document in ['{"café": 1}', '{"caf\\u00e9": 2}', '{"\U0001F600": 3}', '{"\\ud83d\\ude00": 4}']:
        assert c.accepts(document.encode()), document


# ---- strings of a closed set (enum/const values, keys) against brute force --------------------

_SHORT_ESCAPES = {'"': b'\\"', "\\": b"\\\\", "\b": b"\\b", "\f": b"\\f", "\n": b"\\n", "\r": b"\\r",
                  "\t": b"\\t", "/": b"\\/"}


def _char_spellings(char: str, canonical: bool) -> list[bytes]:
    """Every way a JSON string may write `char`: raw, short escape, \\u escape(s) with hex digits
    in either case; `canonical` (compact/minified) leaves out escapes of printable ASCII other than '"' and '\\'."""
    code = ord(char)
    printable = 0x20 <= code < 0x7F and char not in '"\\'
    out = []
    if code >= 0x20 and char not in '"\\' and not 0xD800 <= code < 0xE000:
        out.append(char.encode())
    if char in _SHORT_ESCAPES and not (canonical and printable):
        out.append(_SHORT_ESCAPES[char])
    if not (canonical and printable):
        units = [code] if code < 0x10000 else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
        cased = [sorted({"\\u" + "".join(d) for d in itertools.product(*({c, c.upper()} for c in f"{u:04x}"))})
                 for u in units]
        out += ["".join(parts).encode() for parts in itertools.product(*cased)]
    return out


def _spelled_prefixes(strings, canonical: bool) -> tuple[set[bytes], set[bytes]]:
    """All prefixes of all spellings '"..."' of the strings, and the complete spellings."""
    prefixes, complete = set(), set()
    for string in strings:
        for parts in itertools.product(*(_char_spellings(c, canonical) for c in string)):
            text = b'"' + b"".join(parts) + b'"'
            complete.add(text)
            prefixes.update(text[:i] for i in range(1, len(text) + 1))
    return prefixes, complete


def _assert_exact_on_strings(constraint, lead: bytes, strings) -> int:
    """After `lead`, a string of the closed set `strings`: every prefix of every spelling is viable
    and each one-byte extension is viable exactly when it is still a prefix of some spelling
    (in particular when it ends inside a UTF-8 character, a \\u escape or after a backslash)."""
    prefixes, complete = _spelled_prefixes(strings, constraint.whitespace != "any")
    for string in strings:  # json.dumps's spellings are among them
        for ascii_only in (True, False):
            try:
                dumped = json.dumps(string, ensure_ascii=ascii_only).encode()
            except UnicodeEncodeError:
                continue  # a lone surrogate has no raw UTF-8 spelling
            assert dumped in complete, (string, dumped)
    states = {b"": constraint.advance(constraint.start(), lead)}
    checked = 0
    for prefix in sorted(prefixes, key=len):
        states[prefix] = constraint.advance(states[prefix[:-1]], prefix[-1:])
        assert states[prefix] is not None, lead + prefix
        if prefix in complete:
            continue
        for byte in range(256):
            expected = prefix + bytes([byte]) in prefixes
            assert (constraint.advance(states[prefix], bytes([byte])) is not None) == expected, (lead + prefix, byte)
            checked += 1
    return checked


ENUM_STRINGS = ["é", "ë", "日本", "a\"b", "\U0001F600x", "\U0001F680", "ab", "A/\\", "\n\x7f"]


@pytest.mark.parametrize("whitespace", ["compact", "any"])
def test_enum_strings_pending_characters_exact(whitespace):
    """enum with mixed types: a string prefix ending inside a pending character is viable
    exactly when some enum string can still be spelled from it."""
    c = json_schema({"enum": ENUM_STRINGS + [1, None, 2.5]}, whitespace=whitespace)
    assert _assert_exact_on_strings(c, b"", ENUM_STRINGS) > 0
    assert c.accepts(b"1") and c.accepts(b"null") and not c.viable(b"3")


def test_const_and_anyof_string_enums_pending_characters_exact():
    const = json_schema({"const": "x\U0001F600/\u00e9"}, whitespace="minified")
    _assert_exact_on_strings(const, b"", ["x\U0001F600/\u00e9"])
    branches = {"anyOf": [{"enum": ["é", 7]}, {"const": "日本"}, {"type": "string", "enum": ["\U0001F601", "\U0001F680"]}]}
    _assert_exact_on_strings(json_schema(branches), b"", ["é", "日本", "\U0001F601", "\U0001F680"])
    lone = json_schema({"enum": ["\ud83dx", "\U0001F300"]}, whitespace="any")   # a lone high surrogate, then "x"
    _assert_exact_on_strings(lone, b"", ["\ud83dx", "\U0001F300"])
    nested = json_schema({"type": "object", "properties": {"k": {"enum": ["é", "日本"]}}})
    _assert_exact_on_strings(nested, b'{"k": ', ["é", "日本"])


def test_closed_keys_pending_characters_exact():
    names = ["café", "日本", "\U0001F600", "a\"b"]
    for whitespace in ("compact", "any"):
        c = json_schema({"type": "object", "properties": {name: {} for name in names},
                         "additionalProperties": False}, whitespace=whitespace)
        _assert_exact_on_strings(c, b"{", names)


def test_container_enums_and_canonical_escapes():
    """const objects holding strings are checked when they close; needless escapes (\\/, \\u0041)
    are refused under compact/minified, in values and keys alike, and accepted under "any"."""
    c = json_schema({"enum": [{"k": "é", "n": ["日本"]}, "é", 3]})
    texts = [json.dumps(value, ensure_ascii=ascii_only) for value in ({"k": "é", "n": ["日本"]}, "é", 3) for ascii_only in (True, False)]
    assert check_constraint(c, texts).accepted == len(texts)  # each accepted, every prefix viable
    assert not c.accepts(b'{"k": "\\u00eb", "n": ["\\u65e5\\u672c"]}') and not c.viable(b'"\\u00eb')
    schema = {"type": "object", "properties": {"a/b": {"type": "string"}}}
    compact, minified, loose = (json_schema(schema, whitespace=w) for w in ("compact", "minified", "any"))
    for doc in (b'{"a\\/b": "x"}', b'{"a/b": "\\/"}', b'{"a/b": "\\u0041"}', b'{"\\u0061/b": "x"}'):
        assert not compact.accepts(doc) and not minified.accepts(doc.replace(b": ", b":")) and loose.accepts(doc), doc
    assert compact.accepts(b'{"a/b": "\\u00e9\\"\\\\\\n\\u0022"}')


def test_pending_character_counts_toward_max_length():
    c = json_schema({"type": "string", "maxLength": 1})
    assert not c.viable(b'"a\\') and not c.viable(b'"a\xc3') and not c.viable(b'"a\\u00')
    assert c.viable(b'"\\ud83d\\') and c.accepts(b'"\\ud83d\\ude00"') and not c.viable(b'"\\ud83d\\ude00\\')


# ---- patterns with lookarounds and word boundaries ----------------------------------------------

_ALPHABET = "ain_ "


def _texts(length: int):
    for size in range(length + 1):
        for chars in itertools.product(_ALPHABET, repeat=size):
            yield "".join(chars)


def _random_patterns(rng: random.Random, count: int) -> list[str]:
    """Small patterns mixing lookarounds (with anchors inside), \\b, \\B, \\Z and anchors."""
    import re
    atoms = ["a", "n", "i", "_", ".", "\\w", "[a-n]", "a*", "n+", "(?:an|i)", "\\b", "\\B"]
    inner = atoms + ["$", "\\Z", "^"]
    looks = ["(?={})", "(?!{})", "(?<=a)", "(?<!n)", "(?<=\\w)", "(?<!\\b)"]
    found = []
    while len(found) < count:
        body = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 3)))
        look = rng.choice(looks)
        look = look.format("".join(rng.choice(inner) for _ in range(rng.randint(1, 3)))) if "{}" in look else look
        at = rng.randint(0, len(body))
        pattern = rng.choice(["", "^"]) + body[:at] + look + body[at:] + rng.choice(["", "$", "\\b", "\\B", "\\Z"])
        try:
            re.compile(pattern)
        except re.error:
            continue
        found.append(pattern)
    return found


def test_pattern_prefixes_with_lookarounds_and_boundaries_brute_force():
    """Every prefix of every string (alphabet of 5, up to 4 characters) that `re.search`
    matches is viable, and exactly those strings are accepted, for `pattern` and for keys
    under `patternProperties`."""
    import re
    patterns = [r"^(?!in$)[a-z_]+$", r"^in\B", r"\bin\b", r"(?<=a)a*$", r"^(?!.*aa)[a-z]+$", r"\b",
                r"^(?=.*n$)", r"^\w+(?<!_)$"] + _random_patterns(random.Random(11), 60)
    texts = list(_texts(4))
    for pattern in patterns:
        compiled = re.compile(pattern)
        value = json_schema({"type": "string", "pattern": pattern})
        keys = json_schema({"type": "object", "patternProperties": {pattern: {"type": "integer"}},
                            "additionalProperties": False})
        for text in texts:
            matches = compiled.search(text) is not None
            assert value.accepts(json.dumps(text).encode()) == matches, (pattern, text)
            assert keys.accepts(json.dumps({text: 1}).encode()) == matches, (pattern, text)
            if matches:
                for end in range(len(text) + 1):
                    assert value.viable(b'"' + text[:end].encode()), (pattern, text[:end])
                    assert keys.viable(b'{"' + text[:end].encode()), (pattern, text[:end])


def test_lookahead_anchor_keeps_pruning_elsewhere():
    """The issue's case: `integer` is accepted, `in` refused at its close; prefixes that no
    continuation can match are still pruned at their first character."""
    constraint = json_schema({"type": "string", "pattern": "^(?!in$)[a-z_]+$"})
    assert constraint.accepts(b'"integer"') and constraint.viable(b'"in')
    assert not constraint.accepts(b'"in"')
    assert not constraint.viable(b'"I')


def test_prefix_pattern_relaxes_only_what_it_must():
    from constraints.json.json_patterns import prefix_pattern
    assert prefix_pattern(r"^(?!in$)[a-z_]+$") == r"^(?:)[a-z_]+$"
    assert prefix_pattern(r"^\bab\B[\b(?=x)]$") == r"^(?:)ab(?:)[\b(?=x)]$"  # classes untouched
    assert prefix_pattern(r"^a(?<=(?:a))\d") == r"^a(?:)\d"
    assert prefix_pattern(r"^(?=(a))\1") is None  # a capture a backreference may use
    assert prefix_pattern(r"(?x) a (?=b)") is None
    assert prefix_pattern(r"(?x) a b") == r"(?x) a b"
    assert prefix_pattern(r"^\d{3}-\d{4}$") == r"^\d{3}-\d{4}$"


def test_exponent_numbers_accepted_where_the_number_mode_allows():
    """`json.dumps` writes small and large floats with an exponent: accepted under
    numbers="json" (the default for whitespace="any"), refused under "plain" (the default
    for generation), where `c.dumps` writes the plain spelling."""
    schema = {"type": "object", "properties": {"x": {"type": "number", "maximum": 1}}}
    document = {"x": 1e-06}
    assert json.dumps(document) == '{"x": 1e-06}'
    assert json_schema(schema, numbers="json").accepts(json.dumps(document).encode())
    assert json_schema(schema, whitespace="any").accepts(json.dumps(document, indent=2).encode())
    plain = json_schema(schema)
    assert not plain.accepts(json.dumps(document).encode())
    assert plain.accepts(plain.dumps(document))
    assert not json_schema(schema, numbers="json").accepts(json.dumps({"x": 1e+20}).encode())
