"""The SQL constraint: SELECT statements over one database's schema, as sqlite reads them.

Bytes go through sqlite's tokenizer (`sql_lexer`), tokens through an LL(1) parser of the
SELECT syntax (`sql_syntax`, `ll1`) whose actions check names and scopes against the
schema (`sql_scope`). The prefix test is exact for the language of docs/sql.md: a prefix
is refused as soon as no accepted query starts with it. `grammar` and `canonical_twist`
give the single-spelling Lark grammar of `sql_grammar.py`, for tools that need a
context-free grammar and for generation that prefers one spelling.
"""
from __future__ import annotations

import bisect
import re
from functools import cached_property
from pathlib import Path
from typing import Callable

from constraints.base import Constraint
from constraints.sql.ll1 import LL1, Action
from constraints.sql.sql_functions import sqlite_functions
from constraints.sql.sql_lexer import EOF, KEYWORD_TOKENS, KEYWORDS, LexError, Lexer, Partial, Token
from constraints.sql.sql_schema import Schema, read_schema
from constraints.sql.sql_completion import scope_names
from constraints.sql.sql_scope import Scope, Sem
from constraints.sql.sql_syntax import GREEDY, SQL_GRAMMAR

_DDL_START = re.compile(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(?:CREATE|PRAGMA|BEGIN)\b", re.I | re.S)

# Keywords sqlite refuses as a column alias after AS (`SELECT 1 AS <word>`), found by trying
# each; every other keyword may follow AS (tests/test_sql_language.py checks the list).
ALIAS_REJECTED = frozenset(
    """ADD ALL ALTER AND AS AUTOINCREMENT BETWEEN CASE CHECK COLLATE COMMIT CONSTRAINT CREATE
    DEFAULT DEFERRABLE DELETE DISTINCT DROP ELSE ESCAPE EXCEPT EXISTS FOREIGN FROM GROUP HAVING
    IN INDEX INSERT INTERSECT INTO IS ISNULL JOIN LIMIT NOT NOTHING NOTNULL NULL ON OR ORDER
    PRIMARY REFERENCES RETURNING SELECT SET TABLE THEN TO TRANSACTION UNION UNIQUE UPDATE USING
    VALUES WHEN WHERE""".split()
)
_ALIAS_RULE = "as_alias : ID | QID | DQ | STR | " + " | ".join(sorted(KEYWORDS - ALIAS_REJECTED)) + "\n"
_EOF_TOKEN = Token(EOF)
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_FORWARD_CLAUSES = frozenset({"select", "on", "corder"})  # where a name may refer to one defined later
_QUOTED_BYTES = {close: frozenset(range(0x20, 0x7F)) - {close} for close in b"'\"`]"}  # by closing byte


class SqlState:
    """A prefix read so far: the unfinished token, the parser stack and the semantic value.

    Immutable. States that differ only in their unfinished token share one `Lookahead`.
    """

    __slots__ = ("partial", "stack", "sem", "lookahead", "shortest")

    def __init__(self, partial: Partial | None, stack, sem: Sem, lookahead: "Lookahead | None" = None):
        self.partial, self.stack, self.sem, self.lookahead = partial, stack, sem, lookahead
        self.shortest: tuple | None = None  # (completion or None, its length or a lower bound, exact), once asked


class Lookahead:
    """What may come after one parser state, worked out once and kept: the expected
    terminals, the keywords that pass, and where a token of each class would be checked."""

    __slots__ = ("expected", "keywords", "contexts", "names")

    def __init__(self, expected: frozenset):
        self.expected = expected
        self.names: tuple | None = None  # the names in scope, lower case (neutral_bytes)
        self.keywords: dict[str, bool] = {}
        self.contexts: dict[str, object] = {}


class SqlConstraint(Constraint):
    """SELECT statements that prepare and run on the schema; see docs/sql.md for the language."""

    def __init__(self, schema: Schema, *, max_join_tables: int = 4, max_compound_columns: int = 4):
        self.schema = schema
        self.scope = Scope(schema, sqlite_functions())
        actions = {}
        for name in dir(self.scope):
            if name.startswith("a_"):
                actions[name[2:]] = Action(name[2:], getattr(self.scope, name),
                                           getattr(self.scope, "p_" + name[2:], None))
        self.parser = LL1(SQL_GRAMMAR + _ALIAS_RULE, actions, "start", GREEDY)
        self.lexer = Lexer()
        self._canonical_options = {"max_join_tables": max_join_tables, "max_compound_columns": max_compound_columns}
        self._start = SqlState(None, self.parser.start_stack, Sem(()))
        self._keyword_lists: dict[frozenset, list[str]] = {}

    def start(self) -> SqlState:
        return self._start

    def advance(self, state: SqlState, chunk: bytes) -> SqlState | None:
        partial, stack, sem, lookahead = state.partial, state.stack, state.sem, state.lookahead
        step, feed = self.lexer.step, self.parser.feed
        for byte in chunk:
            try:
                tokens, partial = step(partial, byte)
            except LexError:
                return None
            for token in tokens:
                fed = feed(stack, sem, token)
                if fed is None:
                    return None
                stack, sem = fed
                lookahead = None
        if partial is not None:
            if lookahead is None:
                lookahead = Lookahead(self.parser.expected(stack))
            if not self._may_complete(partial, stack, sem, lookahead):
                return None
        new = SqlState(partial, stack, sem, lookahead)
        known = state.shortest
        if known is not None:
            if known[2] and known[0].startswith(chunk):
                # the chunk follows a shortest completion: its rest is one of the new state (none can be
                # shorter, or the old state would have a shorter one)
                new.shortest = (known[0][len(chunk):], known[1] - len(chunk), True)
            elif state.partial is not None and partial is not None and partial.kind == state.partial.kind:
                neutral = self.neutral_bytes(state)
                if neutral is not None and neutral.issuperset(chunk):
                    new.shortest = known  # a fresh name grew: the same completion (neutral_bytes)
        return new

    def neutral_bytes(self, state: SqlState) -> frozenset | None:
        """Inside a name that can only be a fresh one (no keyword, and no name of the schema or in scope,
        starts with it: an alias, or a quoted name or string): its name characters (a bare word) or any
        printable ASCII but the closing quote (a quoted one) keep it one and change neither what may
        follow nor the shortest completion, so token masks read them without advancing the parser."""
        partial = state.partial
        if partial is None:
            return None
        kind = partial.kind
        if kind == "word":
            neutral = _NAME_BYTES
        elif kind == "quote" and not partial.closed:
            neutral = _QUOTED_BYTES[partial.quote]
        elif kind == "bracket":
            neutral = _QUOTED_BYTES[0x5D]
        else:
            return None
        frames = state.sem.frames
        if not frames or frames[-1].clause in _FORWARD_CLAUSES:
            return None  # a fresh name there may be a qualifier the completion must repeat (`SELECT q.a FROM t q`)
        lookahead = state.lookahead  # shared by the states of one parser state: the scope's names kept there
        if lookahead.names is None:
            lookahead.names = tuple({name.lower() for name in scope_names(state.sem)})
        fresh = self.completions.is_fresh_word(partial.data, lookahead.names, keywords=kind == "word")
        return neutral if fresh else None

    def _may_complete(self, partial: Partial, stack, sem: Sem, lookahead: Lookahead) -> bool:
        """Some token that `partial` may still become can come next."""
        expected = lookahead.expected
        for completion in self.lexer.completions(partial):
            if isinstance(completion, Token):
                if completion.term in expected and self.parser.feed(stack, sem, completion) is not None:
                    return True
            elif completion[0] == "keyword":
                start = completion[1]
                keywords = self._keywords_in(expected)
                at = bisect.bisect_left(keywords, start)
                while at < len(keywords) and keywords[at].startswith(start):
                    keyword = keywords[at]
                    passes = lookahead.keywords.get(keyword)
                    if passes is None:
                        passes = self.parser.feed(stack, sem, KEYWORD_TOKENS[keyword]) is not None
                        lookahead.keywords[keyword] = passes
                    if passes:
                        return True
                    at += 1
            else:
                _, term, text = completion
                if term not in expected:
                    continue
                context = lookahead.contexts.get(term, False)
                if context is False:
                    context = lookahead.contexts[term] = self.parser.prefix_context(stack, sem, term)
                if context is not None and (context[0] is None or context[0].prefix(context[1], (term, text))):
                    return True
        return False

    def _keywords_in(self, expected: frozenset) -> list[str]:
        """The keywords among `expected`, sorted (a few dozen distinct sets occur: cached)."""
        found = self._keyword_lists.get(expected)
        if found is None:
            found = self._keyword_lists[expected] = sorted(t for t in expected if t in KEYWORD_TOKENS)
        return found

    def is_accepting(self, state: SqlState) -> bool:
        stack, sem = state.stack, state.sem
        try:
            last = self.lexer.finish(state.partial)
        except LexError:
            return False
        if last is not None:
            fed = self.parser.feed(stack, sem, last)
            if fed is None:
                return False
            stack, sem = fed
        return self.parser.feed(stack, sem, _EOF_TOKEN) is not None

    def shortest_completion(self, state: SqlState) -> bytes | None:
        """A shortest completion in bytes (sql_completion.py: A* over tokens through the parser and its
        scope checks; exact). Computed once per state. Where the search gives up (a bounded number of
        nodes), the text is the unfinished best guess padded to a lower bound of the true length."""
        return self._shortest(state)[0]

    def min_completion_bytes(self, state: SqlState) -> int | None:
        text, length = self._shortest(state)
        return None if length < 0 else length

    def _shortest(self, state: SqlState) -> tuple:
        known = state.shortest
        if known is None:
            if self.is_accepting(state):
                known = (b"", 0, True)
            else:
                text, length = self.completions.shortest(state)
                exact = text is not None
                if text is None and length >= 0:
                    text = b" " * length  # gave up: a stand-in whose length is a lower bound
                known = (text, length, exact)
            state.shortest = known
        return known[:2]

    @cached_property
    def completions(self):
        """The shortest-completion search over this constraint's grammar and schema (built on first use)."""
        from constraints.sql.sql_completion import SqlCompletions
        return SqlCompletions(self)

    def first_rejected_byte(self, text: bytes) -> int | None:
        """The offset of the first byte at which `text` stops being a viable prefix (len(text)
        if the whole text is viable but not accepted); None if `text` is accepted."""
        state = self.start()
        for offset in range(len(text)):
            state = self.advance(state, text[offset:offset + 1])
            if state is None:
                return offset
        return None if self.is_accepting(state) else len(text)

    @cached_property
    def grammar(self) -> str:
        """The Lark grammar of one canonical spelling (sql_grammar.py): a sublanguage of this one."""
        from constraints.sql.sql_grammar import sql_grammar
        return sql_grammar(self.schema, **self._canonical_options)

    @cached_property
    def canonical(self) -> Constraint:
        """The canonical spelling as a constraint (a Lark grammar; slow to build: seconds)."""
        from constraints.grammar.lark_grammar import LarkConstraint
        return LarkConstraint(self.grammar)

    def canonical_twist(self, penalty: float = 2.0) -> Callable[[bytes], float]:
        """A generation twist (log weight of a prefix) that prefers the canonical spelling:
        0 while the text is a prefix of a canonically spelled query, -penalty once it is not."""
        canonical = self.canonical
        states: dict[bytes, object] = {b"": canonical.start()}

        def twist(text: bytes) -> float:
            known = len(text)
            while text[:known] not in states:  # the longest prefix already read (b"" is)
                known -= 1
            state = states[text[:known]]
            if state is not None and known < len(text):
                state = canonical.advance(state, text[known:])
                if len(states) > 4096:
                    states.clear()
                    states[b""] = canonical.start()
                states[text] = state
            return 0.0 if state is not None else -penalty

        return twist

    def __repr__(self) -> str:
        return f"sql(<tables {', '.join(t.name for t in self.schema.tables)}>)"


def sql(
    database: str | Path | None = None,
    *,
    ddl: str | None = None,
    max_join_tables: int = 4,
    max_compound_columns: int = 4,
) -> SqlConstraint:
    """SELECT statements over the schema of a sqlite file, or of DDL given as `ddl=`.

    A string `database` that starts with CREATE/PRAGMA/BEGIN is taken as DDL.
    `max_join_tables` and `max_compound_columns` shape only the canonical grammar
    (`.grammar`, `.canonical_twist()`), not the language the constraint accepts.
    """
    if isinstance(database, str) and ddl is None and _DDL_START.match(database):
        database, ddl = None, database
    schema = read_schema(database, ddl=ddl)
    return SqlConstraint(schema, max_join_tables=max_join_tables, max_compound_columns=max_compound_columns)
