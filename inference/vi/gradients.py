"""Unbiased gradient estimates of a variational objective, one estimator per guide choice.

The objective is run once per joint outcome of the enumerated choices (branch e, guide
probability q_e) and the results are combined into a surrogate whose value is the objective's
estimate and whose gradient is an unbiased estimate of the objective's gradient:

    surrogate = sum_e q_e * (F_e + stop_grad(F_e - b) * (L_e - stop_grad(L_e)))
              = A + D - b * C,   A = sum_e q_e F_e,
                                 D = sum_e q_e stop_grad(F_e) (L_e - stop_grad(L_e)),
                                 C = sum_e q_e (L_e - stop_grad(L_e))

F_e is the objective's value in branch e, L_e the log guide density of the REINFORCE choices
made in it (the "magic box" of DiCE: it adds (F_e - b) grad L_e, the score-function term), b a
baseline independent of this sample, and reparameterized choices carry their gradient through
F_e itself. D and C have value 0; A is the estimate. With only enumerated choices the
surrogate is the exact expectation. Independent samples are vectorized with jax.vmap when the
program can be traced, else run one by one.
"""
from __future__ import annotations

import functools
import numbers
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from ppl.rng import rng as as_rng

from inference.vi.branching import Branch, run_branches
from inference.vi.estimators import EstimatorTable
from inference.vi.objectives import Objective, elbo
from inference.vi.programs import bound_model, check_guide

DEFAULT_MAX_BRANCHES = 1024


class Estimate(NamedTuple):
    """An unbiased estimate of an objective's expectation (`value`) and of its gradient (`grad`, like params)."""

    value: Any
    grad: Any


def as_key(rng: Any) -> Any:
    """A JAX PRNG key from a key, an int seed, or a ppl rng object."""
    if isinstance(rng, jax.Array) and (jnp.issubdtype(rng.dtype, jax.dtypes.prng_key)
                                       or (rng.dtype == jnp.uint32 and rng.shape == (2,))):
        return rng
    return as_rng(rng).jax_key()


def as_params(params: Any) -> Any:
    """The parameter pytree with float64 JAX arrays as leaves; TypeError naming a bad leaf."""
    def convert(path: Any, leaf: Any) -> Any:
        try:
            array = jnp.asarray(leaf)
        except TypeError:
            array = None
        if array is None or not jnp.issubdtype(array.dtype, jnp.number):
            raise TypeError(f"params must be a pytree of numeric arrays; the leaf at {jax.tree_util.keystr(path)} "
                            f"is {type(leaf).__name__}: {leaf!r}")
        return array.astype(jnp.float64) if not jnp.issubdtype(array.dtype, jnp.floating) else array

    return jax.tree_util.tree_map_with_path(convert, params)


def check_baseline(baseline: Any, samples: int) -> None:
    if baseline is None or (isinstance(baseline, numbers.Real) and not isinstance(baseline, bool)):
        return
    if isinstance(baseline, jax.Array) and jnp.shape(baseline) == ():
        return
    if baseline == "loo":
        if samples < 2:
            raise ValueError("baseline='loo' (leave-one-out over the samples of one step) needs samples >= 2")
        return
    raise ValueError(f"baseline must be None, 'loo' or a number, got {baseline!r}")


def check_samples(samples: Any) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")


def _objective_value(objective: Objective, value: Any) -> Any:
    if jnp.shape(value) != ():
        name = getattr(objective, "__name__", repr(objective))
        raise TypeError(f"the objective {name} must return a scalar, got a value of shape {jnp.shape(value)}")
    return value


def _sample_terms(run: list[tuple[Branch, Any]]) -> tuple[Any, Any, Any]:
    """(A, D, C) of one sample. Scalar arithmetic branch by branch: eagerly, every op has one shape."""
    a = d = c = 0.0
    for branch, value in run:
        weight = jnp.exp(branch.log_enumerated)
        box = branch.log_scored - jax.lax.stop_gradient(branch.log_scored)
        a = a + weight * value
        d = d + weight * jax.lax.stop_gradient(value) * box
        c = c + weight * box
    return tuple(jnp.asarray(x, dtype=jnp.float64) for x in (a, d, c))


def _per_sample(one: Any, keys: Any) -> tuple[Any, Any, Any]:
    """(A, D, C) for every key, stacked: vmapped when the program traces, else one sample at a time."""
    if len(keys) > 1:
        try:
            return jax.vmap(one)(keys)
        except Exception:  # noqa: BLE001 - Python control flow on a sampled value: run each sample on its own
            pass
    return tuple(jnp.stack(column) for column in zip(*[one(key) for key in keys]))


def _baselines(baseline: Any, values: Any, samples: int) -> Any:
    if baseline is None:
        return 0.0
    if isinstance(baseline, str):  # "loo": the mean of the other samples' values
        return (jnp.sum(values) - values) / (samples - 1)
    return jax.lax.stop_gradient(baseline)


def gradient(model: Any, guide: Any, params: Any, rng: Any, *, objective: Objective = elbo,
             estimators: Mapping | None = None, samples: int = 1, baseline: Any = None,
             max_branches: int = DEFAULT_MAX_BRANCHES) -> Estimate:
    """Estimate E[objective] and its gradient w.r.t. `params` from `samples` independent runs.

    model: `g` or `g(*args)`; guide: a @ppl.gen function called as guide(params); rng: a JAX key,
    an int seed or a ppl rng; estimators: per-address overrides ({"z": vi.reinforce()});
    baseline for REINFORCE choices: None, a number (e.g. a running average), or "loo" (the mean
    of the other samples, samples >= 2). Jit-compatible when the model's Python control flow
    does not depend on reparameterized or REINFORCE-sampled values.
    """
    bound_model(model)
    check_guide(guide)
    check_samples(samples)
    check_baseline(baseline, samples)
    table = EstimatorTable(estimators)
    keys = jax.random.split(as_key(rng), samples)

    def surrogate(p: Any) -> tuple[Any, Any]:
        def one(key: Any) -> tuple[Any, Any, Any]:
            run = run_branches(functools.partial(objective, model, guide, p, key), table, max_branches)
            return _sample_terms([(branch, _objective_value(objective, value)) for branch, value in run])

        values, score_terms, score_weights = _per_sample(one, keys)
        baselines = _baselines(baseline, jax.lax.stop_gradient(values), samples)
        return jnp.mean(values + score_terms - baselines * score_weights), jnp.mean(values)

    (_, value), grad = jax.value_and_grad(surrogate, has_aux=True)(as_params(params))
    table.check_all_used()
    return Estimate(value, grad)
