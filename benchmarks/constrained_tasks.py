"""The benchmark's tasks and checks: JSON schemas from JSONSchemaBench, Spider questions, validity, accuracy.

Choices are deterministic (sorted file names, fixed strides), so every run measures the same tasks.
Prompts follow the built-in model's training formats ("Schema: <shape>\\nJSON:", "Database: ...\\n
Question: ...\\nSQL:"); the constrained text starts with the space the model writes after the colon.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS_DIR = Path("/work/shared/data/jsonschemabench/schemas")
SPIDER_DIR = Path("/work/shared/data/spider")
JSON_SOURCES = ("Glaiveai2K", "Github_easy")
ALLOWED_FEATURES = {"items", "enum", "format", "format:date-time", "format:date", "format:email",
                    "additionalProperties", "@minmaxLength", "@minmaxNumber", "@minmaxItems"}
LEADING = " "


@dataclass(frozen=True)
class JsonTask:
    name: str
    schema: dict
    prompt: str


@dataclass(frozen=True)
class SqlTask:
    name: str
    db_id: str
    db_path: str
    question: str
    gold: str
    prompt: str


def closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` on every object schema that lists properties and says nothing.

    xgrammar (strict mode, its default), outlines and genlm-control never generate unlisted keys;
    closing the schemas makes every engine target the same language.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: closed(v) for k, v in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = closed(out[key])
    for key in ("prefixItems", "anyOf", "oneOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [closed(v) for v in out[key]]
    for key in ("$defs", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {k: closed(v) for k, v in out[key].items()}
    return out


def prompt_shape(schema: Any) -> Any:
    """The schema as the built-in model saw schemas in training: type, properties, items, enum, required."""
    if not isinstance(schema, dict):
        return schema
    out: dict = {}
    if "type" in schema:
        out["type"] = schema["type"]
    if "properties" in schema:
        out["properties"] = {k: prompt_shape(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = prompt_shape(schema["items"])
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if "required" in schema:
        out["required"] = schema["required"]
    return out


def json_tasks(per_source: int = 5, stride: int = 7) -> list[JsonTask]:
    """`per_source` simple-to-medium object schemas from each source that our json_schema compiles, closed.

    Rule: every `stride`-th file in name order; top-level object with 2-6 properties, a
    non-empty `required`, stripped size <= 450 bytes, features within ALLOWED_FEATURES, one
    schema per Glaive function name. The task's schema is `closed(schema)`.
    """
    from lm.constraints import json_schema

    tasks = []
    for source in JSON_SOURCES:
        seen: set[str] = set()
        picked = 0
        for path in sorted(SCHEMAS_DIR.glob(f"{source}---*.json"))[::stride]:
            stem = path.stem.split("---", 1)[1]
            stem = stem.rsplit("_", 1)[0] if source == "Glaiveai2K" else stem
            record = json.loads(path.read_text())
            schema, meta = record["schema"], record["meta"]
            props = schema.get("properties", {})
            if stem in seen or schema.get("type") != "object" or not 2 <= len(props) <= 6 or not schema.get("required"):
                continue
            if meta["stripped_size"] > 450 or not set(meta["features"]) <= ALLOWED_FEATURES:
                continue
            schema = closed(schema)
            try:
                json_schema(schema)
            except Exception:  # noqa: BLE001 - a schema we cannot compile is simply not picked
                continue
            seen.add(stem)
            tasks.append(JsonTask(path.stem, schema, f"Schema: {json.dumps(prompt_shape(schema))}\nJSON:"))
            picked += 1
            if picked == per_source:
                break
    return tasks


def sql_tasks(databases: tuple[str, ...], per_database: int) -> list[SqlTask]:
    """The first `per_database` Spider dev questions of each database, in file order."""
    rows = [json.loads(line) for line in (SPIDER_DIR / "dev.jsonl").read_text().splitlines() if line.strip()]
    tasks = []
    for db in databases:
        mine = [r for r in rows if r["db_id"] == db][:per_database]
        for i, r in enumerate(mine):
            path = SPIDER_DIR / "databases" / db / f"{db}.sqlite"
            tasks.append(SqlTask(f"{db}#{i}", db, str(path), r["question"], r["query"],
                                 f"Database: {db}\nQuestion: {r['question']}\nSQL:"))
    return tasks


def json_valid(schema: dict, text: str) -> tuple[bool, str]:
    """Whether `text` (leading space stripped) parses as JSON and validates, formats asserted."""
    try:
        value = json.loads(text)
    except ValueError as e:
        return False, f"not JSON: {e}"
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(value))
    return (not errors), (errors[0].message[:120] if errors else "")


def run_sql(db_path: str, query: str) -> tuple[bool, Any]:
    """(True, rows) if sqlite runs `query` as one SELECT statement, else (False, error message). One statement:
    Python's sqlite3 refuses a second one ("You can only execute one statement at a time"); a `;` inside a
    string literal is not a second statement."""
    text = query.strip()
    if not text.upper().startswith("SELECT"):
        return False, "not a single SELECT"
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        connection.text_factory = lambda b: b.decode("utf-8", errors="replace")
        return True, connection.execute(text).fetchall()
    except sqlite3.Error as e:
        return False, str(e)
    finally:
        connection.close()


def result_key(rows: list, ordered: bool) -> tuple:
    """A comparable form of a result set: row order kept only if the query orders it."""
    normalized = [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]
    return tuple(normalized) if ordered else tuple(sorted(normalized, key=repr))


def same_result(gold: str, predicted: str, db_path: str) -> bool:
    """Spider execution accuracy: the predicted query returns the gold query's result."""
    ok, gold_rows = run_sql(db_path, gold)
    if not ok:
        raise ValueError(f"gold query does not run on {db_path}: {gold_rows}")
    ok, rows = run_sql(db_path, predicted)
    if not ok:
        return False
    ordered = "order by" in gold.lower()
    return result_key(gold_rows, ordered) == result_key(rows, ordered)


def majority_by_result(candidates: list[tuple[str, float]], db_path: str) -> str | None:
    """The query whose execution result (as a row multiset) has the most total weight among `(query, weight)`."""
    weight: Counter = Counter()
    representative: dict = {}
    for query, w in candidates:
        ok, rows = run_sql(db_path, query)
        if not ok:
            continue
        key = result_key(rows, ordered=False)
        weight[key] += w
        representative.setdefault(key, query)
    if not weight:
        return None
    return representative[weight.most_common(1)[0][0]]
