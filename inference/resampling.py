"""Resampling schemes, each drawing its randomness only through `rng.categorical`.

Every scheme returns the ancestor index of each of `n` offspring, and is unbiased: the
expected number of offspring of particle i is n * w_i. Because the only random draws are
categorical ones, the schemes run exactly under the enumerating rng:
  multinomial: n independent categorical draws.
  systematic:  one uniform u shifts the grid (u + k) / n; the ancestor vector is piecewise
               constant in u, so we compute the breakpoints in [0, 1) and draw the interval
               that u falls in with probability equal to its length.
  stratified:  one uniform per stratum [k/n, (k+1)/n); the ancestor in stratum k is drawn
               with probability n * (weight mass of each particle inside the stratum).
  residual:    floor(n w_i) deterministic copies, then multinomial draws on the residuals.
`keep_without_replacement` is Fearnhead and Clifford's (2003) optimal resampling, which keeps
at most n distinct particles (used by smc_steer).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from inference.arguments import check_particles, check_scheme


def probabilities(weights: Any) -> np.ndarray:
    """Non-negative finite weights with a positive sum, normalized; ValueError otherwise."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"resampling needs a non-empty vector of weights, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"resampling needs finite non-negative weights, got {w}")
    total = w.sum()
    if total <= 0:
        raise ValueError("resampling needs at least one positive weight (all particles have weight zero)")
    return w / total


def _cumulative(p: np.ndarray) -> np.ndarray:
    """Cumulative weights ending exactly at 1 from the last positive weight on."""
    c = np.cumsum(p)
    c[int(np.flatnonzero(p)[-1]):] = 1.0
    return c


def multinomial(rng: Any, weights: Any, n: int) -> np.ndarray:
    """`n` independent draws of an ancestor with probability w_i."""
    p = probabilities(weights)
    return np.array([rng.categorical(p) for _ in range(check_particles(n, "n"))], dtype=np.int64)


def systematic(rng: Any, weights: Any, n: int) -> np.ndarray:
    """Ancestors at positions (u + k) / n of the cumulative weights, u uniform on [0, 1)."""
    p = probabilities(weights)
    n = check_particles(n, "n")
    c = _cumulative(p)
    # Ancestor k changes where (u + k) / n crosses some c_i, i.e. at u = frac(n c_i).
    breaks = np.unique(np.concatenate([[0.0, 1.0], np.mod(n * c[:-1], 1.0)]))
    interval = rng.categorical(np.diff(breaks))
    u = 0.5 * (breaks[interval] + breaks[interval + 1])
    # (u + k) / n can round up to 1.0 when u lies in a sliver next to 1: that point belongs to the last positive weight.
    last = int(np.flatnonzero(p)[-1])
    return np.minimum(np.searchsorted(c, (u + np.arange(n)) / n, side="right"), last).astype(np.int64)


def stratified(rng: Any, weights: Any, n: int) -> np.ndarray:
    """One ancestor per stratum [k/n, (k+1)/n), drawn in proportion to the mass inside it."""
    p = probabilities(weights)
    n = check_particles(n, "n")
    upper = _cumulative(p)
    lower = np.concatenate([[0.0], upper[:-1]])
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        overlap = np.minimum(upper, (k + 1) / n) - np.maximum(lower, k / n)
        out[k] = rng.categorical(np.clip(overlap, 0.0, None))
    return out


def residual(rng: Any, weights: Any, n: int) -> np.ndarray:
    """floor(n w_i) copies of each particle, the remaining draws multinomial on n w_i - floor(n w_i)."""
    p = probabilities(weights)
    n = check_particles(n, "n")
    scaled = n * p
    copies = np.floor(scaled).astype(np.int64)
    remaining = n - int(copies.sum())
    rest = np.clip(scaled - copies, 0.0, None)
    drawn = [rng.categorical(rest) for _ in range(remaining)]
    return np.concatenate([np.repeat(np.arange(p.size), copies), np.array(drawn, dtype=np.int64)]).astype(np.int64)


_SCHEMES = {"multinomial": multinomial, "stratified": stratified, "systematic": systematic, "residual": residual}


def resample(rng: Any, weights: Any, n: int | None = None, scheme: str = "systematic") -> np.ndarray:
    """Ancestor indices of `n` offspring (default: as many as weights) under a named scheme."""
    check_scheme(scheme)
    return _SCHEMES[scheme](rng, weights, len(weights) if n is None else n)


def keep_without_replacement(rng: Any, weights: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `n` distinct indices and each one's inclusion probability (Fearnhead & Clifford 2003).

    Index i is kept with probability pi_i = min(1, c w_i), c chosen so that sum pi_i = n (all
    positive-weight indices are kept when there are at most n). Reweighting a kept index by
    1 / pi_i keeps the weighted set unbiased. The uncertain indices are chosen by systematic
    resampling on pi, which never picks one twice because each pi_i < 1.
    """
    p = probabilities(weights)
    n = check_particles(n, "n")
    positive = np.flatnonzero(p > 0)
    if positive.size <= n:
        return positive.astype(np.int64), np.ones(positive.size)
    order = positive[np.argsort(-p[positive], kind="stable")]
    sorted_p = p[order]
    tails = np.cumsum(sorted_p[::-1])[::-1]  # tails[k] = sum of sorted_p[k:]
    certain = n
    for k in range(n):
        if (n - k) * sorted_p[k] < tails[k]:  # c * p_k < 1 with c = (n - k) / tails[k]
            certain = k
            break
    kept = list(order[:certain])
    inclusion = [1.0] * certain
    draws = n - certain
    if draws > 0:
        uncertain = order[certain:]
        pi = sorted_p[certain:] * (draws / tails[certain])
        chosen = systematic(rng, pi, draws)
        pi_effective = draws * pi / pi.sum()
        kept.extend(uncertain[chosen])
        inclusion.extend(pi_effective[chosen])
    return np.array(kept, dtype=np.int64), np.array(inclusion, dtype=np.float64)
