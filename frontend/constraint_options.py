"""The constraint options of `ppl generate`: read what they name, check it, and build the constraint.

Everything here runs before the model loads, so a typo in a schema costs a fraction of a second,
not a model load; each problem is a one-line `BadInput` (exit 2) naming the option and the fix.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontend.failures import BadInput

OPTIONS = {"json_schema": "--json-schema", "regex": "--regex", "grammar": "--grammar", "sql": "--sql"}


@dataclass(frozen=True)
class ConstraintSpec:
    """One constraint as the user gave it: its kind, the option's text, and what it names (schema, regex, grammar, db path)."""

    kind: str
    source: str
    value: Any

    @property
    def option(self) -> str:
        return OPTIONS[self.kind]

    def describe(self) -> dict:
        return {"kind": self.kind, "source": self.source}


def read_constraint(json_schema: str | None = None, regex: str | None = None, grammar: str | None = None,
                    sql: str | None = None) -> ConstraintSpec | None:
    """The one constraint given (None for free text); BadInput for two at once or an unreadable file."""
    given = {kind: text for kind, text in
             (("json_schema", json_schema), ("regex", regex), ("grammar", grammar), ("sql", sql)) if text is not None}
    if len(given) > 1:
        names = " and ".join(OPTIONS[kind] for kind in given)
        raise BadInput(f"give one constraint, got {names}; to combine constraints use `&` in Python "
                               "(lm.constraints.regex(...) & lm.constraints.json_schema(...), docs/constraints.md)")
    if not given:
        return None
    (kind, text), = given.items()
    if kind == "json_schema":
        return ConstraintSpec(kind, text, _schema_file(Path(text)))
    if kind == "regex":
        return ConstraintSpec(kind, text, text)
    if kind == "grammar":
        return ConstraintSpec(kind, text, _text_file(Path(text), "--grammar", "a Lark grammar file"))
    path = Path(text)
    _existing_file(path, "--sql", "a sqlite database file")
    return ConstraintSpec(kind, text, str(path))


def build_constraint(spec: ConstraintSpec | None, allow_extra_keys: bool = False) -> Any:
    """The constraint object for `spec` (None for free text), built once; BadInput naming the option and the error.

    A JSON Schema's objects take no unlisted keys unless `allow_extra_keys` (lm.generate's default).
    """
    if spec is None:
        return None
    import constraints

    make = {"json_schema": constraints.json_schema, "regex": constraints.regex, "grammar": constraints.lark,
            "sql": constraints.sql}[spec.kind]
    options = {}
    if spec.kind == "json_schema" and "allow_extra_keys" in inspect.signature(make).parameters:
        options["allow_extra_keys"] = allow_extra_keys
    try:
        return make(spec.value, **options)
    except constraints.ConstraintError as e:
        raise BadInput(f"{spec.option} {spec.source}: {e}") from None


def _existing_file(path: Path, option: str, what: str) -> None:
    if not path.exists():
        raise BadInput(f"{option} {path}: no such file; give the path of {what}")
    if not path.is_file():
        raise BadInput(f"{option} {path}: not a file; give the path of {what}")


def _text_file(path: Path, option: str, what: str) -> str:
    _existing_file(path, option, what)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{option} {path}: not UTF-8 text (byte {e.start}); give {what}") from None
    except OSError as e:
        raise BadInput(f"{option} {path}: cannot be read ({e.strerror})") from None


def _schema_file(path: Path) -> Any:
    text = _text_file(path, "--json-schema", "a JSON Schema file")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"--json-schema {path}: not JSON at line {e.lineno}, column {e.colno}: {e.msg}; "
                               "fix the file (a JSON Schema is a JSON object)") from None
    if not isinstance(schema, (dict, bool)):
        raise BadInput(f"--json-schema {path}: a JSON Schema is an object (or true/false), "
                               f"this file holds a JSON {type(schema).__name__}")
    return schema
