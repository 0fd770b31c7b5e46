"""Database schemas for the SQL constraint: tables, columns and foreign keys read from sqlite.

The schema comes from a sqlite file or from DDL executed into an in-memory database, so
both sources are read by the same PRAGMA queries and mean exactly what sqlite means.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from constraints.base import ConstraintError


@dataclass(frozen=True)
class Table:
    """A table (or view) and its column names, spelled as in the schema."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key `child.child_column -> parent.parent_column` (one column pair)."""

    child: str
    child_column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class Schema:
    """The tables of a database and the foreign keys between them."""

    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...]

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


def read_schema(database: str | Path | None = None, *, ddl: str | None = None) -> Schema:
    """The schema of a sqlite file (opened read-only) or of DDL statements."""
    if (database is None) == (ddl is None):
        raise ConstraintError("give exactly one of a sqlite database path or ddl=")
    if ddl is not None:
        connection = _connect_ddl(ddl)
    else:
        connection = _connect_file(Path(database))
    try:
        return _read(connection, str(database) if database is not None else "the DDL")
    finally:
        connection.close()


def _connect_file(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise ConstraintError(f"no such sqlite database file: {path}")
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        connection.close()
        raise ConstraintError(f"{path} is not a readable sqlite database: {error}") from None
    return connection


def _connect_ddl(ddl: str) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    for number, statement in enumerate(split_statements(ddl), start=1):
        try:
            connection.execute(statement)
        except sqlite3.Error as error:
            connection.close()
            shown = " ".join(statement.split())
            if len(shown) > 200:
                shown = shown[:200] + "..."
            raise ConstraintError(f"DDL statement {number} failed ({error}): {shown}") from None
    return connection


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script, split at semicolons outside quotes and comments."""
    statements, start, i, n, has_code = [], 0, 0, len(script), False
    while i < n:
        char = script[i]
        if char in "'\"`[":
            close = "]" if char == "[" else char
            end = script.find(close, i + 1)
            while end != -1 and close != "]" and script.startswith(close * 2, end):
                end = script.find(close, end + 2)
            i, has_code = (n if end == -1 else end + 1), True
        elif script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end == -1 else end + 1
        elif script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif char == ";":
            if has_code:
                statements.append(script[start : i + 1])
            start, i, has_code = i + 1, i + 1, False
        else:
            has_code = has_code or not char.isspace()
            i += 1
    if has_code:
        statements.append(script[start:])
    return statements


def _read(connection: sqlite3.Connection, source: str) -> Schema:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
        )
    ]
    if not names:
        raise ConstraintError(f"{source} defines no tables")
    tables = []
    for name in names:
        columns = tuple(row[1] for row in connection.execute(f"PRAGMA table_info({_quote(name)})"))
        tables.append(Table(name, tuple(c for c in columns if c)))
    by_lower = {t.name.lower(): t for t in tables}
    keys = []
    for table in tables:
        for row in connection.execute(f"PRAGMA foreign_key_list({_quote(table.name)})"):
            parent = by_lower.get(str(row[2]).lower())
            if parent is None:
                continue  # a dangling foreign key: sqlite does not check them at creation
            parent_column = row[4] if row[4] is not None else _primary_key(connection, parent.name)
            child_column = _spelled(table.columns, row[3])
            parent_column = _spelled(parent.columns, parent_column)
            if child_column and parent_column:
                keys.append(ForeignKey(table.name, child_column, parent.name, parent_column))
    return Schema(tuple(tables), tuple(keys))


def _primary_key(connection: sqlite3.Connection, table: str) -> str | None:
    for row in connection.execute(f"PRAGMA table_info({_quote(table)})"):
        if row[5] == 1:
            return row[1]
    return None


def _spelled(columns: tuple[str, ...], name: str | None) -> str | None:
    """The schema's spelling of a column named case-insensitively, or None."""
    if name is None:
        return None
    for column in columns:
        if column.lower() == name.lower():
            return column
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
