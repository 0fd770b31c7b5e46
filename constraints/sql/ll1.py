"""A table-driven LL(1) parser with semantic actions and immutable states, fed one token at a time.

The grammar is text: `rule : alternative | alternative`, one rule per line (a line that
starts with `|` continues the rule above). Symbols: lowercase names are nonterminals,
UPPERCASE names and quoted `'...'` strings are terminals, `$` is the end of input, and
`@name` is a semantic action. An action runs when the parser reaches it: right after
the terminal before it (it then sees that token as `last`), or, when it follows a
nonterminal that derived nothing, while the next token is being predicted. An action
returns the new semantic value, or None to reject the input there.

Prediction is LL(1): a conflict is a grammar error unless the rule is named in `greedy`,
where the alternative written first wins over a later one and a non-empty alternative over
the empty one (as a dangling `else` binds to the nearest `if`); a `greedy` rule must be
written so that what the other reading would have accepted is accepted as well.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

EOF = "$"
_SYMBOL = re.compile(r"'[^']+'|\||@\w+|\$|\w+")


@dataclass(frozen=True)
class Action:
    """A semantic action: `run(sem)` -> sem or None (the token just read is `sem.last`);
    `prefix(sem, (term, text))` says whether a token of class `term` starting with `text`,
    read just before the action, could pass it."""

    name: str
    run: Callable[[Any], Any]
    prefix: Callable[[Any, tuple], bool] | None = None


class GrammarError(ValueError):
    """The grammar text is malformed or not LL(1)."""


class LL1:
    """The prediction table of a grammar, and the stepping functions over (stack, sem) states.

    A stack is a linked list `(symbol, rest)`; nonterminals are ints, terminals strings,
    actions `Action`s.
    """

    def __init__(self, text: str, actions: dict[str, Action], start: str, greedy: frozenset = frozenset()):
        self.rules = _parse(text)
        if start not in self.rules:
            raise GrammarError(f"no rule {start!r}")
        self.names = names = list(self.rules)
        self.index = {name: i for i, name in enumerate(names)}
        undefined = {s for alts in self.rules.values() for alt in alts for s in alt
                     if s[0].islower() and s not in self.rules}
        if undefined:
            raise GrammarError(f"undefined rules: {sorted(undefined)}")
        missing = {s[1:] for alts in self.rules.values() for alt in alts for s in alt
                   if s[0] == "@" and s[1:] not in actions}
        if missing:
            raise GrammarError(f"undefined actions: {sorted(missing)}")
        self.terminals = sorted({s for alts in self.rules.values() for alt in alts for s in alt
                                 if not s[0].islower() and s[0] != "@"})
        self.nullable, self.first = self._first_sets()
        self.follow = self._follow_sets(start)
        self.table: list[dict[str, tuple]] = []
        self.default: list[tuple | None] = []
        conflicts = []
        for name in names:
            row: dict[str, tuple] = {}
            default = None
            for alternative in self.rules[name]:
                encoded = tuple(self._encode(s, actions) for s in alternative)
                first, nullable = self._first_of(alternative)
                for terminal in first:
                    if terminal in row and row[terminal] != encoded:
                        if name in greedy:
                            continue  # the alternative written first wins
                        conflicts.append(f"{name}: {terminal!r} starts two alternatives")
                    row[terminal] = encoded
                if nullable:
                    if default is not None:
                        conflicts.append(f"{name}: two alternatives derive nothing")
                    default = encoded
            if default is not None and name not in greedy:
                overlap = self.follow[name] & {t for t, alt in row.items() if alt != default}
                if overlap:
                    conflicts.append(f"{name}: {sorted(overlap)} both start an alternative and follow the rule")
            self.table.append({t: tuple(reversed(alt)) for t, alt in row.items()})
            self.default.append(tuple(reversed(default)) if default is not None else None)
        if conflicts:
            raise GrammarError("not LL(1): " + "; ".join(conflicts))
        self.start_stack = (self.index[start], None)
        self._nullable_ids = frozenset(self.index[name] for name in self.nullable)
        self._expected: dict[tuple, frozenset] = {}

    def _encode(self, symbol: str, actions: dict[str, Action]):
        if symbol[0] == "@":
            return actions[symbol[1:]]
        if symbol[0].islower():
            return self.index[symbol]
        return symbol

    def _first_of(self, symbols) -> tuple[set, bool]:
        first: set = set()
        for s in symbols:
            if s[0] == "@":
                continue
            if not s[0].islower():
                first.add(_terminal(s))
                return first, False
            first |= self.first[s]
            if s not in self.nullable:
                return first, False
        return first, True

    def _first_sets(self):
        nullable: set = set()
        first: dict[str, set] = {name: set() for name in self.rules}
        changed = True
        while changed:
            changed = False
            for name, alternatives in self.rules.items():
                for alternative in alternatives:
                    found, empty = self._first_of_partial(alternative, first, nullable)
                    if not found <= first[name]:
                        first[name] |= found
                        changed = True
                    if empty and name not in nullable:
                        nullable.add(name)
                        changed = True
        return nullable, first

    @staticmethod
    def _first_of_partial(symbols, first, nullable):
        found: set = set()
        for s in symbols:
            if s[0] == "@":
                continue
            if not s[0].islower():
                found.add(_terminal(s))
                return found, False
            found |= first[s]
            if s not in nullable:
                return found, False
        return found, True

    def _follow_sets(self, start: str) -> dict[str, set]:
        follow: dict[str, set] = {name: set() for name in self.rules}
        changed = True
        while changed:
            changed = False
            for name, alternatives in self.rules.items():
                for alternative in alternatives:
                    symbols = [s for s in alternative if s[0] != "@"]
                    for i, s in enumerate(symbols):
                        if not s[0].islower():
                            continue
                        rest_first, rest_nullable = self._first_of(symbols[i + 1:])
                        add = set(rest_first) | (follow[name] if rest_nullable else set())
                        if not add <= follow[s]:
                            follow[s] |= add
                            changed = True
        return follow

    # -- running ------------------------------------------------------------------------

    def feed(self, stack, sem, token):
        """The (stack, sem) after `token`, or None if the grammar or an action rejects it."""
        term = token.term
        table, default = self.table, self.default
        while stack is not None:
            symbol, rest = stack
            kind = type(symbol)
            if kind is int:
                production = table[symbol].get(term)
                if production is None:
                    production = default[symbol]
                    if production is None:
                        return None
                stack = rest
                for s in production:
                    stack = (s, stack)
            elif kind is str:
                if symbol != term:
                    return None
                stack = rest
                sem = sem.after_token(token)
                while stack is not None and type(stack[0]) is Action:
                    sem = stack[0].run(sem)
                    if sem is None:
                        return None
                    stack = stack[1]
                return stack, sem
            else:
                sem = symbol.run(sem)
                if sem is None:
                    return None
                stack = rest
        return None

    def feed_prefix(self, stack, sem, term: str, text: str) -> bool:
        """Whether some token of class `term` whose text starts with `text` can come next."""
        context = self.prefix_context(stack, sem, term)
        if context is None:
            return False
        action, sem = context
        return action is None or action.prefix(sem, (term, text))

    def prefix_context(self, stack, sem, term: str):
        """Where a token of class `term` would be read next: None if it cannot come next,
        else (the action that checks it, or None if none does, the semantic value there)."""
        table, default = self.table, self.default
        while stack is not None:
            symbol, rest = stack
            kind = type(symbol)
            if kind is int:
                production = table[symbol].get(term)
                if production is None:
                    production = default[symbol]
                    if production is None:
                        return None
                stack = rest
                for s in production:
                    stack = (s, stack)
            elif kind is str:
                if symbol != term:
                    return None
                if rest is not None and type(rest[0]) is Action and rest[0].prefix is not None:
                    return rest[0], sem
                return None, sem
            else:
                sem = symbol.run(sem)
                if sem is None:
                    return None
                stack = rest
        return None

    def expected(self, stack) -> frozenset:
        """The terminals that may come next, by the grammar alone (actions not consulted)."""
        symbols = []
        while stack is not None:
            symbol, stack = stack
            kind = type(symbol)
            if kind is str:
                symbols.append(symbol)
                break
            if kind is int:
                symbols.append(symbol)
                if symbol not in self._nullable_ids:
                    break
        key = tuple(symbols)
        found = self._expected.get(key)
        if found is None:
            terminals: set = set()
            for symbol in key:
                terminals |= {symbol} if type(symbol) is str else self.first[self.names[symbol]]
            found = self._expected[key] = frozenset(terminals)
        return found


def _terminal(symbol: str) -> str:
    return symbol[1:-1] if symbol[0] == "'" else symbol


def _parse(text: str) -> dict[str, list[list[str]]]:
    rules: dict[str, list[list[str]]] = {}
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("|"):
            if current is None:
                raise GrammarError(f"line {number}: '|' before any rule")
            body = line
        else:
            name, colon, body = line.partition(":")
            name = name.strip()
            if not colon or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise GrammarError(f"line {number}: expected 'rule : ...', got {raw!r}")
            if name in rules:
                raise GrammarError(f"line {number}: rule {name!r} defined twice")
            current = name
            rules[current] = []
        alternative: list[str] = []
        symbols = _SYMBOL.findall(body)
        if "".join(symbols).replace("|", "") != re.sub(r"\s+", "", body).replace("|", ""):
            raise GrammarError(f"line {number}: unreadable symbols in {raw!r}")
        for i, symbol in enumerate(symbols):
            if symbol == "|":
                if i > 0 or not line.startswith("|"):
                    rules[current].append(alternative)
                alternative = []
            else:
                alternative.append(_terminal(symbol))
        rules[current].append(alternative)
    return rules
