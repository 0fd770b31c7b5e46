"""Issue 16, item 2: does `lm.generate` (SMC + AWRS, token budget on) return valid, finished output on every call?

Every JSON and SQL task of benchmarks/ with its model: the built-in model on constrained_tasks.py's
JSONSchemaBench schemas and Spider questions (its training prompt formats), SmolLM2 on
real_model_tasks.py's extraction schemas and Spider questions (chat prompts). A call is ok when
it returns at least one sample and every sample is valid (JSON: jsonschema with formats; SQL:
sqlite runs it); a task whose shortest output cannot fit must raise BudgetTooSmall up front.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/budget_coverage.py   # writes benchmarks/results/budget_coverage.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import lm  # noqa: E402
from constrained_tasks import JsonTask, json_tasks, json_valid, run_sql, sql_tasks  # noqa: E402
from constraints.token_budget import BudgetTooSmall  # noqa: E402
from real_model_benchmark import DATABASES, messages  # noqa: E402
from real_model_tasks import EXTRACTION_TASKS, ExtractionTask, spider_tasks  # noqa: E402

RESULTS = ROOT / "benchmarks/results/budget_coverage.md"


def valid(task, text: str) -> bool:
    text = text.strip()
    if isinstance(task, (JsonTask, ExtractionTask)):
        return json_valid(task.schema, text)[0]
    return run_sql(task.db_path, text)[0]


def run(llm, task, prompt, particles: int, max_tokens: int, seed: int) -> dict:
    keyword = {"json_schema": task.schema} if isinstance(task, (JsonTask, ExtractionTask)) else {"sql": task.db_path}
    llm.clear_cache()
    started = time.perf_counter()
    try:
        result = lm.generate(llm, prompt, particles=particles, max_tokens=max_tokens, rng=seed, **keyword)
    except BudgetTooSmall as e:
        return {"raised": str(e), "wall_s": time.perf_counter() - started}
    samples = [s.value for s in result.samples]
    return {"samples": len(samples), "valid": sum(valid(task, s) for s in samples), "message": result.message,
            "wall_s": time.perf_counter() - started, "bad": [s for s in samples if not valid(task, s)][:2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--particles", type=int, default=8)
    ap.add_argument("--builtin-json-max-tokens", type=int, default=48)
    ap.add_argument("--builtin-sql-max-tokens", type=int, default=24)
    ap.add_argument("--smollm2-max-tokens", type=int, default=32)
    ap.add_argument("--sql-per-db", type=int, default=2)
    ap.add_argument("--groups", nargs="+", default=["builtin-JSON", "builtin-SQL", "smollm2-JSON", "smollm2-SQL"])
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    groups = [
        ("builtin", "JSON", [(t, t.prompt) for t in json_tasks(5, 7)], args.builtin_json_max_tokens),
        ("builtin", "SQL", [(t, t.prompt) for t in sql_tasks(DATABASES, args.sql_per_db)], args.builtin_sql_max_tokens),
        ("smollm2", "JSON", [(t, messages(t)) for t in EXTRACTION_TASKS], args.smollm2_max_tokens),
        ("smollm2", "SQL", [(t, messages(t)) for t in spider_tasks(DATABASES, args.sql_per_db)], args.smollm2_max_tokens),
    ]
    groups = [g for g in groups if f"{g[0]}-{g[1]}" in args.groups]
    models = {name: lm.load(name) for name in {g[0] for g in groups}}
    rows, failures = [], []
    for model, kind, tasks, max_tokens in groups:
        records = []
        for i, (task, prompt) in enumerate(tasks):
            r = run(models[model], task, prompt, args.particles, max_tokens, i)
            records.append(r)
            print(model, kind, task.name, {k: v for k, v in r.items() if k != "bad"}, flush=True)
            if "raised" not in r and (not r["samples"] or r["valid"] < r["samples"]):
                failures.append(f"{model} {kind} {task.name}: {r['valid']}/{r['samples']} valid; {r['message']} {r['bad']}")
        ran = [r for r in records if "raised" not in r]
        rows.append(f"| {model} | {kind} | {len(tasks)} | {max_tokens} | {len(records) - len(ran)} | "
                    f"{sum(r['samples'] > 0 for r in ran)}/{len(ran)} | {sum(r['valid'] for r in ran)}/"
                    f"{sum(r['samples'] for r in ran)} | {sum(r['wall_s'] for r in ran) / max(len(ran), 1):.1f} |")
        for r in records:
            if "raised" in r:
                failures.append(f"{model} {kind}: raised before generation: {r['raised']}")
    lines = ["# Valid, finished output on every call (issue 16, item 2)\n", "```",
             "OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/budget_coverage.py " + " ".join(sys.argv[1:]), "```\n",
             f"`lm.generate`, SMC + AWRS, N={args.particles}, token budget on (the default), CPU, torch 1 thread, "
             f"{os.cpu_count()} cores shared; total {time.perf_counter() - started:.0f} s. A call is ok if it returns a "
             "sample; samples are valid if the JSON validates (jsonschema, formats) or sqlite runs the query. "
             "'raised' counts tasks whose shortest output cannot fit: BudgetTooSmall before generation.\n",
             "| model | tasks | count | max_tokens | raised | calls with a sample | samples valid | s / call |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |", *rows, ""]
    lines += ["Failures, and tasks that raised (correctly) before generation:\n"] + [f"- {f}" for f in failures] if failures else ["No failures."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
