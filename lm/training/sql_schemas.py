"""Database schemas the SQL corpus is written over: Spider's (with sample values read from
the real SQLite files) plus a few invented ones, as plain immutable data."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from lm.training import lexicon as lx

DEFAULT_SPIDER_DIR = Path("/work/shared/data/spider")


@dataclass(frozen=True)
class Column:
    """A column: its SQL name, an English name for questions, a kind and example values."""

    name: str
    natural: str
    numeric: bool
    values: tuple[object, ...]


@dataclass(frozen=True)
class Table:
    name: str
    natural: str
    columns: tuple[Column, ...]
    primary_key: str | None

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.name!r} has no column {name!r}")


@dataclass(frozen=True)
class ForeignKey:
    """`table.column` references `ref_table.ref_column`."""

    table: str
    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class SqlSchema:
    db_id: str
    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...]

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"schema {self.db_id!r} has no table {name!r}")

    def outline(self) -> str:
        """One line naming every table and its columns, as in 'Schema: t(a, b); u(c)'."""
        return "; ".join(f"{t.name}({', '.join(c.name for c in t.columns)})" for t in self.tables)


def _sample_values(connection: sqlite3.Connection, table: str, column: str, limit: int = 40) -> tuple[object, ...]:
    rows = connection.execute(
        f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL LIMIT {limit}'
    ).fetchall()
    values = []
    for (value,) in rows:
        if isinstance(value, str) and ("'" in value or "\n" in value or len(value) > 40 or not value.strip()):
            continue
        if isinstance(value, (str, int, float)):
            values.append(value)
    return tuple(values)


def load_spider_schemas(spider_dir: Path = DEFAULT_SPIDER_DIR) -> list[SqlSchema]:
    """Schemas of the Spider databases in `spider_dir` (tables.json + databases/<id>/<id>.sqlite)."""
    tables_path = spider_dir / "tables.json"
    if not tables_path.is_file():
        raise FileNotFoundError(f"Spider tables file not found: {tables_path}")
    schemas = []
    for entry in json.loads(tables_path.read_text()):
        db_id = entry["db_id"]
        db_path = spider_dir / "databases" / db_id / f"{db_id}.sqlite"
        if not db_path.is_file():
            raise FileNotFoundError(f"Spider database for {db_id!r} not found: {db_path}")
        connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            tables = []
            for t_index, (t_name, t_natural) in enumerate(zip(entry["table_names_original"], entry["table_names"])):
                columns = []
                primary = None
                for c_index, ((owner, c_name), (_, c_natural), c_type) in enumerate(
                    zip(entry["column_names_original"], entry["column_names"], entry["column_types"])
                ):
                    if owner != t_index:
                        continue
                    values = _sample_values(connection, t_name, c_name)
                    numeric = c_type == "number" and all(isinstance(v, (int, float)) for v in values)
                    columns.append(Column(c_name, c_natural, numeric, values))
                    if c_index in entry["primary_keys"] and primary is None:
                        primary = c_name
                tables.append(Table(t_name, t_natural, tuple(columns), primary))
        finally:
            connection.close()
        names = entry["column_names_original"]
        table_names = entry["table_names_original"]
        foreign_keys = tuple(
            ForeignKey(table_names[names[a][0]], names[a][1], table_names[names[b][0]], names[b][1])
            for a, b in entry["foreign_keys"]
        )
        schemas.append(SqlSchema(db_id, tuple(tables), foreign_keys))
    return schemas


def _col(name: str, values: tuple[object, ...], natural: str | None = None) -> Column:
    numeric = all(isinstance(v, (int, float)) for v in values)
    return Column(name, natural or name.replace("_", " "), numeric, values)


def _ids(n: int) -> tuple[int, ...]:
    return tuple(range(1, n + 1))


def _names() -> tuple[str, ...]:
    return tuple(f"{f} {l}" for f, l in zip(lx.FIRST_NAMES, lx.LAST_NAMES * 2))


def invented_schemas() -> list[SqlSchema]:
    """A handful of made-up schemas, so SQL is not tied to Spider's names alone."""
    cities = tuple(c for c, _ in lx.CITIES)
    countries = tuple(sorted({c for _, c in lx.CITIES}))
    years = tuple(range(1990, 2025))
    return [
        SqlSchema("company_hr", (
            Table("departments", "department", (
                _col("dept_id", _ids(12)), _col("dept_name", ("Sales", "Research", "Finance", "Legal", "Support", "Marketing")),
                _col("budget", (50000, 120000, 300000, 75000, 990000)), _col("city", cities)), "dept_id"),
            Table("employees", "employee", (
                _col("emp_id", _ids(200)), _col("name", _names()), _col("salary", (32000, 45000, 58000, 71000, 90000, 120000)),
                _col("hire_year", years), _col("dept_id", _ids(12)), _col("title", lx.JOBS)), "emp_id"),
        ), (ForeignKey("employees", "dept_id", "departments", "dept_id"),)),
        SqlSchema("library", (
            Table("authors", "author", (
                _col("author_id", _ids(50)), _col("name", _names()), _col("country", countries),
                _col("birth_year", tuple(range(1900, 1995)))), "author_id"),
            Table("books", "book", (
                _col("book_id", _ids(300)), _col("title", lx.BOOK_TITLES), _col("author_id", _ids(50)),
                _col("genre", lx.GENRES), _col("pages", (120, 240, 310, 480, 650)), _col("published", years)), "book_id"),
            Table("loans", "loan", (
                _col("loan_id", _ids(900)), _col("book_id", _ids(300)), _col("member_name", _names()),
                _col("days", (7, 14, 21, 28))), "loan_id"),
        ), (ForeignKey("books", "author_id", "authors", "author_id"), ForeignKey("loans", "book_id", "books", "book_id"))),
        SqlSchema("shop", (
            Table("customers", "customer", (
                _col("customer_id", _ids(100)), _col("name", _names()), _col("city", cities),
                _col("email", ("a@example.com", "b@mail.com", "c@inbox.org"))), "customer_id"),
            Table("products", "product", (
                _col("product_id", _ids(60)), _col("name", lx.PRODUCT_NOUNS), _col("category", lx.CATEGORIES),
                _col("price", (4.99, 12.5, 19.99, 49.0, 99.95, 249.0))), "product_id"),
            Table("orders", "order", (
                _col("order_id", _ids(500)), _col("customer_id", _ids(100)), _col("order_date", ("2023-01-05", "2024-03-17", "2022-11-30")),
                _col("status", lx.ORDER_STATUSES)), "order_id"),
            Table("order_items", "order item", (
                _col("order_id", _ids(500)), _col("product_id", _ids(60)), _col("quantity", (1, 2, 3, 5, 10))), None),
        ), (ForeignKey("orders", "customer_id", "customers", "customer_id"),
            ForeignKey("order_items", "order_id", "orders", "order_id"),
            ForeignKey("order_items", "product_id", "products", "product_id"))),
        SqlSchema("school", (
            Table("students", "student", (
                _col("student_id", _ids(400)), _col("name", _names()), _col("age", tuple(range(17, 30))),
                _col("major", ("math", "physics", "history", "biology", "art", "economics"))), "student_id"),
            Table("courses", "course", (
                _col("course_id", _ids(40)), _col("title", ("Algebra", "Mechanics", "Genetics", "Drawing", "Poetry")),
                _col("credits", (2, 3, 4, 5))), "course_id"),
            Table("enrollments", "enrollment", (
                _col("student_id", _ids(400)), _col("course_id", _ids(40)), _col("grade", (55, 62, 70, 78, 85, 91, 99))), None),
        ), (ForeignKey("enrollments", "student_id", "students", "student_id"),
            ForeignKey("enrollments", "course_id", "courses", "course_id"))),
        SqlSchema("movies", (
            Table("movie", "movie", (
                _col("movie_id", _ids(120)), _col("title", lx.BOOK_TITLES), _col("year", years),
                _col("rating", (5.5, 6.1, 7.0, 7.8, 8.4, 9.1)), _col("budget", (1000000, 5000000, 20000000))), "movie_id"),
            Table("actor", "actor", (
                _col("actor_id", _ids(300)), _col("name", _names()), _col("nationality", countries),
                _col("age", tuple(range(18, 80)))), "actor_id"),
            Table("cast_member", "cast member", (
                _col("movie_id", _ids(120)), _col("actor_id", _ids(300)), _col("role", ("lead", "support", "cameo"))), None),
        ), (ForeignKey("cast_member", "movie_id", "movie", "movie_id"),
            ForeignKey("cast_member", "actor_id", "actor", "actor_id"))),
        SqlSchema("flights", (
            Table("airports", "airport", (
                _col("code", ("LHR", "CDG", "JFK", "HND", "SYD", "FRA", "MAD")), _col("city", cities),
                _col("country", countries)), "code"),
            Table("flights", "flight", (
                _col("flight_no", (101, 202, 303, 404, 505, 606)), _col("origin", ("LHR", "CDG", "JFK", "HND")),
                _col("destination", ("SYD", "FRA", "MAD", "JFK")), _col("distance", (350, 900, 2400, 5600, 9800)),
                _col("price", (89, 150, 320, 780, 1200))), "flight_no"),
        ), (ForeignKey("flights", "origin", "airports", "code"),)),
        SqlSchema("hospital", (
            Table("doctors", "doctor", (
                _col("doctor_id", _ids(30)), _col("name", _names()),
                _col("specialty", ("cardiology", "surgery", "pediatrics", "neurology")), _col("years_experience", tuple(range(1, 40)))), "doctor_id"),
            Table("patients", "patient", (
                _col("patient_id", _ids(500)), _col("name", _names()), _col("age", tuple(range(1, 99))),
                _col("city", cities)), "patient_id"),
            Table("appointments", "appointment", (
                _col("appointment_id", _ids(2000)), _col("doctor_id", _ids(30)), _col("patient_id", _ids(500)),
                _col("cost", (50, 120, 200, 450))), "appointment_id"),
        ), (ForeignKey("appointments", "doctor_id", "doctors", "doctor_id"),
            ForeignKey("appointments", "patient_id", "patients", "patient_id"))),
        SqlSchema("music", (
            Table("artists", "artist", (
                _col("artist_id", _ids(80)), _col("name", _names()), _col("country", countries),
                _col("debut_year", years)), "artist_id"),
            Table("albums", "album", (
                _col("album_id", _ids(200)), _col("artist_id", _ids(80)), _col("title", lx.BOOK_TITLES),
                _col("year", years), _col("sales", (1000, 25000, 400000, 2000000))), "album_id"),
            Table("tracks", "track", (
                _col("track_id", _ids(2000)), _col("album_id", _ids(200)), _col("name", lx.BOOK_TITLES),
                _col("duration", (120, 185, 210, 240, 305))), "track_id"),
        ), (ForeignKey("albums", "artist_id", "artists", "artist_id"), ForeignKey("tracks", "album_id", "albums", "album_id"))),
    ]
