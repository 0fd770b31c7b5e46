"""`TokenSetBernoulli`: "the next token lies in this set", LLaMPPL's mask distribution.

Its value is True or False with probability P(S) = sum of p(x) over x in S (under any
restriction already in place). When the value is fixed (sampled or observed) the context
restricts its next token to S, or to its complement, so `observe(mask_dist(S), True)` then
`sample(next_token())` draws x from p(x | x in S) and weights by P(S): exactly p(x) 1[x in S].
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
from scipy import special

from ppl.batching import Pending
from ppl.distributions import Primitive
from ppl.errors import ParameterError

if TYPE_CHECKING:
    from lm.distribution.context import LMContext
    from lm.distribution.vocabulary import Vocabulary

from lm.distribution.token import Token


def token_mask(vocabulary: "Vocabulary", tokens: Iterable[Any]) -> np.ndarray:
    """A boolean mask over token ids from ids, Tokens or byte strings (every token with those bytes)."""
    mask = np.zeros(len(vocabulary), dtype=bool)
    for item in tokens:
        if isinstance(item, (bytes, bytearray)):
            mask[vocabulary.ids_for_bytes(bytes(item))] = True
            continue
        i = vocabulary.token_id(item)
        if i is None:
            kind = "token" if isinstance(item, Token) else type(item).__name__
            raise ParameterError(f"mask_dist: {item!r} ({kind}) is not a token of this vocabulary")
        mask[i] = True
    return mask


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1))


class TokenSetBernoulli(Primitive):
    """True iff the next token of the context lies in a set of tokens."""

    def __init__(self, context: "LMContext", mask: np.ndarray):
        self.context = context
        self.mask = mask
        self._node = context.node
        self._allowed = context.allowed
        self._pending: Pending | None = None
        self._log_p: float | None = None
        self.value: bool | None = None

    def __repr__(self) -> str:
        return f"TokenSetBernoulli({int(self.mask.sum())} tokens, after {self._node.depth} tokens)"

    def pending(self) -> Pending | None:
        if self._log_p is not None or self._node.table is not None:
            return None
        if self._pending is None:
            self._pending = Pending(self.context.llm.server, self._node)
        return None if self._pending.done else self._pending

    def log_probability_true(self) -> float:
        """log P(next token in the set | current restriction)."""
        if self._log_p is None:
            table = self._pending.result if self._pending is not None and self._pending.done else self.context.llm.server.table(self._node)
            raw = table.logprobs
            allowed = self._allowed
            inside = self.mask if allowed is None else (self.mask & allowed)
            log_inside = special.logsumexp(np.where(inside, raw, -np.inf))
            log_total = 0.0 if allowed is None else special.logsumexp(np.where(allowed, raw, -np.inf))
            self._log_p = float(min(0.0, log_inside - log_total)) if np.isfinite(log_total) else -math.inf
        return self._log_p

    def _log_probs(self) -> tuple[float, float]:
        lt = self.log_probability_true()
        lf = math.log1p(-math.exp(lt)) if lt < 0 else -math.inf
        return lf, lt

    def sample(self, rng: Any) -> bool:
        lf, lt = self._log_probs()
        value = bool(rng.categorical(np.exp([lf, lt])))
        self._fix(value)
        return value

    def log_prob(self, value: Any) -> float:
        if not _is_bool(value):
            return -math.inf
        value = bool(value)
        lp = self._log_probs()[int(value)]
        self._fix(value)
        return lp

    def in_support(self, value: Any) -> bool:
        return _is_bool(value)

    def enumerate_support(self) -> list:
        return [False, True]

    def _fix(self, value: bool) -> None:
        if self.value is None:
            self.value = value
            self.context._restrict(self._node, self.mask if value else ~self.mask)
