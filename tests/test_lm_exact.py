"""Exact semantics of LM programs on the tiny-vocabulary model, against brute-force products of conditionals."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import special

import lm
import ppl
import semantics

FLOAT32 = 1e-5  # the model computes in float32; log-probs of a few tokens agree to ~1e-7 per token


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


@pytest.fixture(scope="module")
def conditional(tiny):
    """log p(next | ids) from a fresh full forward pass (memoized)."""
    memo = {}

    def logprobs(ids) -> np.ndarray:
        key = tuple(ids)
        if key not in memo:
            with torch.inference_mode():
                logits = tiny.model(input_ids=torch.tensor([list(key)])).logits[0, -1]
            memo[key] = torch.log_softmax(logits.double(), -1).numpy()
        return memo[key]

    return logprobs


def brute_force(conditional, prompt: list[int], length: int) -> dict[tuple, float]:
    """log p of every token sequence of `length` after `prompt`."""
    out = {}
    for seq in itertools.product(range(8), repeat=length):
        ids, total = list(prompt), 0.0
        for t in seq:
            total += conditional(ids)[t]
            ids.append(t)
        out[seq] = total
    return out


def test_enumerating_three_tokens_matches_the_product_of_conditionals(tiny, conditional):
    @ppl.gen
    def three():
        ctx = tiny.context("ab")
        return tuple(ppl.sample(ctx.next_token(), f"t{i}").id for i in range(3))

    exact = semantics.enumerate(three)
    truth = brute_force(conditional, tiny.tokenize("ab"), 3)
    assert len(exact.executions) == 8 ** 3
    assert exact.log_z == pytest.approx(0.0, abs=1e-9)
    for e in exact.executions:
        assert e.log_weight == pytest.approx(truth[e.retval], abs=3 * FLOAT32)


def test_conditioned_program_posterior_is_the_normalized_restriction(tiny, conditional):
    @ppl.gen
    def contains_b():
        ctx = tiny.context("a")
        toks = [ppl.sample(ctx.next_token(), f"t{i}") for i in range(2)]
        ppl.condition(b"b" in b"".join(t.bytes for t in toks))
        return tuple(t.id for t in toks)

    exact = semantics.enumerate(contains_b)
    truth = {s: lp for s, lp in brute_force(conditional, tiny.tokenize("a"), 2).items()
             if b"b" in b"".join(tiny.vocabulary.tokens[i].bytes for i in s)}
    assert exact.log_z == pytest.approx(special.logsumexp(list(truth.values())), abs=2 * FLOAT32)
    posterior = exact.retval.probabilities()
    z = special.logsumexp(list(truth.values()))
    for seq, lp in truth.items():
        assert posterior[seq] == pytest.approx(math.exp(lp - z), abs=1e-5)


def test_mask_dist_observed_true_restricts_the_next_token(tiny, conditional):
    allowed = [1, b"ab"]                      # an id and a byte string (token 4)

    @ppl.gen
    def masked():
        ctx = tiny.context("b")
        ppl.observe(ctx.mask_dist(allowed), True, "in_set")
        return ppl.sample(ctx.next_token(), "tok").id

    exact = semantics.enumerate(masked)
    p = np.exp(conditional(tiny.tokenize("b")))
    assert exact.log_z == pytest.approx(math.log(p[1] + p[4]), abs=FLOAT32)
    assert exact.retval.probabilities() == pytest.approx({1: p[1] / (p[1] + p[4]), 4: p[4] / (p[1] + p[4])}, abs=1e-6)


def test_mask_dist_sampled_splits_the_distribution_exactly(tiny, conditional):
    @ppl.gen
    def split():
        ctx = tiny.context("b")
        inside = ppl.sample(ctx.mask_dist([0, 3]), "inside")
        return inside, ppl.sample(ctx.next_token(), "tok").id

    exact = semantics.enumerate(split)
    p = np.exp(conditional(tiny.tokenize("b")))
    joint = exact.retval.probabilities()
    assert set(joint) == {(t in (0, 3), t) for t in range(8)}   # the mask and the token always agree
    for t in range(8):
        assert joint[(t in (0, 3), t)] == pytest.approx(p[t], abs=1e-6)  # and the token's law is the model's


def test_top_k_proposal_with_weight_correction_targets_the_restricted_model(tiny, conditional):
    @ppl.gen
    def proposed():
        ctx = tiny.context("a b")
        d = ctx.next_token(proposal_top_k=3)
        tok = ppl.sample(d, "tok")
        ppl.factor(d.log_weight)
        return tok.id

    exact = semantics.enumerate(proposed)
    lp = conditional(tiny.tokenize("a b"))
    top = np.argsort(-lp)[:3]
    assert sorted(exact.retval.probabilities()) == sorted(top.tolist())
    assert exact.log_z == pytest.approx(special.logsumexp(lp[top]), abs=FLOAT32)
    for t in top:
        assert exact.retval.probabilities()[int(t)] == pytest.approx(math.exp(lp[t] - special.logsumexp(lp[top])), abs=1e-6)


class TwoTokens(ppl.Model):
    def __init__(self, llm):
        super().__init__()
        self.ctx = llm.context("ab ")

    async def step(self):
        tok = await self.sample(self.ctx.next_token(temperature=2.0), "tok")
        self.condition(not tok.is_eos)
        if len(self.ctx.generated) == 2:
            self.finish()


def test_async_model_enumerates_exactly_with_temperature(tiny, conditional):
    exact = semantics.enumerate(TwoTokens(tiny))
    prompt = tiny.tokenize("ab ")

    def tempered(ids):
        return special.log_softmax(conditional(ids) / 2.0)

    truth = {}
    for a, b in itertools.product(range(1, 8), repeat=2):
        truth[(a, b)] = tempered(prompt)[a] + tempered(prompt + [a])[b]
    assert exact.log_z == pytest.approx(special.logsumexp(list(truth.values())), abs=2 * FLOAT32)
    got = exact.posterior().probabilities()
    z = special.logsumexp(list(truth.values()))
    for choices, prob in got.items():
        key = (choices[(0, "tok")].id, choices[(1, "tok")].id)
        assert prob == pytest.approx(math.exp(truth[key] - z), abs=1e-6)
