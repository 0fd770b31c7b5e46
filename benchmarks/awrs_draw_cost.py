"""Per-call cost of AWRS's own sampling work: the flat O(|V|)-per-draw sampler vs the block sampler.

Both samplers run on the same 50,257-token distributions with a constraint that rejects the
first R tokens it tests and accepts the rest, so every call makes exactly R + 2 draws (R
rejections, the accepted token, one continuation draw) and the constraint costs nothing: what
is timed is the sampler. Calls of the two samplers alternate, each with a fresh SeededRng, so
load on the shared machine hits both alike; the ratio is of medians measured in one run.

Distributions: 'peaked' is the built-in model's next-token distribution at a JSON key position
(2,048 tokens), padded to 50,257 with tokens of log-probability -40 as in the builtin-50k
benchmark model; 'near-uniform' is a softmax of N(0, 0.5^2) logits (max probability ~1e-4, like
the random-weight 50k model).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from inference.awrs import TokenDraw, awrs, probabilities_from_logits, token_blocks  # noqa: E402
from ppl.rng import SeededRng  # noqa: E402

VOCAB_SIZE = 50257
PAD_LOGPROB = -40.0


def awrs_flat_reference(rng: Any, probs: np.ndarray, accepts: Callable[[int], bool], *, extra_draws: int = 1,
                        max_rejections: int | None = None) -> TokenDraw:
    """The library's AWRS before the block sampler (commit 2bc3f98): O(|V|) numpy work per draw."""
    remaining = np.array(probs, dtype=np.float64)
    known: dict[int, bool] = {}
    accepted_mass = 0.0
    evaluations = 0

    def test(token: int) -> bool:
        nonlocal evaluations
        if token not in known:
            known[token] = bool(accepts(token))
            evaluations += 1
        return known[token]

    def draw() -> tuple[int, float]:
        undrawn = float(remaining.sum())
        token = rng.categorical(remaining)
        remaining[token] = 0.0
        return token, undrawn

    rejections = 0
    while True:
        if not remaining.any():
            return TokenDraw(None, -math.inf, evaluations, rejections)
        if max_rejections is not None and rejections >= max_rejections:
            token, undrawn = draw()
            weight = undrawn if test(token) else 0.0
            return TokenDraw(token if weight > 0 else None, math.log(weight) if weight > 0 else -math.inf,
                             evaluations, rejections)
        token, undrawn = draw()
        if test(token):
            accepted_mass += float(probs[token])
            break
        rejections += 1
    chosen = token
    estimates = []
    for _ in range(extra_draws):
        if not remaining.any():
            estimates.append(accepted_mass)
            continue
        token, undrawn = draw()
        ok = test(token)
        estimates.append(accepted_mass + (undrawn if ok else 0.0))
        if ok:
            accepted_mass += float(probs[token])
    mean = float(np.mean(estimates))
    return TokenDraw(chosen, math.log(mean) if mean > 0 else -math.inf, evaluations, rejections)


def peaked_distribution() -> tuple[np.ndarray, str]:
    """The built-in model's next-token distribution at the first key of a JSON task, padded to 50k."""
    import torch

    torch.set_num_threads(1)
    from constrained_tasks import json_tasks
    from lm import load

    llm = load("builtin")
    prompt = json_tasks(1)[0].prompt + ' {"'
    logprobs = np.asarray(llm.context(prompt).logprobs(), dtype=np.float64)
    padded = np.concatenate([logprobs, np.full(VOCAB_SIZE - len(logprobs), PAD_LOGPROB)])
    return probabilities_from_logits(padded), f"built-in model after {prompt[-40:]!r}"


def near_uniform_distribution(seed: int) -> np.ndarray:
    return probabilities_from_logits(np.random.default_rng(seed).normal(0.0, 0.5, VOCAB_SIZE))


def rejecting_first(count: int) -> Callable[[int], bool]:
    """A constraint that rejects the first `count` distinct tokens it is asked about."""
    seen = 0

    def accepts(token: int) -> bool:
        nonlocal seen
        seen += 1
        return seen > count

    return accepts


def time_calls(samplers: dict[str, Callable[[Any, Callable[[int], bool]], TokenDraw]], rejections: int,
               calls: int, seed: int) -> dict[str, list[float]]:
    """Seconds per call of each sampler, calls interleaved; checks every call made R + 2 tests."""
    times: dict[str, list[float]] = {name: [] for name in samplers}
    for sample in samplers.values():  # warm-up, untimed
        sample(SeededRng(seed), rejecting_first(rejections))
    for k in range(calls):
        for name, sample in samplers.items():
            rng = SeededRng(seed * 1_000_003 + k)
            accepts = rejecting_first(rejections)
            started = time.perf_counter()
            draw = sample(rng, accepts)
            times[name].append(time.perf_counter() - started)
            if draw.evaluations != rejections + 2 or draw.rejections != rejections:
                raise RuntimeError(f"{name}: {draw.evaluations} tests, {draw.rejections} rejections; "
                                   f"expected {rejections + 2}, {rejections}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="timed calls per sampler and setting")
    parser.add_argument("--rejections", type=int, nargs="+", default=[0, 10, 100])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the report here (markdown)")
    args = parser.parse_args()

    peaked, peaked_source = peaked_distribution()
    distributions = {"peaked": peaked, "near-uniform": near_uniform_distribution(args.seed)}
    load_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    rows = []
    for name, probs in distributions.items():
        blocks = token_blocks(probs)
        samplers = {
            "flat": lambda rng, accepts, p=probs: awrs_flat_reference(rng, p, accepts),
            "block": lambda rng, accepts, p=probs: awrs(rng, p, accepts),
            "block, pre-blocked": lambda rng, accepts, b=blocks: awrs(rng, b, accepts),
        }
        for r in args.rejections:
            times = time_calls(samplers, r, args.calls, args.seed)
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            rows.append((name, r, med["flat"], med["block"], med["block, pre-blocked"],
                         med["flat"] / med["block"], med["flat"] / med["block, pre-blocked"],
                         (med["flat"]) / (r + 2), med["block"] / (r + 2)))
    blocking = statistics.median(timed(lambda: token_blocks(peaked), 200))
    softmax = statistics.median(timed(lambda: probabilities_from_logits(np.log(peaked)), 200))

    lines = ["# AWRS sampling cost per call: flat vs block sampler", "",
             "Produced by `benchmarks/awrs_draw_cost.py`. One run; every number is a median over interleaved calls.", "",
             "## How this was run", "", "```", "python " + " ".join(shlex.quote(a) for a in sys.argv), "```", "",
             f"- started {started}; machine {platform.machine()}, {os.cpu_count()} cores shared with other jobs, "
             f"load average at start {load_start}, at end {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
             f"- python {platform.python_version()}, numpy {np.__version__}; {args.calls} calls per sampler and row",
             f"- |V| = {VOCAB_SIZE}, block size {token_blocks(peaked).block_size} "
             f"({len(token_blocks(peaked).masses)} blocks)",
             f"- peaked: {peaked_source}, padded with log-probability {PAD_LOGPROB}; "
             f"max p = {peaked.max():.3f}, entropy {entropy(peaked):.2f} nats",
             f"- near-uniform: softmax of N(0, 0.5^2) logits; max p = {distributions['near-uniform'].max():.2e}, "
             f"entropy {entropy(distributions['near-uniform']):.2f} nats (log |V| = {math.log(VOCAB_SIZE):.2f})",
             "- the constraint rejects the first R tokens tested and accepts the rest: R + 2 draws per call "
             "(checked on every call), and no constraint cost",
             "- 'flat' is `awrs_flat_reference` (the library's AWRS at 2bc3f98, in this file); 'block' is "
             "`inference.awrs.awrs` given the probabilities (its one O(|V|) blocking pass included); "
             "'pre-blocked' is `awrs` given `token_blocks(probs)` built beforehand", "",
             "## Results", "",
             "| distribution | R | flat ms/call | block ms/call | pre-blocked ms/call | **speedup (block)** | "
             "speedup (pre-blocked) | flat ms/draw | block ms/draw |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r, flat, block, pre, s1, s2, fd, bd in rows:
        lines.append(f"| {name} | {r} | {flat:.3f} | {block:.3f} | {pre:.3f} | **{s1:.1f}x** | {s2:.1f}x | "
                     f"{fd:.3f} | {bd:.3f} |")
    lines += ["", f"For scale, per distribution: `token_blocks` (the one O(|V|) pass) {blocking * 1e3:.3f} ms; "
              f"a float64 softmax of the 50k logits, which every caller does before AWRS, {softmax * 1e3:.3f} ms.", ""]
    report = "\n".join(lines)
    print(report)
    if args.out is not None:
        args.out.write_text(report)


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def entropy(p: np.ndarray) -> float:
    q = p[p > 0]
    return float(-(q * np.log(q)).sum())


if __name__ == "__main__":
    main()
