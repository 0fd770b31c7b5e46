"""Arithmetic word problems: SMC with AWRS vs token masking (LCD) at equal wall time, on the built-in model.

Issue 5, item 9: a task with a checkable answer where theory says SMC should beat locally
constrained decoding. The built-in model was trained on `lm.training.arithmetic_documents`
('Problem: ...\\nSolution: ...\\nAnswer: N'). Prompt: the problem line + '\\nSolution:'; constraint:
`examples.checked_arithmetic.CheckedArithmetic` (every equation 'A op B = C' correct digit by
digit, exact division, no negative differences, then '\\nAnswer: N' with N the last equation's
value). The constraint fixes arithmetic slips but not the choice of numbers to combine.

Per problem, as in benchmarks/constrained_generation.py part 3: SMC+AWRS with N particles
(answer: MAP sample, posterior-weighted vote over Answer values); then LCD draws batches of
independent samples while the next batch is expected to fit in SMC's wall time (answer: sample of
highest LM probability, scored afterwards and timed, or majority vote); unconstrained sampling
the same way (first sample, majority vote). The LM's memoized forward passes are cleared before
each method, so no method reuses another's work. Paired comparisons: exact McNemar tests.

Two problem sets, held out from the training corpus (first 800,000 documents of seed 0,
regenerated and checked against the training record's token count; problems whose text occurs
there are skipped):

* `all`: problems from `arithmetic_document` itself (the training distribution).
* `hard`: the hardest slice of that distribution, fixed before measuring: counting problems
  with the maximum 3 events that end in equal sharing ('Each friend gets X / k = ...'), where
  the final exact division is late evidence about the whole chain.

    python benchmarks/arithmetic_accuracy.py                 # 150 problems per set (about 5 minutes)
    python benchmarks/arithmetic_accuracy.py --problems 10   # a quick look
    python benchmarks/arithmetic_accuracy.py --sets hard --problems 600 --problem-seed 1 \\
        --fresh-from /tmp/arithmetic_bench/arithmetic_accuracy.json --raw /tmp/arithmetic_bench/follow_up.json \\
        --out /tmp/arithmetic_bench/follow_up.md                           # the follow-up of the results file
    python benchmarks/arithmetic_accuracy.py --ablation-of /tmp/arithmetic_bench/follow_up.json \\
        --raw /tmp/arithmetic_bench/ablation.json                          # the same AWRS proposal, no resampling
    python benchmarks/arithmetic_accuracy.py --report-from /tmp/arithmetic_bench/arithmetic_accuracy.json \\
        /tmp/arithmetic_bench/follow_up.json /tmp/arithmetic_bench/ablation.json   # all three into the results file

Torch runs on one thread.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from paired_test import accuracy_lines, mcnemar  # noqa: E402

import lm  # noqa: E402
from constrained_generation import library_versions, lm_logprob, run_ours, save_run  # noqa: E402
from examples.checked_arithmetic import CheckedArithmetic, final_answer  # noqa: E402
from lm.training.arithmetic_documents import arithmetic_document  # noqa: E402
from lm.generation.generation import generate  # noqa: E402
from lm.training.corpus import CorpusSpec, iter_documents  # noqa: E402

RESULTS = ROOT / "benchmarks/results/arithmetic_accuracy.md"
TRAINING_DOCUMENTS = 800_000            # lm/builtin/model/TRAINING.md: training documents generated
TRAINING_STREAM_TOKENS = 54_342_766     # ... and training stream tokens (EOS doc EOS doc ... EOS)
SETS = ("all", "hard")


@dataclass(frozen=True)
class Problem:
    """One held-out word problem: the prompt the model continues and the checkable answer."""

    name: str
    prompt: str
    answer: int
    gold: str
    events: int


# -- held-out problems -----------------------------------------------------------------------------

def training_problems(cache: Path) -> dict:
    """The problem lines of the training corpus's arithmetic documents, regenerated once and cached.

    The regenerated stream is tokenized with the built-in tokenizer; its length must equal the
    training record's, which shows it is the stream the model was trained on.
    """
    if cache.exists():
        return json.loads(cache.read_text())
    tokenizer = lm.load("builtin").tokenizer
    problems: set[str] = set()
    tokens, batch = 1, []
    stream = iter_documents(CorpusSpec(seed=0))
    for _ in range(TRAINING_DOCUMENTS):
        document = next(stream)
        batch.append(document)
        if document.startswith("Problem: "):
            problems.add(document.split("\n", 1)[0])
        if len(batch) == 10_000:
            tokens += sum(len(ids) + 1 for ids in tokenizer(batch, add_special_tokens=False)["input_ids"])
            batch = []
    if batch:
        tokens += sum(len(ids) + 1 for ids in tokenizer(batch, add_special_tokens=False)["input_ids"])
    if tokens != TRAINING_STREAM_TOKENS:
        raise RuntimeError(f"regenerated training stream has {tokens} tokens, the training record says "
                           f"{TRAINING_STREAM_TOKENS}: not the corpus the model was trained on")
    record = {"documents": TRAINING_DOCUMENTS, "stream_tokens": tokens, "problems": sorted(problems)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(record))
    return record


def solution_events(solution: str) -> int:
    """How many story events a gold counting solution works through (one sentence each)."""
    return solution.count("After getting") + solution.count("After losing") + solution.count(" hold ") \
        + solution.count("Doubling gives")


def is_hard(solution: str) -> bool:
    """The `hard` slice: a counting problem with the maximum 3 events, ending in equal sharing."""
    return solution.startswith("Solution: ") and "Each friend gets" in solution and solution_events(solution) == 3


def held_out_problems(which: str, count: int, seed: int, seen: set[str]) -> tuple[list[Problem], int]:
    """`count` distinct problems of set `which` whose text is not in `seen`; also how many were skipped as seen."""
    rng = random.Random(seed)
    problems: list[Problem] = []
    names: set[str] = set()
    skipped = 0
    while len(problems) < count:
        problem, solution, answer = arithmetic_document(rng).split("\n")
        if which == "hard" and not is_hard(solution):
            continue
        if problem in names:
            continue
        if problem in seen:
            skipped += 1
            continue
        names.add(problem)
        problems.append(Problem(f"{which}#{len(problems)}", problem + "\nSolution:", int(answer.split(": ")[1]),
                                solution[len("Solution:"):], solution_events(solution)))
    return problems, skipped


# -- one problem ----------------------------------------------------------------------------------

def draw_within(budget: float, draw: Callable[[int], dict]) -> tuple[list[dict], float, int]:
    """Batches `draw(b)` while the next one is expected to fit in `budget` seconds (at least one)."""
    runs, wall = [], 0.0
    while not runs or wall + wall / len(runs) <= budget:
        run = draw(len(runs))
        runs.append(run)
        wall += run["wall_s"]
    return runs, wall, len(runs)


def finished_answers(runs: list[dict]) -> list[tuple[str, int | None]]:
    """(text, answer) of every finished output, in the order drawn."""
    return [(o["text"], final_answer(o["text"])) for run in runs for o in run["outputs"] if o["finished"]]


def vote(answers: list[tuple[int | None, float]]) -> int | None:
    """The answer with the most total weight (ties: the first seen); None if there is none."""
    weight: Counter = Counter()
    for answer, w in answers:
        if answer is not None:
            weight[answer] += w
    return weight.most_common(1)[0][0] if weight else None


def solve(llm: Any, constraint: CheckedArithmetic, problem: Problem, index: int, args: argparse.Namespace) -> dict:
    seed = args.seed + 97 * index
    llm.clear_cache()
    smc = run_ours(llm, constraint, problem.prompt, "smc", args.particles, args.max_tokens, seed + 1)
    budget = smc["wall_s"]
    smc_samples = [(final_answer(text), p) for text, p in smc["samples"]]
    smc_map = max(smc_samples, key=lambda ap: ap[1])[0] if smc_samples else None

    llm.clear_cache()
    lcd_runs, lcd_wall, lcd_batches = draw_within(budget, lambda b: run_ours(
        llm, constraint, problem.prompt, "lcd", args.lcd_batch, args.max_tokens, seed + 10 + b))
    lcd = finished_answers(lcd_runs)
    t0 = time.perf_counter()
    scored = [(answer, lm_logprob(llm, problem.prompt, text)) for text, answer in lcd]
    score_s = time.perf_counter() - t0
    lcd_best = max(scored, key=lambda ap: ap[1])[0] if scored else None

    llm.clear_cache()
    free_runs, free_wall, free_batches = draw_within(budget, lambda b: run_ours(
        llm, None, problem.prompt, "rerank", args.free_batch, args.max_tokens, seed + 50 + b))
    free = finished_answers(free_runs)

    picks = {"smc_map": smc_map, "smc_vote": vote(smc_samples),
             "lcd_best_lm": lcd_best, "lcd_vote": vote([(a, 1.0) for _, a in lcd]),
             "lcd_one": lcd[0][1] if lcd else None,
             "free_vote": vote([(a, 1.0) for _, a in free]), "free_one": free[0][1] if free else None}
    ok = {k: v == problem.answer for k, v in picks.items()}
    ok["smc_any"] = any(a == problem.answer for a, _ in smc_samples)
    ok["lcd_any"] = any(a == problem.answer for _, a in lcd)
    ok["free_any"] = any(a == problem.answer for _, a in free)
    smc_texts = sorted(smc["samples"], key=lambda tp: -tp[1])
    return {"problem": asdict(problem), "picks": picks, "ok": ok,
            "smc_p_correct": sum(p for a, p in smc_samples if a == problem.answer),
            "smc_wall": budget, "smc_cpu": smc["cpu_s"], "smc_alive": sum(o["finished"] for o in smc["outputs"]),
            "smc_answers": sorted(((a, round(p, 4)) for a, p in _merge(smc_samples)), key=lambda ap: -ap[1])[:4],
            "smc_map_text": smc_texts[0][0] if smc_texts else None,
            "lcd_wall": lcd_wall + score_s, "lcd_cpu": sum(r["cpu_s"] for r in lcd_runs), "score_s": score_s,
            "lcd_batches": lcd_batches, "lcd_answers": [a for _, a in lcd],
            "lcd_best_text": max(zip(scored, lcd), key=lambda x: x[0][1])[1][0] if scored else None,
            "free_wall": free_wall, "free_cpu": sum(r["cpu_s"] for r in free_runs), "free_batches": free_batches,
            "free_answers": [a for _, a in free]}


def _merge(samples: list[tuple[int | None, float]]) -> list[tuple[int | None, float]]:
    total: dict = {}
    for a, p in samples:
        total[a] = total.get(a, 0.0) + p
    return list(total.items())


def ablation(llm: Any, constraint: CheckedArithmetic, source: dict, index: int, args: argparse.Namespace) -> dict:
    """The SMC run's AWRS proposal without resampling: N independent locally constrained samples (LCD's
    distribution, drawn by AWRS instead of masking), answered without and with their importance weights."""
    problem = Problem(**source["problem"])
    llm.clear_cache()
    t0 = time.perf_counter()
    result = generate(llm, problem.prompt, constraint, particles=args.particles, method="smc",
                      max_tokens=args.max_tokens, ess_threshold=0.0, rng=args.seed + 97 * index + 1)
    wall = time.perf_counter() - t0
    done = [(final_answer(p.trace.output), p.log_weight) for p in result.particles
            if p.trace.finished and not p.trace.truncated and p.log_weight > -math.inf]
    top = max((w for _, w in done), default=0.0)
    picks = {"awrs_one": done[0][0] if done else None, "awrs_vote": vote([(a, 1.0) for a, _ in done]),
             "awrs_weighted_vote": vote([(a, math.exp(w - top)) for a, w in done])}
    return {"problem": source["problem"], "picks": picks, "wall_s": wall,
            "ok": {**{k: v == problem.answer for k, v in picks.items()}, **source["ok"]},
            "answers": [(a, round(w - top, 3)) for a, w in done]}


# -- statistics and report --------------------------------------------------------------------------

PICKS = [("smc_map", "SMC+AWRS, MAP sample"), ("smc_vote", "SMC+AWRS, weighted vote"),
         ("lcd_best_lm", "LCD, best LM probability"), ("lcd_vote", "LCD, majority vote"),
         ("lcd_one", "LCD, a single sample"), ("free_vote", "unconstrained, majority vote"),
         ("free_one", "unconstrained, a single sample"), ("smc_any", "SMC: any particle correct (oracle)"),
         ("lcd_any", "LCD: any sample correct (oracle)"), ("free_any", "unconstrained: any sample correct (oracle)")]
PAIRS = [("smc_vote", "lcd_vote", "primary"), ("smc_map", "lcd_best_lm", "secondary"),
         ("smc_vote", "lcd_one", "secondary"), ("smc_vote", "free_vote", "secondary")]


def section(L: list[str], which: str, rows: list[dict], skipped: int, args: argparse.Namespace) -> None:
    n = len(rows)
    title = {"all": "the training distribution (`arithmetic_document`)",
             "hard": "the hard slice (3-event counting problems that end in equal sharing)"}[which]
    L.append(f"### Problems from {title}\n")
    L.append(f"{n} held-out problems ({skipped} drawn problems skipped because their text is in the training corpus or an earlier run); "
             f"mean gold solution length {sum(len(r['problem']['gold']) for r in rows) / max(n, 1):.0f} characters.\n")
    L.extend(accuracy_lines(rows, PICKS))
    wrong_smc = sum(1 - r.get("smc_p_correct", dict(r["smc_answers"]).get(r["problem"]["answer"], 0.0)) for r in rows)
    wrong_lcd = sum(a != r["problem"]["answer"] for r in rows for a in r["lcd_answers"])
    wrong_free = sum(a != r["problem"]["answer"] for r in rows for a in r["free_answers"])
    L.append(f"Wrong answers per sample: SMC posterior mass on wrong answers {100 * wrong_smc / max(n, 1):.2f}% "
             f"(mean over problems); LCD samples {wrong_lcd}/{sum(len(r['lcd_answers']) for r in rows)} wrong; "
             f"unconstrained samples {wrong_free}/{sum(len(r['free_answers']) for r in rows)} wrong.\n")
    L.append("Paired comparisons (exact McNemar test, two-sided; 'A only' = problems A answers right and B wrong):\n")
    L.append("| comparison | | A only | B only | p |")
    L.append("|---|---|---|---|---|")
    labels = dict(PICKS)
    for a, b, kind in PAIRS:
        m = mcnemar(rows, a, b)
        L.append(f"| {labels[a]} (A) vs {labels[b]} (B) | {kind} | {m['a_only']} | {m['b_only']} | {m['p']:.3g} |")
    L.append("")

    def mean(key: str) -> float:
        return sum(r[key] for r in rows) / max(n, 1)
    L.append("Mean per problem:\n")
    L.append("| method | wall s | CPU s | finished samples |")
    L.append("|---|---|---|---|")
    L.append(f"| SMC+AWRS, {args.particles} particles | {mean('smc_wall'):.3f} | {mean('smc_cpu'):.3f} | "
             f"{mean('smc_alive'):.1f} particles alive |")
    L.append(f"| LCD, batches of {args.lcd_batch} (scoring included: {mean('score_s'):.3f} s) | {mean('lcd_wall'):.3f} | "
             f"{mean('lcd_cpu'):.3f} | {sum(len(r['lcd_answers']) for r in rows) / max(n, 1):.1f} |")
    L.append(f"| unconstrained, batches of {args.free_batch} | {mean('free_wall'):.3f} | {mean('free_cpu'):.3f} | "
             f"{sum(len(r['free_answers']) for r in rows) / max(n, 1):.1f} |")
    L.append("")
    L.append("<details><summary>Per problem</summary>\n")
    L.append("| problem | answer | SMC answers (posterior) | LCD answers | unconstrained answers | SMC map/vote | LCD best/vote/one | SMC s | LCD s |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o = r["ok"]
        L.append(f"| {r['problem']['name']} | {r['problem']['answer']} | "
                 f"{', '.join(f'{a}: {p:.2f}' for a, p in r['smc_answers'])} | {_counts(r['lcd_answers'])} | "
                 f"{_counts(r['free_answers'])} | {int(o['smc_map'])}/{int(o['smc_vote'])} | "
                 f"{int(o['lcd_best_lm'])}/{int(o['lcd_vote'])}/{int(o['lcd_one'])} | {r['smc_wall']:.2f} | {r['lcd_wall']:.2f} |")
    L.append("\n</details>\n")


def _counts(answers: list) -> str:
    return ", ".join(f"{a}×{c}" for a, c in Counter(answers).most_common(4)) or "-"


def run_header(L: list[str], results: dict, args: argparse.Namespace) -> None:
    L += ["```\n" + results["command"] + "\n```\n",
          f"- started {results['started']}, total {results['total_s']:.0f} s wall, {results['total_cpu_s']:.0f} s CPU",
          f"- machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; load average at start "
          f"{results['load_start']}, at end {results['load_end']}; torch threads 1",
          f"- versions: {json.dumps(results['versions'])}",
          f"- code: commit {results['commit']}; files differing from it in lm/, inference/, ppl/ at run time "
          f"(other people's work in progress): {results['dirty'] or 'none'}",
          f"- model: lm.load(\"builtin\"); constraint `examples.checked_arithmetic.CheckedArithmetic`; "
          f"max_tokens {args.max_tokens}; SMC {args.particles} particles, AWRS proposal, ESS threshold 0.5, "
          f"systematic resampling; LCD batches of {args.lcd_batch}, unconstrained batches of {args.free_batch}; "
          f"seed {args.seed}; problem seed {args.problem_seed} (set `all`: +0, `hard`: +1)",
          f"- held out: the training corpus's first {results['training']['documents']:,} documents (seed 0) "
          f"regenerated, {results['training']['stream_tokens']:,} tokens as in lm/builtin/model/TRAINING.md; "
          f"{results['training']['problems']:,} distinct training problems excluded\n"]


def summary_line(name: str, which: str, rows: list[dict]) -> str:
    n = len(rows)
    acc = {k: sum(r["ok"][k] for r in rows) for k in ("smc_map", "smc_vote", "lcd_best_lm", "lcd_vote", "lcd_one",
                                                      "free_vote", "free_one")}
    m = mcnemar(rows, "smc_vote", "lcd_vote")
    return (f"- {name}, `{which}` ({n} problems): SMC+AWRS {acc['smc_map']}/{n} (MAP), {acc['smc_vote']}/{n} (vote); "
            f"LCD {acc['lcd_best_lm']}/{n} (best LM), {acc['lcd_vote']}/{n} (vote), {acc['lcd_one']}/{n} (one sample); "
            f"unconstrained {acc['free_vote']}/{n} (vote), {acc['free_one']}/{n} (one sample). "
            f"SMC vote vs LCD vote: {m['a_only']} to {m['b_only']} discordant, exact McNemar p = {m['p']:.3g}.")


def write_report(runs: list[dict], path: Path) -> None:
    """The report of one or more runs (the first is the main run; later ones are follow-ups on fresh problems)."""
    L: list[str] = ["# Arithmetic word problems: SMC+AWRS vs token masking at equal wall time\n",
                    "Issue 5, item 9; produced by `benchmarks/arithmetic_accuracy.py`. The protocol is in the "
                    "script's docstring; every number below is from the runs recorded here.\n",
                    "## Summary\n"]
    ablations = [r for r in runs if r.get("kind") == "ablation"]
    runs = [r for r in runs if r.get("kind") != "ablation"]
    names = ["run 1"] + [f"run {i + 2} (follow-up, fresh problems)" for i in range(len(runs) - 1)]
    for name, results in zip(names, runs):
        for which in results["args"]["sets"]:
            L.append(summary_line(name, which, results["rows"][which]))
    for results in ablations:
        for which, rows in results["rows"].items():
            L.append(ablation_summary(which, rows, results["args"]["particles"]))
    L += [""] + INTERPRETATION + [""]
    for results in ablations:
        ablation_section(L, results)
    for name, results in zip(names, runs):
        args = argparse.Namespace(**results["args"])
        L.append(f"## {name.capitalize()}\n")
        run_header(L, results, args)
        for which in args.sets:
            section(L, which, results["rows"][which], results["skipped"][which], args)
    path.write_text("\n".join(L) + "\n")


def ablation_summary(which: str, rows: list[dict], particles: int) -> str:
    n = len(rows)
    acc = {k: sum(r["ok"][k] for r in rows) for k in ("awrs_one", "awrs_vote", "awrs_weighted_vote")}
    m = mcnemar(rows, "smc_vote", "awrs_vote")
    return (f"- ablation on those `{which}` problems ({n}): {particles} AWRS samples without resampling, "
            f"unweighted vote {acc['awrs_vote']}/{n} (LCD's distribution), importance-weighted vote "
            f"{acc['awrs_weighted_vote']}/{n}, first sample {acc['awrs_one']}/{n}. SMC vote vs unweighted vote: "
            f"{m['a_only']} to {m['b_only']} discordant, p = {m['p']:.3g}.")


def ablation_section(L: list[str], results: dict) -> None:
    args = argparse.Namespace(**results["args"])
    L.append("## Ablation: the weights, or just more samples?\n")
    L.append("SMC+AWRS differs from LCD in two ways: AWRS draws a locally constrained token far more cheaply than "
             "masking the vocabulary (so SMC gets 16 samples where LCD gets 2), and SMC weights and resamples the "
             f"particles. Here, on the problems of `{results['of']}`, the same AWRS proposal runs with "
             f"{args.particles} particles and no resampling (`generate(..., method='smc', ess_threshold=0)`): its "
             "samples follow LCD's myopic distribution; answered by unweighted vote they show what the sample count "
             "alone buys, by importance-weighted vote (weights = products of AWRS's Z estimates) what the weights "
             "add. Not timed against the others, and possibly run at a later commit than the run it ablates "
             "(a later AWRS may differ in speed, not in the distribution it samples); mean wall per problem "
             f"{sum(r['wall_s'] for rows in results['rows'].values() for r in rows) / max(1, sum(len(rows) for rows in results['rows'].values())):.3f} s.\n")
    L.append("```\n" + results["command"] + "\n```\n")
    L.append(f"- started {results['started']}, commit {results['commit']}, load average at start {results['load_start']}\n")
    for which, rows in results["rows"].items():
        n = len(rows)
        L.append("| answer | correct |")
        L.append("|---|---|")
        for key, label in [("awrs_one", "AWRS, no resampling: first sample"), ("awrs_vote", "AWRS, no resampling: unweighted vote"),
                           ("awrs_weighted_vote", "AWRS, no resampling: importance-weighted vote"),
                           ("smc_vote", "SMC+AWRS, weighted vote (the run)"), ("lcd_vote", "LCD, majority vote (the run)")]:
            L.append(f"| {label} | {sum(r['ok'][key] for r in rows)}/{n} |")
        L.append("")
        L.append("| comparison | A only | B only | p |")
        L.append("|---|---|---|---|")
        for a, b in (("smc_vote", "awrs_vote"), ("awrs_weighted_vote", "awrs_vote"), ("awrs_vote", "lcd_vote")):
            m = mcnemar(rows, a, b)
            L.append(f"| {a} (A) vs {b} (B) | {m['a_only']} | {m['b_only']} | {m['p']:.3g} |")
        L.append("")


INTERPRETATION = [
    "What the runs say (the order of events matters: run 1 was the plan; run 2, 600 fresh `hard` problems with the "
    "same primary comparison and not pooled with run 1, was sized after run 1 came out 2 to 0; the ablation was "
    "added after run 2):\n",
    "- The constraint does the heavy lifting. Unconstrained samples are wrong mostly through arithmetic slips "
    "(e.g. '73 * 3 = 213'); `CheckedArithmetic` forbids those digit by digit, so every constrained method is "
    "near 100% on both sets, far above unconstrained voting.",
    "- What is left is a wrong *computation* (a mis-copied operand, a skipped event), which the constraint cannot "
    "see until a later equation has no value: on `hard` problems the final 'X / k =' has none when a wrong "
    "chain made X indivisible by k. Token masking learns that only at the '=' and then forces the model around "
    "it: LCD samples here end in 'Each friend gets 226 / 83 * 8 = 664', '92 / 7 != 14', '75 / 2 LIKE ...'. "
    "That is the myopia the theory describes, but the built-in model falls into it in under 1 locally "
    "constrained sample in 100.",
    "- At equal wall time SMC+AWRS beats our token masking on the primary comparison in run 2 (weighted vote vs "
    "majority vote, 6 to 0, p = 0.031), not in run 1 (2 to 0, p = 0.5) or on the training distribution (a tie "
    "at 100%). LCD's best-LM-probability pick ties SMC everywhere (100%).",
    "- The ablation says why SMC wins, and it is not the weights: 16 AWRS samples *without* resampling, i.e. "
    "LCD's own myopic distribution, answer 600/600 by plain unweighted vote, exactly like SMC. SMC wins because "
    "AWRS draws a locally constrained sample far more cheaply than masking the whole vocabulary (16 samples in "
    "half the time of LCD's 2), and voting over 16 myopic samples already outvotes the rare bad ones. The "
    "correction by weights that the theory predicts is real in kind but has nothing left to fix on this model "
    "and task; showing it would need a task where most of the myopic distribution's mass is on wrong answers.",
    "- Time: masking walks the 2,048-token vocabulary trie with a Python constraint (one `advance` per trie edge, "
    "about 3,800 per token), so one LCD batch of 2 samples takes about twice as long as SMC with 16 particles; "
    "LCD always gets its first batch, so at 'equal wall time' it actually had about twice SMC's time.",
]


# -- main ---------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--problems", type=int, default=150, help="problems per set")
    parser.add_argument("--particles", type=int, default=16)
    parser.add_argument("--lcd-batch", type=int, default=2)
    parser.add_argument("--free-batch", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--problem-seed", type=int, default=20261126)
    parser.add_argument("--training-cache", type=Path, default=Path("/tmp/arithmetic_bench/training_problems.json"))
    parser.add_argument("--fresh-from", type=Path, nargs="*", default=[],
                        help="--raw files of earlier runs whose problems are excluded too (a follow-up on fresh problems)")
    parser.add_argument("--ablation-of", type=Path, help="a --raw file: rerun its problems as the ablation (see the report)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--raw", type=Path, default=Path("/tmp/arithmetic_bench/arithmetic_accuracy.json"))
    parser.add_argument("--report-from", type=Path, nargs="+",
                        help="only rewrite --out from --raw files of earlier runs (main run first, then follow-ups)")
    args = parser.parse_args()
    if args.report_from:
        write_report([json.loads(path.read_text()) for path in args.report_from], args.out)
        print(f"wrote {args.out}")
        return
    torch.set_num_threads(1)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    results: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "versions": library_versions(), "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": " ".join(line[3:] for line in git("status", "--porcelain", "lm", "inference", "ppl").splitlines())}
    if args.ablation_of:
        source = json.loads(args.ablation_of.read_text())
        llm, constraint = lm.load("builtin"), CheckedArithmetic()
        results.update(kind="ablation", of=args.ablation_of.name, rows={})
        for which, rows in source["rows"].items():
            results["rows"][which] = []
            for i, row in enumerate(rows):
                results["rows"][which].append(ablation(llm, constraint, row, 10_000 * SETS.index(which) + i, args))
                print(f"[ablation {row['problem']['name']}] {results['rows'][which][-1]['picks']}", flush=True)
        results["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        args.raw.write_text(json.dumps(results, default=str))
        print(f"wrote {args.raw}")
        return
    training = training_problems(args.training_cache)
    seen = set(training["problems"])
    earlier = {r["problem"]["prompt"].split("\n")[0] for path in args.fresh_from
               for rows in json.loads(path.read_text())["rows"].values() for r in rows}
    results["training"] = {"documents": training["documents"], "stream_tokens": training["stream_tokens"],
                           "problems": len(seen)}
    llm = lm.load("builtin")
    constraint = CheckedArithmetic()
    results["rows"], results["skipped"] = {}, {}
    for which in args.sets:
        offset = SETS.index(which)
        problems, skipped = held_out_problems(which, args.problems, args.problem_seed + offset, seen | earlier)
        results["skipped"][which] = skipped
        rows = []
        for i, problem in enumerate(problems):
            row = solve(llm, constraint, problem, 10_000 * offset + i, args)
            rows.append(row)
            print(f"[{problem.name}] answer {problem.answer}: smc {row['smc_wall']:.2f} s {row['smc_answers'][:2]}, "
                  f"lcd {row['lcd_wall']:.2f} s {row['lcd_answers']}, free {row['free_answers'][:6]}", flush=True)
        results["rows"][which] = rows
    save_run(results, args, started_wall, started_cpu)
    write_report([results], args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
