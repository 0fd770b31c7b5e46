"""MCMC-EM over latent rationales (TRICE, Phan et al. 2023) on the built-in model.

A word problem x has an answer y, and between them a latent rationale z (the worked solution).
The model defines p_θ(z, y | x) = p_θ(z | x) p_θ(y | x, z), and we fit θ to maximize the
marginal log p_θ(y | x) = log Σ_z p_θ(z | x) p_θ(y | x, z) over training pairs (x, y), with no
rationales given. TRICE does this by MCMC-EM:

* E step: every training problem keeps one rationale in memory, the state of a Markov chain
  whose target is the posterior p_θ(z | x, y). Each iteration proposes z' ~ p_θ(z | x) (the model
  writes a solution) and accepts it with the independence-MH probability
      min(1, p_θ(z' | x) p_θ(y | x, z') q(z) / (p_θ(z | x) p_θ(y | x, z) q(z'))) = min(1, p_θ(y | x, z') / p_θ(y | x, z)),
  since the proposal q is the prior p_θ(z | x): the answer is the evidence, scored as the
  probability that the model writes '\\nAnswer: y' after the rationale.
* M step: one gradient step (a torch optimizer) on Σ log p_θ(z, y | x) at the chains' states,
  updating only the last transformer block (LoRA-free fine-tuning of the last layer).

Problems: counting stories with 4 events; the built-in model was trained on 1 to 3 events and
tends to skip or drop the fourth. Held-out accuracy (greedy decoding, problems from another
seed) is measured as training goes.

Run: python examples/trice_rationales.py                      (about 60 iterations; a few minutes)
     python examples/trice_rationales.py --iterations 10 --train 8 --heldout 20
"""
from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import lm
import ppl

from lm.training.arithmetic_documents import counting_problem


@dataclass(frozen=True)
class Problem:
    text: str
    answer: int

    @property
    def prompt(self) -> str:
        return f"Problem: {self.text}\nSolution:"


@dataclass
class ChainState:
    """One training problem's memory: the current rationale's token ids and log p(y | x, z)."""

    rationale: tuple[int, ...]
    log_evidence: float
    accepted: int = 0
    proposed: int = 0


def problems(count: int, seed: int, events: int = 4) -> list[Problem]:
    rng = random.Random(seed)
    out: dict[str, Problem] = {}
    while len(out) < count:
        text, _, answer = counting_problem(rng, events)
        out.setdefault(text, Problem(text, answer))
    return list(out.values())


class Rationale(ppl.Model):
    """The model's worked solution: tokens up to the end of the solution line (the newline, or EOS).

    With `whole=True` it goes on to the end of text (the answer line included); with `greedy=True`
    it takes the most probable token instead of sampling (the evaluation's greedy decoding).
    """

    def __init__(self, llm: Any, prompt: str, max_tokens: int = 120, whole: bool = False, greedy: bool = False):
        super().__init__()
        self.context = llm.context(prompt)
        self.max_tokens, self.whole, self.greedy = max_tokens, whole, greedy
        self.tokens: tuple[int, ...] = ()

    async def step(self) -> None:
        if self.greedy:
            logprobs = await self.context.next_token_logprobs()
            token = self.context.llm.vocabulary.tokens[int(np.argmax(logprobs))]
            self.context.extend(token)
        else:
            token = await self.sample(self.context.next_token(), "token")
        if token.is_eos or (b"\n" in token.bytes and not self.whole):
            self.finish()
            return
        self.tokens += (token.id,)
        if len(self.tokens) >= self.max_tokens:
            self.finish()


def run_all(models: list[Rationale], rng: Any) -> list[Rationale]:
    """Step every model until all finish, all of their LM requests of a step in one batched forward pass."""
    while not all(m.finished for m in models):
        ppl.run_batched([m.run_step(rng) for m in models if not m.finished])
    return models


def answer_ids(llm: Any, answer: int) -> list[int]:
    """The tokens of '\\nAnswer: y' and the end of text: what the evidence scores after a rationale."""
    return llm.tokenize(f"\nAnswer: {answer}") + [llm.eos.id]


def log_evidence(llm: Any, problem: Problem, rationale: tuple[int, ...]) -> float:
    """log p(y | x, z): the model's probability of writing the answer line after prompt + rationale."""
    context = llm.context(llm.prompt_ids(problem.prompt) + list(rationale))
    total = 0.0
    for token_id in answer_ids(llm, problem.answer):
        total += float(context.logprobs()[token_id])
        context.extend(token_id)
    return total


def acceptance_probability(current_log_evidence: float, proposed_log_evidence: float) -> float:
    """Independence MH with the prior as proposal: min(1, p(y | x, z') / p(y | x, z))."""
    if proposed_log_evidence == -math.inf:
        return 0.0
    if current_log_evidence == -math.inf:
        return 1.0
    return math.exp(min(0.0, proposed_log_evidence - current_log_evidence))


def propose(llm: Any, chosen: list[Problem], count: int, rng: Any) -> list[list[tuple[int, ...]]]:
    """`count` independent rationales from the current model p_θ(z | x) for each chosen problem (batched)."""
    models = run_all([Rationale(llm, p.prompt) for p in chosen for _ in range(count)], rng)
    return [[m.tokens for m in models[i * count:(i + 1) * count]] for i in range(len(chosen))]


def mh_step(llm: Any, problem: Problem, state: ChainState, proposal: tuple[int, ...], rng: Any) -> ChainState:
    """One independence-MH move of a problem's chain towards p_θ(z | x, y)."""
    proposed = log_evidence(llm, problem, proposal)
    state.proposed += 1
    if rng.uniform() < acceptance_probability(state.log_evidence, proposed):
        state.rationale, state.log_evidence = proposal, proposed
        state.accepted += 1
    return state


def last_layer(llm: Any) -> list[torch.nn.Parameter]:
    """The parameters of the last transformer block (the only ones trained)."""
    return list(llm.model.transformer.h[-1].parameters())


def joint_log_prob(llm: Any, problem: Problem, rationale: tuple[int, ...]) -> torch.Tensor:
    """log p_θ(z, y | x) as a differentiable tensor: the rationale's and the answer line's tokens given the prompt."""
    prompt = llm.prompt_ids(problem.prompt)
    target = list(rationale) + answer_ids(llm, problem.answer)
    ids = torch.tensor([prompt + target], device=llm.device)
    logits = llm.model(ids).logits[0, len(prompt) - 1:-1].double()
    return torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(target, device=llm.device)[:, None]).sum()


def gradient_step(llm: Any, optimizer: torch.optim.Optimizer, batch: list[tuple[Problem, ChainState]]) -> float:
    """One M step: ascend the mean of log p_θ(z, y | x) over the batch's chain states; returns that mean."""
    optimizer.zero_grad()
    with torch.enable_grad():
        objective = sum(joint_log_prob(llm, p, s.rationale) for p, s in batch) / len(batch)
        (-objective).backward()
    optimizer.step()
    llm.clear_cache()                      # cached keys, values and distributions came from the old weights
    return float(objective.detach())


def accuracy(llm: Any, held_out: list[Problem]) -> float:
    """Share of held-out problems whose greedy solution ends in the right 'Answer: y'."""
    models = run_all([Rationale(llm, p.prompt, whole=True, greedy=True) for p in held_out], ppl.rng(0))
    answers = [m.context.generated_text.rpartition("Answer: ")[2].strip() for m in models]
    return sum(a == str(p.answer) for a, p in zip(answers, held_out)) / len(held_out)


def main(iterations: int = 60, train: int = 64, heldout: int = 60, batch: int = 8, proposals: int = 2, initial: int = 4,
         learning_rate: float = 3e-4, evaluate_every: int = 10, seed: int = 0, events: int = 4, llm: Any = None) -> dict:
    """Run TRICE; print and return the held-out accuracy curve and the chains' acceptance rate."""
    torch.manual_seed(seed)
    llm = llm if llm is not None else lm.load("builtin")
    training, held_out = problems(train, 1000 + seed, events), problems(heldout, 2000 + seed, events)
    rng = ppl.rng(seed)
    params = last_layer(llm)
    for p in llm.model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    start = time.perf_counter()
    # Initialize every chain with a draw from the model, then `initial` MH moves.
    chains = [ChainState(z[0], log_evidence(llm, p, z[0])) for p, z in zip(training, propose(llm, training, 1, rng))]
    for p, state, zs in zip(training, chains, propose(llm, training, initial, rng)):
        for z in zs:
            mh_step(llm, p, state, z, rng)
    curve = [(0, accuracy(llm, held_out))]
    objectives = []
    print(f"iteration 0: held-out accuracy {curve[-1][1]:.3f}")
    order = list(range(len(training)))
    for it in range(1, iterations + 1):
        random.Random(seed * 7919 + it).shuffle(order)
        chosen = order[:batch]
        for i, zs in zip(chosen, propose(llm, [training[i] for i in chosen], proposals, rng)):
            for z in zs:
                mh_step(llm, training[i], chains[i], z, rng)
        # Chains still at a rationale that does not lead to the answer (p(y | x, z) < 1/2) have not reached the
        # posterior yet: the M step uses the others.
        ready = [(training[i], chains[i]) for i in chosen if chains[i].log_evidence > math.log(0.5)]
        if ready:
            objectives.append(gradient_step(llm, optimizer, ready))
        if it % evaluate_every == 0 or it == iterations:
            curve.append((it, accuracy(llm, held_out)))
            right = sum(math.exp(c.log_evidence) > 0.5 for c in chains) / len(chains)
            print(f"iteration {it}: held-out accuracy {curve[-1][1]:.3f}, mean log p(z, y | x) "
                  f"{objectives[-1] if objectives else math.nan:.2f}, "
                  f"chains whose answer line is likely (p > 0.5) {right:.2f}  [{time.perf_counter() - start:.0f} s]")
    accepted = sum(c.accepted for c in chains)
    proposed = sum(c.proposed for c in chains)
    print(f"MH acceptance rate {accepted / max(proposed, 1):.3f} ({accepted}/{proposed})")
    return {"curve": curve, "objectives": objectives, "chains": chains, "training": training,
            "acceptance_rate": accepted / max(proposed, 1), "llm": llm}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--train", type=int, default=64, help="training problems (answers only)")
    parser.add_argument("--heldout", type=int, default=60)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--proposals", type=int, default=2, help="MH proposals per chosen problem per iteration")
    parser.add_argument("--initial", type=int, default=4, help="MH proposals per problem before training")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--evaluate-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.iterations, args.train, args.heldout, args.batch, args.proposals, args.initial, args.learning_rate,
         args.evaluate_every, args.seed)
