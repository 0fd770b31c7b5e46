"""`semantics.enumerate`: the exact distribution of a finite program.

The program's prior simulator is run once per outcome of its random choices (see
enumerating_rng.explore); each execution is weighted by its prior probability times its
evidence (observations, factors, conditions). The normalized result is the exact posterior
over traces; `log_z` is the exact log normalizing constant (marginal likelihood).
"""
from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from typing import Any, Callable

from inference.result import hashable, ranked
from ppl.choicemap import ChoiceMap
from ppl.errors import NotFiniteError
from ppl.generative import GenerativeFunction
from ppl.model import Model
from semantics.enumerating_rng import explore
from semantics.measure import FiniteMeasure


@dataclass(frozen=True)
class WeightedExecution:
    """One execution of the program: its choices, return value and unnormalized log weight."""

    choices: ChoiceMap
    retval: Any
    log_weight: float
    trace: Any

    def __getitem__(self, address: Any) -> Any:
        return self.choices[address]


class Exact:
    """The exact (unnormalized) distribution of a finite program's executions."""

    def __init__(self, executions: list[WeightedExecution]):
        self.executions = executions
        self.measure = FiniteMeasure((e.choices, e.log_weight) for e in executions)

    @property
    def log_z(self) -> float:
        return self.measure.log_total

    def posterior(self) -> FiniteMeasure:
        """The normalized distribution over choice maps."""
        return self.measure.normalized()

    def _pushforward(self, f: Callable[[WeightedExecution], Any]) -> FiniteMeasure:
        return FiniteMeasure((f(e), e.log_weight) for e in self.executions).normalized()

    def marginal(self, address: Any) -> dict:
        """Value -> posterior probability of the choice at `address` (None where it was not made), most
        probable first: the same dict as `inference.Result.marginal`, exact."""
        return ranked(self._pushforward(lambda e: hashable(e.choices.get(address))).probabilities())

    @property
    def retval(self) -> FiniteMeasure:
        """The posterior distribution of the return value."""
        return self._pushforward(lambda e: e.retval)

    def expectation(self, f: Callable[[Any], float]) -> float:
        """E[f(trace)] under the posterior; f receives the execution (choices, retval, trace)."""
        return _expect(self.executions, f)

    def probability(self, event: Callable[[Any], bool]) -> float:
        return _expect(self.executions, lambda e: 1.0 if event(e) else 0.0)

    def __repr__(self) -> str:
        return f"Exact(log_z={self.log_z:.6g}, executions={len(self.executions)})"


def _expect(executions: list[WeightedExecution], f: Callable[[Any], float]) -> float:
    measure = FiniteMeasure((i, e.log_weight) for i, e in builtins.enumerate(executions))
    probabilities = measure.probabilities()
    return float(sum(p * f(executions[i]) for i, p in probabilities.items() if p > 0))


def enumerate(program: Any, *args: Any, max_outcomes: int = 200_000, max_draws: int = 10_000, max_steps: int = 1_000) -> Exact:  # noqa: A001
    """The exact distribution of a finite generative function or ppl.Model.

    Raises NotFiniteError for a continuous or unbounded choice, a run of more than `max_draws`
    draws or `max_steps` model steps, or more than `max_outcomes` executions.
    """
    if isinstance(program, GenerativeFunction):
        program.check_args(args)

        def run(rng: Any) -> Any:
            trace = program.simulate(rng, *args)
            return trace.choices, trace.retval, trace.score - trace.choice_score, trace
    elif isinstance(program, Model):
        if args:
            raise TypeError("semantics.enumerate(model) takes no extra arguments: the model instance holds its state")

        def run(rng: Any) -> Any:
            particle = program.clone()
            steps = 0
            while not particle.finished:
                if steps >= max_steps:
                    raise NotFiniteError(f"{type(program).__name__} did not finish within max_steps={max_steps} steps")
                particle.step_sync(rng)
                steps += 1
            return particle.choices, particle, particle.weight, particle
    else:
        raise TypeError(f"semantics.enumerate needs a generative function or a ppl.Model, got {type(program).__name__}")

    executions = []
    for outcome in explore(run, max_outcomes=max_outcomes, max_draws=max_draws):
        choices, retval, evidence, trace = outcome.value
        log_weight = outcome.log_prob + evidence if evidence > -math.inf else -math.inf
        executions.append(WeightedExecution(choices, retval, log_weight, trace))
    return Exact(executions)
