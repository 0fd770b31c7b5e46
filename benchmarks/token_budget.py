"""Token budget benchmark (issue 16): valid-and-finished outputs under a tight max_tokens, SmolLM2 on CPU.

Tasks are the real-model benchmark's (benchmarks/real_model_tasks.py): JSON extraction under closed
schemas and Spider text-to-SQL under the SQL constraint, chat-templated prompts for
SmolLM2-135M-Instruct (`lm.load("smollm2")`). With N = 8 and 16 particles / samples per call:

* ours, SMC + AWRS with the token budget (`lm.generate(..., budget=True)`, the default);
* ours, SMC + AWRS without it (`budget=False`: particles that reach max_tokens die);
* xgrammar and llguidance token masking in HF `generate` with max_new_tokens = max_tokens
  (benchmarks/peers/*_runner.py in the peers venv, /work/peers-venv: `pip install xgrammar llguidance`),
  on the same prompt and language (the peers' SQL grammar is the constraint's canonical Lark grammar).

Per call: whether it returned at least one valid, finished output; per row (particle or sample):
valid and finished (an unfinished row counts as invalid, as a user would count it); wall time per
call and per valid output. Ours with and without the budget alternate task by task, so machine
load drifts hit both alike.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/token_budget.py            # writes benchmarks/results/token_budget.md
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/token_budget.py --json-tasks 2 --sql-tasks 2 --particles 8 --peers
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import lm  # noqa: E402
from constraints.token_budget import BudgetTooSmall  # noqa: E402
from lm.generation.api import build_constraint  # noqa: E402
from lm.generation.generation import vocabulary_trie  # noqa: E402
from real_model_benchmark import (DATABASES, HEALED, is_valid, lark_for_peers, messages, peer_task,  # noqa: E402
                                  run_peer)
from real_model_tasks import EXTRACTION_TASKS, ExtractionTask, spider_tasks  # noqa: E402

PEERS = ("xgrammar", "llguidance")
RESULTS = ROOT / "benchmarks/results/token_budget.md"


def keyword(task: Any) -> dict:
    return {"json_schema": task.schema} if isinstance(task, ExtractionTask) else {"sql": task.db_path}


def kind(task: Any) -> str:
    return "JSON" if isinstance(task, ExtractionTask) else "SQL"


def tokens_needed(llm: Any, task: Any) -> int | None:
    """The fewest tokens that spell the task's shortest output after the healed newline (EOS not counted)."""
    constraint, _ = build_constraint(**keyword(task))
    text = constraint.shortest_completion(constraint.start())
    return None if text is None else vocabulary_trie(llm).fewest_tokens(HEALED.encode() + text)


class CallTimeout(Exception):
    """A call of ours ran past --call-timeout (counted as a failed call with no valid rows)."""


def _alarm(signum: int, frame: Any) -> None:
    raise CallTimeout


def run_ours(llm: Any, task: Any, particles: int, max_tokens: int, budget: bool, seed: int, timeout: int) -> dict:
    llm.clear_cache()
    wall = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        result = lm.generate(llm, messages(task), particles=particles, max_tokens=max_tokens, rng=seed,
                             budget=budget, **keyword(task))
    except BudgetTooSmall as e:
        return {"error": str(e), "wall_s": time.perf_counter() - wall, "rows": []}
    except CallTimeout:
        return {"timeout": True, "wall_s": time.perf_counter() - wall,
                "rows": [{"text": "", "finished": False, "valid": False}] * particles}
    finally:
        signal.alarm(0)
    wall = time.perf_counter() - wall
    rows = []
    for particle in result.particles:
        trace = particle.trace
        finished = bool(trace.finished and not trace.truncated and particle.log_weight > -math.inf)
        text = trace.output.removeprefix(HEALED)
        rows.append({"text": text, "finished": finished, "valid": finished and is_valid(task, text)})
    return {"wall_s": wall, "rows": rows, "message": result.message}


def summarize(records: dict, tasks: list) -> dict:
    calls = [records[t.name] for t in tasks if t.name in records]
    rows = [r for c in calls for r in c.get("rows", [])]
    valid = sum(r["valid"] for r in rows)
    wall = sum(c["wall_s"] for c in calls if "error" not in c)
    return {"calls": len(calls), "calls_ok": sum(any(r["valid"] for r in c.get("rows", [])) for c in calls),
            "errors": sum("error" in c for c in calls), "timeouts": sum(bool(c.get("timeout")) for c in calls),
            "rows": len(rows), "rows_valid": valid,
            "rows_unfinished": sum(not r["finished"] for r in rows), "wall_s": wall,
            "wall_per_call": wall / max(1, sum("error" not in c for c in calls)),
            "wall_per_valid": wall / valid if valid else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--particles", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--json-max-tokens", type=int, default=32)
    parser.add_argument("--sql-max-tokens", type=int, default=32)
    parser.add_argument("--json-tasks", type=int, default=8)
    parser.add_argument("--sql-tasks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--peer-timeout", type=float, default=1800.0)
    parser.add_argument("--call-timeout", type=int, default=60, help="seconds per call of ours (then: no valid rows)")
    parser.add_argument("--raw", type=Path, default=Path("/tmp/token_budget_raw.json"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started, load_start = time.perf_counter(), " ".join(f"{x:.1f}" for x in os.getloadavg())
    per_db = max(1, -(-args.sql_tasks // len(DATABASES)))
    sql = spider_tasks(DATABASES, per_db)
    sql = [sql[i] for i in sorted(range(len(sql)), key=lambda i: (i % per_db, i))][: args.sql_tasks]
    tasks: list = list(EXTRACTION_TASKS[: args.json_tasks]) + sql
    max_tokens = {"JSON": args.json_max_tokens, "SQL": args.sql_max_tokens}
    results: dict = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "models": {}}
    llm = lm.load("smollm2")
    from lm.loading.gguf_model import gguf_model_dir
    from lm.loading.model_packages import package_model_file
    model_dir = str(gguf_model_dir(package_model_file("smollm2")))
    vocabulary_trie(llm)
    needed = {t.name: tokens_needed(llm, t) for t in tasks}
    per_model: dict = {"dir": model_dir, "vocab": len(llm.vocabulary.tokens), "needed": needed, "runs": {}}
    results["models"]["smollm2"] = per_model
    sql_grammars = {db: lark_for_peers(tasks_db) for db, tasks_db in
                    {t.db_id: t.db_path for t in tasks if not isinstance(t, ExtractionTask)}.items()}
    prompts = {t.name: llm.chat(messages(t)) for t in tasks}
    for particles in args.particles:
        runs: dict = {"ours, budget": {}, "ours, no budget": {}}
        for i, task in enumerate(tasks):
            limit = max_tokens[kind(task)]
            for label, budget in (("ours, budget", True), ("ours, no budget", False))[:: 1 if i % 2 == 0 else -1]:
                record = run_ours(llm, task, particles, limit, budget, args.seed + i, args.call_timeout)
                runs[label][task.name] = record
                print(f"[N={particles}] {label} {task.name}: {record['wall_s']:.2f} s, "
                      f"{sum(r['valid'] for r in record['rows'])}/{len(record['rows'])} valid"
                      + (f" ({record['error'][:80]})" if "error" in record else "")
                      + (" (timed out)" if record.get("timeout") else "")
                      + (f" [{record['message'][:100]}]" if record.get("message") else ""), flush=True)
        for peer in args.peers:
            label = f"{peer} (masking, HF generate)"
            runs[label] = {}
            for group in ("JSON", "SQL"):
                mine = [t for t in tasks if kind(t) == group]
                if not mine:
                    continue
                job = {"model": model_dir, "particles": particles, "max_tokens": max_tokens[group], "seed": args.seed,
                       "tasks": [peer_task(t, prompts[t.name], sql_grammars) for t in mine]}
                header, records, error = run_peer(peer, job, args.peer_timeout)
                per_model.setdefault("peer_versions", {})[peer] = header.get("versions", {})
                if error:
                    per_model.setdefault("peer_errors", {})[f"{peer} {group}"] = error
                for task in mine:
                    record = records.get(task.name)
                    if record is None or "error" in record:
                        runs[label][task.name] = {"error": (record or {}).get("error", "no record"), "wall_s": 0.0,
                                                  "rows": []}
                        continue
                    rows = []
                    for o in record["outputs"]:
                        text = o["text"].removeprefix(HEALED)
                        rows.append({"text": text, "finished": o["finished"],
                                     "valid": bool(o["finished"] and is_valid(task, text))})
                    runs[label][task.name] = {"wall_s": record["wall_s"], "rows": rows}
            print(f"[N={particles}] {label}: {len(runs[label])} records {per_model.get('peer_errors', '')}", flush=True)
        per_model["runs"][particles] = runs
    results["total_s"] = time.perf_counter() - started
    results["call_timeout"] = args.call_timeout
    results["load"] = (load_start, " ".join(f"{x:.1f}" for x in os.getloadavg()))
    results["tasks"] = {"json": [t.name for t in tasks if kind(t) == "JSON"],
                        "sql": [t.name for t in tasks if kind(t) == "SQL"]}
    results["max_tokens"] = {"json": max_tokens["JSON"], "lark": max_tokens["SQL"]}
    args.raw.write_text(json.dumps(results, default=str))
    write_report(results, tasks, args.out)


def write_report(results: dict, tasks: list, path: Path) -> None:
    L = ["# Token budget: valid and finished outputs under a tight max_tokens (CPU)\n",
         "Issue 16, item 4; produced by `benchmarks/token_budget.py`.\n", "```", "python benchmarks/" + results["command"],
         "```\n",
         f"- machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average "
         f"{results['load'][0]} at start, {results['load'][1]} at end); torch 1 thread; total {results['total_s']:.0f} s",
         f"- max_tokens (EOS included, the same for every method): JSON {results['max_tokens']['json']}, "
         f"SQL {results['max_tokens']['lark']}",
         "- a call is ok if it returned at least one valid, finished output; a row is one particle (ours) or one "
         "sample (peers): valid only if finished and valid (JSON: `jsonschema` with formats; SQL: sqlite runs it)",
         "- ours with and without the budget alternate task by task; peers run as subprocesses afterwards",
         f"- a call of ours still running after {results['call_timeout']} s is stopped and counts as failed (all rows "
         "invalid, the wall time up to the stop)\n"]
    for model, per_model in results["models"].items():
        L.append(f"## {model} ({per_model['vocab']} tokens)\n")
        needed = [v for v in per_model["needed"].values() if v is not None]
        L.append(f"Tokens that spell each task's shortest output (EOS not counted): max {max(needed)}, "
                 f"median {sorted(needed)[len(needed) // 2]}.\n")
        for peer, versions in per_model.get("peer_versions", {}).items():
            L.append(f"- {peer}: {json.dumps(versions)}")
        for peer, error in per_model.get("peer_errors", {}).items():
            L.append(f"- {peer}: {error}")
        L.append("")
        L.append("| N | tasks | method | calls ok | rows valid | rows unfinished | wall s | s / call | s / valid output |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for particles, runs in per_model["runs"].items():
            for group, mine in (("JSON", [t for t in tasks if kind(t) == "JSON"]),
                                ("SQL", [t for t in tasks if kind(t) == "SQL"])):
                for label, records in runs.items():
                    s = summarize(records, mine)
                    if not s["calls"]:
                        continue
                    per_valid = f"{s['wall_per_valid']:.2f}" if s["wall_per_valid"] else "n/a"
                    errors = (f" ({s['errors']} errors)" if s["errors"] else "") + (
                        f" ({s['timeouts']} timed out)" if s["timeouts"] else "")
                    L.append(f"| {particles} | {group} | {label} | {s['calls_ok']}/{s['calls']}{errors} | "
                             f"{s['rows_valid']}/{s['rows']} | {s['rows_unfinished']} | {s['wall_s']:.1f} | "
                             f"{s['wall_per_call']:.2f} | {per_valid} |")
                ratio = _time_ratio(runs, mine)
                if ratio:
                    L.append(f"| {particles} | {group} | budget / no budget, wall per call | {ratio} | | | | | |")
        L.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(L) + "\n")


def _time_ratio(runs: dict, tasks: list) -> str:
    on, off = runs.get("ours, budget", {}), runs.get("ours, no budget", {})
    pairs = [(on[t.name]["wall_s"], off[t.name]["wall_s"]) for t in tasks
             if t.name in on and t.name in off and "error" not in on[t.name] and "error" not in off[t.name]]
    if not pairs:
        return ""
    total = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
    geo = math.exp(sum(math.log(a / b) for a, b in pairs) / len(pairs))
    return f"total {total:.2f}x, geometric mean per task {geo:.2f}x"


if __name__ == "__main__":
    main()
