"""The GPU benchmark's tasks as a folder that travels: tasks.json plus the Spider sqlite files it names.

`make_pack(dir)` picks the tasks here (benchmarks/constrained_tasks.py reads /work/shared/data, which
does not travel to the device machine); `load_pack(dir)` reads them back anywhere. Prompts are built
per model: the tasks' plain "Schema: ...\\nJSON:" / "Database: ...\\nSQL:" text for a model without a
chat template, the model's chat template around an instruction otherwise. Every constraint is the
whole output (no leading space): JSON text, or one SQL SELECT statement.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The kind of schema: a closed object with three required keys.
THREE_KEY_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}},
    "required": ["name", "age", "city"],
    "additionalProperties": False,
}
THREE_KEY_TEXT = "Maria Lopez is 34 years old and lives in Valencia."


@dataclass(frozen=True)
class Task:
    name: str
    kind: str              # "JSON" or "SQL"
    plain_prompt: str      # for models without a chat template
    instruction: str       # the user turn for chat models
    schema: dict | None = None
    db_path: str | None = None
    gold: str | None = None


def make_pack(out_dir: Path, json_per_source: int = 1, sql_dbs: tuple[str, ...] = ("concert_singer", "pets_1"),
              sql_per_db: tuple[int, ...] = (2, 1)) -> Path:
    """Write tasks.json and the sqlite files of the chosen Spider databases into `out_dir`."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from constrained_tasks import json_tasks, sql_tasks

    out_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = [{
        "name": "three-key", "kind": "JSON", "schema": THREE_KEY_SCHEMA,
        "plain_prompt": f"Text: {THREE_KEY_TEXT}\nSchema: {json.dumps(THREE_KEY_SCHEMA)}\nJSON:",
        "instruction": f"Extract the person from this text as JSON with keys name, age and city.\n\n{THREE_KEY_TEXT}"}]
    for task in json_tasks(per_source=json_per_source):
        records.append({"name": task.name, "kind": "JSON", "schema": task.schema, "plain_prompt": task.prompt,
                        "instruction": "Reply with one JSON object, and nothing else, that validates against this "
                                       f"JSON Schema; make up plausible values.\n\n{json.dumps(task.schema)}"})
    for db, count in zip(sql_dbs, sql_per_db):
        for task in sql_tasks((db,), count):
            shutil.copyfile(task.db_path, out_dir / f"{db}.sqlite")
            records.append({"name": task.name, "kind": "SQL", "db_file": f"{db}.sqlite", "gold": task.gold,
                            "plain_prompt": task.prompt,
                            "instruction": f"SQLite database {db}:\n{schema_ddl(task.db_path)}\n\nWrite one SQLite "
                                           f"SELECT query, and nothing else, that answers: {task.question}"})
    (out_dir / "tasks.json").write_text(json.dumps(records, indent=1) + "\n")
    return out_dir


def schema_ddl(db_path: str) -> str:
    """The CREATE TABLE statements of a sqlite file (what a text-to-SQL prompt shows the model)."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL").fetchall()
    finally:
        connection.close()
    return "\n".join(r[0].strip() + ";" for r in rows)


def load_pack(pack_dir: Path) -> list[Task]:
    """The tasks of a pack, SQL tasks with absolute paths to their sqlite files; ValueError naming what is missing."""
    index = pack_dir / "tasks.json"
    if not index.is_file():
        raise ValueError(f"task pack {pack_dir}: no tasks.json (make one with: python benchmarks/gpu_constrained.py "
                         f"--make-pack {pack_dir})")
    tasks = []
    for i, r in enumerate(json.loads(index.read_text())):
        db_path = None
        if r["kind"] == "SQL":
            db_path = pack_dir / r["db_file"]
            if not db_path.is_file():
                raise ValueError(f"task pack {index}: task {i} ({r['name']}) needs {db_path}, which is missing")
        tasks.append(Task(r["name"], r["kind"], r["plain_prompt"], r["instruction"], r.get("schema"),
                          str(db_path) if db_path else None, r.get("gold")))
    return tasks


def interleaved(tasks: list[Task]) -> list[Task]:
    """JSON and SQL tasks alternating, so a run cut short by its time budget still covers both kinds."""
    by_kind = [[t for t in tasks if t.kind == k] for k in ("JSON", "SQL")]
    out = []
    for i in range(max(len(x) for x in by_kind)):
        out += [x[i] for x in by_kind if i < len(x)]
    return out


def prompt_for(task: Task, tokenizer: Any) -> str:
    """The task's prompt for a model: its chat template around the instruction, or the plain prompt."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": task.instruction}], tokenize=False,
                                             add_generation_prompt=True)
    return task.plain_prompt
