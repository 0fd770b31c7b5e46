"""Incremental Earley recognition over bytes with Lark's dynamic-lexer token semantics.

The recognizer reads bytes one at a time. Every terminal expected at a position runs as a
priority automaton (`Scanner`) from that position; when one reports that Python's `re.match`
may end there, the items waiting for it advance into a new chart column. A match that a
longer, preferred match could still override is *tentative*: items built on it carry a
condition (column, terminal, end), and the condition is violated — and everything carrying
it dropped — if the same terminal later matches further. `%ignore` terminals carry all
waiting items past themselves, exactly as Lark's scanner does.

States are immutable: a state is the set of running scanner groups plus the column at the
current position; columns are shared, never copied, and never re-parsed. What a column holds
is mostly precomputed from the grammar alone ("blocks": the items predicted from a set of
nonterminals, the items a terminal or a completed nonterminal advances), so building a
column costs a few dictionary lookups per block instead of work per Earley item.
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from constraints.base import ConstraintError
from constraints.grammar.terminal_scanner import Scanner

EMPTY: frozenset = frozenset()
_NO_PARENTS: tuple = ({}, {})


@dataclass(frozen=True)
class CfgSpec:
    """A context-free grammar whose terminals are scanner entries.

    `rules` are `(lhs, rhs)` with nonterminal ids `>= 0` and terminal entries encoded as
    `~entry` (negative). `ignore_entries` are scanner entries for `%ignore` terminals;
    `matchable[entry]` says whether the entry's terminal matches any text at all.
    """
    nonterminals: tuple
    rules: tuple
    start: int
    ignore_entries: tuple
    matchable: tuple


class _Block:
    """Items sharing one origin and condition sets, precomputed from the grammar alone.

    A *prediction* is the closure of the items predicted from a set of nonterminals. A
    *cascade* is what completing nonterminal `A` does to the predicted items of an origin
    column; a *scan* is what a terminal (or a completed nonterminal) does to a block's items.
    Both keep the items they advance (through nullable symbols too), the nonterminals they
    complete at the origin (`completed`; `closed` when completions into the origin's own
    prediction are already included) and the nonterminals their items predict (`roots`).
    """
    __slots__ = ("t_items", "nt_items", "complete_start", "expected", "roots", "completed", "closed")

    def __init__(self, t_items: dict, nt_items: dict, complete_start: tuple,
                 roots: frozenset = EMPTY, completed: frozenset = EMPTY, closed: bool = False):
        self.t_items, self.nt_items, self.complete_start = t_items, nt_items, complete_start
        self.expected = frozenset(t_items)
        self.roots, self.completed, self.closed = roots, completed, closed


class Column:
    """The chart at one text position.

    An item is `(item id, origin column, K, C)`: K is the condition set of the items that
    predicted it (it completes only into parents whose C is K), C the conditions it depends on.
    Items are stored as explicit tuples (`own_t`, `own_nt`), as block instances
    `(block, origin, K, C)` standing for all the block's items, as predictions (blocks whose
    origin is this column, by condition set), and as items carried from earlier columns by
    `%ignore` (`carried`: source column and a map of its condition sets to ours).
    """
    __slots__ = ("pos", "own_t", "own_nt", "blocks", "predictions", "carried", "complete_start",
                 "accepting", "own_expected", "own_conditions", "_own_wait_t", "_wait_t",
                 "_parents", "_blocks_for", "__weakref__")

    def __init__(self, pos, own_t, own_nt, blocks, predictions, carried, complete_start, root):
        """`root` is the chart's first column (None: this is it); acceptance means a complete
        start item whose origin is the root."""
        self.pos = pos
        self.own_t, self.own_nt = own_t, own_nt
        self.predictions, self.carried = predictions, tuple(carried)
        if predictions:
            blocks = blocks + [(p, self, k, k) for k, p in predictions.items()]
        self.blocks = blocks
        expected = set(own_t)
        conditions = {c for items in own_t.values() for _, _, _, c in items} if own_t else set()
        for block, origin, k, c in blocks:
            if block.t_items:
                expected |= block.expected
                conditions.add(c)
            if block.complete_start:
                complete_start = complete_start + [(item, origin, k, c) for item in block.complete_start]
        self.complete_start = complete_start
        root = root if root is not None else self
        self.accepting = any(x[1] is root for x in complete_start) if complete_start else False
        self.own_expected = frozenset(expected)
        self.own_conditions = frozenset(conditions)
        self._own_wait_t: dict = {}
        self._wait_t: dict = {}
        self._parents = None
        self._blocks_for: dict = {}

    def blocks_for(self, entry: int) -> list:
        """The block instances here with items waiting for terminal `entry`."""
        cached = self._blocks_for.get(entry)
        if cached is None:
            cached = self._blocks_for[entry] = [b for b in self.blocks if entry in b[0].t_items]
        return cached

    def own_wait_t(self, entry: int) -> list:
        cached = self._own_wait_t.get(entry)
        if cached is None:
            cached = list(self.own_t.get(entry, ()))
            for block, origin, k, c in self.blocks:
                for item in block.t_items.get(entry, ()):
                    cached.append((item, origin, k, c))
            self._own_wait_t[entry] = cached
        return cached

    def wait_t(self, entry: int) -> list:
        """Items waiting for terminal `entry` here, including those carried by `%ignore`."""
        cached = self._wait_t.get(entry)
        if cached is None:
            if not self.carried:
                cached = self.own_wait_t(entry)
            else:
                cached = list(self.own_wait_t(entry))
                for source, mapping in self.carried:
                    for item, origin, k, c in source.own_wait_t(entry):
                        mapped = mapping.get(c)
                        if mapped is not None:
                            cached.append((item, origin, k, mapped))
            self._wait_t[entry] = cached
        return cached

    def parents(self, k: frozenset) -> tuple[dict, dict]:
        """Items here waiting for a nonterminal whose condition set is exactly `k`, except the
        predicted ones (the recognizer handles those through cascades): explicit items by
        nonterminal, and block instances `(block, origin, K)` by nonterminal."""
        if self._parents is None:
            index: dict = {}
            for (nt, c), items in self.own_nt.items():
                index.setdefault(c, ({}, {}))[0].setdefault(nt, []).extend(items)
            for block, origin, bk, c in self.blocks:
                if origin is not self and block.nt_items:
                    by_nt = index.setdefault(c, ({}, {}))[1]
                    for nt in block.nt_items:
                        by_nt.setdefault(nt, []).append((block, origin, bk))
            self._parents = index
        return self._parents.get(k, _NO_PARENTS)

    def expected(self) -> frozenset:
        """Terminals some live item here waits for (carried ones only if still alive)."""
        if not self.carried:
            return self.own_expected
        out = set(self.own_expected)
        for source, mapping in self.carried:
            if source.own_conditions.issubset(mapping.keys()):
                out |= source.own_expected
            else:
                out.update(e for e in source.own_expected
                           if any(x[3] in mapping for x in source.own_wait_t(e)))
        return frozenset(out)

    def condition_sets(self) -> frozenset:
        """The condition sets of every item a scanner group started here can use."""
        if not self.carried and not self.complete_start:
            return self.own_conditions
        out = set(self.own_conditions)
        for source, mapping in self.carried:
            out.update(mapping[c] for c in source.own_conditions if c in mapping)
        out.update(x[3] for x in self.complete_start)
        return frozenset(out)


class EarleyState:
    """A recognizer state: running scanner groups and the column at `pos` (None mid-token).

    A group is `(column, scan state, pending, alive)`: `pending` maps entries to the end of
    their tentative match, `alive` is the set of condition sets not yet violated.
    """
    __slots__ = ("pos", "groups", "column", "__weakref__")

    def __init__(self, pos: int, groups: tuple, column: Column | None):
        self.pos, self.groups, self.column = pos, groups, column

    @property
    def accepting(self) -> bool:
        return self.column is not None and self.column.accepting

    def __repr__(self) -> str:
        return f"EarleyState(pos={self.pos}, groups={len(self.groups)}, accepting={self.accepting})"


class EarleyRecognizer:
    """Prefix recognition for a `CfgSpec` whose terminals are matched by `scanner`."""

    def __init__(self, spec: CfgSpec, scanner: Scanner, memo_size: int = 4096):
        self.spec = spec
        self.scanner = scanner
        self.memo_size = memo_size
        self._memo: OrderedDict = OrderedDict()
        self._tables(spec)
        self._predictions: dict[frozenset, _Block] = {}
        self._cascades: dict[tuple, _Block] = {}
        self._scans: dict[tuple, _Block] = {}
        root_prediction = self._prediction(frozenset([spec.start]))
        self.root = Column(0, {}, {}, [], {EMPTY: root_prediction}, (), [], None)
        groups = self._start_groups(self.root, None)
        if not groups and not self.root.accepting:
            raise ConstraintError("no terminal the grammar starts with can match at the start "
                                  "of the text, so nothing is accepted")
        self.initial = EarleyState(0, groups, self.root)

    # -- grammar tables --------------------------------------------------------------------
    def _tables(self, spec: CfgSpec) -> None:
        productive_nt: set[int] = set()
        changed = True
        while changed:
            changed = False
            for lhs, rhs in spec.rules:
                if lhs not in productive_nt and all(
                        (s >= 0 and s in productive_nt) or (s < 0 and spec.matchable[~s]) for s in rhs):
                    productive_nt.add(lhs)
                    changed = True
        if spec.start not in productive_nt:
            name = spec.nonterminals[spec.start]
            raise ConstraintError(f"grammar rule {name!r} derives no string, so nothing is accepted")
        rules = [(lhs, rhs) for lhs, rhs in spec.rules
                 if lhs in productive_nt and all(s < 0 or s in productive_nt for s in rhs)
                 and all(s >= 0 or spec.matchable[~s] for s in rhs)]
        nullable: set[int] = set()
        changed = True
        while changed:
            changed = False
            for lhs, rhs in rules:
                if lhs not in nullable and all(s >= 0 and s in nullable for s in rhs):
                    nullable.add(lhs)
                    changed = True
        self.nullable = [n in nullable for n in range(len(spec.nonterminals))]
        self.lhs, self.next_nt, self.next_t, self.complete = [], [], [], []
        self.first_items: dict[int, list[int]] = defaultdict(list)
        for lhs, rhs in rules:
            self.first_items[lhs].append(len(self.lhs))
            for dot in range(len(rhs) + 1):
                self.lhs.append(lhs)
                symbol = rhs[dot] if dot < len(rhs) else None
                self.complete.append(symbol is None)
                self.next_nt.append(symbol if symbol is not None and symbol >= 0 else -1)
                self.next_t.append(~symbol if symbol is not None and symbol < 0 else -1)
        self.is_ignore = set(spec.ignore_entries)
        self.ignore_set = frozenset(spec.ignore_entries)

    def _prediction(self, roots: frozenset) -> _Block:
        cached = self._predictions.get(roots)
        if cached is not None:
            return cached
        items: set[int] = set()
        predicted = set(roots)
        agenda = [i for nt in roots for i in self.first_items.get(nt, ())]
        while agenda:
            item = agenda.pop()
            if item in items:
                continue
            items.add(item)
            nt = self.next_nt[item]
            if nt >= 0:
                if nt not in predicted:
                    predicted.add(nt)
                    agenda.extend(self.first_items.get(nt, ()))
                if self.nullable[nt]:
                    agenda.append(item + 1)
        prediction = self._block(items)
        self._predictions[roots] = prediction
        return prediction

    def _block(self, items, completed: frozenset | None = None, closed: bool = False) -> _Block:
        """A block of `items`; `completed` (None for a prediction) is kept for the recognizer."""
        t_items, nt_items, complete_start, roots = defaultdict(list), defaultdict(list), [], set()
        for item in sorted(items):
            if self.complete[item]:
                if self.lhs[item] == self.spec.start:
                    complete_start.append(item)
            elif self.next_nt[item] >= 0:
                nt_items[self.next_nt[item]].append(item)
                roots.add(self.next_nt[item])
            else:
                t_items[self.next_t[item]].append(item)
        return _Block({k: tuple(v) for k, v in t_items.items()}, {k: tuple(v) for k, v in nt_items.items()},
                      tuple(complete_start), EMPTY if completed is None else frozenset(roots),
                      completed or EMPTY, closed)

    def _cascade(self, prediction: _Block, nonterminal: int) -> _Block:
        """What completing `nonterminal` does to the items of `prediction` (see `_Block`)."""
        key = (id(prediction), nonterminal)
        cached = self._cascades.get(key)
        if cached is not None:
            return cached
        complete, lhs_of, next_nt, nullable = self.complete, self.lhs, self.next_nt, self.nullable
        done = {nonterminal}
        work = [nonterminal]
        items: set[int] = set()
        while work:
            for parent in prediction.nt_items.get(work.pop(), ()):
                stack = [parent + 1]
                while stack:
                    item = stack.pop()
                    if item in items:
                        continue
                    items.add(item)
                    if complete[item]:
                        if lhs_of[item] not in done:
                            done.add(lhs_of[item])
                            work.append(lhs_of[item])
                    elif next_nt[item] >= 0 and nullable[next_nt[item]]:
                        stack.append(item + 1)
        cascade = self._block(items, frozenset(done))
        self._cascades[key] = cascade
        return cascade

    # -- recognition -----------------------------------------------------------------------
    def advance(self, state: EarleyState, chunk: bytes) -> EarleyState | None:
        if not chunk:
            return state
        key = (state, chunk)
        memo = self._memo
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
        result = self._advance(state, chunk)
        memo[key] = result
        if len(memo) > self.memo_size:
            memo.popitem(last=False)
        return result

    def _advance(self, state: EarleyState, chunk: bytes) -> EarleyState | None:
        step = self.scanner.step
        pos = state.pos
        groups = state.groups
        column = state.column
        last = len(chunk) - 1
        for at, byte in enumerate(chunk):
            pos += 1
            next_groups = []
            flags = None
            violated = None
            for group in groups:
                col, scan, pending, alive = group
                result = scan.next.get(byte)
                if result is None:
                    result = step(scan, byte)
                nscan, flagged, gone = result
                if flagged or (pending and gone):
                    pend = dict(pending)
                    for entry in gone:
                        pend.pop(entry, None)
                    index = len(next_groups)
                    if flags is None:
                        flags = []
                    for entry, survives in flagged:
                        old = pend.pop(entry, None)
                        if old is not None:
                            if violated is None:
                                violated = set()
                            violated.add((col, entry, old))
                        if survives:
                            pend[entry] = pos
                            flags.append((index, entry, (col, entry, pos)))
                        else:
                            flags.append((index, entry, None))
                    next_groups.append((col, nscan, tuple(pend.items()), alive))
                elif nscan is not None:
                    next_groups.append((col, nscan, pending, alive) if nscan is not scan else group)
            column = None
            if flags is not None or violated is not None:
                if violated is not None:
                    self._apply_violations(next_groups, violated)
                if flags and not (at < last and self._all_overridden(flags, next_groups, chunk[at + 1])):
                    column = self._build_column(flags, next_groups, pos)
                next_groups = [g for g in next_groups if g[1] is not None and g[3]]
                if column is not None:
                    next_groups.extend(self._start_groups(column, byte))
            groups = next_groups
            if not groups and (column is None or not column.accepting):
                return None
        return EarleyState(pos, tuple(groups), column)

    def _all_overridden(self, flags: list, groups: list, byte: int) -> bool:
        """Whether every match ending here is tentative and overridden by the next byte, so
        no item built on them could survive (the column need not be built)."""
        for index, entry, cond in flags:
            scan = groups[index][1]
            if cond is None or scan is None or not self._flags_again(scan, entry, byte):
                return False
        return True

    def _flags_again(self, scan, entry: int, byte: int) -> bool:
        """Whether `entry` in `scan` reports another match after `byte` (so a match ending
        before `byte` is overridden and no item built on it can survive)."""
        result = scan.next.get(byte)
        if result is None:
            result = self.scanner.step(scan, byte)
        return any(e == entry for e, _ in result[1])

    def _start_groups(self, column: Column, prev: int | None) -> tuple:
        alive = column.condition_sets()
        if not alive:
            return ()
        scan = self.scanner.start(column.expected() | self.ignore_set, prev)
        if scan is None:
            return ()
        return ((column, scan, (), alive),)

    def _apply_violations(self, groups: list, violated: set) -> None:
        """Drop condition sets containing a violated condition; stop terminals nobody needs."""
        for index, (col, scan, pending, alive) in enumerate(groups):
            kept = frozenset(c for c in alive if not c or c.isdisjoint(violated))
            if kept == alive:
                continue
            if kept and scan is not None:
                useful = frozenset(entry for entry, _ in scan.entries
                                   if entry in self.is_ignore or any(x[3] in kept for x in col.wait_t(entry)))
                scan = self.scanner.restrict(scan, useful)
                pending = tuple(p for p in pending if p[0] in useful)
            groups[index] = (col, scan, pending, kept)

    def _build_column(self, flags: list, groups: list, pos: int) -> Column | None:
        pending = None
        stripped: dict = {}

        def strip(conds: frozenset, cond) -> frozenset:
            nonlocal pending
            if not conds:
                return EMPTY if cond is None else frozenset((cond,))
            key = (conds, cond)
            out = stripped.get(key)
            if out is None:
                if pending is None:
                    pending = {(g[0], e, end) for g in groups for e, end in g[2]}
                kept = [x for x in conds if x in pending]
                if cond is not None:
                    kept.append(cond)
                out = stripped[key] = frozenset(kept)
            return out

        kernel = []
        scanned = []
        carried = []
        for index, entry, cond in flags:
            col, _, _, alive = groups[index]
            if not alive:
                continue
            if entry in self.is_ignore:
                mapping = {c: strip(c, cond) for c in alive}
                carried.append((col, mapping))
                for source, inner in col.carried:
                    composed = {c: mapping[m] for c, m in inner.items() if m in mapping}
                    if composed:
                        carried.append((source, composed))
                for item, origin, k, c in col.complete_start:
                    if c in mapping:
                        kernel.append((item, origin, k, mapping[c]))
                continue
            for source, mapping in ((col, None),) + col.carried:
                for item, origin, k, c in source.own_t.get(entry, ()):
                    if mapping is not None:
                        c = mapping.get(c)
                    if c in alive:
                        kernel.append((item + 1, origin, k, strip(c, cond)))
                for block, origin, k, c in source.blocks_for(entry):
                    if mapping is not None:
                        c = mapping.get(c)
                    if c in alive:
                        scanned.append((self._scan(block, entry, origin is source), origin, k, strip(c, cond)))
        if not kernel and not scanned and not carried:
            return None
        return self._complete(kernel, scanned, carried, pos)

    def _scan(self, block: _Block, symbol: int, closed: bool) -> _Block:
        """The items of `block` advanced over `symbol` (a terminal entry, or `~nonterminal`),
        through nullable symbols; when the block is its origin's prediction (`closed`),
        completions into it are followed too."""
        key = (id(block), symbol, closed)
        cached = self._scans.get(key)
        if cached is not None:
            return cached
        complete, lhs_of, next_nt, nullable = self.complete, self.lhs, self.next_nt, self.nullable
        items: set[int] = set()
        done: set[int] = set()
        work: list[int] = []
        advanced = block.t_items[symbol] if symbol >= 0 else block.nt_items[~symbol]
        stack = [item + 1 for item in advanced]
        while stack or work:
            if not stack:
                stack = [parent + 1 for parent in block.nt_items.get(work.pop(), ())]
                continue
            item = stack.pop()
            if item in items:
                continue
            items.add(item)
            if complete[item]:
                if lhs_of[item] not in done:
                    done.add(lhs_of[item])
                    if closed:
                        work.append(lhs_of[item])
            elif next_nt[item] >= 0 and nullable[next_nt[item]]:
                stack.append(item + 1)
        scan = self._block(items, frozenset(done), closed)
        self._scans[key] = scan
        return scan

    def _complete(self, kernel: list, scanned: list, carried: list, pos: int) -> Column:
        """Close the kernel under completion (Aycock-Horspool for nullable nonterminals);
        completions into predicted items go through precomputed cascades."""
        complete, lhs_of, next_nt, next_t, nullable = (self.complete, self.lhs, self.next_nt,
                                                      self.next_t, self.nullable)
        start = self.spec.start
        own_t: dict = {}
        own_nt: dict = {}
        roots: dict = {}
        complete_start = []
        blocks = []
        block_seen = set()
        seen = set(kernel)
        agenda = list(seen)

        def add_block(key) -> None:
            block_seen.add(key)
            blocks.append(key)
            if key[0].roots:
                roots.setdefault(key[3], set()).update(key[0].roots)

        def completed_at(nts, origin: Column, k: frozenset, c: frozenset, closed: bool) -> None:
            """Nonterminals `nts` complete at `origin` for items with conditions `c` (a work
            list, not recursion: right recursion may complete thousands of levels at once)."""
            work = [(nts, origin, k, closed)]
            while work:
                nts, origin, k, closed = work.pop()
                prediction = None if closed else origin.predictions.get(k)
                explicit, parent_blocks = origin.parents(k)
                for lhs in nts:
                    if prediction is not None and lhs in prediction.nt_items:
                        cascade = self._cascade(prediction, lhs)
                        key = (cascade, origin, k, c)
                        if key not in block_seen:
                            add_block(key)
                        completed = cascade.completed
                    else:
                        completed = (lhs,)
                    for nt in completed:
                        for parent, porigin, pk, _ in explicit.get(nt, ()):
                            y = (parent + 1, porigin, pk, c)
                            if y not in seen:
                                seen.add(y)
                                agenda.append(y)
                        for block, porigin, pk in parent_blocks.get(nt, ()):
                            key = (self._scan(block, ~nt, False), porigin, pk, c)
                            if key not in block_seen:
                                add_block(key)
                                if key[0].completed:
                                    work.append((key[0].completed, porigin, pk, False))

        for key in scanned:
            if key not in block_seen:
                add_block(key)
                if key[0].completed:
                    completed_at(key[0].completed, key[1], key[2], key[3], key[0].closed)
        while agenda:
            x = agenda.pop()
            item, origin, k, c = x
            if complete[item]:
                if lhs_of[item] == start:
                    complete_start.append(x)
                completed_at((lhs_of[item],), origin, k, c, False)
            else:
                nt = next_nt[item]
                if nt >= 0:
                    own_nt.setdefault((nt, c), []).append(x)
                    roots.setdefault(c, set()).add(nt)
                    if nullable[nt]:
                        y = (item + 1, origin, k, c)
                        if y not in seen:
                            seen.add(y)
                            agenda.append(y)
                else:
                    own_t.setdefault(next_t[item], []).append(x)
        predictions = {c: self._prediction(frozenset(nts)) for c, nts in roots.items()}
        return Column(pos, own_t, own_nt, blocks, predictions, carried, complete_start, self.root)
