"""Variational objectives written as programs: the ELBO and the importance-weighted bound (IWAE).

An objective is any function `(model, guide, params, key) -> scalar` whose expectation over the
guide's randomness is to be maximized; write your own from `sample_guide` and `log_density`.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from inference.vi.programs import log_density, sample_guide

Objective = Callable[[Any, Any, Any, Any], Any]


def elbo(model: Any, guide: Any, params: Any, key: Any) -> Any:
    """The evidence lower bound at one guide draw z: log p(x, z) - log q(z)."""
    q = sample_guide(guide, params, key)
    return log_density(model, q.choices) - q.log_q


def iwae(particles: int) -> Objective:
    """The importance-weighted bound with K particles: log (1/K) sum_k p(x, z_k) / q(z_k).

    E[iwae(K)] increases with K from the ELBO (K = 1) towards log p(x).
    """
    if isinstance(particles, bool) or not isinstance(particles, int) or particles < 1:
        raise ValueError(f"iwae: particles must be an int >= 1, got {particles!r}")

    def objective(model: Any, guide: Any, params: Any, key: Any) -> Any:
        log_weights = []
        for particle_key in jax.random.split(key, particles):
            q = sample_guide(guide, params, particle_key)
            log_weights.append(log_density(model, q.choices) - q.log_q)
        return jax.nn.logsumexp(jnp.stack(log_weights)) - jnp.log(particles)

    objective.__name__ = objective.__qualname__ = f"iwae({particles})"
    return objective
