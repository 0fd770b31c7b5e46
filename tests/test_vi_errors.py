"""Bad input to VI gets a clear error naming the address or argument at fault."""
import jax.numpy as jnp
import pytest

import ppl
from inference import vi
from ppl import dist


@ppl.gen
def model():
    z = ppl.sample(dist.Normal(0.0, 1.0), "z")
    c = ppl.sample(dist.Bernoulli(0.3), "c")
    ppl.observe(dist.Normal(z + c, 1.0), 0.5, "x")


@ppl.gen
def guide(params):
    ppl.sample(dist.Normal(params["m"], 1.0), "z")
    ppl.sample(dist.Bernoulli(logits=params["c"]), "c")


PARAMS = {"m": 0.0, "c": 0.0}


def test_a_guide_address_the_model_lacks():
    @ppl.gen
    def extra(params):
        ppl.sample(dist.Normal(params["m"], 1.0), "z")
        ppl.sample(dist.Bernoulli(0.5), "c")
        ppl.sample(dist.Normal(0.0, 1.0), "w")

    with pytest.raises(ppl.AddressError, match="guide proposes address 'w', which the model does not sample"):
        vi.gradient(model, extra, PARAMS, 0)
    with pytest.raises(ppl.AddressError, match="guide proposes address 'w'"):  # not mistaken for a tracing failure
        vi.fit(model, extra, PARAMS, steps=1, jit=True)


def test_a_model_latent_the_guide_does_not_propose():
    @ppl.gen
    def partial(params):
        ppl.sample(dist.Normal(params["m"], 1.0), "z")

    with pytest.raises(ppl.AddressError, match="model samples address 'c', but the guide proposes no value"):
        vi.gradient(model, partial, PARAMS, 0)


def test_reparam_requested_for_a_discrete_choice():
    with pytest.raises(vi.EstimatorError, match=r"reparam\(\) requested at address 'c'.*Bernoulli.*not reparameterizable"):
        vi.gradient(model, guide, PARAMS, 0, estimators={"c": vi.reparam()})


def test_enumeration_requested_for_a_continuous_choice():
    with pytest.raises(vi.EstimatorError, match=r"enumerate\(\) requested at address 'z'.*no finite support"):
        vi.gradient(model, guide, PARAMS, 0, estimators={"z": vi.enumerate()})


def test_an_estimator_for_an_address_the_guide_lacks():
    with pytest.raises(vi.EstimatorError, match="estimator is given for address 'zz'"):
        vi.gradient(model, guide, PARAMS, 0, estimators={"zz": vi.reinforce()})


def test_an_unknown_estimator_name():
    with pytest.raises(vi.EstimatorError, match="unknown gradient estimator 'score'"):
        vi.gradient(model, guide, PARAMS, 0, estimators={"z": "score"})


def test_a_guide_that_observes():
    @ppl.gen
    def observing(params):
        ppl.sample(dist.Normal(params["m"], 1.0), "z")
        ppl.sample(dist.Bernoulli(0.5), "c")
        ppl.observe(dist.Normal(0.0, 1.0), 0.1, "y")

    with pytest.raises(ppl.ModelError, match="guide observes at 'y'"):
        vi.gradient(model, observing, PARAMS, 0)


def test_too_many_enumerated_branches():
    @ppl.gen
    def many():
        for i in range(12):
            ppl.sample(dist.Bernoulli(0.5), i)

    @ppl.gen
    def many_guide(params):
        for i in range(12):
            ppl.sample(dist.Bernoulli(logits=params["l"]), i)

    with pytest.raises(vi.EstimatorError, match="more than max_branches=64.*vi.reinforce"):
        vi.gradient(many, many_guide, {"l": 0.0}, 0, max_branches=64)


def test_objective_must_return_a_scalar():
    def vector_objective(model, guide, params, key):
        q = vi.sample_guide(guide, params, key)
        return jnp.stack([q.log_q, q.log_q])

    with pytest.raises(TypeError, match="objective vector_objective must return a scalar"):
        vi.gradient(model, guide, PARAMS, 0, objective=vector_objective)


@pytest.mark.parametrize("kwargs, message", [
    ({"samples": 0}, "samples must be an int >= 1"),
    ({"baseline": "loo"}, "needs samples >= 2"),
    ({"baseline": "median"}, "baseline must be"),
])
def test_bad_gradient_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vi.gradient(model, guide, PARAMS, 0, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": -1}, "steps must be an int >= 0"),
    ({"jit": "yes"}, "jit must be True, False or 'auto'"),
    ({"baseline": "mean"}, "baseline must be 'ema', 'loo' or None"),
])
def test_bad_fit_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vi.fit(model, guide, PARAMS, **kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="particles must be an int >= 1"):
        vi.iwae(0)
    with pytest.raises(TypeError, match="pass the guide itself"):
        vi.gradient(model, guide(PARAMS), PARAMS, 0)
    with pytest.raises(TypeError, match="model must be a generative function"):
        vi.gradient(lambda: None, guide, PARAMS, 0)
    with pytest.raises(TypeError, match=r"leaf at \['m'\] is str"):
        vi.gradient(model, guide, {"m": "zero", "c": 0.0}, 0)


def test_a_guide_outside_the_model_support_stops_the_fit():
    @ppl.gen
    def positive():
        scale = ppl.sample(dist.HalfNormal(1.0), "scale")
        ppl.observe(dist.Normal(0.0, scale), 0.3, "x")

    @ppl.gen
    def normal_guide(params):
        ppl.sample(dist.Normal(params["m"], 1.0), "scale")  # proposes negative scales

    with pytest.raises(ppl.ModelError, match=r"objective is (-inf|nan) at step 0: the guide proposes values with zero model density"):
        vi.fit(positive, normal_guide, {"m": -3.0}, steps=5, rng=1)


def test_an_override_covers_the_subtree_below_its_address():
    @ppl.gen
    def coin():
        return ppl.sample(dist.Bernoulli(0.5), "b")

    @ppl.gen
    def plated():
        ppl.sample(ppl.map(coin, 2)(), "plate")

    @ppl.gen
    def plated_guide(params):
        for j in range(2):
            ppl.sample(dist.Bernoulli(logits=params["l"]), ("plate", j, "b"))

    with pytest.raises(vi.EstimatorError, match=r"reparam\(\) requested at address \('plate', 0, 'b'\)"):
        vi.gradient(plated, plated_guide, {"l": 0.0}, 0, estimators={"plate": vi.reparam()})
    estimate = vi.gradient(plated, plated_guide, {"l": 0.0}, 0, estimators={"plate": vi.reinforce()})
    assert float(estimate.value) == pytest.approx(0.0, abs=1e-12)  # q equals the prior: log p - log q = 0
