"""A `History` as one JSON document: `to_json`/`from_json`, `save`/`load`, and its JSON Schema.

Strict JSON (no NaN or Infinity): a log weight, increment or log-ML of -inf is the string
"-inf" (and +inf, NaN are "inf", "nan"). Per-step particle fields are parallel arrays, one
entry per particle. `from_json` checks everything the viewer relies on and raises
`HistoryFormatError` naming the field (e.g. `steps[3].parents[5]`) on the first problem, so a
truncated or foreign file is one clear line, never a broken page. HISTORY_SCHEMA documents the
format (docs/viewer.md); the tests check that every saved history is valid under it.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

from inference.history.record import HISTORY_VERSION, History, HistoryStep, RecordedSample

FORMAT = "ppl-smc run history"

_NUMBER = {"oneOf": [{"type": "number"}, {"enum": ["-inf", "inf", "nan"]}]}
_PER_PARTICLE = {
    "parents": ({"type": "integer", "minimum": 0}, "index of the particle's parent among the previous step's particles "
                                                   "(among the initial particles at step 0)"),
    "keep": ({"type": "integer", "minimum": 0}, "characters (code points) of the parent's text the particle kept"),
    "pieces": ({"type": "string"}, "text the particle added in this step (a token, for LM particles)"),
    "log_weights": (_NUMBER, "log weight after the step, before resampling (twists included)"),
    "increments": (_NUMBER, "change of the log weight in this step (0 for a particle that did not move)"),
    "finished": ({"type": "boolean"}, "whether the particle is finished (a dead one is too)"),
    "causes": ({"type": "string"}, "why the particle has weight zero ('' unless it does): constraint, max_tokens, "
                                   "window, condition"),
    "evaluations": ({"type": "integer", "minimum": 0}, "constraint evaluations the particle made in this step"),
}
_STEP_SCALARS = {
    "step": ({"type": "integer", "minimum": 0}, "step index"),
    "ess": (_NUMBER, "effective sample size before resampling"),
    "resampled": ({"type": "boolean"}, "whether the step ended in resampling (it sets the next step's parents)"),
    "live": ({"type": "integer", "minimum": 0}, "unfinished particles of positive weight after the step"),
    "log_ml": (_NUMBER, "running log marginal-likelihood estimate"),
    "seconds": ({"type": "number", "minimum": 0}, "seconds since the run started"),
}

HISTORY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": FORMAT,
    "type": "object",
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": HISTORY_VERSION},
        "particles": {"type": "integer", "minimum": 1, "description": "initial number of particles"},
        "meta": {"type": "object", "additionalProperties": {"type": "string"},
                 "description": "what was run (model, method, ...), shown in the viewer's header"},
        "steps": {"type": "array", "items": {
            "type": "object",
            "properties": {
                **{k: {**schema, "description": text} for k, (schema, text) in _STEP_SCALARS.items()},
                **{k: {"type": "array", "items": schema, "description": text} for k, (schema, text) in _PER_PARTICLE.items()},
            },
            "required": [*_STEP_SCALARS, *_PER_PARTICLE], "additionalProperties": False}},
        "samples": {"type": "array", "description": "distinct final outputs as text, most probable first", "items": {
            "type": "object", "properties": {"text": {"type": "string"}, "probability": {"type": "number", "minimum": 0}},
            "required": ["text", "probability"], "additionalProperties": False}},
        "log_ml": {**_NUMBER, "description": "final log marginal-likelihood estimate"},
        "ess": {"type": "number", "minimum": 0, "description": "effective sample size of the final weights"},
        "message": {"type": "string", "description": "why every particle died, or that the run was interrupted"},
    },
    "required": ["format", "version", "particles", "meta", "steps", "samples", "log_ml", "ess", "message"],
    "additionalProperties": False,
}


class HistoryFormatError(ValueError):
    """A document that is not a run history this version reads; `field` names where (e.g. "steps[3].parents")."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"field {field} {problem}" if field else problem)
        self.field = field
        self.problem = problem


def to_json(history: History) -> dict:
    """The JSON document of `history` (HISTORY_SCHEMA)."""
    return {
        "format": FORMAT, "version": history.version, "particles": history.particles, "meta": dict(history.meta),
        "steps": [_step_json(s) for s in history.steps],
        "samples": [{"text": s.text, "probability": s.probability} for s in history.samples],
        "log_ml": _number(history.log_ml), "ess": _number(history.ess), "message": history.message,
    }


def from_json(document: Any) -> History:
    """The History a JSON document holds; HistoryFormatError naming the first bad field."""
    if not isinstance(document, dict):
        raise HistoryFormatError("", f"the document is a JSON {_kind(document)}, not an object: not a run history")
    if document.get("format") != FORMAT:
        found = "is missing" if "format" not in document else f"is {_shown(document['format'])}, not {FORMAT!r}"
        raise HistoryFormatError("format", f"{found}: not a run history (write one with result.history.save(path) "
                                           "or ppl generate --history FILE.json)")
    version = _get(document, "version", "", _integer)
    if version != HISTORY_VERSION:
        raise HistoryFormatError("version", f"is {version}; this version of ppl reads run histories of version "
                                            f"{HISTORY_VERSION}")
    particles = _get(document, "particles", "", _integer)
    if particles < 1:
        raise HistoryFormatError("particles", f"is {particles}; a run has at least one particle")
    meta = _get(document, "meta", "", _object)
    for key, value in meta.items():
        _string(value, f"meta.{key}")
    steps = _get(document, "steps", "", _array)
    parsed: list[HistoryStep] = []
    previous = particles
    for t, item in enumerate(steps):
        step = _step(item, f"steps[{t}]", previous)
        parsed.append(step)
        previous = len(step)
    samples = [RecordedSample(_get(s, "text", f"samples[{k}]", _string), _get(s, "probability", f"samples[{k}]", _float))
               for k, s in enumerate(_get(document, "samples", "", _array))]
    return History(particles=particles, steps=tuple(parsed), samples=tuple(samples),
                   log_ml=_get(document, "log_ml", "", _float), ess=_get(document, "ess", "", _float),
                   message=_get(document, "message", "", _string), meta=dict(meta), version=version)


def save(history: History, path: str) -> None:
    """Write `history` to `path` as one line of strict JSON (UTF-8)."""
    with open(path, "w", encoding="utf-8") as out:
        json.dump(to_json(history), out, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def load(path: str) -> History:
    """The History in the JSON file `path`; HistoryFormatError (field "" for unparsable JSON) saying what is wrong."""
    with open(path, encoding="utf-8") as source:
        text = source.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        field = _path_at(text, e.pos)
        where = f" in field {field}" if field else ""
        if e.pos >= len(text.rstrip()) - 3 or e.msg.startswith("Unterminated string"):  # cut off (in a number)
            raise HistoryFormatError("", f"truncated: the JSON ends{where} at line {e.lineno} column {e.colno} "
                                         f"({e.msg})") from None
        raise HistoryFormatError("", f"not valid JSON{where} at line {e.lineno} column {e.colno}: {e.msg}") from None
    return from_json(document)


def _path_at(text: str, end: int) -> str:
    """The field (e.g. "steps[2].pieces[5]") that position `end` of JSON text `text` lies in, for error messages."""
    stack: list[list] = []  # [key or None] for an object, [index] for an array
    kinds: list[str] = []
    last_string, i = "", 0
    while i < end:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < end and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            last_string, i = text[i + 1:j], j + 1
            continue
        if c in "{[":
            kinds.append(c)
            stack.append([None] if c == "{" else [0])
        elif c in "}]" and stack:
            kinds.pop()
            stack.pop()
        elif c == ":" and kinds and kinds[-1] == "{":
            stack[-1][0] = last_string
        elif c == "," and stack:
            stack[-1][0] = stack[-1][0] + 1 if kinds[-1] == "[" else None
        i += 1
    path = ""
    for kind, (key,) in zip(kinds, stack):
        if kind == "[":
            path += f"[{key}]"
        elif key is not None:
            path += f".{key}" if path else key
    return path


def _step_json(step: HistoryStep) -> dict:
    out: dict = {}
    for key in _STEP_SCALARS:
        value = getattr(step, key)
        out[key] = _number(value) if isinstance(value, float) else value
    for key in _PER_PARTICLE:
        values = getattr(step, key)
        out[key] = [_number(v) for v in values] if key in ("log_weights", "increments") else list(values)
    return out


def _step(item: Any, where: str, previous: int) -> HistoryStep:
    item = _object(item, where)
    fields: dict = {}
    n = None
    readers: dict[str, Callable] = {"parents": _integer, "keep": _integer, "pieces": _string, "log_weights": _float,
                                    "increments": _float, "finished": _boolean, "causes": _string,
                                    "evaluations": _integer}
    for key, read in readers.items():
        values = _get(item, key, where, _array)
        if n is None:
            n = len(values)
        elif len(values) != n:
            raise HistoryFormatError(f"{where}.{key}", f"has {len(values)} entries, but {where}.parents has {n}: "
                                                       "one entry per particle")
        fields[key] = tuple(read(v, f"{where}.{key}[{i}]") for i, v in enumerate(values))
    for i, parent in enumerate(fields["parents"]):
        if not 0 <= parent < previous:
            raise HistoryFormatError(f"{where}.parents[{i}]", f"is {parent}, not a particle of the previous step "
                                                              f"(it had {previous})")
    scalars = {"step": _integer, "ess": _float, "resampled": _boolean, "live": _integer, "log_ml": _float,
               "seconds": _float}
    for key, read in scalars.items():
        fields[key] = _get(item, key, where, read)
    return HistoryStep(**fields)


def _get(obj: dict, key: str, where: str, read: Callable) -> Any:
    name = f"{where}.{key}" if where else key
    if not isinstance(obj, dict):
        raise HistoryFormatError(where, f"is a JSON {_kind(obj)}, not an object")
    if key not in obj:
        raise HistoryFormatError(name, "is missing")
    return read(obj[key], name)


def _number(value: float) -> Any:
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _float(value: Any, name: str) -> float:
    if isinstance(value, str) and value in ("-inf", "inf", "nan"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HistoryFormatError(name, f"is {_shown(value)}, not a number")
    return float(value)


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HistoryFormatError(name, f"is {_shown(value)}, not an integer")
    if value < 0:
        raise HistoryFormatError(name, f"is {value}, not a non-negative integer")
    return value


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise HistoryFormatError(name, f"is {_shown(value)}, not true or false")
    return value


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise HistoryFormatError(name, f"is {_shown(value)}, not a string")
    return value


def _array(value: Any, name: str) -> list:
    if not isinstance(value, list):
        raise HistoryFormatError(name, f"is {_shown(value)}, not an array")
    return value


def _object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise HistoryFormatError(name, f"is {_shown(value)}, not an object")
    return value


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return f"a JSON {_kind(value)} ({text if len(text) <= 40 else text[:39] + '…'})"
