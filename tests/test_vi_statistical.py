"""Statistical checks of VI where exactness is impossible: unbiased gradients, posterior recovery, bound ordering
(and, on the same models, jitted = eager estimates).

Conjugate Normal-Normal model with a Normal guide: the ELBO, log Z and the posterior are known in
closed form. Tolerances come from the CLT with the sample standard error (or a t quantile over
batch means) at a fixed false-alarm rate ALPHA, split over the quantities checked (Bonferroni).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

import ppl
from inference import vi
from ppl import dist

ALPHA = 1e-4
PRIOR_LOC, PRIOR_SD, NOISE_SD, X = 0.0, 1.0, 0.8, 1.3
POSTERIOR_VAR = 1.0 / (1.0 / PRIOR_SD**2 + 1.0 / NOISE_SD**2)
POSTERIOR_MEAN = POSTERIOR_VAR * (PRIOR_LOC / PRIOR_SD**2 + X / NOISE_SD**2)
LOG_Z = float(stats.norm.logpdf(X, PRIOR_LOC, math.sqrt(PRIOR_SD**2 + NOISE_SD**2)))


@ppl.gen
def normal_normal(x):
    z = ppl.sample(dist.Normal(PRIOR_LOC, PRIOR_SD), "z")
    ppl.observe(dist.Normal(z, NOISE_SD), x, "x")
    return z


@ppl.gen
def normal_guide(params):
    return ppl.sample(dist.Normal(params["m"], jnp.exp(params["log_s"])), "z")


def exact_elbo(params):
    """E_q[log p(z) + log p(x | z) - log q(z)] in closed form for q = N(m, s^2)."""
    m, s2 = params["m"], jnp.exp(2 * params["log_s"])
    prior = -0.5 * jnp.log(2 * jnp.pi * PRIOR_SD**2) - ((m - PRIOR_LOC) ** 2 + s2) / (2 * PRIOR_SD**2)
    likelihood = -0.5 * jnp.log(2 * jnp.pi * NOISE_SD**2) - ((X - m) ** 2 + s2) / (2 * NOISE_SD**2)
    entropy = 0.5 * jnp.log(2 * jnp.pi * jnp.e * s2)
    return prior + likelihood + entropy


PARAMS = {"m": jnp.array(-0.4), "log_s": jnp.array(0.3)}


def clt_bound(draws, quantities):
    """z * standard error of the mean of each column, z at false-alarm ALPHA split over `quantities` two-sided tests."""
    draws = np.asarray(draws)
    z = stats.norm.ppf(1 - ALPHA / (2 * quantities))
    return z * draws.std(axis=0, ddof=1) / math.sqrt(len(draws))


def gradient_draws(n, seed=0, **options):
    """n independent gradient estimates (rows: d/dm, d/dlog_s) of the ELBO at PARAMS."""
    def one(key):
        estimate = vi.gradient(normal_normal(X), normal_guide, PARAMS, key, **options)
        return jnp.stack([estimate.grad["m"], estimate.grad["log_s"]])
    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.PRNGKey(seed), n)))


def assert_unbiased(draws, exact):
    error = np.abs(draws.mean(axis=0) - exact)
    bound = clt_bound(draws, len(exact))
    assert np.all(error <= bound), f"mean {draws.mean(axis=0)} vs exact {exact}: |error| {error} > bound {bound}"


EXACT_GRADIENT = np.array([float(g) for g in (lambda g: (g["m"], g["log_s"]))(jax.grad(exact_elbo)(PARAMS))])


def test_reparameterization_gradient_is_unbiased():
    assert_unbiased(gradient_draws(2000), EXACT_GRADIENT)


def test_reinforce_gradient_with_leave_one_out_baseline_is_unbiased():
    draws = gradient_draws(2000, seed=1, estimators={"z": vi.reinforce()}, samples=2, baseline="loo")
    assert_unbiased(draws, EXACT_GRADIENT)


def test_reinforce_gradient_with_a_constant_baseline_is_unbiased():
    draws = gradient_draws(2000, seed=2, estimators={"z": vi.reinforce()}, baseline=-2.0)
    assert_unbiased(draws, EXACT_GRADIENT)


TABLE = jnp.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
EMIT = jnp.array([[0.9, 0.5, 0.2], [0.3, 0.6, 0.95]])


@ppl.gen
def discrete_net():
    """Discrete choices used only through jnp indexing, so sampled (traced) values work under jit and vmap."""
    a = ppl.sample(dist.Bernoulli(0.3), "a")
    b = ppl.sample(dist.Categorical(probs=TABLE[a]), "b")
    ppl.observe(dist.Bernoulli(EMIT[a, b]), 1, "o")


@ppl.gen
def discrete_guide(params):
    a = ppl.sample(dist.Bernoulli(logits=params["a"]), "a")
    ppl.sample(dist.Categorical(logits=params["b"][a]), "b")


DISCRETE_PARAMS = {"a": jnp.array(0.4), "b": jnp.array([[0.1, -0.3, 0.5], [0.2, 0.0, -0.7]])}


def assert_same_estimates(first, second):
    assert abs(float(first.value) - float(second.value)) <= 1e-12
    for a, b in zip(jax.tree.leaves(first.grad), jax.tree.leaves(second.grad)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)


def test_jitted_and_eager_enumeration_agree():
    eager = vi.gradient(discrete_net, discrete_guide, DISCRETE_PARAMS, 0)
    jitted = jax.jit(lambda p, k: vi.gradient(discrete_net, discrete_guide, p, k))(DISCRETE_PARAMS, jax.random.PRNGKey(0))
    assert_same_estimates(eager, jitted)


def test_reinforce_draws_are_the_same_eager_and_jitted():
    """Eagerly, REINFORCE values are concrete (Python control flow may use them); the estimate is the jitted one."""
    estimators = {"a": vi.reinforce(), "b": vi.reinforce()}

    def estimate(p, k):
        return vi.gradient(discrete_net, discrete_guide, p, k, estimators=estimators, baseline=-1.0)

    key = jax.random.PRNGKey(7)
    assert_same_estimates(estimate(DISCRETE_PARAMS, key), jax.jit(estimate)(DISCRETE_PARAMS, key))


@pytest.mark.parametrize("estimators", [
    {"a": vi.reinforce(), "b": vi.reinforce()},
    {"a": vi.reinforce()},  # b enumerated in each branch below a sampled a
    {"b": vi.reinforce()},  # a enumerated, b sampled in each of its branches
], ids=["both-reinforce", "enumerate-below-reinforce", "reinforce-below-enumerate"])
def test_discrete_reinforce_gradient_matches_the_exact_enumerated_gradient(estimators):
    params = DISCRETE_PARAMS
    exact = vi.gradient(discrete_net, discrete_guide, params, 0)  # all choices enumerated: exact (test_vi_exact)
    exact_flat = np.concatenate([np.ravel(g) for g in jax.tree.leaves(exact.grad)])

    def one(key):
        estimate = vi.gradient(discrete_net, discrete_guide, params, key, estimators=estimators, samples=2, baseline="loo")
        return jnp.concatenate([jnp.ravel(g) for g in jax.tree.leaves(estimate.grad)])

    draws = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.PRNGKey(3), 3000)))
    assert_unbiased(draws, exact_flat)


@pytest.mark.parametrize("estimators, learning_rate, burn_in, batch_length", [
    ({}, 0.1, 100, 50),  # reparameterized
    ({"z": vi.reinforce()}, 0.05, 300, 100),  # score function with vi.fit's running-average baseline
])
def test_sgd_on_the_elbo_recovers_the_exact_posterior(estimators, learning_rate, burn_in, batch_length):
    """Plain SGD on unbiased ELBO gradients: at stationarity E[grad ELBO(params_t)] = 0, and for this model
    grad_m ELBO = -(m - mean_post) / var_post and grad_log_s ELBO = 1 - s^2 / var_post, so the stationary
    expectations of m_t and s_t^2 are exactly the posterior mean and variance (the running-average baseline
    depends only on past steps, so the score-function gradient stays unbiased given the past). Their time
    averages are checked with a t test over batch means; the batches are far longer than the iterates'
    autocorrelation time, about 1 / (learning_rate * curvature) = 4 (reparam) and 8 (reinforce) steps here.
    """
    batches = 20
    trajectory = []

    def record(step, params, value):
        if step >= burn_in:
            trajectory.append((float(params["m"]), math.exp(2 * float(params["log_s"]))))

    result = vi.fit(normal_normal(X), normal_guide, {"m": -1.0, "log_s": 0.0}, optimizer=optax.sgd(learning_rate),
                    steps=burn_in + batches * batch_length, samples=4, rng=5, callback=record, estimators=estimators)
    assert result.jitted
    batch_means = np.asarray(trajectory).reshape(batches, batch_length, 2).mean(axis=1)
    t = stats.t.ppf(1 - ALPHA / 4, batches - 1)
    bound = t * batch_means.std(axis=0, ddof=1) / math.sqrt(batches)
    error = np.abs(batch_means.mean(axis=0) - np.array([POSTERIOR_MEAN, POSTERIOR_VAR]))
    assert np.all(error <= bound), f"(mean, var) {batch_means.mean(axis=0)} vs exact {(POSTERIOR_MEAN, POSTERIOR_VAR)}"


def test_iwae_lies_between_the_elbo_and_log_z_in_expectation():
    params = {"m": jnp.array(0.0), "log_s": jnp.array(math.log(1.2))}
    elbo_exact = float(exact_elbo(params))
    keys = jax.random.split(jax.random.PRNGKey(11), 4000)

    def draws(objective):
        return np.asarray(jax.jit(jax.vmap(lambda k: objective(normal_normal(X), normal_guide, params, k)))(keys))

    elbo_draws, iwae_draws = draws(vi.elbo), draws(vi.iwae(5))
    elbo_bound, iwae_bound = clt_bound(elbo_draws[:, None], 3)[0], clt_bound(iwae_draws[:, None], 3)[0]
    assert abs(elbo_draws.mean() - elbo_exact) <= elbo_bound  # the ELBO estimator is unbiased
    assert iwae_draws.mean() - elbo_exact > iwae_bound  # IWAE(5) is significantly above the ELBO ...
    assert iwae_draws.mean() <= LOG_Z + iwae_bound  # ... and not above log Z
    assert elbo_exact < LOG_Z
