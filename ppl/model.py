"""Sequential models (LLaMPPL-style): state in attributes, one `step()` per SMC step.

A `ppl.Model` subclass keeps its state in attributes and advances in `step()` (sync, or
`async` where it awaits batched LM calls). Inside a step it uses `self.sample`, `self.observe`,
`self.condition`, `self.factor`, `self.twist` and `self.finish`. Every choice is recorded in a
persistent trace under `(step_index, addr)`; cloning a particle shares that trace and any
attribute that declares itself shared, and copies only the rest of the state.
"""
from __future__ import annotations

import copy
import inspect
import math
from dataclasses import dataclass
from typing import Any

from ppl.batching import run_sync
from ppl.choicemap import ChoiceMap, as_path
from ppl.distributions import Primitive, as_primitive
from ppl.errors import AddressError, ModelError, SupportError
from ppl import generative
from ppl.generative import GenCall
from ppl.handlers import current_handler
from ppl.primitive_gf import ensure_ready

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), frozenset, range)


@dataclass(frozen=True)
class StepRecord:
    """One step's choices, linked to the previous step's record (a persistent list)."""

    index: int
    choices: tuple  # ((path, value), ...)
    previous: "StepRecord | None"

    __ppl_shared__ = True


def clone_value(value: Any, memo: dict) -> Any:
    """A copy of one attribute for a cloned particle: shared if immutable or declared shared."""
    if isinstance(value, _IMMUTABLE) or getattr(value, "__ppl_shared__", False):
        return value
    clone = getattr(value, "clone", None)
    if callable(clone) and not isinstance(value, type):
        return clone()
    return copy.deepcopy(value, memo)


class Model:
    """Base class of sequential models; subclasses define `step()` and call `super().__init__()`.

    `shared_attributes` names attributes that clones share instead of copying: immutable
    values the class knows about (a constraint and its immutable parser state, a tokenizer
    trie) that `clone_value` cannot recognize as immutable by their type.
    """

    shared_attributes: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.weight = 0.0
        self.twist_amount = 0.0
        self.finished = False
        self.step_index = 0
        self._records: StepRecord | None = None
        self._current: list = []
        self._rng: Any = None
        self._replaying = False  # True inside a ModelProgram: statements go to the GFI handler on top

    # -- what a step may do -------------------------------------------------------------

    def step(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def sample(self, d: Any, address: Any) -> Any:
        """A random choice at `address` (awaitable inside an async step)."""
        if self._is_async():
            return self._sample_async(d, address)
        if isinstance(d, GenCall):
            return self._record_call(d, address)
        primitive = self._primitive(d, address)
        ensure_ready(primitive)
        return self._record_sample(primitive, address)

    async def _sample_async(self, d: Any, address: Any) -> Any:
        if isinstance(d, GenCall):
            return self._record_call(d, address)
        primitive = self._primitive(d, address)
        pending = primitive.pending()
        if pending is not None:
            await pending
        return self._record_sample(primitive, address)

    def _replayed(self, statement: Any, d: Any, address: Any) -> Any:
        """`statement` (ppl.sample) under the handler on top, at (step, address), recorded as a choice."""
        path = self._claim(address)
        full = (self.step_index,) + path
        value = statement(d, full)
        recorded = current_handler().subtraces[full].choices if isinstance(d, GenCall) else value
        self._current.append((path, recorded))
        return value

    def sample_with(self, sampler: Any, address: Any) -> Any:
        """A choice from a properly weighted sampler: `sampler(rng) -> (value, log_weight)`.

        For proposals whose density is unknown but that return an unbiased weight for the
        target (AWRS returns p(x)c(x)/q(x) estimated); the weight enters the particle's weight.
        A value of None means no value was possible: the particle dies.
        """
        if self._rng is None:
            raise ModelError(f"{type(self).__name__}: sample_with called outside a step run by inference")
        if self._replaying:
            raise ModelError(f"{type(self).__name__}: sample_with at {address!r} draws from a properly weighted sampler, "
                             "which has no density: a model using it cannot be replayed as a generative function")
        path = self._claim(address)
        value, log_weight = sampler(self._rng)
        self._current.append((path, value))
        self.factor(log_weight)
        if value is None or log_weight == -math.inf:
            self.condition(False)
        return value

    def observe(self, d: Any, value: Any, address: Any = None) -> Any:
        """Evidence that `value` came from `d` (awaitable inside an async step)."""
        if self._is_async():
            return self._observe_async(d, value, address)
        primitive = self._primitive(d, address)
        ensure_ready(primitive)
        return self._score_observation(primitive, value, address)

    async def _observe_async(self, d: Any, value: Any, address: Any) -> Any:
        primitive = self._primitive(d, address)
        pending = primitive.pending()
        if pending is not None:
            await pending
        return self._score_observation(primitive, value, address)

    def condition(self, holds: bool) -> None:
        """A hard constraint; a failed one kills the particle (weight -inf) and finishes it."""
        if self._replaying:
            generative.condition(holds)
        if not bool(holds):
            self.weight = -math.inf
            self.finished = True

    def factor(self, log_weight: float) -> None:
        """Soft evidence: add `log_weight` to the particle's weight."""
        value = float(log_weight)
        if math.isnan(value):
            raise ModelError(f"{type(self).__name__}.factor got NaN")
        if self._replaying:
            generative.factor(value)
        self.weight += value

    def twist(self, amount: float) -> None:
        """A temporary weight that steers resampling; removed before the next step and at the end."""
        value = float(amount)
        if not math.isfinite(value):
            raise ModelError(f"{type(self).__name__}.twist got {value}: a twist must be finite "
                             "(to kill a particle whose prefix cannot be completed, use condition(False))")
        if self._replaying:
            generative.factor(value)
        self.weight += value
        self.twist_amount += value

    def finish(self) -> None:
        """This particle is complete."""
        self.finished = True

    # -- what inference uses ------------------------------------------------------------

    def untwist(self) -> None:
        """Remove the twist of the previous step from the weight."""
        if self.twist_amount != 0.0:
            if self._replaying:
                generative.factor(-self.twist_amount)
            self.weight -= self.twist_amount
            self.twist_amount = 0.0

    def run_step(self, rng: Any) -> Any:
        """The coroutine of one step under `rng` (for a batching driver); records its choices."""
        self._check_initialized()
        return self._step_coroutine(rng)

    async def _step_coroutine(self, rng: Any) -> None:
        self.untwist()
        self._rng, self._current = rng, []
        result = self.step()
        if inspect.isawaitable(result):
            await result
        self._records = StepRecord(self.step_index, tuple(self._current), self._records)
        self._current = []
        self.step_index += 1
        if self.finished:
            self.untwist()

    def step_sync(self, rng: Any) -> None:
        """Run one step, serving LM requests one at a time (no batching)."""
        run_sync(self.run_step(rng))

    def clone(self) -> "Model":
        """An independent particle with the same state; the trace is shared, not copied."""
        self._check_initialized()
        new = object.__new__(type(self))
        memo: dict = {}
        shared = type(self).shared_attributes
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key == "_rng" or key in shared else clone_value(value, memo)
        return new

    def program(self, steps: int | None = None, max_steps: int = 10_000) -> Any:
        """This model (from its present state) as a generative function: its steps replayed under the GFI handlers.

        Choices sit under (step_index, address), the layout of `choices`; the return value is the
        model object after `steps` steps (all of them when None), so simulate/generate/assess/update/
        regenerate, and MCMC kernels built on them, work on Model programs (ppl/model_program.py).
        """
        from ppl.model_program import ModelProgram

        return ModelProgram(self, steps, max_steps)

    @property
    def choices(self) -> ChoiceMap:
        """Every recorded choice under (step_index, addr)."""
        records = []
        node = self._records
        while node is not None:
            records.append(node)
            node = node.previous
        flat = {}
        for record in reversed(records):
            for path, value in record.choices:
                flat[(record.index,) + path] = value
        return ChoiceMap(flat)

    # -- internals ----------------------------------------------------------------------

    def _check_initialized(self) -> None:
        if "_records" not in self.__dict__:
            raise ModelError(f"{type(self).__name__}.__init__ must call super().__init__()")

    def _is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.step)

    def _primitive(self, d: Any, address: Any) -> Primitive:
        if self._rng is None and not self._replaying:
            raise ModelError(f"{type(self).__name__}: sample/observe called outside a step run by inference")
        try:
            return as_primitive(d)
        except (TypeError, ValueError) as e:
            raise type(e)(f"at address {address!r}: {e}") from None

    def _claim(self, address: Any) -> tuple:
        path = as_path(address)
        if any(p == path for p, _ in self._current):
            raise AddressError(f"{type(self).__name__}: address {address!r} used twice in step {self.step_index}")
        return path

    def _record_sample(self, primitive: Primitive, address: Any) -> Any:
        if self._replaying:
            return self._replayed(generative.sample, primitive, address)
        path = self._claim(address)
        value = primitive.sample(self._rng)
        self._current.append((path, value))
        return value

    def _record_call(self, call: GenCall, address: Any) -> Any:
        if self._replaying:
            return self._replayed(generative.sample, call, address)
        path = self._claim(address)
        trace = call.gen_fn.simulate(self._rng, *call.args)
        self._current.append((path, trace.choices))
        self.weight += trace.score - trace.choice_score if trace.score > -math.inf else -math.inf  # evidence inside the call
        return trace.retval

    def _score_observation(self, primitive: Primitive, value: Any, address: Any) -> Any:
        if self._replaying:
            where = ("observed", len(self._current)) if address is None else as_path(address)
            generative.observe(primitive, value, (self.step_index,) + where)
            self.weight += primitive.log_prob(value)
            return value
        if not primitive.in_support(value):
            raise SupportError(f"{type(self).__name__}: observation {value!r} at address {address!r} lies outside the support of {primitive!r}")
        self.weight += primitive.log_prob(value)
        return value
