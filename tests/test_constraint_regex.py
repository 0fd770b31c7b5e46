"""Regex constraints against Python's `re`: whole-string acceptance, prefix viability with
witnesses that `re` confirms, match ends (Lark's cut), errors, and bounded work."""
from __future__ import annotations

import re
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from constraints.base import ConstraintError
from constraints.regular.regex import compile_regex, compile_regex_matcher, regex
from constraints.regular.regex_parser import RegexError
from semantics import check_constraint

ALPHABET = "ab1 é.\nA_"
ATOMS = ["a", "b", "1", " ", "é", ".", r"\.", "[ab]", "[^a]", "[a-c1]", r"\d", r"\w", r"\s", r"\W",
         "[é-ê]", r"\x61", r"\u00e9", "[.]", "A", r"[\n]"]
QUANTIFIERS = ["*", "+", "?", "{2}", "{1,}", "{0,2}", "{1,3}", "*?", "+?", "??", "{1,2}?", "{,2}"]


def _patterns():
    leaf = st.sampled_from(ATOMS)

    def extend(inner):
        return st.one_of(
            st.tuples(inner, inner).map(lambda p: p[0] + p[1]),
            st.tuples(inner, inner).map(lambda p: f"{p[0]}|{p[1]}"),
            inner.map(lambda p: f"({p})"),
            st.tuples(inner, st.sampled_from(QUANTIFIERS)).map(lambda p: f"(?:{p[0]}){p[1]}"),
            st.tuples(st.sampled_from(["(?<!a)", "(?<=b)", "(?<![ 1])", "(?<=[^a])"]), inner).map(lambda p: p[0] + p[1]),
        )

    body = st.recursive(leaf, extend, max_leaves=6)
    return st.tuples(st.sampled_from(["", "(?i)", "(?s)", "^"]), body,
                     st.sampled_from(["", "", "$"])).map(lambda p: "".join(p))


PATTERNS = _patterns()
TEXTS = st.text(alphabet=ALPHABET, max_size=8)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(PATTERNS, st.lists(TEXTS, min_size=1, max_size=6))
def test_accepts_equals_fullmatch(pattern, texts):
    constraint = regex(pattern) if _nonempty(pattern) else None
    for text in texts:
        expected = re.fullmatch(pattern, text) is not None
        if constraint is None:
            assert not expected
            continue
        assert constraint.accepts(text.encode()) == expected, (pattern, text)


def _nonempty(pattern: str) -> bool:
    try:
        regex(pattern)
        return True
    except ConstraintError as err:
        assert "matches no string" in str(err)
        return False


def _witness(dfa, state, limit: int = 40) -> bytes | None:
    """A shortest byte string taking `state` to acceptance (BFS over cached transitions)."""
    queue = deque([(state, b"")])
    seen = {id(state)}
    while queue:
        current, path = queue.popleft()
        if current.accepting:
            return path
        if len(path) >= limit:
            continue
        for byte in range(256):
            nxt = dfa.step(current, byte)
            if nxt is not None and id(nxt) not in seen:
                seen.add(id(nxt))
                queue.append((nxt, path + bytes([byte])))
    return None


@SETTINGS
@given(PATTERNS, TEXTS, st.integers(0, 3))
def test_viable_prefix_has_a_witness_and_dead_prefix_has_none(pattern, text, cut):
    if not _nonempty(pattern):
        return
    dfa = compile_regex(pattern)
    data = text.encode()
    prefix = data[:max(0, len(data) - cut)]  # may end inside a multi-byte character
    state = dfa.advance(dfa.start, prefix)
    if state is not None:
        witness = _witness(dfa, state)
        assert witness is not None, (pattern, prefix)
        assert re.fullmatch(pattern, (prefix + witness).decode("utf-8")), (pattern, prefix, witness)
    else:
        for completion in _short_strings("ab1 é\n", 3):
            try:
                full = (prefix + completion.encode()).decode("utf-8")
            except UnicodeDecodeError:
                continue
            assert not re.fullmatch(pattern, full), (pattern, prefix, completion)


def _short_strings(alphabet: str, length: int):
    level = [""]
    for _ in range(length + 1):
        yield from level
        level = [s + c for s in level for c in alphabet]


@SETTINGS
@given(PATTERNS.filter(lambda p: not p.endswith("$")), TEXTS)
def test_match_end_equals_re_match(pattern, text):
    """The priority automaton ends a match exactly where `re.match` does (Lark's lexer cut)."""
    matcher = compile_regex_matcher(pattern)
    data = text.encode()
    state, matched = matcher.start_after(None)
    end = 0 if matched else None
    for position, byte in enumerate(data, start=1):
        if state is None:
            break
        state, matched = matcher.step(state, byte)
        if matched:
            end = position
    found = re.match(pattern, text)
    expected = None if found is None else len(text[:found.end()].encode())
    assert end == expected, (pattern, text)


def test_prefix_inside_a_multibyte_character():
    constraint = regex("é+|x")
    assert constraint.viable("é".encode()[:1])
    assert not constraint.viable(b"\xc4")
    assert constraint.accepts("éé".encode()) and not constraint.accepts("é".encode()[:1])
    emoji = regex(r"\w\S")
    assert emoji.accepts("a😀".encode())
    assert emoji.viable("a😀".encode()[:3]) and not emoji.accepts("a😀".encode()[:3])


def test_invalid_byte_sequences_are_rejected():
    anything = regex("(?s).*")
    assert anything.accepts("ok é 😀".encode())
    assert not anything.viable(b"\xff")
    assert not anything.viable(b"\xed\xa0\x80")  # an encoded surrogate is not UTF-8


@pytest.mark.parametrize("pattern, position", [("a(b", 1), ("a)", 1), ("[a", 0), ("a**", 2), ("x{3,1}", 2)])
def test_invalid_regex_names_the_position(pattern, position):
    with pytest.raises(ConstraintError, match=f"position {position}") as info:
        regex(pattern)
    assert isinstance(info.value, RegexError) and info.value.position == position


@pytest.mark.parametrize("pattern, feature", [
    (r"(a)\1", "backreference"), ("(?P<x>a)(?P=x)", "backreference"), ("a(?=b)", "lookahead"),
    ("a(?!b)", "lookahead"), (r"(?<=ab)c", "lookbehind longer"), (r"a\b", "word boundary"),
    ("a$b", "end anchor"), ("(?>a)", "atomic"), ("a*+", "possessive"), ("(a)?(?(1)b|c)", "conditional"),
])
def test_unsupported_syntax_is_named(pattern, feature):
    with pytest.raises(ConstraintError, match=f"unsupported regex feature: {feature}"):
        regex(pattern)


def test_empty_language_is_an_error():
    with pytest.raises(ConstraintError, match="matches no string"):
        regex(r"[^\s\S]")


def test_pathological_regex_is_lazy_and_bounded():
    """(a|b)*a(a|b){40} has 2**41 DFA states; only visited ones are built, within the budget."""
    dfa = compile_regex("(a|b)*a(a|b){40}", state_budget=2_000)
    data = bytes(b"ab"[i % 3 % 2] for i in range(20_000))
    state = dfa.advance(dfa.start, data)
    assert state is not None and len(dfa._states) <= 2_001
    expected = re.fullmatch("(a|b)*a(a|b){40}", data.decode()) is not None
    assert dfa.is_accepting(state) == expected


def test_huge_repetition_is_refused():
    with pytest.raises(ConstraintError, match="repetition count"):
        regex("a{100000}")
    with pytest.raises(ConstraintError, match="too large"):
        regex("(?:(?:(?:a{1000}){1000}))")


def test_case_insensitive_follows_python():
    for pattern in ["(?i)k", "(?i)[a-z]+", "(?i)[^s]", "(?i:S)s", "(?ia)k"]:
        constraint = regex(pattern)
        for text in ["k", "K", "\u212a", "s", "S", "\u017f", "abcXYZ", "Ss", "ss"]:
            assert constraint.accepts(text.encode()) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_escapes_and_verbose_mode():
    cases = {r"\t\n\\\.\x41\u00e9\U0001F600\N{EM DASH}\101\0": "\t\n\\.Aé😀—A\0",
             r"(?x) a b  # comment" + "\n c": "abc", r"a{,2}b{": "aab{", r"[]a-]+": "]-a",
             r"(?P<n>a)(?#note)b": "ab", r"[\d\-x]": "-"}
    for pattern, text in cases.items():
        assert re.fullmatch(pattern, text)
        assert regex(pattern).accepts(text.encode()), pattern


@settings(SETTINGS, max_examples=60)
@given(PATTERNS, st.lists(TEXTS, min_size=1, max_size=4), st.integers(0, 2 ** 16))
def test_random_patterns_keep_the_constraint_contract(pattern, texts, seed):
    """semantics.check_constraint: chunking (inside UTF-8 characters too), immutable DFA states, exact completions,
    trie masks over the texts' substrings equal per-token checks."""
    if _nonempty(pattern):
        check_constraint(regex(pattern), texts, chunkings=2, mask_states=4, seed=seed)
