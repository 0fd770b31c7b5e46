"""Distributions for models: numpyro's, plus `Choice` over Python values.

`from ppl import dist; dist.Bernoulli(0.2)` is numpyro's Bernoulli; raw numpyro objects work
wherever a distribution is taken.
"""
from numpyro.distributions import *  # noqa: F401,F403  (the namespace users expect)

from ppl.distributions import Choice  # noqa: F401
