"""Exact checks of VI on finite programs: enumeration-based gradients equal jax.grad of the enumerated objective."""
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppl
import semantics
from inference import vi
from ppl import dist
from semantics.strategies import bayes_nets, hmms

TOLERANCE = 1e-9


def mean_field_guide(net):
    """q(x) = prod_i Categorical(x_i; softmax(params['x<i>']))."""
    @ppl.gen
    def guide(params):
        for i in range(len(net.cardinalities)):
            ppl.sample(dist.Categorical(logits=params[f"x{i}"]), f"x{i}")
    return guide


def chain_guide(net):
    """q(x) = q(x0) prod_i q(x_i | x_{i-1}): each factor's logits indexed by the previous (concrete) value."""
    @ppl.gen
    def guide(params):
        previous = 0
        for i in range(len(net.cardinalities)):
            previous = ppl.sample(dist.Categorical(logits=params[f"x{i}"][previous]), f"x{i}")
    return guide


def guide_log_q(net, params, assignment, structured):
    log_q, previous = 0.0, 0
    for i, value in enumerate(assignment):
        logits = params[f"x{i}"][previous] if structured else params[f"x{i}"]
        log_q = log_q + jax.nn.log_softmax(logits)[value]
        previous = value
    return log_q


def log_joint_table(net):
    """log p(x, observations) of every assignment, from the exact reference semantics."""
    exact = semantics.enumerate(net.program)
    return {tuple(e.choices[a] for a in net.addresses()): e.log_weight for e in exact.executions}, exact.log_z


def initial_params(net, structured, seed):
    rng = np.random.default_rng(seed)
    params = {}
    for i, card in enumerate(net.cardinalities):
        rows = (net.cardinalities[i - 1] if i else 1,) if structured else ()
        params[f"x{i}"] = jnp.asarray(rng.normal(size=rows + (card,)))
    return params


def reference_elbo(net, table, structured):
    def elbo(params):
        total = 0.0
        for assignment, log_joint in table.items():
            log_q = guide_log_q(net, params, assignment, structured)
            total = total + jnp.exp(log_q) * (log_joint - log_q)
        return total
    return elbo


def assert_trees_close(ours, reference, tolerance=TOLERANCE):
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(reference)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=tolerance)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=bayes_nets(max_latents=3, max_cardinality=3), structured=st.booleans(), seed=st.integers(0, 1000))
def test_enumerated_elbo_gradient_equals_grad_of_exact_elbo(net, structured, seed):
    table, _ = log_joint_table(net)
    guide = chain_guide(net) if structured else mean_field_guide(net)
    params = initial_params(net, structured, seed)
    estimate = vi.gradient(net.program, guide, params, 0)  # finite choices: enumerated automatically
    reference = reference_elbo(net, table, structured)
    assert abs(float(estimate.value) - float(reference(params))) <= TOLERANCE
    assert_trees_close(estimate.grad, jax.grad(reference)(params))


def reference_iwae(net, table, particles):
    """E[log (1/K) sum_k w_k], summed over every K-tuple of assignments."""
    def iwae(params):
        log_qs = {a: guide_log_q(net, params, a, False) for a in table}
        total = 0.0
        for joint in itertools.product(table, repeat=particles):
            log_w = jnp.stack([table[a] - log_qs[a] for a in joint])
            bound = jax.nn.logsumexp(log_w) - math.log(particles)
            total = total + jnp.exp(sum(log_qs[a] for a in joint)) * bound
        return total
    return iwae


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=bayes_nets(max_latents=2, max_cardinality=2, max_observations=2), seed=st.integers(0, 1000))
def test_enumerated_iwae_equals_exact_iwae_and_bounds_are_ordered(net, seed):
    table, log_z = log_joint_table(net)
    guide = mean_field_guide(net)
    params = initial_params(net, False, seed)
    elbo = float(reference_elbo(net, table, False)(params))
    iwae = vi.gradient(net.program, guide, params, 0, objective=vi.iwae(2))
    reference = reference_iwae(net, table, 2)
    assert abs(float(iwae.value) - float(reference(params))) <= TOLERANCE
    assert_trees_close(iwae.grad, jax.grad(reference)(params))
    assert elbo - TOLERANCE <= float(iwae.value) <= log_z + TOLERANCE  # exact: ELBO <= IWAE_2 <= log Z


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hmm=hmms(max_states=3, max_steps=3), seed=st.integers(0, 1000))
def test_enumerated_elbo_through_unfold_in_model_and_guide(hmm, seed):
    """Nested calls are inlined at their addresses: an unfolded HMM, and a guide that is itself an unfold."""
    @ppl.gen
    def step(t, previous, params):
        return ppl.sample(dist.Categorical(logits=params[t][previous]), "x")

    chain = ppl.unfold(step, hmm.steps)

    @ppl.gen
    def guide(params):
        return ppl.sample(chain(0, params), "steps")

    states = len(hmm.initial)
    rng = np.random.default_rng(seed)
    params = [jnp.asarray(rng.normal(size=(states, states))) for _ in range(hmm.steps)]
    exact = semantics.enumerate(hmm.unfolded())
    table = {tuple(e.choices["steps", t, "x"] for t in range(hmm.steps)): e.log_weight for e in exact.executions}

    def reference(params):
        total = 0.0
        for assignment, log_joint in table.items():
            log_q, previous = 0.0, 0
            for t, value in enumerate(assignment):
                log_q = log_q + jax.nn.log_softmax(params[t][previous])[value]
                previous = value
            total = total + jnp.exp(log_q) * (log_joint - log_q)
        return total

    estimate = vi.gradient(hmm.unfolded(), guide, params, 0)
    assert abs(float(estimate.value) - float(reference(params))) <= TOLERANCE
    assert_trees_close(estimate.grad, jax.grad(reference)(params))


@ppl.gen
def coin(i):
    return ppl.sample(dist.Bernoulli(0.2 + 0.5 * i), "b")


@ppl.gen
def fair_coin(i):
    return ppl.sample(dist.Bernoulli(0.6), "b")


@ppl.gen
def structured():
    """A Choice over strings, a switch on an enumerated value, a map, Python control flow on the values."""
    level = ppl.sample(dist.Choice(["low", "high"], [0.4, 0.6]), "level")
    k = ppl.sample(dist.Bernoulli(0.3), "k")
    s = ppl.sample(ppl.switch(coin, fair_coin)(k, 1), "s")
    plate = ppl.sample(ppl.map(coin, 2)(k), "plate")
    ppl.observe(dist.Bernoulli(0.9 if level == "high" else 0.3), s, "o1")
    ppl.observe(dist.Normal(sum(plate) + k, 1.0), 0.7, "o2")


@ppl.gen
def structured_guide(params):
    ppl.sample(dist.Choice(["low", "high"], [0.5, 0.5]), "level")
    k = ppl.sample(dist.Bernoulli(logits=params["k"]), "k")
    ppl.sample(dist.Bernoulli(logits=params["s"][k]), ("s", "b"))
    for j in range(2):
        ppl.sample(dist.Bernoulli(logits=params["plate"][j]), ("plate", j, "b"))


def test_enumerated_elbo_through_switch_map_and_choice():
    exact = semantics.enumerate(structured)
    params = {"k": jnp.array(-0.2), "s": jnp.array([0.3, -0.8]), "plate": jnp.array([0.5, 1.1])}

    def reference(params):
        total = 0.0
        for e in exact.executions:
            c = e.choices
            log_q = (math.log(0.5) + jax.nn.log_sigmoid((2 * c["k"] - 1) * params["k"])
                     + jax.nn.log_sigmoid((2 * c["s", "b"] - 1) * params["s"][c["k"]])
                     + sum(jax.nn.log_sigmoid((2 * c["plate", j, "b"] - 1) * params["plate"][j]) for j in range(2)))
            total = total + jnp.exp(log_q) * (e.log_weight - log_q)
        return total

    assert len(exact.executions) == 32
    estimate = vi.gradient(structured, structured_guide, params, 0)
    assert abs(float(estimate.value) - float(reference(params))) <= TOLERANCE
    assert_trees_close(estimate.grad, jax.grad(reference)(params))
