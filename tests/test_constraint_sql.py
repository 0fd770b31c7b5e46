"""The SQL constraint over real Spider databases: schema reading, gold queries, grammar
samples run on sqlite, prefixes, rejections. The full run is benchmarks/sql_coverage.py."""
from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import lark
import pytest

from constraints.base import ConstraintError
from constraints.sql.sql import SqlConstraint, sql
from constraints.sql.sql_canonical import canonical_sql
from constraints.sql.sql_grammar import render_name, scopes, sql_grammar
from constraints.sql.sql_sampler import GrammarSampler
from constraints.sql.sql_schema import ForeignKey, read_schema, split_statements

from shared_data import SPIDER  # noqa: E402
pytestmark = pytest.mark.skipif(not SPIDER.is_dir(), reason="Spider data not available")


def database(name: str) -> Path:
    return SPIDER / "databases" / name / f"{name}.sqlite"


def gold(name: str) -> list[str]:
    with open(SPIDER / "dev.jsonl") as f:
        rows = [json.loads(line) for line in f]
    return [r["query"] for r in rows if r["db_id"] == name]


@pytest.fixture(scope="module")
def singer() -> SqlConstraint:
    """The constraint for Spider's `singer` database (its Lark parser is `.lark.parser`)."""
    return sql(database("singer"))


def lark_accepts(parser: lark.Lark, query: str) -> bool:
    try:
        parser.parse(query)
    except lark.exceptions.LarkError:
        return False
    return True


# ---- schema ---------------------------------------------------------------------------


def test_schema_from_file_matches_schema_from_its_ddl():
    from_file = read_schema(database("network_1"))
    from_ddl = read_schema(ddl=(SPIDER / "databases/network_1/schema.sql").read_text())
    assert from_file == from_ddl
    assert [t.name for t in from_file.tables] == ["Highschooler", "Friend", "Likes"]
    assert from_file.table("Friend").columns == ("student_id", "friend_id")
    assert ForeignKey("Friend", "friend_id", "Highschooler", "ID") in from_file.foreign_keys


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConstraintError, match="nope.sqlite"):
        read_schema(tmp_path / "nope.sqlite")


def test_non_database_file_is_named(tmp_path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("this is not a database, just some text that fills the header " * 20)
    with pytest.raises(ConstraintError, match="notes.sqlite"):
        read_schema(bogus)


def test_failing_ddl_statement_is_named():
    ddl = "CREATE TABLE a (x int);\nCREATE TABLE b (y int;\nCREATE TABLE c (z int);"
    with pytest.raises(ConstraintError, match=r"statement 2 .*CREATE TABLE b"):
        read_schema(ddl=ddl)


def test_ddl_without_tables_and_ambiguous_source_are_errors():
    with pytest.raises(ConstraintError, match="no tables"):
        read_schema(ddl="-- nothing here\n")
    with pytest.raises(ConstraintError, match="exactly one"):
        read_schema(database("singer"), ddl="CREATE TABLE t (x int)")


def test_statements_split_outside_quotes_and_comments():
    script = "CREATE TABLE a (x);\n-- a; comment\nINSERT INTO a VALUES ('x;''y'); /* ; */"
    assert split_statements(script) == ["CREATE TABLE a (x);", "\n-- a; comment\nINSERT INTO a VALUES ('x;''y');"]


# ---- grammar, with the real lark parser --------------------------------------------------


def test_names_are_quoted_only_where_needed():
    assert render_name("Name") == "Name"
    assert render_name("18_49_Rating_Share") == '"18_49_Rating_Share"'
    assert render_name("Order") == '"Order"'
    assert render_name('a"b c') == '"a""b c"'


def test_join_chains_follow_foreign_keys():
    network = read_schema(database("network_1"))
    chains = {s.tables for s in scopes(network, 3)}
    # Friend links Highschooler twice (student_id, friend_id): a self-join, but Likes and
    # Friend have no foreign key between them.
    assert ("Friend", "Highschooler", "Highschooler") in chains
    assert ("Friend", "Likes") not in chains
    assert all(s.aliased for s in scopes(network, 3) if len(set(s.tables)) < len(s.tables))


def test_same_schema_gives_same_grammar_from_file_and_ddl():
    path = SPIDER / "databases/concert_singer"
    from_file = sql_grammar(read_schema(path / "concert_singer.sqlite"))
    assert from_file == sql_grammar(read_schema(ddl=(path / "schema.sql").read_text()))


def test_gold_queries_are_accepted_by_constraint_and_lark(singer):
    parser = singer.lark.parser
    queries = [canonical_sql(q, singer.schema) for q in gold("singer")]
    assert len(queries) == 30
    assert [q for q in queries if not singer.accepts(q.encode())] == []
    assert [q for q in queries[:6] if not lark_accepts(parser, q)] == []  # lark is slow


def test_every_prefix_of_accepted_queries_is_viable(singer):
    queries = [canonical_sql(q, singer.schema) for q in gold("singer")[::5]]
    for query in queries:
        data = query.encode()
        state = singer.start()
        for i in range(len(data)):
            assert singer.viable(data[:i]), data[:i]
            state = singer.advance(state, data[i : i + 1])  # byte by byte, as tokens may split
            assert state is not None
        assert singer.is_accepting(state)


ACCEPTED = [
    "SELECT Name FROM singer",
    "select count(*) from singer where Birth_Year < 1945;",
    "SELECT T2.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",
    "SELECT singer.Name, Title FROM song JOIN singer ON song.Singer_ID = singer.Singer_ID",
    "SELECT Name AS who FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 3 OFFSET 1",
    "SELECT Citizenship FROM singer GROUP BY Citizenship HAVING COUNT(*) > 1 ORDER BY COUNT(*)",
    "SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM song)",
    "SELECT Name, Citizenship FROM singer EXCEPT SELECT Name, Citizenship FROM singer WHERE Name LIKE 'A%'",
    "SELECT Title FROM song WHERE Sales > (SELECT AVG(Sales) FROM song) AND NOT Title = 'it''s'",
    "SELECT MAX(Sales) - MIN(Sales), COUNT(DISTINCT Singer_ID) FROM song WHERE Sales BETWEEN -1 AND 2.5",
]
REJECTED = [
    "SELECT Nme FROM singer",  # no such column
    "SELECT Name FROM singers",  # no such table
    "SELECT Title FROM singer",  # a column of another table, not in FROM
    "SELECT T1.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",
    "SELECT Singer_ID FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",  # ambiguous
    "SELECT singer.Name FROM singer AS T1",  # the table has an alias
    "SELECT name FROM singer",  # names are spelled as in the schema
    "SELECT Name  FROM singer",  # one space
    "SELECT Name FROM singer ",
    "SELECT COUNT (*) FROM singer",
    "SELECT Name FROM singer ORDER BY COUNT(*)",  # aggregate without GROUP BY
    "SELECT Name FROM singer ORDER BY 1",  # column position
    "SELECT Name FROM singer WHERE COUNT(*) > 1",  # aggregate in WHERE
    "SELECT COUNT(MAX(Sales)) FROM song",  # nested aggregate
    "SELECT Name FROM singer UNION SELECT Name, Citizenship FROM singer",  # widths differ
    "SELECT Name FROM singer WHERE Singer_ID IN (SELECT Singer_ID, Title FROM song)",
    "SELECT Name AS from FROM singer",  # a keyword as alias
    "SELECT Name FROM singer LIMIT 9223372036854775808",  # 19 digits
    "SELECT Name FROM singer WHERE Name = \"Joe\"",  # strings are single-quoted
]


def test_right_queries_run_and_wrong_ones_are_rejected(singer):
    connection = sqlite3.connect(database("singer").resolve().as_uri() + "?mode=ro", uri=True)
    for query in ACCEPTED:
        assert singer.accepts(query.encode()), query
        assert lark_accepts(singer.lark.parser, query), query
        connection.execute(query).fetchall()
    assert [q for q in REJECTED if singer.accepts(q.encode())] == []
    assert [q for q in REJECTED if lark_accepts(singer.lark.parser, q)] == []
    # Rejected as soon as the wrong name is complete, not only at the end.
    assert not singer.viable(b"SELECT Nme ")
    assert not singer.viable(b"SELECT Name FROM singers")
    assert singer.viable(b"SELECT Title FROM singer")  # ... JOIN song ON ... would do
    assert not singer.viable(b"SELECT Title FROM singer W")


def test_grammar_samples_are_accepted_and_run_on_sqlite(singer):
    """Every sampled sentence is accepted by the constraint and runs on the database."""
    sampler = GrammarSampler(singer.lark.parser, max_depth=9)
    rng = random.Random(7)
    connection = sqlite3.connect(database("singer").resolve().as_uri() + "?mode=ro", uri=True)
    errors, timeouts = [], 0
    for number in range(60):
        query = sampler.sample(rng)
        assert singer.accepts(query.encode()), query
        if number < 3:  # lark's own Earley parser is slow on long sentences
            assert lark_accepts(singer.lark.parser, query), query
        budget = [0]

        def stop() -> bool:
            budget[0] += 1
            return budget[0] > 100

        connection.set_progress_handler(stop, 1000)
        try:
            connection.execute(query).fetchmany(3)
        except sqlite3.OperationalError as error:
            if str(error) == "interrupted":
                timeouts += 1  # ran past the step budget: not an error of the query
            else:
                errors.append((str(error), query))
    assert errors == []
    assert timeouts < 60


def test_ddl_schema_with_awkward_names():
    """Keywords, spaces and leading digits in names are quoted; the queries run."""
    ddl = (
        'CREATE TABLE "order" ("id" int primary key, "first name" text, "18_49" real);\n'
        'CREATE TABLE item (id int, order_id int REFERENCES "order"(id), "group" text);'
    )
    constraint = sql(ddl)  # DDL given positionally
    assert sql_grammar(read_schema(ddl=ddl)) == constraint.grammar
    connection = sqlite3.connect(":memory:")
    connection.executescript(ddl)
    queries = [
        'SELECT "first name", "18_49" FROM "order" WHERE "18_49" > 1',
        'SELECT T1."first name", T2."group" FROM "order" AS T1 JOIN item AS T2 ON T1.id = T2.order_id',
        'SELECT "order"."first name" FROM item JOIN "order" ON item.order_id = "order".id',
    ]
    for query in queries:
        assert constraint.accepts(query.encode()), query
        connection.execute(query).fetchall()
    assert not constraint.accepts(b"SELECT first name FROM \"order\"")
    assert not constraint.accepts(b'SELECT "group" FROM "order"')


def test_too_many_join_chains_is_a_clear_error():
    tables = [
        f"CREATE TABLE t{i} (id int primary key"
        + "".join(f", r{j} int REFERENCES t{j}(id)" for j in range(i))
        + ");"
        for i in range(12)
    ]
    schema = read_schema(ddl="\n".join(tables))
    assert len(scopes(schema, 2)) == 24 + 2 * 132  # 12 tables bare and aliased, 132 ordered pairs
    with pytest.raises(ConstraintError, match="max_join_tables"):
        scopes(schema, 4)


def test_grammar_of_every_spider_database_names_all_its_tables():
    for path in sorted((SPIDER / "databases").glob("*/*.sqlite")):
        schema = read_schema(path)
        text = sql_grammar(schema)
        assert text.startswith("start: query")
        for table in schema.tables:
            assert f'"{render_name(table.name)}"' in text.replace('\\"', '"'), (path.name, table.name)
