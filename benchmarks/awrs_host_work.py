"""Host-side work per SMC step of constrained generation on the device path, baseline tree vs this tree, on CPU.

    python benchmarks/awrs_host_work.py --baseline d2bba81 --particles 16 64 --seeds 1 2 3 \
        --out benchmarks/results/awrs_host_work.md

`lm.generate(..., engine="device")` (ConstrainedDecodePopulation: a StaticDecoder's rows, AWRS on the
host over sorted probability blocks) with SmolLM2-135M (`lm.load("smollm2")`) runs in two worker
processes, one importing the baseline commit (exported with `git archive` into a temporary folder),
one this working tree; the parent hands them the same runs in turn (same task, N and seed, the order
of the two alternating), so load on the shared machine hits both alike. Each worker loads the model
once and warms up once per task.

Per step (sums over a run divided by its SMC steps), from wrappers installed around names that
both trees have:
* total: `ConstrainedDecodePopulation.advance`;
* forward: `ConstrainedDecodePopulation._probabilities` (the decoder step and the tempering);
* sort: `SortedBatch.__init__` (the per-row sort, block masses and the head transfer);
* free: releasing the step's SortedBatch (its sorted copies of the probabilities), which the
  benchmark holds until `advance` has returned and then times apart: on CPU, freeing ~100 MB of
  tensors at N = 64 returns their pages to the system (~6 ms a step), where a GPU's caching
  allocator keeps them; not host work on a GPU, so it is left out of total and host;
* host: total - forward - sort (AWRS, the constraint, the population's bookkeeping: what runs
  on the host on a GPU too);
* gc: the time in Python's cyclic garbage collector during `advance` (gc.callbacks), mostly inside host;
* categorical: calls to `rng.categorical` (the rng is a counting SeededRng);
* evaluations: constraint advances and completion tests (the run's `Counted` count);
* transfers: `Tensor.cpu` / `.item` / `.tolist` calls inside `advance` (each one a device round trip
  on a GPU; on CPU they cost nothing, so only the count says something about a GPU).

Both trees draw the same random numbers where the sampler's code keeps the same calls, so the
samples are compared too (`same samples`).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "city": {"type": "string"}},
          "required": ["name", "age", "city"], "additionalProperties": False}
TASKS = ("person-json", "person-maria")
MAX_TOKENS = 64


# ---------------------------------------------------------------------------------------------- worker


def _task(llm: Any, name: str) -> tuple[str, dict]:
    """The prompt and schema of a task: the three-key schema of benchmarks/gpu/constrained_profile.py with its
    plain prompt, or an extraction task of benchmarks/real_model_tasks.py with its chat prompt."""
    if name == "person-json":
        return "Write a person (name, age, city) as JSON.\n", SCHEMA
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real_model_tasks import EXTRACTION_TASKS, extraction_prompt

    task = next(t for t in EXTRACTION_TASKS if t.name == name)
    return llm.chat([{"role": "user", "content": extraction_prompt(task)}]), task.schema


class _Timers:
    """Seconds and calls accumulated by wrapped functions, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        inner = getattr(owner, attribute)
        timers = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                timers.seconds[name] = timers.seconds.get(name, 0.0) + time.perf_counter() - started
                timers.calls[name] = timers.calls.get(name, 0) + 1

        setattr(owner, attribute, timed)

    def count(self, owner: Any, attribute: str, name: str, only_inside: str | None = None) -> None:
        inner = getattr(owner, attribute)
        timers = self

        def counted(*args: Any, **kwargs: Any) -> Any:
            if only_inside is None or timers.calls.get(only_inside + ".open", 0):
                timers.calls[name] = timers.calls.get(name, 0) + 1
            return inner(*args, **kwargs)

        setattr(owner, attribute, counted)


def worker(tree: str) -> None:
    """Answer run requests (JSON lines on stdin) with per-step measurements (JSON lines on stdout)."""
    sys.path.insert(0, tree)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import lm
    from lm.device.sorted_blocks import SortedBatch
    from lm.generation.device_generation import ConstrainedDecodePopulation
    from ppl.rng import SeededRng

    assert Path(lm.__file__).resolve().is_relative_to(Path(tree).resolve()), (lm.__file__, tree)
    timers = _Timers()

    class CountingRng(SeededRng):
        def categorical(self, probs: Any) -> int:
            timers.calls["categorical"] = timers.calls.get("categorical", 0) + 1
            return super().categorical(probs)

    advance = ConstrainedDecodePopulation.advance

    def advance_marked(self: Any, rng: Any) -> None:
        timers.calls["advance.open"] = 1
        try:
            advance(self, rng)
        finally:
            timers.calls["advance.open"] = 0

    ConstrainedDecodePopulation.advance = advance_marked
    timers.wrap(ConstrainedDecodePopulation, "advance", "total")
    timers.wrap(ConstrainedDecodePopulation, "_probabilities", "forward")
    timers.wrap(SortedBatch, "__init__", "sort")
    kept: list[Any] = []  # each step's SortedBatch, released after the step's timing (see "free")
    sorted_batch_init = SortedBatch.__init__

    def init_kept(self: Any, *args: Any, **kwargs: Any) -> None:
        sorted_batch_init(self, *args, **kwargs)
        kept.append(self)

    SortedBatch.__init__ = init_kept
    timed_advance = ConstrainedDecodePopulation.advance

    def advance_then_free(self: Any, rng: Any) -> None:
        timed_advance(self, rng)
        started = time.perf_counter()
        kept.clear()
        timers.seconds["free"] = timers.seconds.get("free", 0.0) + time.perf_counter() - started

    ConstrainedDecodePopulation.advance = advance_then_free
    for method in ("cpu", "item", "tolist"):
        timers.count(torch.Tensor, method, "transfers", only_inside="advance")

    def gc_timer(phase: str, info: dict) -> None:
        if phase == "start":
            timers.calls["gc.started"] = time.perf_counter()
        elif timers.calls.get("advance.open"):
            timers.seconds["gc"] = timers.seconds.get("gc", 0.0) + time.perf_counter() - timers.calls["gc.started"]

    gc.callbacks.append(gc_timer)
    llm = lm.load("smollm2")
    warmed: set[str] = set()
    print(json.dumps({"ready": lm.__file__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        prompt, schema = _task(llm, request["task"])
        call = dict(json_schema=schema, particles=request["particles"], max_tokens=MAX_TOKENS, engine="device")
        if request["task"] not in warmed:
            lm.generate(llm, prompt, rng=0, **call)
            warmed.add(request["task"])
        timers.reset()
        started = time.perf_counter()
        result = lm.generate(llm, prompt, rng=CountingRng(request["seed"]), **call)
        wall = time.perf_counter() - started
        steps = timers.calls.get("total", 0)
        seconds = timers.seconds
        host = seconds["total"] - seconds["forward"] - seconds["sort"]
        print(json.dumps({
            "steps": steps, "wall_s": wall,
            "total_ms": 1000 * seconds["total"] / steps, "forward_ms": 1000 * seconds["forward"] / steps,
            "sort_ms": 1000 * seconds["sort"] / steps, "host_ms": 1000 * host / steps,
            "gc_ms": 1000 * seconds.get("gc", 0.0) / steps, "free_ms": 1000 * seconds.get("free", 0.0) / steps,
            "categorical": timers.calls.get("categorical", 0) / steps,
            "evaluations": result.evaluations / steps,
            "transfers": timers.calls.get("transfers", 0) / steps,
            "samples": sorted((str(s.value), round(s.probability, 9)) for s in result.samples),
        }), flush=True)


# ---------------------------------------------------------------------------------------------- parent


class _Worker:
    def __init__(self, tree: Path):
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(tree))
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", str(tree)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env, cwd=str(tree))
        self.ready = self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.process.args} ended")
        return json.loads(line)

    def run(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def _export(revision: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


COLUMNS = ("total_ms", "forward_ms", "sort_ms", "free_ms", "host_ms", "gc_ms", "categorical", "evaluations", "transfers")


def _mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", default="d2bba81", help="the commit measured as 'before'")
    parser.add_argument("--after", default=None, help="the commit measured as 'after' (default: the working tree)")
    parser.add_argument("--particles", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(__file__).relative_to(ROOT)), *sys.argv[1:]])
    load_start = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip())
    rows: dict[tuple[str, int, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="awrs_host_work_") as folder:
        trees = {"before": Path(folder) / "before", "after": Path(folder) / "after" if args.after else ROOT}
        for which, revision in (("before", args.baseline), ("after", args.after)):
            if revision:
                trees[which].mkdir()
                _export(revision, trees[which])
        workers = {which: _Worker(tree) for which, tree in trees.items()}
        try:
            turn = 0
            for task in args.tasks:
                for n in args.particles:
                    for seed in args.seeds:
                        order = ("before", "after") if turn % 2 == 0 else ("after", "before")
                        turn += 1
                        for which in order:
                            row = workers[which].run({"task": task, "particles": n, "seed": seed})
                            rows.setdefault((task, n, which), []).append(row)
                            print(f"{task} N={n} seed={seed} {which}: " + ", ".join(
                                f"{k} {row[k]:.2f}" for k in COLUMNS) + f", steps {row['steps']}", flush=True)
        finally:
            for w in workers.values():
                w.close()
    report = _report(args, rows, command, started, load_start, head, dirty)
    print(report)
    if args.out:
        args.out.write_text(report)


def _report(args: Any, rows: dict, command: str, started: str, load_start: tuple, head: str, dirty: bool) -> str:
    import numpy
    import torch

    lines = ["# Host work per step of constrained generation on the device path (CPU)", "",
             "Produced by `benchmarks/awrs_host_work.py` (the module docstring says what each column is). "
             "Before and after ran in one session on this machine, interleaved run by run.", "",
             "## How this was run", "", "```", command, "```", "",
             f"- started {started}; machine {platform.machine()}, {os.cpu_count()} cores shared with other jobs, "
             f"one thread; load average at start {' '.join(f'{x:.1f}' for x in load_start)}, at end "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
             f"- python {platform.python_version()}, numpy {numpy.__version__}, torch {torch.__version__}",
             f"- before: commit {args.baseline}; after: "
             + (f"commit {args.after}" if args.after else f"the working tree at {head}{' (with changes)' if dirty else ''}"),
             f"- SmolLM2-135M-Instruct (`lm.load(\"smollm2\")`, float32 on CPU), max_tokens={MAX_TOKENS}, "
             f"seeds {' '.join(map(str, args.seeds))}; every number is a mean over the seeds of per-step means", "",
             "## Results", "",
             "| task | N | steps | total ms | forward ms | sort ms | free ms | host ms before | host ms after | **host speed-up** "
             "| gc ms | categorical / step | evaluations / step | transfers / step before | after | same samples |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in args.tasks:
        for n in args.particles:
            before, after = rows[(task, n, "before")], rows[(task, n, "after")]
            same = all(b["samples"] == a["samples"] for b, a in zip(before, after))
            host_b, host_a = _mean(before, "host_ms"), _mean(after, "host_ms")
            lines.append(
                f"| {task} | {n} | {_mean(before, 'steps'):.0f} / {_mean(after, 'steps'):.0f} "
                f"| {_mean(before, 'total_ms'):.1f} / {_mean(after, 'total_ms'):.1f} "
                f"| {_mean(before, 'forward_ms'):.1f} / {_mean(after, 'forward_ms'):.1f} "
                f"| {_mean(before, 'sort_ms'):.1f} / {_mean(after, 'sort_ms'):.1f} "
                f"| {_mean(before, 'free_ms'):.1f} / {_mean(after, 'free_ms'):.1f} "
                f"| {host_b:.2f} | {host_a:.2f} | **{host_b / host_a:.2f}x** "
                f"| {_mean(before, 'gc_ms'):.2f} / {_mean(after, 'gc_ms'):.2f} "
                f"| {_mean(before, 'categorical'):.0f} / {_mean(after, 'categorical'):.0f} "
                f"| {_mean(before, 'evaluations'):.0f} / {_mean(after, 'evaluations'):.0f} "
                f"| {_mean(before, 'transfers'):.1f} | {_mean(after, 'transfers'):.1f} | {'yes' if same else 'no'} |")
    lines += ["", "Columns with two numbers are before / after."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
