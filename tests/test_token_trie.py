"""The vocabulary trie's mask equals testing every token separately (semantics.check_constraint's mask clause)."""
from hypothesis import given, settings, strategies as st

from inference.token_trie import TokenTrie
from constraints.base import Constraint
from semantics import check_constraint


class Prefixes(Constraint):
    """Strings that are prefixes of one of a few words (a small finite language), for testing."""

    def __init__(self, words):
        self.words = [w.encode() for w in words]

    def start(self):
        return b""

    def advance(self, state, chunk):
        new = state + chunk
        return new if any(w.startswith(new) for w in self.words) else None

    def is_accepting(self, state):
        return state in self.words


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text("abc", min_size=1, max_size=4), min_size=1, max_size=30),
       st.lists(st.text("abc", min_size=1, max_size=5), min_size=1, max_size=4),
       st.text("abc", max_size=2))
def test_trie_mask_equals_per_token_checks(tokens, words, prefix):
    constraint = Prefixes(words)
    state = constraint.advance(constraint.start(), prefix.encode())
    if state is None:
        return
    vocabulary = [t.encode() for t in tokens] + [None]  # None: a special token without bytes
    # masks at every prefix of `prefix` (and of the words) equal per-token checks; the whole contract holds
    check_constraint(constraint, [prefix] + words, vocabulary=vocabulary, alphabet="abc", depth=5, mask_states=100)
    _, advances = TokenTrie(vocabulary).mask(constraint, state)
    assert advances <= sum(len(t) for t in tokens)
