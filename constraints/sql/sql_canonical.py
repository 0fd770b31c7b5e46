"""Rewrite a SQL query into the SQL constraint's layout, to compare hand-written queries with it.

The layout: tokens separated by single spaces, except no space after "(" or around ".",
none before ")" "," ";", and an aggregate name glued to its "(" (see docs/sql.md). Names
are respelled as in the schema (sqlite compares them case-insensitively), table aliases
T1..Tn are upper-cased, and double-quoted strings that name no column become single-quoted
string literals (sqlite's own fallback for them). Keywords keep their case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from constraints.sql.sql_grammar import AGGREGATES, SQLITE_KEYWORDS, render_name
from constraints.sql.sql_schema import Schema

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<dquoted>"(?:[^"]|"")*")
    | (?P<bquoted>`[^`]*`|\[[^\]]*\])
    | (?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|<>|==|\|\||[=<>+\-*/(),.;%])
    )""",
    re.VERBOSE,
)
_NO_SPACE_BEFORE = {")", ",", ".", ";"}
_NO_SPACE_AFTER = {"(", "."}
_OPERATORS = {"=", "==", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", ",", "||"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string, name, number, word, op
    text: str


class CanonicalizeError(ValueError):
    """The query has a character no SQL token starts with; the message gives its position."""


def canonical_sql(query: str, schema: Schema, *, respell: bool = True) -> str:
    """`query` rewritten into the constraint's layout and the schema's spelling of names.

    With `respell=False` only the spacing changes (names, aliases and quotes as written).
    """
    tokens = _tokens(query)
    if respell:
        tokens = _respell(tokens, schema)
    out: list[str] = []
    previous: _Token | None = None
    for index, token in enumerate(tokens):
        text = token.text
        if previous is None:
            out.append(text)
        elif text in _NO_SPACE_BEFORE and token.kind == "op":
            out.append(text)
        elif previous.kind == "op" and previous.text in _NO_SPACE_AFTER:
            out.append(text)
        elif previous.kind == "op" and previous.text == "-" and _unary_minus(tokens, index - 1):
            out.append(text)
        elif text == "(" and previous.kind == "word" and previous.text.upper() in AGGREGATES:
            out.append(text)
        else:
            out.append(" " + text)
        previous = token
    return "".join(out)


def _unary_minus(tokens: list[_Token], index: int) -> bool:
    """The "-" at `index` negates the number after it (it follows no operand)."""
    if index + 1 >= len(tokens) or tokens[index + 1].kind != "number":
        return False
    if index == 0:
        return True
    before = tokens[index - 1]
    if before.kind == "op":
        return before.text in _OPERATORS
    return before.kind == "word"  # a keyword such as BETWEEN, AND, THEN


def _tokens(query: str) -> list[_Token]:
    tokens, position = [], 0
    query = query.rstrip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise CanonicalizeError(f"unexpected character {query[position]!r} at position {position}")
        kind = match.lastgroup
        text = match.group(kind)
        if kind == "bquoted":
            kind, text = "dquoted", '"' + text[1:-1].replace('"', '""') + '"'
        tokens.append(_Token(kind, text))
        position = match.end()
    return tokens


def _respell(tokens: list[_Token], schema: Schema) -> list[_Token]:
    """Names in the schema's spelling, aliases T1..Tn upper-cased, dquoted strings resolved."""
    tables = {t.name.lower(): t.name for t in schema.tables}
    columns: dict[str, str] = {}
    for table in schema.tables:
        for column in table.columns:
            columns.setdefault(column.lower(), column)
    out = []
    for i, token in enumerate(tokens):
        after_from = i > 0 and tokens[i - 1].text.upper() in ("FROM", "JOIN")
        before_dot = i + 1 < len(tokens) and tokens[i + 1].text == "."
        if token.kind in ("word", "dquoted"):
            raw = token.text if token.kind == "word" else token.text[1:-1].replace('""', '"')
            keyword = token.kind == "word" and raw.upper() in SQLITE_KEYWORDS
            function = i + 1 < len(tokens) and tokens[i + 1].text == "(" and raw.upper() in AGGREGATES
            if keyword or function:
                out.append(token)
                continue
            key = raw.lower()
            if (after_from or before_dot) and key in tables:
                out.append(_Token("name", render_name(tables[key])))
                continue
            if before_dot and re.fullmatch(r"t[0-9]+", key):
                out.append(_Token("name", key.upper()))
                continue
            if not after_from and key in columns:
                out.append(_Token("name", render_name(columns[key])))
                continue
            if token.kind == "dquoted":
                out.append(_Token("string", "'" + raw.replace("'", "''") + "'"))
                continue
            if key in tables:
                out.append(_Token("name", render_name(tables[key])))
                continue
            if re.fullmatch(r"t[0-9]+", key) and i > 0 and tokens[i - 1].text.upper() == "AS":
                out.append(_Token("name", key.upper()))
                continue
        out.append(token if token.kind != "dquoted" else _Token("string", token.text))
    return out
