"""One constrained token choice, shared by the general (ppl.Model) and the device generation paths.

`accepts_token` is the constraint's test of one token id (EOS: the text is complete; special
tokens never); `draw_token` draws the next token with the chosen sampler from the LM's
(tempered) next-token probabilities, given as an array or as blocks (`inference.awrs`):
* "awrs": adaptive weighted rejection sampling, with the exact trie-mask fallback after
  `awrs_budget` rejections; weight = unbiased estimate of the accepted mass Z.
* "mask": token masking; the mask is computed over the whole vocabulary, weight = Z exactly.
* "prior": the unconstrained draw, kept iff the constraint accepts it (weight 0 or -inf).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from inference.awrs import TokenDraw, WithoutReplacementDraws, awrs, masked_sample, token_blocks
from constraints.base import Constraint
from lm.distribution.tempering import temper

Mask = Callable[[], "tuple[np.ndarray, int]"]


def accepts_token(vocabulary: Any, constraint: Constraint, state: Any, token_id: int, states: dict) -> bool:
    """Whether token `token_id` keeps the constraint satisfiable (EOS: whether the text is complete).

    The advanced state of an accepted ordinary token is left in `states[token_id]`.
    """
    token = vocabulary.tokens[token_id]
    if token is None or (token.is_special and not token.is_eos):
        return False
    if token.is_eos:
        return constraint.is_accepting(state)
    new = constraint.advance(state, token.bytes)
    if new is None:
        return False
    states[token_id] = new
    return True


def draw_token(rng: Any, probs: Any, sampler: str, accepts: Callable[[int], bool], *, awrs_budget: int | None,
               mask: Mask, candidates: Callable[[], "tuple[np.ndarray, int] | None"] | None = None) -> TokenDraw:
    """The next token under `sampler` ("awrs", "mask" or "prior"; see the module docstring). AWRS's fallback
    draws among `candidates()` where they are given (a cheaper superset of the mask: inference.awrs)."""
    blocks = probs if hasattr(probs, "masses") else token_blocks(probs)
    if sampler == "awrs":
        return awrs(rng, blocks, accepts, max_rejections=awrs_budget, mask=mask if awrs_budget is not None else None,
                    candidates=candidates)
    if sampler == "mask":
        allowed, work = mask()
        draw = masked_sample(rng, blocks.full(), allowed)
        if draw.token is not None:
            accepts(draw.token)  # leaves the advanced state for the caller
        return TokenDraw(draw.token, draw.log_weight, work, 0)
    token = WithoutReplacementDraws(blocks).draw(rng)
    ok = accepts(token)
    return TokenDraw(token if ok else None, 0.0 if ok else -math.inf, 1, 0)


def tempered_probabilities(logprobs: np.ndarray, temperature: float) -> np.ndarray:
    """q ∝ p^(1/temperature) as float64 probabilities summing to 1."""
    logq = temper(logprobs, temperature)
    probs = np.exp(logq - logq.max())
    return probs / probs.sum()
