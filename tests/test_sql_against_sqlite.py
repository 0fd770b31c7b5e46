"""The SQL constraint against sqlite itself: random queries of the language run, corrupted
gold queries are refused exactly when sqlite refuses them, and the keyword and function
tables the language uses are what this sqlite does."""
from __future__ import annotations

import json
import random
import sqlite3

import pytest

from constraints.sql.sql import ALIAS_REJECTED, sql
from constraints.sql.sql_functions import sqlite_functions
from constraints.sql.sql_lexer import KEYWORDS
from constraints.sql.sql_random import RandomQueries, mutants
from constraints.sql.sql_sampler import GrammarSampler

from shared_data import SPIDER  # noqa: E402
pytestmark = pytest.mark.skipif(not SPIDER.is_dir(), reason="Spider data not available")


def connect(name: str) -> sqlite3.Connection:
    path = SPIDER / "databases" / name / f"{name}.sqlite"
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    connection.text_factory = bytes  # random queries may build text that is not UTF-8
    return connection


def run(connection: sqlite3.Connection, query: str) -> str | None:
    """sqlite's error for `query`, or None if it runs (or runs past a step budget)."""
    steps = [0]

    def stop() -> bool:
        steps[0] += 1
        return steps[0] > 100

    connection.set_progress_handler(stop, 1000)
    try:
        connection.execute(query).fetchmany(3)
    except sqlite3.OperationalError as error:
        return None if str(error) == "interrupted" else str(error)
    except sqlite3.Error as error:
        return str(error)
    return None


@pytest.mark.parametrize("name", ["singer", "pets_1", "network_1", "cre_Doc_Template_Mgt"])
def test_random_queries_of_the_language_run_on_sqlite(name):
    constraint = sql(SPIDER / "databases" / name / f"{name}.sqlite")
    sampler = RandomQueries(constraint, max_tokens=40)
    connection = connect(name)
    rng = random.Random(17)
    drawn, errors = 0, []
    for _ in range(1500):
        query = sampler.sample(rng)
        if query is None:
            continue  # the walk got stuck; samples are drawn until enough complete
        assert constraint.accepts(query.encode())
        error = run(connection, query)
        if error is not None:
            errors.append((error, query))
        drawn += 1
        if drawn == 80:
            break
    assert drawn == 80
    assert errors == []


def test_corrupted_gold_queries_are_refused_exactly_when_sqlite_refuses_them():
    with open(SPIDER / "dev.jsonl") as f:
        rows = [json.loads(line) for line in f]
    rng = random.Random(5)
    constraints, connections, disagreements, kinds = {}, {}, [], set()
    for row in rows[::3]:
        name = row["db_id"]
        if name not in constraints:
            constraints[name] = sql(SPIDER / "databases" / name / f"{name}.sqlite")
            connections[name] = connect(name)
        for kind, query in mutants(row["query"], constraints[name].schema, rng):
            kinds.add(kind)
            runs = run(connections[name], query) is None
            if constraints[name].accepts(query.encode()) != runs:
                disagreements.append((kind, runs, query))
    assert kinds == {"renamed column", "unknown table", "dropped keyword", "broken string",
                     "unknown qualifier", "deleted token", "layout"}
    assert disagreements == []


def test_keywords_after_as_are_those_sqlite_takes_as_an_alias():
    connection = sqlite3.connect(":memory:")
    taken = set()
    for keyword in KEYWORDS:
        try:
            connection.execute(f"SELECT 1 AS {keyword}")
            taken.add(keyword)
        except sqlite3.Error:
            pass
    assert taken == set(KEYWORDS) - ALIAS_REJECTED


def test_function_argument_counts_are_those_sqlite_checks():
    connection = sqlite3.connect(":memory:")

    def prepares(name: str, count: int) -> bool:
        try:
            connection.execute(f"SELECT {name}({', '.join(['1'] * count)})")
            return True
        except sqlite3.OperationalError as error:
            assert "wrong number of arguments" in str(error) or "misuse" in str(error), error
            return False

    for name, function in sqlite_functions().items():
        assert prepares(name, function.fewest), name
        if function.fewest > 0:
            assert not prepares(name, function.fewest - 1), name
        if function.most is not None:
            assert prepares(name, function.most) and not prepares(name, function.most + 1), name


def test_the_canonical_grammar_is_a_sublanguage():
    constraint = sql(SPIDER / "databases" / "pets_1" / "pets_1.sqlite")
    sampler = GrammarSampler(constraint.canonical.parser, max_depth=8)
    rng = random.Random(3)
    refused = [q for q in (sampler.sample(rng) for _ in range(60)) if not constraint.accepts(q.encode())]
    assert refused == []
