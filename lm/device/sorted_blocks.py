"""Next-token probabilities of a batch, sorted on the device and brought to the host a block at a time.

AWRS (inference/awrs.py) draws tokens without replacement through blocks: a block by its mass,
then a token inside it. Sorting each row by probability on the device and cutting it into
blocks of `block_size` makes the first block hold most of the mass, so a typical draw touches
only that block: the host receives, per step, every row's block masses and first block in one
transfer, and any deeper block (or, for the exact mask fallback, the whole row in token order)
only when a draw reaches it. The first transfer carries the first HEAD_BLOCKS blocks of every row:
under a constraint the most probable tokens are often the rejected ones, and one transfer of a few
kB per row costs less than a device round trip per deeper block. The blocking is a partition of the vocabulary, so the law of the
draws is unchanged.
"""
from __future__ import annotations

import math

import numpy as np
import torch

HEAD_BLOCKS = 4  # blocks of every row that reach the host with the first transfer


class SortedBatch:
    """[rows, vocabulary] float64 probabilities on the device, sorted per row, with host copies of the masses and the head blocks."""

    def __init__(self, probs: torch.Tensor, block_size: int | None = None):
        rows, width = probs.shape
        self.block_size = block_size or max(64, math.isqrt(width - 1) + 1)
        blocks = -(-width // self.block_size)
        self.probs = probs
        with torch.inference_mode():
            values, order = probs.sort(dim=-1, descending=True)
            padded = torch.nn.functional.pad(values, (0, blocks * self.block_size - width))
            masses = padded.view(rows, blocks, self.block_size).sum(-1)
            self.head_blocks = min(blocks, HEAD_BLOCKS)
            first = min(self.head_blocks * self.block_size, width)
            head = torch.cat([masses, values[:, :first], order[:, :first].double()], dim=1).cpu().numpy()
        self.values, self.order = values, order
        self.masses = head[:, :blocks]
        self.first_values = head[:, blocks:blocks + first]
        self.first_ids = head[:, blocks + first:].astype(np.int64)

    def row(self, i: int) -> "SortedRow":
        return SortedRow(self, i)


class SortedRow:
    """One row of a SortedBatch in the blocks protocol of `inference.awrs` (masses, block(b), full())."""

    def __init__(self, batch: SortedBatch, i: int):
        self.batch, self.i = batch, i
        self.masses = batch.masses[i]

    def block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        batch = self.batch
        start, stop = b * batch.block_size, (b + 1) * batch.block_size
        if b < batch.head_blocks:
            return batch.first_values[self.i, start:stop].copy(), batch.first_ids[self.i, start:stop]
        with torch.inference_mode():
            values = batch.values[self.i, start:stop].cpu().numpy().copy()
            ids = batch.order[self.i, start:stop].cpu().numpy()
        return values, ids

    def full(self) -> np.ndarray:
        with torch.inference_mode():
            return self.batch.probs[self.i].cpu().numpy()
