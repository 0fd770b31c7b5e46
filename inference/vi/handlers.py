"""JAX handlers for VI: run a guide (propose) or a model (log density) with JAX values.

The ppl fast path computes in numpy; these handlers keep every density a JAX value so that the
objective can be differentiated and jitted. Nested generative calls (`@ppl.gen` bodies,
`ppl.map`, `ppl.unfold`, `ppl.switch`) are inlined under their address.
"""
from __future__ import annotations

import zlib
from typing import Any

import jax
import numpy as np

from ppl.choicemap import ChoiceMap
from ppl.combinators import Switch
from ppl.distributions import NumpyroPrimitive, Primitive
from ppl.errors import AddressError, ModelError
from ppl.generative import DynamicGenFn
from ppl.handlers import Handler
from ppl.primitive_gf import PrimitiveGF

from inference.jax_log_prob import log_prob
from inference.vi.branching import Branch
from inference.vi.estimators import ENUMERATE, REINFORCE, REPARAM, EstimatorTable, finite_support, show


class JaxHandler(Handler):
    """Shared by both VI handlers: address prefixes for inlined calls, densities as JAX values."""

    def __init__(self) -> None:
        super().__init__(None)
        self.prefix: tuple = ()
        self.score: Any = 0.0

    def run(self, gen_fn: Any, args: tuple) -> Any:
        """Run a generative function's body under this handler."""
        with self:
            return self.inline((), gen_fn, args)

    def inline(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        if isinstance(gen_fn, Switch):
            index = args[0] if args else None
            if isinstance(index, jax.core.Tracer):
                raise ModelError(f"{gen_fn.name} at {show(path) if path else 'the top level'}: the branch index is a "
                                 "traced value; VI needs it concrete (enumerate the choice it comes from)")
            gen_fn.check_args(args)
            return self.inline(path, gen_fn.branches[int(index)], tuple(args[1:]))
        if not isinstance(gen_fn, DynamicGenFn):
            raise ModelError(f"VI runs @ppl.gen functions, ppl.map, ppl.unfold and ppl.switch in JAX; "
                             f"{getattr(gen_fn, 'name', gen_fn)!r} ({type(gen_fn).__name__}) at "
                             f"{show(path) if path else 'the top level'} is none of them")
        gen_fn.check_args(args)
        outer, self.prefix = self.prefix, path
        try:
            return gen_fn.fn(*args)
        finally:
            self.prefix = outer

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        full = self.prefix + path
        if isinstance(gen_fn, PrimitiveGF):
            self.claim(full)
            return self.choice(full, args[0])
        return self.inline(full, gen_fn, args)

    def choice(self, path: tuple, primitive: Primitive) -> Any:
        raise NotImplementedError


def _site_key(key: Any, path: tuple) -> Any:
    """A key for the choice at `path`, the same in every enumeration branch."""
    return jax.random.fold_in(key, zlib.crc32(repr(path).encode()))


def _concrete_discrete(primitive: Primitive, value: Any) -> Any:
    """A concrete discrete draw as Python int / numpy array, so it can index lists and dicts."""
    if isinstance(value, jax.core.Tracer) or not primitive.d.support.is_discrete:
        return value
    array = np.asarray(value)
    return int(array) if array.shape == () else array.astype(np.int64)


class ProposeHandler(JaxHandler):
    """Runs a guide: each choice is drawn the way its gradient estimator needs, log q accumulated."""

    def __init__(self, key: Any, branch: Branch | None):
        super().__init__()
        self.key = key
        self.branch = branch
        self.table = branch.table if branch is not None else EstimatorTable()
        self.choices: dict = {}

    def choice(self, path: tuple, primitive: Primitive) -> Any:
        kind = self.table.resolve(path, primitive)
        if kind == ENUMERATE and self.branch is not None:
            values = finite_support(primitive)
            value = values[self.branch.choose(path, len(values))]
        else:  # outside a gradient estimate, a finite choice is simply drawn
            value = self._draw(path, primitive, reparameterized=kind == REPARAM)
        lp = log_prob(primitive, value)
        if self.branch is not None and kind == ENUMERATE:
            self.branch.log_enumerated = self.branch.log_enumerated + lp
        elif self.branch is not None and kind == REINFORCE:
            self.branch.log_scored = self.branch.log_scored + lp
        self.score = self.score + lp
        self.choices[path] = value
        return value

    def _draw(self, path: tuple, primitive: Primitive, reparameterized: bool) -> Any:
        if not isinstance(primitive, NumpyroPrimitive):
            raise ModelError(f"the guide's choice at {show(path)} ({primitive!r}) can only be enumerated, inside "
                             "vi.gradient or vi.fit")
        key = _site_key(self.key, path)
        if reparameterized:
            return primitive.d.sample(key)
        fixed = jax.tree.map(jax.lax.stop_gradient, primitive.d)  # score function: no gradient through the value
        return _concrete_discrete(primitive, fixed.sample(key))

    def observe(self, path: tuple, primitive: Primitive, value: Any) -> None:
        raise ModelError(f"the guide observes at {show(self.prefix + path)}: a guide is a normalized distribution over "
                         "the model's latent choices (no observe, factor or condition)")

    def factor(self, log_weight: Any) -> None:
        raise ModelError("the guide calls ppl.factor or fails a ppl.condition: a guide is a normalized distribution over "
                         "the model's latent choices (no observe, factor or condition)")


class DensityHandler(JaxHandler):
    """Runs a model with every latent choice taken from `choices`: score = log p(choices, evidence)."""

    def __init__(self, choices: ChoiceMap):
        super().__init__()
        self.choices = choices
        self.visited: set[tuple] = set()

    def choice(self, path: tuple, primitive: Primitive) -> Any:
        if not self.choices.has_value(path):
            raise AddressError(f"the model samples address {show(path)}, but the guide proposes no value for it "
                               "(a guide must propose every latent choice of the model)")
        value = self.choices[path]
        self.visited.add(path)
        self.score = self.score + log_prob(primitive, value)
        return value

    def observe(self, path: tuple, primitive: Primitive, value: Any) -> None:
        self.claim(self.prefix + path)
        self.score = self.score + log_prob(primitive, value)

    def factor(self, log_weight: Any) -> None:
        self.score = self.score + log_weight

    def check_all_visited(self) -> None:
        """Every proposed choice was used by the model; a stray one is an address the model lacks."""
        for path in self.choices.addresses():
            if path not in self.visited:
                raise AddressError(f"the guide proposes address {show(path)}, which the model does not sample")
