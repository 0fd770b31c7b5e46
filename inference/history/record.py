"""The record of an SMC run: per step, every particle's text, weights, ancestry and state (plain data).

A `History` lists the steps of a run. Step t holds, for each particle i alive in the population
right after the step (before its selection: resampling, smc_steer's keep-N): the index of its
parent among step t-1's particles (among the initial particles at step 0, composing every
re-indexing in between), the text it added (`pieces[i]`, after keeping `keep[i]` characters of
the parent's text: a token for LM particles), its log weight and incremental log weight, whether
it is finished, why it died (`causes[i]`, "" unless its weight is zero), and the constraint
evaluations it made in the step; and the step's ESS (before resampling), whether it resampled,
live particles, the running log-ML estimate and the seconds since the run started. The final
samples with their probabilities, the log-ML and ESS come from the run's `Result`.
The JSON form and its schema are in inference/history/json_format.py (docs/viewer.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

HISTORY_VERSION = 1


@dataclass(frozen=True)
class ParticleSummary:
    """What a population reports of one particle: its text so far (or a summary of its trace), why it
    died ("" unless dead) and its constraint evaluations so far (copies inherit their parent's count)."""

    text: str
    cause: str = ""
    evaluations: int = 0


@dataclass(frozen=True)
class HistoryStep:
    """One SMC step of a `History` (see the module docstring); every tuple has one entry per particle."""

    step: int
    parents: tuple[int, ...]
    keep: tuple[int, ...]
    pieces: tuple[str, ...]
    log_weights: tuple[float, ...]
    increments: tuple[float, ...]
    finished: tuple[bool, ...]
    causes: tuple[str, ...]
    evaluations: tuple[int, ...]
    ess: float
    resampled: bool
    live: int
    log_ml: float
    seconds: float

    def __len__(self) -> int:
        return len(self.parents)

    def state(self, i: int) -> str:
        """"dead" (weight zero), "finished" or "running"."""
        if self.log_weights[i] == -math.inf:
            return "dead"
        return "finished" if self.finished[i] else "running"


@dataclass(frozen=True)
class RecordedSample:
    """A distinct final output (as text) and its posterior probability."""

    text: str
    probability: float


@dataclass(frozen=True)
class History:
    """The record of one SMC run (see the module docstring): `particles` initial particles, its steps,
    and, once read off the run's Result, the final samples, log-ML, ESS and message."""

    particles: int
    steps: tuple[HistoryStep, ...]
    samples: tuple[RecordedSample, ...] = ()
    log_ml: float = -math.inf
    ess: float = 0.0
    message: str = ""
    meta: dict = field(default_factory=dict)
    version: int = HISTORY_VERSION

    def lineage(self, step: int, index: int) -> list[int]:
        """The particle index at steps 0..step of particle `index` of step `step` and its ancestors."""
        path = [index]
        for t in range(step, 0, -1):
            path.append(self.steps[t].parents[path[-1]])
        return path[::-1]

    def pieces(self, step: int, index: int) -> list[str]:
        """The particle's text as the pieces its lineage added, one per step (token boundaries)."""
        segments: list[str] = []
        length = 0
        for t, i in enumerate(self.lineage(step, index)):
            keep = self.steps[t].keep[i]
            while length > keep:  # the parent's text was rewritten past this point: cut it back
                last = segments.pop()
                length -= len(last)
                if length < keep:
                    segments.append(last[:keep - length])
                    length = keep
            segments.append(self.steps[t].pieces[i])
            length += len(segments[-1])
        return segments

    def text(self, step: int, index: int) -> str:
        """Particle `index`'s text (or trace summary) right after step `step`."""
        return "".join(self.pieces(step, index))

    def save(self, path: str) -> None:
        """Write the history as one JSON document (json_format.py)."""
        from inference.history.json_format import save

        save(self, path)

    def save_html(self, path: str, title: str | None = None) -> None:
        """Write the self-contained HTML viewer of this run (docs/viewer.md)."""
        from inference.history.json_format import to_json
        from viewer import render_html

        with open(path, "w", encoding="utf-8") as out:
            out.write(render_html(to_json(self), title=title))
