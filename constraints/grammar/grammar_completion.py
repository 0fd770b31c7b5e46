"""Shortest completions of Earley states: the shortest derivation that finishes the parse.

Computed once per grammar: each terminal's shortest match (breadth-first in its automaton),
each nonterminal's shortest derivation (Knuth's generalization of Dijkstra), and for every
dotted rule the length of what is left of it. From a recognizer state, the shortest completion
is then the cheapest way to finish one running terminal and climb the chart: an item
A -> α . β with origin column O costs |β| plus up(O, A), the cheapest way to finish the parse
once A is complete at O, which is defined column by column back to the root (where the start
symbol completes for free) and cached per column. Predicted items (origin = the column itself)
climb through the prediction block to the nonterminals that caused the prediction; those
chains are computed once per prediction block.

Exact as a shortest *derivation*. What it leaves out, so that it is then a lower bound: the
lexical side conditions of the dynamic lexer (a terminal's match must be the one Python's
`re.match` prefers, so "ab" cannot be NAME NAME) and the condition sets of tentative matches.
The text returned spells that derivation, the shortest terminal strings one after another.
"""
from __future__ import annotations

import heapq
import weakref
from typing import Any

INF = float("inf")


class GrammarCompletions:
    """Shortest completions for one `EarleyRecognizer` (see the module docstring)."""

    def __init__(self, recognizer: Any):
        self.recognizer = recognizer
        r = recognizer
        self.lhs, self.next_nt, self.next_t, self.complete = r.lhs, r.next_nt, r.next_t, r.complete
        self.is_ignore = r.is_ignore
        self.matchers = r.scanner.matchers
        entries = len(self.matchers)
        self.term_text: list[bytes | None] = [self._terminal_text(e) for e in range(entries)]
        self.nt_len, self.best_rule = self._shortest_derivations()
        self.nt_text: dict[int, bytes] = {}
        rest = [0] * len(self.lhs)
        for i in range(len(self.lhs) - 1, -1, -1):
            if not self.complete[i]:
                rest[i] = self._symbol_len(i) + rest[i + 1]
        self.rest = rest
        self._columns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._chains: dict[int, tuple[Any, dict]] = {}
        self._block_summaries: dict[int, tuple[Any, dict, dict]] = {}
        self._roots_of: dict[int, frozenset] = {}
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # -- grammar tables --------------------------------------------------------------------------
    def _terminal_text(self, entry: int) -> bytes | None:
        """The shortest text terminal `entry` matches (over the start contexts its lookbehinds tell apart)."""
        matcher = self.matchers[entry]
        nfa = matcher.nfa
        best = None
        contexts = {nfa.class_after(None): None}
        for byte in range(256):
            contexts.setdefault(nfa.class_after(byte), byte)
        for prev in contexts.values():
            pike, empty = matcher.start_after(prev)
            if empty:
                return b""
            if pike is None:
                continue
            text = matcher.shortest_match(pike)
            if best is None or len(text) < len(best):
                best = text
        return best

    def _symbols(self, start_item: int) -> list[int]:
        """The right-hand side of the rule whose first item is `start_item` (terminal entries as ~entry)."""
        out, item = [], start_item
        while not self.complete[item]:
            out.append(self.next_nt[item] if self.next_nt[item] >= 0 else ~self.next_t[item])
            item += 1
        return out

    def _shortest_derivations(self) -> tuple[dict, dict]:
        """Knuth's algorithm: nonterminal -> shortest derivation length, and the rule achieving it."""
        rules = [(lhs, start) for lhs, starts in self.recognizer.first_items.items() for start in starts]
        waiting: dict[int, list[int]] = {}
        count, partial = [], []
        heap = []
        for index, (lhs, start) in enumerate(rules):
            symbols = self._symbols(start)
            nts = [s for s in symbols if s >= 0]
            terms = [self.term_text[~s] for s in symbols if s < 0]
            if any(t is None for t in terms):
                count.append(-1)
                partial.append(INF)
                continue
            count.append(len(nts))
            partial.append(sum(len(t) for t in terms))
            for nt in nts:
                waiting.setdefault(nt, []).append(index)
            if not nts:
                heapq.heappush(heap, (partial[-1], index))
        length: dict[int, int] = {}
        best: dict[int, int] = {}
        while heap:
            cost, index = heapq.heappop(heap)
            lhs = rules[index][0]
            if lhs in length:
                continue
            length[lhs], best[lhs] = cost, rules[index][1]
            for other in waiting.get(lhs, ()):
                partial[other] += cost
                count[other] -= 1
                if count[other] == 0:
                    heapq.heappush(heap, (partial[other], other))
        return length, best

    def _symbol_len(self, item: int) -> float:
        nt = self.next_nt[item]
        if nt >= 0:
            return self.nt_len.get(nt, INF)
        text = self.term_text[self.next_t[item]]
        return INF if text is None else len(text)

    def nonterminal_text(self, nt: int) -> bytes:
        """The text of `nt`'s shortest derivation."""
        known = self.nt_text.get(nt)
        if known is None:
            known = self.nt_text[nt] = self.rest_text(self.best_rule[nt])
        return known

    def rest_text(self, item: int) -> bytes:
        """The shortest text of what is left of dotted rule `item`."""
        parts = []
        while not self.complete[item]:
            nt = self.next_nt[item]
            parts.append(self.nonterminal_text(nt) if nt >= 0 else self.term_text[self.next_t[item]])
            item += 1
        return b"".join(parts)

    # -- blocks --------------------------------------------------------------------------------
    def _summary(self, block: Any) -> tuple[dict, dict]:
        """For a block's items: lhs -> (least rest, item), and nonterminal -> {lhs: (least rest after it, item)}."""
        cached = self._block_summaries.get(id(block))
        if cached is not None and cached[0] is block:
            return cached[1], cached[2]
        rest, lhs_of = self.rest, self.lhs
        need: dict = {}
        wait_nt: dict = {}
        for items in block.t_items.values():
            for j in items:
                _keep_min(need, lhs_of[j], rest[j], j)
        for nt, items in block.nt_items.items():
            by_lhs = wait_nt.setdefault(nt, {})
            for j in items:
                _keep_min(need, lhs_of[j], rest[j], j)
                _keep_min(by_lhs, lhs_of[j], rest[j + 1], j)
        self._block_summaries[id(block)] = (block, need, wait_nt)
        return need, wait_nt

    def _roots(self, prediction: Any) -> frozenset:
        roots = self._roots_of.get(id(prediction))
        if roots is None:
            self._roots_of = {id(block): key for key, block in self.recognizer._predictions.items()}
            roots = self._roots_of.get(id(prediction), frozenset())
        return roots

    def _chain(self, prediction: Any) -> dict:
        """Predicted nonterminal A -> {root R: (cost, next item)}: the cheapest climb, through the
        prediction's own items, from A complete to the root R that caused the prediction."""
        cached = self._chains.get(id(prediction))
        if cached is not None and cached[0] is prediction:
            return cached[1]
        reverse: dict[int, list] = {}
        for nt, items in prediction.nt_items.items():
            for j in items:
                reverse.setdefault(self.lhs[j], []).append((nt, self.rest[j + 1], j))
        chain: dict[int, dict] = {}
        for root in self._roots(prediction):
            dist, step = {root: 0}, {root: None}
            heap = [(0, root)]
            while heap:
                d, b = heapq.heappop(heap)
                if d > dist[b]:
                    continue
                for a, w, j in reverse.get(b, ()):
                    if d + w < dist.get(a, INF):
                        dist[a], step[a] = d + w, j
                        heapq.heappush(heap, (d + w, a))
            for a, d in dist.items():
                chain.setdefault(a, {})[root] = (d, step[a])
        self._chains[id(prediction)] = (prediction, chain)
        return chain

    # -- columns -------------------------------------------------------------------------------
    def _sources(self, column: Any):
        """The columns whose items wait at `column`: itself, then those carried past %ignore."""
        yield column
        for source, _ in column.carried:
            yield source

    def _info(self, column: Any) -> dict:
        """column -> {"base": {R: (cost, item, origin)}, "need": (cost, item, origin), "up": {}} (cached),
        computed after the columns its items start at."""
        info = self._columns.get(column)
        if info is not None:
            return info
        stack = [column]
        while stack:
            top = stack[-1]
            if top in self._columns:
                stack.pop()
                continue
            missing = [o for o in self._origins(top) if o is not top and o not in self._columns]
            if missing:
                stack.extend(missing)
                continue
            self._columns[top] = self._compute(top)
            stack.pop()
        return self._columns[column]

    def _origins(self, column: Any) -> set:
        out = set()
        for source in self._sources(column):
            for items in source.own_nt.values():
                out.update(x[1] for x in items)
            for items in source.own_t.values():
                out.update(x[1] for x in items)
            out.update(b[1] for b in source.blocks)
        return out

    def _compute(self, column: Any) -> dict:
        info = {"base": {}, "need": (INF, None, None), "up": {}}
        base, rest, lhs_of = info["base"], self.rest, self.lhs
        if column is self.recognizer.root:
            base[self.recognizer.spec.start] = (0, None, None)
        need = [INF, None, None]

        def consider_need(cost, item, origin):
            if cost < need[0]:
                need[:] = [cost, item, origin]

        for source in self._sources(column):
            for (nt, _), items in source.own_nt.items():
                for item, origin, _, _ in items:
                    up = self.up(origin, lhs_of[item])[0]
                    _keep_min3(base, nt, rest[item + 1] + up, item, origin)
                    consider_need(rest[item] + up, item, origin)
            for items in source.own_t.values():
                for item, origin, _, _ in items:
                    consider_need(rest[item] + self.up(origin, lhs_of[item])[0], item, origin)
            for block, origin, _, _ in source.blocks:
                if origin is column:
                    continue  # this column's predictions: no cheaper than the items that caused them
                need_by_lhs, wait_nt = self._summary(block)
                for b, (r, j) in need_by_lhs.items():
                    consider_need(r + self.up(origin, b)[0], j, origin)
                for nt, by_lhs in wait_nt.items():
                    for b, (r, j) in by_lhs.items():
                        _keep_min3(base, nt, r + self.up(origin, b)[0], j, origin)
        info["need"] = (0, None, None) if column.accepting else tuple(need)
        return info

    def up(self, column: Any, nt: int) -> tuple:
        """(cost, how) of finishing the parse once `nt` is complete from `column`: how is ("base", item,
        origin), ("chain", prediction, root) or None at the root's start symbol."""
        info = self._info(column)
        known = info["up"].get(nt)
        if known is not None:
            return known
        best = (INF, None)
        entry = info["base"].get(nt)
        if entry is not None:
            best = (entry[0], ("base",) + entry[1:] if entry[1] is not None else None)
        for prediction in column.predictions.values():
            for root, (cost, _) in self._chain(prediction).get(nt, {}).items():
                root_entry = info["base"].get(root)
                if root_entry is not None and cost + root_entry[0] < best[0]:
                    best = (cost + root_entry[0], ("chain", prediction, root, nt))
        info["up"][nt] = best
        return best

    def after_terminal(self, column: Any, entry: int) -> tuple:
        """(cost, item, origin): the cheapest finish once terminal `entry` has matched from `column`."""
        info = self._info(column)
        key = ("t", entry)
        known = info["up"].get(key)
        if known is not None:
            return known
        if entry in self.is_ignore:
            best = info["need"]
            best = (best[0], None, ("need", column))
        else:
            best = (INF, None, None)
            for item, origin, _, _ in column.wait_t(entry):
                cost = self.rest[item + 1] + self.up(origin, self.lhs[item])[0]
                if cost < best[0]:
                    best = (cost, item, origin)
        info["up"][key] = best
        return best

    # -- states --------------------------------------------------------------------------------
    def neutral(self, state: Any) -> frozenset | None:
        """Inside a token (no column at this position): the bytes on which every running scanner group
        stays in the same scan state with no match ending or terminal stopping. Such bytes leave the
        state as it is but for its position, so they keep it viable and its shortest completion unchanged."""
        if state.column is not None or not state.groups:
            return None
        out = None
        for group in state.groups:
            scan = group[1]
            if scan is None:
                return None
            loops = self._loops.get(scan)
            if loops is None:
                step = self.recognizer.scanner.step
                loops = frozenset(b for b in range(256) if _loops(step(scan, b), scan))
                self._loops[scan] = loops
            out = loops if out is None else out & loops
            if not out:
                return None
        return out

    def shortest(self, state: Any) -> tuple[float, Any]:
        """(length, plan) of the shortest completion of an EarleyState (INF if none)."""
        known = self._states.get(state)
        if known is not None:
            return known
        best: tuple[float, Any] = (0, None) if state.accepting else (INF, None)
        for group in state.groups:
            column, scan = group[0], group[1]
            if scan is None or not group[3]:
                continue
            for entry, pike in scan.entries:
                after = self.after_terminal(column, entry)
                if after[0] >= best[0]:
                    continue
                match = self.matchers[entry].shortest_match(pike)
                cost = len(match) + after[0]
                if cost < best[0]:
                    best = (cost, (match, column, entry))
        self._states[state] = best
        return best

    def text(self, state: Any) -> bytes | None:
        """The shortest completion's text (None if the state has none)."""
        length, plan = self.shortest(state)
        if length == INF:
            return None
        if plan is None:
            return b""
        match, column, entry = plan
        cost, item, origin = self.after_terminal(column, entry)
        parts = [match]
        if item is None:  # an %ignore terminal: the column's items are still waiting
            parts.append(self._need_text(column))
        else:
            parts.append(self.rest_text(item + 1))
            parts.append(self._up_text(origin, self.lhs[item]))
        return b"".join(parts)

    def _need_text(self, column: Any) -> bytes:
        cost, item, origin = self._info(column)["need"]
        if item is None:
            return b""
        return self.rest_text(item) + self._up_text(origin, self.lhs[item])

    def _up_text(self, column: Any, nt: int) -> bytes:
        parts = []
        while True:
            cost, how = self.up(column, nt)
            if how is None:
                return b"".join(parts)
            if how[0] == "base":
                _, item, origin = how
                parts.append(self.rest_text(item + 1))
                column, nt = origin, self.lhs[item]
                continue
            _, prediction, root, at = how
            chain = self._chain(prediction)
            while at != root:
                item = chain[at][root][1]
                parts.append(self.rest_text(item + 1))
                at = self.lhs[item]
            entry = self._info(column)["base"][root]
            if entry[1] is None:
                return b"".join(parts)
            _, item, origin = entry
            parts.append(self.rest_text(item + 1))
            column, nt = origin, self.lhs[item]


def _loops(result: tuple, scan: Any) -> bool:
    following, flagged, gone = result
    return following is scan and not flagged and not gone


def _keep_min(table: dict, key: Any, cost: float, item: int) -> None:
    old = table.get(key)
    if old is None or cost < old[0]:
        table[key] = (cost, item)


def _keep_min3(table: dict, key: Any, cost: float, item: int, origin: Any) -> None:
    old = table.get(key)
    if old is None or cost < old[0]:
        table[key] = (cost, item, origin)
