"""Fixed-shape decode steps over pool rows, recorded once per shape as CUDA graphs (issue 9, item 4).

The forward server's one-token extensions (every particle of a `ppl.Model` sampling its next
token) vary in number from step to step and live in pool rows [start, start + n). On a GPU
their eager forward pass costs a few hundred kernel launches, more than the arithmetic. Here the
batch is padded to a bucket of B rows (a power of two) and the key length to a block, and the
step (forward pass, log-softmax and CDF) is recorded as a CUDA graph per (pool layout, start, B,
key length) and replayed with one launch. Padding rows belong to the pool: each writes its keys
at the first column it does not hold (its node's depth), which no one reads before it is
written again, so a padding row's cached sequence stays intact. Off CUDA the same fixed-shape
body runs eagerly, which is what the CPU tests check against the plain path.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch

from lm.serving.kv_pool import KVPool, Row
from lm.serving.pool_cache import PoolCache

KEY_BLOCK = 128      # key lengths are padded to a multiple of this (a new graph per block)
MAX_GRAPHS = 64      # recorded graphs kept at once (least recently used dropped first)


def bucket(n: int) -> int:
    """The padded batch size of n rows: the next power of two."""
    return 1 << max(0, (n - 1).bit_length())


class _Shape:
    """Input buffers and outputs of one recorded step shape."""

    __slots__ = ("ids", "positions", "logprobs", "cdf", "graph")

    def __init__(self, ids: torch.Tensor, positions: torch.Tensor):
        self.ids, self.positions = ids, positions
        self.logprobs = self.cdf = None
        self.graph = None


class DecodeGraphs:
    """Runs one-token decode batches over pool rows at fixed shapes (graph replays on CUDA)."""

    def __init__(self, lean: Any, pool: KVPool, without_undefined: Any, *, graphs: bool | None = None):
        self.lean, self.pool, self.without_undefined = lean, pool, without_undefined
        self.use_graphs = pool.device.type == "cuda" if graphs is None else graphs
        self._shapes: dict[tuple, _Shape] = {}
        self._layout = None
        self._mempool = None
        self.recorded = 0
        self.replays = 0
        self.padded_rows = 0  # padding rows run so far (reported; the tests check that padding happened)

    def plan(self, start: int, n: int, kv_length: int) -> tuple[int, int] | None:
        """(B, key length) for a batch of n rows at `start`, or None when the pool cannot hold the padding."""
        rows = bucket(n)
        if start + rows > len(self.pool.rows):
            rows = len(self.pool.rows) - start  # the pool's rows end first: pad to its end
        key_length = min(self.pool.columns, -(-kv_length // KEY_BLOCK) * KEY_BLOCK)
        if rows < n or key_length < kv_length:
            return None
        return rows, key_length

    def run(self, rows: Sequence[Row], tokens: Sequence[int], positions: Sequence[int], start: int,
            kv_length: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(log-probabilities, CDF) [n, vocabulary] float64 on the device, or None where the fixed shape does not fit.

        rows[i] (pool rows start + i) takes tokens[i] at column positions[i].
        """
        n = len(rows)
        planned = self.plan(start, n, kv_length)
        if planned is None:
            return None
        width, key_length = planned
        ids = list(tokens)
        columns = list(positions)
        for index in range(start + n, start + width):  # padding rows write where they hold nothing yet
            row = self.pool.rows[index]
            depth = row.node.depth if row.node is not None else 0
            if depth >= self.pool.columns:
                return None
            ids.append(0)
            columns.append(depth)
            self.padded_rows += 1
        layout = self.pool.layout
        if layout != self._layout:  # the pool was reallocated: every recorded graph points at freed tensors
            self._shapes.clear()
            self._layout = layout
        key = (start, width, key_length)
        shape = self._shapes.pop(key, None)
        fresh = shape is None
        if fresh:
            device = self.pool.device
            shape = _Shape(torch.zeros((width, 1), dtype=torch.long, device=device),
                           torch.zeros((width, 1), dtype=torch.long, device=device))
        self._shapes[key] = shape  # most recently used last
        while len(self._shapes) > MAX_GRAPHS:
            self._shapes.pop(next(iter(self._shapes)))
        with torch.inference_mode():
            shape.ids.copy_(torch.tensor(ids, dtype=torch.long)[:, None], non_blocking=True)
            shape.positions.copy_(torch.tensor(columns, dtype=torch.long)[:, None], non_blocking=True)
            if shape.graph is not None:
                shape.graph.replay()
                self.replays += 1
                return shape.logprobs[:n], shape.cdf[:n]
            logprobs, cdf = self._body(shape, start, width, key_length)
            if self.use_graphs and not fresh:
                try:
                    self._record(shape, start, width, key_length)  # the second use of a shape records it
                except RuntimeError as e:  # a model whose step cannot be recorded still runs, eagerly
                    self.use_graphs = False
                    warnings.warn(f"decode steps are not recorded as CUDA graphs for this model ({str(e)[:200]}); "
                                  "running them eagerly, which is slower on a GPU", RuntimeWarning, stacklevel=2)
            return logprobs[:n], cdf[:n]

    def _body(self, shape: _Shape, start: int, width: int, key_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        positions = shape.positions
        cache = PoolCache(self.pool, start, width, positions, key_length, None)
        mask = torch.arange(key_length, device=positions.device)[None, None, None, :] <= positions[:, None, :, None]
        logits = self.lean(shape.ids, positions, mask, cache, 1)[:, -1]
        logprobs = torch.log_softmax(self.without_undefined(logits.to(torch.float64)), dim=-1)
        return logprobs, torch.cumsum(torch.exp(logprobs), dim=-1)

    def _record(self, shape: _Shape, start: int, width: int, key_length: int) -> None:
        """Record the shape's step as a CUDA graph (its inputs are read from the shape's buffers at replay)."""
        if self._mempool is None:
            self._mempool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._mempool):
            shape.logprobs, shape.cdf = self._body(shape, start, width, key_length)
        shape.graph = graph
        self.recorded += 1
