"""Random queries of the SQL constraint's language, to test it against sqlite.

A random walk over tokens: at each step the parser's expected terminals pick candidate
tokens from a vocabulary (keywords, operators, the schema's names, a few aliases and
literals), the constraint's own parser keeps those it accepts, and one is drawn; the end
of the query becomes likelier as it grows. Tokens are laid out with random whitespace and
letter case, so samples exercise the layout freedom too. Every sample is accepted by the
constraint by construction; running it on sqlite checks the constraint's soundness.
`mutants` makes corrupted (and re-laid-out) copies of real queries, whose sqlite verdict the
constraint must match.
"""
from __future__ import annotations

import random
import re

from constraints.sql.sql_lexer import BLOB, DQ, EOF, ID, KEYWORD_TOKENS, NUM, QID, STR, Token
from constraints.sql.sql_scope import Sem

_OPERATORS = ["(", ")", ",", ".", ";", "*", "=", "==", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "/", "%",
              "||", "&", "|", "<<", ">>", "~"]
_ALIASES = ["T1", "T2", "T3", "a", "b", "x", "cnt"]
_NUMBERS = ["0", "1", "2", "3", "10", "2.5", "1e3", "0x1F", "100"]
_STRINGS = ["a", "%a%", "it's", "x", "_"]
_CLOSERS = (")", "END", EOF, ";")
_OPENERS = ("(", "CASE", "CAST", "EXISTS", "REPLACE")
# Rarer terminals get less weight, so that samples look like queries and end.
_WEIGHTS = {term: 0.15 for term in ("CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "BLOB", "~", "COLLATE",
                                    "ISNULL", "NOTNULL", "REPLACE", "CAST", "EXISTS", "CASE", "IS", "GLOB",
                                    "ESCAPE", "NULLS", "NATURAL", "CROSS", "RIGHT", "FULL", "USING")}
_WEIGHTS.update({op: 0.2 for op in ("*", "=", "==", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "/", "%", "||",
                                    "&", "|", "<<", ">>", "AND", "OR", "NOT", "BETWEEN", "LIKE", "IN")})
_WEIGHTS["("] = 0.4


class RandomQueries:
    """Draws random accepted queries of `constraint` (an SqlConstraint)."""

    def __init__(self, constraint, max_tokens: int = 60):
        self.constraint = constraint
        self.parser = constraint.parser
        self.max_tokens = max_tokens
        schema = constraint.schema
        names = [t.name for t in schema.tables] + [c for t in schema.tables for c in t.columns] + _ALIASES
        words = names + sorted(constraint.scope.functions) + ["nocase", "rtrim", "true", "text", "integer"]
        self.vocabulary: dict[str, list[Token]] = {}
        for keyword, token in KEYWORD_TOKENS.items():
            self.vocabulary[keyword] = [token]
        for op in _OPERATORS:
            self.vocabulary[op] = [Token(op, op)]
        self.vocabulary[ID] = [Token(ID, n) for n in dict.fromkeys(words) if _bare(n)]
        self.vocabulary[DQ] = [Token(DQ, n) for n in dict.fromkeys(names)] + [Token(DQ, "some text")]
        self.vocabulary[QID] = [Token(QID, n) for n in dict.fromkeys(names)]
        self.vocabulary[STR] = [Token(STR, s) for s in _STRINGS + _ALIASES[:2]]
        self.vocabulary[NUM] = [Token(NUM, n, integer=n.isdigit() or n.startswith("0x")) for n in _NUMBERS]
        self.vocabulary[BLOB] = [Token(BLOB, "0aff")]
        self.vocabulary[EOF] = [Token(EOF)]

    def tokens(self, rng: random.Random) -> list[Token] | None:
        """A random token sequence the parser accepts to its end, or None if the walk got stuck.

        Each step orders the expected terminals at random (by weight) and takes the first
        that has a vocabulary token the parser accepts, trying that terminal's tokens in a
        random order: the walk is uniform over terminals, not over tokens.
        """
        stack, sem = self.parser.start_stack, Sem(())
        out: list[Token] = []
        depth = 0
        for _ in range(4 * self.max_tokens):
            over = len(out) >= self.max_tokens
            keyed = []
            for term in sorted(self.parser.expected(stack)):
                if term == EOF:
                    weight = 50.0 if over else 0.03 * len(out)
                elif over:
                    weight = 20.0 if term in _CLOSERS else 0.05
                else:
                    weight = _WEIGHTS.get(term, 1.0)
                    if term in _OPENERS:
                        weight /= (1 + max(depth, 0)) ** 2
                if weight > 0:
                    keyed.append((rng.random() ** (1.0 / weight), term))
            chosen = None
            for _, term in sorted(keyed, reverse=True):
                tokens = self.vocabulary.get(term, ())
                for token in rng.sample(tokens, len(tokens)):
                    fed = self.parser.feed(stack, sem, token)
                    if fed is not None:
                        chosen = token, fed
                        break
                if chosen:
                    break
            if chosen is None:
                return None
            token, (stack, sem) = chosen
            if token.term == EOF:
                return out
            depth += (token.term in _OPENERS) - (token.term in (")", "END"))
            out.append(token)
        return None

    def sample(self, rng: random.Random) -> str | None:
        """A random query text accepted by the constraint (None if a walk got stuck)."""
        tokens = self.tokens(rng)
        if tokens is None:
            return None
        for _ in range(5):
            text = render(tokens, rng)
            if self.constraint.accepts(text.encode()):
                return text
        text = render(tokens, random.Random(0), plain=True)
        if not self.constraint.accepts(text.encode()):
            raise AssertionError(f"the parser accepted tokens whose text the constraint refuses: {text!r}")
        return text


def _bare(name: str) -> bool:
    return name.replace("_", "a").isalnum() and not name[0].isdigit() and name.upper() not in KEYWORD_TOKENS


def render(tokens: list[Token], rng: random.Random, plain: bool = False) -> str:
    """Token texts joined by random whitespace (single spaces when `plain`), in random case."""
    parts = []
    for i, token in enumerate(tokens):
        if i:
            parts.append(" " if plain else rng.choice([" ", " ", " ", "  ", "\n", "\t", ""]))
        parts.append(_text(token, rng, plain))
    return "".join(parts)


def _text(token: Token, rng: random.Random, plain: bool) -> str:
    term, text = token.term, token.text
    if term in KEYWORD_TOKENS:
        return text if plain else rng.choice([text, text.lower(), text.capitalize()])
    if term == ID:
        return text if plain else rng.choice([text, text, text.lower(), text.upper()])
    if term == DQ:
        return '"' + text.replace('"', '""') + '"'
    if term == QID:
        return "`" + text.replace("`", "``") + "`" if plain or rng.random() < 0.5 else "[" + text + "]"
    if term == STR:
        return "'" + text.replace("'", "''") + "'"
    if term == BLOB:
        return "X'" + text + "'"
    return text


# -- corrupted copies of real queries ---------------------------------------------------------

_SPAN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|<=|>=|!=|<>|\S""")


def mutants(query: str, schema, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, text) corruptions of `query`: a renamed column, a table that does not exist,
    a dropped keyword, a broken string, a qualifier that names no table, a deleted token;
    and re-laid-out copies (whitespace and letter case), which sqlite still accepts."""
    spans = [(m.start(), m.end()) for m in _SPAN.finditer(query)]
    columns = {c.lower() for t in schema.tables for c in t.columns}
    tables = {t.name.lower() for t in schema.tables}
    known = columns | tables

    def replace(span, text):
        return query[:span[0]] + text + query[span[1]:]

    def pick(predicate):
        found = [s for s in spans if predicate(query[s[0]:s[1]], s)]
        return rng.choice(found) if found else None

    def fresh(word):
        for suffix in ("x", "s", "_1", "zz"):
            if (word + suffix).lower() not in known:
                return word + suffix
        return word + "qq"

    out = []
    span = pick(lambda w, s: w.lower() in columns and w.lower() not in tables and query[s[1]:s[1] + 1] != "(")
    if span:
        word = query[span[0]:span[1]]
        out.append(("renamed column", replace(span, fresh(word[:-1]) if len(word) > 3 and rng.random() < 0.5 else fresh(word))))
    span = pick(lambda w, s: w.lower() in tables)
    if span:
        out.append(("unknown table", replace(span, fresh(query[span[0]:span[1]]))))
    span = pick(lambda w, s: w.upper() in KEYWORD_TOKENS)
    if span:
        out.append(("dropped keyword", query[:span[0]] + query[span[1]:].lstrip()))
    span = pick(lambda w, s: w[0] in "'\"" and len(w) > 1)
    if span:
        out.append(("broken string", query[:span[1] - 1] + query[span[1]:]))
    span = pick(lambda w, s: query[s[1]:s[1] + 1] == "." and w[0].isalpha())
    if span:
        out.append(("unknown qualifier", replace(span, "Q9")))
    if spans:
        span = rng.choice(spans)
        out.append(("deleted token", query[:span[0]] + query[span[1]:]))
    out.append(("layout", _relayout(query, spans, rng)))
    return out


def _relayout(query: str, spans: list, rng: random.Random) -> str:
    """The same tokens with other whitespace between them and keywords in other case."""
    parts = []
    for i, (start, end) in enumerate(spans):
        word = query[start:end]
        if word.upper() in KEYWORD_TOKENS:
            word = rng.choice([word.upper(), word.lower(), word.capitalize()])
        if i:
            glued = spans[i - 1][1] == start
            gap = "" if glued else rng.choice([" ", "  ", "\n", "\t ", " \n  "])
            parts.append(gap)
        parts.append(word)
    return "".join(parts)
