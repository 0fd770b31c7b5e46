"""Fixed-shape decode batches (lm/serving/decode_graphs.py) serve the same distributions as the plain path.

On CPU the padded, fixed-shape step runs eagerly (what a CUDA graph records); on CUDA the graphs
themselves are checked. Padding rows must leave the sequences their rows hold intact, which the
recomputation-free comparison below would expose (a corrupted row changes later distributions).
"""
import numpy as np
import pytest
import torch

import lm
from lm.serving.decode_graphs import DecodeGraphs, bucket


def _decode(llm, particles: int, steps: int, seed: int) -> list[np.ndarray]:
    """Log-probabilities served to N contexts stepping together, resampled by a fixed random pattern."""
    g = np.random.default_rng(seed)
    contexts = [llm.context("Once upon a time") for _ in range(particles)]
    served = []
    for _ in range(steps):
        dists = [c.next_token() for c in contexts]
        pendings = [p for p in (d.pending() for d in dists) if p is not None]
        if pendings:
            llm.server.serve(pendings)
        for c in contexts:
            lp = c.logprobs()
            served.append(lp)
            p = np.exp(lp)
            c.extend(int(g.choice(len(p), p=p / p.sum())))
        ancestors = g.integers(0, particles, particles)
        contexts = [contexts[a].clone() for a in ancestors]
    return served


def test_bucket_sizes():
    assert [bucket(n) for n in (1, 2, 3, 5, 8, 9, 64, 65)] == [1, 2, 4, 8, 8, 16, 64, 128]


@pytest.mark.parametrize("particles", [5, 7])
def test_fixed_shapes_match_the_plain_path(particles):
    plain = lm.load("builtin", dtype="float64")
    fixed = lm.load("builtin", dtype="float64")
    fixed.server.fixed_shapes(True, graphs=False)
    a = _decode(plain, particles, 24, seed=particles)
    b = _decode(fixed, particles, 24, seed=particles)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.isfinite(x), np.isfinite(y))
        finite = np.isfinite(x)
        np.testing.assert_allclose(x[finite], y[finite], rtol=0, atol=1e-9)
    assert fixed.server.decode_graphs.replays == 0 and fixed.server.decode_graphs.padded_rows > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_cuda_graphs_match_eager_decoding():
    eager = lm.load("builtin", device="cuda", dtype="float32")
    eager.server.fixed_shapes(False)
    graphed = lm.load("builtin", device="cuda", dtype="float32")
    assert isinstance(graphed.server.decode_graphs, DecodeGraphs)
    a = _decode(eager, 6, 40, seed=1)
    b = _decode(graphed, 6, 40, seed=1)
    for x, y in zip(a, b):
        finite = np.isfinite(x)
        np.testing.assert_allclose(x[finite], y[finite], rtol=0, atol=1e-4)
    assert graphed.server.decode_graphs.replays > 0
