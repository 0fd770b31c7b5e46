"""Adaptive weighted rejection sampling (AWRS) over a categorical of tokens.

Anchor: Lipkin et al., 2025, "Fast Controlled Generation from Language Models with Adaptive
Weighted Rejection Sampling". We sample from the locally constrained distribution
p(x) c(x) / Z by drawing tokens from p *without replacement* and testing only those, and
return with the token an unbiased estimate of Z that SMC uses as the incremental weight.

The estimator is our derivation (Des Raj's estimator for successive sampling). Let v_1, v_2,
... be the draws without replacement, M_{j-1} the probability mass drawn before draw j and
S_{j-1} the accepted mass among those draws. Then

    t_j = S_{j-1} + c(v_j) (1 - M_{j-1})

satisfies E[t_j | draws before j] = Z, because v_j is drawn from p restricted to the
undrawn tokens, whose accepted mass is Z - S_{j-1}. Hence t_T is unbiased for any T fixed
before draw T is made. With K the index of the first accepted draw (the returned token x),
we use the mean of t_{K+1}, ..., t_{K+L}: each is conditionally unbiased given x, so
E[Z_hat | x] = Z and the pair (x, Z_hat) is properly weighted for p c. L = 1 costs one extra
constraint evaluation per token.

With a cap C on rejections, if the first C draws are all rejected we draw v_{C+1} without
testing-before-choosing, return it with weight t_{C+1} = c(v_{C+1}) (1 - M_C): the mixture of
the two cases is still properly weighted (a rejected v_{C+1} just has weight 0).

Every random decision is a call to `rng.categorical`, so the sampler can be run under the
enumerating rng and checked exactly (tests/test_awrs_exact.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class TokenDraw:
    """A token from the locally constrained distribution and its properly weighted log Z estimate.

    `token` is None when no token can be accepted (Z = 0): then `log_weight` is -inf.
    """

    token: int | None
    log_weight: float
    evaluations: int
    rejections: int


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """A float64 softmax that keeps tiny probabilities (near-deterministic LMs stay exact)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()


def awrs(rng: Any, probs: np.ndarray, accepts: Callable[[int], bool], *, extra_draws: int = 1,
         max_rejections: int | None = None) -> TokenDraw:
    """Sample x ~ p(x)c(x)/Z without testing the whole vocabulary; return x and log Z_hat.

    `probs` are the LM's next-token probabilities (float64, summing to 1); `accepts(i)` is the
    constraint's test of token i. `extra_draws` (L >= 1) continuation draws estimate Z;
    `max_rejections` caps the rejection loop (None: no cap) and keeps the weights proper.
    """
    if extra_draws < 1:
        raise ValueError(f"extra_draws must be >= 1, got {extra_draws}")
    if max_rejections is not None and max_rejections < 0:
        raise ValueError(f"max_rejections must be >= 0 or None, got {max_rejections}")
    remaining = np.array(probs, dtype=np.float64)
    known: dict[int, bool] = {}
    accepted_mass = 0.0
    evaluations = 0

    def test(token: int) -> bool:
        nonlocal evaluations
        if token not in known:
            known[token] = bool(accepts(token))
            evaluations += 1
        return known[token]

    def draw() -> tuple[int, float]:
        """A draw from p restricted to the undrawn tokens; returns it and the undrawn mass before it."""
        undrawn = float(remaining.sum())  # summed directly, not 1 - drawn: no cancellation near 0
        token = rng.categorical(remaining)
        remaining[token] = 0.0
        return token, undrawn

    rejections = 0
    while True:
        if not remaining.any():
            return TokenDraw(None, -math.inf, evaluations, rejections)
        if max_rejections is not None and rejections >= max_rejections:
            token, undrawn = draw()
            weight = undrawn if test(token) else 0.0
            return TokenDraw(token if weight > 0 else None, _log(weight), evaluations, rejections)
        token, undrawn = draw()
        mass = float(probs[token])
        if test(token):
            accepted_mass += mass
            break
        rejections += 1

    chosen = token
    estimates = []
    for _ in range(extra_draws):
        if not remaining.any():  # everything drawn: Z is known exactly
            estimates.append(accepted_mass)
            continue
        token, undrawn = draw()
        ok = test(token)
        estimates.append(accepted_mass + (undrawn if ok else 0.0))
        if ok:
            accepted_mass += float(probs[token])
    return TokenDraw(chosen, _log(float(np.mean(estimates))), evaluations, rejections)


def masked_sample(rng: Any, probs: np.ndarray, mask: np.ndarray) -> TokenDraw:
    """Locally constrained decoding: sample from p restricted to `mask`; the weight is Z exactly."""
    constrained = np.where(mask, np.asarray(probs, dtype=np.float64), 0.0)
    z = float(constrained.sum())
    if z <= 0.0:
        return TokenDraw(None, -math.inf, int(len(mask)), 0)
    return TokenDraw(rng.categorical(constrained), math.log(z), int(len(mask)), 0)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf
