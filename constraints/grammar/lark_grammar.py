"""Lark grammar constraints: byte strings that Lark's Earley parser (dynamic lexer) accepts.

The grammar is loaded by Lark itself, so EBNF, `%import`, `%ignore`, templates and terminal
flags mean exactly what they mean in Lark. Its rules and terminal regexes are then recognized
incrementally over bytes by `EarleyRecognizer`: each terminal is matched where Python's
`re.match` would end it, so the accepted language is Lark's, terminal collisions included.
"""
from __future__ import annotations

import re

import lark as lark_library
from lark.exceptions import GrammarError, LarkError, UnexpectedInput

from constraints.base import Constraint, ConstraintError
from constraints.grammar.earley import CfgSpec, EarleyRecognizer, EarleyState
from constraints.grammar.grammar_completion import GrammarCompletions
from constraints.regular.regex import compile_regex_matcher
from constraints.regular.regex_parser import RegexError
from constraints.grammar.terminal_scanner import Scanner

__all__ = ["lark", "LarkConstraint", "load_lark"]


class LarkConstraint(Constraint):
    """The strings `lark.Lark(grammar_text, parser="earley", lexer="dynamic").parse` accepts.

    States are `EarleyState`s: immutable, shareable between particles, extended by one chunk
    without re-reading the prefix. `advance` returns None when no continuation of the prefix
    can be accepted (see docs/constraints.md for the one exception: lexical lookahead).
    """

    def __init__(self, grammar_text: str, start: str = "start"):
        self.grammar_text, self.start_rule = grammar_text, start
        self.parser = load_lark(grammar_text, start)
        spec, matchers = _translate(self.parser, start)
        self.recognizer = EarleyRecognizer(spec, Scanner(matchers))
        self._completions: GrammarCompletions | None = None  # built on first use

    def start(self) -> EarleyState:
        return self.recognizer.initial

    def advance(self, state: EarleyState, chunk: bytes) -> EarleyState | None:
        return self.recognizer.advance(state, chunk)

    def is_accepting(self, state: EarleyState) -> bool:
        return state.accepting

    def shortest_completion(self, state: EarleyState) -> bytes | None:
        """The shortest derivation finishing the parse (grammar_completion.py: exact as a derivation;
        Lark's lexical side conditions are left out, so its length is then a lower bound)."""
        if self._completions is None:
            self._completions = GrammarCompletions(self.recognizer)
        return self._completions.text(state)

    def neutral_bytes(self, state: EarleyState) -> frozenset | None:
        """Inside a token, the bytes every running terminal loops on (the text of a string literal)."""
        if self._completions is None:
            self._completions = GrammarCompletions(self.recognizer)
        return self._completions.neutral(state)

    def min_completion_bytes(self, state: EarleyState) -> int | None:
        if self._completions is None:
            self._completions = GrammarCompletions(self.recognizer)
        length = self._completions.shortest(state)[0]
        return None if length == float("inf") else int(length)

    def __repr__(self) -> str:
        return f"lark(<{len(self.parser.rules)} rules>, start={self.start_rule!r})"


def lark(grammar_text: str, start: str = "start") -> LarkConstraint:
    """The constraint "the whole output parses with this Lark grammar from rule `start`"."""
    return LarkConstraint(grammar_text, start)


def load_lark(grammar_text: str, start: str = "start") -> lark_library.Lark:
    """Lark's Earley parser with the dynamic lexer; grammar errors become ConstraintError."""
    if not isinstance(grammar_text, str):
        raise ConstraintError(f"Lark grammar must be a str, got {type(grammar_text).__name__}")
    try:
        return lark_library.Lark(grammar_text, parser="earley", lexer="dynamic", start=start)
    except UnexpectedInput as err:
        first = str(err).strip().splitlines()[0]
        raise ConstraintError(f"invalid Lark grammar at line {err.line}, column {err.column}: {first}") from None
    except (GrammarError, LarkError) as err:
        raise ConstraintError(f"invalid Lark grammar{_locate(grammar_text, str(err))}: {err}") from None
    except Exception as err:  # e.g. a malformed terminal regex reported by the regex module
        raise ConstraintError(f"invalid Lark grammar: {type(err).__name__}: {err}") from None


def _locate(grammar_text: str, message: str) -> str:
    """' at line L, column C' for the first name the message quotes, if the grammar has it."""
    for name in re.findall(r"'([A-Za-z_][A-Za-z_0-9]*)'", message):
        found = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", grammar_text)
        if found:
            line = grammar_text.count("\n", 0, found.start()) + 1
            column = found.start() - (grammar_text.rfind("\n", 0, found.start()) + 1) + 1
            return f" at line {line}, column {column}"
    return ""


def _translate(parser: lark_library.Lark, start: str):
    """The grammar as a CfgSpec plus one priority matcher per scanner entry."""
    definitions = {t.name: t for t in parser.terminals}
    flags = parser.options.g_regex_flags
    compiled: dict[str, object] = {}

    def matcher(name: str):
        if name not in compiled:
            definition = definitions.get(name)
            if definition is None:
                raise ConstraintError(f"Lark terminal {name} is declared (%declare) but never defined; "
                                      "Lark's dynamic lexer cannot match it")
            pattern = definition.pattern.to_regexp()
            try:
                compiled[name] = compile_regex_matcher(pattern, flags)
            except RegexError as err:
                raise ConstraintError(f"Lark terminal {name} (regex {pattern!r}): {err.reason} "
                                      f"at position {err.position}") from None
        return compiled[name]

    nonterminals: dict[str, int] = {}
    entries: list[str] = []
    entry_of: dict[str, int] = {}

    def nt_id(name: str) -> int:
        return nonterminals.setdefault(name, len(nonterminals))

    def terminal_entry(name: str) -> int:
        if name not in entry_of:
            entry_of[name] = len(entries)
            entries.append(name)
        return entry_of[name]

    nt_id(start)
    rules = []
    for rule in parser.rules:
        rhs = tuple(~terminal_entry(s.name) if s.is_term else nt_id(s.name) for s in rule.expansion)
        rules.append((nt_id(rule.origin.name), rhs))
    ignore_entries = []
    for name in parser.ignore_tokens:
        ignore_entries.append(len(entries))
        entries.append(name)
    matchers = [matcher(name) for name in entries]
    matchable = tuple(m.nfa.live[m.nfa.start] for m in matchers)
    spec = CfgSpec(tuple(nonterminals), tuple(rules), nonterminals[start], tuple(ignore_entries), matchable)
    return spec, matchers
