"""The job protocol shared by the peer runners: read a job file, time each task, print JSON lines.

A job is {"model": dir, "particles": N, "max_tokens": T, "seed": s, "tasks": [...]}; a task is
{"name", "kind": "json" | "lark", "prompt", "schema" (json) or "grammar" (lark, already starting
with the leading space), "prefix"}. Each runner prints one line {"versions": ..., "load_s": ...},
then one line per task {"name", "outputs": [{"text", "finished"}], "wall_s", "cpu_s", "setup_s"}
or {"name", "error"}; the driver (benchmarks/constrained_generation.py) reads them.
"""
from __future__ import annotations

import importlib.metadata
import json
import sys
import time
import traceback
from typing import Any, Callable


def read_job() -> dict:
    with open(sys.argv[1]) as f:
        return json.load(f)


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def versions(*packages: str) -> dict:
    found = {}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def run_tasks(job: dict, setup: Callable[[dict], Any], generate: Callable[[dict, Any], list[dict]]) -> None:
    """For each task: `setup(task)` (timed as setup_s), then `generate(task, prepared)` (timed as wall_s/cpu_s)."""
    for task in job["tasks"]:
        try:
            started = time.perf_counter()
            prepared = setup(task)
            setup_s = time.perf_counter() - started
            wall, cpu = time.perf_counter(), time.process_time()
            outputs = generate(task, prepared)
            emit({"name": task["name"], "outputs": outputs, "wall_s": time.perf_counter() - wall,
                  "cpu_s": time.process_time() - cpu, "setup_s": setup_s})
        except Exception as e:  # noqa: BLE001 - a peer's failure is a result to report
            emit({"name": task["name"], "error": f"{type(e).__name__}: {str(e)[:400]}",
                  "trace": traceback.format_exc()[-800:]})
