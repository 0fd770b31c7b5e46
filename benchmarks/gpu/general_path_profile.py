"""Where a step of the general ppl.Model path goes on a GPU (issue 9, item 4): forward pass vs everything else.

    python benchmarks/gpu/general_path_profile.py MODEL_DIR --particles 16 64 --tokens 64

Runs the `ours` job of benchmarks/lm_smc_throughput.py (a ppl.Model whose step samples one LM token;
resampled by a fixed random ancestor pattern every step) and, in the same process, `lm.smc_decode`
(the static, graph-recorded step), and splits the general path's step time into the forward server's
forward pass (device-synchronized), the host transfer of the log-probability tables, and the rest
(planning, Python per particle, sampling), with the fixed-shape decode step recorded as CUDA graphs
(lm/serving/decode_graphs.py, the default on CUDA) and eagerly. Prints one JSON line per configuration.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--particles", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    import torch

    import lm
    import lm_smc_throughput as bench
    from lm.serving import forward_server

    llm = lm.load(args.model, device=args.device, dtype=args.dtype)
    prompt_ids = llm.prompt_ids(bench.PROMPT)
    spent = {"forward_s": 0.0, "calls": 0}
    original = forward_server.ForwardServer._forward

    def timed(self, group, start):
        bench._sync(llm.device)
        t = time.perf_counter()
        out = original(self, group, start)
        bench._sync(llm.device)
        spent["forward_s"] += time.perf_counter() - t
        spent["calls"] += 1
        return out

    for n in args.particles:
        bench.run_ours_model(llm, prompt_ids, n, 8, 1)  # warm-up: kernels, cuDNN plans
        static_s, _ = bench.run_ours_static(llm, prompt_ids, n, args.tokens, 0)
        llm.server.fixed_shapes(False)
        bench.run_ours_model(llm, prompt_ids, n, 8, 1)
        eager_s = bench.run_ours_model(llm, prompt_ids, n, args.tokens, 0)
        llm.server.fixed_shapes(True)  # CUDA graphs on CUDA (the default there)
        bench.run_ours_model(llm, prompt_ids, n, args.tokens, 3)  # records the shapes this length needs
        plain_s = bench.run_ours_model(llm, prompt_ids, n, args.tokens, 0)
        forward_server.ForwardServer._forward = timed
        spent.update(forward_s=0.0, calls=0)
        try:
            synced_s = bench.run_ours_model(llm, prompt_ids, n, args.tokens, 0)
        finally:
            forward_server.ForwardServer._forward = original
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
                                    if args.device == "cuda" else [torch.profiler.ProfilerActivity.CPU]) as prof:
            bench.run_ours_model(llm, prompt_ids, n, 16, 2)
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
        steps = args.tokens
        print(json.dumps({"particles": n, "tokens": steps, "static_ms_per_step": round(static_s * 1e3 / steps, 2),
                          "general_eager_ms_per_step": round(eager_s * 1e3 / steps, 2),
                          "general_ms_per_step": round(plain_s * 1e3 / steps, 2),
                          "graphs": vars(llm.server.decode_graphs) and {k: getattr(llm.server.decode_graphs, k) for k in
                                                                        ("recorded", "replays", "padded_rows")},
                          "general_synced_ms_per_step": round(synced_s * 1e3 / steps, 2),
                          "forward_ms_per_step": round(spent["forward_s"] * 1e3 / steps, 2),
                          "forward_calls": spent["calls"], "ratio_general_to_static": round(plain_s / static_s, 2)}),
              flush=True)
        print(table, flush=True)


if __name__ == "__main__":
    main()
