"""Where the first decoding run after loading a model spends its time on a GPU: cProfile of run 1 vs run 2.

    python benchmarks/gpu_first_run_profile.py            # on a CUDA machine; builds llama1b-random once

Found with it (H200, torch 2.11): run 1 spent 2.5 of its 3.5 s inside scaled_dot_product_attention,
2.5 ms per call, because cuDNN attention builds an execution plan for every new key length and
the pooled cache's key length grew by one each step; run 2 (plans cached) took 0.05 s there.
The forward server now attends over block-aligned, masked key lengths on CUDA.
"""
import cProfile
import io
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import lm  # noqa: E402
import lm_smc_throughput as bench  # noqa: E402


def main() -> None:
    path = bench.model_dir("llama1b-random", "cuda", "bfloat16")
    llm = lm.load(path, device="cuda", dtype="bfloat16")
    ids = llm.tokenize(bench.PROMPT)
    n, steps = 16, 64
    bench.run_ours_model(llm, ids, 2, 4, 0)
    for label in ("first", "second"):
        profile = cProfile.Profile()
        profile.enable()
        seconds = bench.run_ours_contexts(llm, ids, n, steps, 0)
        profile.disable()
        print(f"{label} run: {1000 * seconds / steps:.2f} ms/step", flush=True)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
        print(out.getvalue())


if __name__ == "__main__":
    main()
