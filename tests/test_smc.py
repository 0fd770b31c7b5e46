"""SMC over Models and unfolds: batching of LM-style requests, cloning without re-running,
the resampling schedule, dead populations, smc_steer and particle Gibbs structure, bad input.
The exact proper-weighting checks by enumeration live in test_exact_validation_smc.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ppl
from inference.smc_engine.particle_gibbs import particle_gibbs
from inference.smc_engine.smc import smc
from inference.smc_engine.smc_steer import smc_steer
from ppl import dist
from ppl.batching import Pending
from ppl.distributions import Primitive
from semantics.strategies import HMM


class CoinServer:
    """A stand-in for an LM server: records the size of every batch it serves (shared between clones)."""

    __ppl_shared__ = True

    def __init__(self):
        self.batches: list[int] = []

    def serve(self, pendings) -> None:
        self.batches.append(len(pendings))
        for pending in pendings:
            pending.resolve(np.array([0.3, 0.7]))


class ServedCoin(Primitive):
    """A coin whose probabilities arrive from a batched server request (as LM next-token distributions do)."""

    def __init__(self, server: CoinServer):
        self.request = Pending(server, None)

    def pending(self):
        return None if self.request.done else self.request

    def sample(self, rng):
        return rng.categorical(self.request.result)

    def log_prob(self, value) -> float:
        return math.log(self.request.result[value])

    def in_support(self, value) -> bool:
        return value in (0, 1)


class StepCounter:
    """Counts step() calls per step index; shared between clones."""

    __ppl_shared__ = True

    def __init__(self):
        self.calls: dict[int, int] = {}


class Flips(ppl.Model):
    """Flip served coins until a 1 or four flips; observations prefer runs of zeros."""

    def __init__(self, server: CoinServer, counter: StepCounter):
        super().__init__()
        self.server, self.counter = server, counter

    async def step(self) -> None:
        self.counter.calls[self.step_index] = self.counter.calls.get(self.step_index, 0) + 1
        coin = await self.sample(ServedCoin(self.server), "coin")
        self.factor(math.log(0.8 if coin == 0 else 0.3))
        if coin == 1 or self.step_index == 3:
            self.finish()


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
def test_requests_of_all_active_particles_are_batched_and_clones_do_not_rerun(threshold):
    server, counter = CoinServer(), StepCounter()
    result = smc(Flips(server, counter), particles=12, ess_threshold=threshold, rng=4)
    # One batch per SMC step, holding exactly the particles that ran that step; no step ran twice.
    assert server.batches == [counter.calls[s] for s in sorted(counter.calls)]
    assert server.batches[0] == 12 and len(server.batches) == len(result.steps)
    assert sum(server.batches) == sum(counter.calls.values())
    for particle in result.particles:
        model = particle.trace
        assert model.finished
        assert sorted(model.choices.addresses()) == [(s, "coin") for s in range(model.step_index)]
        assert particle.log_weight == model.weight
    flags = [s.resampled for s in result.steps[:-1]]
    if threshold == 0.0:
        assert not any(flags)
    if threshold == 1.0:
        assert all(flags)
    assert result.steps[-1].resampled is False


def test_ess_triggered_resampling_follows_the_threshold():
    hmm = HMM(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]]), np.array([[0.95, 0.05], [0.05, 0.95]]), [0, 1, 0, 1, 0])
    result = smc(hmm.model(), particles=30, ess_threshold=0.5, rng=2)
    for info in result.steps[:-1]:
        assert info.resampled == (info.ess <= 15)
    assert any(s.resampled for s in result.steps) and np.isfinite(result.log_ml)


class Doomed(ppl.Model):
    def step(self) -> None:
        x = self.sample(dist.Bernoulli(0.5), "x")
        self.condition(x > 3)


def test_all_particles_dead_in_smc_is_a_clear_result():
    result = smc(Doomed(), particles=4, rng=0)
    assert result.log_ml == -math.inf and result.ess == 0 and not np.isnan(result.weights).any()
    assert result.message == "all particles have weight zero after step 0"
    assert result.samples == [] and result.marginal((0, "x")) == {}

    @ppl.gen
    def doomed_step(t, previous):
        ppl.condition(ppl.sample(dist.Bernoulli(0.5), "x") > 3)

    unfolded = smc(ppl.unfold(doomed_step, 3), None, particles=3, rng=0)
    assert unfolded.log_ml == -math.inf and "after step 0" in unfolded.message


class Infinite(ppl.Model):
    def step(self) -> None:
        self.factor(math.inf)


class Endless(ppl.Model):
    def step(self) -> None:
        self.sample(dist.Bernoulli(0.5), "x")


def test_bad_weights_and_endless_models_are_named():
    with pytest.raises(ValueError, match="smc step 0: particle 0 has log weight inf"):
        smc(Infinite(), particles=2)
    with pytest.raises(ppl.ModelError, match="3 of 3 particles of Endless did not finish within max_steps=5"):
        smc(Endless(), particles=3, max_steps=5)
    with pytest.raises(ppl.ModelError, match="smc_steer: 2 of 2 particles of Endless did not finish within max_steps=4"):
        smc_steer(Endless(), particles=2, max_steps=4)


def small_hmm() -> HMM:
    return HMM(np.array([0.6, 0.4]), np.array([[0.7, 0.3], [0.4, 0.6]]), np.array([[0.8, 0.2], [0.3, 0.7]]), [0, 1, 1])


def test_unfold_smc_returns_full_traces_of_the_model():
    hmm = small_hmm()
    model = ppl.unfold(hmm.kernel(), hmm.steps)
    result = smc(model, None, particles=20, rng=7)
    for particle in result.particles:
        assert particle.trace.gen_fn is model and len(particle.trace.retval) == 3
        assert sorted(particle.trace.choices.addresses()) == [(t, "x") for t in range(3)]
    assert np.isfinite(result.log_ml) and abs(result.weights.sum() - 1) < 1e-12
    # Same seed, same draws: the Model spelling and the unfold spelling give the same estimate.
    assert smc(hmm.model(), particles=20, rng=7).log_ml == pytest.approx(result.log_ml, abs=1e-12)


def test_rejuvenation_kernels_may_return_a_trace_or_a_pair():
    from inference.kernels import gibbs

    hmm = small_hmm()
    model = ppl.unfold(hmm.kernel(), hmm.steps)
    seen = []

    def checked(rng, trace):
        seen.append(len(trace.retval))
        return gibbs((0, "x"))(rng, trace)  # (trace, accepted)

    result = smc(model, None, particles=5, ess_threshold=1.0, rng=1, rejuvenation=checked)
    assert seen == [1] * 5 + [2] * 5 and np.isfinite(result.log_ml)

    def wrong_model(rng, trace):
        return model.simulate(rng, None)

    with pytest.raises(ppl.ModelError, match="rejuvenation returned a trace of 'unfold"):
        smc(model, None, particles=2, ess_threshold=1.0, rejuvenation=wrong_model)


def test_smc_steer_with_one_expansion_is_importance_sampling():
    # With K = 1 no step has more than N children, so all are kept with their weights: SMC that never resamples.
    hmm = small_hmm()
    steered = smc_steer(hmm.model(), particles=6, expansions=1, rng=9)
    plain = smc(hmm.model(), particles=6, ess_threshold=0.0, rng=9)
    np.testing.assert_allclose(steered.log_weights, plain.log_weights, rtol=0, atol=1e-12)
    assert steered.log_ml == pytest.approx(plain.log_ml, abs=1e-12)


def test_smc_steer_keeps_at_most_n_distinct_particles():
    hmm = HMM(np.array([0.25] * 4), np.full((4, 4), 0.25), np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5], [0.9, 0.1]]), [0, 1, 1, 0])
    result = smc_steer(hmm.model(), particles=5, expansions=4, rng=3)
    assert len(result.particles) == 5 and len({id(p.trace) for p in result.particles}) == 5
    assert all(info.resampled for info in result.steps)  # 20 children, 5 kept, every step
    assert np.isfinite(result.log_ml)


def test_particle_gibbs_returns_traces_of_the_model():
    hmm = small_hmm()
    model = ppl.unfold(hmm.kernel(), hmm.steps)
    kernel = particle_gibbs(model, particles=4)
    trace = model.simulate(0, None)
    for seed in range(5):
        trace = kernel(seed, trace)
        assert trace.gen_fn is model and len(trace.retval) == 3 and trace.score > -math.inf
    with pytest.raises(ppl.ModelError, match="particle_gibbs: the trace is of"):
        kernel(0, hmm.handwritten().simulate(0))
    with pytest.raises(TypeError, match="particle_gibbs needs a ppl.unfold"):
        particle_gibbs(hmm.handwritten())
    with pytest.raises(ValueError, match="particles must be >= 1"):
        particle_gibbs(model, particles=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"particles": 0}, ValueError, "particles must be >= 1, got 0"),
    ({"particles": 1.5}, TypeError, "particles must be an int"),
    ({"ess_threshold": -0.1}, ValueError, r"ess_threshold must lie in \[0, 1\].*-0.1"),
    ({"ess_threshold": 1.5}, ValueError, r"ess_threshold must lie in \[0, 1\].*1.5"),
    ({"ess_threshold": float("nan")}, ValueError, r"ess_threshold must lie in \[0, 1\]"),
    ({"ess_threshold": "half"}, TypeError, "ess_threshold must be a number"),
    ({"resampling": "optimal"}, ValueError, "unknown resampling scheme 'optimal': choose one of multinomial, stratified, systematic, residual"),
    ({"max_steps": 0}, ValueError, "max_steps must be >= 1"),
    ({"rejuvenation": 3}, TypeError, "rejuvenation must be a kernel"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        smc(small_hmm().model(), **kwargs)


def test_bad_models_are_named():
    hmm = small_hmm()
    with pytest.raises(TypeError, match="smc needs a ppl.Model or a ppl.unfold generative function, got DynamicGenFn"):
        smc(hmm.handwritten(), particles=2)
    with pytest.raises(TypeError, match="takes no extra arguments for a ppl.Model"):
        smc(hmm.model(), 3, particles=2)
    with pytest.raises(TypeError, match="rejuvenation needs traces"):
        smc(hmm.model(), particles=2, rejuvenation=lambda rng, trace: trace)
    with pytest.raises(TypeError, match="needs the initial state"):
        smc(ppl.unfold(hmm.kernel(), 2), particles=2)
    with pytest.raises(ValueError, match="expansions must be >= 1"):
        smc_steer(hmm.model(), particles=2, expansions=0)
    with pytest.raises(TypeError, match="smc_steer needs a ppl.Model"):
        smc_steer(hmm.handwritten(), particles=2)
