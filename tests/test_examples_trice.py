"""The TRICE example's mechanics: the MH acceptance ratio (exactly), the evidence, and an M step that moves
only the last layer."""
import math
import random

import numpy as np
import pytest
import torch

import lm
from examples import trice_rationales as trice
from lm.training.arithmetic_documents import counting_problem


def test_independence_mh_with_the_prior_as_proposal_leaves_the_posterior_invariant():
    # z in a finite set, prior q(z) (the proposal), evidence p(y | z): the transition kernel built from the
    # example's acceptance probability must have the posterior q(z) p(y | z) / Z as its stationary law, exactly.
    q = np.array([0.5, 0.2, 0.2, 0.1])
    evidence = np.array([1e-4, 0.9, 0.3, 0.0])
    posterior = q * evidence / (q * evidence).sum()
    log_ev = [math.log(e) if e > 0 else -math.inf for e in evidence]
    kernel = np.zeros((4, 4))
    for z in range(4):
        for z2 in range(4):
            if z2 != z:
                kernel[z, z2] = q[z2] * trice.acceptance_probability(log_ev[z], log_ev[z2])
        kernel[z, z] = 1 - kernel[z].sum()
    np.testing.assert_allclose(posterior @ kernel, posterior, atol=1e-15)
    assert trice.acceptance_probability(math.log(0.9), math.log(0.3)) == pytest.approx(1 / 3)
    assert trice.acceptance_probability(math.log(0.3), math.log(0.9)) == 1.0


class FixedUniform:
    """An rng whose uniform draw is fixed: MH accepts iff it lies below the acceptance probability."""

    def __init__(self, u):
        self.u = u

    def uniform(self):
        return self.u


def test_mh_step_accepts_by_the_evidence_ratio():
    llm = lm.load("builtin")
    text, solution, answer = counting_problem(random.Random(11), 2)
    problem = trice.Problem(text, answer)
    right = tuple(llm.tokenize(" " + solution.rstrip()))
    wrong = tuple(llm.tokenize(" " + solution.rstrip().replace(f"= {answer} ", f"= {answer + 2} ")))
    assert wrong != right
    good, bad = trice.log_evidence(llm, problem, right), trice.log_evidence(llm, problem, wrong)
    assert good > math.log(0.5) > bad                     # the answer line follows the right rationale only
    ratio = math.exp(bad - good)
    for u, moves in ((ratio * 0.99, True), (ratio * 1.01, False)):
        state = trice.ChainState(right, good)
        trice.mh_step(llm, problem, state, wrong, FixedUniform(u))
        assert (state.rationale == wrong) == moves and state.proposed == 1 and state.accepted == int(moves)
    state = trice.ChainState(wrong, bad)
    trice.mh_step(llm, problem, state, right, FixedUniform(0.999999))   # uphill: always accepted
    assert state.rationale == right and state.log_evidence == pytest.approx(good)


def test_a_tiny_run_trains_only_the_last_layer():
    llm = lm.load("builtin")
    before = {name: p.detach().clone() for name, p in llm.model.named_parameters()}
    out = trice.main(iterations=2, train=4, heldout=4, batch=4, proposals=1, initial=1, learning_rate=1e-3,
                     evaluate_every=1, events=2, llm=llm)
    assert [it for it, _ in out["curve"]] == [0, 1, 2] and all(0 <= a <= 1 for _, a in out["curve"])
    assert out["objectives"] and all(o < 0 for o in out["objectives"])
    last = {id(p) for p in trice.last_layer(llm)}
    for name, p in llm.model.named_parameters():
        changed = not torch.equal(p.detach(), before[name])
        assert changed == (id(p) in last and p.requires_grad), name
    assert all(state.proposed == 3 for state in out["chains"])     # one MH proposal at the start, one per iteration
    assert 0 <= out["acceptance_rate"] <= 1
