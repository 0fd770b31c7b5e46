"""Lark constraints against Lark itself: acceptance equals `Lark(parser="earley",
lexer="dynamic").parse` success on random strings and on sampled sentences; prefixes of
accepted strings stay viable; dead prefixes have no accepted completion; states are
immutable and chunking does not matter; grammar errors name their place."""
from __future__ import annotations

import itertools
import random
import sys
from collections import defaultdict, deque

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from constraints.base import ConstraintError
from constraints.grammar.lark_grammar import lark
from constraints.regular.regex import compile_regex
from semantics import check_constraint

ARITH = r"""
?start: sum
?sum: product | sum "+" product | sum "-" product
?product: atom | product "*" atom | product "/" atom
?atom: NUMBER | "-" atom | "(" sum ")"
%import common.NUMBER
%import common.WS_INLINE
%ignore WS_INLINE
"""

JSON = r"""
start: value
?value: dict | list | ESCAPED_STRING | SIGNED_NUMBER | "true" | "false" | "null"
list : "[" [value ("," value)*] "]"
dict : "{" [pair ("," pair)*] "}"
pair : ESCAPED_STRING ":" value
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

LEFT_LIST = r"""
start: list
list: list "," ITEM | ITEM
ITEM: /[a-z]+/
"""

AMBIGUOUS = r"""
start: e
e: e "+" e | e e | "a" | "b" |
"""

KEYWORDS = r"""
start: stmt+
stmt: "if"i NAME ":" | NAME "=" (NUMBER | ESCAPED_STRING) | "é" NAME
NAME: /[a-zé_][a-z0-9_é]*/
%import common.NUMBER
%import common.ESCAPED_STRING
%import common.WS
%ignore WS
"""

COLLISION = r"""
start: NAME "x" | NAME "-" NAME
NAME: /[a-z]+/
"""

GRAMMARS = {
    "arith": (ARITH, "12+-*/() .e"),
    "json": (JSON, '[]{},:"1-.e tn\\a'),
    "left_list": (LEFT_LIST, "ab,x"),
    "ambiguous": (AMBIGUOUS, "ab+ "),
    "keywords": (KEYWORDS, 'iF x=1:é" '),
    "collision": (COLLISION, "abx-"),
}

_COMPILED: dict = {}


def compiled(name: str):
    if name not in _COMPILED:
        _COMPILED[name] = lark(GRAMMARS[name][0])
    return _COMPILED[name]


def lark_accepts(constraint, text: str) -> bool:
    try:
        constraint.parser.parse(text)
        return True
    except Exception:  # lark's UnexpectedInput family
        return False


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_short_strings_agree_with_lark(name):
    """Every string up to length 4 over the grammar's alphabet (exhaustive, exact)."""
    constraint = compiled(name)
    alphabet = GRAMMARS[name][1][:8]
    for length in range(5):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            assert constraint.accepts(text.encode()) == lark_accepts(constraint, text), (name, text)


@SETTINGS
@given(st.sampled_from(sorted(GRAMMARS)), st.data())
def test_random_strings_agree_with_lark(name, data):
    constraint = compiled(name)
    text = data.draw(st.text(alphabet=GRAMMARS[name][1], max_size=14))
    assert constraint.accepts(text.encode()) == lark_accepts(constraint, text), (name, text)


@SETTINGS
@given(st.sampled_from(sorted(GRAMMARS)), st.data())
def test_any_chunking_gives_the_same_answers(name, data):
    """The constraint contract (semantics.check_constraint): viability after each chunk and final acceptance do
    not depend on how bytes are grouped into tokens (chunks may end inside a character or a tentative match),
    states are immutable, viable prefixes complete; and acceptance is Lark's."""
    constraint = compiled(name)
    text = data.draw(st.text(alphabet=GRAMMARS[name][1], max_size=12))
    check_constraint(constraint, [text], vocabulary=[], chunkings=2, seed=data.draw(st.integers(0, 2 ** 16)))
    assert constraint.accepts(text.encode()) == lark_accepts(constraint, text)


TERMINAL_POOL = ['"a"', '"b"', '"ab"', "/a+/", "/b*a/", "/[ab]+?/", "/a|ab/", "/(ab)*b/", '"c"i',
                 "/a{1,2}/", "/(?<!a)b/", "/[^ ]/", "/a*?b/", "/(a|)+b/"]


@st.composite
def small_grammars(draw):
    """Random grammars over greedy, lazy, alternative and lookbehind terminals, with EBNF
    operators, nullable rules, recursion and sometimes `%ignore`."""
    terminals = draw(st.lists(st.sampled_from(TERMINAL_POOL), min_size=1, max_size=4, unique=True))
    symbols = [f"T{i}" for i in range(len(terminals))] + ["x", "y"]
    lines = [f"T{i}: {t}" for i, t in enumerate(terminals)]
    for name in ["start", "x", "y"]:
        expansions = draw(st.lists(st.lists(st.tuples(st.sampled_from(symbols),
                                                      st.sampled_from(["", "", "?", "*", "+"])),
                                            max_size=3), min_size=1, max_size=3))
        lines.append(f"{name}: " + " | ".join(" ".join(s + op for s, op in e) for e in expansions))
    if draw(st.booleans()):
        lines.append('%ignore " "')
    return "\n".join(lines) + "\n"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_grammars(), st.lists(st.text(alphabet="abc ", min_size=4, max_size=9), max_size=10))
def test_random_grammars_agree_with_lark(grammar, longer):
    try:
        constraint = lark(grammar)
    except ConstraintError:
        return  # grammars Lark refuses, or whose language is empty
    texts = ["".join(t) for n in range(4) for t in itertools.product("abc ", repeat=n)] + longer
    for text in texts:
        assert constraint.accepts(text.encode()) == lark_accepts(constraint, text), (grammar, text)


class SentenceSampler:
    """Random near-sentences of a Lark grammar: rules expanded at random, terminals by random
    walks on their regex automata, `%ignore` text sprinkled between terminals."""

    def __init__(self, constraint):
        parser = constraint.parser
        self.rules = defaultdict(list)
        for rule in parser.rules:
            self.rules[rule.origin.name].append([(s.name, s.is_term) for s in rule.expansion])
        self.patterns = {t.name: t.pattern.to_regexp() for t in parser.terminals}
        self.ignores = list(parser.ignore_tokens)
        self.dfas = {}
        self.depth = self._min_depths()

    def _min_depths(self):
        depth = {}
        changed = True
        while changed:
            changed = False
            for name, expansions in self.rules.items():
                for expansion in expansions:
                    if all(term or sym in depth for sym, term in expansion):
                        d = 1 + max([depth[s] for s, t in expansion if not t] or [0])
                        if d < depth.get(name, 10 ** 9):
                            depth[name] = d
                            changed = True
        return depth

    def terminal(self, name: str, rng: random.Random) -> str:
        if name not in self.dfas:
            self.dfas[name] = compile_regex(self.patterns[name])
        dfa = self.dfas[name]
        state, out = dfa.start, b""
        for _ in range(rng.randint(1, 6)):
            options = [b for b in rng.sample(range(128), 128) + list(range(128, 256))
                       if dfa.step(state, b) is not None]
            if not options or (state.accepting and rng.random() < 0.4):
                break
            out += bytes([options[0]])
            state = dfa.step(state, options[0])
        queue, seen = deque([(state, out)]), set()
        while queue:  # shortest completion to an accepted string
            current, path = queue.popleft()
            if current.accepting:
                return path.decode()
            for b in range(256):
                nxt = dfa.step(current, b)
                if nxt is not None and id(nxt) not in seen:
                    seen.add(id(nxt))
                    queue.append((nxt, path + bytes([b])))
        raise AssertionError(name)

    def sentence(self, start: str, rng: random.Random, budget: int = 12) -> str:
        out = []

        def expand(symbol: str, is_term: bool, depth: int):
            if is_term:
                if self.ignores and rng.random() < 0.3:
                    out.append(self.terminal(rng.choice(self.ignores), rng))
                out.append(self.terminal(symbol, rng))
                return
            options = self.rules[symbol]
            if depth >= budget:
                options = [o for o in options if all(t or self.depth[s] <= 2 for s, t in o)] or options
                options = [min(options, key=lambda o: max([self.depth[s] for s, t in o if not t] or [0]))]
            for sym, term in rng.choice(options):
                expand(sym, term, depth + 1)

        expand(start, False, 0)
        if self.ignores and rng.random() < 0.3:
            out.append(self.terminal(rng.choice(self.ignores), rng))
        return "".join(out)


@SETTINGS
@given(st.sampled_from(sorted(GRAMMARS)), st.integers(0, 2 ** 32))
def test_sampled_sentences_agree_with_lark_and_their_prefixes_are_viable(name, seed):
    constraint = compiled(name)
    sampler = SentenceSampler(constraint)
    start = constraint.parser.options.start[0]
    text = sampler.sentence(start, random.Random(seed))
    data = text.encode()
    expected = lark_accepts(constraint, text)
    assert constraint.accepts(data) == expected, (name, text)
    # every prefix of an accepted string is viable; a rejected one's longest viable prefix completes
    check_constraint(constraint, [data], vocabulary=[], chunkings=0)


def _witness(constraint, state, alphabet: str, depth: int):
    queue = deque([(state, "")])
    while queue:
        current, path = queue.popleft()
        if constraint.is_accepting(current):
            return path
        if len(path) < depth:
            for ch in alphabet:
                nxt = constraint.advance(current, ch.encode())
                if nxt is not None:
                    queue.append((nxt, path + ch))
    return None


@pytest.mark.parametrize("name, alphabet, longest", [
    ("arith", "1+() ", 3), ("json", '[]{}:,"1', 2), ("left_list", "ab,", 3), ("keywords", "if=1: ", 3),
])
def test_viability_is_exact_on_short_prefixes(name, alphabet, longest):
    """Viable prefixes have a completion Lark accepts; dead ones have none (small alphabet)."""
    constraint = compiled(name)
    for length in range(longest + 1):
        for chars in itertools.product(alphabet, repeat=length):
            prefix = "".join(chars)
            state = constraint.advance(constraint.start(), prefix.encode())
            if state is not None:
                witness = _witness(constraint, state, alphabet, 6)
                assert witness is not None and lark_accepts(constraint, prefix + witness), (name, prefix)
            elif length == 2:
                for more in range(3):
                    for tail in itertools.product(alphabet, repeat=more):
                        assert not lark_accepts(constraint, prefix + "".join(tail)), (name, prefix, tail)


def test_chunking_does_not_matter_and_states_are_immutable():
    constraint = compiled("json")
    text = '{"name": "Zoë", "tags": [1, -2.5e3, true, null], "nested": {"k": "a\\"b"}}'
    report = check_constraint(constraint, [text, '{"a": 1}', '{"a": 1]', '{"a": 1, "b": 2}'], chunkings=20, longest_chunk=6)
    assert report.accepted == 3 and report.masks > 0


def test_tokens_may_split_multibyte_characters():
    constraint = compiled("keywords")
    data = "é x é_2=\"ñ\"".encode()
    assert lark_accepts(constraint, data.decode())
    for cut in range(1, len(data)):
        state = constraint.advance(constraint.start(), data[:cut])
        assert state is not None
        assert constraint.is_accepting(constraint.advance(state, data[cut:]))
    assert not constraint.viable(b"\xc3\x28")


def test_left_recursion_and_ambiguity():
    left = compiled("left_list")
    many = ",".join(["ab"] * 200).encode()
    assert left.accepts(many) and not left.accepts(many + b",")
    ambiguous = compiled("ambiguous")
    for text in ["", "ab", "a+b+ab", "+", "aaaa+bbbb"]:
        assert ambiguous.accepts(text.encode()) == lark_accepts(ambiguous, text), text


def test_terminal_collisions_follow_lark():
    """Lark's dynamic lexer gives each terminal the text `re.match` gives it: NAME swallows
    the "x" the grammar wants next, so "abx" is rejected although a CFG would accept it."""
    collision = compiled("collision")
    for text in ["abx", "ab-cd", "x", "a-b", "ab-x"]:
        assert collision.accepts(text.encode()) == lark_accepts(collision, text), text
    assert not collision.accepts(b"abx") and collision.accepts(b"ab-cd")
    assert collision.viable(b"ab-")


def test_lazy_terminal_and_escaped_strings():
    constraint = compiled("json")
    for text in ['"a"', '"a\\"b"', '"a"b"', '"\\\\"', '"\\\\\\""', '["a","b"]', '"a\nb"']:
        assert constraint.accepts(text.encode()) == lark_accepts(constraint, text), text


def test_priorities_do_not_change_the_language():
    grammar = 'start: A | B\nA.2: "ab"\nB: /a./\n%ignore " "'
    constraint = lark(grammar)
    for text in ["ab", "ac", "a", "abc", " ab "]:
        assert constraint.accepts(text.encode()) == lark_accepts(constraint, text), text


def test_other_start_rule():
    constraint = lark(JSON, start="pair")
    assert constraint.accepts(b'"k": [1]') and not constraint.accepts(b"[1]")


@pytest.mark.parametrize("grammar, message", [
    ('start: ("a"', "line 1, column 12"),
    ('start: "a"\nfoo bar', "line 2, column 5"),
    ('start: "a" b', r"'b' used but not defined.*|line 1, column 12"),
    ("start: A\nA: /a?/", "zero-width"),
    ("start: x\n%import common.NOPE", "NOPE|x"),
])
def test_invalid_grammar_names_the_place(grammar, message):
    with pytest.raises(ConstraintError, match="invalid Lark grammar") as info:
        lark(grammar)
    assert __import__("re").search(message, str(info.value)), str(info.value)


def test_undefined_rule_is_located():
    with pytest.raises(ConstraintError, match="line 2, column 9"):
        lark('start: "a"\n  | "b" missing')


def test_unsupported_terminal_regex_names_the_terminal():
    with pytest.raises(ConstraintError, match=r"Lark terminal WORD .*lookahead"):
        lark("start: WORD\nWORD: /a(?=b)b/")
    with pytest.raises(ConstraintError, match=r"Lark terminal END .*end anchor"):
        lark("start: END\nEND: /a$/")


def test_declared_but_undefined_terminal_is_refused():
    with pytest.raises(ConstraintError, match="Lark terminal A is declared"):
        lark('start: A | "b"\n%declare A')


def test_unknown_start_rule_and_empty_language():
    with pytest.raises(ConstraintError):
        lark(JSON, start="nope")
    with pytest.raises(ConstraintError, match="derives no string"):
        lark("start: a\na: a \"x\"")
    with pytest.raises(ConstraintError, match="nothing is accepted"):
        lark("start: A\nA: /(?<=x)a/")


def test_deep_right_recursion_completes_without_overflow():
    """The last item completes every level of `list` at once; with the recursion limit
    lowered below the depth, completion must not recurse per level."""
    constraint = lark('start: list\nlist: ITEM | ITEM "," list\nITEM: /[a-z]+/')
    text = ",".join(["ab"] * 500).encode()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        assert constraint.accepts(text) and not constraint.accepts(text + b",")
    finally:
        sys.setrecursionlimit(limit)


def test_terminal_lookbehind_sees_the_text_before_it():
    """Lark runs `re.match(text, position)`, so a lookbehind at a terminal's start sees the
    previous terminal's last character."""
    constraint = lark('start: ("x" | "y") A\nA: /(?<=x)a/')
    for text in ["xa", "ya", "a"]:
        assert constraint.accepts(text.encode()) == lark_accepts(constraint, text), text
    assert constraint.accepts(b"xa") and not constraint.viable(b"ya")
