"""Shortest completions of the SQL constraint (constraints/sql/sql_completion.py): exact against
breadth-first search over bytes on a small schema, never longer than what a Spider gold query
still writes, accepted by the constraint and run by sqlite; the semantic part of the search's
bound never overestimates; `&` with SQL; the token budget refuses an SQL output that cannot fit."""
from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

import constraints
from constraints.sql import sql as sql_module
from constraints.sql.sql import sql
from constraints.sql.sql_completion import SqlCompletions, needs_space
from constraints.sql.sql_lexer import ID, NUM, tokenize
from constraints.token_budget import BudgetTooSmall, TokenBudget, bytes_as_tokens

from shared_data import SPIDER  # noqa: E402

DDL = "CREATE TABLE t(a, b); CREATE TABLE singer(name, age); CREATE TABLE [order](x); CREATE TABLE uu(a, c)"
# Bytes a shortest completion can use: printable ASCII (other bytes only lengthen names or are spaces).
ALPHABET = [bytes((b,)) for b in range(0x20, 0x7F)]


@pytest.fixture(scope="module")
def small():
    return sql(ddl=DDL)


def shortest_by_bfs(constraint, state, depth: int) -> int | None:
    """The length of the shortest completion of `state` up to `depth` bytes over ALPHABET, else None."""
    level = [state]
    for length in range(depth + 1):
        if any(constraint.is_accepting(s) for s in level):
            return length
        if length == depth:
            return None
        level = [following for s in level for byte in ALPHABET
                 if (following := constraint.advance(s, byte)) is not None]
    return None


PREFIXES = [b"", b"SEL", b"SELECT", b"SELECT ", b"SELECT 1", b"SELECT a", b"SELECT *", b"SELECT count(",
            b"SELECT count(*", b"SELECT 1 UNION SELECT", b"SELECT a, b FROM t UNION SELECT 1", b"SELECT a FROM t WHERE",
            b"SELECT a FROM t WHERE a IN (", b"SELECT a FROM t WHERE a IN (SELECT", b"SELECT a FROM t ORDER BY",
            b"SELECT a FROM t GROUP BY", b"SELECT a FROM t GROUP BY a HAVING", b"SELECT a FROM t LIMIT",
            b"SELECT a FROM t LIMIT 1 OFFSET", b"SELECT CAST(1 AS", b"SELECT 'ab", b"SELECT \"na", b"SELECT [or",
            b"SELECT 1 <", b"SELECT 1 -", b"SELECT 1.", b"SELECT 1e", b"SELECT x'a", b"SELECT a FROM t AS x JOIN singer ON",
            b"SELECT c FROM t JOIN uu USING (", b"SELECT a FROM t WHERE a BETWEEN 1", b"SELECT a FROM t WHERE a LIKE 'x' ESCAPE",
            b"SELECT CASE", b"SELECT CASE WHEN 1 THEN 2", b"SELECT * FROM t NATURAL", b"SELECT max(a", b"SELECT a FROM t WHERE a IS NOT",
            b"SELECT x.a FROM t x", b"SELECT a FROM t ORDER BY 1 NULLS", b"SELECT a FROM t t1,", b"SELECT t.", b"SELECT a FROM ("]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_shortest_completions_match_breadth_first_search_over_bytes(small, prefix):
    state = small.advance(small.start(), prefix)
    assert state is not None
    text = small.shortest_completion(state)
    assert text is not None and small.accepts(prefix + text), (prefix, text)
    assert small.min_completion_bytes(state) == len(text)
    depth = min(len(text) - 1, 2)
    assert shortest_by_bfs(small, state, depth) is None, (prefix, text)  # nothing shorter (up to `depth`)
    if len(text) <= 3:
        assert shortest_by_bfs(small, state, len(text)) == len(text)


def test_names_matter_a_select_list_needs_a_table_that_has_its_columns(small):
    def completion(prefix: bytes) -> bytes:
        return small.shortest_completion(small.advance(small.start(), prefix))

    assert completion(b"SELECT *") == b"FROM t"          # any table: the shortest name
    assert completion(b"SELECT age ") == b"FROM singer"  # only singer has age
    assert completion(b"SELECT x.age ") == b"FROM singer x"
    assert completion(b"SELECT (SELECT age)") == b"FROM singer"  # the outer query may bind it
    assert completion(b"SELECT x FROM") == b"[order]"    # a keyword as a table name is quoted
    assert completion(b"SELECT x ") == b".*FROM t x"    # shorter than FROM[order]: x is a table alias
    assert completion(b"SELECT a, b FROM t UNION SELECT ") == b"1,1"  # the compound's width


def test_a_prefix_with_no_completion_has_none(small):
    """USING needs a column both sides have: the prefix test lets `(` through, the search finds no end."""
    state = small.advance(small.start(), b"SELECT a FROM t JOIN singer USING (")
    assert state is not None and small.shortest_completion(state) is None
    assert small.min_completion_bytes(state) is None
    # x.age needs a table named x with age, but x is taken (sqlite finds x.age ambiguous; the constraint refuses it)
    for prefix in (b"SELECT x.age FROM t x,", b"SELECT x.age FROM t x "):
        state = small.advance(small.start(), prefix)
        assert state is not None and small.completions.shortest(state) == (None, -1), prefix


def test_separators_are_those_sqlite_needs():
    assert needs_space(b"SELECT", "SELECT", b"a") and not needs_space(b"SELECT", "SELECT", b"*")
    assert needs_space(b"1", NUM, b".") and needs_space(b"1.", NUM, b"AND") and needs_space(b"x", ID, b"''")
    assert needs_space(b"<", "<", b"=") and needs_space(b"-", "-", b"-") and not needs_space(b"<", "<", b"1")
    assert needs_space(b"'a'", "STR", b"''") and not needs_space(b"'a'", "STR", b"1")
    assert [t.term for t in tokenize(b"SELECT*FROM t")] == ["SELECT", "*", "FROM", "ID"]


def spider_prefixes(count: int, seed: int):
    rows = [json.loads(line) for line in open(SPIDER / "dev.jsonl")]
    rng = random.Random(seed)
    rng.shuffle(rows)
    for row in rows[:count]:
        query = row["query"].encode()
        for cut in sorted(rng.sample(range(len(query) + 1), min(4, len(query) + 1))):
            yield row["db_id"], query, cut


@pytest.mark.skipif(not SPIDER.is_dir(), reason="Spider data not available")
def test_spider_completions_are_accepted_run_and_no_longer_than_the_gold_rest():
    databases: dict = {}
    for db, query, cut in spider_prefixes(40, seed=3):
        path = SPIDER / "databases" / db / f"{db}.sqlite"
        constraint = databases.setdefault(db, sql(path))
        state = constraint.advance(constraint.start(), query[:cut])
        text = constraint.shortest_completion(state)
        assert text is not None and constraint.accepts(query[:cut] + text), (query[:cut], text)
        assert len(text) <= len(query) - cut, (query[:cut], text)
        connection = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            connection.execute("EXPLAIN " + (query[:cut] + text).decode())  # sqlite prepares it
        finally:
            connection.close()


@pytest.mark.skipif(not SPIDER.is_dir(), reason="Spider data not available")
def test_the_budget_search_finds_every_gold_prefix_completion():
    """The token budget searches at most BUDGET_EXPANSIONS nodes and refuses a state where that finds nothing;
    on this sample of prefixes of Spider's gold queries it finds a completion as short as the full search's
    (over all 15,494 byte prefixes of 150 gold queries, 7 need more than 100 nodes: docs/constraints.md)."""
    from constraints.sql.sql import BUDGET_EXPANSIONS
    databases: dict = {}
    for db, query, cut in spider_prefixes(40, seed=7):
        constraint = databases.setdefault(db, sql(SPIDER / "databases" / db / f"{db}.sqlite"))
        state = constraint.advance(constraint.start(), query[:cut])
        full = constraint.completions.shortest(state)
        quick = constraint.completions.shortest(state, max_expansions=BUDGET_EXPANSIONS)
        assert full[0] is not None and quick[0] is not None and quick[1] == full[1], (query[:cut], full, quick)
        assert constraint.budget_completion(state) is not None


@pytest.mark.skipif(not SPIDER.is_dir(), reason="Spider data not available")
def test_the_schema_part_of_the_bound_never_overestimates():
    """With only the grammar's bound (plainly a lower bound) the search is slow but exact: where it finishes,
    it finds the same lengths as the search with the FROM-clause bounds."""
    databases: dict = {}
    compared = 0
    for db, query, cut in spider_prefixes(20, seed=5):
        constraint = databases.setdefault(db, sql(SPIDER / "databases" / db / f"{db}.sqlite"))
        state = constraint.advance(constraint.start(), query[:cut])
        text = constraint.shortest_completion(state)
        plain = SqlCompletions(constraint)
        plain._from_needed = lambda stack, sem: 0
        found, length = plain.shortest(state, max_expansions=400)
        if found is not None:
            compared += 1
            assert length == len(text), (query[:cut], text, found)
    assert compared >= 50


def test_conjunction_with_sql_finds_a_common_shortest_completion(small):
    both = small & constraints.regex(r"SELECT [a-z0-9 ,*]*")
    state = both.advance(both.start(), b"SELECT a")
    text = both.shortest_completion(state)
    assert both.accepts(b"SELECT a" + text)
    alone = small.shortest_completion(state[0])
    assert alone == b"LL 1" and not both.accepts(b"SELECT a" + alone)  # the regex wants lower case
    assert len(text) == len(alone)  # SELECT all 0


def test_the_budget_names_both_lengths_for_an_sql_output_that_cannot_fit(small):
    budget = TokenBudget(small, 9, tokens=bytes_as_tokens)  # "SELECT 1": 8 bytes + EOS
    assert budget.advance(budget.start(), b"SELECT") is not None
    with pytest.raises(BudgetTooSmall, match=r"shortest output .* is 8 bytes .* max_tokens=8"):
        TokenBudget(small, 8, tokens=bytes_as_tokens)
    state = budget.advance(budget.start(), b"SELECT")
    assert budget.advance(state, b" a") is not None  # 2 tokens, then "LL 1" (SELECT aLL 1) and EOS: 7
    assert budget.advance(state, b" age") is None  # 2 tokens, then " FROM singer" and EOS: 15


DERIVED = [b"SELECT x.a, x.name", b"SELECT x.a, x.name,", b"SELECT x.a, x.name FROM (", b"SELECT x.a, x.name FROM (SELECT",
           b"SELECT x.a, x.name FROM (SELECT *", b"SELECT x.a, x.name FROM (SELECT 1 a,", b"SELECT x.c, x.age FROM (SELECT *, 1",
           b"SELECT name, c FROM (SELECT", b"SELECT x.a, x.age FROM (SELECT * FROM t,", b"SELECT x.c, x.name, x.age FROM (",
           b"SELECT x.a, x.c, name "]


@pytest.mark.parametrize("prefix", DERIVED)
def test_columns_from_a_from_subquery_are_found_without_giving_up(small, prefix):
    """A qualifier whose columns no one table has needs a FROM subquery naming them (`(SELECT""name,1 a)x`,
    `(SELECT*FROM singer,t)x`): the search finds it within its node limit, and at every token boundary
    of the completion the bound stays within the bytes still to write."""
    state = small.advance(small.start(), prefix)
    completions = small.completions
    text, length = completions.shortest(state)
    assert text is not None and length == len(text) and small.accepts(prefix + text), (prefix, text, length)
    whole = prefix + text
    for cut in range(len(prefix), len(whole) + 1):
        at = small.advance(small.start(), whole[:cut])
        if at.partial is None:
            assert completions.bound(at.stack, at.sem, whole[cut - 1:cut].isalnum()) <= len(whole) - cut, whole[:cut]


def test_a_star_over_a_join_can_be_the_shortest_subquery(small):
    state = small.advance(small.start(), b"SELECT x.a, x.name FROM (SELECT *")
    assert small.shortest_completion(state) in (b"FROM singer,t)x", b"FROM t,singer)x")
    state = small.advance(small.start(), b"SELECT x.c, x.name, x.age FROM (")  # a star still to write
    assert small.shortest_completion(state) in (b"SELECT*FROM singer,uu)x", b"SELECT*FROM uu,singer)x")


NAME_PREFIXES = [b"SELECT ", b"SELECT a, ", b"SELECT * FROM t ", b"SELECT * FROM t AS ", b"SELECT * FROM t JOIN uu ON ",
                 b"SELECT a FROM t ORDER BY ", b"SELECT a FROM t GROUP BY a HAVING ", b"SELECT * FROM (SELECT a FROM t) ",
                 b"SELECT a AS ", b"SELECT * FROM t WHERE a = ", b"SELECT a, q.a FROM t ", b"SELECT a, q.c FROM t ",
                 b"SELECT 1 ", b"SELECT q.a, "]
NAMES = [b"NULLID", b"qq", b"Bzz", b"wxyz", b"mm_1", b"zz", b"Q", b"JOi", b"wHe", b"Rele\xc2\xb0", b"\xc3\xa9t\xc3", b"SiNg",
         b"'%{", b"'abc", b'"abc', b'"%(', b"[x y", b"[qq", b"`zz", b"'", b"[", b'"\xc3\xa9t']


@pytest.mark.parametrize("prefix", NAME_PREFIXES)
def test_names_of_one_class_share_one_search_and_keep_the_exact_length(small, prefix):
    """A state ending inside a name takes its completion from a stand-in of its class (a case variant, or a
    fresh name of the same spelling: the shortest one if its completion does not repeat it, else one of the same
    length, renamed back): as long as the state's own search, and a real completion of it."""
    shared = 0
    for name in NAMES:
        state = small.advance(small.start(), prefix + name)
        if state is None:
            continue
        by_class = small._class_pieces(state, 4000)
        if by_class is None:
            continue
        shared += 1
        pieces, length = by_class
        assert length == small.completions.shortest(state)[1], prefix + name
        if pieces is not None:
            assert small.completes(state, b"".join(pieces)), (prefix + name, pieces)
    assert shared >= 5


def test_a_completion_that_does_not_repeat_the_name_serves_fresh_names_of_every_length(small):
    """The shortest fresh stand-in is searched once per parser state; where its completion does not repeat it, names
    of every length take it (a table alias: `,t q USING(a)`); where it does (a qualifier in the select list),
    each length has its own search, and the length grows with the name."""
    names = (b"mm", b"zzzz", b"wwwwwww")
    constraint = sql(ddl=DDL)
    parent = constraint.advance(constraint.start(), b"SELECT a, q.a FROM t ")
    states = [constraint.advance(parent, name) for name in names]  # one parser state: one Lookahead
    for state in states:
        pieces, length = constraint._class_pieces(state, 100)
        assert b"".join(pieces) == b",t q USING(a)" and length == 13
    assert len(states[0].lookahead.words) == 1  # one search served the three
    parent = constraint.advance(constraint.start(), b"SELECT q.a, ")
    states = [constraint.advance(parent, name) for name in names]
    lengths = []
    for name, state in zip(names, states):
        pieces, length = constraint._class_pieces(state, 100)
        assert constraint.completes(state, b"".join(pieces)) and b" " + name in pieces
        assert length == constraint.completions.shortest(state)[1]
        lengths.append(length)
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]
    assert len(states[0].lookahead.words) == 1 + len(names)  # the shortest stand-in's, then one per length


# Unfinished strings and double-quoted names that can only be fresh, in the select list and ON (a string there, or
# an alias), and in other clauses
QUOTED = [b'SELECT "zz', b"SELECT 'zz", b"SELECT a, 'zz", b'SELECT 1 "zz', b'SELECT 1 AS "zz', b'SELECT count("zz',
          b'SELECT 1, 2 UNION SELECT "zz', b'SELECT x.a FROM (SELECT "zz', b'SELECT * FROM t JOIN uu ON "zz',
          b'SELECT CASE WHEN "zz', b'SELECT a, q.a, "zz', b'SELECT a FROM t WHERE a = "zz']


@pytest.mark.parametrize("prefix", QUOTED)
def test_strings_of_the_select_list_have_neutral_bytes_and_one_completion_length(small, prefix):
    """Such a name may always end as a string (or an alias): its characters are neutral bytes (token masks read them
    without advancing the parser), and its shortest completion is as long for a name of any length."""
    state = small.advance(small.start(), prefix)
    assert state is not None and small.neutral_bytes(state) == frozenset(range(0x20, 0x7F)) - {prefix[-3]}
    lengths = {small.completions.shortest(small.advance(state, more))[1] for more in (b"", b"z", b"zz w", b"zzzzzzz")}
    assert len(lengths) == 1 and lengths != {None}, (prefix, lengths)


def test_names_a_check_reads_or_that_may_be_qualifiers_have_no_neutral_bytes(small):
    """ESCAPE takes one character, `[...]` and backquoted names are no strings (a qualifier the completion repeats:
    `SELECT [zz` -> `].*FROM t zz`), a compound's ORDER BY names result columns."""
    for text in (b"SELECT a FROM t WHERE a LIKE 'x' ESCAPE 'k", b"SELECT a FROM t WHERE a LIKE 'x' ESCAPE 'zz",
                 b"SELECT [zz", b"SELECT `zz", b"SELECT 1 UNION SELECT 2 ORDER BY \"zz", b'SELECT "a'):
        state = small.advance(small.start(), text)
        assert state is None or small.neutral_bytes(state) is None, text


def test_masks_in_strings_of_the_select_list_equal_per_token_checks(small):
    from lm import load
    from lm.generation.generation import vocabulary_trie
    from test_token_budget import assert_masks_equal_per_token_checks, tokens_of
    builtin = load("builtin")
    trie, vocabulary = vocabulary_trie(builtin), tokens_of(builtin)
    for text in QUOTED[:4] + [b"SELECT a FROM t WHERE a LIKE 'x' ESCAPE 'k"]:
        assert_masks_equal_per_token_checks(small, small.advance(small.start(), text), 3, trie, vocabulary, 24)


def test_the_budget_refuses_a_state_whose_search_gives_up_and_the_standalone_search_is_unaffected(monkeypatch):
    """Where the budget's search (BUDGET_EXPANSIONS nodes) gives up, the token budget refuses the state (a particle
    keeps only prefixes with a completion known to fit), while `shortest_completion` searches on, exact. The
    budget's effort is cut to 5 nodes here, so that it gives up after `SELECT a, q.a FROM t,` (`t q USING(a)`, 8
    nodes) but not at the start (5) nor after `SELECT a, q.a FROM t` (2)."""
    monkeypatch.setattr(sql_module, "BUDGET_EXPANSIONS", 5)
    constraint = sql(ddl=DDL)
    state = constraint.advance(constraint.start(), b"SELECT a, q.a FROM t,")
    assert constraint.budget_completion(state) is None
    assert constraint.shortest_completion(state) == b"t q USING(a)"  # searched again, with the full effort
    live = constraint.advance(constraint.start(), b"SELECT a, q.a FROM t")
    assert constraint.completes(live, constraint.budget_completion(live))
    budget = TokenBudget(sql(ddl=DDL), 64, tokens=bytes_as_tokens)
    before = budget.advance(budget.start(), b"SELECT a, q.a FROM t")
    assert before is not None and budget.advance(before, b",") is None


# A bare name of the select list (or an ON clause) that a table of the FROM clause already shows: a later table
# item with that column must hide it (USING, NATURAL JOIN) or name it otherwise (a FROM subquery without it)
SHOWN = [b"SELECT a, q.a FROM t,", b"SELECT a, q.a FROM t x", b"SELECT a, q.c FROM t x", b"SELECT a, q.c FROM t NATURAL",
         b"SELECT a, b, q.a FROM t x JOIN", b"SELECT a FROM t, uu", b"SELECT a FROM t, (SELECT a FROM uu)",
         b"SELECT a, q.a FROM t, (SELECT", b"SELECT a, q.a FROM t JOIN", b"SELECT a, c FROM t,", b"SELECT a, q.a FROM t, uu q",
         b"SELECT a, q.a FROM t, uu q USING(", b"SELECT a, q.a, r.a FROM t,", b"SELECT t.a, c FROM t JOIN uu x ON x.c = 1 JOIN"]


@pytest.mark.parametrize("prefix", SHOWN)
def test_a_name_a_table_already_shows_is_hidden_by_the_next_and_found_by_the_budget_search(small, prefix):
    """The search's bound counts the USING (or NATURAL JOIN) such a table needs, so the budget's small search finds
    the completion; sqlite runs it; the bound stays within the bytes still to write at every token boundary; and
    where the search with the grammar's bound alone finishes, it finds the same length."""
    from constraints.sql.sql import BUDGET_EXPANSIONS
    state = small.advance(small.start(), prefix)
    text, length = small.completions.shortest(state, BUDGET_EXPANSIONS)
    assert text is not None and length == len(text) and small.accepts(prefix + text), (prefix, text, length)
    connection = sqlite3.connect(":memory:")
    connection.executescript(DDL)
    connection.execute((prefix + text).decode()).fetchall()
    whole = prefix + text
    for cut in range(len(prefix), len(whole) + 1):
        at = small.advance(small.start(), whole[:cut])
        if at.partial is None:
            assert small.completions.bound(at.stack, at.sem, whole[cut - 1:cut].isalnum()) <= len(whole) - cut, whole[:cut]
    plain = SqlCompletions(small)
    plain._from_needed = lambda stack, sem: 0
    found, plain_length = plain.shortest(state, max_expansions=3000)
    assert found is None or plain_length == length, (prefix, text, found)


# (viable prefix, continuations that make a bare name ambiguous whatever follows): refused by the prefix test
AMBIGUOUS = [(b"SELECT a, q.a FROM t,t q", [b" ON", b",", b" JOIN", b" NATURAL JOIN", b" LEFT JOIN", b" WHERE"]),
             (b"SELECT * FROM t JOIN uu ON", [b" a =", b" 1=a AND", b" (a)"]),
             (b"SELECT a FROM t x JOIN t y USING(b", [b")", b"))"]),
             (b"SELECT b FROM t x NATURAL JOIN uu y JOIN t z", [b",", b" ON", b" JOIN"]),
             (b"SELECT (SELECT a FROM t, uu", [b",", b" JOIN ", b" ON ", b")"])]


@pytest.mark.parametrize("prefix, ends", AMBIGUOUS)
def test_a_bare_name_two_tables_show_for_good_is_refused_at_once(small, prefix, ends):
    """Once two tables whose shown columns no later token changes show a bare name waiting for the FROM clause
    (a USING only hides columns of the table it joins), sqlite will find it ambiguous: the prefix test refuses
    the first byte after which that is certain, instead of leaving the budget a search that cannot succeed."""
    connection = sqlite3.connect(":memory:")
    connection.executescript(DDL)
    state = small.advance(small.start(), prefix)
    assert state is not None and small.completions.shortest(state)[0] is not None, prefix
    for end in ends:
        assert small.first_rejected_byte(prefix + end) is not None and small.first_rejected_byte(prefix + end) < len(
            prefix + end), prefix + end
        # sqlite agrees on a way to finish it
        for rest in (b" 1", b" t w", b" uu w", b" t w USING(a)", b" uu w USING(a)", b" t w ON 1"):
            query = prefix + end + rest
            query += b")" * (query.count(b"(") - query.count(b")"))
            try:
                connection.execute(query.decode()).fetchall()
            except sqlite3.Error:
                continue
            raise AssertionError(f"sqlite runs {query!r}")
