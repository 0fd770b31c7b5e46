"""Log-weight arithmetic that stays defined when an execution is impossible (score -inf)."""
from __future__ import annotations

import math


def fresh_part(new_score: float, old_score: float, weight: float) -> float:
    """new - old - weight: the log proposal density of what a sub-call sampled afresh.

    When a sub-call's score is -inf its weight is -inf too and the difference is undefined;
    the caller's own score is then -inf, which already decides its weight, so count 0 here.
    """
    value = new_score - old_score - weight
    return 0.0 if math.isnan(value) else value


def log_weight(new_score: float, old_score: float, net_fresh: float) -> float:
    """new - old - fresh, with an impossible new execution weighted -inf (never NaN)."""
    if new_score == -math.inf:
        return -math.inf
    return new_score - old_score - net_fresh
