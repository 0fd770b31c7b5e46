"""The modeling-language examples run and print the right answers."""
import math

import pytest

from examples import sprinkler


def test_sprinkler_example():
    result = sprinkler.main()
    z = 0.2 * (0.01 * 0.99 + 0.99 * 0.8) + 0.8 * 0.4 * 0.9
    assert result["log_z"] == pytest.approx(math.log(z), abs=1e-12)
    assert result["p_rain"] == pytest.approx(0.2 * (0.01 * 0.99 + 0.99 * 0.8) / z, abs=1e-12)
