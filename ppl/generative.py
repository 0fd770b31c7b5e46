"""Generative functions written in plain Python (`@ppl.gen`) and the statements they use.

`ppl.sample(d, addr)` makes a random choice (d a distribution) or calls another generative
function under a hierarchical address (d = `g(args)`); `observe`, `factor` and `condition` add
evidence to the score. What these statements mean is decided by the handler on top of the
stack (see ppl.handlers), so simulate, generate, assess, update and regenerate share one
interpreter: running the Python body.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Callable

from ppl.choicemap import ChoiceMap, Selection, as_path
from ppl.distributions import Primitive, as_primitive
from ppl.errors import ModelError
from ppl.handlers import (
    AssessHandler,
    GenerateHandler,
    RegenerateHandler,
    SimulateHandler,
    UpdateHandler,
    check_all_used,
    current_handler,
)
from ppl.log_weights import log_weight
from ppl.primitive_gf import PRIMITIVE
from ppl.rng import rng as as_rng
from ppl.trace import CallTrace


class GenCall:
    """A generative function applied to arguments, not yet run: what `ppl.sample` calls."""

    __slots__ = ("gen_fn", "args")

    def __init__(self, gen_fn: "GenerativeFunction", args: tuple):
        self.gen_fn, self.args = gen_fn, args

    def __repr__(self) -> str:
        return f"{self.gen_fn.name}{self.args!r}"


class GenerativeFunction:
    """The generative-function interface (Gen's): simulate, generate, assess, update, regenerate.

    Every `rng` argument is an int seed or an rng object; every choices/constraints argument
    a ChoiceMap or a plain (nested) dict.
    """

    name: str = "generative_function"

    def __call__(self, *args: Any) -> GenCall:
        self.check_args(args)
        return GenCall(self, args)

    def check_args(self, args: tuple) -> None:
        """Raise TypeError naming the function and argument when `args` do not fit."""

    def simulate(self, rng: Any, *args: Any) -> Any:
        raise NotImplementedError

    def generate(self, rng: Any, constraints: Any, *args: Any) -> tuple[Any, float]:
        raise NotImplementedError

    def assess(self, choices: Any, *args: Any) -> tuple[float, Any]:
        raise NotImplementedError

    def update(self, rng: Any, trace: Any, constraints: Any, *args: Any) -> tuple[Any, float, ChoiceMap]:
        """New trace with `constraints` imposed (and new args, if given; else the trace's)."""
        raise NotImplementedError

    def regenerate(self, rng: Any, trace: Any, selection: Selection, *args: Any) -> tuple[Any, float]:
        raise NotImplementedError


class DynamicGenFn(GenerativeFunction):
    """A generative function whose body is a Python function using ppl.sample and friends."""

    def __init__(self, fn: Callable, name: str | None = None):
        if inspect.iscoroutinefunction(fn):
            raise ModelError(f"@ppl.gen function {fn.__name__!r} is async; use ppl.Model for async steps")
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", repr(fn))
        self._signature = _signature_or_none(fn)
        functools.update_wrapper(self, fn, updated=())

    def __repr__(self) -> str:
        return f"<generative function {self.name}>"

    def check_args(self, args: tuple) -> None:
        if self._signature is None:
            return
        try:
            self._signature.bind(*args)
        except TypeError as e:
            raise TypeError(f"{self.name}{self._signature}: {e}") from None

    def _run(self, handler: Any, args: tuple) -> tuple[Any, Any]:
        self.check_args(args)
        with handler:
            retval = self.fn(*args)
        return handler, retval

    def _trace(self, handler: Any, args: tuple, retval: Any) -> CallTrace:
        return CallTrace(self, args, retval, handler.score, handler.choice_score, handler.subtraces, handler.observations)

    def simulate(self, rng: Any, *args: Any) -> CallTrace:
        handler, retval = self._run(SimulateHandler(as_rng(rng)), args)
        return self._trace(handler, args, retval)

    def generate(self, rng: Any, constraints: Any, *args: Any) -> tuple[CallTrace, float]:
        constraints = ChoiceMap.coerce(constraints)
        handler, retval = self._run(GenerateHandler(as_rng(rng), constraints), args)
        check_all_used(constraints, handler.subtraces, f"{self.name}: constraint")
        return self._trace(handler, args, retval), log_weight(handler.score, 0.0, handler.net_fresh)

    def assess(self, choices: Any, *args: Any) -> tuple[float, Any]:
        choices = ChoiceMap.coerce(choices)
        handler, retval = self._run(AssessHandler(choices), args)
        check_all_used(choices, handler.subtraces, f"{self.name}: assessed choice")
        return handler.score, retval

    def update(self, rng: Any, trace: CallTrace, constraints: Any, *args: Any) -> tuple[CallTrace, float, ChoiceMap]:
        args = args or trace.args
        constraints = ChoiceMap.coerce(constraints)
        handler, retval = self._run(UpdateHandler(as_rng(rng), trace, constraints), args)
        check_all_used(constraints, handler.subtraces, f"{self.name}: update constraint")
        handler.removed_choices()
        new = self._trace(handler, args, retval)
        return new, log_weight(new.score, trace.score, handler.net_fresh), ChoiceMap(handler.discard)

    def regenerate(self, rng: Any, trace: CallTrace, selection: Selection, *args: Any) -> tuple[CallTrace, float]:
        args = args or trace.args
        if not isinstance(selection, Selection):
            raise TypeError(f"regenerate needs a Selection (ppl.select(...)), got {type(selection).__name__}")
        handler, retval = self._run(RegenerateHandler(as_rng(rng), trace, selection), args)
        new = self._trace(handler, args, retval)
        net_fresh = handler.net_fresh - handler.removed_fresh()
        return new, log_weight(new.score, trace.score, net_fresh)


def _signature_or_none(fn: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def gen(fn: Callable) -> DynamicGenFn:
    """Make a generative function from a Python function that uses ppl.sample and friends."""
    return DynamicGenFn(fn)


def sample(d: Any, address: Any) -> Any:
    """A random choice from distribution `d` at `address`, or a call `g(args)` under `address`."""
    path = as_path(address)
    handler = current_handler()
    if isinstance(d, GenCall):
        return handler.call(path, d.gen_fn, d.args)
    if isinstance(d, GenerativeFunction):
        raise TypeError(f"ppl.sample at {address!r} got the generative function {d.name} itself; call it with its arguments: {d.name}(...)")
    return handler.call(path, PRIMITIVE, (_primitive_at(d, address),))


def observe(d: Any, value: Any, address: Any) -> Any:
    """Evidence: `value` was drawn from `d`; adds log d(value) to the score."""
    current_handler().observe(as_path(address), _primitive_at(d, address), value)
    return value


def factor(log_weight: float) -> None:
    """Add `log_weight` to the score (soft evidence)."""
    current_handler().factor(log_weight)


def condition(holds: bool) -> None:
    """A hard constraint: if it fails, the execution has probability zero (score -inf)."""
    if not bool(holds):
        current_handler().factor(-math.inf)


def _primitive_at(d: Any, address: Any) -> Primitive:
    try:
        return as_primitive(d)
    except (TypeError, ValueError) as e:
        raise type(e)(f"at address {address!r}: {e}") from None
