"""Combinators: generative functions built from others, with the whole interface.

`map` and `unfold` are written in the modeling language itself (their bodies call the kernel
under addresses `i`), so they inherit simulate/generate/assess/update/regenerate from the one
interpreter; `switch` splices the chosen branch's choices at its own level and so implements
the interface by delegation.
"""
from __future__ import annotations

from typing import Any

from ppl.choicemap import EMPTY, ChoiceMap, Selection
from ppl.generative import DynamicGenFn, GenerativeFunction, sample
from ppl.log_weights import fresh_part, log_weight
from ppl.rng import rng as as_rng
from ppl.trace import CallTrace


def _kernel(g: Any, what: str) -> GenerativeFunction:
    if not isinstance(g, GenerativeFunction):
        raise TypeError(f"{what} needs a generative function (made with @ppl.gen), got {type(g).__name__}")
    return g


class Map(DynamicGenFn):
    """Independent applications of a kernel: choices of application i live under (i, ...).

    `map(g)(xs, ys)` applies g(xs[i], ys[i]) for each i; `map(g, n)(a, b)` applies g(a, b) n times
    (an iid plate). Returns the list of results.
    """

    def __init__(self, kernel: GenerativeFunction, n: int | None = None):
        self.kernel = _kernel(kernel, "ppl.map")
        if n is not None and (not isinstance(n, int) or n < 0):
            raise ValueError(f"ppl.map: n must be a non-negative int, got {n!r}")
        self.n = n
        super().__init__(self._body, name=f"map({kernel.name})")
        self._signature = None

    def check_args(self, args: tuple) -> None:
        if self.n is not None:
            self.kernel.check_args(args)
            return
        if not args:
            raise TypeError(f"{self.name}: give one sequence per kernel argument, or build it with ppl.map(g, n)")
        lengths = {len(a) for a in args if hasattr(a, "__len__")}
        if len(lengths) != 1 or not all(hasattr(a, "__len__") for a in args):
            raise TypeError(f"{self.name}: every argument must be a sequence of the same length, got lengths {[len(a) if hasattr(a, '__len__') else None for a in args]}")

    def _body(self, *args: Any) -> list:
        if self.n is not None:
            return [sample(self.kernel(*args), i) for i in range(self.n)]
        return [sample(self.kernel(*items), i) for i, items in enumerate(zip(*args))]


class Unfold(DynamicGenFn):
    """A state-space model: state_t = kernel(t, state_{t-1}, *params) for t < steps.

    Choices of step t live under (t, ...). Returns the list of states after each step.
    """

    def __init__(self, kernel: GenerativeFunction, steps: int):
        self.kernel = _kernel(kernel, "ppl.unfold")
        if not isinstance(steps, int) or steps < 0:
            raise ValueError(f"ppl.unfold: steps must be a non-negative int, got {steps!r}")
        self.steps = steps
        super().__init__(self._body, name=f"unfold({kernel.name}, {steps})")
        self._signature = None

    def check_args(self, args: tuple) -> None:
        if not args:
            raise TypeError(f"{self.name}: needs the initial state as first argument")

    def _body(self, state: Any, *params: Any) -> list:
        states = []
        for t in range(self.steps):
            state = sample(self.kernel(t, state, *params), t)
            states.append(state)
        return states


class Switch(GenerativeFunction):
    """One of several branches, chosen by an index argument: `switch(g0, g1)(i, *args)`.

    The chosen branch's choices live at the switch's own level. Changing the index in update
    discards the old branch's choices and generates the new branch's.
    """

    def __init__(self, *branches: GenerativeFunction):
        if not branches:
            raise ValueError("ppl.switch needs at least one branch")
        self.branches = [_kernel(b, "ppl.switch") for b in branches]
        self.name = f"switch({', '.join(b.name for b in self.branches)})"

    def check_args(self, args: tuple) -> None:
        if not args:
            raise TypeError(f"{self.name}: the first argument is the branch index")
        index = args[0]
        if not isinstance(index, (int,)) and not (hasattr(index, "__index__")):
            raise TypeError(f"{self.name}: branch index must be an int, got {index!r}")
        if not 0 <= int(index) < len(self.branches):
            raise IndexError(f"{self.name}: branch index {index!r} out of range 0..{len(self.branches) - 1}")
        self.branches[int(index)].check_args(tuple(args[1:]))

    def _wrap(self, inner: Any, args: tuple) -> CallTrace:
        return CallTrace(self, args, inner.retval, inner.score, inner.choice_score, {"branch": inner}, _choices=inner.choices)

    def simulate(self, rng: Any, *args: Any) -> CallTrace:
        self.check_args(args)
        return self._wrap(self.branches[int(args[0])].simulate(as_rng(rng), *args[1:]), args)

    def generate(self, rng: Any, constraints: Any, *args: Any) -> tuple[CallTrace, float]:
        self.check_args(args)
        inner, weight = self.branches[int(args[0])].generate(as_rng(rng), constraints, *args[1:])
        return self._wrap(inner, args), weight

    def assess(self, choices: Any, *args: Any) -> tuple[float, Any]:
        self.check_args(args)
        return self.branches[int(args[0])].assess(choices, *args[1:])

    def update(self, rng: Any, trace: CallTrace, constraints: Any, *args: Any) -> tuple[CallTrace, float, ChoiceMap]:
        args = args or trace.args
        self.check_args(args)
        old = trace.subtraces["branch"]
        branch = self.branches[int(args[0])]
        if branch is old.gen_fn and int(args[0]) == int(trace.args[0]):
            inner, weight, discard = branch.update(as_rng(rng), old, constraints, *args[1:])
            return self._wrap(inner, args), weight, discard
        inner, gen_weight = branch.generate(as_rng(rng), constraints, *args[1:])
        fresh = fresh_part(inner.score, 0.0, gen_weight)
        return self._wrap(inner, args), log_weight(inner.score, trace.score, fresh), ChoiceMap.coerce(old.choices)

    def regenerate(self, rng: Any, trace: CallTrace, selection: Selection, *args: Any) -> tuple[CallTrace, float]:
        args = args or trace.args
        self.check_args(args)
        old = trace.subtraces["branch"]
        branch = self.branches[int(args[0])]
        if branch is old.gen_fn and int(args[0]) == int(trace.args[0]):
            inner, weight = branch.regenerate(as_rng(rng), old, selection, *args[1:])
            return self._wrap(inner, args), weight
        inner, gen_weight = branch.generate(as_rng(rng), EMPTY, *args[1:])
        fresh_new, fresh_old = fresh_part(inner.score, 0.0, gen_weight), old.choice_score
        return self._wrap(inner, args), log_weight(inner.score, trace.score, fresh_new - fresh_old)


def map(kernel: GenerativeFunction, n: int | None = None) -> Map:  # noqa: A001 - the API name
    """Independent repetition of `kernel` (a plate); see Map."""
    return Map(kernel, n)


def unfold(kernel: GenerativeFunction, steps: int) -> Unfold:
    """A state-space model over `steps` steps; see Unfold."""
    return Unfold(kernel, steps)


def switch(*branches: GenerativeFunction) -> Switch:
    """A branch chosen by an index argument; see Switch."""
    return Switch(*branches)


