"""Bad input to MCMC gets a clear error naming the problem (keyword, address, kernel)."""
from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import AddressError, ModelError, NotFiniteError
from inference.jax_density import traced_parameters_supported
from inference.kernel_combinators import cycle, mixture, repeat
from inference.kernels import gibbs, mh, mh_proposal
from inference.mcmc import mcmc
from inference.nuts import nuts


@ppl.gen
def coin():
    bias = ppl.sample(dist.Beta(2.0, 2.0), "bias")
    first = ppl.sample(dist.Bernoulli(0.5), "first")
    ppl.observe(dist.Bernoulli(bias), 1, "flip")
    return first


@ppl.gen
def branching():
    n = ppl.sample(dist.Categorical(probs=np.array([0.5, 0.5])), "n")
    for i in range(n + 1):
        ppl.sample(dist.Bernoulli(0.3), ("x", i))


def a_trace():
    return coin.simulate(ppl.rng(0))


def test_selection_naming_no_address_of_the_trace():
    with pytest.raises(AddressError, match=r"mh\('bais'\): the selection names no choice of the trace; its addresses are \['bias', 'first'\]"):
        mh("bais")(ppl.rng(0), a_trace())
    with pytest.raises(AddressError, match="names no choice"):
        mcmc(coin, kernel=mh(ppl.select("nope", "other")), steps=3)


def test_mh_needs_a_selection():
    with pytest.raises(ValueError, match="mh needs a selection"):
        mh()
    with pytest.raises(TypeError, match="one Selection or several addresses"):
        mh(ppl.select("bias"), "first")


@pytest.mark.parametrize("keyword, value, error, message", [
    ("steps", 0, ValueError, "steps must be >= 1, got 0"),
    ("steps", 2.5, TypeError, "steps must be an int"),
    ("chains", 0, ValueError, "chains must be >= 1"),
    ("chains", True, TypeError, "chains must be an int"),
    ("burn_in", -1, ValueError, "burn_in must be >= 0"),
    ("kernel", "mh", TypeError, "mcmc: kernel must be a kernel"),
])
def test_invalid_mcmc_arguments(keyword, value, error, message):
    arguments = {"kernel": mh("bias"), "steps": 5, "chains": 1}
    arguments[keyword] = value
    with pytest.raises(error, match=message):
        mcmc(coin, **arguments)


def test_mcmc_needs_a_generative_function():
    with pytest.raises(TypeError, match="mcmc needs a generative function"):
        mcmc(lambda: 0, kernel=mh("x"), steps=1)


def test_a_kernel_returning_the_wrong_thing():
    with pytest.raises(TypeError, match=r"must return \(trace, accepted\) or a trace, got NoneType"):
        mcmc(coin, kernel=lambda rng, trace: None, steps=2)


def test_a_kernel_that_changes_a_constrained_choice():
    with pytest.raises(ModelError, match="changed the constrained choice at address 'first'"):
        mcmc(coin, kernel=mh(ppl.select("bias", "first")), steps=50, constraints={"first": 1})


def test_bad_initial_states():
    trace = a_trace()
    with pytest.raises(ValueError, match="init: 1 initial traces for 2 chains"):
        mcmc(coin, kernel=mh("bias"), steps=2, chains=2, init=[trace])
    other = branching.simulate(ppl.rng(0))
    with pytest.raises(ValueError, match="init\\[0\\] is a trace of branching"):
        mcmc(coin, kernel=mh("bias"), steps=2, init=other)
    with pytest.raises(TypeError, match="init must be a trace"):
        mcmc(coin, kernel=mh("bias"), steps=2, init=3)

    @ppl.gen
    def impossible():
        x = ppl.sample(dist.Bernoulli(0.5), "x")
        ppl.condition(x == 2)

    with pytest.raises(ModelError, match="no trace with positive probability in 5 tries"):
        mcmc(impossible, kernel=mh("x"), steps=2, init_tries=5)


def test_combinator_arguments():
    with pytest.raises(ValueError, match="repeat: n must be a positive int"):
        repeat(mh("bias"), 0)
    with pytest.raises(TypeError, match="repeat: the kernel must be a kernel"):
        repeat(3, 2)
    with pytest.raises(ValueError, match="cycle needs at least one kernel"):
        cycle()
    with pytest.raises(TypeError, match="cycle: kernel 1 must be a kernel"):
        cycle(mh("bias"), None)
    with pytest.raises(ValueError, match="2 kernels but probabilities of shape"):
        mixture([mh("bias"), mh("first")], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        mixture([mh("bias"), mh("first")], [1.0, -0.5])


def test_gibbs_errors_name_the_address():
    with pytest.raises(AddressError, match="no choice at address 'frist'"):
        gibbs("frist")(ppl.rng(0), a_trace())
    with pytest.raises(NotFiniteError, match="'bias'.*no finite support"):
        gibbs("bias")(ppl.rng(0), a_trace())
    trace, _ = branching.generate(ppl.rng(0), {"n": 0})
    with pytest.raises(ModelError, match="changes which other choices"):
        gibbs("n")(ppl.rng(0), trace)


def test_custom_proposal_errors():
    with pytest.raises(TypeError, match="mh_proposal needs a generative function"):
        mh_proposal(lambda trace: None)

    @ppl.gen
    def misspelled(trace):
        ppl.sample(dist.Beta(1.0, 1.0), "biass")

    with pytest.raises(AddressError, match="proposed a choice the model lacks.*'biass'"):
        mh_proposal(misspelled)(ppl.rng(0), a_trace())

    @ppl.gen
    def one_way(trace):  # proposes x[1] only when the trace lacks it: cannot propose the way back
        if ("x", 1) not in trace.choices:
            ppl.sample(dist.Bernoulli(0.5), "n")
            ppl.sample(dist.Bernoulli(0.5), ("x", 1))
        else:
            ppl.sample(dist.Bernoulli(0.5), ("x", 0))

    trace, _ = branching.generate(ppl.rng(0), {"n": 0})
    with pytest.raises(AddressError, match="one_way\\): the proposal cannot propose the way back"):
        for seed in range(20):
            mh_proposal(one_way)(ppl.rng(seed), trace)


def test_nuts_arguments_and_discrete_choices():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        nuts(coin, steps=0)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        nuts(coin, algorithm="metropolis")
    with pytest.raises(ValueError, match="target_accept must be a number in \\(0, 1\\)"):
        nuts(coin, target_accept=1.5)
    with pytest.raises(ModelError, match="choice at 'first'.*is discrete"):
        nuts(coin, steps=5, warmup=5)
    with pytest.raises(ModelError, match="no continuous unconstrained choices"):
        nuts(coin, steps=5, warmup=5, constraints={"first": 1, "bias": 0.5})


@pytest.mark.skipif(not traced_parameters_supported(), reason="needs the ppl hook for traced parameters (docs/mcmc.md)")
def test_nuts_on_a_body_that_branches_on_a_continuous_choice():
    @ppl.gen
    def branches():
        x = ppl.sample(dist.Normal(0.0, 1.0), "x")
        if x > 0:
            ppl.factor(1.0)

    with pytest.raises(ModelError, match="not JAX-traceable"):
        nuts(branches, steps=5, warmup=5, chains=1)
