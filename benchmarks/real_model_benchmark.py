"""Constrained generation on a real instruct model (SmolLM2-135M-Instruct, CPU): ours vs the peers, one run.

Tasks (benchmarks/real_model_tasks.py): JSON extraction with gold values, Spider text-to-SQL with
gold queries compared by execution result. Every method gets the same chat-templated prompt and
the same N. Ours (`lm.generate`, SMC+AWRS and LCD) heal the prompt's final "\\n" (the text must
start with it); the peers get the prompt without that "\\n" and a grammar that starts with it, so
every engine continues the same tokens under the same language. Peers run as subprocesses in the
peers venv (benchmarks/peers/*_runner.py).

    PYTHONPATH=. python benchmarks/real_model_benchmark.py --json-tasks 8 --sql-tasks 4 --lcd-tasks 2

Per method: wall time per valid output (total generation wall / valid outputs), validity (valid
outputs / all outputs), accuracy of the most probable answer (outputs grouped by parsed JSON value
or by SQL result, weights: ours and genlm-control their importance weights, masking uniform) and
posterior-weighted accuracy (weight of right outputs among valid ones). Exact McNemar: SMC+AWRS vs
the best masking peer, at equal N and at equal total wall time (the masking peer rerun with as
many samples as fit in SMC's time, its weighted majority).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import lm  # noqa: E402
from constrained_tasks import SqlTask, json_valid, run_sql, same_result  # noqa: E402
from paired_test import mcnemar  # noqa: E402
from real_model_tasks import (EXTRACTION_TASKS, ExtractionTask, extraction_correct, extraction_prompt,  # noqa: E402
                              spider_prompt, spider_tasks)

PEERS_PYTHON = Path("/work/peers-venv/bin/python")
PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEERS = {"xgrammar": "xgrammar_runner.py", "llguidance": "llguidance_runner.py",
         "genlm-control": "genlm_control_runner.py", "outlines": "outlines_runner.py"}
MASKING = ("xgrammar", "llguidance", "outlines")
RESULTS = ROOT / "benchmarks/results/real_model_benchmark.md"
DATABASES = ("concert_singer", "pets_1", "car_1", "employee_hire_evaluation")
HEALED = "\n"


def messages(task: Any) -> list[dict]:
    content = extraction_prompt(task) if isinstance(task, ExtractionTask) else spider_prompt(task)
    return [{"role": "user", "content": content}]


def is_valid(task: Any, text: str) -> bool:
    if isinstance(task, ExtractionTask):
        return json_valid(task.schema, text)[0]
    return run_sql(task.db_path, text)[0]


def answer_key(task: Any, text: str) -> Any:
    """What makes two outputs the same answer: the parsed JSON value, or the SQL result as a row multiset."""
    if isinstance(task, ExtractionTask):
        return json.dumps(json.loads(text), sort_keys=True)
    ok, rows = run_sql(task.db_path, text)
    return repr(sorted(map(tuple, rows), key=repr))


def is_correct(task: Any, text: str) -> bool:
    if isinstance(task, ExtractionTask):
        return extraction_correct(task, text)
    return same_result(task.gold, text, task.db_path)


def score(task: Any, outputs: list[dict]) -> dict:
    """Validity, most-probable-answer correctness and posterior-weighted accuracy of one task's outputs.

    `outputs`: [{"text", "finished", "weight"}]; weights are renormalized over the valid outputs.
    """
    valid = [o for o in outputs if o["finished"] and is_valid(task, o["text"].removeprefix(HEALED))]
    total = sum(o["weight"] for o in valid)
    mass: Counter = Counter()
    right: dict = {}
    for o in valid:
        text = o["text"].removeprefix(HEALED)
        key = answer_key(task, text)
        mass[key] += o["weight"] / total if total > 0 else 1 / len(valid)
        right.setdefault(key, is_correct(task, text))
    top = mass.most_common(1)[0][0] if mass else None
    return {"valid": len(valid), "outputs": len(outputs), "top_ok": bool(top is not None and right[top]),
            "weighted_acc": sum(m for k, m in mass.items() if right[k]),
            "top": next((o["text"].removeprefix(HEALED) for o in valid if answer_key(task, o["text"].removeprefix(HEALED)) == top), None)}


def run_ours(llm: Any, task: Any, method: str, particles: int, max_tokens: int, seed: int) -> dict:
    llm.clear_cache()
    keyword = {"json_schema": task.schema} if isinstance(task, ExtractionTask) else {"sql": task.db_path}
    started = time.perf_counter()
    result = lm.generate(llm, messages(task), particles=particles, method=method, max_tokens=max_tokens, rng=seed,
                         **keyword)
    wall = time.perf_counter() - started
    live = [p.log_weight for p in result.particles if p.log_weight > -math.inf]
    peak = max(live, default=0.0)
    outputs = []
    for p in result.particles:
        trace = p.trace
        finished = bool(trace.finished and not trace.truncated and p.log_weight > -math.inf)
        outputs.append({"text": trace.output, "finished": finished,
                        "weight": math.exp(p.log_weight - peak) if finished else 0.0})
    return {"outputs": outputs, "wall_s": wall}


def peer_task(task: Any, chat_prompt: str, sql_grammars: dict) -> dict:
    name = task.name
    prompt = chat_prompt.removesuffix(HEALED)
    if isinstance(task, ExtractionTask):
        return {"name": name, "kind": "json", "prompt": prompt, "schema": task.schema, "prefix": HEALED}
    return {"name": name, "kind": "lark", "prompt": prompt, "grammar": sql_grammars[task.db_id], "prefix": HEALED}


def lark_for_peers(db_path: str) -> str:
    """Our SQL grammar for the database as Lark text whose start rule first reads the healed newline."""
    grammar = lm.constraints.sql(db_path).grammar
    if not grammar.startswith("start:"):
        raise ValueError("expected the SQL grammar to begin with its start rule")
    return 'start: "\\n" sql_start\n' + grammar.replace("start:", "sql_start:", 1)


def run_peer(peer: str, job: dict, timeout: float) -> tuple[dict, dict, str]:
    """One peer runner on `job`: (header, {task name: record}, error or '')."""
    if not (PEERS_DIR / PEERS[peer]).exists() or not PEERS_PYTHON.exists():
        return {}, {}, "runner or peers venv missing"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(job, f)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    error = ""
    try:
        done = subprocess.run([str(PEERS_PYTHON), str(PEERS_DIR / PEERS[peer]), f.name], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=str(PEERS_DIR))
        stdout = done.stdout
        if done.returncode != 0:
            error = f"exit {done.returncode}: " + (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        error = f"timed out after {timeout:.0f} s (tasks finished before that are kept)"
    finally:
        os.unlink(f.name)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    header = next((x for x in lines if "versions" in x), {})
    return header, {x["name"]: x for x in lines if "name" in x}, error


def peer_outputs(peer: str, record: dict) -> list[dict]:
    outputs = record["outputs"]
    if peer == "genlm-control":
        live = [o["log_weight"] for o in outputs if o["finished"]]
        peak = max(live, default=0.0)
        return [dict(o, weight=math.exp(o["log_weight"] - peak) if o["finished"] else 0.0) for o in outputs]
    return [dict(o, weight=1.0) for o in outputs]


def summarize(rows: list[dict], method: str, kind: str | None = None) -> dict | None:
    mine = [r for r in rows if r["method"] == method and (kind is None or r["kind"] == kind) and "error" not in r]
    if not mine:
        return None
    valid = sum(r["valid"] for r in mine)
    wall = sum(r["wall_s"] for r in mine)
    return {"tasks": len(mine), "valid": valid, "outputs": sum(r["outputs"] for r in mine), "wall_s": wall,
            "s_per_valid": wall / valid if valid else math.inf, "top_ok": sum(r["top_ok"] for r in mine),
            "weighted_acc": sum(r["weighted_acc"] for r in mine) / len(mine)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json-tasks", type=int, default=16)
    ap.add_argument("--sql-tasks", type=int, default=8, help="Spider questions, spread over DATABASES")
    ap.add_argument("--lcd-tasks", type=int, default=16, help="how many of the tasks (JSON first) LCD runs")
    ap.add_argument("--particles", type=int, default=8)
    ap.add_argument("--json-max-tokens", type=int, default=64)
    ap.add_argument("--sql-max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers", default="xgrammar,llguidance,genlm-control")
    ap.add_argument("--genlm-sql", action="store_true", help="also run genlm-control on SQL (BoolCFG.from_lark is slow)")
    ap.add_argument("--peer-timeout", type=float, default=600)
    ap.add_argument("--equal-wall", action="store_true", help="rerun the best masking peer with SMC's wall time")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    run_started = time.perf_counter()
    load_avg = os.getloadavg()

    started = time.perf_counter()
    llm = lm.load("smollm2")
    load_s = time.perf_counter() - started
    from lm.loading.gguf_model import gguf_model_dir
    from lm.loading.model_packages import package_model_file
    model_dir = str(gguf_model_dir(package_model_file("smollm2")))

    per_db = max(1, -(-args.sql_tasks // len(DATABASES)))
    sql = spider_tasks(DATABASES, per_db)
    sql = [sql[i] for i in sorted(range(len(sql)), key=lambda i: (i % per_db, i))][: args.sql_tasks]
    tasks: list[Any] = list(EXTRACTION_TASKS[: args.json_tasks]) + sql
    kinds = {t.name: ("JSON" if isinstance(t, ExtractionTask) else "SQL") for t in tasks}
    max_tokens = {t.name: args.json_max_tokens if kinds[t.name] == "JSON" else args.sql_max_tokens for t in tasks}
    prompts = {t.name: llm.chat(messages(t)) for t in tasks}
    rows: list[dict] = []

    def record(method: str, task: Any, outputs: list[dict], wall: float) -> None:
        s = score(task, outputs)
        rows.append({"method": method, "task": task.name, "kind": kinds[task.name], "wall_s": wall, **s})
        print(f"[{method}] {task.name}: {s['valid']}/{s['outputs']} valid, top_ok={s['top_ok']} "
              f"w_acc={s['weighted_acc']:.2f} {wall:.1f}s top={s['top']!r}", flush=True)

    for method, label, subset in (("smc", "ours SMC+AWRS", tasks), ("lcd", "ours LCD", tasks[: args.lcd_tasks])):
        for task in subset:
            out = run_ours(llm, task, method, args.particles, max_tokens[task.name], args.seed)
            record(label, task, out["outputs"], out["wall_s"])

    grammars = {t.db_id: lark_for_peers(t.db_path) for t in sql}
    headers, errors = {}, {}
    for peer in [p for p in args.peers.split(",") if p]:
        for kind in ("JSON", "SQL"):
            group = [t for t in tasks if kinds[t.name] == kind]
            if not group or (peer == "genlm-control" and kind == "SQL" and not args.genlm_sql):
                continue
            job = {"model": model_dir, "particles": args.particles, "max_tokens": max_tokens[group[0].name],
                   "seed": args.seed, "tasks": [peer_task(t, prompts[t.name], grammars) for t in group]}
            header, records, error = run_peer(peer, job, args.peer_timeout)
            headers[peer] = header or headers.get(peer, {})
            if error:
                errors[f"{peer} {kind}"] = error
                print(f"[{peer}] {kind}: {error}", flush=True)
            for task in group:
                rec = records.get(task.name)
                if rec is None or "error" in rec:
                    msg = rec["error"] if rec else "no record"
                    rows.append({"method": peer, "task": task.name, "kind": kind, "error": msg})
                    print(f"[{peer}] {task.name}: error {msg}", flush=True)
                    continue
                record(peer, task, peer_outputs(peer, rec), rec["wall_s"])

    smc = summarize(rows, "ours SMC+AWRS")
    masking = [(p, summarize(rows, p)) for p in MASKING if summarize(rows, p) and summarize(rows, p)["tasks"] == len(tasks)]
    best = min(masking, key=lambda x: x[1]["s_per_valid"])[0] if masking else None
    equal_wall: dict = {}
    if args.equal_wall and best and smc:
        ratio = smc["wall_s"] / summarize(rows, best)["wall_s"]
        n_eq = max(args.particles, min(64, round(args.particles * ratio)))
        label = f"{best} N={n_eq}"
        for kind in ("JSON", "SQL"):
            group = [t for t in tasks if kinds[t.name] == kind]
            if not group:
                continue
            job = {"model": model_dir, "particles": n_eq, "max_tokens": max_tokens[group[0].name],
                   "seed": args.seed + 1, "tasks": [peer_task(t, prompts[t.name], grammars) for t in group]}
            _, records, error = run_peer(best, job, args.peer_timeout)
            if error:
                errors[f"{label} {kind}"] = error
            for task in group:
                rec = records.get(task.name)
                if rec and "error" not in rec:
                    record(label, task, peer_outputs(best, rec), rec["wall_s"])
        equal_wall = {"label": label, "n": n_eq, "ratio": ratio}

    results = {"rows": rows, "headers": headers, "errors": errors, "best_masking": best, "equal_wall": equal_wall,
               "load_s": load_s, "load_avg_start": load_avg, "load_avg_end": os.getloadavg(),
               "run_s": time.perf_counter() - run_started, "args": {k: str(v) for k, v in vars(args).items()},
               "command": "PYTHONPATH=. python " + " ".join(sys.argv),
               "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                        text=True).stdout.strip()}
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    args.out.write_text(report(results, tasks))
    print(args.out.read_text())


def paired(rows: list[dict], a: str, b: str) -> dict | None:
    by_task: dict = {}
    for r in rows:
        if "error" not in r and r["method"] in (a, b):
            by_task.setdefault(r["task"], {})[r["method"]] = r["top_ok"]
    both = [{"ok": v} for v in by_task.values() if a in v and b in v]
    if not both:
        return None
    return {"n": len(both), "a_right": sum(x["ok"][a] for x in both), "b_right": sum(x["ok"][b] for x in both),
            **mcnemar(both, a, b)}


def report(results: dict, tasks: list[Any]) -> str:
    rows = results["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["# Real model: SmolLM2-135M-Instruct on CPU, ours vs peers", "",
             f"Command (commit {results['commit']}): `{results['command']}`", "",
             f"One run; load average at start {tuple(round(x, 2) for x in results['load_avg_start'])}, at end "
             f"{tuple(round(x, 2) for x in results['load_avg_end'])} on a shared 2-core machine (other agents running): "
             f"absolute seconds are inflated and noisy; the ratios are side by side in one run. Model load "
             f"{results['load_s']:.1f} s (cached dequantized GGUF); whole run {results['run_s'] / 60:.1f} min.", ""]
    for kind in ("all", "JSON", "SQL"):
        lines += [f"## {kind} tasks", "",
                  "| method | tasks | valid / outputs | validity | s per valid output | most probable answer right | "
                  "posterior-weighted accuracy |", "|---|---|---|---|---|---|---|"]
        for m in methods:
            s = summarize(rows, m, None if kind == "all" else kind)
            if s is None:
                continue
            lines.append(f"| {m} | {s['tasks']} | {s['valid']}/{s['outputs']} | {100 * s['valid'] / s['outputs']:.0f}% | "
                         f"{s['s_per_valid']:.2f} | {s['top_ok']}/{s['tasks']} | {100 * s['weighted_acc']:.0f}% |")
        lines.append("")
    best = results["best_masking"]
    lines += ["## Exact paired test (McNemar) on the most probable answer", ""]
    if best:
        tests = [(f"{best} N=8 (equal N)", best)]
        if results["equal_wall"]:
            ew = results["equal_wall"]
            tests.append((f"{ew['label']} (equal total wall time: SMC took {ew['ratio']:.1f}x its N=8 time)", ew["label"]))
        lines += ["| SMC+AWRS vs | tasks | SMC right | peer right | only SMC | only peer | p (two-sided) |",
                  "|---|---|---|---|---|---|---|"]
        for title, label in tests:
            t = paired(rows, "ours SMC+AWRS", label)
            if t:
                lines.append(f"| {title} | {t['n']} | {t['a_right']} | {t['b_right']} | {t['a_only']} | {t['b_only']} | "
                             f"{t['p']:.3f} |")
        lines.append("")
    else:
        lines += ["No masking peer finished every task; no test.", ""]
    if results["errors"]:
        lines += ["## Peer errors", ""] + [f"- {k}: {v}" for k, v in results["errors"].items()] + [""]
    errs = [r for r in rows if "error" in r]
    if errs:
        lines += ["Per-task errors: " + "; ".join(f"{r['method']} {r['task']}: {r['error'][:120]}" for r in errs[:8]), ""]
    lines += ["## Versions", ""] + [f"- {p}: {h.get('versions')}" for p, h in results["headers"].items()] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
