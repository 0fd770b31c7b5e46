"""Constraint work per generated token, AWRS vs whole-vocabulary masking, at the same prefixes.

Along one trajectory drawn by AWRS (the sampler `generate(method="smc")` uses), at each prefix we
(1) walk the vocabulary trie as token masking does (`TokenTrie.mask`, one constraint advance per
trie edge, plus the end-of-sequence test), and (2) run `inference.awrs.awrs` several times with
independent seeds (one token test per distinct token tried). Both use the library's own functions
with the same acceptance rule as `lm.generation.ConstrainedGeneration`, so the ratio compares the
two samplers on identical states and identical next-token distributions.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from counted_constraint import CountedConstraint
from inference.awrs import awrs
from inference.token_trie import TokenTrie
from ppl.rng import SeededRng


@dataclass
class PrefixWork:
    """The work both samplers did at one prefix."""

    awrs_tests: float           # token tests per draw (mean over repeats)
    awrs_bytes: float           # bytes fed to the constraint by those tests (mean)
    awrs_seconds: float         # constraint time of the first repeat
    awrs_total_seconds: float   # the whole awrs() call of the first repeat (its own sampling work included)
    mask_advances: int | None   # trie edges advanced + 1 (EOS); None where the mask was skipped
    mask_seconds: float | None


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
                       repeats: int, seed: int, mask_every: int = 1) -> Trajectory:
    """Walk `max_tokens` AWRS draws from `prompt`, measuring both samplers at each prefix."""
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
            _, advances = trie.mask(constraint, state)
            constraint.is_accepting(state)
            mask_seconds = time.perf_counter() - started
            mask_advances = advances + 1
        tests, fed, first_seconds, first_total, chosen, chosen_states = [], [], 0.0, 0.0, None, {}
        for k in range(repeats):
            states: dict = {}
            constraint.counts.reset()
            started = time.perf_counter()
            draw = awrs(SeededRng(seed * 1_000_003 + t * repeats + k), probs,
                        lambda i: _accepts(llm, constraint, state, i, states))
            if k == 0:
                first_total = time.perf_counter() - started
                first_seconds, chosen, chosen_states = constraint.counts.seconds, draw.token, states
            tests.append(draw.evaluations)
            fed.append(constraint.counts.bytes)
        out.steps.append(PrefixWork(float(np.mean(tests)), float(np.mean(fed)), first_seconds, first_total,
                                    mask_advances, mask_seconds))
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
        median_ratio=float(np.median(per_prefix)) if per_prefix else math.nan)
