"""The transformers `Cache` the model writes into during one batched forward pass over pool rows.

The batch occupies the pool rows [start, start + n). Each attention layer hands its new keys and
values to `update`, which writes them at each row's own positions and returns views of the rows
up to `kv_length` (no copy); the 4-D attention mask passed with the forward hides the positions
a row does not have.
"""
from __future__ import annotations

import torch
from transformers.cache_utils import Cache

from lm.serving.kv_pool import KVPool, LayerShape


class PoolCache(Cache):
    """Writes a forward pass's keys/values into pool rows; attention reads the rows in place."""

    def __init__(self, pool: KVPool, start: int, count: int, write_columns: torch.Tensor, kv_length: int,
                 uniform_column: int | None):
        super().__init__(layers=[])
        self.pool, self.start, self.count = pool, start, count
        self.write_columns = write_columns          # [n, S] positions written by each row's inputs
        self.kv_length = kv_length
        self.uniform_column = uniform_column        # set when every row writes the same positions
        self._rows = torch.arange(count, device=write_columns.device)[:, None]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        return self.write(layer_idx, key_states, value_states)

    def write(self, layer_idx: int, key_states: torch.Tensor, value_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one layer's new keys/values ([n, heads, S, head_dim]) in the rows; views of the rows up to kv_length."""
        keys = self.pool.keys[layer_idx][self.start:self.start + self.count]
        values = self.pool.values[layer_idx][self.start:self.start + self.count]
        if self.uniform_column is not None:
            c, s = self.uniform_column, key_states.shape[2]
            keys[:, :, c:c + s] = key_states
            values[:, :, c:c + s] = value_states
        else:
            keys[self._rows, :, self.write_columns] = key_states.transpose(1, 2)
            values[self._rows, :, self.write_columns] = value_states.transpose(1, 2)
        return keys[:, :, :self.kv_length], values[:, :, :self.kv_length]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return int(self.write_columns.min())


class ShapeProbe(Cache):
    """Records each layer's key/value shape during a one-token forward pass (used once at load)."""

    def __init__(self):
        super().__init__(layers=[])
        self.shapes: dict[int, LayerShape] = {}
        self.dtype = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        if key_states.shape != value_states.shape:
            raise ValueError(f"layer {layer_idx}: key shape {tuple(key_states.shape)} differs from value shape {tuple(value_states.shape)}")
        self.shapes[layer_idx] = LayerShape(int(key_states.shape[1]), int(key_states.shape[3]))
        self.dtype = key_states.dtype
        return key_states, value_states

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0
