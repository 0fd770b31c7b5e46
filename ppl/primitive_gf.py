"""The leaf generative function: one random choice drawn from a primitive distribution.

Treating a distribution as a generative function whose only argument is the distribution lets
the handlers treat every `ppl.sample` as a call, so each operation is written once.
"""
from __future__ import annotations

import math
from typing import Any

from ppl.choicemap import ChoiceMap, EMPTY, Selection
from ppl.distributions import Primitive
from ppl.errors import AddressError, SupportError
from ppl.log_weights import log_weight
from ppl.trace import LeafTrace


def ensure_ready(primitive: Any) -> None:
    """Serve a primitive's pending batched request synchronously (outside a batching driver)."""
    pending = primitive.pending() if isinstance(primitive, Primitive) else None
    if pending is not None:
        pending.server.serve([pending])


def _is_unconstrained(constraint: Any) -> bool:
    return isinstance(constraint, ChoiceMap) and constraint.is_empty()


def _checked(primitive: Primitive, value: Any) -> Any:
    if isinstance(value, ChoiceMap):
        raise AddressError(f"a choice of {primitive!r} was given a submap {value!r} instead of a value")
    if not primitive.in_support(value):
        raise SupportError(f"value {value!r} lies outside the support of {primitive!r}")
    return value


class PrimitiveGF:
    """A generative function with one choice (the whole trace is its value)."""

    name = "primitive"

    def simulate(self, rng: Any, primitive: Primitive) -> LeafTrace:
        ensure_ready(primitive)
        value = primitive.sample(rng)
        return LeafTrace(self, primitive, value, primitive.log_prob(value))

    def generate(self, rng: Any, constraint: Any, primitive: Primitive) -> tuple[LeafTrace, float]:
        if _is_unconstrained(constraint):
            return self.simulate(rng, primitive), 0.0
        ensure_ready(primitive)
        value = _checked(primitive, constraint)
        trace = LeafTrace(self, primitive, value, primitive.log_prob(value))
        return trace, trace.score

    def assess(self, choice: Any, primitive: Primitive) -> tuple[float, Any]:
        ensure_ready(primitive)
        value = _checked(primitive, choice)
        return primitive.log_prob(value), value

    def update(self, rng: Any, trace: LeafTrace, constraint: Any, primitive: Primitive) -> tuple[LeafTrace, float, Any]:
        ensure_ready(primitive)
        if _is_unconstrained(constraint):
            value, discard = trace.value, EMPTY
        else:
            value, discard = _checked(primitive, constraint), trace.value
        new = LeafTrace(self, primitive, value, _log_prob_or_minus_inf(primitive, value))
        return new, log_weight(new.score, trace.score, 0.0), discard

    def regenerate(self, rng: Any, trace: LeafTrace, selection: Selection, primitive: Primitive) -> tuple[LeafTrace, float]:
        if selection.is_all():
            # Drawn from the prior: its density cancels with the proposal's, w = 0 for this leaf.
            return self.simulate(rng, primitive), 0.0
        ensure_ready(primitive)
        new = LeafTrace(self, primitive, trace.value, _log_prob_or_minus_inf(primitive, trace.value))
        return new, log_weight(new.score, trace.score, 0.0)


def _log_prob_or_minus_inf(primitive: Primitive, value: Any) -> float:
    """An old value under a new distribution: outside the new support it has density 0."""
    return primitive.log_prob(value) if primitive.in_support(value) else -math.inf


PRIMITIVE = PrimitiveGF()
