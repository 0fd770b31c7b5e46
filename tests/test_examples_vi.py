"""The VI example runs (briefly), jitted, and its fit climbs the ELBO."""
import numpy as np

from examples import hierarchical_regression_vi as example


def test_hierarchical_regression_vi_example(capsys):
    out = example.main(steps=300)
    result = out["result"]
    assert result.jitted
    assert result.history.shape == (300,) and np.all(np.isfinite(result.history))
    late = result.history[-50:]
    # The climb dwarfs the noise of the ELBO estimates (5 sample sds of the late estimates).
    assert late.mean() - result.history[0] > 5 * late.std(ddof=1)
    printed = capsys.readouterr().out
    for name in ("mu", "tau", "beta", "sigma", "alpha[3]"):
        assert name in printed
    for name, (mean, sd) in out["summary"].items():
        assert np.all(np.isfinite(mean)) and np.all(sd > 0), name
