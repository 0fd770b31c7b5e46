"""Shortest completions of SQL constraint states: the fewest bytes that finish a query from a prefix.

Two layers. Once per constraint: the spellings each terminal can take (keywords, operators, the
schema's table, column and function names, the shortest fresh name, the shortest literals) and,
for every grammar symbol, a lower bound on the bytes of its shortest derivation, the spaces
that two adjacent words need included (a 2x2 min-plus matrix over "the byte before is a word
character or not", solved as a fixpoint). Per state: A* over whole tokens fed to the LL(1)
parser *with its semantic actions*, so a completion must name tables that exist, bind the
columns the select list named (`SELECT a` needs ` FROM t`, t a table with column a), match a
compound's width; the heuristic is the stack's bound plus the FROM clauses the select lists
still need. The first accepting node popped is a shortest completion: exact, as long as every
token a shortest completion uses is among the spellings tried (names are: only the schema's
names, the aliases in scope and one fresh name can matter to the actions), which
tests/test_sql_completion.py checks against breadth-first search over bytes.

An unfinished token at the end of the prefix is finished first (`SEL` -> `ECT`, `sing` ->
`er`, an open quote closed), by running sqlite's tokenizer on each candidate suffix.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
from typing import Any

from constraints.sql.ll1 import Action
from constraints.sql.sql_lexer import (BLOB, DQ, EOF, ID, KEYWORD_TOKENS, KEYWORDS, NUM, QID, STR, LexError, Lexer,
                                       Partial, Token, fold, word_token)
from constraints.sql.sql_scope import COLLATIONS, Ref

INF = 10 ** 9
MAX_EXPANSIONS = 4000  # nodes expanded before a search gives up (then: a lower bound, see `shortest`)
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789$") | frozenset(range(0x80, 0x100))
_ID_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") | frozenset(range(0x80, 0x100))
_MERGES = {b"<": b"=><", b">": b"=>", b"=": b"=", b"|": b"|", b"!": b"=", b"-": b"->", b"/": b"*"}
_QUOTES = frozenset(b"'\"`")
_IDENTITY = (0, INF, INF, 0)
_EOF_TOKEN = Token(EOF)
_UNCOSTED = ()  # a search node whose FROM-clause bound is still to be added
_NONE = frozenset()


def needs_space(before: bytes, term: str, after: bytes) -> bool:
    """Whether sqlite's tokenizer would read token `before` (of class `term`) and the token spelled
    `after` as something else when they touch (two words, `1` `.`, `<` `=`, a quote closing on a quote)."""
    if not before or not after:
        return False
    last, first = before[-1], after[0]
    if last in _WORD and first in _WORD:
        return True
    if term == NUM and (first == 0x2E or first in _WORD):  # `1.` then a word is a malformed number
        return True
    if term == "." and 0x30 <= first <= 0x39:
        return True
    if last in _QUOTES and first == last and term in (STR, DQ, QID):
        return True
    if term == ID and before in (b"x", b"X") and first == 0x27:
        return True
    if term == BLOB and first in _WORD:
        return True
    return first in _MERGES.get(before, b"")


def _matrix(spellings: list[bytes]) -> tuple:
    """(in, out) -> fewest bytes for one token among `spellings`: in = the byte before is a word
    character, out = the token ends with one; a word after a word takes a space."""
    cells = [INF] * 4
    for text in spellings:
        out = 1 if text[-1] in _WORD else 0
        for before in (0, 1):
            cost = len(text) + (1 if before and text[0] in _WORD else 0)
            cells[before * 2 + out] = min(cells[before * 2 + out], cost)
    return tuple(cells)


def _times(a: tuple, b: tuple) -> tuple:
    return (min(a[0] + b[0], a[1] + b[2]), min(a[0] + b[1], a[1] + b[3]),
            min(a[2] + b[0], a[3] + b[2]), min(a[2] + b[1], a[3] + b[3]))


def is_bare_word(data: bytes) -> bool:
    """Whether sqlite reads `data` as one bare word (a keyword or an identifier)."""
    return bool(data) and data[0] in _ID_START and all(b in _WORD for b in data)


def _spell_name(name: str) -> tuple[str, bytes]:
    """(token class, shortest spelling) of a name: bare if sqlite reads it as an identifier, else quoted."""
    data = name.encode("utf-8", "surrogateescape")
    if is_bare_word(data) and name.upper() not in KEYWORDS:
        return ID, data
    if b"]" not in data:
        return QID, b"[" + data + b"]"
    return DQ, b'"' + data.replace(b'"', b'""') + b'"'


def scope_names(sem: Any) -> set:
    """The names a state's scope adds to the schema's: table aliases and their columns, select-list
    aliases, qualifiers of `q.*`, and the names that references waiting for a FROM clause use."""
    names = set()
    for frame in sem.frames:
        for binding in frame.bindings:
            if binding.name is not None:
                names.add(binding.name)
            names |= binding.lookup
        names |= {item.alias for item in frame.items if item.alias}
        names |= {item.star for item in frame.items if item.star and item.star != "*"}
        for ref in frame.pending:  # names a FROM clause still has to bind (`x` of `SELECT x.a`)
            names.add(ref.column)
            if ref.qualifier is not None:
                names.add(ref.qualifier)
    return names


def scope_keys(sem: Any) -> tuple:
    """The names in a state's scope (`scope_names`) as folded bytes, for `SqlCompletions.is_fresh_word`."""
    keys = set()
    for name in scope_names(sem):
        keys.add(fold(name).encode("utf-8", "surrogateescape"))
        keys.add(name.lower().encode("utf-8", "surrogateescape"))
    return tuple(keys)


class SqlCompletions:
    """The shortest completions of one `SqlConstraint`'s states (see the module docstring)."""

    def __init__(self, constraint: Any):
        self.parser, self.scope, self.lexer = constraint.parser, constraint.scope, Lexer()
        scope = self.scope
        tables = [t.name for t in constraint.schema.tables]
        columns = [c for t in constraint.schema.tables for c in t.columns]
        self.static_names = sorted(set(tables) | set(columns) | set(scope.function_names) | set(COLLATIONS)
                                   | {"true", "false"})
        taken = {n.lower() for n in self.static_names}
        self._static_taken = frozenset(taken)
        # Names as folded bytes for `is_fresh_word`: sqlite's folding, and Python's (which also folds
        # non-ASCII letters) to stay on the safe side
        self._static_folded = sorted({fold(n).encode("utf-8", "surrogateescape") for n in self.static_names}
                                     | {t.encode("utf-8", "surrogateescape") for t in taken})
        self._keywords_sorted = sorted(k.encode() for k in KEYWORDS)
        self.fresh = next(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in taken)
        # Spellings by terminal: (spelling, token) pairs; names are added per state (aliases in scope).
        self.fixed: dict[str, list[tuple[bytes, Token]]] = {}
        for term in self.parser.terminals:
            if term in KEYWORD_TOKENS:
                self.fixed[term] = [(term.encode(), KEYWORD_TOKENS[term])]
            elif term in (ID, QID, DQ):
                self.fixed[term] = []
            elif term == STR:
                self.fixed[term] = [(b"''", Token(STR, "")), (b"'a'", Token(STR, "a"))]
            elif term == NUM:
                self.fixed[term] = [(d.encode(), Token(NUM, d, integer=True)) for d in "10"]
                self.positions = [(d.encode(), Token(NUM, d, integer=True)) for d in "23456789"]
            elif term == BLOB:
                self.fixed[term] = [(b"X''", Token(BLOB, ""))]
            elif term != EOF:
                self.fixed[term] = [(term.encode(), Token(term))]
        self.static_spellings = self._name_spellings(self.static_names + [self.fresh])
        self.static_spellings[DQ].append((b'""', Token(DQ, "")))
        table_spellings = [_spell_name(t)[1] for t in tables]
        self.table_matrix = _matrix(table_spellings)
        self.collation_matrix = _matrix([c.encode() for c in COLLATIONS])
        # FROM and a table: the bytes after FROM (a space unless the name is quoted, then the name)
        self._table_cost, self._table_ends_word, self._table_len = {}, {}, {}
        for table in tables:
            spelled = _spell_name(table)[1]
            key = table.lower()
            self._table_len[key] = min(self._table_len.get(key, INF), len(spelled))
            self._table_ends_word[key] = spelled[-1] in _WORD
            self._table_cost[key] = min(self._table_cost.get(key, INF), len(spelled) + (1 if spelled[0] in _WORD else 0))
        self.min_table = min(self._table_cost.values())
        self.from_cost = 4 + self.min_table
        self._column_costs: dict = {}
        self._cover_costs: dict = {}
        fresh = {ID: [self.fresh.encode()], QID: [b"[" + self.fresh.encode() + b"]"], DQ: [b'""']}
        self.terminal_matrix = {term: _matrix([s for s, _ in self._spellings(term, self.static_spellings)]
                                              + fresh.get(term, []))
                                for term in self.parser.terminals if term != EOF}
        self.terminal_matrix[EOF] = _IDENTITY
        self._name_rule = self.parser.index["name"]
        self._table_rules = (self.parser.index["from_list"], self.parser.index["table_item"])
        self._constraint_rule = self.parser.index["join_constraint"]
        self._join_rest = frozenset((self.parser.index["natural_kind"], self.parser.index["outer"], "JOIN"))
        self.nonterminal_matrix = self._fixpoint()
        self._bounds: dict[int, tuple] = {}
        self._candidate_lists: dict[tuple, list] = {}
        self._names_by_extra: dict[frozenset, dict] = {}

    # -- spellings -----------------------------------------------------------------------------

    @staticmethod
    def _name_spellings(names: list[str]) -> dict[str, list[tuple[bytes, Token]]]:
        found: dict[str, list] = {ID: [], QID: [], DQ: []}
        for name in names:
            term, text = _spell_name(name)
            found[term].append((text, Token(term, name)))
        return found

    def _spellings(self, term: str, names: dict) -> list[tuple[bytes, Token]]:
        return names[term] if term in names else self.fixed[term]

    def is_fresh_word(self, data: bytes, in_scope: tuple, keywords: bool = True) -> bool:
        """Whether the unfinished name `data` can only become a fresh name: no keyword (for a bare word), schema,
        function or collation name, and no name in scope (`in_scope`, from `scope_keys`), starts with it. Such
        a word's name characters change neither what may follow nor the shortest completion
        (SqlConstraint.neutral_bytes), and words of one length are interchangeable (SqlConstraint._shortest)."""
        if keywords and data in (b"x", b"X"):  # X'..' starts a blob
            return False
        folded = data.lower()  # sqlite folds ASCII letters only; so does bytes.lower()
        checks = ((self._keywords_sorted, data.upper()), (self._static_folded, folded)) if keywords \
            else ((self._static_folded, folded),)
        for names, key in checks:
            at = bisect.bisect_left(names, key)
            if at < len(names) and names[at].startswith(key):
                return False
        return not any(name.startswith(folded) for name in in_scope)

    def _scope_names(self, sem: Any) -> tuple[frozenset, dict]:
        """(the names beyond the schema's, spellings of every name for this state): the schema's, the fresh
        one, the aliases in scope and the names that references waiting for a FROM clause use. Kept per set
        of extra names: a search meets the same few sets at many nodes."""
        extra = frozenset(scope_names(sem) - self._static_taken)
        if not extra:
            return extra, self.static_spellings
        known = self._names_by_extra.get(extra)
        if known is None:
            if len(self._names_by_extra) >= 4096:
                self._names_by_extra.clear()
                self._candidate_lists.clear()
            names = self._name_spellings(sorted(extra))
            known = self._names_by_extra[extra] = {term: self.static_spellings[term] + names[term] for term in names}
        return extra, known

    # -- the bound -----------------------------------------------------------------------------

    def _symbol_matrix(self, symbol: Any, following: Any, nonterminals: list) -> tuple:
        """The matrix of one stack or rule symbol (`following` is the symbol after it, for the actions
        that narrow a name: a table name, a collation)."""
        kind = type(symbol)
        if kind is int:
            if symbol == self._name_rule and type(following) is Action and following.name == "table":
                return self.table_matrix
            return nonterminals[symbol]
        if kind is str:
            if type(following) is Action:
                if following.name == "table" and symbol == ID:
                    return self.table_matrix
                if following.name == "collation":
                    return self.collation_matrix
            return self.terminal_matrix[symbol]
        return _IDENTITY

    def _fixpoint(self) -> list:
        """Each nonterminal's matrix: the least fixpoint over its alternatives (Bellman-Ford style)."""
        parser = self.parser
        productions = []
        for index, name in enumerate(parser.names):
            alternatives = {tuple(reversed(alt)) for alt in parser.table[index].values()}
            if parser.default[index] is not None:
                alternatives.add(tuple(reversed(parser.default[index])))
            productions.append(alternatives)
        matrices = [(INF,) * 4 for _ in parser.names]
        changed = True
        while changed:
            changed = False
            for index, alternatives in enumerate(productions):
                best = matrices[index]
                for alternative in alternatives:
                    product = _IDENTITY
                    for at, symbol in enumerate(alternative):
                        following = alternative[at + 1] if at + 1 < len(alternative) else None
                        product = _times(product, self._symbol_matrix(symbol, following, matrices))
                    best = tuple(min(a, b) for a, b in zip(best, product))
                if best != matrices[index]:
                    matrices[index] = best
                    changed = True
        return matrices

    def stack_bound(self, stack: Any) -> tuple:
        """(fewest bytes, after a non-word byte; after a word byte) to derive the whole stack: a lower bound."""
        pending = []
        node = stack
        while node is not None:
            known = self._bounds.get(id(node))
            if known is not None and known[0] is node:
                break
            pending.append(node)
            node = node[1]
        vector = (0, 0) if node is None else self._bounds[id(node)][1]
        if len(self._bounds) > 200_000:
            self._bounds.clear()
        for item in reversed(pending):
            symbol, rest = item
            following = rest[0] if rest is not None else None
            m = self._symbol_matrix(symbol, following, self.nonterminal_matrix)
            vector = (min(m[0] + vector[0], m[1] + vector[1]), min(m[2] + vector[0], m[3] + vector[1]))
            self._bounds[id(item)] = (item, vector)
        return vector

    def _from_needed(self, stack: Any, sem: Any) -> int:
        """Bytes of FROM clauses that the queries being read cannot do without, beyond the stack's bound:
        a `*` needs a FROM in its own SELECT; a column name waiting for its FROM clause needs a table
        with that column there (or in a SELECT around it, while that one's FROM is unread), each
        qualifier a table of its own; so does the name just read, unless it is a function called."""
        scope, frames = self.scope, sem.frames
        held = self._held(stack, sem)
        forced, floating = 0, 0
        for level, frame in enumerate(frames):
            clause = frame.clause
            if clause not in ("select", "from", "on"):
                continue
            single = 0  # what one table could cover
            qualifiers: dict[str, set] = {}
            stars = {item.star for item in frame.items if item.star}
            for star in stars - {"*"}:  # `q.*` needs a table named q
                if clause == "select" or not any(b.name == star for b in frame.bindings):
                    qualifiers[star] = set()
            if clause == "select":
                if "*" in stars:
                    single = self.min_table
                if not stars and frame.width is not None:  # a compound's member: `,1` per column missing
                    floating = max(floating, 2 * (frame.width - len(frame.items) - 1))
            unqualified: set = set()
            refs = [(ref, None) for ref in frame.pending]
            if held is not None and level == len(frames) - 1:
                refs.append(held)
            taken, before = self._taken(frame)
            if taken and level == len(frames) - 1 and self._natural_next(stack):
                taken = before = _NONE  # `NATURAL` read, its JOIN not yet: the item to come hides for free
            if before and (frame.table is not None or frame.derived is not None):
                # the table item being read (bound at its alias) shows a name a table before it shows: only
                # its USING can hide it (its join operator is written)
                reading = frame.table[1] if frame.table is not None else frame.derived
                forced += self._using_cost(before.intersection(reading))
            elif before and level == len(frames) - 1 and self._constraint_next(stack):
                # the same for the table just bound, its USING not begun (the prefix test refuses ON or a join)
                last, left = frame.bindings[-1], set()
                for binding in frame.bindings[:-1]:
                    left |= binding.lookup - binding.hidden
                forced += self._using_cost(before.intersection(last.lookup - last.hidden, left))
            for ref, alternative in refs:
                if scope._literal(ref) or (clause != "select" and (
                        self._binds_here(frame, ref) or (alternative is not None
                                                         and self._binds_here(frame, alternative)))):
                    continue
                if frame.outer >= 0 and (self._may_bind_outside(frames, frame.outer, ref) or (
                        alternative is not None and self._may_bind_outside(frames, frame.outer, alternative))):
                    if not self._bound_outside(frames, frame.outer, ref) and (
                            alternative is None or not self._bound_outside(frames, frame.outer, alternative)):
                        cost = self._item_cost(ref)  # here or in a FROM clause around: nothing taken counted
                        if alternative is not None:
                            cost = min(cost, self._item_cost(alternative))
                        floating = max(floating, cost + (4 if clause == "select" else 0))
                    continue
                cost = self._item_cost(ref, taken)
                if alternative is not None:  # the held name may be a qualifier instead
                    cost = min(cost, self._item_cost(alternative, taken))
                if ref.qualifier is not None and alternative is None:
                    if clause != "select" and (any(b.name == ref.qualifier for b in frame.bindings) or (
                            frame.table is not None and frame.alias == ref.qualifier)):
                        return INF  # the name is taken by a table without the column: no completion
                    qualifiers.setdefault(ref.qualifier, set()).add(ref.column)
                else:
                    single = max(single, cost)
                    if ref.qualifier is None:
                        unqualified.add(ref.column)
            costs = {q: self._qualified_cost(q, frozenset(c for c in columns if c is not None), taken)
                     for q, columns in qualifiers.items()}
            deriving = clause != "select" and level + 1 < len(frames) and frames[level + 1].kind == "from"
            if deriving:  # the subquery being read may give the columns, if its select list still can
                missing = self._not_derived(frames[level + 1], unqualified, stack, sem)
                if missing is not None:
                    single = min(single, missing)
            named = sum(costs.values())
            if costs and unqualified and not deriving:
                # an unqualified column is in one of the qualifiers' items (which then costs more) or in
                # an item of its own
                named += max(min([self._qualified_cost(None, frozenset((c,)), taken)]
                                 + [self._qualified_cost(q, frozenset(c2 for c2 in qualifiers[q] if c2 is not None)
                                                         | {c}, taken) - cost for q, cost in costs.items()])
                             for c in unqualified)
            need = max(single, named)
            if need <= 0:
                continue
            if clause == "select":
                need += 4
            else:
                if deriving or (frame.table is not None and frame.alias is None) or frame.derived is not None:
                    # the table just named (if it has the columns), the subquery being read or just closed,
                    # may take one qualifier as its alias
                    relief = []
                    for q, cost in costs.items():
                        wanted = {c for c in qualifiers[q] if c is not None}
                        if deriving:
                            missing = self._not_derived(frames[level + 1], wanted, stack, sem)
                            if missing is not None:  # then it shows them: a USING hides those taken
                                relief.append(cost - len(_spell_name(q)[1]) - missing
                                              - self._using_cost(before & wanted))
                        elif frame.derived is not None:
                            if wanted <= set(frame.derived):
                                relief.append(cost - len(_spell_name(q)[1]))
                        elif wanted <= set(frame.table[1]):
                            relief.append(cost - len(_spell_name(q)[1]))
                    need = max(single, named - max([0] + relief))
                if level == len(frames) - 1 and self._table_item_next(stack):
                    need -= self.min_table  # the table item to come is in the stack's bound already
            forced += max(need, 0)
        return max(forced, floating, 0)

    @staticmethod
    def _natural_next(stack: Any) -> bool:
        """A NATURAL join operator is being read (`NATURAL` read, `JOIN` not yet)."""
        for _ in range(4):
            if stack is None:
                return False
            if type(stack[0]) is Action and stack[0].name == "join_natural":
                return True
            stack = stack[1]
        return False

    def _constraint_next(self, stack: Any) -> bool:
        """A join constraint (ON, USING, or none) is what the parser reads next."""
        while stack is not None and type(stack[0]) is Action:
            stack = stack[1]
        return stack is not None and stack[0] == self._constraint_rule

    def _table_item_next(self, stack: Any) -> bool:
        """A table item is what the parser reads next (after FROM or a join operator), the rest of a join
        operator aside (`NATURAL` or `LEFT` read, `JOIN` not yet)."""
        while stack is not None and (type(stack[0]) is Action or stack[0] in self._join_rest):
            stack = stack[1]
        return stack is not None and stack[0] in self._table_rules

    def _not_derived(self, inner: Any, wanted: set, stack: Any, sem: Any) -> int | None:
        """Bytes the FROM subquery `inner` still needs to name the columns `wanted` (a lower bound, beyond
        the table its own star needs), None if its select list is complete without them.

        A column still to name costs `,""c` (an item of its own), or just `c` where the item being read
        can take it as its alias; a star names the columns of the tables its FROM clause will have."""
        if inner.names is not None:
            provided = set(inner.names)
        elif inner.columns is not None:
            provided = {c.name for c in inner.columns}
        else:
            provided = {item.alias or (item.colref[1] if item.colref else None) for item in inner.items}
            star = any(item.star for item in inner.items)
            if star:  # a star names the columns of the tables read so far
                for binding in inner.bindings:
                    provided |= set(binding.lookup)
                if inner.table is not None:
                    provided |= set(inner.table[1])
            rest = frozenset(wanted - provided)
            if not rest:
                return 0
            item_open = inner.clause == "select" and self._item_open(inner, stack, sem)
            # an item due next (after SELECT or a comma) has its shortest byte in the stack's bound already
            due = inner.clause == "select" and not item_open and (not inner.items or sem.last.term == ",")
            discount = 3 if item_open else 2 if due else 0

            def aliased(columns: frozenset) -> int | None:
                if not columns:
                    return 0
                if inner.clause != "select":
                    return None
                return sum(len(_spell_name(c)[1]) for c in columns) + 3 * len(columns) - discount

            found = []
            if not star:
                if inner.clause != "select":
                    return None
                # items `,""c`, or bare column names `c,d` (a FROM clause with a table that has them)
                names = sum(len(_spell_name(c)[1]) for c in rest)
                found += [aliased(rest), max(names + len(rest) - 1 - due + (0 if inner.pending else 4 + self.min_table), 0)]
                # or a star still to write, `*` and FROM with tables (the one its own need counts later is not yet)
                star_cost, first_table = (0 if due else 1) + 4, 0
            else:  # the first table is in the star's own need
                star_cost, first_table = 0, self.min_table
            if len(rest) > 8:
                return min(found + [star_cost])
            # some columns as items, the others from tables still to come
            for size in range(len(rest) + 1):
                for named in itertools.combinations(sorted(rest), size):
                    items, tables = aliased(frozenset(named)), self._cover_cost(rest - frozenset(named))
                    if items is not None and tables is not None:
                        found.append(star_cost + items + max(tables - first_table, 0))
            return min(found) if found else None
        return 0 if wanted <= provided else None

    def _item_open(self, inner: Any, stack: Any, sem: Any) -> bool:
        """Whether the select-list item being read (in `inner`) may still take an alias: not after
        SELECT, a comma, or an alias just read."""
        if sem.frames[-1] is not inner:
            return True  # inside a subquery of the item
        last = sem.last
        if last is None or last.term in (",", "SELECT", "DISTINCT", "ALL", "*", "("):
            return False
        return ID in self.parser.expected(stack)

    def _cover_cost(self, columns: frozenset) -> int | None:
        """Fewest bytes of tables (each with a separator before it) that have all of `columns` between
        them; None if no tables do. A lower bound (every set of tables with one of them is tried)."""
        if not columns:
            return 0
        cost = self._cover_costs.get(columns)
        if cost is None and columns not in self._cover_costs:
            useful = [(self._table_len[t] + 1, frozenset(columns & set(has))) for t, has in self.scope.tables.items()
                      if columns & set(has)]
            if len(useful) > 12:
                cost = min(n for n, _ in useful)
            else:
                for size in range(1, len(useful) + 1):
                    for chosen in itertools.combinations(useful, size):
                        if frozenset().union(*(has for _, has in chosen)) >= columns:
                            total = sum(n for n, _ in chosen)
                            cost = total if cost is None else min(cost, total)
            self._cover_costs[columns] = cost
        return cost

    def _held(self, stack: Any, sem: Any) -> tuple | None:
        """The name just read in an expression whose role is still open, as (reference as a column,
        reference as a qualifier): None where it may be a function, a value, or is not waiting."""
        if stack is None or type(stack[0]) is not int or not sem.frames:
            return None
        rule = self.parser.names[stack[0]]
        top = sem.frames[-1]
        token = top.held
        if token is None or top.clause not in ("select", "on"):
            return None
        aggregate = any(call.aggregate is not False for call in top.calls)
        if rule in ("rc_name", "name_rest"):
            if token.key in self.scope.functions or token.term == DQ or token.key in ("true", "false"):
                return None
            return (Ref(None, token.key, token.term, aggregate, len(sem.frames) - 1),
                    Ref(token.key, None, token.term, aggregate, len(sem.frames) - 1))
        if rule == "rc_dot" or (rule == "name" and stack[1] is not None and type(stack[1][0]) is Action
                                and stack[1][0].name == "qcol"):
            return (Ref(token.key, None, token.term, aggregate, len(sem.frames) - 1), None)
        return None

    def _item_cost(self, ref: Any, taken: frozenset = frozenset()) -> int:
        """Fewest bytes of a table item (after FROM or a join, the space or comma included) that binds `ref`:
        a table that has the column, or a subquery naming it (`(SELECT""c)`); for `q.c`, see `_qualified_cost`."""
        if ref.qualifier is not None:
            return self._qualified_cost(ref.qualifier, frozenset(() if ref.column is None else (ref.column,)), taken)
        return self._qualified_cost(None, frozenset((ref.column,)), taken)

    def _qualified_cost(self, qualifier: str | None, columns: frozenset, taken: frozenset = frozenset()) -> int:
        """Fewest bytes of a table item that has `columns`, named `qualifier` if given: a table of that name,
        a table aliased so (`t q`), or a subquery (`(SELECT""c,""d)q`); an item that shows a column of
        `taken` (`_taken`) also hides it (`_hide_cost`)."""
        key = (qualifier, columns, taken)
        cost = self._column_costs.get(key)
        if cost is None:
            named = 0 if qualifier is None else _spell_name(qualifier)[1]
            costs = [self._subquery_cost(columns) + (len(named) if named else 0) + self._hide_cost(columns & taken)]
            for table, has in self.scope.tables.items():
                if columns <= set(has):
                    hide = self._hide_cost(taken.intersection(has)) if taken else 0
                    if qualifier is None or table == qualifier:
                        costs.append(self._table_cost[table] + hide)
                    else:
                        space = self._table_ends_word[table] and named[0] in _WORD
                        costs.append(self._table_cost[table] + len(named) + space + hide)
            if len(self._column_costs) >= 65_536:
                self._column_costs.clear()
            cost = self._column_costs[key] = min(costs)
        return cost

    @staticmethod
    def _taken(frame: Any) -> tuple[frozenset, frozenset]:
        """(taken, before): the bare names waiting for this FROM clause (select list, ON) that a table in it
        shows: a bound one or the one being read (just named, or a subquery just closed, bound at its
        alias); `before`: those a bound one shows. Such a table goes on showing the name (USING and NATURAL
        hide a name only in the table they join, and only where one table to its left shows it), so a
        table item added later that has the column must hide it, or sqlite finds the name ambiguous. None
        while a NATURAL join is read (its item hides for free)."""
        if frame.clause == "select" or frame.natural or not frame.pending:
            return _NONE, _NONE
        bare = {ref.column for ref in frame.pending if ref.qualifier is None}
        if not bare:
            return _NONE, _NONE
        shown = set()
        for binding in frame.bindings:
            shown |= binding.lookup - binding.hidden
        before = frozenset(bare & shown)
        if frame.table is not None:
            shown.update(frame.table[1])
        if frame.derived is not None:
            shown.update(c for c in frame.derived if c is not None)
        return frozenset(bare & shown), before

    @staticmethod
    def _using_cost(columns: frozenset | set) -> int:
        """Fewest bytes of a USING clause that names `columns` (`USING(c,d)`; 0 for none)."""
        if not columns:
            return 0
        return 6 + sum(len(_spell_name(c)[1]) + 1 for c in columns)

    @classmethod
    def _hide_cost(cls, columns: frozenset) -> int:
        """Fewest bytes that make a table item still to write hide `columns` from bare names: a USING clause
        after it, or `NATURAL JOIN` before it where `,` would do (12 bytes more)."""
        return min(12, cls._using_cost(columns)) if columns else 0

    def _subquery_cost(self, columns: frozenset) -> int:
        """Fewest bytes of a parenthesized subquery whose result has `columns` (its alias not counted):
        each named as an empty string (`(SELECT""c,""d)`), or a star over tables that have some of
        them, the rest named so (`(SELECT*,""d FROM t,u)`): a lower bound on any subquery."""
        lengths = {c: len(_spell_name(c)[1]) for c in columns}
        best = 8 + sum(2 + n for n in lengths.values()) + max(len(columns) - 1, 0)
        useful = [(self._table_len[t], t, columns & set(has)) for t, has in self.scope.tables.items()
                  if columns & set(has)]
        if len(useful) > 12:  # too many to try every set: a star and one table at its shortest
            return min(best, 13 + min(self._table_cost.values()))
        for size in range(1, len(useful) + 1):
            for chosen in itertools.combinations(useful, size):
                covered = frozenset().union(*(has for _, _, has in chosen))
                # `(SELECT*` `FROM` `)`, the tables with commas (a space before the first if it is a bare
                # word), then `,""c` for each column no table has
                first_space = all(self._table_cost[t] > n for n, t, _ in chosen)
                cost = (13 + first_space + sum(n for n, _, _ in chosen) + size - 1
                        + sum(3 + lengths[c] for c in columns - covered))
                best = min(best, cost)
        return best

    @staticmethod
    def _binds_here(frame: Any, ref: Any) -> bool:
        """`ref` binds to a table this FROM clause has (the one just named included)."""
        if SqlCompletions._binds_in(frame, ref):
            return True
        if frame.table is not None:
            name = frame.alias if frame.alias is not None else frame.table[0]
            return (ref.column is None or ref.column in frame.table[1]) and ref.qualifier in (None, name)
        if frame.derived is not None:  # a FROM subquery just closed, its alias to come
            return ref.qualifier is None and ref.column in frame.derived
        return False

    def _may_bind_outside(self, frames: tuple, level: int, ref: Any) -> bool:
        if ref.in_aggregate:
            return False  # an aggregate's argument binds in its own SELECT
        for _, frame in self.scope._chain(frames, level):
            if frame.clause in ("select", "on", "corder"):
                return True
            if self._binds_in(frame, ref):
                return True
        return False

    def _bound_outside(self, frames: tuple, level: int, ref: Any) -> bool:
        return any(self._binds_in(frame, ref) for _, frame in self.scope._chain(frames, level))

    @staticmethod
    def _binds_in(frame: Any, ref: Any) -> bool:
        for binding in frame.bindings:
            if (ref.column is None or ref.column in binding.lookup) and ref.qualifier in (None, binding.name):
                return True
        return ref.qualifier is None and any(item.alias == ref.column for item in frame.items)

    def bound(self, stack: Any, sem: Any, after_word: bool) -> int:
        """A lower bound on the bytes that finish a query from a token boundary."""
        return self.stack_bound(stack)[1 if after_word else 0] + self._from_needed(stack, sem)

    # -- the search ----------------------------------------------------------------------------

    def _finish_partial(self, partial: Partial, names: dict) -> list[tuple[bytes, Token, bytes]]:
        """(suffix, the token it makes, that token's spelling for the space test) for each way of finishing
        the unfinished token `partial` tried: sqlite's tokenizer reads partial + suffix as exactly one token."""
        kind, data = partial.kind, partial.data
        suffixes: set[bytes] = {b""}
        if kind == "word":
            upper = data.upper()
            lower = data.lower()
            for keyword in KEYWORD_TOKENS:
                if keyword.encode().startswith(upper):
                    suffixes.add(keyword.encode()[len(data):])
            for spellings in names.values():
                for text, _ in spellings:
                    if text.lower().startswith(lower):
                        suffixes.add(text[len(data):])
            suffixes |= {b"_", self.fresh.encode()}
            if data in (b"x", b"X"):
                suffixes.add(b"''")
        elif kind == "num":
            suffixes |= {bytes((d,)) for d in b"0123456789."}
        elif kind == "dot":
            suffixes.add(b"0")
        elif kind == "op":
            suffixes |= {bytes((b,)) for b in _MERGES.get(data, b"")}
        elif kind in ("quote", "bracket"):
            close = b"]" if kind == "bracket" else bytes((partial.quote,))
            if not partial.closed:
                suffixes |= {close, b"a" + close}
                lower = data.lower()
                for spellings in names.values():
                    for text, token in spellings:
                        name = token.text.encode("utf-8", "surrogateescape")
                        if name.lower().startswith(lower):
                            rest = name[len(data):]
                            if kind == "quote":
                                rest = rest.replace(close, close + close)
                            suffixes.add(rest + close)
        elif kind == "blob" and not partial.closed:
            suffixes.add(b"0'" if len(data) % 2 else b"'")
        found = []
        for suffix in suffixes:
            token = self._one_token(partial, suffix)
            if token is None:
                continue
            if kind in ("word", "num", "op"):
                spelled = data + suffix
            elif kind == "dot":
                spelled = b"." + suffix
            elif kind == "blob":
                spelled = b"X''"
            else:
                spelled = (b"]" if kind == "bracket" else bytes((partial.quote,))) * 2
            found.append((suffix, token, spelled))
        return found

    def _one_token(self, partial: Partial, suffix: bytes) -> Token | None:
        """The one token `partial` + `suffix` is (ended by its last byte, as `]` or `<=` are, or by the end
        of the text), None if the tokenizer reads something else."""
        step = self.lexer.step
        try:
            for at, byte in enumerate(suffix):
                done, partial = step(partial, byte)
                if done:
                    return done[0] if len(done) == 1 and partial is None and at == len(suffix) - 1 else None
                if partial is None:
                    return None
            return self.lexer.finish(partial)
        except LexError:
            return None

    def _candidates(self, expected: frozenset, scope: tuple[frozenset, dict], positions: bool) -> list:
        """The tokens that may come next, as (spelled length, class, spelling, token), shortest first
        (kept per set of expected classes and set of extra names, `_scope_names`). Numbers are 1 and
        0 (the only ones the actions tell apart), and 2-9 where `positions`: in an ORDER/GROUP BY term,
        where a number names a result column."""
        extra, names = scope
        key = (expected, positions, extra)
        known = self._candidate_lists.get(key)
        if known is not None:
            return known
        found = [(len(text), term, text, token) for term in expected if term != EOF
                 for text, token in self._spellings(term, names)]
        if positions and NUM in expected:
            found += [(len(text), NUM, text, token) for text, token in self.positions]
        found.sort(key=lambda c: c[0])
        if len(self._candidate_lists) >= 16_384:
            self._candidate_lists.clear()
        self._candidate_lists[key] = found
        return found

    def shortest(self, state: Any, max_expansions: int = MAX_EXPANSIONS) -> tuple[bytes | None, int]:
        """(a shortest completion of `state`, its length) by A*; (None, lower bound) if the search gave up;
        (None, -1) if no completion exists."""
        pieces, length = self.shortest_pieces(state, max_expansions)
        return (None if pieces is None else b"".join(pieces)), length

    def shortest_pieces(self, state: Any, max_expansions: int = MAX_EXPANSIONS) -> tuple[tuple | None, int]:
        """`shortest` with the completion as its pieces: the suffix that finishes the unfinished token,
        then one token's spelling each (a space before it where the tokens would touch).

        Children are made lazily, shortest token first (partial-expansion A*): a node popped with key F
        makes the children whose token alone keeps g + length <= F, and goes back with the next length as
        its key; a child costs at least g + its token's length, so no shorter completion is passed over."""
        parser, feed = self.parser, self.parser.feed
        order = itertools.count()
        frontier: list = []

        def push(g: int, stack: Any, sem: Any, spelled: bytes, term: str, path: tuple) -> None:
            # Keyed by the stack's bound alone; the FROM clauses still needed (the costly part of the
            # bound) are added when the node is first popped, so nodes never reached are never costed.
            h = self.stack_bound(stack)[1 if spelled and spelled[-1] in _WORD else 0]
            if h < INF:
                heapq.heappush(frontier, (g + h, -g, next(order), (stack, sem, spelled, term, path), _UNCOSTED))

        if state.partial is None:
            push(0, state.stack, state.sem, b"", "", ())
        else:
            for suffix, token, spelled in self._finish_partial(state.partial, self._scope_names(state.sem)[1]):
                fed = feed(state.stack, state.sem, token)
                if fed is not None:
                    push(len(suffix), fed[0], fed[1], spelled, token.term, (suffix,))
        expansions = 0
        while frontier:
            key, minus_g, _, node, at = heapq.heappop(frontier)
            stack, sem, spelled, term, path = node
            if stack is None:  # the end of input was read: an accepted query
                return path, -minus_g
            if expansions >= max_expansions:
                return None, key
            g = -minus_g
            if at is _UNCOSTED:
                extra = self._from_needed(stack, sem)
                if extra >= INF:
                    continue
                if extra:
                    heapq.heappush(frontier, (key + extra, minus_g, next(order), node, None))
                    continue
                at = None
            expansions += 1
            if at is None:  # first visit: the end of input, then the tokens from the shortest
                expected = parser.expected(stack)
                if EOF in expected and feed(stack, sem, _EOF_TOKEN) is not None:
                    heapq.heappush(frontier, (g, -g, next(order), (None, None, b"", EOF, path), None))
                candidates = self._candidates(expected, self._scope_names(sem), bool(sem.frames) and type(sem.frames[-1].term) is tuple)
                at = 0
            else:
                candidates = at[1]
                at = at[0]
            while at < len(candidates) and g + candidates[at][0] <= key:
                _, term_next, text, token = candidates[at]
                at += 1
                fed = feed(stack, sem, token)
                if fed is None:
                    continue
                piece = b" " + text if needs_space(spelled, term, text) else text
                push(g + len(piece), fed[0], fed[1], text, term_next, path + (piece,))
            if at < len(candidates):
                heapq.heappush(frontier, (g + candidates[at][0], minus_g, next(order), node, (at, candidates)))
        return None, -1
