"""`UnfoldPopulation`: particles of SMC over a `ppl.unfold(kernel, T)` generative function.

The intermediate targets are the prefixes `unfold(kernel, t)`, t = 1..T. A particle is extended
by one step with `kernel.simulate(rng, t, state, *params)` (the prior proposal), so its
incremental weight is that step's evidence (score minus choice score), and costs O(1) per step:
the particle keeps its per-step choices in a persistent list, shared between the copies that
resampling makes. A full trace of a prefix (or of the whole unfold, for the result) is built
only when needed, with `prefix.generate(rng, choices, *args)`, which draws nothing because every
choice is constrained. With a `reference` trace the last particle follows it step by step
(conditional SMC). With a `rejuvenation` kernel `kernel(rng, trace) -> trace` (or
`-> (trace, accepted)`, as inference.mcmc's kernels), every particle's prefix trace is moved
after each resampling; the kernel must leave the prefix posterior invariant.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from inference.history.record import ParticleSummary
from inference.history.summaries import choices_summary
from inference.result import Particle
from ppl.choicemap import ChoiceMap
from ppl.combinators import Unfold, unfold
from ppl.errors import ModelError


@dataclass(frozen=True)
class StepChoices:
    """One step's choices linked to the previous step's (a persistent list)."""

    choices: ChoiceMap
    previous: "StepChoices | None"


@dataclass(frozen=True)
class UnfoldParticle:
    """A particle of unfold SMC: its choices so far, its last state and its log weight."""

    history: StepChoices | None
    state: Any
    log_weight: float
    length: int

    def choices(self) -> ChoiceMap:
        """Every choice so far, step t's under key t (the unfold's own layout)."""
        per_step, node = [], self.history
        while node is not None:
            per_step.append(node.choices)
            node = node.previous
        return ChoiceMap({t: c for t, c in enumerate(reversed(per_step)) if not c.is_empty()})

    def reweighted(self, log_weight: float) -> "UnfoldParticle":
        return UnfoldParticle(self.history, self.state, log_weight, self.length)


def extend(rng: Any, kernel: Any, particle: UnfoldParticle, params: tuple, constraint: Any = None) -> UnfoldParticle:
    """One more step from the prior (or with the step's choices fixed to `constraint`)."""
    t = particle.length
    if constraint is None:
        trace = kernel.simulate(rng, t, particle.state, *params)
    else:
        trace, _ = kernel.generate(rng, constraint, t, particle.state, *params)
    evidence = trace.score - trace.choice_score  # the incremental weight of the prior proposal
    return UnfoldParticle(StepChoices(trace.choices, particle.history), trace.retval,
                          particle.log_weight + float(evidence), t + 1)


class Prefixes:
    """The generative functions unfold(kernel, t) of the prefixes, made once each."""

    def __init__(self, model: Unfold, args: tuple):
        self.model, self.args = model, args
        self._made: dict[int, Unfold] = {model.steps: model}

    def __getitem__(self, t: int) -> Unfold:
        if t not in self._made:
            self._made[t] = unfold(self.model.kernel, t)
        return self._made[t]

    def trace(self, rng: Any, particle: UnfoldParticle) -> Any:
        """The trace of the particle's prefix (generate with every choice fixed draws nothing)."""
        trace, _ = self[particle.length].generate(rng, particle.choices(), *self.args)
        return trace

    def from_trace(self, trace: Any, length: int, log_weight: float) -> UnfoldParticle:
        """The particle a (rejuvenated) prefix trace stands for; a (trace, accepted) pair is taken too."""
        if isinstance(trace, tuple):
            trace = trace[0]
        if trace.gen_fn is not self[length]:
            raise ModelError(f"rejuvenation returned a trace of {getattr(trace.gen_fn, 'name', trace.gen_fn)!r}, "
                             f"not of the prefix {self[length].name}")
        history = None
        for t in range(length):
            history = StepChoices(trace.choices.submap(t), history)
        return UnfoldParticle(history, trace.retval[-1], log_weight, length)


class UnfoldPopulation:
    """N particles of an unfold's prefixes; optionally one reference (conditional SMC) and a rejuvenation kernel."""

    def __init__(self, model: Unfold, args: tuple, n: int, rng: Any, *, reference: Any = None,
                 rejuvenation: Callable[[Any, Any], Any] | None = None):
        self.kernel, self.params = model.kernel, tuple(args[1:])
        self.steps = model.steps
        self.prefixes = Prefixes(model, args)
        self.reference = reference
        self.rejuvenation = rejuvenation
        self.rng = rng
        self.members = [UnfoldParticle(None, args[0], 0.0, 0) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.members)

    def advance(self, rng: Any) -> None:
        if self.reference is None:
            self.members = [extend(rng, self.kernel, p, self.params) for p in self.members]
            return
        t = self.members[-1].length
        free = [extend(rng, self.kernel, p, self.params) for p in self.members[:-1]]
        fixed = extend(rng, self.kernel, self.members[-1], self.params, constraint=self.reference.choices.submap(t))
        self.members = free + [fixed]

    def status(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([p.log_weight for p in self.members], dtype=np.float64),
                np.array([p.length == self.steps for p in self.members], dtype=bool))

    def reindex(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        self.members = [self.members[int(a)].reweighted(float(w)) for a, w in zip(ancestors, log_weights)]

    def rejuvenate(self, rng: Any) -> None:
        """Move every particle's prefix trace with the rejuvenation kernel (after a resampling)."""
        if self.rejuvenation is None:
            return
        self.members = [self.prefixes.from_trace(self.rejuvenation(rng, self.prefixes.trace(rng, p)), p.length,
                                                 p.log_weight) for p in self.members]

    def particles(self) -> list[Particle]:
        return [Particle(self.prefixes.trace(self.rng, p), p.log_weight) for p in self.members]

    def summaries(self) -> list[ParticleSummary]:
        """Each particle's choices so far as `address=value` text, for a recorded run."""
        return [ParticleSummary(choices_summary(p.choices().items()), "condition" if p.log_weight == -math.inf else "")
                for p in self.members]
