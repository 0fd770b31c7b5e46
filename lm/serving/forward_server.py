"""The batching server: all pending next-token requests of a step in one forward pass over pooled KV rows.

`serve(pendings)` (called by ppl's deterministic driver, or synchronously by `ensure_ready`)
answers every request for next-token log-probabilities. Requests for the same token sequence
are answered once; memoized answers cost nothing. For the rest it plans rows (extend the
parent's row in place, copy it for a second child, recompute from the deepest cached prefix
when a row was evicted), keeps the batch in a contiguous row range, and runs one forward pass
for the one-token extensions (plus one for multi-token prefills such as a new prompt).
"""
from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
import torch

from lm.serving.decode_graphs import DecodeGraphs
from lm.serving.kv_pool import CacheStats, KVPool, Row
from lm.serving.lean_forward import lean_forward_for
from lm.serving.pool_cache import PoolCache
from lm.serving.prefix_trie import PrefixNode


_ATTENTION_BLOCK = 64


class NextTokenTable:
    """A served next-token distribution: float64 log-probabilities and their cumulative sum (for inversion sampling)."""

    __slots__ = ("logprobs", "cdf")

    def __init__(self, logprobs: np.ndarray, cdf: np.ndarray):
        self.logprobs, self.cdf = logprobs, cdf


class _Job:
    """One sequence to compute: its node, the cached prefix it starts from, and its row."""

    __slots__ = ("node", "anchor", "source", "row", "nodes")

    def __init__(self, node: PrefixNode, anchor: PrefixNode, source: Row | None):
        self.node, self.anchor, self.source = node, anchor, source
        self.row: Row | None = None
        self.nodes = node.path(anchor)


class ForwardServer:
    """Serves `ppl.Pending` next-token requests (payload: a PrefixNode) for one model."""

    __ppl_shared__ = True

    def __init__(self, model: Any, pool: KVPool, defined: np.ndarray, window: int, memo_budget_bytes: int,
                 additive_mask: bool, lean: bool = True):
        self.model = model
        self._lean = lean_forward_for(model) if lean else None
        # One-token batches at fixed shapes, recorded as CUDA graphs (lm/serving/decode_graphs.py): on CUDA by
        # default; `fixed_shapes(True)` runs the same padded step eagerly elsewhere (tests).
        self.decode_graphs = None
        if self._lean is not None and pool.device.type == "cuda":
            self.decode_graphs = DecodeGraphs(self._lean, pool, self.without_undefined)
        self._cache_keyword = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.pool = pool
        self.window = window
        self.device = pool.device
        self.additive_mask = additive_mask
        self.vocab_size = len(defined)
        self._undefined = torch.from_numpy(~defined).to(self.device) if not defined.all() else None
        self._memo: OrderedDict[PrefixNode, None] = OrderedDict()
        self._memo_limit = max(64, memo_budget_bytes // (16 * self.vocab_size))
        self.clock = 0
        self.forward_calls = 0
        self.requests = 0
        self.memo_hits = 0
        self.tokens_forwarded = 0
        self.tokens_recomputed = 0

    def __repr__(self) -> str:
        return f"ForwardServer({type(self.model).__name__}, forward_calls={self.forward_calls})"

    def fixed_shapes(self, on: bool, graphs: bool | None = None) -> None:
        """Serve one-token batches at padded, fixed shapes (`graphs`: record them as CUDA graphs; default on CUDA)."""
        self.decode_graphs = DecodeGraphs(self._lean, self.pool, self.without_undefined, graphs=graphs) \
            if on and self._lean is not None else None

    # -- the ppl Server protocol ----------------------------------------------------------

    def serve(self, pendings: Sequence[Any]) -> None:
        """Answer every pending request: memo hits at once, the rest in batched forward passes."""
        waiting: dict[PrefixNode, list] = {}
        for pending in pendings:
            node = pending.payload
            self.requests += 1
            if node.table is not None:
                self.memo_hits += 1
                self._memo.move_to_end(node)
                pending.resolve(node.table)
            else:
                waiting.setdefault(node, []).append(pending)
        if not waiting:
            return
        results = self._compute(list(waiting))
        for node, group in waiting.items():
            for pending in group:
                pending.resolve(results[node])

    def table(self, node: PrefixNode) -> NextTokenTable:
        """The next-token distribution after `node`'s sequence, computed now if not memoized."""
        self.requests += 1
        if node.table is not None:
            self.memo_hits += 1
            self._memo.move_to_end(node)
            return node.table
        return self._compute([node])[node]

    def logprobs(self, node: PrefixNode) -> np.ndarray:
        """Next-token log-probabilities (float64) after `node`'s sequence."""
        return self.table(node).logprobs

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, nodes: list[PrefixNode]) -> list[_Job]:
        jobs, claimed, busy = [], set(), set()
        for node in nodes:
            if node.parent is None:
                raise ValueError("the empty sequence has no next-token distribution (the context needs at least one token)")
            anchor = node.parent
            while anchor.parent is not None and not anchor.has_kv():
                anchor = anchor.parent
            source = anchor.row if anchor.parent is not None else None
            job = _Job(node, anchor, source)
            if source is not None:
                busy.add(id(source))
                if source.node is anchor and id(source) not in claimed:
                    claimed.add(id(source))
                    job.row = source
            jobs.append(job)
        pool = self.pool
        pool.ensure_columns(max(j.node.depth for j in jobs) + 1)
        homeless = [j for j in jobs if j.row is None]
        targets = pool.take_rows(len(homeless), busy, prefer_below=len(jobs), clock=self.clock)
        by_depth: dict[int, list[tuple[Row, Row]]] = {}
        for job, row in zip(homeless, targets):
            job.row = row
            if job.source is not None:
                by_depth.setdefault(job.anchor.depth, []).append((job.source, row))
                row.node = job.anchor
        for depth, pairs in by_depth.items():
            pool.copy_rows([s for s, _ in pairs], [t for _, t in pairs], depth)
        for job in jobs:
            job.row.last_used = self.clock
        return jobs

    # -- computing --------------------------------------------------------------------------

    def _compute(self, nodes: list[PrefixNode]) -> dict[PrefixNode, NextTokenTable]:
        self.clock += 1
        jobs = self._plan(nodes)
        decode = [j for j in jobs if len(j.nodes) == 1]
        prefill = [j for j in jobs if len(j.nodes) > 1]
        groups = [g for g in (decode, prefill) if g]
        starts = self.pool.compact([[j.row for j in g] for g in groups])
        results: dict[PrefixNode, NextTokenTable] = {}
        for group, start in zip(groups, starts):
            group.sort(key=lambda j: j.row.index)
            for job, table in zip(group, self._forward(group, start)):
                self._record(job, table)
                results[job.node] = table
        self.pool.trim(keep=len(jobs))
        return results

    def _forward(self, group: list[_Job], start: int) -> list[NextTokenTable]:
        n = len(group)
        lengths = [len(j.nodes) for j in group]
        first = [j.anchor.depth for j in group]
        width = max(lengths)
        kv_length = max(f + l for f, l in zip(first, lengths))
        self.pool.ensure_columns(kv_length + 1)
        if width == 1 and self.decode_graphs is not None:
            done = self.decode_graphs.run([j.row for j in group], [j.node.token for j in group], first, start, kv_length)
            if done is not None:
                self.forward_calls += 1
                self.tokens_forwarded += n
                logprobs, cdf = (t.cpu().numpy() for t in done)
                return [NextTokenTable(logprobs[i], cdf[i]) for i in range(n)]
        if width == 1:
            ids = torch.tensor([[j.node.token] for j in group])
            positions = torch.tensor(first)[:, None]
            write = positions
        else:
            ids = torch.zeros((n, width), dtype=torch.long)
            offsets = torch.arange(width)[None, :].repeat(n, 1)
            for i, job in enumerate(group):
                ids[i, :lengths[i]] = torch.tensor([x.token for x in job.nodes])
                offsets[i, lengths[i]:] = lengths[i] - 1
            positions = torch.tensor(first)[:, None] + offsets
            padded = torch.arange(width)[None, :] >= torch.tensor(lengths)[:, None]
            write = torch.where(padded, torch.full_like(positions, kv_length), positions)
        uniform = first[0] if width == 1 and min(first) == max(first) else None
        if self.device.type == "cuda":
            # cuDNN attention builds an execution plan per key length (~2.5 ms each on an H200): attend over
            # a block-aligned, masked length so a new plan is needed once per block, not once per token.
            padded = min(self.pool.columns, -(-kv_length // _ATTENTION_BLOCK) * _ATTENTION_BLOCK)
            if padded > kv_length:
                kv_length, uniform = padded, None
        needed = sorted(set(length - 1 for length in lengths))
        device = self.device
        keep = 1 if width == 1 else torch.tensor(needed, device=device)
        cache = PoolCache(self.pool, start, n, write.to(device), kv_length, uniform)
        ids, positions = ids.to(device), positions.to(device)
        with torch.inference_mode():
            if self._lean is not None:
                mask = None if uniform is not None else self._mask(positions, kv_length, additive=False)
                logits = self._lean(ids, positions, mask, cache, keep)
            else:
                out = self.model(input_ids=ids, position_ids=positions, attention_mask=self._mask(positions, kv_length, self.additive_mask),
                                 use_cache=True, logits_to_keep=keep, **{self._cache_keyword: cache})
                logits = out.logits
        self.forward_calls += 1
        self.tokens_forwarded += sum(lengths)
        if width == 1:
            last = logits[:, -1, :]
        else:
            column = {position: k for k, position in enumerate(needed)}
            picks = torch.tensor([column[length - 1] for length in lengths], device=device)
            last = logits[torch.arange(n, device=device), picks]
        last = last.to(torch.float64)
        last = self.without_undefined(last)
        logprobs = torch.log_softmax(last, dim=-1)
        cdf = torch.cumsum(torch.exp(logprobs), dim=-1)
        logprobs, cdf = logprobs.cpu().numpy(), cdf.cpu().numpy()
        return [NextTokenTable(logprobs[i], cdf[i]) for i in range(n)]

    def without_undefined(self, logits: torch.Tensor) -> torch.Tensor:
        """`logits` [..., vocabulary] with -inf at ids that are no token (padding rows of the output layer)."""
        return logits if self._undefined is None else logits.masked_fill(self._undefined, -torch.inf)

    def _mask(self, positions: torch.Tensor, kv_length: int, additive: bool) -> torch.Tensor:
        """[n, 1, S, kv_length]: query j of row i sees the columns up to its position."""
        allowed = torch.arange(kv_length, device=positions.device)[None, None, None, :] <= positions[:, None, :, None]
        if not additive:
            return allowed
        dtype = self.pool.dtype
        return torch.zeros(allowed.shape, dtype=dtype, device=positions.device).masked_fill(~allowed, torch.finfo(dtype).min)

    def _record(self, job: _Job, table: NextTokenTable) -> None:
        row = job.row
        for node in job.nodes:
            if node.row_generation != -1:
                self.tokens_recomputed += 1
            node.row, node.row_generation = row, row.generation
        row.node = job.node
        node = job.node
        node.table = table
        self._memo[node] = None
        self._memo.move_to_end(node)
        while len(self._memo) > self._memo_limit:
            old, _ = self._memo.popitem(last=False)
            old.table = None

    # -- reporting --------------------------------------------------------------------------

    def stats(self) -> CacheStats:
        pool = self.pool
        return CacheStats(
            rows=len(pool.rows), columns=pool.columns, bytes_allocated=pool.bytes_allocated(),
            bytes_budget=pool.budget_bytes, peak_bytes=pool.peak_bytes, rows_in_use=pool.rows_in_use(),
            forward_calls=self.forward_calls, requests=self.requests, memo_hits=self.memo_hits,
            memo_entries=len(self._memo), memo_bytes=len(self._memo) * 16 * self.vocab_size,
            tokens_forwarded=self.tokens_forwarded, tokens_recomputed=self.tokens_recomputed,
            row_copies=pool.row_copies, row_swaps=pool.row_swaps, evictions=pool.evictions)

    def clear(self) -> None:
        """Drop every cached row and memoized distribution."""
        for node in self._memo:
            node.table = None
        self._memo.clear()
        self.pool.clear()
