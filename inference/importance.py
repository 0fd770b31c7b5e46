"""Importance sampling and sampling-importance-resampling over generative functions.

With the prior as proposal each particle is `model.generate(rng, {}, *args)`: the choices come
from the prior and the weight is the evidence (observations, factors, conditions). With a
custom proposal q (a generative function over some of the model's addresses), each particle
is q.simulate, then model.generate constrained to q's choices, weighted by
  log w = [log p(all) - log prior(unproposed choices)] - log q(proposed choices).
Only q's choice density counts: q's own observations or factors do not change what it samples.
A `ppl.Model` runs as SMC that never resamples.
"""
from __future__ import annotations

import math
from typing import Any


from inference.arguments import check_particles, check_scheme
from inference.resampling import resample
from inference.result import Particle, Result
from inference.weighting import log_mean_exp
from ppl.choicemap import EMPTY
from ppl.errors import AddressError, SupportError
from ppl.generative import GenerativeFunction
from ppl.model import Model
from ppl.rng import rng as as_rng


def importance(model: Any, *args: Any, particles: int = 1000, proposal: GenerativeFunction | None = None,
               proposal_args: tuple = (), rng: Any = 0) -> Result:
    """Importance sampling of `model(*args)` with the prior or `proposal(*proposal_args)`."""
    n = check_particles(particles)
    if isinstance(model, Model):
        if proposal is not None:
            raise TypeError("importance: a custom proposal needs a generative function; a ppl.Model proposes inside its steps")
        from inference.smc_engine.smc import smc

        return smc(model, *args, particles=n, ess_threshold=0.0, rng=rng)
    _check_gen_fn(model, "importance")
    if proposal is not None:
        _check_gen_fn(proposal, "importance: proposal")
    r = as_rng(rng)
    population = [_weighted_particle(r, model, args, proposal, tuple(proposal_args)) for _ in range(n)]
    return Result(population, log_mean_exp([p.log_weight for p in population]))


def sir(model: Any, *args: Any, particles: int = 1000, samples: int | None = None, proposal: GenerativeFunction | None = None,
        proposal_args: tuple = (), resampling: str = "multinomial", rng: Any = 0) -> Result:
    """Sampling-importance-resampling: importance sampling, then `samples` equally weighted draws.

    The resampled particles each carry the importance estimate of the marginal likelihood as
    their weight, so the result still estimates it (log_ml is unchanged).
    """
    n = check_particles(particles)
    m = n if samples is None else check_particles(samples, "samples")
    check_scheme(resampling)
    r = as_rng(rng)
    weighted = importance(model, *args, particles=n, proposal=proposal, proposal_args=proposal_args, rng=r)
    if weighted.all_dead:
        return weighted
    ancestors = resample(r, weighted.weights, m, resampling)
    drawn = [Particle(weighted.particles[a].trace, weighted.log_ml) for a in ancestors]
    return Result(drawn, weighted.log_ml, steps=weighted.steps)


def _check_gen_fn(g: Any, what: str) -> None:
    if not isinstance(g, GenerativeFunction):
        raise TypeError(f"{what} needs a generative function (@ppl.gen or a combinator) or a ppl.Model, got {type(g).__name__}")


def _weighted_particle(r: Any, model: GenerativeFunction, args: tuple, proposal: GenerativeFunction | None,
                       proposal_args: tuple) -> Particle:
    if proposal is None:
        trace, log_weight = model.generate(r, EMPTY, *args)
        return Particle(trace, float(log_weight))
    proposed = proposal.simulate(r, *proposal_args)
    try:
        trace, log_weight = model.generate(r, proposed.choices, *args)
    except AddressError as e:
        raise AddressError(f"importance: the proposal {proposal.name} proposes a choice that the model {model.name} "
                           f"does not make ({e})") from None
    except SupportError:
        # q proposed a value the model gives density zero: a particle of weight zero.
        return Particle(None, -math.inf)
    return Particle(trace, float(log_weight) - float(proposed.choice_score))
