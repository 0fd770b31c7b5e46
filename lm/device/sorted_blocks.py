"""Next-token probabilities of a batch, sorted on the device and brought to the host a block at a time.

AWRS (inference/awrs.py) draws tokens without replacement through blocks: a block by its mass,
then a token inside it. Sorting each row by probability on the device and cutting it into
blocks of `block_size` makes the first block hold most of the mass, so a typical draw touches
only that block: the host receives, per step, every row's block masses and first block in one
transfer, and any deeper block (or, for the exact mask fallback, the whole row in token order)
only when a draw reaches it. The first transfer carries the first HEAD_BLOCKS blocks of every row:
under a constraint the most probable tokens are often the rejected ones, and one transfer of a few
kB per row costs less than a device round trip per deeper block. Deeper blocks come by *tiers* of
doubling depth (blocks [4, 8), [8, 16), [16, 32), ... with HEAD_BLOCKS = 4), a tier of one row in
one transfer (probabilities and token ids together) when a draw first reaches one of its blocks:
a row that goes past the head under a rejecting constraint usually touches several deeper blocks
(measured on SmolLM2 with a JSON schema: blocks 4 to 196), so a round trip per tier instead of two
per block, and at most twice the bytes of the deepest block reached. The blocking is a partition of
the vocabulary and only where its numbers are copied from changes, so the law of the draws is unchanged.
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
        self.probs, self.width = probs, width
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

    def rows_equal(self, first: int, rows: list[int]) -> np.ndarray:
        """Whether each of `rows` has exactly (bit for bit) the probabilities of row `first`: one transfer."""
        with torch.inference_mode():
            index = torch.as_tensor(rows, device=self.probs.device)
            return (self.probs[index] == self.probs[first]).all(dim=1).cpu().numpy()

    def row(self, i: int) -> "SortedRow":
        return SortedRow(self, i)


class SortedRow:
    """One row of a SortedBatch in the blocks protocol of `inference.awrs` (masses, block(b), full())."""

    def __init__(self, batch: SortedBatch, i: int):
        self.batch, self.i = batch, i
        self.masses = batch.masses[i]
        self._tiers: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # tier -> (first block, values, ids)

    def block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Block b's probabilities (a copy: AWRS zeroes drawn ones) and token ids, in descending order."""
        batch = self.batch
        size = batch.block_size
        if b < batch.head_blocks:
            start = b * size
            return batch.first_values[self.i, start:start + size].copy(), batch.first_ids[self.i, start:start + size]
        first, values, ids = self._tier(tier_of(b, batch.head_blocks))
        start = (b - first) * size
        return values[start:start + size].copy(), ids[start:start + size]

    def _tier(self, tier: int) -> tuple[int, np.ndarray, np.ndarray]:
        """The blocks of `tier` in this row, fetched in one transfer on first use."""
        known = self._tiers.get(tier)
        if known is None:
            batch = self.batch
            first, stop = tier_blocks(tier, batch.head_blocks, len(self.masses))
            start, end = first * batch.block_size, min(stop * batch.block_size, batch.width)
            with torch.inference_mode():
                both = torch.cat([batch.values[self.i, start:end], batch.order[self.i, start:end].double()]).cpu().numpy()
            width = end - start
            known = self._tiers[tier] = (first, both[:width], both[width:].astype(np.int64))
        return known

    def full(self) -> np.ndarray:
        with torch.inference_mode():
            return self.batch.probs[self.i].cpu().numpy()


def tier_of(block: int, head_blocks: int) -> int:
    """The tier of a block past the head: 1 for [head, 2 head), 2 for [2 head, 4 head), ..."""
    return (block // head_blocks).bit_length()


def tier_blocks(tier: int, head_blocks: int, blocks: int) -> tuple[int, int]:
    """The blocks [first, stop) of `tier` in a row of `blocks` blocks."""
    first = head_blocks << (tier - 1)
    return first, min(2 * first, blocks)
