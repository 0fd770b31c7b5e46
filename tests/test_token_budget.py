"""Token masks with the budget and with neutral bytes equal testing every token on its own."""
import pytest
from hypothesis import given, settings, strategies as st

from constraints.token_budget import TokenBudget, spelled_by
from inference.token_trie import TokenTrie
from lm import constraints, load
from lm.generation.generation import vocabulary_trie

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
                                            "id": {"type": "integer"}, "kind": {"enum": ["a b", "cd"]}},
          "required": ["name", "id"], "additionalProperties": False}
DOCUMENT = b'{"name": "Ada \\"L\\" Lovelace \xc3\xa9t\xc3\xa9", "tags": ["x y", "ab"], "kind": "a b", "id": 1815}'


@pytest.fixture(scope="module")
def builtin():
    return load("builtin")


def tokens_of(llm):
    return [t.bytes if t is not None and not (t.is_special or t.is_eos) else None for t in llm.vocabulary.tokens]


def assert_masks_equal_per_token_checks(constraint, state, used, trie, vocabulary, max_tokens):
    """The trie mask, and the budget's mask where `state` fits after `used` tokens, equal testing each token."""
    mask, _ = trie.mask(constraint, state)
    assert mask.tolist() == [t is not None and constraint.advance(state, t) is not None for t in vocabulary]
    budget = TokenBudget(constraint, max_tokens, tokens=spelled_by(trie))
    if budget.fits(state, used):
        mask, _ = budget.token_mask(trie, (state, used))
        assert mask.tolist() == [t is not None and budget.advance((state, used), t) is not None for t in vocabulary]


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(0, len(DOCUMENT) - 1), used=st.integers(0, 40))
def test_masks_equal_per_token_checks(builtin, cut, used):
    constraint = constraints.json_schema(SCHEMA)
    state = constraint.advance(constraint.start(), DOCUMENT[:cut]) if cut else constraint.start()
    assert state is not None
    assert_masks_equal_per_token_checks(constraint, state, used, vocabulary_trie(builtin), tokens_of(builtin), 48)


def test_neutral_bytes_are_plain_string_characters():
    constraint = constraints.json_schema(SCHEMA)
    inside = constraint.advance(constraint.start(), b'{"name": "Ad')
    assert constraint.neutral_bytes(inside) == frozenset(range(0x20, 0x80)) - {0x22, 0x5C}
    assert constraint.neutral_bytes(constraint.advance(inside, b"\\")) is None  # an escape is pending
    in_enum = constraint.advance(constraint.start(), b'{"name": "", "id": 1, "kind": "a')
    assert constraint.neutral_bytes(in_enum) is None  # the enum checks the content
    assert constraint.neutral_bytes(constraint.start()) is None
    shortest = constraint.shortest_completion(inside)
    assert constraint.shortest_completion(constraint.advance(inside, b"a ~!")) == shortest == b'", "id": 0}'


def test_neutral_walk_advances_far_less_inside_a_string(builtin):
    constraint = constraints.json_schema(SCHEMA)
    state = constraint.advance(constraint.start(), b'{"name": "Ad')
    plain = TokenTrie(tokens_of(builtin))
    _, with_neutral = plain.mask(constraint, state)
    _, without = TokenTrie.mask(plain, _NoNeutral(constraint), state)
    assert with_neutral * 5 < without


def test_wrappers_generation_adds_keep_the_neutral_walk(builtin):
    """Generation wraps the constraint (token healing's owed bytes, the work counter): the walk must stay neutral."""
    from constraints.counted import Counted
    from constraints.literal_prefix import LiteralPrefix

    constraint = constraints.json_schema(SCHEMA)
    wrapped = Counted(LiteralPrefix(b"\n", constraint))
    assert wrapped.neutral_bytes(wrapped.start()) is None  # the owed newline comes first
    inner = constraint.advance(constraint.start(), b'{"name": "Ad')
    state = wrapped.advance(wrapped.start(), b'\n{"name": "Ad')
    assert wrapped.neutral_bytes(state) == constraint.neutral_bytes(inner)
    trie = TokenTrie(tokens_of(builtin))
    bare, bare_advances = trie.mask(constraint, inner)
    mask, advances = trie.mask(wrapped, state)
    assert mask.tolist() == bare.tolist() and advances == bare_advances


class _NoNeutral:
    """The same constraint, without its neutral bytes."""

    def __init__(self, inner):
        self.inner = inner

    def advance(self, state, chunk):
        return self.inner.advance(state, chunk)


SQL_DB = "/work/shared/data/spider/databases/concert_singer/concert_singer.sqlite"
QUERY = b"SELECT Name FROM singer WHERE Country = 'Neth erlands' AND Age > 20 ORDER BY Age DESC"


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(0, len(QUERY) - 1), used=st.integers(0, 30))
def test_grammar_and_regex_masks_equal_per_token_checks(builtin, cut, used):
    vocabulary = tokens_of(builtin)
    trie = vocabulary_trie(builtin)
    for constraint, text in ((_sql(), QUERY), (_regex(), b"ab1 x y zz 0-0!")):
        prefix = text[:cut % len(text)]
        state = constraint.advance(constraint.start(), prefix) if prefix else constraint.start()
        assert state is not None
        assert_masks_equal_per_token_checks(constraint, state, used, trie, vocabulary, 32)


ALIASED = (b"SELECT Name, \"zq x\" AS [y z], 'it''s' FROM singer AS zq1x JOIN concert zzq ON zq1x.Singer_ID = zzq.Year "
           b"WHERE zq1x.Country = 'Neth erlands'")


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(0, len(ALIASED) - 1), used=st.integers(0, 30))
def test_sql_masks_with_fresh_names_equal_per_token_checks(builtin, cut, used):
    """Inside fresh aliases, quoted names and strings the SQL constraint names neutral bytes: masks (with and
    without the budget) still equal testing every token."""
    constraint = constraints.sql(SQL_DB)
    state = constraint.advance(constraint.start(), ALIASED[:cut]) if cut else constraint.start()
    assert state is not None
    assert_masks_equal_per_token_checks(constraint, state, used, vocabulary_trie(builtin), tokens_of(builtin), 24)


def test_fresh_sql_names_have_neutral_bytes_and_keep_their_completion():
    constraint = constraints.sql(SQL_DB)
    at = lambda text: constraint.advance(constraint.start(), text)
    alias = at(b"SELECT Name FROM singer zq")
    assert ord("a") in constraint.neutral_bytes(alias) and ord(" ") not in constraint.neutral_bytes(alias)
    grown = at(b"SELECT Name FROM singer zqab9_")
    assert constraint.shortest_completion(grown) == constraint.shortest_completion(alias) == b""
    inherited = constraint.advance(alias, b"ab9_")  # the parent's completion carried over, as computed
    assert inherited.shortest is not None and constraint.shortest_completion(inherited) == b""
    on = at(b"SELECT Name FROM singer AS zq JOIN concert AS cc")
    assert constraint.neutral_bytes(on) is not None
    assert constraint.shortest_completion(at(b"SELECT Name FROM singer AS zq JOIN concert AS ccxy")) == \
        constraint.shortest_completion(on)
    quoted = at(b"SELECT Name FROM singer WHERE Country = 'Neth")
    assert constraint.neutral_bytes(quoted) == frozenset(range(0x20, 0x7F)) - {ord("'")}
    assert constraint.shortest_completion(at(b"SELECT Name FROM singer WHERE Country = 'Neth erla")) == \
        constraint.shortest_completion(quoted)
    for text in (b"SELECT Name FROM singer WH", b"SELECT Name FROM singer WHERE Country = '", b'SELECT "Na', b"SELECT Na", b"SELECT Name FROM singer zq WHERE z",
                 b"SELECT Name FROM singer x", b"SELECT Name FROM singer zq WHERE zq.Ag"):
        assert constraint.neutral_bytes(at(text)) is None, text


def test_string_literals_and_regex_loops_have_neutral_bytes():
    sql = _sql()
    inside = sql.advance(sql.start(), b"SELECT Name FROM singer WHERE Country = 'Neth")
    assert {ord("a"), ord(" ")} <= sql.neutral_bytes(inside) and ord("'") not in sql.neutral_bytes(inside)
    regex = _regex()
    state = regex.advance(regex.start(), b"ab1 x")
    assert ord("y") in regex.neutral_bytes(state)


_CACHE: dict = {}


def _sql():
    if "sql" not in _CACHE:
        _CACHE["sql"] = constraints.sql(SQL_DB).canonical  # a Lark grammar (the canonical SQL spelling)
    return _CACHE["sql"]


def _regex():
    if "regex" not in _CACHE:
        _CACHE["regex"] = constraints.regex(r"[a-z0-9]+( [a-z]+)* ?[0-9-]*!")
    return _CACHE["regex"]
