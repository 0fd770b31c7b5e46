"""Simulation-based calibration: a correct posterior sampler passes, deliberately wrong ones fail.

The model: mu ~ Normal(0, 1), y_1..y_4 ~ Normal(mu, 1); the posterior is Normal(sum y / 5, 1 / 5).
The uniformity test runs at a stated false-alarm rate ALPHA = 0.001: a calibrated sampler fails
with probability at most 0.001 per seed (the seeds are fixed, so the test is deterministic); the
threshold is ALPHA over the number of latents, not tuned to these seeds.
"""
import math

import numpy as np
import pytest

import inference
import ppl
from ppl import dist
from semantics import CheckFailed, check_calibration, posterior_draws, simulation_based_calibration

ALPHA = 1e-3
OBSERVATIONS = 4


def prior_predictive(rng):
    mu = rng.normal()
    return {"mu": mu}, rng.normal(mu, 1.0, size=OBSERVATIONS)


def gaussian_posterior(prior_sd=1.0, inflate=1.0):
    """Exact posterior draws of mu under a Normal(0, prior_sd) prior, with the sd multiplied by `inflate`."""
    def posterior(ys, rng):
        precision = 1 / prior_sd ** 2 + len(ys)
        return {"mu": rng.normal(ys.sum() / precision, inflate / math.sqrt(precision), size=19)}
    return posterior


def test_the_exact_posterior_is_calibrated():
    report = check_calibration(prior_predictive, gaussian_posterior(), simulations=200, draws=19, alpha=ALPHA, seed=0)
    assert report.bins == 20 and report.ranks.shape == (200, 1) and report.counts.sum() == 200
    assert report.threshold == ALPHA and report.p_values[0] >= ALPHA


@pytest.mark.parametrize("wrong, bulge", [
    (gaussian_posterior(inflate=2.0), "middle"),   # variance four times too large: ranks pile up in the middle
    (gaussian_posterior(inflate=0.5), "ends"),     # too small: ranks at both ends
    (gaussian_posterior(prior_sd=0.3), "ends"),    # a wrong (too narrow) prior: overconfident, shrunk posterior
])
def test_wrong_posteriors_fail(wrong, bulge):
    with pytest.raises(CheckFailed, match=r"(?s)not calibrated: SBC: 200 simulations.*'mu': chi2 = .* FAILS; bin counts \["):
        check_calibration(prior_predictive, wrong, simulations=200, draws=19, alpha=ALPHA, seed=0)
    report = simulation_based_calibration(prior_predictive, wrong, simulations=200, draws=19, alpha=ALPHA, seed=0)
    middle, ends = report.counts[0][5:15].sum(), report.counts[0][[0, 1, 18, 19]].sum()
    assert (middle > 100) if bulge == "middle" else (ends > 40)  # the side the error predicts (100 and 40 if uniform)


@ppl.gen
def normal_model(ys):
    mu = ppl.sample(dist.Normal(0.0, 1.0), "mu")
    for i, y in enumerate(ys):
        ppl.observe(dist.Normal(mu, 1.0), float(y), ("y", i))
    return mu


def test_importance_sampling_through_the_ppl_is_calibrated():
    """The posterior from inference.importance on the ppl program, resampled by weight (posterior_draws)."""
    def posterior(ys, rng):
        result = inference.importance(normal_model, ys, particles=60, rng=int(rng.integers(2 ** 31)))
        return posterior_draws(result, ["mu"], 9, rng)

    report = check_calibration(prior_predictive, posterior, simulations=40, draws=9, alpha=ALPHA, seed=1)
    assert report.bins == 5


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="must be at least 2 and divide draws \\+ 1 = 20"):
        simulation_based_calibration(prior_predictive, gaussian_posterior(), simulations=20, draws=19, bins=3)
    with pytest.raises(KeyError, match="no draws of 'mu'"):
        simulation_based_calibration(prior_predictive, lambda ys, rng: {"sigma": np.zeros(19)}, simulations=20)
    with pytest.raises(ValueError, match="fewer than draws=19"):
        simulation_based_calibration(prior_predictive, lambda ys, rng: {"mu": np.zeros(3)}, simulations=20)


def test_rank_histogram_plot(tmp_path):
    pytest.importorskip("matplotlib")
    report = simulation_based_calibration(prior_predictive, gaussian_posterior(), simulations=40, draws=19, seed=2)
    path = tmp_path / "ranks.png"
    report.plot(str(path))
    assert path.stat().st_size > 1000
