"""The canonical spelling of SELECT queries over one schema, as a Lark grammar (`SqlConstraint.grammar`).

One way to write each query (single spaces, T1..Tn aliases, joins along foreign keys): a
sublanguage of the SQL constraint, for tools that need a context-free grammar and for a
twist that prefers this spelling during generation.

Column references are scoped: the grammar has one family of rules per FROM clause shape
(a *scope*: a table, or a chain of tables joined along foreign keys), so the select list,
WHERE, GROUP BY, HAVING and ORDER BY of a query can only name columns of the tables in
its own FROM clause, `T1.col` only columns of the table aliased T1, and an unqualified
column only when exactly one table in scope has it. See docs/sql.md for the layout.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from constraints.base import ConstraintError
from constraints.sql.sql_schema import Schema

MAX_SCOPES = 1000  # Lark loads about a thousand rules a second; a scope costs ~90 rules

# sqlite's keywords (https://sqlite.org/lang_keywords.html): a schema name equal to one is
# written quoted, so that it can never be read as the keyword.
SQLITE_KEYWORDS = frozenset(
    """ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP
    GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT
    INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING
    NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING
    PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE
    RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN
    TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL
    WHEN WHERE WINDOW WITH WITHOUT""".split()
)

# Keywords sqlite refuses as a bare column alias (`SELECT 1 AS <word>`), found by trying each.
ALIAS_REJECTED = frozenset(
    """ADD ALL ALTER AND AS AUTOINCREMENT BETWEEN CASE CAST CHECK COLLATE COMMIT CONSTRAINT
    CREATE DEFAULT DEFERRABLE DELETE DISTINCT DROP ELSE ESCAPE EXCEPT EXISTS FOREIGN FROM GROUP
    HAVING IN INDEX INSERT INTERSECT INTO IS ISNULL JOIN LIMIT NOT NOTHING NOTNULL NULL ON OR
    ORDER PRIMARY RAISE REFERENCES RETURNING SELECT SET TABLE THEN TO TRANSACTION UNION UNIQUE
    UPDATE USING VALUES WHEN WHERE CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP""".split()
)

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
AGGREGATES = ("COUNT", "SUM", "AVG", "MIN", "MAX")


def render_name(name: str) -> str:
    """A table or column name as the grammar writes it: bare when safe, else double-quoted."""
    if _PLAIN_NAME.fullmatch(name) and name.upper() not in SQLITE_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Scope:
    """A FROM clause shape: its tables in order, aliased T1..Tn or referred to by name."""

    tables: tuple[str, ...]
    aliased: bool

    def qualifiers(self) -> tuple[str, ...]:
        if self.aliased:
            return tuple(f"T{i + 1}" for i in range(len(self.tables)))
        return tuple(render_name(t) for t in self.tables)


def scopes(schema: Schema, max_tables: int) -> list[Scope]:
    """Every single table (bare or aliased) and every join chain along foreign keys.

    A chain adds one table at a time, attached to an earlier table through a foreign key
    that this earlier occurrence has not used yet, so a table repeats (a self-join, aliased)
    only where several foreign keys link it, as Friend(student_id, friend_id) -> Highschooler.
    """
    found: dict[tuple[str, ...], None] = {}
    frontier: list[tuple[tuple[str, ...], frozenset]] = [
        ((t.name,), frozenset()) for t in schema.tables
    ]
    for _ in range(max_tables):
        grown = []
        for tables, used in frontier:
            found.setdefault(tables)
            if len(tables) == max_tables:
                continue
            for index, table in enumerate(tables):
                for number, key in enumerate(schema.foreign_keys):
                    for side, here, there in ((0, key.child, key.parent), (1, key.parent, key.child)):
                        if here != table or (index, number, side) in used:
                            continue
                        mark = {(index, number, side), (len(tables), number, 1 - side)}
                        grown.append((tables + (there,), used | mark))
        frontier = list(dict.fromkeys(grown))
        if len(found) + len({tables for tables, _ in frontier}) > MAX_SCOPES:
            raise ConstraintError(
                f"the schema has over {MAX_SCOPES} join chains of up to {max_tables} tables; "
                f"pass a smaller max_join_tables"
            )
    result = []
    for tables in found:
        result.append(Scope(tables, aliased=True))
        if len(set(tables)) == len(tables):
            result.append(Scope(tables, aliased=False))
    return result


def _lark_string(text: str, insensitive: bool = False) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' + ("i" if insensitive else "")


def _lark_regex(pattern: str) -> str:
    return "/" + pattern.replace("/", "\\/") + "/"


def _alternation(strings: list[str]) -> str:
    """A regex matching exactly `strings`, longest first so that a greedy match is the longest."""
    ordered = sorted(set(strings), key=lambda s: (-len(s), s))
    return "(?:" + "|".join(re.escape(s) for s in ordered) + ")"


def _not_words(words: frozenset[str]) -> str:
    """A regex for identifiers other than `words` (case-insensitive), without lookahead."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word.upper():
            node = node.setdefault(char, {})
        node[""] = {}

    tail = "[A-Za-z0-9_]*"
    identifier = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
    digits = set("0123456789")

    def below(node: dict, first: bool) -> str:
        letters = sorted(c for c in node if c)
        branches = [f"[{c}{c.lower()}]{below(node[c], False)}" for c in letters]
        others = (identifier if first else identifier | digits) - set("".join(letters).upper() + "".join(letters).lower())
        branches.append(_char_class(others) + tail)
        if "" not in node and not first:
            branches.append("")
        return "(?:" + "|".join(branches) + ")"

    return below(trie, True)


def _char_class(chars: set[str]) -> str:
    """A regex character class for `chars`, written with ranges."""
    codes = sorted(ord(c) for c in chars)
    parts, i = [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = chr(codes[i]), chr(codes[j])
        parts.append(re.escape(lo) if i == j else f"{re.escape(lo)}-{re.escape(hi)}")
        i = j + 1
    return "[" + "".join(parts) + "]"


class _Builder:
    """Collects rules and deduplicated regex terminals."""

    def __init__(self) -> None:
        self.rules: list[str] = []
        self.terminals: dict[str, str] = {}

    def rule(self, name: str, *alternatives: str) -> None:
        self.rules.append(f"{name}: " + "\n    | ".join(alternatives))

    def terminal(self, pattern: str, stem: str) -> str:
        if pattern not in self.terminals:
            self.terminals[pattern] = f"{stem}{len(self.terminals)}"
        return self.terminals[pattern]

    def text(self) -> str:
        """The grammar, each distinct string literal declared once as a named terminal.

        Naming them shrinks what Lark has to parse and evaluate when it loads the grammar.
        """
        strings: dict[str, str] = {}

        def name(match: re.Match) -> str:
            return strings.setdefault(match.group(0), f"K{len(strings)}")

        rules = [_STRING_LITERAL.sub(name, rule) for rule in self.rules]
        lines = rules + [f"{n}: {literal}" for literal, n in strings.items()]
        lines += [f"{n}: {_lark_regex(p)}" for p, n in self.terminals.items()]
        return "\n".join(lines) + "\n"


_STRING_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"i?')


def sql_grammar(schema: Schema, *, max_join_tables: int = 4, max_compound_columns: int = 4) -> str:
    """The Lark grammar text (start symbol `start`) of the SELECT subset over `schema`."""
    if max_join_tables < 1 or max_compound_columns < 1:
        raise ConstraintError("max_join_tables and max_compound_columns must be at least 1")
    b = _Builder()
    kw = _keyword
    groups: dict[tuple[str, ...], list[Scope]] = {}
    for scope in scopes(schema, max_join_tables):
        groups.setdefault(_references(schema, scope), []).append(scope)
    k_range = range(1, max_compound_columns + 1)
    names = [f"s{i}" for i in range(len(groups))]

    b.rule("start", "query", 'query ";"')
    b.rule("query", *[f"{n}_query" for n in names], *[f"compound{k}" for k in k_range])
    b.rule("subquery", *[f"{n}_query1" for n in names], "compound1")
    for k in k_range:
        b.rule(f"compound{k}", f"member{k} (setop member{k})+ limit?")
        b.rule(f"member{k}", *[f"{n}_member{k}" for n in names])
    b.rule("setop", *[kw(f" {op} ") for op in ("UNION", "UNION ALL", "INTERSECT", "EXCEPT")])
    b.rule("select", kw("SELECT "), kw("SELECT DISTINCT "))
    count = b.terminal(r"[0-9]{1,18}", "INT")  # sqlite rejects a LIMIT past 2**63 - 1
    b.rule("limit", f"{kw(' LIMIT ')} {count} ({kw(' OFFSET ')} {count})?")
    b.rule("literal", b.terminal(r"-?[0-9]+(?:\.[0-9]+)?", "NUMBER"), "string")
    b.rule("string", b.terminal(r"'(?:[^'\n]|'')*'", "STRING"))
    b.rule("literals", 'literal (", " literal)*')
    b.rule("arith", *[_lark_string(f" {op} ") for op in "+-*/"])
    b.rule("cmp", *[_lark_string(f" {op} ") for op in ("=", "!=", "<>", "<", "<=", ">", ">=")])
    b.rule("like", kw(" LIKE "), kw(" NOT LIKE "))
    b.rule("between", kw(" BETWEEN "), kw(" NOT BETWEEN "))
    b.rule("in", f'{kw(" IN (")} in_list ")"', f'{kw(" NOT IN (")} in_list ")"')
    b.rule("in_list", "subquery", "literals")
    b.rule("null_test", kw(" IS NULL"), kw(" IS NOT NULL"))
    b.rule("logic", kw(" AND "), kw(" OR "))
    b.rule("direction", kw(" ASC"), kw(" DESC"))
    b.rule("aggregate", *[kw(f"{fn}(") for fn in AGGREGATES])
    b.rule("alias", b.terminal(_not_words(ALIAS_REJECTED), "ALIAS"))
    for n, (references, members) in zip(names, groups.items()):
        _scope_rules(b, n, b.terminal(_alternation(list(references)), "COL"), members, k_range)
    return b.text()


def _keyword(text: str) -> str:
    return _lark_string(text, insensitive=True)


def _references(schema: Schema, scope: Scope) -> tuple[str, ...]:
    """The column references a query with this FROM clause may make, sorted.

    Scopes with the same references (unaliased joins of the same tables in another order)
    share one family of rules.
    """
    owners: dict[str, int] = {}
    for table in scope.tables:
        for column in schema.table(table).columns:
            owners[column] = owners.get(column, 0) + 1
    references = {render_name(c) for c, count in owners.items() if count == 1}
    for qualifier, table in zip(scope.qualifiers(), scope.tables):
        references.update(f"{qualifier}.{render_name(c)}" for c in schema.table(table).columns)
    return tuple(sorted(references))


def _from_clause(n: str, scope: Scope) -> str:
    kw = _keyword
    parts = [_lark_string(render_name(scope.tables[0]))]
    if scope.aliased:
        parts += [kw(" AS "), '"T1"']
    for i, table in enumerate(scope.tables[1:], start=2):
        parts += [kw(" JOIN "), _lark_string(render_name(table))]
        if scope.aliased:
            parts += [kw(" AS "), _lark_string(f"T{i}")]
        parts += [kw(" ON "), f"{n}_on"]
    return " ".join(parts)


def _scope_rules(b: _Builder, n: str, col: str, members: list[Scope], k_range: range) -> None:
    """The rules of one reference scope `n`, whose column references are the terminal `col`."""
    kw = _keyword
    qualifiers = sorted({q for scope in members for q in scope.qualifiers()})
    stars = ['"*"'] + [_lark_string(f"{q}.*") for q in qualifiers]

    b.rule(f"{n}_query", f"select {n}_list {n}_tail")
    b.rule(f"{n}_query1", f"select {n}_item {n}_tail")
    b.rule(f"{n}_tail", f"{n}_body {n}_rest limit?")
    for k in k_range:
        items = " ".join([f"{n}_item"] + [f'", " {n}_item'] * (k - 1))
        b.rule(f"{n}_member{k}", f"select {items} {n}_cbody")
    b.rule(f"{n}_cbody", f"{n}_body {n}_group?")
    b.rule(f"{n}_list", f'{n}_entry (", " {n}_entry)*')
    b.rule(f"{n}_entry", f"{n}_item", *stars)
    b.rule(f"{n}_item", f"{n}_aexpr", f"{n}_aexpr {kw(' AS ')} alias")
    b.rule(f"{n}_from", *[_from_clause(n, scope) for scope in members])
    b.rule(f"{n}_body", f"{kw(' FROM ')} {n}_from ({kw(' WHERE ')} {n}_cond)?")
    b.rule(f"{n}_group", f"{kw(' GROUP BY ')} {col} (\", \" {col})* ({kw(' HAVING ')} {n}_hcond)?")
    if any(len(scope.tables) > 1 for scope in members):
        b.rule(f"{n}_on", f'{col} " = " {col} ({kw(" AND ")} {col} " = " {col})*')
    # An aggregate in ORDER BY needs an aggregate query: allow it after GROUP BY only.
    # A bare number in ORDER BY means a result column position: leave it out.
    b.rule(f"{n}_rest", f"{n}_order?", f"{n}_group {n}_horder?")
    for order, term, extra in ((f"{n}_order", f"{n}_term", []), (f"{n}_horder", f"{n}_aterm", [f"{n}_agg"])):
        b.rule(order, f"{kw(' ORDER BY ')} {order}_key (\", \" {order}_key)*")
        b.rule(f"{order}_key", f"{order}_expr", f"{order}_expr direction")
        b.rule(f"{order}_expr", col, f"{term} (arith {term})+", *extra)

    b.rule(f"{n}_expr", f"{n}_term (arith {n}_term)*")
    b.rule(f"{n}_term", col, "literal", f'"(" {n}_expr ")"', '"(" subquery ")"')
    b.rule(f"{n}_aexpr", f"{n}_aterm (arith {n}_aterm)*")
    b.rule(f"{n}_aterm", col, "literal", f"{n}_agg", f'"(" {n}_aexpr ")"', '"(" subquery ")"')
    b.rule(f"{n}_agg", kw("COUNT(*)"), f'aggregate {n}_expr ")"', f'aggregate {kw("DISTINCT ")} {n}_expr ")"')
    # AND and OR share one level: precedence does not change which strings are accepted.
    for cond, expr in ((f"{n}_cond", f"{n}_expr"), (f"{n}_hcond", f"{n}_aexpr")):
        b.rule(cond, f"{cond}_atom (logic {cond}_atom)*")
        b.rule(
            f"{cond}_atom",
            f"{kw('NOT ')} {cond}_atom",
            f"{expr} cmp {expr}",
            f"{expr} like string",
            f"{expr} between {expr} {kw(' AND ')} {expr}",
            f"{expr} in",
            f"{expr} null_test",
            f'"(" {cond} ")"',
        )
