"""Batch-job throughput: the same prompts in-process and on Ray with 1 and 2 actors, side by side in one run.

    python benchmarks/batch_throughput.py --prompts 200 --out benchmarks/results/batch_throughput.md

Jobs (each a full `lm.batch` call, model load and, on Ray, actor start-up included; Ray itself is
started once before them, as a cluster would be; a 16-prompt in-process warm-up runs first, untimed):
  in-process g=1   lines one after another (no lines share forward passes)
  in-process g=8   groups of 8 lines in lockstep (their particles share forward passes)
  ray 1 actor g=8  Ray Data, one actor (one CPU)
  ray 2 actors g=8 Ray Data, two actors (one CPU each)
and, as the machine's own ceiling for two workers (no Ray), in-process g=8 jobs in fresh OS
processes: one process with every prompt, then two at once with half each (start-up included).
The prompts alternate a JSON Schema object and a regex code on the built-in model, one torch
thread everywhere. Records (less timing and worker) are compared across jobs of the same group size.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

PERSON = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 10},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 99}},
          "required": ["name", "age"], "additionalProperties": False}


def prompts(n: int) -> list[dict]:
    return [{"id": i, "prompt": f"Person {i}: ", "json_schema": PERSON} if i % 2 == 0
            else {"id": i, "prompt": f"Code {i}: ", "regex": "[A-Z]{3}-[0-9]{4}"} for i in range(n)]


def computed(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "worker")} for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--particles", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, type=int, metavar=("START", "STOP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # one worker of the no-Ray control: an in-process job on prompts[START:STOP]
        import lm

        lm.batch(prompts(args.prompts)[args.child[0]:args.child[1]], particles=args.particles,
                 max_tokens=args.max_tokens, group_size=8)
        return

    import torch
    import ray

    import lm

    torch.set_num_threads(1)
    job = prompts(args.prompts)
    settings = dict(particles=args.particles, max_tokens=args.max_tokens, seed=0)
    load_avg_start = os.getloadavg()
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    t = time.perf_counter()
    llm = lm.load("builtin")
    load_seconds = time.perf_counter() - t
    lm.batch(prompts(16), model=llm, **settings)  # warm-up: lazy imports and first-use caches, not timed
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    ray_init_seconds = time.perf_counter() - t

    runs = [("in-process g=1", dict(group_size=1)), ("in-process g=8", dict(group_size=8)),
            ("ray 1 actor g=8", dict(group_size=8, ray=True, actors=1)),
            ("ray 2 actors g=8", dict(group_size=8, ray=True, actors=2))]
    rows, records = [], {}
    for name, options in runs:
        arrivals: list[tuple[float, int]] = []
        t = time.perf_counter()
        summary = lm.batch(job, **settings, **options,
                           on_records=lambda new: arrivals.append((time.perf_counter(), len(new))))
        seconds = time.perf_counter() - t
        records[name] = computed(summary.records)
        first = arrivals[0][0] - t  # start-up: model load (and actor start) plus the first group
        later = sum(k for _, k in arrivals[1:])
        steady = later / (arrivals[-1][0] - arrivals[0][0]) if later else float("nan")
        rows.append((name, seconds, first, steady, summary.errors, len({r["worker"] for r in summary.records})))
        print(f"{name}: {seconds:.1f} s, {summary.errors} errors", file=sys.stderr)
    ray.shutdown()
    processes = {}
    for count in (1, 2):
        cuts = [(k * args.prompts // count, (k + 1) * args.prompts // count) for k in range(count)]
        t = time.perf_counter()
        children = [subprocess.Popen([sys.executable, __file__, "--prompts", str(args.prompts), "--particles",
                                      str(args.particles), "--max-tokens", str(args.max_tokens), "--child",
                                      str(a), str(b)], stderr=subprocess.DEVNULL) for a, b in cuts]
        if any(child.wait() != 0 for child in children):
            raise SystemExit("a control process failed")
        processes[count] = time.perf_counter() - t
        print(f"{count} process(es), no Ray: {processes[count]:.1f} s", file=sys.stderr)
    same = (records["in-process g=8"] == records["ray 1 actor g=8"] == records["ray 2 actors g=8"])

    total = {row[0]: row[1] for row in rows}
    steady = {row[0]: row[3] for row in rows}
    n = args.prompts
    lines = [
        f"# Batch-job throughput: in-process vs Ray Data actors ({started})", "",
        "```", f"python benchmarks/batch_throughput.py --prompts {n} --particles {args.particles} "
        f"--max-tokens {args.max_tokens}" + (f" --out {args.out}" if args.out else ""), "```", "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; load average at start "
        f"{' '.join(f'{x:.1f}' for x in load_avg_start)}, at end {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        "torch threads 1 in every process",
        f"- versions: python {platform.python_version()}, torch {torch.__version__}, ray {ray.__version__}",
        f"- {n} prompts on the built-in model (half JSON Schema objects, half regex codes), {args.particles} particles, "
        f"max_tokens {args.max_tokens}, job seed 0; a model load in this process: {load_seconds:.1f} s; "
        f"`ray.init(num_cpus=2)` before the jobs: {ray_init_seconds:.1f} s (not in the job times)",
        "- first record: seconds from the call to the first group's records (model load, actor start-up and one "
        "group); steady: lines per second after the first record",
        f"- records (samples, log-ML, ESS, seeds, errors) identical across in-process g=8, 1 actor and 2 actors: "
        f"{'yes' if same else 'NO'}", "",
        "| job | seconds, whole job | prompts/s, whole job | first record (s) | prompts/s, steady | processes that ran lines | error records |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {seconds:.1f} | {n / seconds:.2f} | {first:.1f} | {rate:.2f} | {workers} | {errors} |"
              for name, seconds, first, rate, errors, workers in rows]
    r1, r2, local = "ray 1 actor g=8", "ray 2 actors g=8", "in-process g=8"
    lines += ["", "| ratio | whole job | steady |", "|---|---|---|",
              f"| 2 actors / 1 actor, speed-up | {total[r1] / total[r2]:.2f}x | {steady[r2] / steady[r1]:.2f}x |",
              f"| in-process, lockstep groups of 8 / one line at a time, speed-up | "
              f"{total['in-process g=1'] / total[local]:.2f}x | {steady[local] / steady['in-process g=1']:.2f}x |",
              f"| no Ray, the machine's ceiling: 2 processes / 1 process, speed-up (start-up included) | "
              f"{processes[1] / processes[2]:.2f}x | |",
              f"| Ray 1 actor / in-process g=8, time | {total[r1] / total[local]:.2f}x | {steady[local] / steady[r1]:.2f}x |",
              f"| Ray path (1 actor) overhead against in-process g=8, per prompt | "
              f"{(total[r1] - total[local]) / n * 1000:.0f} ms | {(1 / steady[r1] - 1 / steady[local]) * 1000:.0f} ms |",
              ""]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
