"""McmcResult: samples by address, expectations, marginals, and the ArviZ export."""
from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import AddressError
from inference.chains import variable_name
from inference.kernel_combinators import cycle
from inference.kernels import gibbs, mh
from inference.mcmc import mcmc
from extras import require


@ppl.gen
def chain_model():
    previous = 0
    for t in range(2):
        previous = ppl.sample(dist.Bernoulli(0.3 + 0.4 * previous), ("steps", t, "x"))
    ppl.sample(dist.Choice(["red", "blue"]), "colour")
    ppl.sample(dist.Normal(0.0, 1.0), "noise")
    return previous


KERNEL = cycle(gibbs(("steps", 0, "x")), gibbs(("steps", 1, "x")), mh("colour"))


def run(**kwargs):
    return mcmc(chain_model, kernel=KERNEL, steps=40, chains=3, rng=7, constraints={"noise": 0.25}, **kwargs)


def test_samples_expectations_and_marginals():
    result = run()
    assert (result.chains, result.draws) == (3, 40)
    xs = result.samples(("steps", 1, "x"))
    assert xs.shape == (3, 40) and set(np.unique(xs)) <= {0, 1}
    assert result.expectation(lambda trace: trace.retval) == pytest.approx(xs.mean())
    marginal = result.marginal("colour")
    assert set(marginal) <= {"red", "blue"} and sum(marginal.values()) == pytest.approx(1.0)
    assert np.all(result.samples("noise") == 0.25)
    assert result.acceptance_rate.shape == (3,)
    assert np.array_equal(result.acceptance_rate, result.stats["accepted"].mean(axis=1))
    with pytest.raises(AddressError, match="draw 0 of chain 0 has no choice at address 'missing'"):
        result.samples("missing")


def test_same_seed_same_chains_and_burn_in_drops_the_start():
    a, b = run(), run()
    assert np.array_equal(a.samples(("steps", 0, "x")), b.samples(("steps", 0, "x")))
    assert a.marginal("colour") == b.marginal("colour")
    longer = run(burn_in=5)
    assert longer.draws == 40


def test_arviz_export_has_the_latent_numeric_choices_and_diagnostics():
    require("arviz", "mcmc")  # ESS/R-hat and summaries come from ArviZ
    result = run()
    assert result.latent == [("steps", 0, "x"), ("steps", 1, "x"), ("colour",)]
    data = result.to_arviz()
    # the constrained "noise" is evidence, the string-valued "colour" is not numeric
    assert set(data.posterior.data_vars) == {"steps[0].x", "steps[1].x"}
    assert data.posterior["steps[1].x"].shape == (3, 40)
    assert set(data.sample_stats.data_vars) == {"accepted", "lp"}
    scores = np.array([[t.score for t in chain] for chain in result.traces])
    assert np.array_equal(data.sample_stats["lp"].values, scores)
    summary = result.summary()
    assert {"mean", "ess_bulk", "r_hat"} <= set(summary.columns)
    assert np.isfinite(result.rhat(("steps", 0, "x"))) and result.ess(("steps", 0, "x")) > 0
    with pytest.raises(TypeError, match="not numeric"):
        result.to_arviz(addresses=["colour"])


def test_variable_names():
    assert variable_name(("mu",)) == "mu"
    assert variable_name(("alpha", 2)) == "alpha[2]"
    assert variable_name(("steps", 0, "x")) == "steps[0].x"


def test_a_kernel_may_return_a_bare_trace():
    def bare(rng, trace):
        return gibbs(("steps", 0, "x"))(rng, trace)[0]

    result = mcmc(chain_model, kernel=cycle(bare, mh("colour")), steps=30, rng=1, constraints={"noise": 0.0})
    moved = [a is not b for a, b in zip(result.traces[0][1:], result.traces[0][:-1])]
    assert np.array_equal(result.stats["accepted"][0, 1:], moved)
