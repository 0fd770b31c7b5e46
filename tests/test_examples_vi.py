"""The VI example runs (briefly), jitted, its fit climbs the ELBO, and its guide exports to ArviZ."""
import contextlib
import io

import numpy as np
import pytest

from examples import hierarchical_regression_vi as example


@pytest.fixture(scope="module")
def run():
    """One brief fit, shared by the tests below (the jit compilation dominates its cost)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        out = example.main(steps=300)
    return {**out, "printed": printed.getvalue()}


def test_hierarchical_regression_vi_example(run):
    result = run["result"]
    assert result.jitted
    assert result.history.shape == (300,) and np.all(np.isfinite(result.history))
    late = result.history[-50:]
    # The climb dwarfs the noise of the ELBO estimates (5 sample sds of the late estimates).
    assert late.mean() - result.history[0] > 5 * late.std(ddof=1)
    for name, (mean, sd) in run["summary"].items():
        assert np.all(np.isfinite(mean)) and np.all(sd > 0), name


def test_the_example_prints_its_fit(run):
    for name in ("mu", "tau", "beta", "sigma", "alpha[3]"):
        assert name in run["printed"]


def test_the_guide_exports_to_arviz(run):
    from extras import require

    require("arviz", "mcmc")
    idata = run["idata"]
    assert set(idata.posterior.data_vars) == {"mu", "tau", "beta", "sigma", "z"}
    assert idata.posterior["z"].shape == (1, 1000, example.GROUPS)
    assert float(idata.posterior["tau"].min()) > 0 and float(idata.posterior["sigma"].min()) > 0   # LogNormal guide
    # The draws are the guide's: their means lie within 5 standard errors of the guide's means.
    for name in ("mu", "beta", "tau", "sigma"):
        mean, sd = run["summary"][name]
        draws = run["idata"].posterior[name].values.ravel()
        assert abs(draws.mean() - float(mean)) < 5 * float(sd) / draws.size ** 0.5, name
