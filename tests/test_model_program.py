"""`ppl.Model` as a generative function (its steps replayed under the GFI), and resample-move on Model particles.

Checked exactly under the enumerating rng: the program's enumeration is the Model's target;
SMC with MH or Gibbs rejuvenation on Model particles (twisted, with conditions) is properly
weighted for it; the same holds for an LM program on the tiny model, whose replay goes
through the prefix-trie memo.
"""
from __future__ import annotations

import math

import pytest

import lm
import ppl
import semantics
from inference import smc
from inference.kernels import gibbs, mh
from semantics import check_proper_weighting
from test_exact_validation_smc import TwistedHMM, Tables, fixed_hmm


def twisted_hmm(forbidden=None) -> TwistedHMM:
    return TwistedHMM(Tables(fixed_hmm((1, 0, 1))), ((0.3, -0.2), (0.5, 0.1), (-0.4, 0.2)), forbidden)


def test_the_program_is_the_models_target():
    model = twisted_hmm()
    exact = semantics.enumerate(model.program())
    estimate = smc(model, particles=4000, rng=0)
    trace = model.program().simulate(1)
    assert set(trace.choices.addresses()) == {(0, "x"), (1, "x"), (2, "x")}
    assert trace.retval.finished and trace.retval.choices == trace.choices
    # twists enter and leave the score exactly as they do a particle's weight: the full program is untwisted
    untwisted = semantics.enumerate(TwistedHMM(Tables(fixed_hmm((1, 0, 1))), ((0, 0),) * 3, None).program())
    assert exact.log_z == pytest.approx(untwisted.log_z, abs=1e-12)
    assert abs(estimate.log_ml - exact.log_z) < 0.1


@pytest.mark.parametrize("kernel", [mh(ppl.select((0, "x"))), gibbs((0, "x"))], ids=["mh", "gibbs"])
def test_resample_move_on_model_particles_is_properly_weighted(kernel):
    model = twisted_hmm(forbidden=(1, 1))
    run = lambda rng: smc(model, particles=2, ess_threshold=1.0, resampling="residual", rng=rng, rejuvenation=kernel)
    check_proper_weighting(run, model.program())


class TwoTokens(ppl.Model):
    """Two tokens of the tiny LM, the second must differ from the first (an LM program with a condition)."""

    def __init__(self, llm):
        super().__init__()
        self.ctx = llm.context([1])
        self.first = None

    async def step(self):
        token = await self.sample(self.ctx.next_token(), "tok")
        if self.first is None:
            self.first = token.id
            self.twist(-0.5 if token.id % 2 else 0.0)
        else:
            self.condition(token.id != self.first)
            self.finish()


def test_resample_move_on_an_lm_program_is_properly_weighted():
    llm = lm.load("tiny", dtype="float64")
    model = TwoTokens(llm)
    run = lambda rng: smc(model, particles=1, ess_threshold=1.0, rng=rng, rejuvenation=mh(ppl.select((0, "tok"))))
    check_proper_weighting(run, model.program())
    exact = semantics.enumerate(model.program())
    assert 0 < math.exp(exact.log_z) < 1


class SyncTokens(ppl.Model):
    """An LM program whose step is synchronous: its particles' LM requests cannot share a forward pass."""

    def __init__(self, llm):
        super().__init__()
        self.ctx = llm.context([1])

    def step(self):
        self.sample(self.ctx.next_token(), "tok")
        if self.step_index >= 1:
            self.finish()


def test_a_synchronous_lm_model_runs_and_says_once_why_it_is_slow():
    llm = lm.load("tiny")
    with pytest.warns(RuntimeWarning, match="SyncTokens.step is synchronous") as caught:
        result = smc(SyncTokens(llm), particles=3, rng=0)
    assert len([w for w in caught if "synchronous" in str(w.message)]) == 1
    assert math.isfinite(result.log_ml)
