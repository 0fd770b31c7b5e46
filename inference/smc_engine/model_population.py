"""`ModelPopulation`: particles that are `ppl.Model` objects, stepped together so their LM requests batch.

Each step drives every unfinished particle's `run_step(rng)` coroutine through
`ppl.run_batched`, so all their LM requests are served by one batched forward pass. Re-indexing
reuses each ancestor object once and clones it for its further copies (cloning copies state,
it never re-runs the program). Twists live in the Model (`Model.twist` / `untwist`): they are
part of the weight that steers selection and are removed before the particle's next step and
when it finishes, so final weights are untwisted.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from inference.result import Particle
from ppl.batching import run_batched
from ppl.model import Model


class ModelPopulation:
    """N clones of a `ppl.Model`, each a particle."""

    def __init__(self, model: Model, n: int):
        self.members = [model.clone() for _ in range(n)]

    def __len__(self) -> int:
        return len(self.members)

    def advance(self, rng: Any) -> None:
        run_batched([p.run_step(rng) for p in self.members if not p.finished])

    def status(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([p.weight for p in self.members], dtype=np.float64),
                np.array([p.finished for p in self.members], dtype=bool))

    def reindex(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        used: set[int] = set()
        offspring = []
        for a, w in zip(ancestors, log_weights):
            a = int(a)
            child = self.members[a] if a not in used else self.members[a].clone()
            used.add(a)
            child.weight = float(w)
            offspring.append(child)
        self.members = offspring

    def particles(self) -> list[Particle]:
        return [Particle(p, float(p.weight)) for p in self.members]
