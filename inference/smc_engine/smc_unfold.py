"""SMC over a `ppl.unfold(kernel, T)` generative function, with optional resample-move.

The intermediate targets are the prefixes `unfold(kernel, t)`, t = 1..T. A particle is extended
by one step with `kernel.simulate(rng, t, state, *params)` (the prior proposal), so its
incremental weight is that step's evidence (score minus choice score), and costs O(1) per step:
the particle keeps its per-step choices in a persistent list, shared between the copies that
resampling makes. A full trace of a prefix (or of the whole unfold, for the result) is built
only when needed, with `prefix.generate(rng, choices, *args)`, which draws nothing because every
choice is constrained. After each resampling an optional rejuvenation kernel
`kernel(rng, trace) -> trace` (or `-> (trace, accepted)`, as inference.mcmc's kernels) moves every particle's prefix trace; it must leave the prefix
posterior invariant (e.g. Metropolis-Hastings with `trace.gen_fn.regenerate`). The prefix
length is `len(trace.retval)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from inference.smc_engine.population import resample_population, should_resample
from inference.result import Particle, Result, StepInfo
from inference.weighting import check_log_weights, effective_sample_size, log_mean_exp
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


def initial_particle(state: Any) -> UnfoldParticle:
    return UnfoldParticle(None, state, 0.0, 0)


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


def unfold_smc(model: Unfold, args: tuple, n: int, threshold: float, scheme: str, rng: Any,
               rejuvenation: Callable[[Any, Any], Any] | None) -> Result:
    model.check_args(args)
    initial, params = args[0], tuple(args[1:])
    prefixes = Prefixes(model, args)
    population = [initial_particle(initial) for _ in range(n)]
    steps: list[StepInfo] = []
    for t in range(model.steps):
        population = [extend(rng, model.kernel, p, params) for p in population]
        log_weights = check_log_weights([p.log_weight for p in population], f"smc step {t}")
        if not np.isfinite(log_weights).any():
            traces = [prefixes.trace(rng, p) for p in population]
            return Result([Particle(tr, p.log_weight) for tr, p in zip(traces, population)], -np.inf,
                          message=f"all particles have weight zero after step {t}", steps=steps)
        if t + 1 == model.steps:
            steps.append(StepInfo(t, effective_sample_size(log_weights), False))
            break
        ess, resample_now = should_resample(log_weights, threshold)
        if resample_now:
            ancestors, log_weight = resample_population(rng, log_weights, scheme)
            population = [population[a].reweighted(log_weight) for a in ancestors]
            if rejuvenation is not None:
                population = [prefixes.from_trace(rejuvenation(rng, prefixes.trace(rng, p)), p.length, p.log_weight)
                              for p in population]
        steps.append(StepInfo(t, ess, resample_now))
    final = [Particle(prefixes.trace(rng, p), p.log_weight) for p in population]
    return Result(final, log_mean_exp([p.log_weight for p in final]), steps=steps)
