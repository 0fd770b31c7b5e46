"""`ModelPopulation`: particles that are `ppl.Model` objects, stepped together so their LM requests batch.

Each step drives every unfinished particle's `run_step(rng)` coroutine through
`ppl.run_batched`, so all their LM requests are served by one batched forward pass. Re-indexing
reuses each ancestor object once and clones it for its further copies (cloning copies state,
it never re-runs the program). Twists live in the Model (`Model.twist` / `untwist`): they are
part of the weight that steers selection and are removed before the particle's next step and
when it finishes, so final weights are untwisted.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from inference.history.record import ParticleSummary
from inference.history.summaries import model_summary
from inference.result import Particle
from ppl.batching import run_batched
from ppl.model import Model


class ModelPopulation:
    """N clones of a `ppl.Model`, each a particle."""

    def __init__(self, model: Model, n: int, rejuvenation: Callable[[Any, Any], Any] | None = None):
        self.members = [model.clone() for _ in range(n)]
        if n > 1 and not model._is_async() and _holds_lm_context(model):
            warnings.warn(f"{type(model).__name__}.step is synchronous, so the LM requests of its {n} particles are served "
                          "one at a time, not in one batched forward pass; define `async def step` and `await` the LM "
                          "distributions (e.g. `await self.sample(ctx.next_token(), ...)`) to batch them",
                          RuntimeWarning, stacklevel=4)
        self.rejuvenation = rejuvenation
        self._initial = model.clone() if rejuvenation is not None else None
        self._programs: dict[int, Any] = {}

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

    def rejuvenate(self, rng: Any) -> None:
        """Move every particle with the rejuvenation kernel, on the trace of its k-step prefix program.

        The prefix is replayed from the initial model with every choice fixed (nothing is drawn;
        LM requests are memoized), the kernel moves the trace, and the trace's return value (the
        model after k steps) becomes the particle, keeping its weight: the kernel leaves the
        (twisted) prefix target invariant, so the population stays properly weighted.
        """
        if self.rejuvenation is None:
            return
        moved = []
        for particle in self.members:
            k = particle.step_index
            program = self._programs.get(k)
            if program is None:
                program = self._programs[k] = self._initial.program(steps=k)
            trace, _ = program.generate(rng, particle.choices)
            new = self.rejuvenation(rng, trace)
            new = new[0] if isinstance(new, tuple) else new
            if new.gen_fn is not program:
                raise TypeError(f"rejuvenation returned a trace of {getattr(new.gen_fn, 'name', new.gen_fn)!r}, "
                                f"not of the prefix program {program.name}")
            model = new.retval
            model.weight = particle.weight
            moved.append(model)
        self.members = moved

    def particles(self) -> list[Particle]:
        return [Particle(p, float(p.weight)) for p in self.members]

    def summaries(self) -> list[ParticleSummary]:
        """Each particle's text so far (its `summary()`, or its choices), for a recorded run."""
        return [model_summary(p) for p in self.members]


def _holds_lm_context(model: Model) -> bool:
    """Whether an attribute of the model is a language-model context (duck-typed: inference never imports lm)."""
    return any(hasattr(value, "llm") and hasattr(value, "next_token") for value in vars(model).values())
