"""The JSONL records of a batch job: input lines parsed and checked, and the output record of each line.

An input line is one JSON object: a `prompt` (text) or chat `messages`, at most one constraint
(`json_schema`, `regex`, `grammar`, `sql`) and per-line settings (`particles`, `max_tokens`,
`method`, `temperature`, `seed`, `allow_extra_keys`, `heal`) overriding the job's; `id` is
copied to the output. A malformed line (not a JSON object, no prompt, an unknown key, a setting
of the wrong type) stops the job before it starts, with its line number; a constraint that
cannot be built (a missing schema file, an invalid regex) is that line's error record and the
job goes on. The full format is in docs/batch.md.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

CONSTRAINTS = ("json_schema", "regex", "grammar", "sql")
SETTINGS = ("particles", "max_tokens", "method", "temperature", "seed", "allow_extra_keys", "heal")
KEYS = ("id", "prompt", "messages") + CONSTRAINTS + SETTINGS
_DDL_START = re.compile(r"\s*(CREATE|PRAGMA|BEGIN)\b", re.IGNORECASE)


class BatchInputError(ValueError):
    """An input line (or the input file) is malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class BatchLine:
    """One input line, checked: its position, prompt, constraint (kind and value, files read) and settings.

    `problem` is set when the constraint could not be read (the line becomes an error record).
    `digest` identifies the line's content, so a resumed job notices an input that changed.
    """

    index: int
    prompt: "str | list[dict]"
    id: Any = None
    constraint_kind: str | None = None
    constraint: Any = None
    settings: dict = field(default_factory=dict)
    problem: str | None = None
    digest: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> "BatchLine":
        return BatchLine(**data)


def line_seed(job_seed: int, index: int) -> int:
    """The seed of line `index` in a job seeded `job_seed`: a hash of both, so it never depends on scheduling."""
    digest = hashlib.sha256(f"ppl-batch:{job_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def read_input(path: "str | os.PathLike") -> list[BatchLine]:
    """The lines of a JSONL input file (blank lines skipped); BatchInputError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchInputError(f"{path}: no such file; give a JSONL file, one JSON object per line") from None
    except UnicodeDecodeError as e:
        raise BatchInputError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise BatchInputError(f"{path}: cannot be read ({e.strerror})") from None
    objects = []
    for number, raw in enumerate(text.split("\n"), start=1):  # not splitlines: JSON strings may hold U+2028
        if not raw.strip():
            continue
        try:
            objects.append((f"{path}, line {number}", json.loads(raw)))
        except json.JSONDecodeError as e:
            raise BatchInputError(f"{path}, line {number}: not JSON (column {e.colno}: {e.msg})") from None
    if not objects:
        raise BatchInputError(f"{path}: no lines; give one JSON object per line")
    return parse_lines(objects, base=path.parent)


def parse_lines(objects: Iterable[Any], base: "str | os.PathLike" = ".") -> list[BatchLine]:
    """Check input objects, each a dict or a (where, dict) pair; files they name are read relative to `base`."""
    lines, ids = [], {}
    for index, item in enumerate(objects):
        where, data = item if isinstance(item, tuple) else (f"input line {index}", item)
        line = _parse(index, where, data, Path(base))
        if line.id is not None:
            key = json.dumps(line.id)
            if key in ids:
                raise BatchInputError(f"{where}: field 'id': {line.id!r} is also the id of {ids[key]}; ids must be unique")
            ids[key] = where
        lines.append(line)
    return lines


def _parse(index: int, where: str, data: Any, base: Path) -> BatchLine:
    if not isinstance(data, dict):
        raise BatchInputError(f"{where}: a line is a JSON object, got a JSON {_json_type(data)}")
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise BatchInputError(f"{where}: unknown field {unknown[0]!r}; the fields are {', '.join(KEYS)}")
    if ("prompt" in data) == ("messages" in data):
        raise BatchInputError(f"{where}: give exactly one of 'prompt' (text) and 'messages' (chat messages)")
    prompt = data["prompt"] if "prompt" in data else data["messages"]
    if "prompt" in data and not isinstance(prompt, str):
        raise BatchInputError(f"{where}: field 'prompt': a string, got a JSON {_json_type(prompt)}")
    if "messages" in data:
        _check_messages(where, prompt)
    if "id" in data and not (isinstance(data["id"], str) or _int(data["id"])):
        raise BatchInputError(f"{where}: field 'id': a string or an integer, got a JSON {_json_type(data['id'])}")
    settings = {key: data[key] for key in SETTINGS if key in data}
    for key, value in settings.items():
        _check_setting(where, key, value)
    kinds = [key for key in CONSTRAINTS if key in data and data[key] is not None]
    if len(kinds) > 1:
        raise BatchInputError(f"{where}: give at most one constraint, got {' and '.join(kinds)}")
    kind = kinds[0] if kinds else None
    constraint, problem = (None, None) if kind is None else _constraint(where, kind, data[kind], base)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return BatchLine(index, prompt, data.get("id"), kind, constraint, settings, problem, digest)


def _check_messages(where: str, messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise BatchInputError(f"{where}: field 'messages': a non-empty list of {{\"role\", \"content\"}} objects")
    for k, message in enumerate(messages):
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise BatchInputError(f"{where}: field 'messages', item {k}: an object with string 'role' and 'content'")


def _check_setting(where: str, key: str, value: Any) -> None:
    """JSON types only (and signs); lm.generate checks the rest and its error becomes the line's record."""
    ok = {
        "particles": _positive_int(value), "max_tokens": _positive_int(value), "seed": _int(value) and value >= 0,
        "method": isinstance(value, str), "allow_extra_keys": isinstance(value, bool), "heal": isinstance(value, bool),
        "temperature": _number(value) and math.isfinite(value) and value > 0,
    }[key]
    if not ok:
        wanted = {"particles": "a positive integer", "max_tokens": "a positive integer", "seed": "an integer >= 0",
                  "method": "a string (smc, lcd or rerank)", "allow_extra_keys": "true or false",
                  "heal": "true or false", "temperature": "a positive number"}[key]
        raise BatchInputError(f"{where}: field {key!r}: {wanted}, got {json.dumps(value)}")


def _constraint(where: str, kind: str, value: Any, base: Path) -> tuple[Any, str | None]:
    """(the constraint as lm.generate takes it, None) or (None, why it could not be read): files are read here."""
    if kind == "json_schema":
        if isinstance(value, (dict, bool)):
            return value, None
        if not isinstance(value, str):
            raise BatchInputError(f"{where}: field 'json_schema': a schema object or the path of a schema file")
        path = base / value
        try:
            return json.loads(path.read_text(encoding="utf-8")), None
        except OSError as e:
            return None, f"json_schema {value}: cannot be read ({e.strerror})"
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return None, f"json_schema {value}: not a JSON file ({e})"
    if not isinstance(value, str):
        raise BatchInputError(f"{where}: field {kind!r}: a string, got a JSON {_json_type(value)}")
    if kind == "grammar" and value.endswith(".lark") and "\n" not in value:
        try:
            return (base / value).read_text(encoding="utf-8"), None
        except (OSError, UnicodeDecodeError) as e:
            return None, f"grammar {value}: cannot be read ({getattr(e, 'strerror', None) or e})"
    if kind == "sql" and not _DDL_START.match(value):
        path = base / value
        if not path.is_file():
            return None, f"sql {value}: no such database file ({path})"
        return str(path.resolve()), None
    return value, None


def result_record(line: BatchLine, result: Any, seed: int, seconds: float, worker: str, job: str) -> dict:
    """The output record of a line that ran: samples with probabilities, log-ML, ESS, steps, message, timing."""
    data = result.to_dict()
    record = {"index": line.index, "id": line.id, "samples": data["samples"], "log_ml": data["log_ml"],
              "ess": data["ess"], "particles": data["particles"], "steps": len(data["steps"]),
              "evaluations": data["evaluations"], "message": data["message"], "seed": seed,
              "seconds": seconds, "worker": worker, "job": job, "digest": line.digest}
    return record


def error_record(line: BatchLine, error: "BaseException | str", seed: int | None, seconds: float, worker: str,
                 job: str) -> dict:
    """The output record of a line that failed: the error's type and message, for this line only."""
    kind, message = ("ConstraintError", error) if isinstance(error, str) else (type(error).__name__, str(error))
    return {"index": line.index, "id": line.id, "error": {"type": kind, "message": message}, "seed": seed,
            "seconds": seconds, "worker": worker, "job": job, "digest": line.digest}


def _positive_int(value: Any) -> bool:
    return _int(value) and value >= 1


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")
