"""Where one step of constrained SMC+AWRS on the device path goes, phase by phase, without a profiler's overhead.

    python benchmarks/gpu/step_phases.py MODEL_DIR --pack benchmarks/gpu/pack --particles 16 64
    python benchmarks/gpu/step_phases.py smollm2 --device cpu --particles 16        # the same on CPU

For each task of the pack (JSON tasks by default; `--tasks` names others) and each N, `lm.generate`
(device engine) runs once to warm up, then `--runs` times plain (the step time a user sees: wall / SMC
steps), then `--runs` times with timers around the phases, each timer synchronizing the device where
the phase ends, so a phase's time is its own:

* replay: `StaticDecoder.step` (the graph replay of the forward pass);
* temper: the rest of `ConstrainedDecodePopulation._probabilities` (float64 tempering of every row);
* sort: `SortedBatch.__init__` (per-row sort, block masses, the one head transfer);
* deeper: `SortedRow._tier` and `SortedRow.full` (deeper blocks and whole rows for masks, fetched on demand);
* host: the rest of `advance` (AWRS draws, constraint tests, masks, bookkeeping, the chosen ids' upload);
* reindex: `ConstrainedDecodePopulation.reindex` (the KV gather of resampling and the host lists);
* prefill: `StaticDecoder.prefill` (the prompt, once a call);
* engine: the rest of the call (setup of the decoder and the constraint, ESS, resampling, the result).

A pure-Python loop timed on the machine (`python_loop_ms`) lets host work be compared across machines.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parent)]

PHASES = ("prefill", "replay", "temper", "sort", "deeper", "host", "reindex", "engine")


def python_loop_ms() -> float:
    """Milliseconds for a fixed pure-Python workload (dict and list work like AWRS's bookkeeping)."""
    started = time.perf_counter()
    d: dict[int, int] = {}
    for i in range(300_000):
        d[i & 1023] = d.get(i & 1023, 0) + i
    return 1000 * (time.perf_counter() - started)


class PhaseTimers:
    """Wrappers around the phases' functions; each adds its (synchronized) time to `spent`."""

    def __init__(self, sync):
        from lm.device import sorted_blocks, static_decoder
        from lm.generation import device_generation

        self.sync, self.spent, self.counts = sync, dict.fromkeys(PHASES + ("probabilities", "advance"), 0.0), {}
        self.originals = []
        pop = device_generation.ConstrainedDecodePopulation
        for owner, name, key in ((static_decoder.StaticDecoder, "prefill", "prefill"),
                                 (static_decoder.StaticDecoder, "step", "replay"), (pop, "_probabilities", "probabilities"),
                                 (sorted_blocks.SortedBatch, "__init__", "sort"), (sorted_blocks.SortedRow, "_tier", "deeper"),
                                 (sorted_blocks.SortedRow, "full", "deeper"), (pop, "advance", "advance"),
                                 (pop, "reindex", "reindex")):
            self._wrap(owner, name, key)

    def _wrap(self, owner, name, key):
        original = getattr(owner, name)
        self.originals.append((owner, name, original))

        def timed(*args, **kwargs):
            started = time.perf_counter()
            out = original(*args, **kwargs)
            self.sync()
            self.spent[key] += time.perf_counter() - started
            self.counts[key] = self.counts.get(key, 0) + 1
            return out

        setattr(owner, name, timed)

    def remove(self):
        for owner, name, original in reversed(self.originals):
            setattr(owner, name, original)

    def reset(self):
        for key in self.spent:
            self.spent[key] = 0.0
        self.counts.clear()

    def phases(self, wall: float) -> dict[str, float]:
        s = self.spent
        return {"prefill": s["prefill"], "replay": s["replay"], "temper": s["probabilities"] - s["replay"], "sort": s["sort"], "deeper": s["deeper"],
                "host": s["advance"] - s["probabilities"] - s["sort"] - s["deeper"], "reindex": s["reindex"],
                "engine": wall - s["advance"] - s["reindex"] - s["prefill"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--pack", default=str(Path(__file__).resolve().parent / "pack"))
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--particles", type=int, nargs="+", default=[16])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch

    import lm
    import task_pack
    from lm.generation.generation import generate

    if args.device == "cpu":
        torch.set_num_threads(1)
    llm = lm.load(args.model, device=args.device, dtype="bfloat16" if args.device.startswith("cuda") else "float32")
    sync = (lambda: torch.cuda.synchronize(llm.device)) if args.device.startswith("cuda") else (lambda: None)
    tasks = [t for t in task_pack.load_pack(Path(args.pack))
             if (t.name in args.tasks if args.tasks else t.kind == "JSON")]
    rows = []
    print(f"python loop: {python_loop_ms():.1f} ms", flush=True)
    for task in tasks:
        constraint = (lm.constraints.json_schema(task.schema) if task.kind == "JSON"
                      else lm.constraints.sql(task.db_path))
        prompt = task_pack.prompt_for(task, llm.tokenizer)
        for n in args.particles:
            call = dict(particles=n, max_tokens=args.max_tokens, engine="device")
            generate(llm, prompt, constraint, rng=0, **call)
            plain = []
            for run in range(args.runs):
                llm.server.clear()
                sync()
                started = time.perf_counter()
                result = generate(llm, prompt, constraint, rng=run + 1, **call)
                sync()
                plain.append((time.perf_counter() - started, result.steps if isinstance(result.steps, int) else len(result.steps)))
            timers = PhaseTimers(sync)
            try:
                totals = dict.fromkeys(PHASES, 0.0)
                steps_timed, deeper = 0, 0
                for run in range(args.runs):
                    llm.server.clear()
                    timers.reset()
                    sync()
                    started = time.perf_counter()
                    result = generate(llm, prompt, constraint, rng=run + 1, **call)
                    sync()
                    for key, value in timers.phases(time.perf_counter() - started).items():
                        totals[key] += value
                    steps_timed += timers.counts.get("advance", 0)
                    deeper += timers.counts.get("deeper", 0)
            finally:
                timers.remove()
            wall, steps = sum(w for w, _ in plain), sum(s for _, s in plain)
            row = {"task": task.name, "N": n, "steps": steps, "ms_per_step": 1000 * wall / steps,
                   "timed_ms_per_step": {k: round(1000 * v / steps_timed, 3) for k, v in totals.items()},
                   "deeper_fetches_per_step": deeper / steps_timed}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"model": args.model, "device": args.device, "python_loop_ms": python_loop_ms(),
                                              "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
