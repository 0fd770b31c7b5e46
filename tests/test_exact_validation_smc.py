"""Exact validation of importance sampling and SMC: every outcome of the algorithm's randomness enumerated.

For a properly weighted algorithm with estimate Z_hat and normalized weights W_i,
    E[ Z_hat * sum_i W_i 1{x_i = x} ] = p(x, y)   for every latent assignment x,
hence E[Z_hat] = Z. `semantics.explore` runs the algorithm once per outcome of its categorical
draws (the model's choices, resampling, MH accept/reject) with that outcome's probability, so
both sides are computed exactly and compared to 1e-9 against `semantics.enumerate`
(`semantics.check_proper_weighting`; particle Gibbs by `semantics.check_stationary`).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ppl
from inference.importance import importance, sir
from inference.smc_engine.particle_gibbs import particle_gibbs
from inference.smc_engine.smc import smc
from inference.smc_engine.smc_steer import smc_steer
from ppl import dist
from semantics import check_proper_weighting, check_stationary, explore
from semantics.strategies import bayes_nets, hmms

SCHEMES = ["multinomial", "stratified", "systematic", "residual"]
TOLERANCE = 1e-9


def most_particles(outcomes_per_particle: int, budget: int = 100, most: int = 3) -> int:
    """The largest N <= most with outcomes_per_particle ** N <= budget (at least 1)."""
    n = 1
    while n < most and outcomes_per_particle ** (n + 1) <= budget:
        n += 1
    return n


# -- importance sampling on random Bayesian networks --------------------------------------------------

@settings(max_examples=6, deadline=None)
@given(net=bayes_nets(max_latents=2, max_cardinality=3), data=st.data())
def test_importance_with_the_prior_is_properly_weighted(net, data):
    n = data.draw(st.integers(1, most_particles(len(list(net.assignments())))), label="particles")
    check_proper_weighting(lambda rng: importance(net.program, particles=n, rng=rng), net.program)


@st.composite
def proposals(draw, net):
    """A proposal over some of the net's latents, each from its own full-support distribution."""
    proposed = [i for i in range(len(net.cardinalities)) if draw(st.booleans())] or [0]
    tables = {i: np.array([draw(st.floats(0.1, 1.0)) for _ in range(net.cardinalities[i])]) for i in proposed}

    @ppl.gen
    def proposal():
        for i, probs in tables.items():
            ppl.sample(dist.Categorical(probs=probs / probs.sum()), f"x{i}")

    return proposal


@settings(max_examples=6, deadline=None)
@given(net=bayes_nets(max_latents=2, max_cardinality=3), data=st.data())
def test_importance_with_a_custom_proposal_is_properly_weighted(net, data):
    q = data.draw(proposals(net), label="proposal")
    n = data.draw(st.integers(1, most_particles(len(list(net.assignments())))), label="particles")
    check_proper_weighting(lambda rng: importance(net.program, particles=n, proposal=q, rng=rng), net.program)


@settings(max_examples=6, deadline=None)
@given(net=bayes_nets(max_latents=2, max_cardinality=3), scheme=st.sampled_from(SCHEMES), data=st.data())
def test_sir_is_properly_weighted(net, scheme, data):
    n = data.draw(st.integers(1, most_particles(len(list(net.assignments())), budget=30)), label="particles")
    m = data.draw(st.integers(1, 3), label="samples")
    check_proper_weighting(lambda rng: sir(net.program, particles=n, samples=m, resampling=scheme, rng=rng), net.program)


# -- SMC on sequential models: every scheme and threshold, with twists and dead particles -------------
# The models below are the strategies' random HMMs spelled with ppl.Choice (pure Python), which keeps an
# enumeration of a few hundred SMC runs within a second; test_strategies_own_spellings runs the originals.

class Tables:
    """An HMM's parameters as tuples, shared (not copied) between cloned particles."""

    __ppl_shared__ = True

    def __init__(self, hmm, steps: int | None = None):
        self.initial = tuple(hmm.initial.tolist())
        self.transition = tuple(tuple(row) for row in hmm.transition.tolist())
        self.emission = tuple(tuple(row) for row in hmm.emission.tolist())
        self.observations = tuple(hmm.observations[:steps])
        self.states = len(self.initial)

    def prior(self, previous):
        probs = self.initial if previous is None else self.transition[previous]
        return ppl.Choice(range(self.states), probs)

    def emit(self, state):
        return ppl.Choice(range(len(self.emission[state])), self.emission[state])


class TwistedHMM(ppl.Model):
    """The HMM as a Model, with a twist after every step (the last one too) and optionally a forbidden state."""

    def __init__(self, tables: Tables, twists: tuple, forbidden: tuple | None):
        super().__init__()
        self.tables, self.twists, self.forbidden = tables, twists, forbidden
        self.state = None

    def step(self) -> None:
        t = self.step_index
        self.state = self.sample(self.tables.prior(self.state), "x")
        self.observe(self.tables.emit(self.state), self.tables.observations[t], "y")
        self.twist(self.twists[t][self.state])
        if self.forbidden is not None:
            self.condition((t, self.state) != self.forbidden)
        if t + 1 == len(self.tables.observations):
            self.finish()


def hmm_kernel(tables: Tables):
    @ppl.gen
    def hmm_step(t, previous):
        x = ppl.sample(tables.prior(previous), "x")
        ppl.observe(tables.emit(x), tables.observations[t], "y")
        return x

    return hmm_step


def resampling_outcomes(scheme: str, n: int) -> int:
    return n + 1 if scheme == "systematic" else n ** n


def smc_particles(states: int, steps: int, scheme: str, budget: int = 600) -> int:
    """The most particles (<= 3) whose enumeration stays within `budget` outcomes (at least 1)."""
    best = 1
    for n in (2, 3):
        if states ** (n * steps) * resampling_outcomes(scheme, n) ** (steps - 1) <= budget:
            best = n
    return best


def several_steps(data, hmm, steps=st.integers(2, 3)) -> Tables:
    """The HMM's tables with its observations cut or extended (by drawn symbols) to 2 or 3 steps,
    so that resampling happens between steps."""
    t = data.draw(steps, label="steps")
    symbols = hmm.emission.shape[1]
    hmm.observations = (list(hmm.observations) + [data.draw(st.integers(0, symbols - 1)) for _ in range(t)])[:t]
    return Tables(hmm)


def particle_count(data, tables: Tables, scheme: str) -> int:
    """2 or 3 particles where the enumeration budget allows, else 1."""
    most = smc_particles(tables.states, len(tables.observations), scheme)
    return data.draw(st.integers(min(2, most), most), label="particles")


def random_twists(data, states: int, steps: int, twisted: bool) -> tuple:
    return tuple(tuple(data.draw(st.floats(-2.0, 2.0)) if twisted else 0.0 for _ in range(states)) for _ in range(steps))


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=4, deadline=None)
@given(hmm=hmms(max_states=3, max_steps=3, max_symbols=3), threshold=st.sampled_from([0.5, 1.0]), twisted=st.booleans(),
       data=st.data())
def test_smc_on_a_model_is_properly_weighted(scheme, hmm, threshold, twisted, data):
    tables = several_steps(data, hmm)
    n = particle_count(data, tables, scheme)
    twists = random_twists(data, tables.states, hmm.steps, twisted)
    forbidden = data.draw(st.one_of(st.none(), st.tuples(st.integers(0, hmm.steps - 1), st.integers(0, tables.states - 1))),
                          label="forbidden")
    model = TwistedHMM(tables, twists, forbidden)
    check_proper_weighting(lambda rng: smc(model, particles=n, ess_threshold=threshold, resampling=scheme, rng=rng), model)


@settings(max_examples=4, deadline=None)
@given(hmm=hmms(max_states=3, max_steps=3, max_symbols=3), twisted=st.booleans(), data=st.data())
def test_importance_on_a_model_is_properly_weighted(hmm, twisted, data):
    # ess_threshold=0 never resamples: importance sampling of whole runs, twists removed at the end.
    tables = several_steps(data, hmm)
    n = particle_count(data, tables, "systematic")
    model = TwistedHMM(tables, random_twists(data, tables.states, hmm.steps, twisted), None)
    check_proper_weighting(lambda rng: importance(model, particles=n, rng=rng), model)


def fixed_hmm(observations=(0, 1, 1)):
    from semantics.strategies import HMM

    return HMM(np.array([0.5, 0.5]), np.array([[0.8, 0.2], [0.3, 0.7]]), np.array([[0.6, 0.4], [0.1, 0.9]]), list(observations))


def test_smc_twists_change_resampling_but_not_the_target():
    tables = Tables(fixed_hmm())
    plain = TwistedHMM(tables, ((0.0, 0.0),) * 3, None)
    twisted = TwistedHMM(tables, ((0.0, 3.0), (-1.0, 2.0), (0.5, 0.0)), None)
    for model in (plain, twisted):
        check_proper_weighting(lambda rng: smc(model, particles=2, ess_threshold=1.0, resampling="systematic", rng=rng), model)

    def both_end_in_state_one(model) -> float:
        total = 0.0
        for outcome in explore(lambda rng: smc(model, particles=2, ess_threshold=1.0, rng=rng)):
            if all(p.trace.state == 1 for p in outcome.value.particles):
                total += math.exp(outcome.log_prob)
        return total

    # The twists do change the algorithm (which particles survive), only not what it estimates.
    assert abs(both_end_in_state_one(plain) - both_end_in_state_one(twisted)) > 1e-3


def test_strategies_own_spellings():
    # The HMM exactly as semantics.strategies spells it (numpyro distributions), as a Model and as an unfold.
    hmm = fixed_hmm((1, 0))
    model = hmm.model()
    check_proper_weighting(lambda rng: smc(model, particles=2, ess_threshold=1.0, resampling="stratified", rng=rng), model)
    chain = ppl.unfold(hmm.kernel(), hmm.steps)
    check_proper_weighting(lambda rng: smc(chain, None, particles=2, ess_threshold=1.0, rng=rng), chain, None)


# -- SMC over ppl.unfold, with and without rejuvenation ------------------------------------------------

def random_step_mh(rng, trace):
    """Selection MH on the state of one uniformly chosen step (regenerate from the prior, accept by categorical)."""
    s = rng.categorical(np.ones(len(trace.retval)))
    proposed, log_weight = trace.gen_fn.regenerate(rng, trace, ppl.select((s, "x")))
    a = 1.0 if log_weight >= 0 else math.exp(log_weight)
    return proposed if rng.categorical(np.array([1.0 - a, a])) == 1 else trace


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=3, deadline=None)
@given(hmm=hmms(max_states=3, max_steps=3, max_symbols=3), threshold=st.sampled_from([0.0, 0.5, 1.0]), data=st.data())
def test_smc_on_an_unfold_is_properly_weighted(scheme, hmm, threshold, data):
    tables = several_steps(data, hmm)
    n = particle_count(data, tables, scheme)
    model = ppl.unfold(hmm_kernel(tables), hmm.steps)
    check_proper_weighting(lambda rng: smc(model, None, particles=n, ess_threshold=threshold, resampling=scheme, rng=rng),
                             model, None)


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=2, deadline=None)
@given(hmm=hmms(max_states=2, max_steps=2, max_symbols=3), data=st.data())
def test_resample_move_is_properly_weighted(scheme, hmm, data):
    tables = several_steps(data, hmm, st.just(2))
    n = data.draw(st.integers(1, 2), label="particles")
    model = ppl.unfold(hmm_kernel(tables), hmm.steps)
    run = lambda rng: smc(model, None, particles=n, ess_threshold=1.0, resampling=scheme, rng=rng, rejuvenation=random_step_mh)
    check_proper_weighting(run, model, None)


def test_resample_move_on_three_steps_is_properly_weighted():
    model = ppl.unfold(hmm_kernel(Tables(fixed_hmm((1, 0, 0)))), 3)
    lengths = []

    def counted(rng, trace):
        lengths.append(len(trace.retval))
        return random_step_mh(rng, trace)

    check_proper_weighting(lambda rng: smc(model, None, particles=1, ess_threshold=1.0, rng=rng, rejuvenation=counted),
                             model, None)
    assert set(lengths) == {1, 2}  # applied after the resampling at each intermediate step, to that prefix


def test_resample_move_with_the_library_kernels_is_properly_weighted():
    from inference.kernels import gibbs, mh

    model = ppl.unfold(hmm_kernel(Tables(fixed_hmm((1, 0)))), 2)
    for kernel in (gibbs((0, "x")), mh(ppl.select((0, "x"), (1, "x")))):
        run = lambda rng: smc(model, None, particles=2, ess_threshold=1.0, resampling="residual", rng=rng, rejuvenation=kernel)
        check_proper_weighting(run, model, None)


# -- smc_steer -------------------------------------------------------------------------------------------

@settings(max_examples=8, deadline=None)
@given(hmm=hmms(max_states=2, max_steps=2, max_symbols=3), shape=st.sampled_from([(1, 1), (1, 2), (1, 3), (2, 1), (3, 1), (2, 2)]),
       twisted=st.booleans(), data=st.data())
def test_smc_steer_is_properly_weighted(hmm, shape, twisted, data):
    n, k = shape
    steps = hmm.steps if n * k <= 3 else 1
    tables = Tables(hmm, steps)
    forbidden = data.draw(st.one_of(st.none(), st.tuples(st.integers(0, steps - 1), st.integers(0, 1))), label="forbidden")
    model = TwistedHMM(tables, random_twists(data, 2, steps, twisted), forbidden)

    def run(rng):
        result = smc_steer(model, particles=n, expansions=k, rng=rng)
        assert len(result.particles) <= n
        assert len({id(p.trace) for p in result.particles}) == len(result.particles), "a child was kept twice"
        return result

    check_proper_weighting(run, model)


# -- particle Gibbs: the exact posterior is stationary ------------------------------------------------------

@settings(max_examples=6, deadline=None)
@given(hmm=hmms(max_states=2, max_steps=3, max_symbols=3), data=st.data())
def test_particle_gibbs_leaves_the_posterior_invariant(hmm, data):
    tables = several_steps(data, hmm)
    n = data.draw(st.integers(1, 2), label="particles")
    model = ppl.unfold(hmm_kernel(tables), hmm.steps)
    kernel = particle_gibbs(model, particles=n)

    def step(rng, trace):
        new = kernel(rng, trace)
        assert new.gen_fn is model
        return new

    report = check_stationary(step, model, None)
    stay = sum(p * report.rows[x].get(x, 0.0) for x, p in report.posterior.items())
    if n >= 2:
        assert stay < 1 - 1e-6, "particle Gibbs with two or more particles must move"
    else:
        assert abs(stay - 1) < TOLERANCE
