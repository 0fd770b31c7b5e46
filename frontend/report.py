"""What `ppl generate` prints: the samples as text, or one JSON object (`--json`) that OUTPUT_SCHEMA describes."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

_NUMBER_OR_NULL = {"type": ["number", "null"]}

OUTPUT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ppl generate --json",
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "description": "the prompt the model continued (after the chat template with --chat)"},
        "model": {"type": "string"},
        "method": {"enum": ["smc", "lcd", "rerank"]},
        "particles": {"type": "integer", "minimum": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "exclusiveMinimum": 0},
        "seed": {"type": "integer", "minimum": 0},
        "constraint": {"oneOf": [{"type": "null"}, {
            "type": "object",
            "properties": {"kind": {"enum": ["json_schema", "regex", "grammar", "sql"]}, "source": {"type": "string"}},
            "required": ["kind", "source"], "additionalProperties": False}]},
        "samples": {"type": "array", "description": "distinct texts, most probable first", "items": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "probability": {"type": "number", "minimum": 0, "maximum": 1}},
            "required": ["text", "probability"], "additionalProperties": False}},
        "log_ml": {**_NUMBER_OR_NULL, "description": "log marginal-likelihood estimate; null when every particle died"},
        "ess": {"type": "number", "minimum": 0},
        "steps": {"type": "integer", "minimum": 0},
        "constraint_evaluations": {"type": "integer", "minimum": 0,
                                   "description": "constraint checks the run made"},
        "import_seconds": {"type": "number", "minimum": 0, "description": "importing the libraries (part of load_seconds)"},
        "load_seconds": {"type": "number", "minimum": 0, "description": "imports and loading the model"},
        "generation_seconds": {"type": "number", "minimum": 0},
        "all_dead": {"type": "boolean"},
        "interrupted": {"type": "boolean", "description": "Ctrl-C: the samples are the particles' text so far"},
        "message": {"type": "string"},
    },
    "required": ["prompt", "model", "method", "particles", "max_tokens", "temperature", "seed", "constraint", "samples",
                 "log_ml", "ess", "steps", "constraint_evaluations", "import_seconds", "load_seconds",
                 "generation_seconds", "all_dead", "interrupted", "message"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Timings:
    """Seconds spent importing, loading the model (imports included) and generating."""

    imports: float
    load: float
    generation: float


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _probability(p: float) -> float:
    return min(1.0, max(0.0, float(p)))  # summed weights can overshoot 1 by a rounding error


def constraint_evaluations(result: Any) -> int:
    """Constraint checks of the run: lm.generate counts them all; else the final particles' lineages, summed."""
    counted = getattr(result, "evaluations", None)
    if counted is not None:
        return int(counted)
    return int(sum(getattr(p.trace, "evaluations", 0) for p in result.particles))


def to_json(result: Any, *, run: dict, timings: Timings, interrupted: bool) -> dict:
    """The `--json` object (OUTPUT_SCHEMA) for a result and the run's settings (`run`: prompt, model, method, ...)."""
    return {
        **run,
        "samples": [{"text": str(s.value), "probability": _probability(s.probability)} for s in result.samples],
        "log_ml": _finite_or_none(result.log_ml),
        "ess": float(result.ess),
        "steps": len(result.steps),
        "constraint_evaluations": constraint_evaluations(result),
        "import_seconds": round(timings.imports, 4),
        "load_seconds": round(timings.load, 4),
        "generation_seconds": round(timings.generation, 4),
        "all_dead": bool(result.all_dead),
        "interrupted": interrupted,
        "message": result.message,
    }


def dumps(document: dict) -> str:
    """One line of strict JSON (no NaN or Infinity)."""
    return json.dumps(document, ensure_ascii=False, allow_nan=False)


def sample_lines(result: Any) -> list[str]:
    """`0.455  text` per distinct sample, most probable first; continuation lines of a multi-line text indented."""
    lines = []
    for sample in result.samples:
        head, *rest = str(sample.value).split("\n")
        lines.append(f"{sample.probability:.3f}  {head}")
        lines.extend(f"       {line}" for line in rest)
    return lines


def summary_line(result: Any, particles: int, timings: Timings) -> str:
    """The line on stderr after the samples: ESS, log-ML, steps and where the seconds went."""
    return (f"ess {result.ess:.2f}/{particles}, log_ml {result.log_ml:.4g}, {len(result.steps)} steps; "
            f"load {timings.load:.2f} s (imports {timings.imports:.2f} s), generation {timings.generation:.2f} s")
