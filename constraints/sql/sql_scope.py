"""Scope and semantic checks of the SQL constraint: the actions of the grammar in sql_syntax.py.

The semantic value is a `Sem`: one `Frame` per SELECT being read (the query, and each
subquery around the current token), innermost last. A frame holds the tables its FROM
clause has bound so far (`Binding`s, by alias or table name), its result columns, and the
column references that could not be checked yet.

A reference is checked when it is read if the FROM clause it may bind to is complete
(WHERE, GROUP BY, HAVING, ORDER BY); otherwise (the select list, read before its FROM
clause, and ON, which sqlite resolves against the whole FROM clause) it waits in `pending`
and is checked as soon as that FROM clause ends. Names resolve as sqlite resolves them: the
innermost frame first, then the frames around it (a FROM subquery skips the query whose
FROM it is in; GROUP BY and ORDER BY see no outer query), an unqualified name must match
exactly one table of a frame, result aliases are visible in WHERE, GROUP BY, HAVING and
ORDER BY, and a double-quoted name that matches nothing is a string. Each `a_*` method is an action: it returns the new Sem or
None to reject; each `p_*` method is its prefix test for a token still being read.
"""
from __future__ import annotations

import bisect
from typing import NamedTuple

from constraints.sql.sql_functions import Function
from constraints.sql.sql_lexer import DQ, ID, NUM, QID, Token, fold
from constraints.sql.sql_schema import Schema

_INT32 = 2 ** 31
_INT64_MAX = 2 ** 63 - 1
COLLATIONS = ("binary", "nocase", "rtrim")
_TERM_LIMIT = 400  # ORDER/GROUP BY term tokens kept; a longer term is refused (see _position)
_SUBQUERY = Token("SUBQUERY")  # stands in a recorded term for a subquery's tokens
COMPLEX = "complex"
_CLOSED_TO_OUTER = ("group", "order", "corder")


class Binding(NamedTuple):
    """A table or subquery in a FROM clause: `name` (folded alias or table name; None for an
    unaliased subquery), its column names folded in order (None: an unnamed subquery column),
    the names usable for lookup, and those hidden from unqualified lookup by USING/NATURAL."""

    name: str | None
    columns: tuple
    lookup: frozenset
    hidden: frozenset


class Item(NamedTuple):
    """A result column: its alias, the column reference it is if it is a lone one (qualifier,
    column), whether it contains an aggregate, and for `*`/`T.*` the star's qualifier."""

    alias: str | None = None
    colref: tuple | None = None
    aggregate: bool = False
    star: str | None = None


class Column(NamedTuple):
    """A result column after `*` is expanded: its name as a subquery column, its source
    (binding index, column) when it is a column of this FROM clause, its alias."""

    name: str | None
    source: tuple | None
    aggregate: bool
    alias: str | None


class Core(NamedTuple):
    """A finished SELECT of a compound query, for ORDER BY terms that name its columns."""

    columns: tuple
    bindings: tuple


class Call(NamedTuple):
    """A function call being read: aggregate is True, False, or None (min/max, undecided)."""

    function: Function
    aggregate: bool | None
    arguments: int = 0
    holds_aggregate: bool = False


class Ref(NamedTuple):
    """A column reference: qualifier, column (folded), the token class of the column name
    (a bare `true` is a value, a DQ name that binds nothing a string), whether it is inside an
    aggregate's arguments (then it must bind in its own frame), the frame it was written in,
    and for a name read in an ON clause the number of tables joined at that point and
    whether that join is an outer one (sqlite refuses the name a table to the right then)."""

    qualifier: str | None
    column: str
    term: str
    in_aggregate: bool
    origin: int
    joined: int | None = None
    outer_join: bool = False


class Frame(NamedTuple):
    """One SELECT statement being read (a query or subquery): its current SELECT's scope,
    result columns and clause, and what its compound members so far require."""

    kind: str                      # top, scalar, in, exists, from
    outer: int                     # the frame names resolve in next (-1: none)
    clause: str = "select"         # select, from, on, after, where, group, having, order, corder, limit
    bindings: tuple = ()
    items: tuple = ()
    columns: tuple | None = None   # the result columns once the FROM clause is complete
    pending: tuple = ()
    aggregate: bool = False        # the select list holds an aggregate
    grouped: bool = False
    calls: tuple = ()
    held: Token | None = None      # the name before a '.', '(' or anything else
    item_start: int = 0
    item_colref: tuple | None = None
    item_aggregate: bool = False
    term: object = None            # tokens of the ORDER/GROUP BY term being read
    cores: tuple = ()              # earlier SELECTs of a compound
    width: int | None = None       # result width of the first SELECT (compounds)
    names: tuple | None = None     # result column names of the first SELECT (FROM subqueries)
    natural: bool = False          # the join being read is NATURAL
    table: tuple | None = None     # the table just named in FROM: (name, columns)
    alias: str | None = None
    derived: tuple | None = None   # result names of the FROM subquery just closed
    right_join: bool = False       # the FROM clause has a RIGHT or FULL JOIN
    outer_join: bool = False       # the join being read is LEFT, RIGHT or FULL


class Sem(NamedTuple):
    """The semantic value: the frames around the current token (innermost last), the token
    just read and how many tokens were read."""

    frames: tuple
    last: Token | None = None
    count: int = 0

    def after_token(self, token: Token) -> "Sem":
        frames = self.frames
        top = frames[-1] if frames else None
        if top is not None and type(top.term) is tuple:
            term = top.term + (token,) if len(top.term) < _TERM_LIMIT else COMPLEX
            frames = frames[:-1] + (top._replace(term=term),)
        return Sem(frames, token, self.count + 1)


class Scope:
    """The actions, specialized to one schema and one set of functions."""

    def __init__(self, schema: Schema, functions: dict[str, Function]):
        self.tables: dict[str, tuple] = {}
        for table in schema.tables:
            columns = tuple(fold(c) for c in table.columns)
            self.tables.setdefault(fold(table.name), columns)
        self.table_names = sorted(self.tables)
        self.columns = sorted({c for columns in self.tables.values() for c in columns})
        self.column_set = frozenset(self.columns)
        self.functions = functions
        self.function_names = sorted(functions)
        self.scalar_names = sorted(n for n, f in functions.items() if f.kind != "aggregate")

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _top(sem: Sem) -> Frame:
        return sem.frames[-1]

    @staticmethod
    def _set(sem: Sem, frame: Frame) -> Sem:
        return sem._replace(frames=sem.frames[:-1] + (frame,))

    def _chain(self, frames: tuple, level: int):
        """The frames a name read in frame `level` may resolve in, innermost first. sqlite
        resolves GROUP BY and ORDER BY without the outer queries, so the chain stops there."""
        while level >= 0:
            frame = frames[level]
            yield level, frame
            if frame.clause in _CLOSED_TO_OUTER:
                return
            level = frame.outer

    def _open(self, frames: tuple, level: int) -> bool:
        """Some frame names may resolve in has not read its FROM clause yet."""
        return any(f.clause in ("select", "on", "corder") for _, f in self._chain(frames, level))

    @staticmethod
    def _aliases_visible(frame: Frame) -> bool:
        return frame.clause in ("where", "group", "having", "order")

    def _visible_names(self, frames: tuple, level: int) -> set:
        """Names a bare word may be, where every frame in reach has its FROM clause."""
        names = {"true", "false"}
        for _, frame in self._chain(frames, level):
            for binding in frame.bindings:
                if binding.name is not None:
                    names.add(binding.name)
                names |= binding.lookup
            if self._aliases_visible(frame):
                names |= {item.alias for item in frame.items if item.alias}
        return names

    @staticmethod
    def _starts(sorted_names: list, prefix: str) -> bool:
        at = bisect.bisect_left(sorted_names, prefix)
        return at < len(sorted_names) and sorted_names[at].startswith(prefix)

    # -- queries and SELECTs -----------------------------------------------------------------

    def a_begin(self, sem: Sem) -> Sem:
        return Sem((Frame("top", -1),), sem.last, sem.count)

    def _push(self, sem: Sem, kind: str) -> Sem | None:
        top = self._top(sem)
        if top.clause == "corder":
            return None  # a compound's ORDER BY term is a result column name or number
        level = len(sem.frames) - 1
        outer = top.outer if kind == "from" else level
        frames = sem.frames
        if type(top.term) is tuple:
            frames = frames[:-1] + (top._replace(term=top.term + (_SUBQUERY,)),)
        return sem._replace(frames=frames + (Frame(kind, outer),))

    def a_sub_scalar(self, sem: Sem) -> Sem | None:
        return self._push(sem, "scalar")

    def a_sub_in(self, sem: Sem) -> Sem | None:
        return self._push(sem, "in")

    def a_sub_exists(self, sem: Sem) -> Sem | None:
        return self._push(sem, "exists")

    def a_sub_from(self, sem: Sem) -> Sem | None:
        return self._push(sem, "from")

    def a_sub_end(self, sem: Sem) -> Sem | None:
        inner = self._top(sem)
        frames = sem.frames[:-1]
        if inner.kind == "from":
            names = inner.names if inner.names is not None else tuple(c.name for c in inner.columns)
            frames = frames[:-1] + (frames[-1]._replace(derived=names),)
        return sem._replace(frames=frames)

    def a_core(self, sem: Sem) -> Sem:
        top = self._top(sem)
        return self._set(sem, top._replace(
            clause="select", bindings=(), items=(), columns=None, pending=(), aggregate=False,
            grouped=False, calls=(), held=None, term=None, natural=False, table=None, alias=None,
            derived=None, right_join=False, outer_join=False))

    def a_compound(self, sem: Sem) -> Sem:
        top = self._top(sem)
        width = top.width if top.width is not None else len(top.columns)
        names = top.names if top.names is not None else tuple(c.name for c in top.columns)
        return self._set(sem, top._replace(cores=top.cores + (Core(top.columns, top.bindings),),
                                           width=width, names=names))

    def _width_ok(self, frame: Frame, width: int, final: bool) -> bool:
        """A SELECT of `width` result columns (`final`: exactly, else at least) may complete."""
        need = 1 if frame.kind in ("scalar", "in") else frame.width
        if need is None:
            return True
        return width == need if final else width <= need

    def a_result_next(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        return sem if self._width_ok(top, len(top.items) + 1, final=False) else None

    def a_item(self, sem: Sem) -> Sem:
        top = self._top(sem)
        return self._set(sem, top._replace(item_start=sem.count, item_colref=None, item_aggregate=False))

    def a_star(self, sem: Sem) -> Sem:
        top = self._top(sem)
        return self._set(sem, top._replace(items=top.items + (Item(star="*"),)))

    def a_qual_star(self, sem: Sem) -> Sem:
        top = self._top(sem)
        return self._set(sem, top._replace(items=top.items + (Item(star=top.held.key),)))

    def a_item_end(self, sem: Sem) -> Sem:
        top = self._top(sem)
        length = sem.count - top.item_start
        colref = top.item_colref if top.item_colref is not None and length == (1 if top.item_colref[0] is None else 3) else None
        item = Item(colref=colref, aggregate=top.item_aggregate)
        return self._set(sem, top._replace(items=top.items + (item,)))

    def a_result_alias(self, sem: Sem) -> Sem:
        top = self._top(sem)
        item = top.items[-1]._replace(alias=sem.last.key)
        return self._set(sem, top._replace(items=top.items[:-1] + (item,)))

    def a_list_end(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        if any(item.star for item in top.items):
            return sem  # the width is known once FROM is
        return sem if self._width_ok(top, len(top.items), final=True) else None

    # -- FROM ------------------------------------------------------------------------------

    def a_from(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(clause="from"))

    def a_table(self, sem: Sem) -> Sem | None:
        token = sem.last
        columns = self.tables.get(token.key)
        if columns is None:
            return None
        return self._set(sem, self._top(sem)._replace(table=(token.key, columns), alias=None))

    def p_table(self, sem: Sem, completion: tuple) -> bool:
        return self._starts(self.table_names, fold(completion[1]))

    def a_table_alias(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(alias=sem.last.key))

    def _bind(self, sem: Sem, name: str | None, columns: tuple) -> Sem | None:
        top = self._top(sem)
        if name is not None and any(b.name == name for b in top.bindings):
            return None  # sqlite allows it, but every reference through that name is then ambiguous
        lookup = frozenset(c for c in columns if c is not None)
        hidden = frozenset()
        if top.natural and top.bindings:
            hidden = frozenset(c for c in lookup if self._left_count(top.bindings, c))
            if any(self._left_count(top.bindings, c) > 1 for c in hidden):
                return None
        binding = Binding(name, columns, lookup, hidden)
        if self._ambiguous_pending(top, top.bindings + (binding,) if top.natural else top.bindings):
            return None
        return self._set(sem, top._replace(bindings=top.bindings + (binding,), table=None, alias=None,
                                           derived=None))

    def a_bind_table(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        name, columns = top.table
        return self._bind(sem, top.alias if top.alias is not None else name, columns)

    def a_bind_derived(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        columns, seen = [], set()
        for name in top.derived:
            columns.append(name if name is not None and name not in seen else None)
            if name is not None:
                seen.add(name)
        return self._bind(sem, top.alias, tuple(columns))

    def a_join(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        if self._ambiguous_pending(top, top.bindings):
            return None
        return self._set(sem, top._replace(natural=False, outer_join=False))

    def a_join_left(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(outer_join=True))

    def a_join_right(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(right_join=True, outer_join=True))

    def a_join_natural(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        if self._ambiguous_pending(top, top.bindings):
            return None
        return self._set(sem, top._replace(natural=True))

    def a_on(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        if top.natural or self._ambiguous_pending(top, top.bindings):
            return None
        return self._set(sem, top._replace(clause="on"))

    def a_on_end(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(clause="from"))

    def a_using(self, sem: Sem) -> Sem | None:
        return None if self._top(sem).natural else sem

    def a_using_column(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        column = sem.last.key
        right = top.bindings[-1]
        if column not in right.lookup or self._left_count(top.bindings[:-1], column) != 1:
            return None
        right = right._replace(hidden=right.hidden | {column})
        return self._set(sem, top._replace(bindings=top.bindings[:-1] + (right,)))

    @classmethod
    def _ambiguous_pending(cls, frame: Frame, fixed: tuple) -> bool:
        """A bare name waiting for this FROM clause (from the select list or an ON clause) that two of the
        bindings `fixed` show: then sqlite's "ambiguous column name" at the end of FROM is certain. `fixed`
        are bindings whose shown columns no later token changes: later tables only add bindings, and USING
        hides columns of the table just bound only (a_using_column), so that one is left out until its join
        constraint is decided (an ON clause, the next join, NATURAL)."""
        for ref in frame.pending:
            if ref.qualifier is None and cls._left_count(fixed, ref.column) > 1:
                return True
        return False

    def a_using_end(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        return None if self._ambiguous_pending(top, top.bindings) else sem

    @staticmethod
    def _left_count(bindings: tuple, column: str) -> int:
        """How many of `bindings` show `column` to an unqualified reference. A USING/NATURAL
        column must come from exactly one: sqlite refuses more with a RIGHT or FULL JOIN
        anywhere in the FROM clause ("ambiguous reference ... in USING()"), which may come later."""
        return sum(1 for b in bindings if column in b.lookup and column not in b.hidden)

    def p_using_column(self, sem: Sem, completion: tuple) -> bool:
        prefix = fold(completion[1])
        return any(c.startswith(prefix) for c in self._top(sem).bindings[-1].lookup)

    def a_from_end(self, sem: Sem) -> Sem | None:
        """The FROM clause is complete: check the select list against it."""
        top = self._top(sem)
        level = len(sem.frames) - 1
        columns = []
        for item in top.items:
            if item.star is None:
                source = None
                if item.colref is not None:
                    source = self._local_source(top.bindings, *item.colref)
                name = item.alias or (item.colref[1] if item.colref else None)
                columns.append(Column(name, source, item.aggregate, item.alias))
                continue
            if item.star == "*":
                if not top.bindings:
                    return None  # "no tables specified"
                if top.right_join and any(b.hidden for b in top.bindings):
                    return None  # sqlite may find a RIGHT/FULL JOIN's USING column ambiguous
                chosen = [(i, b) for i, b in enumerate(top.bindings)]
            else:
                chosen = [(i, b) for i, b in enumerate(top.bindings) if b.name == item.star]
                if not chosen:
                    return None  # "no such table"
            for index, binding in chosen:
                for column in binding.columns:
                    if item.star == "*" and column in binding.hidden:
                        continue
                    columns.append(Column(column, (index, column) if column else None, False, None))
        frame = top._replace(clause="after", columns=tuple(columns), pending=())
        if not self._width_ok(frame, len(columns), final=True):
            return None
        if frame.kind == "from" and frame.names is None and not frame.cores:
            frame = frame._replace(names=tuple(c.name for c in columns))
        frames = sem.frames[:-1] + (frame,)
        for ref in top.pending:
            frames = self._resolve(frames, ref, level)
            if frames is None:
                return None
        return sem._replace(frames=frames)

    @staticmethod
    def _local_source(bindings: tuple, qualifier: str | None, column: str):
        found = None
        for index, binding in enumerate(bindings):
            if qualifier is not None:
                if binding.name == qualifier and column in binding.lookup:
                    return index, column
            elif column in binding.lookup and column not in binding.hidden:
                if found is not None:
                    return None
                found = index, column
        return found

    # -- names in expressions ------------------------------------------------------------------

    def a_name_head(self, sem: Sem) -> Sem | None:
        token = sem.last
        top = self._top(sem)
        level = len(sem.frames) - 1
        if token.term != DQ and not self._open(sem.frames, level):
            if token.key not in self._visible_names(sem.frames, level) and token.key not in self._callable(top):
                return None
        return self._set(sem, top._replace(held=token))

    def p_name_head(self, sem: Sem, completion: tuple) -> bool:
        term, text = completion
        level = len(sem.frames) - 1
        if term == DQ or self._open(sem.frames, level):
            return True
        prefix = fold(text)
        if any(name.startswith(prefix) for name in self._callable(self._top(sem))):
            return True
        return any(name.startswith(prefix) for name in self._visible_names(sem.frames, level))

    def _callable(self, frame: Frame) -> list[str]:
        """The functions a call may name here: aggregate-only ones only where aggregates may be."""
        if self._aggregate_allowed(frame) and not any(c.aggregate for c in frame.calls):
            return self.function_names
        return self.scalar_names

    def a_qualifier(self, sem: Sem) -> Sem | None:
        level = len(sem.frames) - 1
        if self._open(sem.frames, level):
            return sem
        name = self._top(sem).held.key
        for _, frame in self._chain(sem.frames, level):
            if any(b.name == name for b in frame.bindings):
                return sem
        return None

    def _qualified_columns(self, sem: Sem, qualifier: str) -> tuple[set, bool]:
        """Columns `qualifier.x` may name here, and whether any schema column may do."""
        found: set = set()
        schema = False
        for _, frame in self._chain(sem.frames, len(sem.frames) - 1):
            if frame.clause in ("select", "on", "corder"):
                schema = True
            for binding in frame.bindings:
                if binding.name == qualifier:
                    found |= binding.lookup
        return found, schema

    def p_qcol(self, sem: Sem, completion: tuple) -> bool:
        if self._top(sem).clause == "corder":
            return True
        prefix = fold(completion[1])
        found, schema = self._qualified_columns(sem, self._top(sem).held.key)
        if schema and self._starts(self.columns, prefix):
            return True
        return any(c.startswith(prefix) for c in found)

    def a_col(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        token = top.held
        if top.clause == "select" and sem.count - top.item_start == 1:
            sem = self._set(sem, top._replace(item_colref=(None, token.key)))
        return self._reference(sem, None, token.key, token.term)

    def a_qcol(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        qualifier, column = top.held.key, sem.last.key
        if top.clause == "select" and sem.count - top.item_start == 3:
            sem = self._set(sem, top._replace(item_colref=(qualifier, column)))
        return self._reference(sem, qualifier, column, sem.last.term)

    def _reference(self, sem: Sem, qualifier: str | None, column: str, term: str) -> Sem | None:
        top = self._top(sem)
        if top.clause == "corder":
            return sem  # checked when the term ends
        level = len(sem.frames) - 1
        in_aggregate = any(call.aggregate is not False for call in top.calls)
        frames = self._resolve(sem.frames, Ref(qualifier, column, term, in_aggregate, level), level)
        return None if frames is None else sem._replace(frames=frames)

    def _resolve(self, frames: tuple, ref: Ref, level: int) -> tuple | None:
        """`frames` with `ref` bound, or waiting in a frame whose FROM is unread; None if unbound."""
        start = level
        while level >= 0:
            frame = frames[level]
            if level != ref.origin and ref.in_aggregate:
                return None  # an aggregate of an outer query's columns: not supported
            if frame.clause in ("select", "on"):
                # sqlite resolves the select list and ON against the whole FROM clause
                if not self._may_bind_later(frames, start, ref):
                    return None
                if frame.clause == "on":
                    if ref.qualifier is None and self._left_count(frame.bindings, ref.column) > 1:
                        return None  # two tables before ON show it: ambiguous whatever follows (_ambiguous_pending)
                    ref = ref._replace(joined=len(frame.bindings), outer_join=frame.outer_join)
                return frames[:level] + (frame._replace(pending=frame.pending + (ref,)),) + frames[level + 1:]
            found = None
            for index, binding in enumerate(frame.bindings):
                if ref.qualifier is not None:
                    hit = binding.name == ref.qualifier and ref.column in binding.lookup
                else:
                    hit = ref.column in binding.lookup and ref.column not in binding.hidden
                if hit:
                    if found is not None:
                        return None  # ambiguous column name
                    found = index
            if found is not None:
                if ref.joined is not None and found >= ref.joined and (frame.right_join or ref.outer_join):
                    return None  # "ON clause references tables to its right"
                return frames
            if ref.joined is not None and ref.qualifier is None and level == start:
                if any(item.alias == ref.column for item in frame.items):
                    return None  # sqlite binds it to the result alias: left out of the language
            if ref.qualifier is None and self._aliases_visible(frame):
                for item in frame.items:
                    if item.alias == ref.column:
                        if ref.in_aggregate or (item.aggregate and frame.clause in ("where", "group")):
                            return None
                        return frames
            if frame.clause in _CLOSED_TO_OUTER:
                break
            level = frame.outer
        if self._literal(ref):
            return frames  # a string, as sqlite reads a double-quoted name that matches nothing
        return None

    @staticmethod
    def _literal(ref: Ref) -> bool:
        """An unbound name that sqlite reads as a value: a DQ string, bare true/false."""
        if ref.qualifier is not None:
            return False
        return ref.term == DQ or (ref.term == ID and ref.column in ("true", "false"))

    def _may_bind_later(self, frames: tuple, level: int, ref: Ref) -> bool:
        """A reference that waits for a FROM clause names a column of the schema (or of a
        subquery already in reach): the rule that refuses a misspelt name as soon as it ends."""
        if self._literal(ref) or ref.column in self.column_set:
            return True
        for _, frame in self._chain(frames, level):
            for binding in frame.bindings:
                if ref.column in binding.lookup and (ref.qualifier is None or binding.name == ref.qualifier):
                    return True
            if ref.qualifier is None and self._aliases_visible(frame):
                if any(item.alias == ref.column for item in frame.items):
                    return True
        return False

    # -- function calls ------------------------------------------------------------------------

    def _aggregate_allowed(self, frame: Frame) -> bool:
        if frame.clause in ("select", "having"):
            return True
        return frame.clause == "order" and (frame.grouped or frame.aggregate)

    def _enter_aggregate(self, frame: Frame, calls: tuple) -> Frame | None:
        """`frame` after an aggregate is confirmed inside the open calls `calls`."""
        if not self._aggregate_allowed(frame) or any(c.aggregate for c in calls):
            return None  # misuse of aggregate
        calls = tuple(c._replace(holds_aggregate=True) if c.aggregate is None else c for c in calls)
        frame = frame._replace(calls=calls)
        if frame.clause == "select":
            frame = frame._replace(aggregate=True, item_aggregate=True)
        return frame

    def a_replace(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(held=Token(ID, "replace")))

    def a_call(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        token = top.held
        function = self.functions.get(token.key) if token.term in (ID, "REPLACE") else None
        if function is None or top.clause == "corder":
            return None
        aggregate = {"aggregate": True, "scalar": False, "minmax": None}[function.kind]
        frame = top
        if aggregate:
            frame = self._enter_aggregate(top, top.calls)
            if frame is None:
                return None
        return self._set(sem, frame._replace(calls=frame.calls + (Call(function, aggregate),)))

    def a_call_star(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        return sem if top.calls[-1].function.name == "count" else None

    def a_call_distinct(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        call = top.calls[-1]
        if call.aggregate is False:
            return None  # DISTINCT belongs to aggregates of one argument
        call = call._replace(arguments=1)
        frame = top._replace(calls=top.calls[:-1] + (call,))
        if call.aggregate is None:
            if call.holds_aggregate:
                return None
            frame = self._enter_aggregate(frame, frame.calls[:-1])
            if frame is None:
                return None
            frame = frame._replace(calls=frame.calls + (call._replace(aggregate=True),))
        return self._set(sem, frame)

    def a_argument(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        call = top.calls[-1]
        count = call.arguments + 1
        if call.function.most is not None and count > call.function.most:
            return None
        aggregate = False if call.aggregate is None and count >= 2 else call.aggregate
        call = call._replace(arguments=count, aggregate=aggregate)
        return self._set(sem, top._replace(calls=top.calls[:-1] + (call,)))

    def a_call_end(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        call = top.calls[-1]
        if not call.function.takes(call.arguments):
            return None  # wrong number of arguments
        frame = top._replace(calls=top.calls[:-1])
        if call.aggregate is None:  # min/max with one argument: an aggregate
            if call.holds_aggregate:
                return None
            frame = self._enter_aggregate(frame, frame.calls)
            if frame is None:
                return None
        return self._set(sem, frame)

    # -- clauses -----------------------------------------------------------------------------

    def a_where(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(clause="where"))

    def a_group(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(clause="group", grouped=True))

    def a_having(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        if not (top.grouped or top.aggregate):
            return None  # HAVING clause on a non-aggregate query
        return self._set(sem, top._replace(clause="having"))

    def a_order(self, sem: Sem) -> Sem:
        top = self._top(sem)
        return self._set(sem, top._replace(clause="corder" if top.cores else "order"))

    def a_limit(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(clause="limit"))

    def a_term(self, sem: Sem) -> Sem:
        return self._set(sem, self._top(sem)._replace(term=()))

    def a_group_term_end(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        position = _position(top.term)
        if position is not None:
            if not 1 <= position <= len(top.columns) or top.columns[position - 1].aggregate:
                return None
        return self._set(sem, top._replace(term=None))

    def a_order_term_end(self, sem: Sem) -> Sem | None:
        top = self._top(sem)
        term = top.term
        position = _position(term)
        if position is not None:
            if not 1 <= position <= len(top.columns):
                return None
        elif top.clause == "corder" and not self._names_result_column(top, term):
            return None
        return self._set(sem, top._replace(term=None))

    def _names_result_column(self, frame: Frame, term) -> bool:
        """A compound's ORDER BY term that is not a number names a result column of a member."""
        if term is COMPLEX:
            return False
        tokens = _strip_collate(term)
        if len(tokens) == 1 and tokens[0].term in (ID, QID, DQ):
            qualifier, column = None, tokens[0].key
        elif len(tokens) == 3 and tokens[1].term == "." and tokens[0].term in (ID, QID, DQ) \
                and tokens[2].term in (ID, QID, DQ):
            qualifier, column = tokens[0].key, tokens[2].key
        else:
            return False
        for core in frame.cores + (Core(frame.columns, frame.bindings),):
            if qualifier is None and any(c.alias == column for c in core.columns):
                return True
            source = self._local_source(core.bindings, qualifier, column)
            if source is not None and any(c.source == source for c in core.columns):
                return True
        return False

    # -- literals ----------------------------------------------------------------------------

    def a_limit_number(self, sem: Sem) -> Sem | None:
        token = sem.last
        return sem if token.integer and _integer(token.text) <= _INT64_MAX else None

    def p_limit_number(self, sem: Sem, completion: tuple) -> bool:
        text = completion[1]
        if text[:2] in ("0x", "0X"):
            return True
        return text.isdigit() and int(text) <= _INT64_MAX if text else True

    def a_collation(self, sem: Sem) -> Sem | None:
        return sem if sem.last.key in COLLATIONS else None

    def p_collation(self, sem: Sem, completion: tuple) -> bool:
        prefix = fold(completion[1])
        return any(c.startswith(prefix) for c in COLLATIONS)

    def a_escape(self, sem: Sem) -> Sem | None:
        return sem if len(sem.last.text) == 1 else None

    def p_escape(self, sem: Sem, completion: tuple) -> bool:
        return len(completion[1]) <= 1


def _integer(text: str) -> int:
    if text[:2] in ("0x", "0X"):
        value = int(text, 16)
        return value - 2 ** 64 if value > _INT64_MAX else value
    return int(text)


def _strip_collate(tokens: tuple) -> tuple:
    while len(tokens) >= 2 and tokens[-2].term == "COLLATE":
        tokens = tokens[:-2]
    return tokens


def _and_with_zero(tokens: tuple) -> bool:
    """An AND next to a literal integer 0 (parentheses aside), or an AND in a term with an
    empty `IN ()`: sqlite folds `x AND <always false>` into the integer 0 while parsing, a
    result column number out of range. Refused whether or not the false operand is the
    AND's whole operand, to stay on the safe side."""
    terms = [t.term for t in tokens]
    if "AND" not in terms:
        return False
    for i in range(len(terms) - 2):
        if terms[i:i + 3] == ["IN", "(", ")"] and (i == 0 or terms[i - 1] != "NOT"):
            return True
    words = [t for t in tokens if t.term not in ("(", ")")]
    for i, token in enumerate(words):
        if token.term == "AND":
            for other in words[i - 1:i] + words[i + 1:i + 2]:
                if other.term == NUM and other.integer and _integer(other.text) == 0:
                    return True
    return False


def _position(term) -> int | None:
    """The result column number an ORDER/GROUP BY term is, as sqlite reads a term that is an
    integer (with signs and parentheses around it) fitting 32 bits; None if it is not one."""
    if term is COMPLEX:
        return 0  # too long to tell: refused
    if not term:
        return None
    if _and_with_zero(term):
        return 0  # sqlite folds `x AND 0` into the integer 0 while parsing
    tokens = _strip_collate(term)
    sign, opened, i = 1, 0, 0
    while i < len(tokens) and tokens[i].term in ("(", "+", "-"):
        if tokens[i].term == "(":
            opened += 1
        elif tokens[i].term == "-":
            sign = -sign
        i += 1
    if i >= len(tokens) or tokens[i].term != NUM or not tokens[i].integer:
        return None
    rest = tokens[i + 1:]
    if len(rest) != opened or any(t.term != ")" for t in rest):
        return None
    value = sign * _integer(tokens[i].text)
    return value if -_INT32 <= value < _INT32 else None
