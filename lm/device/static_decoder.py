"""A fixed-shape KV cache for `rows` sequences that advance together, with a graph-captured decode step.

The pooled, prefix-trie cache (lm/serving/kv_pool.py) serves particles of any shape, but each of its
decode steps launches a few hundred small kernels from Python: on a GPU that launch cost, not
the arithmetic, sets the step time. When every sequence advances by one token per step (SMC
over plain decoding, twisted or not), the work has a fixed shape: `rows` sequences, keys and
values of at most `columns` positions, one new token each. This decoder keeps them in one
tensor per model ([layers, 2, rows, heads, columns, head_dim]), writes step t's keys at column
t, hides later columns with a mask computed on the device from a position buffer, and on CUDA
records the whole step (forward pass plus an optional `head`, e.g. sampling) once as a CUDA
graph that each step replays with one launch. Resampling gathers rows (`reorder`), an index
copy of the used columns on the device.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from lm.errors import ContextWindowError, KVBudgetError, UnsupportedModelError
from lm.serving.lean_forward import lean_forward_for

Head = Callable[[torch.Tensor], Any]


def _budget_message(device: torch.device, rows: int, columns: int, need: int) -> str:
    free = ""
    if device.type == "cuda":
        free_bytes, total = torch.cuda.mem_get_info(device)
        free = f"; {free_bytes / 2**30:.2f} GiB of {total / 2**30:.2f} GiB are free on {device}"
    return (f"StaticDecoder: {rows} particles x {columns} positions need {need / 2**30:.2f} GiB of KV cache "
            f"plus the decode step's activations, and the device ran out of memory{free}: "
            "use fewer particles or a smaller max_tokens")


class _PrefillWriter:
    """Cache protocol of the lean forward for the prompt: one sequence's keys broadcast into every row."""

    def __init__(self, kv: torch.Tensor, length: int):
        self.kv, self.length = kv, length

    def write(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv[layer, 0], self.kv[layer, 1]
        k[:, :, :self.length] = keys
        v[:, :, :self.length] = values
        return k[:1, :, :self.length], v[:1, :, :self.length]


class _StepWriter:
    """Cache protocol of the lean forward for a decode step: every row writes the column in `position`."""

    def __init__(self, kv: torch.Tensor, position: torch.Tensor):
        self.kv, self.position = kv, position

    def write(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv[layer, 0], self.kv[layer, 1]
        k.index_copy_(2, self.position, keys)
        v.index_copy_(2, self.position, values)
        return k, v


class StaticDecoder:
    """`rows` sequences sharing a prompt and advancing one token per step over a static KV cache.

    `prefill(prompt_ids)` computes the prompt once and copies its keys into every row;
    `step(token_ids, position)` feeds each row's token at `position` and returns `head(logits)`
    (logits [rows, vocabulary] in float32 when no head is given); `reorder(ancestors, length)`
    makes row i a copy of row ancestors[i] over the first `length` columns. `graphs=None`
    records the step as a CUDA graph on CUDA devices and runs it eagerly elsewhere.
    """

    def __init__(self, llm: Any, rows: int, columns: int, *, head: Head | None = None, graphs: bool | None = None):
        if rows < 1:
            raise ValueError(f"StaticDecoder: rows must be positive, got {rows}")
        if columns > llm.window:
            raise ContextWindowError(f"StaticDecoder: {columns} columns exceed the model's context window of {llm.window} tokens")
        forward = lean_forward_for(llm.model)
        if forward is None:
            raise UnsupportedModelError(f"StaticDecoder: {type(llm.model).__name__} has no lean forward pass "
                                        "(GPT-2 and Llama families are supported); use llm.context instead")
        shapes = set(llm.server.pool.layers)
        if len(shapes) != 1:
            raise UnsupportedModelError(f"StaticDecoder: layers have different key/value shapes {sorted(shapes)}")
        shape = shapes.pop()
        self.llm, self.rows, self.columns = llm, rows, columns
        self.device, self.dtype = llm.device, llm.dtype
        self._forward = forward
        self.head: Head = head or (lambda logits: logits)
        kv_shape = (len(llm.server.pool.layers), 2, rows, shape.heads, columns, shape.head_dim)
        need = math.prod(kv_shape) * torch.empty((), dtype=self.dtype).element_size()
        with torch.inference_mode():
            try:
                self.kv = torch.zeros(kv_shape, dtype=self.dtype, device=self.device)
            except torch.OutOfMemoryError:
                raise KVBudgetError(_budget_message(self.device, rows, columns, need)) from None
            self._ids = torch.zeros((rows, 1), dtype=torch.long, device=self.device)
            self._position = torch.zeros(1, dtype=torch.long, device=self.device)
            self._column_range = torch.arange(columns, device=self.device)
        self._writer = _StepWriter(self.kv, self._position)
        self._graph = None
        self._graph_out = None
        use_graphs = self.device.type == "cuda" if graphs is None else graphs
        if use_graphs:
            if self.device.type != "cuda":
                raise ValueError("StaticDecoder: graphs=True needs a CUDA device")
            try:
                self._capture()
            except torch.OutOfMemoryError:
                del self.kv
                raise KVBudgetError(_budget_message(self.device, rows, columns, need)) from None

    @property
    def bytes(self) -> int:
        """Bytes held by the key/value tensor."""
        return self.kv.numel() * self.kv.element_size()

    @property
    def graphed(self) -> bool:
        return self._graph is not None

    def _logits(self, raw: torch.Tensor) -> torch.Tensor:
        return self.llm.server.without_undefined(raw if raw.dtype == torch.float64 else raw.float())

    def _step_body(self) -> Any:
        positions = self._position.expand(self.rows, 1)
        mask = (self._column_range <= self._position)[None, None, None, :]
        raw = self._forward(self._ids, positions, mask, self._writer, 1)[:, -1]
        return self.head(self._logits(raw))

    def _capture(self) -> None:
        with torch.inference_mode():
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up: lazy initialization and kernel selection happen outside the graph
                    self._step_body()
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._graph_out = self._step_body()
            self._graph = graph

    def prefill(self, prompt_ids: Sequence[int]) -> torch.Tensor:
        """Compute the prompt once into every row; the float32 logits after its last token ([vocabulary])."""
        length = len(prompt_ids)
        if not 0 < length < self.columns:
            raise ContextWindowError(f"StaticDecoder: a prompt of {length} tokens needs between 1 and {self.columns - 1}")
        with torch.inference_mode():
            ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=self.device)
            positions = torch.arange(length, device=self.device)[None, :]
            mask = torch.ones((length, length), dtype=torch.bool, device=self.device).tril()[None, None]
            raw = self._forward(ids, positions, mask, _PrefillWriter(self.kv, length), 1)[0, -1]
            return self._logits(raw)

    def step(self, token_ids: torch.Tensor, position: int) -> Any:
        """Feed token_ids[i] to row i at column `position`; `head` of the next-token logits."""
        if not 0 <= position < self.columns:
            raise ContextWindowError(f"StaticDecoder: position {position} is outside the {self.columns} columns")
        with torch.inference_mode():
            self._ids.copy_(token_ids.view(self.rows, 1))
            self._position.fill_(position)
            if self._graph is not None:
                self._graph.replay()
                return self._graph_out
            return self._step_body()

    def reorder(self, ancestors: torch.Tensor, length: int) -> None:
        """Row i becomes a copy of row ancestors[i] over the columns [0, length)."""
        with torch.inference_mode():
            used = self.kv[:, :, :, :, :length]
            used.copy_(used.index_select(2, ancestors))
