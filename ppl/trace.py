"""Traces: the record of one execution of a generative function.

Every trace has `args`, `retval`, `choices` (a ChoiceMap) and `score` = log p of everything
the execution scored (choices, observations, factors, failed conditions as -inf). It also
keeps `choice_score`, the part of the score that comes from random choices, which the update
and regenerate weights need for choices that appear or disappear.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ppl.choicemap import ChoiceMap


class Trace:
    """What every trace offers."""

    gen_fn: Any
    args: tuple
    retval: Any
    score: float
    choice_score: float

    @property
    def choices(self) -> Any:
        raise NotImplementedError

    def __getitem__(self, address: Any) -> Any:
        return self.choices[address]


@dataclass(frozen=True, eq=False)
class LeafTrace(Trace):
    """A single random choice: its distribution, value and log density."""

    gen_fn: Any
    primitive: Any
    value: Any
    score: float

    @property
    def args(self) -> tuple:
        return (self.primitive,)

    @property
    def retval(self) -> Any:
        return self.value

    @property
    def choice_score(self) -> float:
        return self.score

    @property
    def choices(self) -> Any:
        return self.value


@dataclass(eq=False)
class CallTrace(Trace):
    """The trace of a composite generative function: sub-traces by address path."""

    gen_fn: Any
    args: tuple
    retval: Any
    score: float
    choice_score: float
    subtraces: dict = field(default_factory=dict)
    observations: dict = field(default_factory=dict)
    _choices: ChoiceMap | None = field(default=None, repr=False)

    @property
    def choices(self) -> ChoiceMap:
        if self._choices is None:
            self._choices = ChoiceMap({path: sub.choices for path, sub in self.subtraces.items()})
        return self._choices

    def __repr__(self) -> str:
        name = getattr(self.gen_fn, "name", type(self.gen_fn).__name__)
        return f"CallTrace({name}, score={self.score:.6g}, choices={self.choices.flat()!r}, retval={self.retval!r})"
