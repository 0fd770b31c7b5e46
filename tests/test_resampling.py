"""Resampling schemes: exact unbiasedness by enumeration, and systematic/stratified against a fine grid over u."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from inference.resampling import keep_without_replacement, multinomial, resample, stratified, systematic
from semantics import explore

SCHEMES = ["multinomial", "stratified", "systematic", "residual"]

weight_vectors = st.lists(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), min_size=1, max_size=4).filter(lambda w: sum(w) > 0)


def offspring_distribution(scheme: str, weights: np.ndarray, n: int) -> dict:
    """Ancestor vector -> exact probability, by enumerating the scheme's categorical draws."""
    out: dict = {}
    for outcome in explore(lambda rng: tuple(resample(rng, weights, n, scheme).tolist())):
        out[outcome.value] = out.get(outcome.value, 0.0) + math.exp(outcome.log_prob)
    return out


@settings(max_examples=40, deadline=None)
@given(weights=weight_vectors, n=st.integers(1, 4), scheme=st.sampled_from(SCHEMES))
def test_every_scheme_is_unbiased_exactly(weights, n, scheme):
    w = np.array(weights) / sum(weights)
    distribution = offspring_distribution(scheme, w, n)
    assert abs(sum(distribution.values()) - 1.0) < 1e-12
    expected = np.zeros(len(w))
    for ancestors, p in distribution.items():
        assert len(ancestors) == n
        assert all(w[a] > 0 for a in ancestors), "a zero-weight particle got offspring"
        expected += p * np.bincount(ancestors, minlength=len(w))
    np.testing.assert_allclose(expected, n * w, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(weights=weight_vectors, n=st.integers(1, 4))
def test_systematic_counts_are_floor_or_ceil(weights, n):
    w = np.array(weights) / sum(weights)
    for ancestors in offspring_distribution("systematic", w, n):
        counts = np.bincount(ancestors, minlength=len(w))
        assert np.all(counts >= np.floor(n * w - 1e-9)) and np.all(counts <= np.ceil(n * w + 1e-9))


@settings(max_examples=25, deadline=None)
@given(weights=weight_vectors, n=st.integers(1, 4))
def test_residual_keeps_the_deterministic_copies(weights, n):
    w = np.array(weights) / sum(weights)
    for ancestors in offspring_distribution("residual", w, n):
        assert np.all(np.bincount(ancestors, minlength=len(w)) >= np.floor(n * w + 1e-12))


def test_multinomial_is_the_product_distribution():
    w = np.array([0.5, 0.2, 0.3])
    distribution = offspring_distribution("multinomial", w, 3)
    assert len(distribution) == 27
    for ancestors, p in distribution.items():
        assert abs(p - np.prod(w[list(ancestors)])) < 1e-12


def cumulative(w: np.ndarray) -> np.ndarray:
    """Cumulative weights, exactly 1 from the last positive weight on (so rounding never picks a trailing zero)."""
    c = np.cumsum(w)
    c[np.flatnonzero(w)[-1]:] = 1.0
    return c


def grid_systematic(w: np.ndarray, n: int, cells: int) -> dict:
    """The systematic ancestor vector at the midpoint of each of `cells` equal cells of u, by the textbook formula."""
    c = cumulative(w)
    u = (np.arange(cells)[:, None] + 0.5) / cells
    ancestors = np.minimum(np.searchsorted(c, ((u + np.arange(n)) / n).ravel(), side="right"), len(w) - 1).reshape(cells, n)
    rows, counts = np.unique(ancestors, axis=0, return_counts=True)
    return {tuple(r.tolist()): k / cells for r, k in zip(rows, counts)}


def test_systematic_equals_the_fine_grid_exactly_for_dyadic_weights():
    # Cumulative weights are multiples of 1/64, so every breakpoint frac(n c_i) lies on the 1/64 grid
    # and each of the 512 cells lies inside one interval: the grid distribution is exact.
    for masses, n in [([16, 0, 40, 8], 3), ([1, 62, 1], 4), ([64], 2), ([10, 20, 30, 4], 1)]:
        w = np.array(masses, dtype=float) / 64
        enumerated = offspring_distribution("systematic", w, n)
        grid = grid_systematic(w, n, 512)
        assert enumerated.keys() == grid.keys()
        for k in grid:
            assert abs(enumerated[k] - grid[k]) < 1e-12


@settings(max_examples=15, deadline=None)
@given(weights=weight_vectors, n=st.integers(1, 4))
def test_systematic_matches_a_fine_grid_for_random_weights(weights, n):
    w = np.array(weights) / sum(weights)
    cells = 20_000
    enumerated = offspring_distribution("systematic", w, n)
    grid = grid_systematic(w, n, cells)
    # Each interval of u between breakpoints holds its length * cells midpoints, give or take one.
    tolerance = 1.0 / cells + 1e-12
    for k in set(enumerated) | set(grid):
        assert abs(enumerated.get(k, 0.0) - grid.get(k, 0.0)) <= tolerance


@settings(max_examples=15, deadline=None)
@given(weights=weight_vectors, n=st.integers(1, 3))
def test_stratified_matches_a_fine_grid_per_stratum(weights, n):
    w = np.array(weights) / sum(weights)
    c = cumulative(w)
    cells = 20_000
    enumerated = offspring_distribution("stratified", w, n)
    # Strata are independent: the enumerated law must be the product of per-stratum grid laws.
    per_stratum = []
    for k in range(n):
        u = (k + (np.arange(cells) + 0.5) / cells) / n
        ancestors = np.minimum(np.searchsorted(c, u, side="right"), len(w) - 1)
        per_stratum.append(np.bincount(ancestors, minlength=len(w)) / cells)
    for ancestors in itertools.product(range(len(w)), repeat=n):
        grid = float(np.prod([per_stratum[k][a] for k, a in enumerate(ancestors)]))
        assert abs(enumerated.get(ancestors, 0.0) - grid) <= n * (1.0 / cells) + 1e-12


@settings(max_examples=30, deadline=None)
@given(weights=st.lists(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
       n=st.integers(1, 4))
def test_keep_without_replacement_is_unbiased_and_distinct(weights, n):
    w = np.array(weights) / sum(weights)
    expected = np.zeros(len(w))
    total = 0.0
    for outcome in explore(lambda rng: keep_without_replacement(rng, w, n)):
        kept, inclusion = outcome.value
        p = math.exp(outcome.log_prob)
        total += p
        assert len(kept) == min(n, int((w > 0).sum()))
        assert len(set(kept.tolist())) == len(kept), "an index was kept twice"
        assert np.all((inclusion > 0) & (inclusion <= 1 + 1e-12))
        for j, pi in zip(kept, inclusion):
            expected[j] += p / pi  # E[1{j kept} / pi_j] must be 1 for every positive-weight j
    assert abs(total - 1) < 1e-12
    np.testing.assert_allclose(expected, (w > 0).astype(float), rtol=0, atol=1e-9)


def test_seeded_schemes_return_valid_ancestors():
    from ppl import rng

    w = np.array([0.1, 0.0, 0.6, 0.3])
    for scheme in SCHEMES:
        ancestors = resample(rng(3), w, 1000, scheme)
        assert ancestors.shape == (1000,) and ancestors.dtype == np.int64
        assert not np.any(ancestors == 1)
        assert set(ancestors.tolist()) <= {0, 2, 3}


@pytest.mark.parametrize("bad, message", [
    (np.array([0.0, 0.0]), "positive weight"),
    (np.array([0.5, -0.1]), "non-negative"),
    (np.array([0.5, np.nan]), "finite"),
    (np.array([]), "non-empty"),
])
def test_bad_weights_are_named(bad, message):
    from ppl import rng

    for scheme in SCHEMES:
        with pytest.raises(ValueError, match=message):
            resample(rng(0), bad, 2, scheme)


def test_unknown_scheme_and_bad_counts():
    from ppl import rng

    with pytest.raises(ValueError, match="unknown resampling scheme 'nearest'.*systematic"):
        resample(rng(0), np.ones(3), 3, "nearest")
    with pytest.raises(ValueError, match="n must be >= 1"):
        systematic(rng(0), np.ones(3), 0)
    with pytest.raises(TypeError, match="n must be an int"):
        multinomial(rng(0), np.ones(3), 2.5)
    with pytest.raises(ValueError, match="n must be >= 1"):
        stratified(rng(0), np.ones(3), -1)
