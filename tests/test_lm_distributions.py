"""NextToken and mask_dist as ppl primitives: values, densities, support, context advancement, proposals."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy import special

import lm
import ppl


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


def test_sampling_fixes_the_token_and_extends_the_context(tiny):
    ctx = tiny.context("ab")
    d = ctx.next_token()
    tok = d.sample(ppl.rng(0))
    assert isinstance(tok, lm.Token) and ctx.token_ids[-1] == tok.id and len(ctx) == 2
    other = tiny.vocabulary.tokens[(tok.id + 1) % 8]
    assert d.log_prob(other) == pytest.approx(float(np.log(np.exp(d.target_logprobs())[other.id])))
    assert len(ctx) == 2                                        # later log_prob calls only read
    first, stale = ctx.next_token(), ctx.next_token()
    first.sample(ppl.rng(1))
    with pytest.raises(ValueError, match="moved on"):
        stale.sample(ppl.rng(2))                                # one next_token() per position


def test_observing_a_token_extends_the_context(tiny):
    ctx = tiny.context("a")
    d = ctx.next_token()
    lp = d.log_prob(tiny.vocabulary.tokens[2])
    assert ctx.token_ids[-1] == 2 and lp == pytest.approx(ctx.llm.server.logprobs(ctx.node.parent)[2])
    assert d.log_prob(2) == lp                                  # ids work as values too


def test_support_and_enumeration(tiny):
    d = tiny.context("a").next_token()
    assert d.in_support(tiny.vocabulary.tokens[3]) and d.in_support(3)
    assert not d.in_support(lm.Token(3, b"zzz", "zzz")) and not d.in_support(8) and not d.in_support(True)
    assert d.log_prob("a") == -math.inf
    assert [t.id for t in d.enumerate_support()] == list(range(8))
    assert np.exp(d.target_logprobs()).sum() == pytest.approx(1.0, abs=1e-12)


def test_temperature_tempers_the_logits(builtin):
    ctx = builtin.context("SELECT")
    base = ctx.logprobs()
    for t in (0.5, 2.0):
        np.testing.assert_allclose(ctx.next_token(temperature=t).target_logprobs(), special.log_softmax(base / t), atol=1e-10)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ppl.ParameterError, match="temperature"):
            ctx.next_token(temperature=bad)


def test_top_k_and_top_p_proposals_are_truncations_with_weights(builtin):
    ctx = builtin.context('{"name":')
    p = ctx.logprobs()
    order = np.argsort(-p)
    d = ctx.clone().next_token(proposal_top_k=5)
    q = d.sampling_logprobs()
    assert set(np.flatnonzero(np.isfinite(q))) == set(order[:5].tolist())
    assert not d.in_support(int(order[5])) and d.in_support(int(order[0]))
    rng = ppl.rng(3)
    tok = d.sample(rng)
    assert d.log_weight == pytest.approx(p[tok.id] - q[tok.id]) and d.log_weight == pytest.approx(special.logsumexp(p[order[:5]]))
    nucleus = ctx.clone().next_token(proposal_top_p=0.5).sampling_logprobs()
    kept = np.flatnonzero(np.isfinite(nucleus))
    mass = np.exp(p[order]).cumsum()
    assert len(kept) == int(np.searchsorted(mass, 0.5)) + 1 and set(kept) == set(order[:len(kept)].tolist())
    with pytest.raises(ValueError, match="once a token"):
        ctx.next_token().log_weight
    for bad in ({"proposal_top_k": 0}, {"proposal_top_k": 1.5}, {"proposal_top_p": 0.0}, {"proposal_top_p": 1.5}):
        with pytest.raises(ppl.ParameterError):
            ctx.next_token(**bad)


class Proposed(ppl.Model):
    def __init__(self, llm):
        super().__init__()
        self.ctx = llm.context("SELECT")

    async def step(self):
        d = self.ctx.next_token(proposal_top_k=4)
        pending = d.pending()
        if pending is not None:
            await pending
        self.tok = self.sample_with(d.propose, "tok")
        self.finish()


def test_propose_is_a_properly_weighted_sampler_for_models(builtin):
    model = Proposed(builtin)
    ppl.run_batched([model.run_step(ppl.rng(0))])
    p = builtin.context("SELECT").logprobs()
    assert model.weight == pytest.approx(special.logsumexp(np.sort(p)[-4:]))
    assert model.choices[(0, "tok")] == model.tok and model.ctx.token_ids[-1] == model.tok.id


def test_mask_dist_probability_and_restriction(builtin):
    ctx = builtin.context("SELECT")
    p = ctx.logprobs()
    quote = builtin.vocabulary.ids_for_bytes(b" name")
    allowed = [*quote, 5, builtin.vocabulary.tokens[7]]
    m = ctx.mask_dist(allowed)
    ids = sorted(set(quote + [5, 7]))
    assert m.log_prob(True) == pytest.approx(special.logsumexp(p[ids]))   # fixes the value: restricts the context
    assert m.log_prob(False) == pytest.approx(math.log1p(-math.exp(special.logsumexp(p[ids]))))
    restricted = ctx.next_token().target_logprobs()
    assert set(np.flatnonzero(np.isfinite(restricted))) == set(ids)
    np.testing.assert_allclose(restricted[ids], p[ids] - special.logsumexp(p[ids]), atol=1e-12)
    ctx.next_token().sample(ppl.rng(0))
    assert ctx.allowed is None                                # the restriction applies to one position only
    assert m.in_support(True) and m.in_support(0) and not m.in_support(2) and m.enumerate_support() == [False, True]
    with pytest.raises(ppl.ParameterError, match="not a token"):
        ctx.mask_dist([10 ** 6])


def test_a_zero_probability_set_observed_true_gives_minus_infinity_not_a_crash(tiny):
    ctx = tiny.context("a")
    m = ctx.mask_dist([])
    assert m.log_prob(True) == -math.inf
    tok = ctx.next_token().sample(ppl.rng(0))                 # falls back to the model: the weight is -inf anyway
    assert isinstance(tok, lm.Token)


def test_clones_share_history_and_diverge_independently(builtin):
    ctx = builtin.context("SELECT")
    twin = ctx.clone()
    deep = copy.deepcopy(ctx)
    assert twin.node is ctx.node and deep.node is ctx.node and deep.llm is builtin
    twin.extend(builtin.vocabulary.ids_for_bytes(b" *")[0])
    assert len(twin) == len(ctx) + 1 and twin.generated_bytes == b" *" and twin.generated_text == " *"
    assert ctx.generated == []


class Holder(ppl.Model):
    def __init__(self, llm):
        super().__init__()
        self.llm, self.ctx = llm, llm.context("SELECT")

    async def step(self):
        self.lp = await self.ctx.next_token_logprobs()
        self.finish()


def test_model_clone_shares_the_language_model_and_clones_the_context(builtin):
    model = Holder(builtin)
    twin = model.clone()
    assert twin.llm is builtin and twin.ctx is not model.ctx and twin.ctx.node is model.ctx.node
    ppl.run_batched([twin.run_step(ppl.rng(0))])
    np.testing.assert_allclose(twin.lp, builtin.context("SELECT").logprobs())


def test_inversion_sampling_draws_what_seeded_categorical_draws(builtin):
    ctx = builtin.context("SELECT name")
    probs = np.exp(ctx.logprobs())
    for seed in range(200):
        via_table = ctx.clone().next_token().sample(ppl.SeededRng(seed))
        via_categorical = ppl.SeededRng(seed).categorical(probs)
        assert via_table.id == via_categorical
