"""Constraint work per generated token, AWRS vs whole-vocabulary masking, at the same prefixes.

Along one trajectory drawn by AWRS (the sampler `generate(method="smc")` uses), at each prefix we
(1) walk the vocabulary trie as token masking does (`lm.generation.generation.vocabulary_mask`: one constraint
advance per trie edge, plus the end-of-sequence test), and (2) run `inference.awrs.awrs` several
times with independent seeds, as generate() does: after `budget` rejections (default
`lm.generation.generation.AWRS_BUDGET`) it falls back to that same mask, whose advances then count as its work
(one per distinct token tested, plus the mask's advances). Both use the library's own functions
with the same acceptance rule as `lm.generation.generation.ConstrainedGeneration`, so the ratio compares the
two samplers on identical states and identical next-token distributions.

Run as a script, it sweeps the budget instead: uncapped AWRS and the mask at every prefix, then the
work every budget C would have cost at those prefixes (a capped run makes the same draws as the
uncapped one until it has C rejections, so its work is the uncapped work if that had fewer than C
rejections, else C + the mask's advances + 1):

    python benchmarks/evaluation_counts.py --budgets 0 16 64 256 1024 --out /tmp/awrs_budget_sweep.md
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__":  # run as a script: the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counted_constraint import CountedConstraint
from inference.awrs import awrs
from inference.token_trie import TokenTrie
from lm.generation.generation import AWRS_BUDGET, vocabulary_mask
from ppl.rng import SeededRng


@dataclass
class PrefixWork:
    """The work both samplers did at one prefix."""

    awrs_tests: float           # constraint work per draw: token tests + the mask's advances if it fell back (mean over repeats)
    awrs_bytes: float           # bytes fed to the constraint by that work (mean)
    awrs_seconds: float         # constraint time of the first repeat
    awrs_total_seconds: float   # the whole awrs() call of the first repeat (its own sampling work included)
    mask_advances: int | None   # trie edges advanced + 1 (EOS); None where the mask was skipped
    mask_seconds: float | None
    awrs_masked: float = 0.0    # share of the repeats that ran out of budget and used the mask
    rejections: tuple[int, ...] = ()   # per repeat
    evaluations: tuple[int, ...] = ()  # per repeat (the work counted in awrs_tests)
    found: tuple[bool, ...] = ()       # per repeat: a token was returned


@dataclass
class Trajectory:
    """One AWRS-drawn continuation and the work measured along it."""

    text: bytes = b""
    finished: bool = False
    steps: list[PrefixWork] = field(default_factory=list)


def _accepts(llm: Any, constraint: CountedConstraint, state: Any, token_id: int, states: dict) -> bool:
    token = llm.vocabulary.tokens[token_id]
    if token is None or (token.is_special and not token.is_eos):
        return False
    if token.is_eos:
        return constraint.is_accepting(state)
    new = constraint.advance(state, token.bytes)
    if new is None:
        return False
    states[token_id] = new
    return True


def measure_trajectory(llm: Any, prompt: str, constraint: CountedConstraint, trie: TokenTrie, *, max_tokens: int,
                       repeats: int, seed: int, mask_every: int = 1, budget: int | None = AWRS_BUDGET) -> Trajectory:
    """Walk `max_tokens` AWRS draws from `prompt`, measuring both samplers at each prefix (budget None: no fallback)."""
    context = llm.context(prompt)
    state = constraint.start()
    eos = llm.vocabulary.eos.id
    out = Trajectory()
    for t in range(max_tokens):
        logprobs = np.asarray(context.logprobs(), dtype=np.float64)
        probs = np.exp(logprobs - logprobs.max())
        probs /= probs.sum()
        mask_advances = mask_seconds = None
        if t % mask_every == 0:
            constraint.counts.reset()
            started = time.perf_counter()
            _, mask_advances = vocabulary_mask(llm, trie, constraint, state)
            mask_seconds = time.perf_counter() - started
        draws, fed, first_seconds, first_total, chosen, chosen_states = [], [], 0.0, 0.0, None, {}
        for k in range(repeats):
            states: dict = {}
            constraint.counts.reset()
            started = time.perf_counter()
            draw = awrs(SeededRng(seed * 1_000_003 + t * repeats + k), probs,
                        lambda i: _accepts(llm, constraint, state, i, states), max_rejections=budget,
                        mask=(lambda: vocabulary_mask(llm, trie, constraint, state)) if budget is not None else None)
            if k == 0:
                first_total = time.perf_counter() - started
                first_seconds, chosen, chosen_states = constraint.counts.seconds, draw.token, states
            draws.append(draw)
            fed.append(constraint.counts.bytes)
        out.steps.append(PrefixWork(
            float(np.mean([d.evaluations for d in draws])), float(np.mean(fed)), first_seconds, first_total,
            mask_advances, mask_seconds, awrs_masked=float(np.mean([d.masked for d in draws])),
            rejections=tuple(d.rejections for d in draws), evaluations=tuple(d.evaluations for d in draws),
            found=tuple(d.token is not None for d in draws)))
        if chosen is None:
            break
        if chosen == eos:
            out.finished = True
            break
        state = chosen_states[chosen]
        token = llm.vocabulary.tokens[chosen]
        out.text += token.bytes
        context.extend(token)
    return out


@dataclass(frozen=True)
class WorkSummary:
    """Per-token means over trajectories; `ratio` = mask advances / AWRS token tests."""

    prefixes: int
    masked_prefixes: int
    awrs_tests: float
    awrs_bytes: float
    mask_advances: float
    ratio: float
    byte_ratio: float
    awrs_ms: float
    awrs_total_ms: float
    mask_ms: float
    median_ratio: float
    awrs_masked: float = 0.0  # share of AWRS draws (prefixes x repeats, all prefixes) that used the mask


def summarize(trajectories: list[Trajectory]) -> WorkSummary:
    """Means per prefix; the ratio is of means over the prefixes where both were measured."""
    steps = [s for tr in trajectories for s in tr.steps]
    both = [s for s in steps if s.mask_advances is not None]
    if not both:
        raise ValueError("no prefix had both samplers measured")
    tests = float(np.mean([s.awrs_tests for s in both]))
    fed = float(np.mean([s.awrs_bytes for s in both]))
    adv = float(np.mean([s.mask_advances for s in both]))
    per_prefix = [s.mask_advances / s.awrs_tests for s in both if s.awrs_tests > 0]
    return WorkSummary(
        prefixes=len(steps), masked_prefixes=len(both), awrs_tests=tests, awrs_bytes=fed, mask_advances=adv,
        ratio=adv / tests if tests else math.inf, byte_ratio=adv / fed if fed else math.inf,
        awrs_ms=1000 * float(np.mean([s.awrs_seconds for s in both])),
        awrs_total_ms=1000 * float(np.mean([s.awrs_total_seconds for s in both])),
        mask_ms=1000 * float(np.mean([s.mask_seconds for s in both])),
        median_ratio=float(np.median(per_prefix)) if per_prefix else math.nan,
        awrs_masked=float(np.mean([s.awrs_masked for s in steps])))


def budget_work(trajectories: list[Trajectory], budget: int | None) -> float:
    """Mean constraint work per AWRS draw had the budget been `budget`, from uncapped runs with the mask at every prefix.

    A capped run draws exactly as the uncapped one until its C-th rejection; with fewer rejections its
    work is the uncapped work, otherwise C tests + the mask's advances + 1 test of the token (if any).
    """
    work = []
    for step in (s for tr in trajectories for s in tr.steps):
        if step.mask_advances is None:
            raise ValueError("budget_work needs the mask at every prefix (mask_every=1)")
        for rejections, evaluations, found in zip(step.rejections, step.evaluations, step.found):
            if budget is None or rejections < budget:
                work.append(evaluations)
            else:
                work.append(budget + step.mask_advances + int(found))
    return float(np.mean(work))


def root_fan_out(llm: Any) -> int:
    """Distinct first bytes of the ordinary tokens: the fewest constraint advances any trie mask makes."""
    return len({t.bytes[0] for t in llm.vocabulary.tokens if t is not None and t.bytes and not t.is_special})


def main() -> None:
    """The budget sweep (see the module docstring); writes a markdown table."""
    import argparse
    import os
    import shlex
    import subprocess

    import torch

    import lm
    from constrained_generation import json_constraint, shared_trie, sql_constraint
    from constrained_tasks import json_tasks, sql_tasks
    from large_vocabulary_models import build_all

    parser = argparse.ArgumentParser(description="Sweep the AWRS rejection budget (see the module docstring).")
    parser.add_argument("--budgets", type=int, nargs="+", default=[0, 16, 64, 256, 1024])
    parser.add_argument("--tasks", type=int, default=2, help="JSON schemas and SQL questions each")
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models-dir", default="/tmp/cg_bench/models")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    models = build_all(Path(args.models_dir))
    jtasks, stasks = json_tasks()[: args.tasks], sql_tasks(("concert_singer", "pets_1"), 3)[: args.tasks]
    budgets: list[int | None] = [*args.budgets, None]
    header = "| model | task | prefixes | root fan-out F | mask advances/token | " + " | ".join(
        f"C={b}" if b is not None else "no budget" for b in budgets) + " |"
    lines = [header, "|" + "---|" * (5 + len(budgets))]
    for name, path in (("builtin", "builtin"), ("builtin-50k", models["builtin-50k"]), ("random-50k", models["random-50k"])):
        llm = lm.load(path)
        trie = shared_trie(llm)
        for kind, tasks in (("JSON", jtasks), ("SQL", stasks)):
            trajectories = [measure_trajectory(llm, task.prompt, json_constraint(task) if kind == "JSON" else
                                               sql_constraint(task), trie, max_tokens=args.tokens,
                                               repeats=args.repeats, seed=args.seed + i, budget=None)
                            for i, task in enumerate(tasks)]
            steps = [s for tr in trajectories for s in tr.steps]
            mask = float(np.mean([s.mask_advances for s in steps]))
            cells = [f"{budget_work(trajectories, b):.0f}" for b in budgets]
            lines.append(f"| {name} | {kind} | {len(steps)} | {root_fan_out(llm)} | {mask:.0f} | "
                         + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
        del llm
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    args.out.write_text(f"```\n{command}\n```\n\ncommit {commit}, load average at end "
                        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n\n"
                        "Mean constraint work per AWRS draw (token tests, plus trie-mask advances where the "
                        "budget ran out), by rejection budget C:\n\n" + "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
