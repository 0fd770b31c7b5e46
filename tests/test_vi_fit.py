"""vi.fit: jitted and eager steps, exact fits with enumerated gradients, a user-written objective."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ppl
import semantics
from inference import vi
from ppl import dist


@ppl.gen
def sprinkler():
    """Python control flow on the discrete choices: traceable only with concrete (enumerated) values."""
    rain = ppl.sample(dist.Bernoulli(0.2), "rain")
    sprinkler = ppl.sample(dist.Bernoulli(0.01 if rain else 0.4), "sprinkler")
    p_wet = {(1, 1): 0.99, (1, 0): 0.8, (0, 1): 0.9, (0, 0): 0.05}[(int(rain), int(sprinkler))]
    ppl.observe(dist.Bernoulli(p_wet), 1, "wet")


@ppl.gen
def sprinkler_guide(params):
    """q(rain) q(sprinkler | rain): rich enough to be the exact posterior."""
    rain = ppl.sample(dist.Bernoulli(logits=params["rain"]), "rain")
    ppl.sample(dist.Bernoulli(logits=params["sprinkler"][rain]), "sprinkler")


START = {"rain": 0.0, "sprinkler": jnp.zeros(2)}


def guide_probability(params, rain, sprinkler):
    p_rain = jax.nn.sigmoid(params["rain"])
    p_sprinkler = jax.nn.sigmoid(params["sprinkler"][rain])
    return float((p_rain if rain else 1 - p_rain) * (p_sprinkler if sprinkler else 1 - p_sprinkler))


def test_enumerated_fit_reaches_the_exact_posterior():
    """Exact gradients (every choice enumerated), so the fit is deterministic and jitted; the guide family
    contains the posterior, so the ELBO gap log Z - ELBO = KL(q || p) goes to 0, and by Pinsker the guide's
    probabilities are within sqrt(KL / 2) of the posterior's."""
    exact = semantics.enumerate(sprinkler)
    result = vi.fit(sprinkler, sprinkler_guide, START, optimizer=optax.adam(0.1), steps=300, rng=0)
    assert result.jitted
    assert np.all(np.diff(result.history[:20]) > 0)  # exact gradients: the first steps climb
    kl = exact.log_z - float(vi.gradient(sprinkler, sprinkler_guide, result.params, 0).value)  # exact ELBO
    assert -1e-12 <= kl <= 1e-3  # converged to within 1e-3 nats of the posterior
    posterior = exact.posterior().probabilities()
    for choices, p in posterior.items():
        q = guide_probability(result.params, choices["rain"], choices["sprinkler"])
        assert abs(q - p) <= math.sqrt(kl / 2) + 1e-12


def test_reinforce_on_control_flow_falls_back_to_eager_steps():
    """Sampled discrete values are traced under jit, so `0.01 if rain else 0.4` cannot be traced; 'auto'
    reruns the step eagerly, where REINFORCE values are concrete."""
    estimators = {"rain": vi.reinforce(), "sprinkler": vi.reinforce()}
    with pytest.warns(UserWarning, match="running each step eagerly"):
        result = vi.fit(sprinkler, sprinkler_guide, START, estimators=estimators, steps=3, rng=0)
    assert not result.jitted and result.jit_error
    assert result.history.shape == (3,) and np.all(np.isfinite(result.history))
    with pytest.raises(ppl.ModelError, match="cannot be traced under jax.jit.*jit=False"):
        vi.fit(sprinkler, sprinkler_guide, START, estimators=estimators, steps=1, jit=True)


def test_eager_and_jitted_fits_agree():
    jitted = vi.fit(sprinkler, sprinkler_guide, START, steps=4, rng=3)
    eager = vi.fit(sprinkler, sprinkler_guide, START, steps=4, rng=3, jit=False)
    assert jitted.jitted and not eager.jitted
    np.testing.assert_allclose(jitted.history, eager.history, rtol=0, atol=1e-12)
    for a, b in zip(jax.tree.leaves(jitted.params), jax.tree.leaves(eager.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)


def renyi(alpha, particles):
    """A user-written objective: the Renyi (VR) bound 1/(1-alpha) log mean_k w_k^(1-alpha); alpha = 0 is IWAE."""
    def objective(model, guide, params, key):
        log_w = []
        for particle_key in jax.random.split(key, particles):
            q = vi.sample_guide(guide, params, particle_key)
            log_w.append(vi.log_density(model, q.choices) - q.log_q)
        scaled = (1 - alpha) * jnp.stack(log_w)
        return (jax.nn.logsumexp(scaled) - math.log(particles)) / (1 - alpha)
    return objective


def test_a_user_written_objective():
    exact = semantics.enumerate(sprinkler)
    ours = vi.gradient(sprinkler, sprinkler_guide, START, 0, objective=renyi(0.0, 2))
    iwae = vi.gradient(sprinkler, sprinkler_guide, START, 0, objective=vi.iwae(2))
    assert abs(float(ours.value) - float(iwae.value)) <= 1e-12
    for a, b in zip(jax.tree.leaves(ours.grad), jax.tree.leaves(iwae.grad)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)
    half = vi.gradient(sprinkler, sprinkler_guide, START, 0, objective=renyi(0.5, 2))
    elbo = vi.gradient(sprinkler, sprinkler_guide, START, 0)
    # Exact expectations (all choices enumerated): ELBO <= VR_0.5 <= IWAE_2 = VR_0 <= log Z (power-mean inequality).
    assert float(elbo.value) <= float(half.value) <= float(iwae.value) <= exact.log_z


def test_zero_steps_returns_the_initial_parameters():
    result = vi.fit(sprinkler, sprinkler_guide, START, steps=0)
    assert result.history.shape == (0,)
    np.testing.assert_array_equal(np.asarray(result.params["sprinkler"]), np.zeros(2))


def test_sample_guide_draws_from_the_guide_outside_a_gradient_estimate():
    """Posterior draws from a (fitted) guide: finite choices are sampled, not enumerated; frequency within a CLT bound."""
    params = {"rain": jnp.array(0.7), "sprinkler": jnp.array([-1.0, 2.0])}
    one = vi.sample_guide(sprinkler_guide, params, jax.random.PRNGKey(0))
    assert set(one.choices.flat()) == {"rain", "sprinkler"} and isinstance(one.choices["rain"], int)
    assert float(one.log_q) == pytest.approx(math.log(guide_probability(params, one.choices["rain"], one.choices["sprinkler"])))
    n = 4000
    rain = jax.jit(jax.vmap(lambda k: vi.sample_guide(sprinkler_guide, params, k).choices["rain"]))(
        jax.random.split(jax.random.PRNGKey(1), n))
    p = float(jax.nn.sigmoid(params["rain"]))
    assert abs(float(np.mean(rain)) - p) <= 3.89 * math.sqrt(p * (1 - p) / n)  # two-sided false alarm 1e-4
