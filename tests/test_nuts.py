"""NUTS/HMC over continuous choices: the JAX density against ppl's own, and conjugate posteriors.

The unconstrained log density minus its log-Jacobian must equal `g.assess` of the same
choices (exactly, 1e-9), and the Jacobian term must equal log|det| of the constraining map's
Jacobian computed by JAX. NUTS is checked on conjugate models with known posteriors: each
posterior mean estimate must lie within z * sd / sqrt(ESS) of the truth, with ESS from ArviZ
and z for a 1e-3 false-alarm rate over all checks of a test (fixed seeds).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import dist
from ppl.choicemap import ChoiceMap
from numpyro.distributions.transforms import biject_to

from inference.jax_density import UnconstrainedDensity, traced_parameters_supported
from inference.nuts import nuts
from extras import require

needs_traced_parameters = pytest.mark.skipif(
    not traced_parameters_supported(),
    reason="ppl validates distribution parameters eagerly and rejects JAX tracers (the hook described in docs/mcmc.md)")

FALSE_ALARM = 1e-3
STICK = biject_to(dist.constraints.simplex)


@ppl.gen
def point(scale):
    return ppl.sample(dist.Normal(0.0, scale), "z")


@ppl.gen
def many_supports(data):
    theta = ppl.sample(dist.Gamma(2.0, 1.0), "theta")
    u = ppl.sample(dist.Uniform(0.0, theta), "u")            # support depends on theta
    p = ppl.sample(dist.Beta(2.0, 2.0), "p")
    w = ppl.sample(dist.Dirichlet(jnp.array([1.0, 2.0, 3.0])), "w")
    k = ppl.sample(dist.Bernoulli(p), "k")                   # discrete: constrained below
    z = ppl.sample(point(1.0 + k), "inner")                   # nested call: choice at ("inner", "z")
    loc = ppl.sample(dist.Normal(jnp.zeros(2), 1.0), "loc")  # a vector choice
    ppl.observe(dist.Normal(u * loc[0] + z + w[0], 1.0 + p), data, "data")
    ppl.factor(-0.5 * loc[1] ** 2)
    return theta


DATA = np.array([0.4, -1.1, 2.3])


def test_unconstrained_density_minus_jacobian_is_the_model_density():
    constraints = {"k": 1}
    trace, _ = many_supports.generate(ppl.rng(3), constraints, DATA)
    density = UnconstrainedDensity.from_trace(many_supports, (DATA,), ChoiceMap(constraints), trace)
    assert [s.path for s in density.sites] == [("theta",), ("u",), ("p",), ("w",), ("inner", "z"), ("loc",)]
    assert density.dim == 1 + 1 + 1 + 2 + 1 + 2
    constrained = jax.jit(density.constrained) if traced_parameters_supported() else density.constrained
    generator = np.random.default_rng(0)
    for _ in range(3):
        flat = jnp.asarray(generator.uniform(-2, 2, density.dim))
        values, log_p = constrained(flat)
        choices = dict(constraints)
        choices.update({s.path: np.asarray(v) for s, v in zip(density.sites, values)})
        expected, _ = many_supports.assess(ChoiceMap(choices), DATA)
        assert abs(float(log_p) - expected) < 1e-9
    back = density.unconstrain(ChoiceMap(choices))
    assert np.max(np.abs(back - np.asarray(flat))) < 1e-9


@needs_traced_parameters
def test_log_jacobian_matches_the_determinant_of_the_constraining_map():
    trace, _ = many_supports.generate(ppl.rng(1), {"k": 0}, DATA)
    density = UnconstrainedDensity.from_trace(many_supports, (DATA,), ChoiceMap({"k": 0}), trace)
    square = [s for s in density.sites if s.path != ("w",)]  # the simplex map changes dimension

    def constrain(flat):
        return jnp.concatenate([jnp.reshape(v, -1) for s, v in zip(density.sites, density.constrained(flat)[0]) if s in square])

    w_site = next(s for s in density.sites if s.path == ("w",))
    keep = np.array([i for i in range(density.dim) if not w_site.offset <= i < w_site.offset + w_site.size])

    @jax.jit
    def both_sides(flat):
        _, log_det = jnp.linalg.slogdet(jax.jacfwd(constrain)(flat)[:, keep])
        u_w = flat[w_site.offset:w_site.offset + w_site.size]
        simplex = STICK.log_abs_det_jacobian(u_w, STICK(u_w))  # that site's term, as numpyro defines it
        return density.log_density(flat) - density.constrained(flat)[1], log_det + simplex

    generator = np.random.default_rng(1)
    for _ in range(3):
        jacobian_term, expected = both_sides(jnp.asarray(generator.uniform(-2, 2, density.dim)))
        assert abs(float(jacobian_term) - float(expected)) < 1e-9


Y = np.array([1.3, 0.2, 2.1, 1.7, 0.9, 1.4, 2.6, 0.8])
FLIPS = np.array([1, 0, 1, 1, 1, 0, 1, 1, 0, 1])
COUNTS = np.array([3, 5, 2, 4, 6, 3])
NOISE = 0.7


@ppl.gen
def three_conjugate_models(y, flips, counts):
    """Normal-Normal (known noise), Beta-Bernoulli and Gamma-Poisson, independent: one NUTS compile for all three."""
    mu = ppl.sample(dist.Normal(1.0, 2.0), "mu")
    ppl.observe(dist.Normal(mu, NOISE), y, "y")
    p = ppl.sample(dist.Beta(2.0, 3.0), "p")
    ppl.observe(dist.Bernoulli(p), flips, "flips")
    lam = ppl.sample(dist.Gamma(3.0, 2.0), "lam")
    ppl.observe(dist.Poisson(lam), counts, "counts")


def exact_posteriors() -> dict:
    precision = 1 / 2.0 ** 2 + len(Y) / NOISE ** 2
    normal = stats.norm((1.0 / 2.0 ** 2 + Y.sum() / NOISE ** 2) / precision, precision ** -0.5)
    beta = stats.beta(2.0 + FLIPS.sum(), 3.0 + len(FLIPS) - FLIPS.sum())
    gamma = stats.gamma(3.0 + COUNTS.sum(), scale=1 / (2.0 + len(COUNTS)))
    return {"mu": normal, "p": beta, "lam": gamma}


def check_posterior_means(result) -> None:
    truth = exact_posteriors()
    z = stats.norm.isf(FALSE_ALARM / (2 * len(truth)))  # two-sided, Bonferroni over the checks
    for address, posterior in truth.items():
        draws = result.samples(address)
        ess = float(result.ess(address))
        assert ess > 20, (address, ess)
        bound = z * posterior.std() / np.sqrt(ess)
        assert abs(draws.mean() - posterior.mean()) < bound, (address, draws.mean(), posterior.mean(), bound)


@needs_traced_parameters
def test_nuts_recovers_conjugate_posterior_means():
    require("arviz", "mcmc")  # ESS/R-hat and summaries come from ArviZ
    result = nuts(three_conjugate_models, Y, FLIPS, COUNTS, steps=400, warmup=300, chains=2, rng=11)
    assert result.samples("mu").shape == (2, 400)
    assert result.stats["diverging"].sum() == 0
    check_posterior_means(result)
    trace = result.traces[1][7]
    assert abs(trace.score - result.stats["lp"][1, 7]) < 1e-9
    assert trace.choices["p"] == result.samples("p")[1, 7]
    data = result.to_arviz()
    assert set(data.posterior.data_vars) == {"mu", "p", "lam"}
    assert {"diverging", "acceptance_rate", "lp"} <= set(data.sample_stats.data_vars)


@needs_traced_parameters
def test_hmc_recovers_conjugate_posterior_means():
    require("arviz", "mcmc")  # ESS/R-hat and summaries come from ArviZ
    result = nuts(three_conjugate_models, Y, FLIPS, COUNTS, steps=400, warmup=300, chains=2, rng=5, algorithm="hmc")
    check_posterior_means(result)
