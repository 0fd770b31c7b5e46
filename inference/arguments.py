"""Checks of the arguments that the inference algorithms share, each naming the argument at fault."""
from __future__ import annotations

import math
from typing import Any

RESAMPLING_SCHEMES = ("multinomial", "stratified", "systematic", "residual")


def check_particles(particles: Any, name: str = "particles") -> int:
    """`particles` as an int >= 1; ValueError naming the argument otherwise."""
    if isinstance(particles, bool) or not isinstance(particles, int) and not hasattr(particles, "__index__"):
        raise TypeError(f"{name} must be an int >= 1, got {particles!r}")
    count = int(particles)
    if count < 1:
        raise ValueError(f"{name} must be >= 1, got {count}")
    return count


def check_ess_threshold(threshold: Any) -> float:
    """An ESS threshold as a fraction of the particle count, in [0, 1]."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"ess_threshold must be a number in [0, 1], got {threshold!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"ess_threshold must lie in [0, 1] (a fraction of the particle count), got {threshold!r}")
    return value


def check_scheme(scheme: Any) -> str:
    """A resampling scheme's name; ValueError listing the known ones otherwise."""
    if scheme not in RESAMPLING_SCHEMES:
        raise ValueError(f"unknown resampling scheme {scheme!r}: choose one of {', '.join(RESAMPLING_SCHEMES)}")
    return scheme


def check_max_steps(max_steps: Any) -> int:
    return check_particles(max_steps, "max_steps")
