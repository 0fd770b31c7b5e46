"""`NumpyroPrimitive`: any numpyro distribution as a random choice.

Common distributions take a numpy fast path (eager JAX dispatch costs ~0.1–1 ms per call),
checked against numpyro's own log_prob by the tests. Imported by `ppl.distributions.as_primitive`
on the first numpyro distribution a program uses.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import jax
import numpy as np
import numpyro.distributions as nd
from scipy import special

from ppl.distributions import Primitive
from ppl.errors import ParameterError

_MAX_ENUMERATION = 10_000


def _param(d: nd.Distribution, name: str) -> np.ndarray:
    return np.asarray(getattr(d, name), dtype=np.float64)


def _xlogy(x, y):
    return special.xlogy(x, y)


def _log_prob_bernoulli(d, v):
    p = _param(d, "probs")
    return _xlogy(v, p) + _xlogy(1 - v, 1 - p)


def _log_prob_categorical(d, v):
    p = _param(d, "probs")
    v = np.asarray(v, dtype=np.int64)
    with np.errstate(divide="ignore"):
        logp = np.log(p / p.sum(-1, keepdims=True))
    return np.take_along_axis(logp, v[..., None], -1)[..., 0] if logp.ndim > 1 else logp[v]


def _log_prob_binomial(d, v):
    n, p = _param(d, "total_count"), _param(d, "probs")
    log_choose = special.gammaln(n + 1) - special.gammaln(v + 1) - special.gammaln(n - v + 1)
    return log_choose + _xlogy(v, p) + _xlogy(n - v, 1 - p)


def _log_prob_poisson(d, v):
    rate = _param(d, "rate")
    return _xlogy(v, rate) - rate - special.gammaln(v + 1)


def _log_prob_geometric(d, v):
    p = _param(d, "probs")
    return _xlogy(v, 1 - p) + np.log(p)


def _log_prob_normal(d, v):
    loc, scale = _param(d, "loc"), _param(d, "scale")
    z = (v - loc) / scale
    return -0.5 * z * z - np.log(scale) - 0.5 * math.log(2 * math.pi)


def _log_prob_beta(d, v):
    a, b = _param(d, "concentration1"), _param(d, "concentration0")
    return _xlogy(a - 1, v) + _xlogy(b - 1, 1 - v) - special.betaln(a, b)


def _log_prob_gamma(d, v):
    k, rate = _param(d, "concentration"), _param(d, "rate")
    return _xlogy(k, rate) + _xlogy(k - 1, v) - rate * v - special.gammaln(k)


def _log_prob_uniform(d, v):
    low, high = _param(d, "low"), _param(d, "high")
    inside = (v >= low) & (v < high)
    with np.errstate(divide="ignore"):
        return np.where(inside, -np.log(high - low), -np.inf)


def _log_prob_exponential(d, v):
    rate = _param(d, "rate")
    return np.log(rate) - rate * v


def _log_prob_dirichlet(d, v):
    a = _param(d, "concentration")
    return (_xlogy(a - 1, v)).sum(-1) + special.gammaln(a.sum(-1)) - special.gammaln(a).sum(-1)


_FAST_LOG_PROB = {
    nd.BernoulliProbs: _log_prob_bernoulli,
    nd.BernoulliLogits: _log_prob_bernoulli,
    nd.CategoricalProbs: _log_prob_categorical,
    nd.CategoricalLogits: _log_prob_categorical,
    nd.BinomialProbs: _log_prob_binomial,
    nd.BinomialLogits: _log_prob_binomial,
    nd.Poisson: _log_prob_poisson,
    nd.GeometricProbs: _log_prob_geometric,
    nd.GeometricLogits: _log_prob_geometric,
    nd.Normal: _log_prob_normal,
    nd.Beta: _log_prob_beta,
    nd.Gamma: _log_prob_gamma,
    nd.Uniform: _log_prob_uniform,
    nd.Exponential: _log_prob_exponential,
    nd.Dirichlet: _log_prob_dirichlet,
}


def _sample_normal(d, g):
    return _param(d, "loc") + _param(d, "scale") * g.standard_normal(d.batch_shape)


def _sample_uniform(d, g):
    low, high = _param(d, "low"), _param(d, "high")
    return low + (high - low) * g.random(d.batch_shape)


_FAST_SAMPLE = {
    nd.Normal: _sample_normal,
    nd.Uniform: _sample_uniform,
    nd.Beta: lambda d, g: g.beta(_param(d, "concentration1"), _param(d, "concentration0")),
    nd.Gamma: lambda d, g: g.gamma(_param(d, "concentration"), 1.0 / _param(d, "rate")),
    nd.Exponential: lambda d, g: g.exponential(1.0 / _param(d, "rate")),
    nd.Dirichlet: lambda d, g: g.dirichlet(_param(d, "concentration")),
    nd.Poisson: lambda d, g: g.poisson(_param(d, "rate")),
    nd.GeometricProbs: lambda d, g: g.geometric(_param(d, "probs")) - 1,
    nd.GeometricLogits: lambda d, g: g.geometric(_param(d, "probs")) - 1,
}


def _in_support(support: Any, value: Any) -> bool:
    """Whether `value` lies in a numpyro support constraint (numpy input keeps this in numpy)."""
    return bool(np.all(np.asarray(support.check(np.asarray(value)))))


def _finite_params(d: nd.Distribution) -> None:
    for name, constraint in d.arg_constraints.items():
        if name not in d.__dict__ and not hasattr(type(d), name):
            continue
        try:
            raw = getattr(d, name)
        except Exception:  # lazy parameters numpyro cannot derive for this parameterization
            continue
        if isinstance(raw, jax.core.Tracer):  # traced by a JAX interpretation (NUTS, VI): nothing concrete to check
            continue
        value = np.asarray(raw, dtype=np.float64)
        if not np.all(np.isfinite(value)) and not (np.all(np.isinf(value) & (value > 0)) and name in ("high", "df")):
            raise ParameterError(f"{type(d).__name__}: parameter {name!r} is not finite: {raw}")
        if nd.constraints.is_dependent(constraint):
            continue
        if not bool(np.all(np.asarray(constraint.check(value)))):
            raise ParameterError(f"{type(d).__name__}: parameter {name!r} = {raw} violates its constraint {constraint}")


def _support_of_scalar(d: nd.Distribution) -> np.ndarray:
    """The values one element of a finite discrete distribution takes (numpy, no JAX dispatch)."""
    if isinstance(d, (nd.BernoulliProbs, nd.BernoulliLogits)):
        return np.arange(2)
    if isinstance(d, (nd.CategoricalProbs, nd.CategoricalLogits)):
        return np.arange(np.shape(d.probs if isinstance(d, nd.CategoricalProbs) else d.logits)[-1])
    if isinstance(d, (nd.BinomialProbs, nd.BinomialLogits)) and np.ndim(d.total_count) == 0:
        return np.arange(int(d.total_count) + 1)
    return np.asarray(d.enumerate_support(expand=False)).reshape(-1)


class NumpyroPrimitive(Primitive):
    """A numpyro distribution as a random choice; log densities in float64."""

    __slots__ = ("d", "_support_values", "_discrete")

    def __init__(self, d: nd.Distribution):
        _finite_params(d)
        self.d = d
        self._discrete = bool(d.support.is_discrete)
        self._support_values: list | None = None

    def __repr__(self) -> str:
        return f"{type(self.d).__name__}({', '.join(f'{k}={getattr(self.d, k, None)}' for k in self.d.arg_constraints if k in self.d.__dict__)})"

    def _convert(self, value: Any) -> Any:
        array = np.asarray(value)
        if array.shape == ():
            return int(array) if self._discrete else float(array)
        return array.astype(np.int64) if self._discrete else array.astype(np.float64)

    def enumerate_support(self) -> list | None:
        if self._support_values is not None:
            return self._support_values
        d = self.d
        if not d.has_enumerate_support:
            return None
        per_element = _support_of_scalar(d)
        if d.batch_shape == () and d.event_shape == ():
            values = [self._convert(v) for v in per_element]
        else:
            size = int(np.prod(d.batch_shape + d.event_shape))
            if len(per_element) ** size > _MAX_ENUMERATION:
                return None
            shape = d.batch_shape + d.event_shape
            values = [self._convert(np.array(combo).reshape(shape)) for combo in itertools.product(per_element, repeat=size)]
        self._support_values = values
        return values

    def sample(self, rng) -> Any:
        d = self.d
        if d.has_enumerate_support and d.batch_shape == () and d.event_shape == ():
            values = self.enumerate_support()
            probs = np.exp([self.log_prob(v) for v in values])
            return values[rng.categorical(probs)]
        if d.has_enumerate_support and d.event_shape == () and type(d) in _FAST_LOG_PROB:
            return self._sample_elementwise(rng)
        fast = _FAST_SAMPLE.get(type(d))
        if fast is not None:
            return self._convert(fast(d, rng.numpy()))
        return self._convert(d.sample(rng.jax_key()))

    def _sample_elementwise(self, rng) -> np.ndarray:
        """Independent elements of a batched finite distribution, one categorical draw each."""
        values = _support_of_scalar(self.d)
        out = np.empty(self.d.batch_shape, dtype=np.int64)
        for index in np.ndindex(*self.d.batch_shape):
            element_logp = [self._element_log_prob(index, v) for v in values]
            out[index] = values[rng.categorical(np.exp(element_logp))]
        return out

    def _element_log_prob(self, index: tuple, v: Any) -> float:
        full = np.asarray(_FAST_LOG_PROB[type(self.d)](self.d, np.full(self.d.batch_shape, v)))
        return float(full[index])

    def in_support(self, value: Any) -> bool:
        try:
            return _in_support(self.d.support, value)
        except (TypeError, ValueError):
            return False

    def log_prob(self, value: Any) -> float:
        fast = _FAST_LOG_PROB.get(type(self.d))
        if fast is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.sum(fast(self.d, np.asarray(value, dtype=np.float64)))
        else:
            out = np.sum(np.asarray(self.d.log_prob(value), dtype=np.float64))
        return float(out)
