"""Exact enumeration of a guide's finite choices, by re-running the objective once per outcome.

An objective is a Python program; to sum it over every value of an enumerated choice, it is run
again for each value (depth first, like semantics' enumerating rng). The enumerated values are
concrete Python values in every run, so Python control flow on them works, even under jax.jit,
where the whole search happens at trace time. Each run is a `Branch`, which also accumulates
the log guide probabilities that the gradient estimators need.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any, Callable

from inference.vi.estimators import EstimatorError, EstimatorTable, show

_CURRENT: contextvars.ContextVar["Branch | None"] = contextvars.ContextVar("vi_branch", default=None)


@dataclass
class Branch:
    """One run of an objective: the enumerated outcomes it follows and the log-probabilities it met."""

    prefix: list[int]
    table: EstimatorTable
    indices: list[int] = field(default_factory=list)
    alternatives: list[tuple[int, int]] = field(default_factory=list)  # (position, number of values)
    enumerated: list[tuple] = field(default_factory=list)  # addresses, for error messages
    log_enumerated: Any = 0.0  # log q of the enumerated choices: this run's weight in the sum
    log_scored: Any = 0.0  # log q of the REINFORCE choices: carries their score-function term

    def choose(self, path: tuple, size: int) -> int:
        """The index of the value this run takes at the next enumerated choice."""
        position = len(self.indices)
        if position < len(self.prefix):
            index = self.prefix[position]
            if index >= size:
                raise RuntimeError(f"the objective is not deterministic given its enumerated choices (replay diverged at {show(path)})")
        else:
            index = 0
            if size > 1:
                self.alternatives.append((position, size))
        self.indices.append(index)
        self.enumerated.append(path)
        return index


def current_branch() -> Branch | None:
    """The branch being run, or None outside a gradient estimate."""
    return _CURRENT.get()


def run_branches(run: Callable[[], Any], table: EstimatorTable, max_branches: int) -> list[tuple[Branch, Any]]:
    """`run()` once per joint outcome of the enumerated choices, with each run's branch."""
    stack: list[list[int]] = [[]]
    out: list[tuple[Branch, Any]] = []
    while stack:
        branch = Branch(stack.pop(), table)
        token = _CURRENT.set(branch)
        try:
            value = run()
        finally:
            _CURRENT.reset(token)
        out.append((branch, value))
        for position, size in reversed(branch.alternatives):
            for alternative in range(size - 1, 0, -1):
                stack.append(branch.indices[:position] + [alternative])
        if len(out) + len(stack) > max_branches:
            addresses = sorted({show(p) for p in branch.enumerated})
            raise EstimatorError(f"enumerating the guide's finite choices ({', '.join(addresses)}) needs more than "
                                 f"max_branches={max_branches} runs of the objective; estimate some of them with "
                                 "vi.reinforce() (estimators={address: vi.reinforce()}) or raise max_branches")
    return out
