"""`NextToken`: the language model's distribution over the next token of a context, as a ppl primitive.

A NextToken is one choice point of its context. The first time a value is fixed for it (drawn
by `sample`, or scored by `log_prob`, as `ppl.observe`, `assess` and `update` do) the context is
extended with that token, so a program continues from the token it chose; later `log_prob`
calls only read. With `proposal_top_k` / `proposal_top_p` the draw comes from the truncated,
renormalized distribution q instead of the target p, `log_prob` is log q, and `log_weight`
(log p - log q of the fixed token) is what the program adds with `factor` to correct the weight
(or `ppl.Model.sample_with(d.propose, addr)`, which adds it itself).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.weighting import log_sum_exp
from ppl.batching import Pending
from ppl.distributions import Primitive
from ppl.errors import ParameterError
from ppl.rng import SeededRng

from lm.distribution.tempering import temper
from lm.serving.forward_server import NextTokenTable

if TYPE_CHECKING:
    from lm.distribution.context import LMContext
    from lm.distribution.token import Token


def restrict(logprobs: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """log p(x | x in allowed); the unrestricted distribution when `allowed` has no mass (the particle is dead)."""
    if allowed is None:
        return logprobs
    kept = np.where(allowed, logprobs, -np.inf)
    total = log_sum_exp(kept)
    if not np.isfinite(total):
        return logprobs
    return kept - total


def truncate(logprobs: np.ndarray, top_k: int | None, top_p: float | None) -> np.ndarray:
    """The top-k and/or top-p (nucleus) truncation of a distribution, renormalized."""
    keep = np.isfinite(logprobs)
    order = None
    if top_k is not None and top_k < keep.sum():
        order = np.argsort(-logprobs, kind="stable")
        top = np.zeros_like(keep)
        top[order[:top_k]] = True
        keep &= top
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-logprobs, kind="stable") if order is None else order
        probs = np.exp(logprobs[order])
        cut = int(np.searchsorted(np.cumsum(probs), top_p, side="left")) + 1
        nucleus = np.zeros_like(keep)
        nucleus[order[:cut]] = True
        keep &= nucleus
    kept = np.where(keep, logprobs, -np.inf)
    return kept - log_sum_exp(kept)


def _invert(cdf: np.ndarray, u: float) -> int:
    """Inversion sampling with one uniform on a precomputed cumulative distribution.

    The same draw `SeededRng.categorical` makes from the probabilities (one uniform, the first
    index whose cumulative mass exceeds it), without recomputing the cumulative sum per particle.
    """
    index = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    if index == len(cdf):  # rounding at the top end: the last index with mass
        index = int(np.flatnonzero(np.diff(cdf, prepend=0.0) > 0)[-1])
    return index


class NextToken(Primitive):
    """The next token of an `LMContext`: values are `lm.Token`s."""

    def __init__(self, context: "LMContext", temperature: float = 1.0, proposal_top_k: int | None = None,
                 proposal_top_p: float | None = None):
        t = float(temperature)
        if not (math.isfinite(t) and t > 0):
            raise ParameterError(f"next_token: temperature must be a positive finite number, got {temperature!r}")
        if proposal_top_k is not None and (isinstance(proposal_top_k, bool) or int(proposal_top_k) != proposal_top_k or proposal_top_k < 1):
            raise ParameterError(f"next_token: proposal_top_k must be a positive integer, got {proposal_top_k!r}")
        if proposal_top_p is not None and not (0.0 < float(proposal_top_p) <= 1.0):
            raise ParameterError(f"next_token: proposal_top_p must lie in (0, 1], got {proposal_top_p!r}")
        self.context = context
        self.temperature = t
        self.proposal_top_k = None if proposal_top_k is None else int(proposal_top_k)
        self.proposal_top_p = None if proposal_top_p is None else float(proposal_top_p)
        self._node = context.node
        self._allowed = context.allowed
        self._vocabulary = context.llm.vocabulary
        self._pending: Pending | None = None
        self._target: np.ndarray | None = None
        self._proposal: np.ndarray | None = None
        self.value: "Token | None" = None

    def __repr__(self) -> str:
        extras = "".join(f", {k}={v}" for k, v in (("temperature", self.temperature), ("proposal_top_k", self.proposal_top_k),
                                                     ("proposal_top_p", self.proposal_top_p)) if v not in (None, 1.0))
        return f"NextToken(after {self._node.depth} tokens{extras})"

    @property
    def is_proposal(self) -> bool:
        return self.proposal_top_k is not None or self.proposal_top_p is not None

    # -- distribution --------------------------------------------------------------------

    def pending(self) -> Pending | None:
        if self._target is not None or self._node.table is not None:
            return None
        if self._pending is None:
            self._pending = Pending(self.context.llm.server, self._node)
        return None if self._pending.done else self._pending

    def _table(self) -> NextTokenTable:
        if self._pending is not None and self._pending.done:
            return self._pending.result
        return self.context.llm.server.table(self._node)

    @property
    def _plain(self) -> bool:
        """Whether the sampling distribution is the served one as is (no temperature, restriction or proposal)."""
        return self.temperature == 1.0 and self._allowed is None and not self.is_proposal

    def target_logprobs(self) -> np.ndarray:
        """log p of every token id (temperature and any mask restriction applied)."""
        if self._target is None:
            self._target = restrict(temper(self._table().logprobs, self.temperature), self._allowed)
        return self._target

    def sampling_logprobs(self) -> np.ndarray:
        """log q of every token id: the proposal's if one is set, else the target's."""
        if not self.is_proposal:
            return self.target_logprobs()
        if self._proposal is None:
            self._proposal = truncate(self.target_logprobs(), self.proposal_top_k, self.proposal_top_p)
        return self._proposal

    def sample(self, rng: Any) -> "Token":
        if self._plain and type(rng) is SeededRng:
            index = _invert(self._table().cdf, rng.uniform())
        else:
            index = rng.categorical(np.exp(self.sampling_logprobs()))
        token = self._vocabulary.tokens[index]
        self._fix(token)
        return token

    def propose(self, rng: Any) -> "tuple[Token, float]":
        """Draw from the proposal and return (token, log p - log q): a sampler for `ppl.Model.sample_with`."""
        token = self.sample(rng)
        return token, self.log_weight

    def log_prob(self, value: Any) -> float:
        i = self._vocabulary.token_id(value)
        if i is None:
            return -math.inf
        lp = float(self.sampling_logprobs()[i])
        self._fix(self._vocabulary.tokens[i])
        return lp

    def in_support(self, value: Any) -> bool:
        i = self._vocabulary.token_id(value)
        if i is None:
            return False
        return not self.is_proposal or bool(np.isfinite(self.sampling_logprobs()[i]))

    def enumerate_support(self) -> list:
        lp = self.sampling_logprobs() if self.is_proposal else None
        return [t for t in self._vocabulary.tokens if t is not None and (lp is None or np.isfinite(lp[t.id]))]

    # -- the choice point ------------------------------------------------------------------

    @property
    def log_weight(self) -> float:
        """log p(x) - log q(x) for the token x fixed at this choice (0 without a proposal)."""
        if self.value is None:
            raise ValueError("next_token: log_weight is defined once a token has been sampled or scored")
        if not self.is_proposal:
            return 0.0
        i = self.value.id
        return float(self.target_logprobs()[i] - self.sampling_logprobs()[i])

    def _fix(self, token: "Token") -> None:
        if self.value is None:
            self.value = token
            self.context._advance(self._node, token)
