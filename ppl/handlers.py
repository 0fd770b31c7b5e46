"""The handler stack: one handler per generative-function operation.

A `@ppl.gen` body runs under exactly one handler at a time (the top of the stack). Every
`ppl.sample` at an address is a *call* of a generative function (a primitive distribution is
the leaf generative function `PRIMITIVE`), and the handler decides what that call means:
simulate it, generate it under constraints, assess it, update or regenerate its old trace.
Nested calls push their own handler, so the five operations compose through sub-calls and the
interpreter is written once.

Weights (the derivations the tests check exactly):
  generate:   w = score - fresh                       (fresh = log q of prior-sampled choices)
  update:     w = new.score - old.score - fresh_new
  regenerate: w = new.score - old.score - fresh_new + fresh_old
where fresh_old counts old choices that the reverse move would sample afresh (selected or
removed ones). Each handler accumulates fresh_new - fresh_old over its sub-calls.
"""
from __future__ import annotations

import contextvars
import math
from typing import Any

from ppl.choicemap import EMPTY, ChoiceMap, Selection
from ppl.errors import AddressError, ModelError, SupportError
from ppl.distributions import Primitive
from ppl.log_weights import fresh_part
from ppl.primitive_gf import PrimitiveGF, ensure_ready

_STACK: contextvars.ContextVar[tuple] = contextvars.ContextVar("ppl_handler_stack", default=())


def current_handler() -> "Handler":
    stack = _STACK.get()
    if not stack:
        raise ModelError("ppl.sample/observe/factor/condition called outside a generative function: "
                         "run the function through g.simulate(rng, ...), g.generate(...), or an inference algorithm")
    return stack[-1]


class Handler:
    """Shared bookkeeping: visited addresses, sub-traces, score, observations."""

    def __init__(self, rng: Any):
        self.rng = rng
        self.subtraces: dict = {}
        self.observations: dict = {}
        self.score = 0.0
        self.choice_score = 0.0
        self.net_fresh = 0.0  # fresh_new - fresh_old over sub-calls
        self._paths: set = set()
        self._prefixes: set = set()

    def __enter__(self) -> "Handler":
        self._token = _STACK.set(_STACK.get() + (self,))
        return self

    def __exit__(self, *exc: Any) -> None:
        _STACK.reset(self._token)

    def claim(self, path: tuple) -> None:
        """Register an address; a repeated or overlapping address is an error naming it."""
        if path in self._paths:
            raise AddressError(f"address {_show(path)} is used twice in one execution")
        if path in self._prefixes or any(path[:i] in self._paths for i in range(1, len(path))):
            raise AddressError(f"address {_show(path)} overlaps another address (one is a prefix of the other)")
        self._paths.add(path)
        self._prefixes.update(path[:i] for i in range(1, len(path)))

    def record(self, path: tuple, trace: Any) -> Any:
        self.subtraces[path] = trace
        self.score += trace.score
        self.choice_score += trace.choice_score
        return trace.retval

    def observe(self, path: tuple, primitive: Primitive, value: Any) -> None:
        self.claim(path)
        ensure_ready(primitive)
        if not primitive.in_support(value):
            raise SupportError(f"observation {value!r} at address {_show(path)} lies outside the support of {primitive!r}")
        self.observations[path] = value
        self.score += primitive.log_prob(value)

    def factor(self, log_weight: float) -> None:
        value = float(log_weight)
        if math.isnan(value):
            raise ModelError("ppl.factor got NaN")
        self.score += value

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        raise NotImplementedError


def _show(path: tuple) -> str:
    return repr(path[0]) if len(path) == 1 else repr(path)


def sub_constraints(constraints: ChoiceMap, path: tuple) -> Any:
    """What `constraints` says at `path`: a value, a submap, or EMPTY."""
    try:
        return constraints.node(path)
    except AddressError:
        return EMPTY


def check_all_used(constraints: ChoiceMap, subtraces: dict, what: str) -> None:
    """Every constrained address was visited; a stray one is a misspelling, not a no-op."""
    for address in constraints.addresses():
        if not any(address[: len(path)] == path for path in subtraces):
            raise AddressError(f"{what} at address {_show(address)} names no choice the program made")


class SimulateHandler(Handler):
    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        self.claim(path)
        return self.record(path, gen_fn.simulate(self.rng, *args))


class GenerateHandler(Handler):
    def __init__(self, rng: Any, constraints: ChoiceMap):
        super().__init__(rng)
        self.constraints = constraints

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        self.claim(path)
        trace, weight = gen_fn.generate(self.rng, sub_constraints(self.constraints, path), *args)
        self.net_fresh += fresh_part(trace.score, 0.0, weight)
        return self.record(path, trace)


class AssessHandler(Handler):
    def __init__(self, choices: ChoiceMap):
        super().__init__(None)
        self.choices = choices

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        self.claim(path)
        node = sub_constraints(self.choices, path)
        if node is EMPTY and isinstance(gen_fn, PrimitiveGF):
            raise AddressError(f"assess: no value for the choice at address {_show(path)}")
        log_p, retval = gen_fn.assess(node, *args)
        self.score += log_p
        self.subtraces[path] = None
        return retval


class UpdateHandler(Handler):
    def __init__(self, rng: Any, previous: Any, constraints: ChoiceMap):
        super().__init__(rng)
        self.previous = previous
        self.constraints = constraints
        self.discard: dict = {}

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        self.claim(path)
        constraint = sub_constraints(self.constraints, path)
        old = self.previous.subtraces.get(path)
        if old is not None and old.gen_fn is gen_fn:
            trace, weight, discard = gen_fn.update(self.rng, old, constraint, *args)
            self.net_fresh += fresh_part(trace.score, old.score, weight)
            if not (isinstance(discard, ChoiceMap) and discard.is_empty()):
                self.discard[path] = discard
        else:
            trace, weight = gen_fn.generate(self.rng, constraint, *args)
            self.net_fresh += fresh_part(trace.score, 0.0, weight)
            if old is not None:
                self.discard[path] = old.choices
        return self.record(path, trace)

    def removed_choices(self) -> None:
        for path, old in self.previous.subtraces.items():
            if path not in self.subtraces:
                self.discard[path] = old.choices


class RegenerateHandler(Handler):
    def __init__(self, rng: Any, previous: Any, selection: Selection):
        super().__init__(rng)
        self.previous = previous
        self.selection = selection

    def _sub_selection(self, path: tuple) -> Selection:
        selection = self.selection
        for key in path:
            selection = selection.sub(key)
        return selection

    def call(self, path: tuple, gen_fn: Any, args: tuple) -> Any:
        self.claim(path)
        old = self.previous.subtraces.get(path)
        if old is not None and old.gen_fn is gen_fn:
            trace, weight = gen_fn.regenerate(self.rng, old, self._sub_selection(path), *args)
            self.net_fresh += fresh_part(trace.score, old.score, weight)
        else:
            trace, weight = gen_fn.generate(self.rng, EMPTY, *args)
            self.net_fresh += fresh_part(trace.score, 0.0, weight)
            if old is not None:
                self.net_fresh -= old.choice_score
        return self.record(path, trace)

    def removed_fresh(self) -> float:
        return sum(old.choice_score for path, old in self.previous.subtraces.items() if path not in self.subtraces)

