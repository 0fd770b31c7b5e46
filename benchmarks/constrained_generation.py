"""Constrained generation benchmark: constraint work per token, wall time per valid output, validity, accuracy.

One run of each measurement (issue 5, item 9), written to benchmarks/results/constrained_generation.md:

1. counts    constraint evaluations per generated token, AWRS vs whole-vocabulary token masking, at
             the same prefixes (benchmarks/evaluation_counts.py), on the built-in model (2,048
             tokens) and two 50,257-token models built under --models-dir: the built-in model's exact
             distribution over a 50k vocabulary, and a random-weight GPT-2-wide model
             (benchmarks/large_vocabulary_models.py).
2. timing    wall time per valid output on 10 JSONSchemaBench schemas and on Spider SQL questions,
             all on the built-in model directory: ours (`lm.generation.generation.generate`, SMC with AWRS, and
             LCD token masking) in this process; genlm-control (SMC with AWRS), outlines, xgrammar
             and llguidance (token masking) as subprocesses in the peers venv
             (benchmarks/peers/*_runner.py), offline. Every output is checked: JSON with
             `jsonschema` (formats asserted), SQL by running it on the sqlite database.
3. accuracy  Spider execution accuracy on questions of small databases: SMC with AWRS vs LCD given
             as many independent samples as fit in SMC's wall time on the same question.

    python benchmarks/constrained_generation.py
    python benchmarks/constrained_generation.py --parts counts --count-tokens 12   # a quick look

Torch runs on one thread everywhere (ours and the peers).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lm  # noqa: E402
from constrained_tasks import (JsonTask, SqlTask, json_tasks, json_valid, majority_by_result, run_sql,  # noqa: E402
                               same_result, sql_tasks)
from counted_constraint import CountedConstraint  # noqa: E402
from evaluation_counts import measure_trajectory, summarize  # noqa: E402
from large_vocabulary_models import build_all  # noqa: E402
from paired_test import accuracy_lines, mcnemar  # noqa: E402
from lm.generation.generation import generate, vocabulary_trie  # noqa: E402
from inference.token_trie import TokenTrie  # noqa: E402

PEERS_PYTHON = Path("/work/venvs/peers/bin/python")
PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEERS = {"genlm-control": "genlm_control_runner.py", "outlines": "outlines_runner.py",
         "xgrammar": "xgrammar_runner.py", "llguidance": "llguidance_runner.py"}
PEER_ALGORITHM = {"genlm-control": "SMC + AWRS", "outlines": "token masking", "xgrammar": "token masking",
                  "llguidance": "token masking"}
RESULTS = ROOT / "benchmarks/results/constrained_generation.md"
ASCII_LITERAL = r"[ -\[\]-~]*"  # printable ASCII without backslash: strings spelled literally, no escapes


class SharedTokenTrie(TokenTrie):
    """The vocabulary trie, declared shared so particle clones do not deep-copy it."""

    __ppl_shared__ = True


def shared_trie(llm: Any) -> TokenTrie:
    trie = vocabulary_trie(llm)
    trie.__class__ = SharedTokenTrie  # the cached object generate() will use
    return trie


def sql_constraint(task: SqlTask) -> CountedConstraint:
    return CountedConstraint(lm.constraints.sql(task.db_path), b" ")


def json_constraint(task: JsonTask, ascii_literal: bool = False) -> CountedConstraint:
    """The task's schema constraint; with `ascii_literal`, conjoined with ASCII_LITERAL (see the report)."""
    constraint = lm.constraints.json_schema(task.schema)
    if ascii_literal:
        constraint = constraint & lm.constraints.regex(ASCII_LITERAL)
    return CountedConstraint(constraint, b" ")


def lark_grammar_for_peers(task: SqlTask) -> str:
    """Our SQL grammar for the database, as Lark text whose start rule first reads the leading space."""
    grammar = lm.constraints.sql(task.db_path).grammar
    if not grammar.startswith("start:"):
        raise ValueError("expected the SQL grammar to begin with its start rule")
    return 'start: " " sql_start\n' + grammar.replace("start:", "sql_start:", 1)


# -- part 1: constraint work per token -----------------------------------------------------------------

def part_counts(args: argparse.Namespace, jtasks: list[JsonTask], stasks: list[SqlTask]) -> dict:
    started = time.perf_counter()
    models = build_all(Path(args.models_dir))
    build_s = time.perf_counter() - started
    rows = []
    for name, path in (("builtin", "builtin"), ("builtin-50k", models["builtin-50k"]), ("random-50k", models["random-50k"])):
        llm = lm.load(path)
        trie = shared_trie(llm)
        large = len(llm.vocabulary.tokens) > 10000
        picks = (jtasks[: args.count_tasks], stasks[: args.count_tasks])
        for kind, tasks in zip(("JSON", "SQL"), picks):
            trajectories = []
            t0 = time.perf_counter()
            for i, task in enumerate(tasks):
                constraint = json_constraint(task) if kind == "JSON" else sql_constraint(task)
                trajectories.append(measure_trajectory(
                    llm, task.prompt, constraint, trie, max_tokens=args.count_tokens, repeats=args.count_repeats,
                    seed=args.seed + i, mask_every=args.mask_every_large if large else 1))
            summary = summarize(trajectories)
            rows.append({"model": name, "vocab": len(llm.vocabulary.tokens), "trie_nodes": trie.nodes, "kind": kind,
                         "tasks": len(tasks), "seconds": time.perf_counter() - t0, **asdict(summary)})
            print(f"[counts] {name} {kind}: {summary}", flush=True)
        del llm
    return {"rows": rows, "build_s": build_s, "models": {k: str(v) for k, v in models.items()}}


# -- part 2: wall time per valid output ---------------------------------------------------------------

def run_ours(llm: Any, constraint: CountedConstraint, prompt: str, method: str, particles: int, max_tokens: int,
             seed: int, ess_threshold: float = 0.5) -> dict:
    llm.clear_cache()  # every call starts cold: no method reuses another's forward passes on the same prompt
    wall, cpu = time.perf_counter(), time.process_time()
    result = generate(llm, prompt, constraint, particles=particles, method=method, max_tokens=max_tokens, rng=seed,
                      ess_threshold=ess_threshold)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    outputs = []
    for particle in result.particles:
        trace = particle.trace
        finished = bool(trace.finished and not trace.truncated and particle.log_weight > -math.inf)
        outputs.append({"text": trace.output, "finished": finished, "evaluations": trace.evaluations,
                        "tokens": len(trace.context) - trace.context.prompt_length})
    return {"outputs": outputs, "wall_s": wall, "cpu_s": cpu, "samples": [(s.value, s.probability) for s in result.samples]}


def check_output(task: Any, text: str) -> tuple[bool, str]:
    text = text[1:] if text.startswith(" ") else text
    if isinstance(task, JsonTask):
        return json_valid(task.schema, text)
    ok, rows = run_sql(task.db_path, text)
    return ok, "" if ok else str(rows)[:120]


def run_peer(peer: str, job: dict, timeout: float) -> tuple[dict, list[dict], str]:
    """Run one peer runner on `job`; (header, task records, error or '')."""
    if not PEERS_PYTHON.exists():
        return {}, [], f"{PEERS_PYTHON} does not exist"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(job, f)
        job_path = f.name
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    error = ""
    try:
        done = subprocess.run([str(PEERS_PYTHON), str(PEERS_DIR / PEERS[peer]), job_path], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=str(PEERS_DIR))
        stdout, stderr = done.stdout, done.stderr
        if done.returncode != 0:
            error = f"exit {done.returncode}: " + (stderr.strip().splitlines() or ["no output"])[-1][:300]
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        error = f"timed out after {timeout:.0f} s (tasks finished before that are kept)"
    finally:
        os.unlink(job_path)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    header = next((x for x in lines if "versions" in x), {})
    return header, [x for x in lines if "name" in x], error


def part_timing(args: argparse.Namespace, llm: Any, jtasks: list[JsonTask], stasks: list[SqlTask]) -> dict:
    tasks: list[Any] = list(jtasks) + list(stasks)
    records: dict[str, dict[str, dict]] = {}
    setup: dict[str, float] = {}
    scope: dict[str, tuple] = {}
    shared_trie(llm)
    variants = (("smc", "ours SMC+AWRS", False), ("lcd", "ours LCD (trie mask)", False),
                ("smc", "ours SMC+AWRS, ASCII-literal", True), ("lcd", "ours LCD, ASCII-literal", True))
    for method, label, ascii_literal in variants:
        records[label] = {}
        setup[label] = 0.0
        scope[label] = ("JSON",) if ascii_literal else ("JSON", "SQL")
        sql_by_db: dict[str, CountedConstraint] = {}
        for i, task in enumerate(tasks):
            t0 = time.perf_counter()
            if isinstance(task, SqlTask):
                if ascii_literal:
                    continue
                if task.db_id not in sql_by_db:  # one constraint per database and method, built once
                    sql_by_db[task.db_id] = sql_constraint(task)
                constraint = sql_by_db[task.db_id]
            else:
                constraint = json_constraint(task, ascii_literal)
            setup[label] += time.perf_counter() - t0
            record = run_ours(llm, constraint, task.prompt, method, args.particles, args.max_tokens, args.seed + i)
            records[label][task.name] = record
            print(f"[timing] {label} {task.name}: {record['wall_s']:.2f} s, "
                  f"{sum(o['finished'] for o in record['outputs'])}/{args.particles} finished", flush=True)

    peer_info: dict[str, dict] = {}
    grammars = {t.db_id: lark_grammar_for_peers(t) for t in stasks}
    job = {"model": str(ROOT / "lm/builtin/model"), "particles": args.particles, "max_tokens": args.max_tokens,
           "seed": args.seed,
           "tasks": [{"name": t.name, "kind": "json", "prompt": t.prompt, "schema": t.schema, "prefix": " "} for t in jtasks]
           + [{"name": t.name, "kind": "lark", "prompt": t.prompt, "grammar": grammars[t.db_id], "prefix": " "}
              for t in stasks]}
    for peer in args.peers:
        t0 = time.perf_counter()
        header, lines, error = run_peer(peer, job, args.peer_timeout)
        label = f"{peer} ({PEER_ALGORITHM[peer]})"
        records[label] = {}
        scope[label] = ("JSON", "SQL")
        setup[label] = 0.0
        task_errors = {}
        for line in lines:
            if "error" in line:
                task_errors[line["name"]] = line["error"]
                continue
            records[label][line["name"]] = line
            setup[label] += line.get("setup_s", 0.0)
        peer_info[label] = {"versions": header.get("versions", {}), "load_s": header.get("load_s"), "error": error,
                            "task_errors": task_errors, "seconds": time.perf_counter() - t0}
        print(f"[timing] {label}: {len(records[label])} tasks ok, {len(task_errors)} task errors, {error or 'exit 0'}",
              flush=True)

    by_name = {t.name: t for t in tasks}
    invalid_examples: dict[str, list] = {}
    for label, per_task in records.items():
        for name, record in per_task.items():
            task = by_name[name]
            for out in record["outputs"]:
                ok, why = check_output(task, out["text"])
                out["valid"] = ok
                if out.get("finished") is not False and not ok:
                    invalid_examples.setdefault(label, []).append((name, out["text"][:160], why))
    return {"records": records, "setup": setup, "scope": scope, "peers": peer_info, "invalid_examples": invalid_examples,
            "kinds": {t.name: ("JSON" if isinstance(t, JsonTask) else "SQL") for t in tasks}}


def timing_rows(timing: dict, particles: int) -> list[dict]:
    rows = []
    for label, per_task in timing["records"].items():
        for kind in timing["scope"][label]:
            recs = [r for n, r in per_task.items() if timing["kinds"][n] == kind]
            expected = sum(1 for k in timing["kinds"].values() if k == kind)
            if not recs:
                rows.append({"method": label, "kind": kind, "tasks": f"0/{expected}"})
                continue
            outs = [o for r in recs for o in r["outputs"]]
            finished = [o for o in outs if o.get("finished") is not False]
            known = all(o.get("finished") is not None for o in outs)
            valid = [o for o in finished if o["valid"]]
            wall = sum(r["wall_s"] for r in recs)
            cpu = sum(r["cpu_s"] for r in recs)
            tokens = sum(o.get("tokens", 0) for o in outs)
            evals = sum(o.get("evaluations", 0) for o in outs)
            rows.append({
                "method": label, "kind": kind, "tasks": f"{len(recs)}/{expected}", "samples": len(outs),
                "finished": len(finished) if known else None, "valid": len(valid),
                "validity": (len(valid) / len(finished)) if finished and known else None,
                "valid_share": len(valid) / max(1, len(outs)),
                "wall_s": wall, "cpu_s": cpu, "wall_per_valid": wall / len(valid) if valid else None,
                "cpu_per_valid": cpu / len(valid) if valid else None,
                "evals_per_token": evals / tokens if tokens else None})
    return rows


# -- part 3: Spider execution accuracy at equal wall time -------------------------------------------

def lm_logprob(llm: Any, prompt: str, text: str) -> float:
    """log p(text | prompt) under the LM, by its own tokenization of the generated bytes."""
    context = llm.context(prompt)
    total = 0.0
    for token_id in llm.tokenize(prompt + text)[len(llm.tokenize(prompt)):]:
        total += float(context.logprobs()[token_id])
        context.extend(token_id)
    return total + float(context.logprobs()[llm.vocabulary.eos.id])


def part_accuracy(args: argparse.Namespace, llm: Any, tasks: list[SqlTask]) -> dict:
    constraints_smc: dict[str, CountedConstraint] = {}
    constraints_lcd: dict[str, CountedConstraint] = {}
    rows = []
    for i, task in enumerate(tasks):
        for table in (constraints_smc, constraints_lcd):
            if task.db_id not in table:
                table[task.db_id] = sql_constraint(task)
        smc = run_ours(llm, constraints_smc[task.db_id], task.prompt, "smc", args.accuracy_particles, args.max_tokens,
                       args.seed + 1000 + i)
        budget = smc["wall_s"]
        samples, batches, lcd_wall, lcd_cpu = [], 0, 0.0, 0.0
        while batches == 0 or lcd_wall + lcd_wall / batches <= budget:
            lcd = run_ours(llm, constraints_lcd[task.db_id], task.prompt, "lcd", args.lcd_batch, args.max_tokens,
                           args.seed + 5000 + 97 * i + batches)
            batches += 1
            lcd_wall += lcd["wall_s"]
            lcd_cpu += lcd["cpu_s"]
            samples += [o["text"][1:] for o in lcd["outputs"] if o["finished"]]
        t0 = time.perf_counter()
        scored = [(s, lm_logprob(llm, task.prompt, " " + s)) for s in samples]
        score_s = time.perf_counter() - t0
        smc_samples = [(v[1:] if v.startswith(" ") else v, p) for v, p in smc["samples"]]
        smc_map = max(smc_samples, key=lambda vp: vp[1])[0] if smc_samples else None
        smc_vote = majority_by_result(smc_samples, task.db_path)
        lcd_best = max(scored, key=lambda sp: sp[1])[0] if scored else None
        lcd_vote = majority_by_result([(s, 1.0) for s in samples], task.db_path)
        lcd_first = samples[0] if samples else None

        def correct(query: str | None) -> bool:
            return query is not None and same_result(task.gold, query, task.db_path)

        row = {"task": task.name, "question": task.question, "gold": task.gold,
               "smc_wall": budget, "smc_cpu": smc["cpu_s"], "lcd_wall": lcd_wall + score_s, "lcd_cpu": lcd_cpu,
               "lcd_samples": len(samples), "lcd_batches": batches, "score_s": score_s,
               "smc_map": smc_map, "lcd_best": lcd_best,
               "ok": {"smc_map": correct(smc_map), "smc_vote": correct(smc_vote), "lcd_best_lm": correct(lcd_best),
                      "lcd_vote": correct(lcd_vote), "lcd_one": correct(lcd_first),
                      "smc_any": any(correct(v) for v, _ in smc_samples),
                      "lcd_any": any(correct(s) for s in set(samples))}}
        if args.accuracy_ablation:
            # The same AWRS proposal and particle count without resampling: samples from the locally constrained
            # (myopic) law, answered by unweighted vote, and by importance-weighted vote (the SMC weights alone).
            iid = run_ours(llm, constraints_smc[task.db_id], task.prompt, "smc", args.accuracy_particles,
                           args.max_tokens, args.seed + 1000 + i, ess_threshold=0.0)
            finished = [o["text"][1:] for o in iid["outputs"] if o["finished"]]
            weighted = [(v[1:] if v.startswith(" ") else v, p) for v, p in iid["samples"]]
            row["ok"]["awrs_vote"] = correct(majority_by_result([(q, 1.0) for q in finished], task.db_path))
            row["ok"]["awrs_weighted_vote"] = correct(majority_by_result(weighted, task.db_path))
            row["awrs_wall"] = iid["wall_s"]
        rows.append(row)
        print(f"[accuracy] {task.name}: smc {budget:.2f} s, lcd {lcd_wall:.2f} s ({len(samples)} samples) "
              f"{row['ok']}", flush=True)
    return {"rows": rows}


# -- report --------------------------------------------------------------------------------------------

def fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf"
        return f"{x:.{digits}f}" if abs(x) < 1e5 else f"{x:.3g}"
    return str(x)


def ratio(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else (f"{x:.2g}x" if x < 10 else f"{x:.0f}x")


def save_run(results: dict, args: argparse.Namespace, started_wall: float, started_cpu: float) -> None:
    """Record the run's totals, end load and arguments in `results` and write them to `args.raw` as JSON."""
    results["total_s"] = time.perf_counter() - started_wall
    results["total_cpu_s"] = time.process_time() - started_cpu
    results["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.raw.parent.mkdir(parents=True, exist_ok=True)
    args.raw.write_text(json.dumps(results, default=str))


def library_versions() -> dict:
    import importlib.metadata as md
    found = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "numpy", "lark", "jsonschema"):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = None
    return found


def write_report(args: argparse.Namespace, results: dict, path: Path) -> None:
    L: list[str] = []
    L.append("# Constrained generation benchmark\n")
    L.append("Issue 5, item 9. One run of each measurement; produced by `benchmarks/constrained_generation.py`.\n")
    L.append("## How this was run\n")
    L.append("```\n" + results["command"] + "\n```\n")
    L.append(f"- started {results['started']}, total {results['total_s']:.0f} s wall, "
             f"{results['total_cpu_s']:.0f} s CPU in this process (peers' CPU in their own rows)")
    L.append(f"- machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; load average at start "
             f"{results['load_start']}, at end {results['load_end']}; torch threads 1 everywhere (ours and peers)")
    L.append(f"- ours: {json.dumps(results['versions'])}")
    for label, info in results.get("timing", {}).get("peers", {}).items():
        L.append(f"- {label}: {json.dumps(info['versions'])}")
    L.append(f"- settings: particles/samples per task {args.particles}, max_tokens {args.max_tokens}, seed {args.seed}; "
             f"accuracy: SMC {args.accuracy_particles} particles, LCD batches of {args.lcd_batch}")
    L.append("- every prompt ends at the colon the model was trained to follow with a space; every constraint "
             "(ours and the peers') starts with that space, so the model keeps its own tokenization "
             "(`benchmarks/counted_constraint.py`)")
    L.append("- our runs wrap each constraint in `CountedConstraint` (the leading space, counting and timing of "
             "`advance`; constraint and states declared shared across particle clones, as the library's own "
             f"constraints are since 7162407); library code at commit {results.get('commit', '?')}\n")

    L.extend(summary_lines(args, results))

    if "counts" in results:
        c = results["counts"]
        L.append("## 1. Constraint evaluations per generated token: AWRS vs token masking\n")
        L.append("Measured at the same prefixes: along AWRS-drawn continuations "
                 f"({args.count_tasks} JSON schemas and {args.count_tasks} Spider questions, up to {args.count_tokens} "
                 f"tokens each), each prefix is masked by the vocabulary-trie walk (`TokenTrie.mask`: one constraint "
                 f"advance per trie edge, +1 for the EOS test) and sampled by `inference.awrs.awrs` {args.count_repeats} "
                 f"times with independent seeds, as `generate` runs it (one token test per distinct token tried, L=1 extra draw; "
                 f"after 128 rejections the trie mask, its advances counted, and an exact draw). 50k models: "
                 f"the mask measured at every {args.mask_every_large}th prefix; ratios use prefixes where both ran.\n")
        L.append("Models: `builtin` is lm/builtin/model (2,048 tokens, trained). `builtin-50k` is the built-in "
                 "model's exact next-token distribution over a 50,257-token byte-level BPE vocabulary (the built-in "
                 "tokenizer plus 48,209 tokens of a 50k BPE trained on the generated corpus and the Python stdlib, "
                 "new tokens given a constant logit of -40: total mass < 1e-19, built-in logprobs reproduced to 2e-6). "
                 "`random-50k` is a 2-layer GPT-2-wide (n_embd 768) model with random weights over the 50k BPE: "
                 "nearly uniform next-token distributions (max probability ~2e-4), the worst case for AWRS.\n")
        L.append("JSON here is `json_schema` of the task's closed schema, SQL our SQL constraint for the question's "
                 "database.\n")
        L.append("| model | vocab | trie nodes | task | prefixes (masked) | AWRS tests/token | AWRS bytes/token | mask advances/token | **ratio (advances / tests)** | median per-prefix ratio | ratio in bytes | AWRS ms/token: constraint / whole call | mask ms/token |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in c["rows"]:
            L.append(f"| {r['model']} | {r['vocab']} | {r['trie_nodes']} | {r['kind']} | {r['prefixes']} ({r['masked_prefixes']}) | "
                     f"{fmt(r['awrs_tests'], 1)} | {fmt(r['awrs_bytes'], 1)} | {fmt(r['mask_advances'], 0)} | **{ratio(r['ratio'])}** | "
                     f"{ratio(r['median_ratio'])} | {ratio(r['byte_ratio'])} | {fmt(r['awrs_ms'], 2)} / {fmt(r['awrs_total_ms'], 2)} | "
                     f"{fmt(r['mask_ms'], 1)} |")
        L.append("")
        L.append("Units differ: a token test feeds a whole token (several bytes) to the constraint, a trie advance one "
                 "byte; 'ratio in bytes' divides by the bytes AWRS fed instead. The ratio is of means over prefixes "
                 "(a few prefixes where the LM puts almost all its mass on rejected tokens dominate the AWRS mean); "
                 "the median is of per-prefix ratios. 'whole call' adds AWRS's own sampling work, O(|V|) per draw. "
                 f"Model build: {c['build_s']:.0f} s this run (cached under {args.models_dir}; about 1 minute fresh).\n")

    if "timing" in results:
        t = results["timing"]
        L.append("## 2. Wall time per valid output (built-in model, same directory for everyone)\n")
        L.append(f"Each method draws {args.particles} samples per task (SMC: {args.particles} particles, ESS threshold "
                 "0.5; masking: that many independent sequences in one batch), temperature 1, no top-k/top-p, "
                 f"at most {args.max_tokens} new tokens. Time is the generation call per task, summed; grammar/schema "
                 "compilation is in 'setup' (ours: one SQL constraint per database and method; genlm-control: one "
                 "`BoolCFG.from_lark` per database). 'finished' = reached EOS within max_tokens; "
                 "'validity' = valid / finished, the rate that must be 100% for a method claiming the "
                 "constraint; 'valid share' = valid / all samples. Valid SMC particles include resampled copies.\n")
        L.append("| method | kind | tasks | samples | finished | valid | validity | valid share | gen wall s | gen CPU s | **wall s / valid output** | CPU s / valid | setup s | evals/token |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in timing_rows(t, args.particles):
            if "samples" not in r:
                L.append(f"| {r['method']} | {r['kind']} | {r['tasks']} | | | | | | | | n/a | | | |")
                continue
            L.append(f"| {r['method']} | {r['kind']} | {r['tasks']} | {r['samples']} | {fmt(r['finished'])} | {r['valid']} | "
                     f"{fmt(None if r['validity'] is None else 100 * r['validity'], 0)}{'%' if r['validity'] is not None else ''} | "
                     f"{100 * r['valid_share']:.0f}% | {fmt(r['wall_s'])} | {fmt(r['cpu_s'])} | **{fmt(r['wall_per_valid'], 3)}** | "
                     f"{fmt(r['cpu_per_valid'], 3)} | {fmt(t['setup'].get(r['method']))} | {fmt(r['evals_per_token'], 1)} |")
        L.append("")
        L.append("Ratios of wall time per valid output (theirs / ours SMC+AWRS; > 1 means ours is faster):\n")
        rows = timing_rows(t, args.particles)
        base = {r["kind"]: r.get("wall_per_valid") for r in rows if r["method"] == "ours SMC+AWRS"}
        L.append("| method | JSON | SQL |")
        L.append("|---|---|---|")
        for method in dict.fromkeys(r["method"] for r in rows):
            cells = []
            for kind in ("JSON", "SQL"):
                r = next((x for x in rows if x["method"] == method and x["kind"] == kind), {})
                mine, theirs = base.get(kind), r.get("wall_per_valid")
                cells.append(fmt(theirs / mine, 2) + "x" if mine and theirs else "n/a")
            L.append(f"| {method} | {cells[0]} | {cells[1]} |")
        L.append("")
        for label, info in t["peers"].items():
            if info["error"] or info["task_errors"]:
                L.append(f"- {label}: {info['error'] or 'exit 0'}; task errors: "
                         + ("; ".join(f"{k}: {v}" for k, v in list(info["task_errors"].items())[:4]) or "none"))
        for label, examples in t["invalid_examples"].items():
            L.append(f"- invalid finished outputs of {label} ({len(examples)}): "
                     + "; ".join(f"{n}: `{txt!r}` ({why})" for n, txt, why in examples[:3]))
        L.append("")
        L.append("<details><summary>Per task: wall s / valid outputs</summary>\n")
        names = list(t["kinds"])
        methods = list(t["records"])
        L.append("| task | " + " | ".join(methods) + " |")
        L.append("|---|" + "---|" * len(methods))
        for n in names:
            cells = []
            for m in methods:
                r = t["records"][m].get(n)
                if t["kinds"][n] not in t["scope"][m]:
                    cells.append("-")
                    continue
                cells.append("error" if r is None else f"{r['wall_s']:.2f} / {sum(o['valid'] for o in r['outputs'] if o.get('finished') is not False)}")
            L.append(f"| {n} | " + " | ".join(cells) + " |")
        L.append("\n</details>\n")

    if "accuracy" in results:
        a = results["accuracy"]["rows"]
        n = len(a)
        L.append("## 3. Spider execution accuracy at equal wall time\n")
        L.append(f"{n} Spider dev questions ({', '.join(args.accuracy_dbs)}; the first {args.accuracy_per_db} of each), "
                 "prompt `Database: <db>\\nQuestion: <q>\\nSQL:`, our SQL constraint for the database. SMC+AWRS with "
                 f"{args.accuracy_particles} particles answers with its most probable sample (MAP) or by posterior-"
                 "weighted vote over execution results. LCD (token masking) then draws batches of "
                 f"{args.lcd_batch} independent samples while the next batch is expected to fit in SMC's wall time on "
                 "that question (at least one batch), and answers with the sample of highest LM probability "
                 "(scored afterwards, time added to LCD's) or by majority vote of execution results. A query is "
                 "correct if it returns the gold query's rows (as a multiset; in order when the gold query orders).\n")
        keys = [("smc_map", "SMC+AWRS, MAP sample"), ("smc_vote", "SMC+AWRS, weighted vote"),
                ("lcd_best_lm", "LCD, best LM probability"), ("lcd_vote", "LCD, majority vote"),
                ("lcd_one", "LCD, a single sample"), ("smc_any", "SMC: any particle correct (oracle)"),
                ("lcd_any", "LCD: any sample correct (oracle)")]
        ablation = all("awrs_vote" in r["ok"] for r in a)
        if ablation:
            keys += [("awrs_vote", "ablation: AWRS, no resampling, unweighted vote"),
                     ("awrs_weighted_vote", "ablation: AWRS, no resampling, importance-weighted vote")]
        L.extend(accuracy_lines(a, keys))
        L.append("Paired on the same questions (exact McNemar test: questions only one of the two got right):\n")
        L.append("| A | B | A right, B wrong | B right, A wrong | p |")
        L.append("|---|---|---|---|---|")
        labels = dict(keys)
        pairs = [("smc_vote", "lcd_vote"), ("smc_map", "lcd_best_lm"), ("smc_vote", "lcd_one")]
        if ablation:
            pairs += [("smc_vote", "awrs_vote"), ("awrs_weighted_vote", "awrs_vote"), ("awrs_vote", "lcd_vote")]
        for x, y in pairs:
            m = mcnemar(a, x, y)
            L.append(f"| {labels[x]} | {labels[y]} | {m['a_only']} | {m['b_only']} | {m['p']:.3g} |")
        L.append("")
        smc_wall = sum(r["smc_wall"] for r in a)
        lcd_wall = sum(r["lcd_wall"] for r in a)
        L.append(f"Time: SMC {smc_wall:.1f} s wall ({sum(r['smc_cpu'] for r in a):.1f} s CPU) in total, LCD "
                 f"{lcd_wall:.1f} s wall ({sum(r['lcd_cpu'] for r in a):.1f} s CPU, scoring included: "
                 f"{sum(r['score_s'] for r in a):.1f} s); LCD drew {np.mean([r['lcd_samples'] for r in a]):.1f} finished "
                 f"samples per question on average (vs {args.accuracy_particles} SMC particles).\n")
        L.append("<details><summary>Per question</summary>\n")
        L.append("| task | gold | SMC MAP | LCD best-LM | SMC s | LCD s | LCD samples | SMC map/vote | LCD best/vote |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for r in a:
            L.append(f"| {r['task']} | `{r['gold']}` | `{r['smc_map']}` | `{r['lcd_best']}` | {r['smc_wall']:.2f} | "
                     f"{r['lcd_wall']:.2f} | {r['lcd_samples']} | {int(r['ok']['smc_map'])}/{int(r['ok']['smc_vote'])} | "
                     f"{int(r['ok']['lcd_best_lm'])}/{int(r['ok']['lcd_vote'])} |")
        L.append("\n</details>\n")

    L.append("## Findings\n")
    if results.get("clone_demo"):
        d = results["clone_demo"]
        slow = d["raw_wall"] / max(d["shared_wall"], 1e-9)
        state = ("still present" if slow > 5 else
                 "fixed in 7162407 (`Constraint.__ppl_shared__`, `Model.shared_attributes`) while this benchmark was "
                 "being written; in the first run (same command) it took 15.5 s vs 0.25 s")
        L.append(f"1. **Particle clones deep-copied the constraint** (lm/generation/generation.py, `ConstrainedGeneration`: the "
                 f"constraint with its Lark grammar and memo tables, its state and the token trie were plain "
                 f"attributes, deep-copied by `ppl.Model.clone` on every resampling). This run: `generate(method='smc')` "
                 f"with a raw SQL constraint took {d['raw_wall']:.2f} s wall for {d['particles']} particles on "
                 f"{d['task']}, {d['shared_wall']:.2f} s with the constraint wrapped as shared: {state}.")
    L.extend(STATIC_FINDINGS)
    path.write_text("\n".join(L) + "\n")


STATIC_FINDINGS = [
    "2. **JSON keys: prefixes ending inside a character were not checked** (constraints/json/json_stream.py, "
    "`JsonMachine._key`: `key_prefix_ok` ran only after a whole code point). With a closed key set, "
    "`advance(start, b'{\"pa\\xc3')` returned a state although no key continues with U+00C0..U+00FF, and "
    "likewise `b'{\"\\\\u00e'`; byte-level vocabularies have such tokens, both samplers picked them when the LM "
    "preferred unlisted keys, and the particle died one token later (Z = 0). In the run before the fix (same "
    "command) ours had 3/40 (SMC+AWRS) and 0/40 (LCD) valid JSON outputs. Fixed in 0de0ccb and 906cec2 "
    "(pending UTF-8 characters and `\\u` escapes checked as the code points they can become).",
    "3. **Keys spelled with escapes.** With (2) fixed, the built-in model went on to spell keys as "
    "`\"pas\\u0073engers\"`: valid JSON, but its mass flowed into escape tokens. Fixed in 01504d8/6ead654/0b20161 "
    "(compact/minified write no needless `\\u` escapes, as `json.dumps` does). The 'ASCII-literal' rows keep a "
    "user-level variant for comparison: the schema conjoined (public `&`) with the regex `[ -\\[\\]-~]*` "
    "(printable ASCII, no backslash), which also shrinks the masks.",
    "4. **AWRS's own sampling work** (inference/awrs.py) was O(|V|) numpy per draw in the first runs (0.2 ms per "
    "draw at 50,257 tokens, 2.3 s per JSON token on random-50k). It now draws from a two-level block sampler "
    "(about sqrt(|V|) blocks; 0.235 -> 0.025 ms per draw at 50k, `benchmarks/awrs_draw_cost.py`), exact under "
    "the enumerating rng.",
    "5. **AWRS vs masking depends on where the LM puts its mass.** With the trained distribution (builtin, "
    "builtin-50k) AWRS tests a handful of tokens at most prefixes; the means are dominated by prefixes where the "
    "model puts almost all its mass on rejected tokens (the first key of an off-distribution schema). With random "
    "weights the distribution is nearly uniform over 50k tokens, so a closed key position needs thousands of "
    "draws while the trie walk prunes there in a few thousand advances: AWRS alone lost (0.24x on JSON in the "
    "first run). `generate` now falls back to the exact trie mask after 128 rejections (the token drawn exactly "
    "from p c / Z, the weight Z exactly; derivation in inference/awrs.py), which bounds a token's work by 128 "
    "tests + one mask (`benchmarks/evaluation_counts.py --budgets ...` sweeps the budget at fixed prefixes).",
    "6. **genlm-control on JSON: 0 valid outputs.** At that first key genlm-control's `recursive_awrs` kills "
    "the particle once the rejected mass exceeds 1 - 1e-5 (`error_tolerance`), so every particle dies there; "
    "ours keeps drawing (numerically safe for such distributions) and finds the valid keys. Its `JsonSchema` "
    "potential also rejects keys outside `properties` even when the schema allows them (we close the schemas, "
    "so this does not matter here). On SQL it works; `BoolCFG.from_lark` takes about 30 s per database grammar.",
    "7. **Accuracy is limited by the model.** The built-in model (3.8M parameters) often answers a different "
    "question (`SUM(Age)` for 'how many singers'); with these short queries SMC's global correction changes "
    "few answers (compare the oracle rows: some particle or sample was right on only a few more questions).",
    "8. **Languages differ slightly between engines**: ours and xgrammar/llguidance use `\", \"` and `\": \"` "
    "separators exactly; outlines' default allows an optional space; every engine reads the same closed schema. "
    "Peers run HF transformers' `generate` (no KV pooling) on one thread; ours runs its own forward on one thread.",
]


def summary_lines(args: argparse.Namespace, results: dict) -> list[str]:
    """The headline numbers against issue 5's targets."""
    L = ["## Summary against the targets\n"]
    if "counts" in results:
        cells = [f"{r['model']} {r['kind']} {ratio(r['ratio'])} (median {ratio(r['median_ratio'])})"
                 for r in results["counts"]["rows"]]
        large = [r for r in results["counts"]["rows"] if r["vocab"] > 10000]
        met = [f"{r['model']} {r['kind']}" for r in large if r["ratio"] >= 50]
        missed = [f"{r['model']} {r['kind']}" for r in large if r["ratio"] < 50]
        L.append(f"- Constraint evaluations per token, masking / AWRS: {'; '.join(cells)}. Target >= 50x on the 50k "
                 f"vocabulary: met for {', '.join(met) or 'none'}; missed for {', '.join(missed) or 'none'}.")
    if "timing" in results:
        rows = timing_rows(results["timing"], args.particles)
        get = {(r["method"], r["kind"]): r for r in rows}
        for kind, ours_label in (("SQL", "ours SMC+AWRS"), ("JSON", "ours SMC+AWRS")):
            mine = get.get((ours_label, kind), {}).get("wall_per_valid")
            parts = []
            for (method, k), r in get.items():
                if k != kind or method.startswith("ours"):
                    continue
                theirs = r.get("wall_per_valid")
                if theirs is None:
                    parts.append(f"{method.split(' (')[0]} no valid output")
                    continue
                parts.append(f"{method.split(' (')[0]} {fmt(theirs, 3)} s" + (f" ({theirs / mine:.2g}x ours)" if mine else ""))
            L.append(f"- Wall time per valid output, {kind}: {ours_label} {fmt(mine, 3)} s; " + "; ".join(parts) + ".")
        bad = [f"{r['method']} {r['kind']}" for r in rows if r.get("validity") is not None and r["validity"] < 1]
        L.append("- Validity (valid / finished, every output checked): "
                 + ("100% for every method and task kind." if not bad else "below 100% for " + ", ".join(bad) + "."))
    if "accuracy" in results:
        a = results["accuracy"]["rows"]
        n = len(a)
        c = {k: sum(r["ok"][k] for r in a) for k in a[0]["ok"]} if a else {}
        verdict = "beats" if max(c["smc_map"], c["smc_vote"]) > max(c["lcd_best_lm"], c["lcd_vote"]) else "does not beat"
        L.append(f"- Spider execution accuracy, {n} questions at equal wall time: SMC+AWRS {c['smc_map']}/{n} (MAP), "
                 f"{c['smc_vote']}/{n} (vote); LCD {c['lcd_best_lm']}/{n} (best LM probability), {c['lcd_vote']}/{n} "
                 f"(vote). SMC+AWRS {verdict} token masking in this run.")
    L.append("")
    return L


def clone_demo(llm: Any, task: SqlTask, particles: int, max_tokens: int, seed: int) -> dict:
    """The cost of deep-copying the constraint on every particle clone: the raw constraint vs the shared wrapper."""
    raw = lm.constraints.sql(task.db_path)
    raw.advance(raw.start(), b"SELECT")
    wall, cpu = time.perf_counter(), time.process_time()
    generate(llm, task.prompt + " ", raw, particles=particles, method="smc", max_tokens=max_tokens, rng=seed)
    raw_wall, raw_cpu = time.perf_counter() - wall, time.process_time() - cpu
    shared = CountedConstraint(raw, b"")
    wall, cpu = time.perf_counter(), time.process_time()
    generate(llm, task.prompt + " ", shared, particles=particles, method="smc", max_tokens=max_tokens, rng=seed)
    return {"task": task.name, "particles": particles, "raw_wall": raw_wall, "raw_cpu": raw_cpu,
            "shared_wall": time.perf_counter() - wall, "shared_cpu": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=["counts", "timing", "accuracy", "clone"],
                        default=["counts", "timing", "accuracy", "clone"])
    parser.add_argument("--particles", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-tasks", type=int, default=5, help="schemas per source (2 sources)")
    parser.add_argument("--sql-dbs", nargs="+", default=["concert_singer", "pets_1"])
    parser.add_argument("--sql-per-db", type=int, default=3)
    parser.add_argument("--count-tasks", type=int, default=2)
    parser.add_argument("--count-tokens", type=int, default=24)
    parser.add_argument("--count-repeats", type=int, default=3)
    parser.add_argument("--mask-every-large", type=int, default=4)
    parser.add_argument("--models-dir", default="/tmp/cg_bench/models")
    parser.add_argument("--peers", nargs="*", choices=list(PEERS), default=list(PEERS))
    parser.add_argument("--peer-timeout", type=float, default=420)
    parser.add_argument("--accuracy-dbs", nargs="+", default=["concert_singer", "pets_1", "poker_player"])
    parser.add_argument("--accuracy-per-db", type=int, default=10)
    parser.add_argument("--accuracy-particles", type=int, default=16)
    parser.add_argument("--accuracy-ablation", action="store_true",
                        help="also run the AWRS proposal without resampling (untimed): do SMC's weights or its sample count win?")
    parser.add_argument("--lcd-batch", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--raw", type=Path, default=Path("/tmp/cg_bench/constrained_generation.json"),
                        help="where to keep every measured record (JSON), for --report-from")
    parser.add_argument("--report-from", type=Path, help="only rewrite --out from a --raw file of an earlier run")
    args = parser.parse_args()
    if args.report_from:
        results = json.loads(args.report_from.read_text())
        write_report(argparse.Namespace(**results["args"]), results, args.out)
        print(f"wrote {args.out}")
        return
    torch.set_num_threads(1)

    started_wall, started_cpu = time.perf_counter(), time.process_time()
    results: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "versions": library_versions(),
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip()}
    jtasks = json_tasks(per_source=args.json_tasks)
    stasks = sql_tasks(tuple(args.sql_dbs), args.sql_per_db)
    if "counts" in args.parts:
        results["counts"] = part_counts(args, jtasks, stasks)
    llm = lm.load("builtin")
    if "timing" in args.parts:
        results["timing"] = part_timing(args, llm, jtasks, stasks)
    if "accuracy" in args.parts:
        results["accuracy"] = part_accuracy(args, llm, sql_tasks(tuple(args.accuracy_dbs), args.accuracy_per_db))
    if "clone" in args.parts:
        results["clone_demo"] = clone_demo(llm, stasks[0], 8, 48, args.seed)
    save_run(results, args, started_wall, started_cpu)
    write_report(args, results, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
