"""The numpyro adapter: log densities equal numpyro's, samples follow the distribution.

Sampling checks are goodness-of-fit tests at a fixed false-alarm rate (alpha = 1e-4) with
fixed seeds, so a correct sampler fails with probability 1e-4 per seed and a wrong one is
caught with overwhelming probability at n = 4000.
"""
import math

import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import dist
from ppl.distributions import as_primitive

ALPHA = 1e-4
N = 4000

FINITE = [
    ("Bernoulli", dist.Bernoulli(0.3), lambda k: stats.bernoulli(0.3).pmf(k)),
    ("Categorical", dist.Categorical(probs=np.array([0.2, 0.5, 0.3])), lambda k: [0.2, 0.5, 0.3][k]),
    ("Binomial", dist.Binomial(5, 0.35), lambda k: stats.binom(5, 0.35).pmf(k)),
]
COUNTABLE = [
    ("Poisson", dist.Poisson(2.5), stats.poisson(2.5)),
    ("Geometric", dist.Geometric(0.3), stats.geom(0.3, loc=-1)),  # numpyro counts failures before the first success
]
CONTINUOUS = [
    ("Normal", dist.Normal(1.0, 2.0), stats.norm(1.0, 2.0)),
    ("Beta", dist.Beta(2.0, 5.0), stats.beta(2.0, 5.0)),
    ("Gamma", dist.Gamma(3.0, 2.0), stats.gamma(3.0, scale=0.5)),
    ("Uniform", dist.Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0)),
]


def _draws(d, seed=0, n=N):
    r = ppl.rng(seed)
    p = as_primitive(d)
    return [p.sample(r) for _ in range(n)]


@pytest.mark.parametrize("name,d,pmf", FINITE, ids=[f[0] for f in FINITE])
def test_finite_distributions(name, d, pmf):
    p = as_primitive(d)
    support = p.enumerate_support()
    assert sum(math.exp(p.log_prob(v)) for v in support) == pytest.approx(1.0, abs=1e-12)
    for v in support:
        assert p.log_prob(v) == pytest.approx(float(d.log_prob(v)), abs=1e-9)
        assert math.exp(p.log_prob(v)) == pytest.approx(pmf(v), abs=1e-9)
    draws = _draws(d)
    observed = np.array([draws.count(v) for v in support])
    expected = np.array([N * pmf(v) for v in support])
    assert stats.chisquare(observed, expected).pvalue > ALPHA


@pytest.mark.parametrize("name,d,ref", COUNTABLE, ids=[c[0] for c in COUNTABLE])
def test_countable_distributions(name, d, ref):
    p = as_primitive(d)
    assert p.enumerate_support() is None
    for v in range(8):
        assert p.log_prob(v) == pytest.approx(float(d.log_prob(v)), abs=1e-9)
        assert p.log_prob(v) == pytest.approx(ref.logpmf(v), abs=1e-9)
    draws = np.array(_draws(d))
    top = 6
    observed = np.array([(draws == k).sum() for k in range(top)] + [(draws >= top).sum()])
    expected = N * np.array([ref.pmf(k) for k in range(top)] + [ref.sf(top - 1)])
    assert stats.chisquare(observed, expected).pvalue > ALPHA


@pytest.mark.parametrize("name,d,ref", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_distributions(name, d, ref):
    p = as_primitive(d)
    assert p.enumerate_support() is None
    for q in (0.1, 0.5, 0.9):
        v = float(ref.ppf(q))
        assert p.log_prob(v) == pytest.approx(float(d.log_prob(v)), abs=1e-9)
        assert p.log_prob(v) == pytest.approx(ref.logpdf(v), abs=1e-9)
    assert stats.kstest(_draws(d), ref.cdf).pvalue > ALPHA


def test_dirichlet():
    d = dist.Dirichlet(np.array([1.0, 2.0, 3.0]))
    p = as_primitive(d)
    v = np.array([0.2, 0.3, 0.5])
    assert p.log_prob(v) == pytest.approx(float(d.log_prob(v)), abs=1e-9)
    assert p.log_prob(v) == pytest.approx(stats.dirichlet([1.0, 2.0, 3.0]).logpdf(v), abs=1e-9)
    draws = np.array(_draws(d))
    assert np.allclose(draws.sum(axis=1), 1.0)
    assert stats.kstest(draws[:, 2], stats.beta(3.0, 3.0).cdf).pvalue > ALPHA  # aggregation property


def test_any_numpyro_distribution_through_the_fallback():
    d = dist.StudentT(4.0, 1.0, 2.0)  # no fast path: numpyro's own sampler and log_prob
    p = as_primitive(d)
    assert p.log_prob(0.3) == pytest.approx(stats.t(4.0, 1.0, 2.0).logpdf(0.3), abs=1e-9)
    assert stats.kstest(_draws(d, n=1000), stats.t(4.0, 1.0, 2.0).cdf).pvalue > ALPHA


def test_batched_bernoulli_enumerates_the_product_support():
    p = as_primitive(dist.Bernoulli(probs=np.array([0.2, 0.7])))
    support = p.enumerate_support()
    assert len(support) == 4
    assert sum(math.exp(p.log_prob(v)) for v in support) == pytest.approx(1.0, abs=1e-12)


def test_choice_over_python_values():
    c = ppl.Choice({"red": 1.0, "green": 3.0})
    assert c.enumerate_support() == ["red", "green"]
    assert math.exp(c.log_prob("green")) == pytest.approx(0.75)
    assert c.log_prob("blue") == -math.inf and not c.in_support("blue")
    draws = [c.sample(ppl.rng(7)) for _ in range(1)]
    assert draws[0] in ("red", "green")
    with pytest.raises(ppl.ParameterError, match="probabilities"):
        ppl.Choice(["a", "b"], [0.5, -1.0])
    with pytest.raises(ppl.ParameterError, match="2 values"):
        ppl.Choice(["a", "b"], [1.0])


def test_support_checks():
    assert not as_primitive(dist.Bernoulli(0.5)).in_support(2)
    assert not as_primitive(dist.Poisson(1.0)).in_support(-1)
    assert not as_primitive(dist.Poisson(1.0)).in_support(0.5)
    assert not as_primitive(dist.Beta(1.0, 1.0)).in_support(1.5)
    assert as_primitive(dist.Normal(0.0, 1.0)).in_support(1e6)


def test_parameters_may_be_plain_python_lists():
    """Lists and tuples become arrays before numpyro sees them; the object is numpyro's own."""
    import numpyro.distributions as nd

    categorical = dist.Categorical(probs=[0.5, 0.3, 0.2])
    assert isinstance(categorical, nd.CategoricalProbs)
    np.testing.assert_allclose(np.asarray(categorical.probs), [0.5, 0.3, 0.2])
    assert as_primitive(categorical).log_prob(1) == pytest.approx(math.log(0.3), abs=1e-12)
    mvn = dist.MultivariateNormal([0.0, 1.0], [[1.0, 0.0], [0.0, 4.0]])
    assert as_primitive(mvn).log_prob(np.array([0.0, 1.0])) == pytest.approx(
        stats.multivariate_normal([0.0, 1.0], [[1.0, 0.0], [0.0, 4.0]]).logpdf([0.0, 1.0]), abs=1e-9)
    assert dist.Normal(loc=(0.0, 1.0), scale=1.0).batch_shape == (2,)
    assert dist.Dirichlet([1.0, 2.0, 3.0]).event_shape == (3,)
    # the names still stand for numpyro's classes: isinstance, class attributes and subclassing
    assert isinstance(dist.Normal(0.0, 1.0), dist.Normal) and dist.Normal.arg_constraints is nd.Normal.arg_constraints

    class Shifted(dist.Normal):
        pass

    assert isinstance(Shifted(0.0, 1.0), nd.Normal)
    # a list of distributions (a mixture's components) is passed through unchanged
    mixture = dist.Mixture(dist.Categorical(probs=[0.5, 0.5]), [dist.Normal(0.0, 1.0), dist.Normal(3.0, 1.0)])
    assert float(mixture.log_prob(0.0)) == pytest.approx(
        math.log(0.5 * stats.norm(0, 1).pdf(0.0) + 0.5 * stats.norm(3, 1).pdf(0.0)), abs=1e-6)


def test_a_list_parameter_in_a_program_enumerates_exactly():
    import semantics

    @ppl.gen
    def three_way():
        return ppl.sample(dist.Categorical(probs=[0.5, 0.3, 0.2]), "x")

    assert semantics.enumerate(three_way).marginal("x") == pytest.approx({0: 0.5, 1: 0.3, 2: 0.2}, abs=1e-12)
