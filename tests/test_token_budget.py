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


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(0, len(DOCUMENT) - 1), used=st.integers(0, 40))
def test_masks_equal_per_token_checks(builtin, cut, used):
    constraint = constraints.json_schema(SCHEMA)
    state = constraint.advance(constraint.start(), DOCUMENT[:cut]) if cut else constraint.start()
    assert state is not None
    vocabulary = tokens_of(builtin)
    trie = vocabulary_trie(builtin)
    mask, _ = trie.mask(constraint, state)
    expected = [t is not None and constraint.advance(state, t) is not None for t in vocabulary]
    assert mask.tolist() == expected
    budget = TokenBudget(constraint, 48, tokens=spelled_by(trie))
    if budget.fits(state, used):
        mask, _ = budget.token_mask(trie, (state, used))
        expected = [t is not None and budget.advance((state, used), t) is not None for t in vocabulary]
        assert mask.tolist() == expected


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


class _NoNeutral:
    """The same constraint, without its neutral bytes."""

    def __init__(self, inner):
        self.inner = inner

    def advance(self, state, chunk):
        return self.inner.advance(state, chunk)
