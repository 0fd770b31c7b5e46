"""A JAX-traceable log density of a model's continuous choices, on an unconstrained flat vector.

The model's Python body runs under `JaxDensityHandler`: each continuous choice takes its value
from a slice of the flat vector u, mapped into the choice's support by numpyro's bijection
`biject_to(d.support)` (adding its log |det Jacobian|), every other choice takes its fixed
value, and all densities are numpyro log-probs in JAX. The result is an ordinary JAX function
of u, so it can be jitted and differentiated (NUTS/HMC). A support that depends on earlier
choices is handled too, since each bijection is built at its site from the traced distribution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as nd
from numpyro.distributions.transforms import biject_to

from inference.jax_log_prob import log_prob
from ppl.choicemap import ChoiceMap
from ppl.combinators import Switch
from ppl.distributions import NumpyroPrimitive, Primitive, as_primitive
from ppl.errors import ModelError
from ppl.generative import DynamicGenFn, GenerativeFunction
from ppl.handlers import Handler
from ppl.primitive_gf import PrimitiveGF

from inference.trace_sites import leaves


def traced_parameters_supported() -> bool:
    """Whether ppl accepts a distribution whose parameters are JAX tracers (needed to trace a body)."""
    def probe(x: Any) -> Any:
        as_primitive(nd.Normal(x, 1.0))
        return x

    try:
        jax.eval_shape(probe, 0.0)
    except Exception:  # any failure means ppl validated the traced parameter eagerly
        return False
    return True


@dataclass(frozen=True)
class ContinuousSite:
    """One continuous choice: its address, value shape, and slice of the unconstrained vector."""

    path: tuple
    shape: tuple
    unconstrained_shape: tuple
    offset: int

    @property
    def size(self) -> int:
        return int(np.prod(self.unconstrained_shape, dtype=np.int64))


class JaxDensityHandler(Handler):
    """Runs a body with choices from `values` (unconstrained, or constrained when `inverse`), in JAX."""

    def __init__(self, values: dict, fixed: ChoiceMap, inverse: bool = False, prefix: tuple = (),
                 record: dict | None = None):
        super().__init__(None)
        self.values, self.fixed, self.inverse, self.prefix = values, fixed, inverse, prefix
        self.record = {} if record is None else record  # full path -> (constrained, unconstrained) value
        self.log_density: Any = 0.0
        self.log_jacobian: Any = 0.0

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        self.claim(path)
        full = self.prefix + path
        if isinstance(gen_fn, PrimitiveGF):
            return self._site(full, args[0])
        child = JaxDensityHandler(self.values, self.fixed, self.inverse, full, self.record)
        retval = run_body(gen_fn, args, child)
        self.log_density = self.log_density + child.log_density
        self.log_jacobian = self.log_jacobian + child.log_jacobian
        return retval

    def _site(self, full: tuple, primitive: Primitive) -> Any:
        if full in self.values:
            if not isinstance(primitive, NumpyroPrimitive) or primitive.d.support.is_discrete:
                raise ModelError(f"the choice at {_show(full)} ({primitive!r}) was continuous when the density was built "
                                 "but is not now: the model's structure must not depend on its continuous choices")
            d = primitive.d
            transform = biject_to(d.support)
            if self.inverse:
                value = jnp.asarray(self.values[full])
                unconstrained = transform.inv(value)
            else:
                unconstrained = self.values[full]
                value = transform(unconstrained)
            jacobian = jnp.sum(transform.log_abs_det_jacobian(unconstrained, value))
            self.record[full] = (value, unconstrained)
            self.log_density = self.log_density + log_prob(primitive, value) + jacobian
            self.log_jacobian = self.log_jacobian + jacobian
            return value
        if self.fixed.has_value(full):
            value = self.fixed[full]
            self.log_density = self.log_density + log_prob(primitive, value)
            return value
        raise ModelError(f"the model made a choice at {_show(full)} that has no value here: its structure changed "
                         "(which choices it makes must not depend on its continuous choices)")

    def observe(self, path: tuple, primitive: Primitive, value: Any) -> None:
        self.claim(path)
        self.log_density = self.log_density + log_prob(primitive, value)

    def factor(self, log_weight: Any) -> None:
        self.log_density = self.log_density + log_weight


def run_body(gen_fn: Any, args: tuple, handler: JaxDensityHandler) -> Any:
    """Run a generative function's body under `handler` (a @ppl.gen body, map/unfold, or switch)."""
    if isinstance(gen_fn, Switch):
        return run_body(gen_fn.branches[int(args[0])], tuple(args[1:]), handler)
    if not isinstance(gen_fn, DynamicGenFn):
        raise ModelError(f"{getattr(gen_fn, 'name', gen_fn)}: a JAX density needs @ppl.gen bodies, ppl.map, ppl.unfold "
                         f"or ppl.switch; {type(gen_fn).__name__} is not supported")
    try:
        with handler:
            return gen_fn.fn(*args)
    except jax.errors.JAXTypeError as e:
        raise ModelError(f"{gen_fn.name}: the body is not JAX-traceable in its continuous choices (Python control flow "
                         f"or a conversion to float/int/bool depends on one): {type(e).__name__}: {str(e).splitlines()[0]}") from None


@dataclass
class UnconstrainedDensity:
    """log p(choices) as a function of an unconstrained flat vector of the continuous choices."""

    model: GenerativeFunction
    args: tuple
    fixed: ChoiceMap
    sites: list[ContinuousSite]

    @property
    def dim(self) -> int:
        return sum(s.size for s in self.sites)

    @staticmethod
    def from_trace(model: GenerativeFunction, args: tuple, constraints: ChoiceMap, trace: Any) -> "UnconstrainedDensity":
        """The density over `trace`'s continuous unconstrained choices; every other choice must be constrained."""
        sites, fixed, offset = [], {}, 0
        for path, leaf in leaves(trace):
            if constraints.has_value(path):
                fixed[path] = leaf.value
                continue
            primitive = leaf.primitive
            if not isinstance(primitive, NumpyroPrimitive) or primitive.d.support.is_discrete:
                raise ModelError(f"the choice at {_show(path)} ({primitive!r}) is discrete: NUTS/HMC moves continuous "
                                 "choices only; fix it with constraints= or use mcmc with gibbs/mh kernels")
            shape = tuple(np.shape(leaf.value))
            unconstrained_shape = tuple(biject_to(primitive.d.support).inverse_shape(shape))
            site = ContinuousSite(path, shape, unconstrained_shape, offset)
            sites.append(site)
            offset += site.size
        return UnconstrainedDensity(model, args, ChoiceMap(fixed), sites)

    def _split(self, flat: Any) -> dict:
        return {s.path: jnp.reshape(flat[s.offset:s.offset + s.size], s.unconstrained_shape) for s in self.sites}

    def _run(self, values: dict, inverse: bool = False) -> JaxDensityHandler:
        handler = JaxDensityHandler(values, self.fixed, inverse)
        run_body(self.model, self.args, handler)
        missing = [s.path for s in self.sites if s.path not in handler.record]
        if missing:
            raise ModelError(f"the model made no choice at {_show(missing[0])} this time: its structure must not depend "
                             "on its continuous choices")
        return handler

    def log_density(self, flat: Any) -> Any:
        """log p(constrained choices, fixed choices, evidence) + log |det Jacobian|, a JAX scalar."""
        return self._run(self._split(flat)).log_density

    def potential(self, flat: Any) -> Any:
        """The potential energy -log_density (numpyro's convention)."""
        return -self.log_density(flat)

    def constrained(self, flat: Any) -> tuple[list, Any]:
        """The continuous choices' values in their supports (in the order of `sites`), and log p there."""
        handler = self._run(self._split(flat))
        return [handler.record[s.path][0] for s in self.sites], handler.log_density - handler.log_jacobian

    def unconstrain(self, choices: ChoiceMap) -> np.ndarray:
        """The flat unconstrained vector of given constrained values of the continuous choices."""
        values = {}
        for s in self.sites:
            if not choices.has_value(s.path):
                raise ModelError(f"no value for the continuous choice at {_show(s.path)}")
            values[s.path] = choices[s.path]
        record = self._run(values, inverse=True).record
        parts = [np.reshape(np.asarray(record[s.path][1], dtype=np.float64), -1) for s in self.sites]
        return np.concatenate(parts) if parts else np.zeros(0)


def is_finite(x: Any) -> bool:
    value = float(x)
    return not math.isnan(value) and math.isfinite(value)


def _show(path: tuple) -> str:
    return repr(path[0]) if len(path) == 1 else repr(path)
