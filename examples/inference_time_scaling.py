"""Inference-time scaling of arithmetic reasoning: particle filtering with a process reward model.

After Puri et al. 2025 ("A Probabilistic Inference Approach to Inference-Time Scaling of LLMs
using Particle-Based Monte Carlo Methods"). A solution is written one step at a time (a step is
a sentence or a line); after each step a process reward model (PRM) judges it, and that
judgment is *evidence*: the program observes `Bernoulli(prm_score) = 1`, so the posterior is

    p(solution | every step judged right)  ∝  p_LM(solution) · Π_t prm(step_t | steps before it).

The same `StepwiseSolution` program is run by five methods at an equal number of rollouts N
(every method but greedy writes N solutions' worth of steps):

* particle filtering: `inference.smc`, resampling after every step (a step = one SMC step);
  the answer is the one with the most posterior mass;
* best-of-N: N independent samples (`inference.smc` with resampling off, i.e. importance
  sampling with the LM as proposal), the sample with the highest PRM score;
* weighted best-of-N: the same N samples, the answer with the most total PRM score;
* beam search over steps: keep the N/4 best partial solutions by PRM score, extend each 4 ways;
* greedy decoding (one rollout, whatever N).

The PRM here is a checker, not a trained model: every equation `A op B = C` in a step must be
right (as in examples/checked_arithmetic.py); the problem's quantities must be taken in the
order the problem gives them (a number that is neither the next quantity, nor one used already,
nor an earlier result is an invented or a skipped event); the final 'Answer: N' must be the last
result and come only after every quantity has been used. A failed check multiplies the step's
score by `penalty`. It sees slips, skipped and invented events and stopping early; it cannot see
a wrong choice of operation.

Problems: counting stories with 4 events (`counting_problem(rng, events=4)`). The built-in
model was trained on stories of 1 to 3 events, so none of these is in its corpus; left alone it
tends to stop after 3 events, which is what inference-time compute can fix.

Run: python examples/inference_time_scaling.py --model builtin --problems 100
     python examples/inference_time_scaling.py --model smollm2 --problems 40 --events 2
     (add --results FILE.md to write the table and a plot beside it; see benchmarks/results/inference_time_scaling.md)
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import inference
import lm
import ppl
from inference.smc_engine.engine import run_smc
from inference.smc_engine.model_population import ModelPopulation
from ppl import dist

try:
    from examples.checked_arithmetic import equation_value
except ModuleNotFoundError:  # run as a script, beside its sibling
    from checked_arithmetic import equation_value
from lm.training.arithmetic_documents import counting_problem

BUDGETS = (1, 2, 4, 8, 16, 32)
METHODS = ("particle filtering", "weighted best-of-N", "best-of-N", "beam search", "greedy")
EQUATION = re.compile(r"(?<![0-9])([0-9]+) ([-+*/]) ([0-9]+) = ([0-9]+)")
NUMBER = re.compile(r"(?<![0-9])[0-9]+(?![0-9])")
ANSWER = re.compile(r"Answer: ([0-9]+)")
IMPLIED = {"doubles": 2, "twice": 2, "half": 2, "triples": 3}   # numbers a problem states in words


@dataclass(frozen=True)
class Problem:
    """A word problem, its gold step-by-step solution and its answer."""

    text: str
    solution: str
    answer: int


def held_out_problems(count: int, events: int = 4, seed: int = 20261201) -> list[Problem]:
    """`count` distinct counting problems of exactly `events` events (the corpus has 1 to 3: held out if events > 3)."""
    rng = random.Random(seed)
    problems: dict[str, Problem] = {}
    while len(problems) < count:
        text, solution, answer = counting_problem(rng, events)
        problems.setdefault(text, Problem(text, solution, answer))
    return list(problems.values())


# -- prompts -------------------------------------------------------------------------------------

def builtin_prompt(problem: Problem) -> str:
    """The built-in model's training format: the solution is one line of sentences, then '\\nAnswer: N'."""
    return f"Problem: {problem.text}\nSolution:"


def worked_examples(shots: int = 2, events: int = 1, seed: int = 7) -> str:
    """Worked examples for a general model, one step per line (problems of the same shape, another seed)."""
    rng = random.Random(seed)
    parts = []
    for _ in range(shots):
        text, solution, answer = counting_problem(rng, events)
        lines = "\n".join(s.strip(" .") + "." for s in solution.split(". ") if s.strip(" ."))
        parts.append(f"Problem: {text}\nSolution:\n{lines}\nAnswer: {answer}")
    return "\n\n".join(parts)


def chat_prompt(llm: Any, problem: Problem, events: int = 1) -> str:
    """For an instruct model: the instruction, worked examples and the problem as one user turn, in its chat template."""
    request = ("Solve the problem step by step, one step per line, then write 'Answer: ' and the number. Examples:\n\n"
               f"{worked_examples(events=events)}\n\nProblem: {problem.text}")
    return llm.chat([{"role": "user", "content": request}]) + "Solution:\n"


# -- the process reward model: a checker ---------------------------------------------------------------

QUANTITY = re.compile(r"(?<![0-9])[0-9]+(?![0-9])|" + "|".join(IMPLIED))


def problem_numbers(problem_text: str) -> list[int]:
    """The quantities a problem gives, in the order it gives them (in digits, or in words: IMPLIED)."""
    return [int(q) if q.isdigit() else IMPLIED[q] for q in QUANTITY.findall(problem_text)]


def checker_prm(problem_text: str, before: str, step: str, penalty: float = 1e-3) -> float:
    """The score in (0, 1] of `step` given the solution `before` it: `penalty` per failed check.

    Checks: every equation `A op B = C` has the right value C; every other number is the problem's
    next unused quantity, or one used already, or an earlier result (a number from nowhere, or a
    quantity taken out of turn, is a failure: it means an invented or a skipped event); an
    'Answer: N' step names the last result and comes after every quantity was used.
    """
    given = problem_numbers(problem_text)
    used = [False] * len(given)
    results: list[int] = []

    def read(text: str) -> int:
        failures = 0
        for a, op, b, c in EQUATION.findall(text):
            failures += equation_value(int(a), ord(op), int(b)) != int(c)
        for m in NUMBER.finditer(ANSWER.sub("", text)):
            x = int(m.group())
            if text[max(0, m.start() - 2):m.start()] == "= ":
                results.append(x)
                continue
            pending = [i for i, u in enumerate(used) if not u]
            if pending and given[pending[0]] == x:
                used[pending[0]] = True
            elif x in results or any(u and g == x for g, u in zip(given, used)):
                continue
            else:
                failures += 1                             # invented, or a later quantity before an earlier one
                later = [i for i in pending if given[i] == x]
                if later:
                    used[later[0]] = True
        return failures

    read(before)
    failures = read(step)
    answer = ANSWER.search(step)
    if answer:
        failures += not results or int(answer.group(1)) != results[-1]
        failures += not all(used)
    return penalty ** failures


def solution_answer(text: str) -> int | None:
    """N from the first 'Answer: N' of a solution, else None."""
    m = ANSWER.search(text)
    return int(m.group(1)) if m else None


# -- the probabilistic program -------------------------------------------------------------------

class StepwiseSolution(ppl.Model):
    """A solution as a sequence of steps (sentences or lines) from the LM, each judged by a PRM as evidence.

    One `step()` writes one step token by token (at addresses ("token", i)), then observes that the
    PRM judges it right: `Bernoulli(prm(step)) = 1`. The particle finishes at the answer step, at
    the end of text, or after `max_steps` steps. `greedy=True` takes the most probable token instead
    of sampling (a deterministic program: the greedy baseline).
    """

    def __init__(self, llm: Any, prompt: str, problem_text: str, prm: Callable[[str, str, str], float] = checker_prm,
                 max_steps: int = 12, max_step_tokens: int = 48, temperature: float = 1.0, greedy: bool = False):
        super().__init__()
        self.context = llm.context(prompt)
        self.problem_text = problem_text
        self.prm = prm
        self.max_steps, self.max_step_tokens = max_steps, max_step_tokens
        self.temperature, self.greedy = temperature, greedy
        self.steps: tuple[str, ...] = ()

    async def step(self) -> None:
        text, ended = "", False
        for i in range(self.max_step_tokens):
            token = await self._next_token(i)
            if token.is_eos:
                ended = True
                break
            text += token.text
            if _step_ends(text, token.text):
                break
        score = self.prm(self.problem_text, "".join(self.steps), text)
        await self.observe(dist.Bernoulli(score), 1, "judged_right")
        self.steps += (text,)
        if ended or ANSWER.search(text) or len(self.steps) >= self.max_steps:
            self.finish()

    async def _next_token(self, i: int) -> Any:
        if self.greedy:
            logprobs = await self.context.next_token_logprobs()
            token = self.context.llm.vocabulary.tokens[int(np.argmax(logprobs))]
            self.context.extend(token)
            return token
        return await self.sample(self.context.next_token(self.temperature), ("token", i))

    @property
    def solution(self) -> str:
        return "".join(self.steps)


def _step_ends(text: str, piece: str) -> bool:
    """A step ends with a sentence ('.') or a line (a newline after some content)."""
    return bool(text.strip()) and (piece.rstrip(" ").endswith(".") or "\n" in piece)


# -- the five methods ----------------------------------------------------------------------------

@dataclass
class TopBeams:
    """Beam search as a selection rule of the SMC engine: keep the `beams` best partial solutions, extend each `width` ways."""

    beams: int
    width: int

    def before_step(self, population: Any, rng: Any, log_weights: np.ndarray, finished: np.ndarray) -> None:
        ancestors = np.concatenate([[i] if done else [i] * self.width for i, done in enumerate(finished)])
        population.reindex(ancestors.astype(np.int64), log_weights[ancestors])

    def after_step(self, population: Any, rng: Any, log_weights: np.ndarray, last: bool) -> bool:
        jitter = rng.numpy().random(len(log_weights))               # ties (equal PRM scores) broken at random
        order = np.lexsort((jitter, -log_weights))[:self.beams]
        population.reindex(np.sort(order).astype(np.int64), log_weights[np.sort(order)])
        return True


def beam_search(model: StepwiseSolution, rollouts: int, rng: Any, width: int = 4) -> inference.Result:
    """N = `rollouts` partial solutions per step: the N/width best by PRM score, each extended `width` ways."""
    width = min(width, rollouts)
    beams = max(1, rollouts // width)
    return run_smc(ModelPopulation(model, beams), ppl.rng(rng), TopBeams(beams, width), max_steps=model.max_steps + 1,
                   name="beam search")


def answer_posterior(result: inference.Result) -> dict[int | None, float]:
    """Posterior probability of each answer (normalized weights summed by answer)."""
    out: dict[int | None, float] = {}
    for particle, w in zip(result.particles, result.weights):
        out[solution_answer(particle.trace.solution)] = out.get(solution_answer(particle.trace.solution), 0.0) + w
    return out


def top_answer(scores: dict[int | None, float]) -> int | None:
    """The non-None answer with the largest score (None if there is none with positive score)."""
    ranked = [(s, a) for a, s in scores.items() if a is not None and s > 0]
    return max(ranked, key=lambda sa: sa[0])[1] if ranked else None


def solve(llm: Any, problem: Problem, prompt: str, budgets: Sequence[int], seed: int, **model_options: Any) -> dict:
    """The answers of every method at every budget, for one problem."""
    model = StepwiseSolution(llm, prompt, problem.text, **model_options)
    steps = model.max_steps + 1
    answers: dict[str, dict[int, int | None]] = {m: {} for m in METHODS}
    greedy = inference.smc(StepwiseSolution(llm, prompt, problem.text, greedy=True,
                                            **{k: v for k, v in model_options.items() if k != "temperature"}),
                           particles=1, rng=seed, max_steps=steps)
    # N independent samples, drawn once at the largest budget: best-of-n uses the first n of them.
    independent = inference.smc(model, particles=max(budgets), ess_threshold=0.0, rng=seed + 1, max_steps=steps)
    for n in budgets:
        answers["greedy"][n] = solution_answer(greedy.particles[0].trace.solution)
        first = independent.particles[:n]
        scores = [p.log_weight for p in first]
        answers["best-of-N"][n] = solution_answer(first[int(np.argmax(scores))].trace.solution)
        votes: dict[int | None, float] = {}
        for p in first:
            a = solution_answer(p.trace.solution)
            votes[a] = votes.get(a, 0.0) + math.exp(p.log_weight)
        answers["weighted best-of-N"][n] = top_answer(votes)
        filtered = inference.smc(model, particles=n, ess_threshold=1.0, rng=seed + 2 + n, max_steps=steps)
        answers["particle filtering"][n] = top_answer(answer_posterior(filtered))
        beams = beam_search(model, n, seed + 3 + n)
        best = max(beams.particles, key=lambda p: p.log_weight)
        answers["beam search"][n] = solution_answer(best.trace.solution)
    return {"problem": asdict(problem), "answers": answers,
            "correct": {m: {n: a == problem.answer for n, a in by_n.items()} for m, by_n in answers.items()},
            "greedy_solution": greedy.particles[0].trace.solution}


# -- the experiment ------------------------------------------------------------------------------

def accuracy_table(rows: list[dict], budgets: Sequence[int]) -> dict[str, list[float]]:
    """Accuracy of each method at each budget over the rows."""
    return {m: [sum(r["correct"][m][n] for r in rows) / len(rows) for n in budgets] for m in METHODS}


def markdown_table(table: dict[str, list[float]], budgets: Sequence[int], count: int) -> str:
    lines = ["| method | " + " | ".join(f"N = {n}" for n in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for m in METHODS:
        lines.append(f"| {m} | " + " | ".join(f"{100 * a:.1f}%" for a in table[m]) + " |")
    return "\n".join(lines) + f"\n\n({count} problems; accuracy = share of problems whose chosen answer is right.)"


def plot(tables: dict[str, tuple[Sequence[int], dict[str, list[float]]]], path: Path) -> None:
    """Accuracy against rollouts, one panel per run: name -> (budgets, table) (matplotlib, written to `path`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4), squeeze=False)
    for ax, (name, (budgets, table)) in zip(axes[0], tables.items()):
        for m in METHODS:
            ax.plot(budgets, [100 * a for a in table[m]], marker="o", linestyle="--" if m == "greedy" else "-", label=m)
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [str(n) for n in budgets])
        ax.set_xlabel("rollouts N")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def discordant(rows: list[dict], a: str, b: str, n: int) -> tuple[int, int, float]:
    """Problems only method a gets right, only b gets right at budget n, and the exact two-sided McNemar p."""
    key = str(n) if rows and str(n) in rows[0]["correct"][a] else n
    only_a = sum(r["correct"][a][key] and not r["correct"][b][key] for r in rows)
    only_b = sum(r["correct"][b][key] and not r["correct"][a][key] for r in rows)
    k, m = min(only_a, only_b), only_a + only_b
    p = min(1.0, 2 * sum(math.comb(m, i) for i in range(k + 1)) / 2 ** m) if m else 1.0
    return only_a, only_b, p


def write_report(raws: Sequence[Path], results: Path, command: str) -> None:
    """The accuracy tables of finished runs (their --raw files) as markdown, with a plot beside it."""
    runs = [json.loads(Path(r).read_text()) for r in raws]
    lines = ["# Inference-time scaling: particle filtering with a process reward model", "",
             "Produced by `examples/inference_time_scaling.py` (method and PRM in its docstring):", "", "```",
             command, "```", ""]
    tables = {}
    for run in runs:
        budgets, rows = run["budgets"], run["rows"]
        table = accuracy_table([{**r, "correct": {m: {int(n): ok for n, ok in c.items()} for m, c in r["correct"].items()}}
                                for r in rows], budgets)
        name = f"{run['model']}, {run['events']}-event problems"
        tables[name] = (budgets, table)
        lines += [f"## {name}", "",
                  f"temperature {run.get('temperature')}, seed {run.get('seed')}, {len(rows)} problems, " +
                  (f"{run['seconds']:.0f} s wall" if "seconds" in run else "an unfinished run") +
                  " on a shared 2-core CPU, torch 1 thread.", "",
                  markdown_table(table, budgets, len(rows)), "",
                  "Paired comparisons at the largest budget (problems only A answers right / only B; exact McNemar p):", ""]
        for a, b in (("particle filtering", "best-of-N"), ("particle filtering", "weighted best-of-N"),
                     ("particle filtering", "beam search"), ("particle filtering", "greedy")):
            only_a, only_b, p = discordant(rows, a, b, budgets[-1])
            lines.append(f"- {a} vs {b}: {only_a} / {only_b}, p = {p:.3g}")
        lines.append("")
    png = results.with_suffix(".png")
    plot(tables, png)
    lines += [f"![accuracy against rollouts]({png.name})", ""]
    results.write_text("\n".join(lines))


def main(model: str = "builtin", problems: int = 100, events: int | None = None, budgets: Sequence[int] = BUDGETS,
         seed: int = 0, temperature: float = 1.0, max_steps: int = 12, raw: Path | None = None,
         progress: bool = True) -> dict:
    """Run every method at every budget on held-out problems; print and return the accuracy table."""
    events = events if events is not None else (4 if model == "builtin" else 2)
    llm = lm.load(model)
    prompt_of = builtin_prompt if model == "builtin" else (lambda problem: chat_prompt(llm, problem, events))
    rows = []
    start = time.perf_counter()
    for i, problem in enumerate(held_out_problems(problems, events)):
        rows.append(solve(llm, problem, prompt_of(problem), budgets, seed + 1000 * i,
                          temperature=temperature, max_steps=max_steps))
        if raw is not None:
            raw.write_text(json.dumps({"model": model, "events": events, "budgets": list(budgets), "seed": seed,
                                       "temperature": temperature, "rows": rows}))
        if progress:
            done = accuracy_table(rows, budgets)
            print(f"[{i + 1}/{problems} {time.perf_counter() - start:.0f}s] at N={budgets[-1]}: "
                  + ", ".join(f"{m} {100 * done[m][-1]:.0f}%" for m in METHODS), file=sys.stderr)
    table = accuracy_table(rows, budgets)
    print(markdown_table(table, budgets, len(rows)))
    out = {"model": model, "events": events, "budgets": list(budgets), "seed": seed, "temperature": temperature,
           "table": table, "rows": rows, "seconds": time.perf_counter() - start}
    if raw is not None:
        raw.write_text(json.dumps(out))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="builtin", help="builtin, smollm2, or a model directory")
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--events", type=int, default=None, help="events per problem (default 4 on builtin, else 2)")
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--raw", type=Path, default=None, help="write every problem's answers as JSON here")
    parser.add_argument("--report-from", type=Path, nargs="+", default=None,
                        help="no run: write the tables of these --raw files to --results (and a .png beside it)")
    parser.add_argument("--results", type=Path, default=Path("inference_time_scaling.md"))
    args = parser.parse_args()
    if args.report_from:
        write_report(args.report_from, args.results, "python " + " ".join(sys.argv))
    else:
        main(args.model, args.problems, args.events, args.budgets, args.seed, args.temperature, args.max_steps,
             raw=args.raw)
