"""Random-walk Metropolis-Hastings (custom proposals) on continuous conjugate models.

Exactness is impossible with continuous choices, so posterior means are compared with the
known conjugate values within z * sd / sqrt(ESS), ESS from ArviZ, z for a 1e-3 false-alarm
rate over both checks (fixed seed). The Gamma latent's random walk proposes negative values,
which must be rejected (density zero), not crash.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

import ppl
from ppl import dist
from inference.kernel_combinators import cycle
from inference.kernels import mh_proposal
from inference.mcmc import mcmc
from extras import require

Y = np.array([0.9, 2.2, 1.4, 0.3, 1.8])
COUNTS = np.array([2, 0, 3, 1])


@ppl.gen
def normal_and_poisson(y, counts):
    mu = ppl.sample(dist.Normal(0.0, 1.5), "mu")
    ppl.observe(dist.Normal(mu, 1.0), y, "y")
    lam = ppl.sample(dist.Gamma(2.0, 1.0), "lam")
    ppl.observe(dist.Poisson(lam), counts, "counts")


def random_walk(address: str, step: float):
    @ppl.gen
    def propose(trace):
        ppl.sample(dist.Normal(trace.choices[address], step), address)
    return propose


def test_random_walk_mh_recovers_conjugate_posterior_means():
    require("arviz", "mcmc")  # ESS/R-hat and summaries come from ArviZ
    precision = 1 / 1.5 ** 2 + len(Y)
    truth = {"mu": stats.norm(Y.sum() / precision, precision ** -0.5),
             "lam": stats.gamma(2.0 + COUNTS.sum(), scale=1 / (1.0 + len(COUNTS)))}
    kernel = cycle(mh_proposal(random_walk("mu", 0.8)), mh_proposal(random_walk("lam", 1.0)))
    result = mcmc(normal_and_poisson, Y, COUNTS, kernel=kernel, steps=1500, burn_in=100, chains=2, rng=2)
    assert result.latent == [("mu",), ("lam",)]
    rates = result.acceptance_rate
    assert np.all((rates > 0) & (rates < 1))
    z = stats.norm.isf(1e-3 / (2 * len(truth)))
    for address, posterior in truth.items():
        ess = float(result.ess(address))
        assert ess > 50, (address, ess)
        estimate = result.samples(address).mean()
        assert abs(estimate - posterior.mean()) < z * posterior.std() / np.sqrt(ess), (address, estimate, posterior.mean())
