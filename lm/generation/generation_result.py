"""`GenerationResult`: what `lm.generate` returns, an inference `Result` that reads as text.

Its samples are the distinct generated texts (after token healing's owed bytes) with their
posterior probabilities, or validated Pydantic instances when the schema was a Pydantic
model; `text` is the most probable one; `to_dict()` is one JSON-ready object (what the CLI's
`--json` prints); `str(result)` and `_repr_html_` show it in a terminal and in Jupyter.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from inference.result import Result, Sample
from inference.result_display import result_html, result_text
from lm.generation.dead_particles import death_cause


@dataclass(frozen=True)
class Unfinished:
    """A particle that ended without a valid output: the text it had written (never a sample) and why it
    stopped: "constraint" (no token allowed), "max_tokens", "window" (the context window) or "condition"."""

    text: str
    cause: str


class GenerationResult(Result):
    """A generation's weighted particles (see the module docstring); `seconds` and `evaluations` say what it cost."""

    def __init__(self, result: Result, *, model: str, method: str, healed: bytes = b"", seconds: float = 0.0,
                 evaluations: int = 0, json_output: bool = False, pydantic_model: type | None = None,
                 message: str | None = None, window_bound: bool = False):
        self.healed = healed
        self.window_bound = window_bound
        skip = len(healed)
        history = result.recorded
        if history is not None:
            history = dataclasses.replace(history, meta={**history.meta, "model": model, "method": method})
        super().__init__(result.particles, result.log_ml, message=result.message if message is None else message,
                         steps=result.steps, output=lambda p: bytes(p.text[skip:]).decode("utf-8", errors="replace"),
                         history=history)
        self.model = model
        self.method = method
        self.seconds = seconds
        self.evaluations = evaluations
        self.json_output = json_output or pydantic_model is not None
        self.pydantic_model = pydantic_model
        self._instances: list[Sample] | None = None

    @property
    def texts(self) -> list[Sample]:
        """The distinct generated texts with their probabilities, most probable first."""
        return self.group(self.output)

    @property
    def unfinished(self) -> list[Unfinished]:
        """The particles that ended without a valid output (weight zero), with the text they had written and
        the cause; they are never among `samples`."""
        found = []
        for particle, weight in zip(self.particles, self.weights):
            if weight > 0:
                continue
            cause = death_cause(particle.trace)
            if cause == "max_tokens" and self.window_bound:
                cause = "window"
            found.append(Unfinished(self.output(particle.trace), cause))
        return found

    @property
    def samples(self) -> list[Sample]:
        """The distinct outputs: texts, or validated instances of the Pydantic model the schema came from."""
        return self.texts if self.pydantic_model is None else self._instance_samples()

    @property
    def text(self) -> str:
        """The most probable generated text; ValueError with the result's message when every particle died."""
        texts = self.texts
        if not texts:
            raise ValueError(f"no text was generated: {self.message}")
        return texts[0].value

    @property
    def instances(self) -> list[Any]:
        """The JSON outputs as values, most probable first: Pydantic instances (validated) or parsed JSON."""
        if not self.json_output:
            raise ValueError("instances: only a generation under json_schema= produces JSON instances")
        return [sample.value for sample in self._instance_samples()]

    def _instance_samples(self) -> list[Sample]:
        """Parsed (and, for Pydantic, validated) samples; any a Pydantic validator refuses are dropped, the rest renormalized."""
        if self._instances is None:
            kept = []
            for sample in self.texts:
                if self.pydantic_model is None:
                    kept.append(Sample(json.loads(sample.value), sample.probability))
                    continue
                try:
                    kept.append(Sample(self.pydantic_model.model_validate_json(sample.value), sample.probability))
                except ValueError:  # pydantic's ValidationError: a validator beyond what the JSON Schema says
                    continue
            total = sum(s.probability for s in kept)
            self._instances = [Sample(s.value, s.probability / total) for s in kept] if total > 0 else []
        return self._instances

    def to_dict(self) -> dict:
        """One JSON-ready object: samples (text, probability), log_ml (None for -inf), ess, particles,
        constraint evaluations, seconds, the healed prefix, the steps (ESS, resampled, live, log-ML), the
        unfinished particles (text, cause), the message."""
        samples = []
        for sample in self.texts:
            entry = {"text": sample.value, "probability": sample.probability}
            if self.json_output:
                entry["value"] = json.loads(sample.value)
            samples.append(entry)
        return {
            "model": self.model, "method": self.method, "samples": samples,
            "log_ml": self.log_ml if math.isfinite(self.log_ml) else None, "ess": self.ess,
            "particles": len(self.particles), "evaluations": self.evaluations, "seconds": self.seconds,
            "healed": self.healed.decode("utf-8", errors="replace"),
            "steps": [_step_record(s) for s in self.steps],
            "unfinished": [{"text": u.text, "cause": u.cause} for u in self.unfinished],
            "message": self.message,
        }

    def _details(self) -> list[tuple[str, Any]]:
        return [("method", self.method), ("constraint evaluations", self.evaluations), ("seconds", f"{self.seconds:.2f}")]

    def __str__(self) -> str:
        return result_text(self, details=self._details())

    def _repr_html_(self) -> str:
        return result_html(self, details=self._details())

    def __repr__(self) -> str:
        note = f", message={self.message!r}" if self.message else ""
        return (f"GenerationResult(model={self.model!r}, method={self.method!r}, particles={len(self.particles)}, "
                f"log_ml={self.log_ml:.6g}, ess={self.ess:.4g}{note})")


def _step_record(step: Any) -> dict:
    """One StepInfo as JSON: step, ess, resampled, live particles, running log-ML (None unless finite), seconds."""
    log_ml = getattr(step, "log_ml", math.nan)
    return {"step": step.step, "ess": step.ess, "resampled": step.resampled, "live": getattr(step, "live", None),
            "log_ml": log_ml if math.isfinite(log_ml) else None, "seconds": getattr(step, "seconds", None)}
