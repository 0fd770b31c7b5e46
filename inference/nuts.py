"""`inference.nuts`: NUTS or HMC (numpyro's kernels) over a model's continuous choices.

The model's log density over its continuous choices, given the constrained ones, is a JAX
function of an unconstrained flat vector (see inference.jax_density). numpyro's NUTS/HMC
kernel adapts step size and mass matrix during warmup; its transitions run in one jitted
`lax.scan` per chain, compiled once and reused chain after chain (numpyro's own MCMC driver
recompiles its loop for every sequential chain). Draws come back as traces (built when first
read) with the continuous choices in their supports.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ppl.choicemap import ChoiceMap
from ppl.errors import ModelError
from ppl.generative import GenerativeFunction
from ppl.rng import rng as as_rng

from inference.chains import McmcResult
from inference.jax_density import UnconstrainedDensity, is_finite, traced_parameters_supported
from inference.mcmc import initial_trace, positive_int

ALGORITHMS = ("nuts", "hmc")
_INIT_RADIUS = 2.0  # initial unconstrained coordinates ~ U(-2, 2), as numpyro's init_to_uniform


def nuts(model: GenerativeFunction, *args: Any, steps: int = 500, warmup: int = 500, chains: int = 2, rng: Any = 0,
         constraints: Any = None, init: Any = None, algorithm: str = "nuts", target_accept: float = 0.8,
         max_tree_depth: int = 10, dense_mass: bool = False, init_tries: int = 100) -> McmcResult:
    """Sample the continuous choices of `model(*args)` given `constraints` with NUTS (or HMC).

    Every discrete choice must be constrained. `init` optionally gives starting values
    (choices) for the continuous choices; otherwise each chain starts at unconstrained
    coordinates drawn uniformly from (-2, 2). Keeps `steps` draws per chain after `warmup`
    adaptation steps. The result's stats are numpyro's per-draw "acceptance_rate",
    "diverging", "n_steps", "energy", and "lp" (log p of the draw's choices and evidence).
    """
    from numpyro.infer import HMC, NUTS

    if not isinstance(model, GenerativeFunction):
        raise TypeError(f"nuts needs a generative function (made with @ppl.gen), got {type(model).__name__}")
    steps = positive_int(steps, "steps")
    warmup = positive_int(warmup, "warmup", minimum=0)
    chains = positive_int(chains, "chains")
    max_tree_depth = positive_int(max_tree_depth, "max_tree_depth")
    init_tries = positive_int(init_tries, "init_tries")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)) or not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept must be a number in (0, 1), got {target_accept!r}")
    constraints = ChoiceMap.coerce(constraints)
    init_choices = ChoiceMap.coerce(init) if init is not None else None
    root = as_rng(rng)
    chain_rngs = root.split(chains)

    start = constraints.merge(init_choices) if init_choices is not None else constraints
    structure = initial_trace(model, chain_rngs[0], start, args, init_tries)
    density = UnconstrainedDensity.from_trace(model, args, constraints, structure)
    if density.dim == 0:
        raise ModelError(f"{model.name}: no continuous unconstrained choices for {algorithm.upper()} to sample")
    if not traced_parameters_supported():
        raise ModelError("nuts: this version of ppl validates distribution parameters eagerly and rejects JAX tracers, "
                         "so a model body cannot be traced; see docs/mcmc.md (the ppl hook NUTS needs)")
    log_density = jax.jit(density.log_density)
    starts = [_initial_point(density, log_density, r, init_choices, init_tries) for r in chain_rngs]

    potential = jax.jit(density.potential)
    if algorithm == "nuts":
        kernel = NUTS(potential_fn=potential, target_accept_prob=target_accept, max_tree_depth=max_tree_depth,
                      dense_mass=dense_mass)
    else:
        kernel = HMC(potential_fn=potential, target_accept_prob=target_accept, dense_mass=dense_mass)
    draws, stats = _run_chains(kernel, starts, [r.jax_key() for r in chain_rngs], warmup, steps)

    constrained, lp = jax.jit(jax.vmap(density.constrained))(jnp.asarray(draws.reshape(chains * steps, density.dim)))
    values = {site.path: np.asarray(v, dtype=np.float64).reshape((chains, steps) + site.shape)
              for site, v in zip(density.sites, constrained)}
    stats["lp"] = np.asarray(lp, dtype=np.float64).reshape(chains, steps)
    traces = [LazyChain(model, args, density.fixed, {p: v[c] for p, v in values.items()}, chain_rngs[c]) for c in range(chains)]
    return McmcResult(traces, stats, [s.path for s in density.sites], values)


def _initial_point(density: UnconstrainedDensity, log_density: Any, rng: Any, init: ChoiceMap | None,
                   tries: int) -> np.ndarray:
    if init is not None and all(init.has_value(s.path) for s in density.sites):
        point = density.unconstrain(init)
        if not is_finite(log_density(jnp.asarray(point))):
            raise ModelError("init: the given continuous values have probability zero under the model")
        return point
    for _ in range(tries):
        point = rng.numpy().uniform(-_INIT_RADIUS, _INIT_RADIUS, size=density.dim)
        if is_finite(log_density(jnp.asarray(point))):
            return point
    raise ModelError(f"no initial point with finite log density in {tries} uniform draws in (-{_INIT_RADIUS}, "
                     f"{_INIT_RADIUS})^{density.dim} (unconstrained space); pass init= values")


def _run_chains(kernel: Any, starts: list, keys: list, warmup: int, steps: int) -> tuple[np.ndarray, dict]:
    """Each chain: numpyro's kernel.init, then warmup + steps transitions in one compiled scan."""
    def run_chain(state: Any) -> Any:
        def transition(state: Any, _: Any) -> tuple[Any, tuple]:
            new = kernel.sample(state, (), {})
            return new, (new.z, new.diverging, new.accept_prob, new.num_steps, new.energy)

        return jax.lax.scan(transition, state, None, length=warmup + steps)[1]

    run = jax.jit(run_chain)
    outputs = []
    for start, key in zip(starts, keys):
        state = kernel.init(key, warmup, jnp.asarray(start))
        outputs.append([np.asarray(x)[warmup:] for x in run(state)])
    z, diverging, accept_prob, num_steps, energy = (np.stack(column) for column in zip(*outputs))
    stats = {"acceptance_rate": accept_prob.astype(np.float64), "diverging": diverging.astype(bool),
             "n_steps": num_steps.astype(np.int64), "energy": energy.astype(np.float64)}
    return z, stats


class LazyChain(Sequence):
    """One chain's draws as traces, each built (by `generate` with every choice given) when first read."""

    def __init__(self, model: GenerativeFunction, args: tuple, fixed: ChoiceMap, values: dict, rng: Any):
        self.model, self.args, self.fixed, self.values, self.rng = model, args, fixed, values, rng
        self._length = len(next(iter(values.values())))
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        index = range(self._length)[index]
        if index not in self._cache:
            choices = dict(self.fixed.items())
            for path, column in self.values.items():
                value = column[index]
                choices[path] = float(value) if value.shape == () else value
            trace, _ = self.model.generate(self.rng, ChoiceMap(choices), *self.args)
            if not trace.score > -math.inf:
                raise ModelError(f"draw {index} has probability zero under the model (a value at the edge of its support?)")
            self._cache[index] = trace
        return self._cache[index]
