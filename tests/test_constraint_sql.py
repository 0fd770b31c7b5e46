"""The SQL constraint over real Spider databases: schema reading, gold queries, grammar
samples run on sqlite, prefixes, rejections. The full run is benchmarks/sql_coverage.py."""
from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import lark
import pytest

from lm.constraints.base import ConstraintError
from lm.constraints.sql_canonical import canonical_sql
from lm.constraints.sql_grammar import render_name, scopes, sql_grammar
from lm.constraints.sql_sampler import GrammarSampler
from lm.constraints.sql_schema import ForeignKey, read_schema, split_statements

SPIDER = Path("/work/shared/data/spider")
pytestmark = pytest.mark.skipif(not SPIDER.is_dir(), reason="Spider data not available")


def database(name: str) -> Path:
    return SPIDER / "databases" / name / f"{name}.sqlite"


def gold(name: str) -> list[str]:
    with open(SPIDER / "dev.jsonl") as f:
        rows = [json.loads(line) for line in f]
    return [r["query"] for r in rows if r["db_id"] == name]


@pytest.fixture(scope="module")
def singer():
    """The `singer` database: its schema, grammar text and a Lark Earley parser of it."""
    schema = read_schema(database("singer"))
    text = sql_grammar(schema)
    return schema, text, lark.Lark(text, parser="earley")


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


def test_gold_queries_of_small_databases_are_accepted_by_lark():
    for name in ("singer",):
        schema = read_schema(database(name))
        parser = lark.Lark(sql_grammar(schema), parser="earley")
        rejected = [q for q in gold(name) if not lark_accepts(parser, canonical_sql(q, schema))]
        assert rejected == [], rejected


def test_wrong_names_scopes_and_layouts_are_rejected(singer):
    _, _, parser = singer
    accepted = [
        "SELECT Name FROM singer",
        "select count(*) from singer where Birth_Year < 1945;",
        "SELECT T2.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",
        "SELECT Name AS who FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 3 OFFSET 1",
        "SELECT Citizenship FROM singer GROUP BY Citizenship HAVING COUNT(*) > 1 ORDER BY COUNT(*)",
        "SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM song)",
        "SELECT Name, Citizenship FROM singer EXCEPT SELECT Name, Citizenship FROM singer WHERE Name LIKE 'A%'",
    ]
    rejected = [
        "SELECT Nme FROM singer",  # no such column
        "SELECT Name FROM singers",  # no such table
        "SELECT Title FROM singer",  # a column of another table, not in FROM
        "SELECT T1.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",
        "SELECT Singer_ID FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",
        "SELECT singer.Name FROM singer AS T1",  # the table has an alias
        "SELECT name FROM singer",  # names are spelled as in the schema
        "SELECT Name  FROM singer",  # one space
        "SELECT Name FROM singer ",
        "SELECT COUNT (*) FROM singer",
        "SELECT Name FROM singer ORDER BY COUNT(*)",  # aggregate without GROUP BY
        "SELECT Name FROM singer ORDER BY 1",  # column position
        "SELECT Name FROM singer WHERE COUNT(*) > 1",  # aggregate in WHERE
        "SELECT Name FROM singer UNION SELECT Name, Citizenship FROM singer",  # widths differ
        "SELECT Name FROM singer WHERE Singer_ID IN (SELECT Singer_ID, Title FROM song)",
        "SELECT Name AS from FROM singer",  # a keyword as alias
        "SELECT Name FROM singer LIMIT 9223372036854775808",  # 19 digits
    ]
    assert [q for q in accepted if not lark_accepts(parser, q)] == []
    assert [q for q in rejected if lark_accepts(parser, q)] == []


def test_grammar_samples_parse_and_run_on_sqlite(singer):
    """Every sampled sentence is in the grammar (lark parses it) and runs on the database."""
    _, _, parser = singer
    sampler = GrammarSampler(parser, max_depth=9)
    rng = random.Random(7)
    connection = sqlite3.connect(database("singer").resolve().as_uri() + "?mode=ro", uri=True)
    errors, timeouts = [], 0
    for number in range(150):
        query = sampler.sample(rng)
        if number < 15:  # lark's Earley is slow on long sentences: a few suffice here
            assert lark_accepts(parser, query), query
        budget = [0]

        def stop() -> bool:
            budget[0] += 1
            return budget[0] > 100

        connection.set_progress_handler(stop, 1000)
        try:
            connection.execute(query).fetchmany(3)
        except sqlite3.OperationalError as error:
            if str(error) == "interrupted":
                timeouts += 1  # ran long: not an error of the query
            else:
                errors.append((str(error), query))
    assert errors == []
    assert timeouts < 150
