"""The enumerating rng: run a program once per outcome of its discrete randomness.

`explore(fn)` calls `fn(rng)` repeatedly with an `EnumeratingRng` that replays a prescribed
prefix of categorical outcomes and takes the first outcome with positive probability after
it, recording the alternatives; a depth-first search over those alternatives visits every
outcome sequence exactly once, each with its exact probability (the product of the
probabilities of its draws). Any algorithm that takes its discrete randomness from
`rng.categorical` can therefore be run exhaustively (anchor: monad-bayes' enumeration,
Ścibior et al., POPL 2018). Continuous draws raise NotFiniteError.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ppl.errors import NotFiniteError
from ppl.rng import normalized


class EnumeratingRng:
    """An rng whose categorical draws follow a given prefix, then the first possible outcome."""

    def __init__(self, prefix: list[int], max_draws: int):
        self.path = list(prefix)
        self.position = 0
        self.log_prob = 0.0
        self.branches: list[tuple[int, list[int]]] = []  # (position, untaken alternatives)
        self.max_draws = max_draws

    def categorical(self, probs: np.ndarray) -> int:
        p = normalized(probs)
        if self.position >= self.max_draws:
            raise NotFiniteError(f"more than {self.max_draws} random draws in one execution: the program may not terminate "
                                 "(raise max_draws if it is finite)")
        if self.position < len(self.path):
            index = self.path[self.position]
            if index >= len(p) or p[index] == 0:
                raise RuntimeError("the explored program is not deterministic given its random draws (replay diverged)")
        else:
            support = np.flatnonzero(p).tolist()
            index = support[0]
            self.path.append(index)
            if len(support) > 1:
                self.branches.append((self.position, support[1:]))
        self.log_prob += float(np.log(p[index]))
        self.position += 1
        return index

    def uniform(self) -> float:
        raise NotFiniteError("a continuous draw (uniform) cannot be enumerated")

    def normal(self) -> float:
        raise NotFiniteError("a continuous draw (normal) cannot be enumerated")

    def numpy(self) -> np.random.Generator:
        raise NotFiniteError("a continuous draw cannot be enumerated (the program samples a continuous or unbounded distribution)")

    def jax_key(self):
        raise NotFiniteError("a draw through a JAX key cannot be enumerated (continuous or unbounded distribution)")

    def split(self, n: int) -> list["EnumeratingRng"]:
        # Children draw from the same outcome stream, in the deterministic order they are used.
        return [self] * n


@dataclass(frozen=True)
class Outcome:
    """One execution: its probability under the explored randomness and what fn returned."""

    log_prob: float
    value: Any


def explore(fn: Callable[[EnumeratingRng], Any], *, max_outcomes: int = 200_000, max_draws: int = 10_000) -> Iterator[Outcome]:
    """Every outcome of `fn(rng)` with its probability; NotFiniteError past the limits."""
    stack: list[list[int]] = [[]]
    count = 0
    while stack:
        prefix = stack.pop()
        rng = EnumeratingRng(prefix, max_draws)
        value = fn(rng)
        count += 1
        if count > max_outcomes:
            raise NotFiniteError(f"more than {max_outcomes} outcomes: too many to enumerate (raise max_outcomes if intended)")
        for position, alternatives in reversed(rng.branches):
            for alternative in reversed(alternatives):
                stack.append(rng.path[:position] + [alternative])
        yield Outcome(rng.log_prob, value)
