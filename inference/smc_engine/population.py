"""The resampling step every SMC variant shares: when to resample, and the reset weights."""
from __future__ import annotations

from typing import Any

import numpy as np

from inference.resampling import resample
from inference.weighting import effective_sample_size, log_mean_exp, normalized


def should_resample(log_weights: np.ndarray, threshold: float) -> tuple[float, bool]:
    """The ESS, and whether it calls for resampling: ESS <= threshold * N (never at 0, always at 1)."""
    ess = effective_sample_size(log_weights)
    if threshold <= 0.0:
        return ess, False
    return ess, threshold >= 1.0 or ess <= threshold * len(log_weights)


def resample_population(rng: Any, log_weights: np.ndarray, scheme: str) -> tuple[np.ndarray, float]:
    """Ancestors of a new population and the log weight each offspring gets (the log mean weight).

    Giving every offspring the mean weight keeps the population properly weighted with the
    same marginal-likelihood estimate, so the final estimate is the final mean weight however
    often (and whenever) the population was resampled.
    """
    ancestors = resample(rng, normalized(log_weights), len(log_weights), scheme)
    return ancestors, log_mean_exp(log_weights)
