"""Log-space arithmetic on particle weights: totals, normalization, effective sample size.

Every function accepts -inf weights (dead particles) and never returns NaN: when all weights
are zero the normalized weights are all zero and the ESS is zero.
"""
from __future__ import annotations

import math

import numpy as np


def log_sum_exp(log_weights: np.ndarray) -> float:
    """log sum exp(log_weights); -inf for an empty or all -inf array."""
    array = np.asarray(log_weights, dtype=np.float64)
    if array.size == 0:
        return -math.inf
    top = float(array.max())
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.exp(array - top).sum()))


def log_mean_exp(log_weights: np.ndarray) -> float:
    """log of the mean weight: the log marginal-likelihood estimate of a properly weighted set."""
    array = np.asarray(log_weights, dtype=np.float64)
    return log_sum_exp(array) - math.log(array.size) if array.size else -math.inf


def normalized(log_weights: np.ndarray) -> np.ndarray:
    """Weights proportional to exp(log_weights), summing to 1, or all zeros if every weight is zero."""
    array = np.asarray(log_weights, dtype=np.float64)
    total = log_sum_exp(array)
    if total == -math.inf:
        return np.zeros(array.shape, dtype=np.float64)
    return np.exp(array - total)


def effective_sample_size(log_weights: np.ndarray) -> float:
    """1 / sum(w_i^2) for the normalized weights (0 when every weight is zero)."""
    w = normalized(log_weights)
    squares = float((w * w).sum())
    return 1.0 / squares if squares > 0 else 0.0


def check_log_weights(log_weights: np.ndarray, where: str) -> np.ndarray:
    """The weights as float64; ValueError naming the particle whose weight is NaN or +inf."""
    array = np.asarray(log_weights, dtype=np.float64)
    bad = np.flatnonzero(np.isnan(array) | (array == math.inf))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{where}: particle {i} has log weight {array[i]} (a factor of +inf or NaN, "
                         "or a twist of -inf that was removed again); weights must be finite or -inf")
    return array
