"""SMC with a continuous latent, where enumeration is impossible: the mean of independent
marginal-likelihood estimates must lie within an empirical-Bernstein bound of the exact Z.

Empirical Bernstein (Maurer & Pontil 2009, Thm 4): for R iid draws in an interval of length b,
with probability at least 1 - delta, |mean - E| <= sqrt(2 V ln(4/delta) / R) + 7 b ln(4/delta) / (3 (R - 1)),
V the sample variance. Seeds are fixed; delta = 1e-6 per check.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

import ppl
from inference.smc_engine.smc import smc
from ppl import dist

DELTA = 1e-6
STEPS = 4
FLOOR = 0.3
PRIOR = dist.Beta(2.0, 2.0)


class LeaningCoin(ppl.Model):
    """theta ~ Beta(2, 2); at each of STEPS steps a success of Bernoulli(FLOOR + (1 - FLOOR) theta) is observed.
    Twisted: the twist looks ahead, at half strength, to the successes still to come."""

    def __init__(self, twisted: bool):
        super().__init__()
        self.twisted = twisted
        self.theta = None

    def step(self) -> None:
        t = self.step_index
        if t == 0:
            self.theta = self.sample(PRIOR, "theta")
        log_g = math.log(FLOOR + (1 - FLOOR) * self.theta)
        self.factor(log_g)
        if self.twisted:
            self.twist(0.5 * (STEPS - 1 - t) * log_g)
        if t + 1 == STEPS:
            self.finish()


def exact_z() -> float:
    value, _ = integrate.quad(lambda th: stats.beta(2, 2).pdf(th) * (FLOOR + (1 - FLOOR) * th) ** STEPS, 0, 1, epsabs=1e-13)
    return value


def empirical_bernstein(samples: np.ndarray, width: float) -> float:
    r = len(samples)
    log_term = math.log(4 / DELTA)
    return math.sqrt(2 * samples.var(ddof=1) * log_term / r) + 7 * width * log_term / (3 * (r - 1))


@pytest.mark.parametrize("twisted, scheme, threshold", [(False, "systematic", 0.9), (True, "multinomial", 1.0),
                                                         (False, "residual", 1.0)])
def test_smc_estimates_are_unbiased_with_a_continuous_latent(twisted, scheme, threshold):
    runs = 600
    results = [smc(LeaningCoin(twisted), particles=6, ess_threshold=threshold, resampling=scheme, rng=seed) for seed in range(runs)]
    assert sum(info.resampled for r in results for info in r.steps) >= runs // 10  # resampling is exercised
    z_hats = np.array([math.exp(r.log_ml) for r in results])
    # Each incremental weight (twist ratios included) is g^e with 0 <= e and total exponent STEPS over the run,
    # g in [FLOOR, 1]: every estimate lies in [FLOOR^STEPS, 1].
    assert np.all((z_hats >= FLOOR ** STEPS - 1e-12) & (z_hats <= 1 + 1e-12))
    assert abs(z_hats.mean() - exact_z()) <= empirical_bernstein(z_hats, 1 - FLOOR ** STEPS)
