"""Particle summaries for the history of populations without text of their own.

A `ppl.Model` particle reports itself when it defines `summary()` (returning a
`ParticleSummary`, or a string: its text so far); otherwise its choices are summarized: LM
tokens (values with `.bytes`) as their text, anything else as `address=value`, in the order
made, so the summary only grows and the viewer shows each step's choices as that step's piece.
A particle of weight zero that says nothing else died of a failed condition.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from inference.history.record import ParticleSummary

VALUE_WIDTH = 40


def model_summary(model: Any) -> ParticleSummary:
    """The summary of a ppl.Model particle (see the module docstring)."""
    own = getattr(model, "summary", None)
    if callable(own):
        summary = own()
        if isinstance(summary, ParticleSummary):
            return summary
        return ParticleSummary(str(summary), _cause(model.weight), int(getattr(model, "evaluations", 0)))
    return ParticleSummary(choices_summary(model.choices.items()), _cause(model.weight),
                           int(getattr(model, "evaluations", 0)))


def choices_summary(items: Iterable[tuple[tuple, Any]]) -> str:
    """(address, value) pairs as text: token values by their bytes, others as `address=value `."""
    parts = []
    for path, value in items:
        data = getattr(value, "bytes", None)
        if isinstance(data, bytes):
            parts.append(data.decode("utf-8", errors="replace"))
            continue
        address = "/".join(str(p) for p in path[1:]) or str(path[0])
        shown = repr(value)
        parts.append(f"{address}={shown if len(shown) <= VALUE_WIDTH else shown[:VALUE_WIDTH - 1] + '…'} ")
    return "".join(parts)


def _cause(log_weight: float) -> str:
    return "condition" if log_weight == -math.inf else ""
