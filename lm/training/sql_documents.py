"""Random SQL SELECT queries over a schema, each with an English question, as training documents.

Queries cover projections, WHERE, ORDER BY/LIMIT, aggregates, GROUP BY/HAVING, joins along
foreign keys, subqueries and set operations. Well-formed queries over a Spider schema execute
on its SQLite database; a small share of documents is deliberately broken.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from lm.training.sql_schemas import Column, ForeignKey, SqlSchema, Table

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = {"order", "group", "table", "select", "from", "where", "by", "limit", "join", "on",
             "as", "and", "or", "not", "in", "values", "index", "key", "primary", "references"}


@dataclass(frozen=True)
class SqlExample:
    """A query and an English question it answers."""

    sql: str
    question: str


class _NotApplicable(Exception):
    """The chosen query form does not fit the chosen table (e.g. no numeric column)."""


def identifier(name: str) -> str:
    """The name as an SQL identifier, double-quoted only when it must be."""
    if _IDENTIFIER.match(name) and name.lower() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        text = repr(value)
        return text if "e" not in text else f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def plural(noun: str) -> str:
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun
    if noun.endswith(("ss", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _ref(alias: str | None, column: Column) -> str:
    return f"{alias}.{identifier(column.name)}" if alias else identifier(column.name)


def _valued(table: Table, numeric: bool | None = None) -> list[Column]:
    return [c for c in table.columns if c.values and (numeric is None or c.numeric == numeric)]


def _measures(table: Table) -> list[Column]:
    """Numeric columns worth aggregating: identifiers (names ending in 'id') excluded."""
    return [c for c in _valued(table, numeric=True) if not c.name.lower().endswith("id")]


def _choose(rng: random.Random, options: list) -> object:
    if not options:
        raise _NotApplicable
    return rng.choice(options)


def _condition(rng: random.Random, table: Table, alias: str | None = None) -> tuple[str, str]:
    column = _choose(rng, _valued(table))
    value = rng.choice(column.values)
    ref = _ref(alias, column)
    if column.numeric:
        op, words = rng.choice(((">", "greater than"), ("<", "less than"), (">=", "at least"),
                                ("<=", "at most"), ("=", "equal to"), ("!=", "not equal to")))
        return f"{ref} {op} {literal(value)}", f"{column.natural} {words} {value}"
    text = str(value)
    roll = rng.random()
    if roll < 0.15 and len(text) >= 4:
        start = rng.randrange(0, len(text) - 2)
        part = text[start:start + rng.randint(2, 4)]
        return f"{ref} LIKE {literal('%' + part + '%')}", f"{column.natural} containing '{part}'"
    if roll < 0.25:
        return f"{ref} != {literal(value)}", f"{column.natural} other than {text}"
    return f"{ref} = {literal(value)}", f"{column.natural} {text}"


def _maybe_where(rng: random.Random, table: Table, p: float, alias: str | None = None) -> tuple[str, str]:
    if rng.random() >= p:
        return "", ""
    sql, words = _condition(rng, table, alias)
    if rng.random() < 0.2:
        sql2, words2 = _condition(rng, table, alias)
        conj = rng.choice(("AND", "OR"))
        return f" WHERE {sql} {conj} {sql2}", f" with {words} {conj.lower()} {words2}"
    return f" WHERE {sql}", f" with {words}"


def _select_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    table = rng.choice(schema.tables)
    columns = rng.sample(table.columns, min(len(table.columns), rng.choice((1, 1, 2, 2, 3))))
    names = [c.natural for c in columns]
    distinct = len(columns) == 1 and rng.random() < 0.2
    cols_sql = ", ".join(identifier(c.name) for c in columns)
    if rng.random() < 0.08:
        cols_sql, names = "*", ["details"]
    where_sql, where_words = _maybe_where(rng, table, 0.5)
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{cols_sql} FROM {identifier(table.name)}{where_sql}"
    things = plural(table.natural)
    lead = rng.choice(("List the", "What are the", "Show the", "Find the", "Return the", "Give the"))
    question = f"{lead} {'distinct ' if distinct else ''}{_join_words(names)} of {things}{where_words}"
    numeric = _measures(table)
    if numeric and rng.random() < 0.35:
        key = rng.choice(numeric)
        descending = rng.random() < 0.5
        sql += f" ORDER BY {identifier(key.name)}{' DESC' if descending else rng.choice(('', ' ASC'))}"
        if rng.random() < 0.4:
            k = rng.choice((1, 1, 3, 5, 10))
            sql += f" LIMIT {k}"
            extreme = "highest" if descending else "lowest"
            question = f"{lead} {_join_words(names)} of the {k if k > 1 else ''}{' ' if k > 1 else ''}{things if k > 1 else table.natural} with the {extreme} {key.natural}{where_words}"
        else:
            question += f", ordered by {key.natural}{' in descending order' if descending else ''}"
    return SqlExample(sql, question + ("?" if lead == "What are the" else "."))


def _count_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    table = rng.choice(schema.tables)
    things = plural(table.natural)
    if rng.random() < 0.2:
        column = _choose(rng, _valued(table))
        return SqlExample(f"SELECT COUNT(DISTINCT {identifier(column.name)}) FROM {identifier(table.name)}",
                          f"How many different {plural(column.natural)} do the {things} have?")
    where_sql, where_words = _maybe_where(rng, table, 0.6)
    lead = rng.choice(("How many", "Count the number of", "What is the number of"))
    tail = " are there" if lead == "How many" and not where_words else ""
    return SqlExample(f"SELECT COUNT(*) FROM {identifier(table.name)}{where_sql}",
                      f"{lead} {things}{where_words}{tail}?")


_AGGREGATES = (("AVG", "average"), ("MAX", "maximum"), ("MIN", "minimum"), ("SUM", "total"))


def _aggregate_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    table = rng.choice(schema.tables)
    column = _choose(rng, _measures(table))
    aggs = rng.sample(_AGGREGATES, rng.choice((1, 1, 2)))
    where_sql, where_words = _maybe_where(rng, table, 0.4)
    select = ", ".join(f"{a}({identifier(column.name)})" for a, _ in aggs)
    words = _join_words([w for _, w in aggs])
    return SqlExample(f"SELECT {select} FROM {identifier(table.name)}{where_sql}",
                      f"What is the {words} {column.natural} of {plural(table.natural)}{where_words}?")


def _group_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    table = rng.choice(schema.tables)
    group = _choose(rng, [c for c in table.columns if c.name != table.primary_key])
    g, t = identifier(group.name), identifier(table.name)
    things = plural(table.natural)
    roll = rng.random()
    if roll < 0.3:
        return SqlExample(f"SELECT {g}, COUNT(*) FROM {t} GROUP BY {g}",
                          f"Show each {group.natural} and the number of {things} with it.")
    if roll < 0.5:
        k = rng.randint(1, 5)
        op, words = rng.choice(((">=", "at least"), (">", "more than")))
        return SqlExample(f"SELECT {g} FROM {t} GROUP BY {g} HAVING COUNT(*) {op} {k}",
                          f"Which {plural(group.natural)} have {words} {k} {things}?")
    if roll < 0.75:
        direction, words = rng.choice((("DESC", "most"), ("ASC", "fewest")))
        return SqlExample(f"SELECT {g} FROM {t} GROUP BY {g} ORDER BY COUNT(*) {direction} LIMIT 1",
                          f"Which {group.natural} has the {words} {things}?")
    measure = _choose(rng, [c for c in _measures(table) if c is not group])
    agg, words = rng.choice(_AGGREGATES)
    return SqlExample(f"SELECT {g}, {agg}({identifier(measure.name)}) FROM {t} GROUP BY {g}",
                      f"What is the {words} {measure.natural} for each {group.natural}?")


def _join_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    fk: ForeignKey = _choose(rng, list(schema.foreign_keys))
    child, parent = schema.table(fk.table), schema.table(fk.ref_table)
    on = f"T1.{identifier(fk.column)} = T2.{identifier(fk.ref_column)}"
    tables = f"{identifier(child.name)} AS T1 JOIN {identifier(parent.name)} AS T2 ON {on}"
    a = rng.choice(child.columns)
    b = rng.choice(parent.columns)
    roll = rng.random()
    if roll < 0.3 and parent.columns:
        label = rng.choice(parent.columns)
        return SqlExample(
            f"SELECT T2.{identifier(label.name)}, COUNT(*) FROM {tables} GROUP BY T2.{identifier(label.name)}",
            f"For each {parent.natural} {label.natural}, how many {plural(child.natural)} are there?")
    where_sql, where_words = "", ""
    if rng.random() < 0.6:
        side, alias = rng.choice(((child, "T1"), (parent, "T2")))
        cond, words = _condition(rng, side, alias)
        where_sql, where_words = f" WHERE {cond}", f" where the {side.natural} has {words}"
    return SqlExample(
        f"SELECT T1.{identifier(a.name)}, T2.{identifier(b.name)} FROM {tables}{where_sql}",
        f"Show the {a.natural} of each {child.natural} and the {b.natural} of its {parent.natural}{where_words}.")


def _link_join_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    """Two foreign keys out of one table: join three tables through it."""
    pairs = [(f, g) for f in schema.foreign_keys for g in schema.foreign_keys
             if f.table == g.table and f is not g and f.ref_table != g.ref_table]
    first, second = _choose(rng, pairs)
    left, link, right = schema.table(first.ref_table), schema.table(first.table), schema.table(second.ref_table)
    shown = rng.choice(right.columns)
    cond, words = _condition(rng, left, "T1")
    sql = (f"SELECT T3.{identifier(shown.name)} FROM {identifier(left.name)} AS T1 "
           f"JOIN {identifier(link.name)} AS T2 ON T1.{identifier(first.ref_column)} = T2.{identifier(first.column)} "
           f"JOIN {identifier(right.name)} AS T3 ON T2.{identifier(second.column)} = T3.{identifier(second.ref_column)} "
           f"WHERE {cond}")
    return SqlExample(sql, f"What are the {shown.natural} of {plural(right.natural)} related to the {left.natural} with {words}?")


def _subquery_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    roll = rng.random()
    if roll < 0.5 or not schema.foreign_keys:
        table = rng.choice(schema.tables)
        measure = _choose(rng, _measures(table))
        shown = rng.choice(table.columns)
        m, t = identifier(measure.name), identifier(table.name)
        if rng.random() < 0.5:
            op, words = rng.choice(((">", "above"), ("<", "below")))
            return SqlExample(f"SELECT {identifier(shown.name)} FROM {t} WHERE {m} {op} (SELECT AVG({m}) FROM {t})",
                              f"Which {plural(table.natural)} have a {measure.natural} {words} the average? Give their {shown.natural}.")
        agg, words = rng.choice((("MAX", "largest"), ("MIN", "smallest")))
        return SqlExample(f"SELECT {identifier(shown.name)} FROM {t} WHERE {m} = (SELECT {agg}({m}) FROM {t})",
                          f"What is the {shown.natural} of the {table.natural} with the {words} {measure.natural}?")
    fk = rng.choice(schema.foreign_keys)
    child, parent = schema.table(fk.table), schema.table(fk.ref_table)
    shown = rng.choice(parent.columns)
    negate = rng.random() < 0.5
    inner = f"SELECT {identifier(fk.column)} FROM {identifier(child.name)}"
    inner_words = ""
    if not negate and rng.random() < 0.6:
        cond, words = _condition(rng, child)
        inner += f" WHERE {cond}"
        inner_words = f" with {words}"
    sql = (f"SELECT {identifier(shown.name)} FROM {identifier(parent.name)} WHERE {identifier(fk.ref_column)} "
           f"{'NOT IN' if negate else 'IN'} ({inner})")
    which = f"that have no {plural(child.natural)}" if negate else f"that have a {child.natural}{inner_words}"
    return SqlExample(sql, f"List the {shown.natural} of {plural(parent.natural)} {which}.")


def _set_operation_form(rng: random.Random, schema: SqlSchema) -> SqlExample:
    table = rng.choice(schema.tables)
    shown = rng.choice(table.columns)
    c1, w1 = _condition(rng, table)
    c2, w2 = _condition(rng, table)
    op, words = rng.choice((("UNION", "or"), ("INTERSECT", "and also"), ("EXCEPT", "but not")))
    head = f"SELECT {identifier(shown.name)} FROM {identifier(table.name)}"
    return SqlExample(f"{head} WHERE {c1} {op} {head} WHERE {c2}",
                      f"Find the {shown.natural} of {plural(table.natural)} with {w1} {words} with {w2}.")


_FORMS: tuple[tuple[Callable[[random.Random, SqlSchema], SqlExample], float], ...] = (
    (_select_form, 0.30), (_count_form, 0.12), (_aggregate_form, 0.10), (_group_form, 0.13),
    (_join_form, 0.16), (_link_join_form, 0.05), (_subquery_form, 0.09), (_set_operation_form, 0.05),
)


def sql_example(rng: random.Random, schema: SqlSchema) -> SqlExample:
    """One well-formed query over `schema` with its question."""
    forms, weights = zip(*_FORMS)
    for _ in range(50):
        form = rng.choices(forms, weights)[0]
        try:
            return form(rng, schema)
        except _NotApplicable:
            continue
    raise ValueError(f"no query form applies to schema {schema.db_id!r}")


def _malform(rng: random.Random, sql: str, schema: SqlSchema) -> str:
    """Break a query the way a sloppy writer would (typo, missing clause, unknown name...)."""
    flaw = rng.randrange(6)
    if flaw == 0:
        return sql.replace("SELECT", rng.choice(("SELCT", "SELET")), 1)
    if flaw == 1 and " FROM " in sql:
        return sql.replace(" FROM ", rng.choice((" FORM ", " ")), 1)
    if flaw == 2:
        table = rng.choice(schema.tables)
        bogus = rng.choice(("total_count", "name_id", "value", "category_name", "size", "label"))
        return sql.replace(identifier(table.columns[0].name), bogus, 1) if identifier(table.columns[0].name) in sql \
            else sql + f" ORDER BY {bogus}"
    if flaw == 3 and sql.endswith(")"):
        return sql[:-1]
    if flaw == 4 and ", " in sql.split(" FROM ")[0]:
        head, _, tail = sql.partition(" FROM ")
        return f"{head}, FROM {tail}"
    if " WHERE " in sql:
        return sql.replace("'", "", 2)
    return sql + " WHERE"


def sql_document(rng: random.Random, schema: SqlSchema, malformed_share: float) -> str:
    """One prompted SQL document: bare, question-prompted, database-prompted or schema-prompted."""
    example = sql_example(rng, schema)
    sql = example.sql if rng.random() >= malformed_share else _malform(rng, example.sql, schema)
    style = rng.random()
    if style < 0.25:
        return f"SQL: {sql}"
    if style < 0.55:
        return f"Question: {example.question}\nSQL: {sql}"
    if style < 0.8:
        return f"Database: {schema.db_id}\nQuestion: {example.question}\nSQL: {sql}"
    return f"Schema: {schema.outline()}\nQuestion: {example.question}\nSQL: {sql}"
