"""The SQL constraint: SELECT queries that sqlite can run over one database's schema.

The schema (from a sqlite file or DDL) is turned into a Lark grammar whose table and
column names are those of the schema, scoped to each query's FROM clause, and the grammar
is recognized incrementally by `LarkConstraint`. Layout and coverage: docs/sql.md.
"""
from __future__ import annotations

import re
from pathlib import Path

from constraints.base import Constraint, State
from constraints.grammar.lark_grammar import LarkConstraint
from constraints.sql.sql_grammar import sql_grammar
from constraints.sql.sql_schema import Schema, read_schema

_DDL_START = re.compile(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(?:CREATE|PRAGMA|BEGIN)\b", re.I | re.S)


class SqlConstraint(Constraint):
    """SELECT queries over a schema, in the single-space layout of docs/sql.md.

    States are those of the wrapped `LarkConstraint` over the generated grammar text.
    """

    def __init__(self, schema: Schema, *, max_join_tables: int = 4, max_compound_columns: int = 4):
        self.schema = schema
        self.grammar = sql_grammar(
            schema, max_join_tables=max_join_tables, max_compound_columns=max_compound_columns
        )
        self.lark = LarkConstraint(self.grammar, start="start")

    def start(self) -> State:
        return self.lark.start()

    def advance(self, state: State, chunk: bytes) -> State | None:
        return self.lark.advance(state, chunk)

    def is_accepting(self, state: State) -> bool:
        return self.lark.is_accepting(state)

    def viable(self, prefix: bytes) -> bool:
        return self.lark.viable(prefix)

    def accepts(self, string: bytes) -> bool:
        return self.lark.accepts(string)

    def __repr__(self) -> str:
        return f"sql(<tables {', '.join(t.name for t in self.schema.tables)}>)"


def sql(
    database: str | Path | None = None,
    *,
    ddl: str | None = None,
    max_join_tables: int = 4,
    max_compound_columns: int = 4,
) -> SqlConstraint:
    """SELECT queries over the schema of a sqlite file, or of DDL given as `ddl=`.

    A string `database` that starts with CREATE/PRAGMA/BEGIN is taken as DDL. Joins chain
    up to `max_join_tables` tables along foreign keys; UNION/INTERSECT/EXCEPT members have
    at most `max_compound_columns` result columns.
    """
    if isinstance(database, str) and ddl is None and _DDL_START.match(database):
        database, ddl = None, database
    schema = read_schema(database, ddl=ddl)
    return SqlConstraint(
        schema, max_join_tables=max_join_tables, max_compound_columns=max_compound_columns
    )
