"""Where a step of constrained SMC+AWRS goes: cProfile of `lm.generate` (device engine), N particles.

    python benchmarks/gpu/constrained_profile.py MODEL_DIR --particles 16 --kind json|sql [--db DB]
    python benchmarks/gpu/constrained_profile.py smollm2 --device cpu   # the same path on CPU (float32)

On CPU the static decoder runs eagerly (no CUDA graph) and the sort of every row costs as much as
a third of the step; benchmarks/awrs_host_work.py splits a step into forward, sort and host work.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "city": {"type": "string"}},
          "required": ["name", "age", "city"], "additionalProperties": False}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--particles", type=int, default=16)
    parser.add_argument("--kind", default="json")
    parser.add_argument("--db", default=None)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    import lm

    llm = lm.load(args.model, device=args.device, dtype="bfloat16" if args.device.startswith("cuda") else "float32")
    if args.kind == "json":
        constraint, prompt = lm.constraints.json_schema(SCHEMA), "Write a person (name, age, city) as JSON.\n"
    else:
        constraint, prompt = lm.constraints.sql(args.db), "Write an SQL query that lists every singer.\n"
    call = dict(constraint=constraint, particles=args.particles, max_tokens=64, rng=0, engine="device")
    lm.generate(llm, prompt, **call)  # warm-up: graph recording
    for run in range(2):
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        result = lm.generate(llm, prompt, **dict(call, rng=run + 1))
        profile.disable()
        wall = time.perf_counter() - started
        steps = len(getattr(result, "steps", []) or []) or 1
        print(f"run {run}: {wall:.2f} s, {steps} steps, {1000 * wall / steps:.1f} ms/step, samples {len(result.samples)}")
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    pstats.Stats(profile).sort_stats("cumtime").print_stats(30)


if __name__ == "__main__":
    main()
