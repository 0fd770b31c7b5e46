"""A pool of KV-cache rows: per layer one [rows, heads, columns, head_dim] tensor for keys and one for values.

Each row holds the keys/values of one token sequence (a prefix-trie node and, implicitly, all
its ancestors). A row is extended in place by its first child; a second child copies the
row (copy-on-write). Rows not needed by the current batch are reused least-recently-used
first; reuse bumps the row's generation, which invalidates every node that pointed at it
(their KV is recomputed on demand). Batches are kept in contiguous row ranges (by swapping
rows) so the model attends over a view of the pool without gathering it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

_COLUMN_BLOCK = 64


@dataclass(frozen=True)
class LayerShape:
    """The cached key/value shape of one attention layer."""

    heads: int
    head_dim: int


@dataclass(frozen=True)
class CacheStats:
    """What the KV pool and the logits memo hold and what the server did (see `LanguageModel.cache_stats`)."""

    rows: int
    columns: int
    bytes_allocated: int
    bytes_budget: int
    peak_bytes: int
    rows_in_use: int
    forward_calls: int
    requests: int
    memo_hits: int
    memo_entries: int
    memo_bytes: int
    tokens_forwarded: int
    tokens_recomputed: int
    row_copies: int
    row_swaps: int
    evictions: int


class Row:
    """A pool row: its index in the tensors, the deepest node it holds, its generation and last use."""

    __slots__ = ("index", "node", "generation", "last_used")

    def __init__(self, index: int):
        self.index = index
        self.node = None
        self.generation = 0
        self.last_used = -1


class KVPool:
    """Row storage for the keys and values of every attention layer, growable, bounded by a byte budget."""

    def __init__(self, layers: Sequence[LayerShape], dtype: torch.dtype, device: torch.device,
                 max_columns: int, budget_bytes: int):
        self.layers = list(layers)
        self.dtype, self.device = dtype, device
        self.max_columns = int(max_columns)
        self.budget_bytes = int(budget_bytes)
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.rows: list[Row] = []
        self.columns = 0
        self.peak_bytes = 0
        self.row_copies = 0
        self.row_swaps = 0
        self.evictions = 0
        self._element = torch.empty((), dtype=dtype).element_size()
        self.layout = 0  # bumped whenever the tensors are reallocated (recorded CUDA graphs point at them)
        self._allocate(0, 0)

    # -- sizes -----------------------------------------------------------------------------

    def bytes_per_column(self) -> int:
        """Bytes one token position of one row takes over all layers (keys and values)."""
        return sum(2 * s.heads * s.head_dim for s in self.layers) * self._element

    def bytes_allocated(self) -> int:
        return len(self.rows) * self.columns * self.bytes_per_column()

    def _allocate(self, rows: int, columns: int) -> None:
        keys, values = [], []
        for i, s in enumerate(self.layers):
            k = torch.zeros(rows, s.heads, columns, s.head_dim, dtype=self.dtype, device=self.device)
            v = torch.zeros_like(k)
            if self.keys and self.rows and self.columns:
                r, c = min(rows, len(self.rows)), min(columns, self.columns)
                k[:r, :, :c] = self.keys[i][:r, :, :c]
                v[:r, :, :c] = self.values[i][:r, :, :c]
            keys.append(k)
            values.append(v)
        self.keys, self.values = keys, values
        self.layout += 1
        self.columns = columns
        while len(self.rows) < rows:
            self.rows.append(Row(len(self.rows)))
        del self.rows[rows:]
        self.peak_bytes = max(self.peak_bytes, self.bytes_allocated())

    def ensure_columns(self, needed: int) -> None:
        """Make every row hold at least `needed` positions (grown in blocks, at most the context window)."""
        if needed <= self.columns:
            return
        grown = max(needed, int(self.columns * 1.5))
        grown = min(self.max_columns, -(-grown // _COLUMN_BLOCK) * _COLUMN_BLOCK)
        self._allocate(len(self.rows), max(grown, needed))

    def _grow_rows(self, needed: int) -> None:
        self._allocate(max(needed, int(len(self.rows) * 1.25)), max(self.columns, _COLUMN_BLOCK))

    # -- rows ------------------------------------------------------------------------------

    def take_rows(self, count: int, busy: set[int], prefer_below: int, clock: int) -> list[Row]:
        """`count` rows not in `busy` (row ids): free ones first, then least recently used; grows if needed.

        Rows with index below `prefer_below` are preferred so a batch stays in a compact range.
        Taking a row that holds a sequence evicts it (its generation changes).
        """
        if count == 0:
            return []
        candidates = [r for r in self.rows if id(r) not in busy]
        if len(candidates) < count:
            self._grow_rows(len(self.rows) + count - len(candidates))
            candidates = [r for r in self.rows if id(r) not in busy]
        candidates.sort(key=lambda r: (r.index >= prefer_below, r.last_used, r.index))
        taken = candidates[:count]
        for row in taken:
            if row.node is not None:
                self.evictions += 1
            row.generation += 1
            row.node = None
            row.last_used = clock
        return taken

    def copy_rows(self, sources: Sequence[Row], targets: Sequence[Row], columns: int) -> None:
        """Copy the first `columns` positions of each source row into its target row."""
        if not sources or columns == 0:
            return
        pairs = [(s.index, t.index) for s, t in zip(sources, targets)]
        if self.device.type == "cpu":   # row-by-row copies are cheapest on a CPU, one indexed copy per tensor on a GPU
            for tensors in (self.keys, self.values):
                for t in tensors:
                    for s, d in pairs:
                        t[d, :, :columns].copy_(t[s, :, :columns])
        else:
            src = torch.tensor([s for s, _ in pairs], device=self.device)
            dst = torch.tensor([d for _, d in pairs], device=self.device)
            for tensors in (self.keys, self.values):
                for t in tensors:
                    t[dst, :, :columns] = t[src, :, :columns]
        self.row_copies += len(pairs)

    def swap_rows(self, a: Row, b: Row) -> None:
        """Exchange the contents and indices of two rows (moving only the positions they hold)."""
        columns = max(_held(a), _held(b))
        if columns:
            for tensors in (self.keys, self.values):
                for t in tensors:
                    saved = t[a.index, :, :columns].clone()
                    t[a.index, :, :columns].copy_(t[b.index, :, :columns])
                    t[b.index, :, :columns].copy_(saved)
        self.rows[a.index], self.rows[b.index] = b, a
        a.index, b.index = b.index, a.index
        self.row_swaps += 1

    def compact(self, groups: Sequence[Sequence[Row]]) -> list[int]:
        """Move each group of rows into consecutive indices (group after group); returns each group's start."""
        starts = []
        start = 0
        for group in groups:
            end = start + len(group)
            members = {id(r) for r in group}
            misplaced = [r for r in group if not start <= r.index < end]
            holes = [i for i in range(start, end) if id(self.rows[i]) not in members]
            for row, hole in zip(misplaced, holes):
                self.swap_rows(row, self.rows[hole])
            starts.append(start)
            start = end
        return starts

    def trim(self, keep: int) -> None:
        """Shrink to the budget, keeping at least rows [0, keep) (those the last batch used)."""
        per_row = self.columns * self.bytes_per_column()
        if per_row == 0 or len(self.rows) * per_row <= self.budget_bytes:
            return
        target = max(keep, self.budget_bytes // per_row)
        if target >= len(self.rows):
            return
        for row in self.rows[target:]:
            if row.node is not None:
                self.evictions += 1
            row.generation += 1
            row.node = None
            row.index = -1
        self._allocate(target, self.columns)

    def rows_in_use(self) -> int:
        return sum(1 for r in self.rows if r.node is not None)

    def clear(self) -> None:
        for row in self.rows:
            row.generation += 1
            row.node = None
            row.index = -1
        self.rows = []
        self._allocate(0, 0)


def _held(row: Row) -> int:
    """How many positions a row holds valid data for (its node's length)."""
    return row.node.depth if row.node is not None else 0
