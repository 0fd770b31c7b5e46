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


def test_rows_equal_compares_every_bit_of_the_probabilities():
    probs = torch.softmax(torch.randn(2, 300, generator=torch.Generator().manual_seed(3), dtype=torch.float64), -1)
    rows = torch.cat([probs, probs[:1], probs[:1].clone()])
    rows[3, 299] = torch.nextafter(rows[3, 299], torch.tensor(1.0, dtype=torch.float64))  # one ulp off, at the tail
    batch = SortedBatch(rows)
    assert batch.rows_equal(0, [0, 1, 2, 3]).tolist() == [True, False, True, False]


def test_copies_switched_to_the_mask_draw_p_c_over_z_with_weight_z():
    """lm.generation.device_generation._CopyGroups: after the first copy's AWRS rejected enough, the copies whose row
    equals the first's bit for bit draw from p restricted to the mask (law p c / Z exactly, weight Z); a copy whose
    row differs keeps its own AWRS; one mask serves the group."""
    import math

    import semantics
    from inference.awrs import TokenDraw
    from lm.generation import device_generation

    probs = torch.softmax(torch.randn(1, 300, generator=torch.Generator().manual_seed(5), dtype=torch.float64), -1)
    rows = probs.repeat(4, 1)
    rows[3, 7] *= 1 + 1e-15
    batch = SortedBatch(rows)
    allowed = np.zeros(300, dtype=bool)
    allowed[[0, 7, 42, 299]] = True
    masks = []

    class Shared:
        def mask(self, state):
            return lambda: masks.append(state) or (allowed.copy(), 11)

    state = object()
    groups = device_generation._CopyGroups([state] * 4, np.zeros(4, dtype=bool), batch, Shared())
    groups.note(0, TokenDraw(42, 0.0, 9, rejections=device_generation.GROUP_SAVED_DRAWS, masked=False))
    assert groups.draw(3, state, None) is None  # its row differs in one bit: AWRS
    p = probs[0].numpy()
    z = p[allowed].sum()
    law = np.zeros(300)
    for outcome in semantics.explore(lambda rng: groups.draw(1, state, rng)):
        draw = outcome.value
        assert draw.masked and draw.log_weight == pytest.approx(math.log(z), rel=1e-12)
        law[draw.token] += math.exp(outcome.log_prob)
    np.testing.assert_allclose(law, np.where(allowed, p, 0.0) / z, rtol=1e-9, atol=1e-15)
    assert groups.draw(2, state, __import__("ppl").rng(0)).token in {0, 7, 42, 299}
    assert len(masks) == 1
