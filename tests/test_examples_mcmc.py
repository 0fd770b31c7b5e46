"""The MCMC example runs: hierarchical regression with NUTS recovers the parameters it was drawn from."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from inference.jax_density import traced_parameters_supported
from extras import require


@pytest.mark.skipif(not traced_parameters_supported(), reason="needs the ppl hook for traced parameters (docs/mcmc.md)")
def test_hierarchical_regression_nuts_example():
    require("arviz", "mcmc")  # ESS/R-hat and summaries come from ArviZ
    from examples import hierarchical_regression_nuts as example

    out = example.main()
    summary, result, data = out["summary"], out["result"], out["data"]
    assert list(summary.index) == ["mu", "tau", "beta", "sigma", "z[0]", "z[1]", "z[2]", "z[3]"]
    assert np.all(np.isfinite(summary["r_hat"])) and np.all(summary["ess_bulk"] > 0)
    assert result.stats["diverging"].sum() == 0
    idata = out["idata"]                                      # the ArviZ export the summary came from
    assert {"mu", "tau", "beta", "sigma", "z"} <= set(idata.posterior.data_vars)
    assert idata.posterior["beta"].shape == result.samples("beta").shape
    # The truth lies within the posterior's bulk: a 1e-3 two-sided z-score bound per quantity.
    z = stats.norm.isf(1e-3 / 2)
    truths = {"beta": example.TRUTH["beta"], "sigma": example.TRUTH["sigma"]}
    for name, truth in truths.items():
        draws = result.samples(name)
        assert abs(draws.mean() - truth) < z * draws.std(), name
    for g in range(example.GROUPS):
        draws = out["alpha"][..., g]
        assert abs(draws.mean() - data["alpha"][g]) < z * draws.std(), g
