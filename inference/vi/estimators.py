"""Per-choice gradient estimators: reparameterization, REINFORCE (score function), enumeration.

Each random choice of a guide is differentiated by one strategy. By default the distribution
decides: reparameterizable (numpyro's `has_rsample`) -> reparam; finite support -> enumerate;
anything else -> reinforce. `estimators={"z": vi.reinforce()}` overrides by address; an
address also covers every choice below it (a sub-call's whole subtree).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import jax

from ppl.choicemap import as_path
from ppl.distributions import NumpyroPrimitive, Primitive
from ppl.errors import ModelError

REPARAM, REINFORCE, ENUMERATE = "reparam", "reinforce", "enumerate"
_KINDS = (REPARAM, REINFORCE, ENUMERATE)


class EstimatorError(ModelError):
    """A gradient estimator does not fit the choice it was asked for (or names no choice)."""


@dataclass(frozen=True)
class Estimator:
    """How the gradient flows through one random choice: 'reparam', 'reinforce' or 'enumerate'."""

    kind: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise EstimatorError(f"unknown gradient estimator {self.kind!r}; expected one of {', '.join(_KINDS)}")


def reparam() -> Estimator:
    """Differentiate through the sampled value (z = T(eps, params)); continuous reparameterizable choices."""
    return Estimator(REPARAM)


def reinforce() -> Estimator:
    """Score-function estimator: the value is held fixed and (objective - baseline) * grad log q is added."""
    return Estimator(REINFORCE)


def finite_support(primitive: Primitive) -> list | None:
    """Every value of a finite-support choice as concrete Python/numpy values, or None."""
    if isinstance(primitive, NumpyroPrimitive) and not primitive.d.has_enumerate_support:
        return None
    with jax.ensure_compile_time_eval():  # the support is concrete even while the parameters are traced
        return primitive.enumerate_support()


def _reparameterizable(primitive: Primitive) -> bool:
    return isinstance(primitive, NumpyroPrimitive) and bool(primitive.d.has_rsample)


def show(path: tuple) -> str:
    """An address as the user wrote it: 'z' for ('z',), the tuple otherwise."""
    return repr(path[0]) if len(path) == 1 else repr(path)


class EstimatorTable:
    """The estimator of every choice: user overrides by address, else the automatic choice."""

    def __init__(self, overrides: Mapping | None = None):
        if overrides is not None and not isinstance(overrides, Mapping):
            raise TypeError(f"estimators must be a dict from address to estimator, got {type(overrides).__name__}")
        self.overrides: dict[tuple, Estimator] = {}
        for address, estimator in (overrides or {}).items():
            if isinstance(estimator, str):
                estimator = Estimator(estimator)
            if not isinstance(estimator, Estimator):
                raise EstimatorError(f"estimator for address {address!r} must be vi.reparam(), vi.reinforce() or "
                                     f"vi.enumerate(), got {estimator!r}")
            self.overrides[as_path(address)] = estimator
        self.used: set[tuple] = set()

    def _override(self, path: tuple) -> tuple[tuple, Estimator] | None:
        for length in range(len(path), 0, -1):
            estimator = self.overrides.get(path[:length])
            if estimator is not None:
                return path[:length], estimator
        return None

    def resolve(self, path: tuple, primitive: Primitive) -> str:
        """The estimator kind for the choice at `path`; EstimatorError if the requested one cannot apply."""
        found = self._override(path)
        if found is None:
            if _reparameterizable(primitive):
                return REPARAM
            return ENUMERATE if finite_support(primitive) is not None else REINFORCE
        key, estimator = found
        self.used.add(key)
        kind = estimator.kind
        if kind == REPARAM and not _reparameterizable(primitive):
            name = type(primitive.d).__name__ if isinstance(primitive, NumpyroPrimitive) else repr(primitive)
            alternatives = "vi.reinforce() or vi.enumerate()" if finite_support(primitive) is not None else "vi.reinforce()"
            raise EstimatorError(f"vi.reparam() requested at address {show(path)}, but {name} is not reparameterizable "
                                 f"(numpyro's has_rsample is False); use {alternatives}")
        if kind == ENUMERATE and finite_support(primitive) is None:
            raise EstimatorError(f"vi.enumerate() requested at address {show(path)}, but {primitive!r} has no finite "
                                 "support to enumerate; use vi.reparam() or vi.reinforce()")
        if kind == REINFORCE and not isinstance(primitive, NumpyroPrimitive):
            raise EstimatorError(f"vi.reinforce() at address {show(path)} needs a numpyro distribution to sample with "
                                 f"a JAX key, got {primitive!r}; use vi.enumerate()")
        return kind

    def check_all_used(self) -> None:
        """Every overridden address named a choice of the guide; a stray one is a misspelling."""
        for path in self.overrides:
            if path not in self.used:
                raise EstimatorError(f"an estimator is given for address {show(path)}, but the guide makes no choice there")


def enumerate() -> Estimator:  # noqa: A001 - the API name
    """Sum over every value of a finite choice, weighted by its guide probability: exact, no variance."""
    return Estimator(ENUMERATE)
