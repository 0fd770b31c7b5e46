"""Log densities as JAX values, for the interpretations that differentiate or jit a model (NUTS, VI)."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ppl.distributions import NumpyroPrimitive, Primitive


@jax.jit
def _numpyro_log_prob(d: Any, value: Any) -> Any:
    # One compiled call per (distribution type, shapes): eager evaluation would dispatch a dozen ops.
    return jnp.where(jnp.all(d.support.check(value)), jnp.sum(d.log_prob(value)), -jnp.inf)


def log_prob(primitive: Primitive, value: Any) -> Any:
    """log density of `value` as a JAX scalar; -inf outside the support (numpyro does not check)."""
    if isinstance(primitive, NumpyroPrimitive):
        return _numpyro_log_prob(primitive.d, value)
    return jnp.asarray(primitive.log_prob(value), dtype=jnp.float64)  # fixed parameters: needs a concrete value
