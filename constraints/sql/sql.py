"""The SQL constraint: SELECT statements over one database's schema, as sqlite reads them.

Bytes go through sqlite's tokenizer (`sql_lexer`), tokens through an LL(1) parser of the
SELECT syntax (`sql_syntax`, `ll1`) whose actions check names and scopes against the
schema (`sql_scope`). The prefix test refuses a prefix once no accepted query starts with it, as
far as the checks of docs/sql.md are made at the first byte that decides them; what only the end
of a clause decides (a bare name of the select list that no table of the FROM clause may bind) is
left to the completion search (`shortest_completion`, `budget_completion`). `grammar` and `canonical_twist`
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
from constraints.sql.sql_lexer import DQ, EOF, ID, KEYWORD_TOKENS, KEYWORDS, QID, STR, LexError, Lexer, Partial, Token
from constraints.sql.sql_schema import Schema, read_schema
from constraints.sql.sql_completion import MAX_EXPANSIONS, is_bare_word, scope_keys
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
_CONTENT_FREE = frozenset({"name_head"})  # prefix checks that pass any fresh name (a name head: a string, a qualifier)
BUDGET_EXPANSIONS = 100  # a budget test's search effort (`SqlConstraint.budget_completion`)
_QUOTED_BYTES = {close: frozenset(range(0x20, 0x7F)) - {close} for close in b"'\"`]"}  # by closing byte


class SqlState:
    """A prefix read so far: the unfinished token, the parser stack and the semantic value.

    Immutable. States that differ only in their unfinished token share one `Lookahead`.
    """

    __slots__ = ("partial", "stack", "sem", "lookahead", "shortest")

    def __init__(self, partial: Partial | None, stack, sem: Sem, lookahead: "Lookahead | None" = None):
        self.partial, self.stack, self.sem, self.lookahead = partial, stack, sem, lookahead
        self.shortest: tuple | None = None  # (completion or None, its length or a lower bound, exact, effort), once asked


class Lookahead:
    """What may come after one parser state, worked out once and kept: the expected
    terminals, the keywords that pass, and where a token of each class would be checked."""

    __slots__ = ("expected", "keywords", "contexts", "names", "words")

    def __init__(self, expected: frozenset):
        self.expected = expected
        self.names: tuple | None = None  # the names in scope, folded bytes (`scope_keys`)
        self.words: dict = {}  # a lower-case word, or a fresh name class -> (stand-in, pieces, length, effort)
        self.keywords: dict[str, bool] = {}
        self.contexts: dict[str, object] = {}


class SqlConstraint(Constraint):
    """SELECT statements that prepare and run on the schema; see docs/sql.md for the language."""

    costly_completions = True  # an A* search per state (sql_completion.py)

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
                if stack is state.stack and sem is state.sem:
                    state.lookahead = lookahead  # a cache of the parser state: its other children share it
            if not self._may_complete(partial, stack, sem, lookahead):
                return None
        new = SqlState(partial, stack, sem, lookahead)
        known = state.shortest
        if known is not None:
            if known[2] and known[0].startswith(chunk):
                # the chunk follows a shortest completion: its rest is one of the new state (none can be
                # shorter, or the old state would have a shorter one)
                new.shortest = (known[0][len(chunk):], known[1] - len(chunk), True, known[3])
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
        if not frames:
            return None
        if frames[-1].clause in _FORWARD_CLAUSES:
            # a fresh name there may be a qualifier the completion must repeat (`SELECT q.a FROM t q`); not a string
            # (`'...'`, or `"..."` that binds nothing), which may always end as one (or as an alias)
            if kind != "quote" or partial.quote not in (0x22, 0x27) or frames[-1].clause == "corder":
                return None
        term = {0x27: STR, 0x22: DQ, 0x60: QID}[partial.quote] if kind == "quote" else QID if kind == "bracket" else ID
        context = state.lookahead.contexts.get(term, False)
        if context is False:
            context = state.lookahead.contexts[term] = self.parser.prefix_context(state.stack, state.sem, term)
        if context is not None and context[0] is not None and context[0].name not in _CONTENT_FREE:
            return None  # a check reads the name (ESCAPE takes one character, a table must exist)
        fresh = self.completions.is_fresh_word(partial.data, self._names_in_scope(state), keywords=kind == "word")
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
        nodes), the text is a stand-in (spaces) whose length is a lower bound of the true length."""
        return self._shortest(state)[0]

    def budget_completion(self, state: SqlState) -> bytes | None:
        """The shortest completion if a search of at most BUDGET_EXPANSIONS nodes finds it, else None: under
        a token budget a particle keeps only prefixes with a completion known to fit (a search that gives up
        costs its whole effort, so the effort is kept small: docs/constraints.md)."""
        text, length, exact, _ = self._shortest(state, BUDGET_EXPANSIONS)
        return text if exact else None

    def min_completion_bytes(self, state: SqlState) -> int | None:
        length = self._shortest(state)[1]
        return None if length < 0 else length

    def _shortest(self, state: SqlState, effort: int = MAX_EXPANSIONS) -> tuple:
        """(text, length, exact, effort): a search's answer for `state`, kept on the state; a give-up under a
        smaller effort is searched again."""
        known = state.shortest
        if known is None or not (known[2] or known[1] < 0 or known[3] >= effort):
            if self.is_accepting(state):
                known = (b"", 0, True, effort)
            else:
                pieces, length = self._class_pieces(state, effort) or self.completions.shortest_pieces(state, effort)
                exact = pieces is not None
                text = b"".join(pieces) if exact else b" " * max(length, 0)  # gave up: a stand-in of the lower bound
                known = (text if length >= 0 else None, length, exact, effort)
            state.shortest = known
        return known

    def _class_pieces(self, state: SqlState, effort: int) -> tuple | None:
        """The shortest completion of a state that ends inside a name, from a search shared with the other
        names of its class at the same parser state; None where that does not apply.

        Words that differ in ASCII case only have the same completions (sqlite folds keywords and names
        so): the lower-case word's serves them all, verbatim. Names that can only become fresh ones (no
        keyword, schema or in-scope name starts with them: `_fresh_class`) are interchangeable with any
        other of the same length and spelling: renaming one to the other maps the completions of one
        state onto the other's, lengths kept. A completion may have to repeat the name (`SELECT q` ->
        `.* FROM t q`), so its length depends on the name's length: one search of a stand-in per length
        serves every such name a token mask meets there, the name put back in place of the stand-in's.
        Before that, the shortest stand-in is searched (once per parser state and class): a completion that
        does not repeat the name is as long for a name of any length, and one that does grows with the name,
        so if its completion does not repeat it, it is a shortest one for every longer name too (and if it has
        none, no name has)."""
        partial = state.partial
        if partial is None or not state.sem.frames or partial.kind not in ("word", "quote", "bracket") or partial.closed:
            return None
        data = partial.data
        spelled = self._fresh_class(partial.kind, data, self._names_in_scope(state))
        if spelled is None and partial.kind != "word":
            return None
        if spelled:
            for size in range(1, len(data) + 1):
                found = self._class_search(state, effort, spelled, size, (partial.kind, partial.quote, spelled))
                if found is not None:
                    stand_in, pieces, length, _ = found
                    if length < 0 or (pieces is not None and len(stand_in) <= len(data)
                                      and not self._repeats(partial, spelled, stand_in, pieces)):
                        return self._renamed(partial, spelled, stand_in, pieces, length)
                    break  # it repeats the name (its length counts), or the search gave up
        found = self._class_search(state, effort, spelled, len(data),
                                   (partial.kind, partial.quote, spelled, len(data)) if spelled else data.lower())
        return None if found is None else self._renamed(partial, spelled, *found[:3])

    def _class_search(self, state: SqlState, effort: int, spelled: str | None, size: int, key) -> tuple | None:
        """(stand-in, pieces, length, effort): the search of a stand-in of `size` bytes for the names of the class
        `key` at the state's parser state (the state's own lower-cased word where `spelled` is None), kept on
        its Lookahead; None where no stand-in of that size is in the class."""
        lookahead = state.lookahead
        partial = state.partial
        known = lookahead.words.get(key)
        if known is None or not (known[1] is not None or known[2] < 0 or known[3] >= effort):
            stand_in = partial.data.lower()
            if spelled:
                stand_in = next((letter * size for letter in (b"z", b"q", b"j", b"k", b"v", b"w", b"%")
                                 if self._fresh_class(partial.kind, letter * size, lookahead.names) == spelled),
                                None)
                if stand_in is None:
                    return None
            stand_in_state = SqlState(Partial(partial.kind, stand_in, quote=partial.quote), state.stack, state.sem,
                                      lookahead)
            found = self.completions.shortest_pieces(stand_in_state, effort)
            if len(lookahead.words) >= 256:
                lookahead.words.clear()
            known = lookahead.words[key] = (stand_in,) + found + (effort,)
        return known

    @staticmethod
    def _finished(partial: Partial, spelled: str, name: bytes, pieces: tuple) -> tuple[bytes, bytes] | None:
        """(the stand-in `name` finished by the completion `pieces`, as a later token would spell it; the rest
        after it), None where the rest has an escaped quote."""
        rest = pieces[0] if partial.kind == "word" else pieces[0][:-1].replace(b"''", b"'").replace(b'""', b'"')
        if len(rest) != len(pieces[0]) - (partial.kind != "word"):
            return None
        return (name + rest if spelled == "bare" else b"[" + name + rest + b"]"), rest

    @classmethod
    def _repeats(cls, partial: Partial, spelled: str, stand_in: bytes, pieces: tuple) -> bool:
        """Whether a later token of the completion `pieces` is the stand-in's name (names are spelled one way,
        `sql_completion._spell_name`)."""
        finished = cls._finished(partial, spelled, stand_in, pieces)
        return finished is None or any(piece == finished[0] or piece == b" " + finished[0] for piece in pieces[1:])

    @classmethod
    def _renamed(cls, partial: Partial, spelled: str | None, stand_in: bytes, pieces: tuple | None,
                 length: int) -> tuple | None:
        """A stand-in's completion (`_class_search`) as one of the state whose unfinished name is `partial`."""
        if pieces is None or not spelled:
            return pieces, length
        finished = cls._finished(partial, spelled, stand_in, pieces)
        if finished is None:
            return None  # an escaped quote in the finished name: not renamed
        finished, renamed_name = finished[0], cls._finished(partial, spelled, partial.data, pieces)[0]
        renamed = [pieces[0]]
        for piece in pieces[1:]:
            if piece == finished or piece == b" " + finished:
                piece = piece[:len(piece) - len(finished)] + renamed_name
            renamed.append(piece)
        return tuple(renamed), length

    @staticmethod
    def _names_in_scope(state: SqlState) -> tuple:
        """The state's names in scope as folded bytes (`scope_keys`), kept on its Lookahead (shared by the
        states of one parser state)."""
        lookahead = state.lookahead
        if lookahead.names is None:
            lookahead.names = scope_keys(state.sem)
        return lookahead.names

    def _fresh_class(self, kind: str, data: bytes, names: tuple) -> str | None:
        """How a name that can only be a fresh one is spelled where a completion repeats it: "bare" (an
        identifier no keyword starts with) or "bracket" (`[...]`); None if it is not fresh, or its spelling
        depends on more than its length (a word that is the generated fresh name, `]` inside)."""
        completions = self.completions
        if kind == "word" or is_bare_word(data):
            fresh = data.lower() != completions.fresh.encode() and completions.is_fresh_word(data, names)
            return "bare" if fresh else None
        if b"]" in data or not completions.is_fresh_word(data, names, keywords=False):
            return None
        return "bracket"

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
