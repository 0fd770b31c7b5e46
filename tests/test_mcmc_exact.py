"""Exact validation of MCMC kernels: transition matrices by enumeration on random Bayesian networks.

For every state x (a full assignment of the latents) the kernel is run from the trace of x
under the enumerating rng, which yields the exact distribution of the next state: row x of
the transition matrix P. The exact posterior pi (semantics.enumerate) must satisfy pi P = pi,
and pi(x) P(x, y) = pi(y) P(y, x) for reversible kernels (MH, Gibbs, their mixtures and
repetitions), to 1e-9: `semantics.check_stationary`. A deliberately broken kernel fails it.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ppl
import semantics
from ppl import dist
from inference.kernel_combinators import cycle, mixture, repeat
from inference.kernels import gibbs, mh, mh_proposal
from inference.mcmc import mcmc
from semantics.strategies import bayes_nets, hmms

TOLERANCE = 1e-9
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Space:
    """A finite program with its latent addresses and their cardinalities: every full assignment is a state."""

    def __init__(self, program, addresses: list, cardinalities: list[int]):
        self.program, self.addresses, self.cardinalities = program, addresses, cardinalities

    @staticmethod
    def of(net) -> "Space":
        return Space(net.program, net.addresses(), net.cardinalities)

    def key(self, choices) -> tuple:
        return tuple(int(choices[a]) for a in self.addresses)

    def assignments(self):
        for values in itertools.product(*[range(c) for c in self.cardinalities]):
            yield dict(zip(self.addresses, values))


def transition_matrix(space: Space, kernel) -> dict:
    """Row x: the exact distribution of the kernel's next state from the trace of assignment x."""
    rows = {}
    for assignment in space.assignments():
        trace, _ = space.program.generate(ppl.rng(0), assignment)
        row: dict = {}
        for outcome in semantics.explore(lambda r: space.key(kernel(r, trace)[0].choices)):
            row[outcome.value] = row.get(outcome.value, 0.0) + math.exp(outcome.log_prob)
        rows[space.key(assignment)] = row
    return rows


def check(space, kernel, reversible: bool) -> None:
    space = Space.of(space) if not isinstance(space, Space) else space
    semantics.check_stationary(kernel, space.program, reversible=reversible, key=lambda trace: space.key(trace.choices))


def proposal_weights(draw, size: int) -> np.ndarray:
    """A random positive (non-symmetric) transition table: row = current value, column = proposed value."""
    return np.array([[draw(st.floats(0.1, 1.0)) for _ in range(size)] for _ in range(size)])


def single_site_proposal(address: str, weights: np.ndarray):
    @ppl.gen
    def propose(trace):
        current = int(trace.choices[address])
        ppl.sample(dist.Categorical(probs=weights[current] / weights[current].sum()), address)
    return propose


def joint_proposal(first: str, second: str, weights_first: np.ndarray, weights_second: np.ndarray):
    """Proposes `first` given its current value, then `second` given the proposed `first`."""
    @ppl.gen
    def propose(trace):
        a = int(trace.choices[first])
        new_a = ppl.sample(dist.Categorical(probs=weights_first[a] / weights_first[a].sum()), first)
        row = weights_second[(int(trace.choices[second]) + new_a) % len(weights_second)]
        ppl.sample(dist.Categorical(probs=row / row.sum()), second)
    return propose


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=3))
def test_selection_mh_on_each_address_is_reversible(net):
    for address in net.addresses():
        check(net, mh(address), reversible=True)


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=2))
def test_selection_mh_on_all_latents_is_reversible(net):
    check(net, mh(ppl.select(*net.addresses())), reversible=True)


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=3))
def test_gibbs_on_each_address_is_reversible(net):
    for address in net.addresses():
        check(net, gibbs(address), reversible=True)


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=3), data=st.data())
def test_custom_proposal_mh_is_reversible(net, data):
    address = data.draw(st.sampled_from(net.addresses()))
    weights = proposal_weights(data.draw, net.cardinalities[net.addresses().index(address)])
    check(net, mh_proposal(single_site_proposal(address, weights)), reversible=True)


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=2), data=st.data())
def test_joint_custom_proposal_mh_is_reversible(net, data):
    assume(len(net.addresses()) >= 2)
    first, second = data.draw(st.permutations(net.addresses()))[:2]
    card = dict(zip(net.addresses(), net.cardinalities))
    proposal = joint_proposal(first, second, proposal_weights(data.draw, card[first]), proposal_weights(data.draw, card[second]))
    check(net, mh_proposal(proposal), reversible=True)


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=2), data=st.data())
def test_mixture_and_repeat_of_reversible_kernels_are_reversible(net, data):
    kernels = [mh(a) for a in net.addresses()] + [gibbs(a) for a in net.addresses()]
    probs = [data.draw(st.floats(0.05, 1.0)) for _ in kernels]
    check(net, mixture(kernels, probs), reversible=True)
    check(net, repeat(gibbs(net.addresses()[0]), 2), reversible=True)


@settings(SETTINGS, max_examples=12)
@given(hmm=hmms(max_states=2, max_steps=3), data=st.data())
def test_kernels_on_nested_addresses_of_an_unfolded_hmm(hmm, data):
    """Choices inside ppl.unfold sub-traces: Gibbs and MH by address, MH on a whole step's subtree."""
    steps = range(hmm.steps)
    space = Space(hmm.unfolded(), [("steps", t, "x") for t in steps], [len(hmm.initial)] * hmm.steps)
    t = data.draw(st.sampled_from(list(steps)))
    check(space, gibbs(("steps", t, "x")), reversible=True)
    check(space, mh(("steps", t)), reversible=True)
    check(space, cycle(*[gibbs(("steps", s, "x")) for s in steps]), reversible=False)


@SETTINGS
@given(net=bayes_nets(max_latents=3, max_cardinality=2), data=st.data())
def test_cycles_are_stationary(net, data):
    order = data.draw(st.permutations(net.addresses()))
    kernels = [data.draw(st.sampled_from([mh, gibbs]))(a) for a in order]
    check(net, cycle(*kernels), reversible=False)


def sprinkler_net():
    """A fixed network whose posterior differs strongly from its prior."""
    from semantics.strategies import BayesNet

    return BayesNet(cardinalities=[2, 2], parents=[(), (0,)],
                    tables=[{(): np.array([0.8, 0.2])}, {(0,): np.array([0.6, 0.4]), (1,): np.array([0.99, 0.01])}],
                    observed=[(0, 1), (1, 1)], emissions=[np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.7, 0.3], [0.1, 0.9]])])


def test_the_check_detects_a_kernel_that_ignores_the_evidence():
    def always_accept(rng, trace):
        new, _ = trace.gen_fn.regenerate(rng, trace, ppl.select("x0"))
        return new, True

    net = Space.of(sprinkler_net())
    with pytest.raises(semantics.CheckFailed, match=r"not stationary: the posterior probability of \(\d, \d\) is"):
        check(net, always_accept, reversible=False)
    check(net, mh("x0"), reversible=True)


def test_the_check_detects_a_cycle_is_not_reversible():
    net = Space.of(sprinkler_net())
    check(net, cycle(gibbs("x0"), gibbs("x1")), reversible=False)
    with pytest.raises(semantics.CheckFailed, match=r"not reversible: pi\(x\) P\(x, y\) = .* but pi\(y\) P\(y, x\) ="):
        check(net, cycle(gibbs("x0"), gibbs("x1")), reversible=True)


def test_mcmc_driver_follows_the_transition_matrix_exactly():
    """mcmc(..., steps=2) under the enumerating rng: the final state is distributed as row x of P^2."""
    net = Space.of(sprinkler_net())
    kernel = mixture([mh("x0"), gibbs("x1")], [0.3, 0.7])
    rows = transition_matrix(net, kernel)
    start = {"x0": 1, "x1": 0}
    trace, _ = net.program.generate(ppl.rng(0), start)
    two_steps: dict = {}
    for z, p in rows[(1, 0)].items():
        for y, q in rows[z].items():
            two_steps[y] = two_steps.get(y, 0.0) + p * q
    final: dict = {}
    for outcome in semantics.explore(lambda r: net.key(mcmc(net.program, kernel=kernel, steps=2, init=trace, rng=r).traces[0][-1].choices)):
        final[outcome.value] = final.get(outcome.value, 0.0) + math.exp(outcome.log_prob)
    assert set(final) <= set(two_steps)
    assert max(abs(final.get(y, 0.0) - p) for y, p in two_steps.items()) < TOLERANCE
