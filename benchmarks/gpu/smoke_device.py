"""A first check on a GPU machine: constrained generation on the device path and the general path, a few steps each.

    python benchmarks/gpu/smoke_device.py MODEL_DIR [--device cuda]

Runs `lm.generation.generation.generate` with engine="device" and engine="general" on a 3-key JSON
schema (N=4, up to 32 tokens) and prints the outputs and ms per step, so a broken device path shows up before
the long benchmark is started.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "city": {"type": "string"}}, "required": ["name", "age", "city"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()
    import torch

    import lm
    from lm.generation.generation import generate

    llm = lm.load(args.model, device=args.device, dtype=args.dtype)
    constraint = lm.constraints.json_schema(SCHEMA)
    failures = 0
    for engine in ("device", "general"):
        for attempt in range(2):
            try:
                if args.device == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                result = generate(llm, "Person JSON: ", constraint, particles=4, max_tokens=32, rng=attempt,
                                  engine=engine)
                if args.device == "cuda":
                    torch.cuda.synchronize()
                wall = time.perf_counter() - t
                steps = result.steps if isinstance(result.steps, int) else len(result.steps)
                outputs = [p.trace.output for p in result.particles]
                print(f"smoke {engine} try {attempt}: {wall * 1e3 / max(steps, 1):.1f} ms/step over {steps} steps, "
                      f"{wall:.2f} s; outputs {outputs[:2]}; message {result.message}", flush=True)
            except Exception:  # noqa: BLE001 - report and go on to the other engine
                failures += 1
                print(f"smoke {engine} FAILED:\n{traceback.format_exc()}", flush=True)
                break
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
