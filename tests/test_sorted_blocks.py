"""SortedBatch: every block, head or deeper, is the row's probabilities in descending order, cut at block_size."""
import numpy as np
import pytest
import torch

from lm.device.sorted_blocks import HEAD_BLOCKS, SortedBatch


@pytest.mark.parametrize("width", [50, 700, 5001])
def test_blocks_partition_the_sorted_row(width):
    generator = torch.Generator().manual_seed(width)
    probs = torch.softmax(torch.randn(3, width, generator=generator, dtype=torch.float64) * 3, dim=-1)
    batch = SortedBatch(probs)
    blocks = -(-width // batch.block_size)
    assert batch.head_blocks == min(blocks, HEAD_BLOCKS)
    for i in range(3):
        row = batch.row(i)
        pieces = [row.block(b) for b in range(blocks)]
        values = np.concatenate([v for v, _ in pieces])
        ids = np.concatenate([t for _, t in pieces])
        assert sorted(ids.tolist()) == list(range(width))  # a partition of the vocabulary
        np.testing.assert_array_equal(values, probs[i].numpy()[ids])
        assert np.all(np.diff(values) <= 0)
        np.testing.assert_allclose(row.masses, [v.sum() for v, _ in pieces], rtol=1e-12)
        np.testing.assert_array_equal(row.full(), probs[i].numpy())


def test_deeper_blocks_come_one_transfer_per_tier(monkeypatch):
    """Reading every block of a row past the head costs one device->host copy per tier of doubling depth,
    not two per block (probabilities and ids travel together)."""
    probs = torch.softmax(torch.randn(2, 5001, generator=torch.Generator().manual_seed(1), dtype=torch.float64), -1)
    batch = SortedBatch(probs, block_size=50)  # 101 blocks: head [0, 4), tiers [4, 8), [8, 16), ..., [64, 101)
    copies = []
    cpu = torch.Tensor.cpu
    monkeypatch.setattr(torch.Tensor, "cpu", lambda self, *a, **k: copies.append(self.numel()) or cpu(self, *a, **k))
    row = batch.row(1)
    pieces = [row.block(b) for b in range(101)] + [row.block(b) for b in (90, 5, 40)]  # again: no new copy
    assert len(copies) == 5  # tiers 1..5
    assert sum(copies) == 2 * (5001 - HEAD_BLOCKS * 50)  # each deeper token's probability and id, once
    np.testing.assert_array_equal(np.concatenate([v for v, _ in pieces[:101]]), probs[1].sort(descending=True).values.numpy())
