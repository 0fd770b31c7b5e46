"""Distributions for models: numpyro's, plus `Choice` over Python values.

`from ppl import dist; dist.Bernoulli(0.2)` is numpyro's Bernoulli; raw numpyro objects work
wherever a distribution is taken. Parameters may be plain Python lists or tuples of numbers
(`dist.Categorical(probs=[0.5, 0.3, 0.2])`): each constructor here turns them into arrays
before numpyro sees them, and returns numpyro's own distribution object.
"""
import inspect as _inspect

import numpyro.distributions as _numpyro
from numpyro.distributions import *  # noqa: F401,F403  (the namespace users expect)

from ppl.distributions import Choice  # noqa: F401
from ppl.list_parameters import ListParameters as _ListParameters


def _is_constructor(name: str, value: object) -> bool:
    if not name[:1].isupper() or value is _numpyro.Distribution:
        return False
    return _inspect.isfunction(value) or (_inspect.isclass(value) and issubclass(value, _numpyro.Distribution))


for _name in _numpyro.__all__:
    _value = getattr(_numpyro, _name)
    if _is_constructor(_name, _value):
        globals()[_name] = _ListParameters(_value)
