"""`inference.mcmc`: run trace kernels as Markov chains, several chains from independent rngs.

Each chain starts from a trace with positive probability (given, or generated under the
constraints), applies its kernel `burn_in + steps` times, and keeps the last `steps` states.
Constrained choices are evidence: a kernel that changes one is an error, not a silent bug.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ppl.choicemap import ChoiceMap
from ppl.errors import ModelError
from ppl.generative import GenerativeFunction
from ppl.rng import rng as as_rng
from ppl.trace import Trace

from inference.chains import McmcResult
from inference.kernel_combinators import check_kernel
from inference.kernels import Kernel, run_kernel


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """`value` as an int >= minimum, or ValueError/TypeError naming the keyword."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def initial_trace(model: GenerativeFunction, rng: Any, constraints: ChoiceMap, args: tuple, tries: int) -> Trace:
    """A trace generated under `constraints` with positive probability, trying up to `tries` times."""
    for _ in range(tries):
        trace, _ = model.generate(rng, constraints, *args)
        if trace.score > -math.inf:
            return trace
    raise ModelError(f"{getattr(model, 'name', model)}: no trace with positive probability in {tries} tries of "
                     "generate under the constraints; pass init= a trace or choices with positive probability")


def _initial_traces(model: GenerativeFunction, rngs: list, constraints: ChoiceMap, init: Any, args: tuple,
                    tries: int) -> list[Trace]:
    chains = len(rngs)
    if isinstance(init, Trace):
        init = [init] * chains
    if isinstance(init, (list, tuple)):
        if len(init) != chains:
            raise ValueError(f"init: {len(init)} initial traces for {chains} chains")
        for c, trace in enumerate(init):
            if not isinstance(trace, Trace):
                raise TypeError(f"init[{c}] must be a trace, got {type(trace).__name__}")
            if trace.gen_fn is not model:
                raise ValueError(f"init[{c}] is a trace of {getattr(trace.gen_fn, 'name', trace.gen_fn)}, not of {model.name}")
            if not trace.score > -math.inf:
                raise ModelError(f"init[{c}] has probability zero (score {trace.score}); MCMC must start where the posterior has mass")
        return list(init)
    if init is not None and not isinstance(init, (Mapping, ChoiceMap)):
        raise TypeError(f"init must be a trace, a list of traces (one per chain), or choices (a dict or ChoiceMap), got {type(init).__name__}")
    start = constraints.merge(ChoiceMap.coerce(init)) if init is not None else constraints
    return [initial_trace(model, r, start, args, tries) for r in rngs]


def _check_constraints_kept(trace: Trace, constraints: list[tuple[tuple, Any]], kernel: Any) -> None:
    choices = trace.choices
    for path, value in constraints:
        if not choices.has_value(path) or not np.array_equal(np.asarray(choices[path]), np.asarray(value)):
            shown = path[0] if len(path) == 1 else path
            raise ModelError(f"kernel {kernel!r} changed the constrained choice at address {shown!r}; "
                             "select only latent (unconstrained) choices")


def mcmc(model: GenerativeFunction, *args: Any, kernel: Kernel, steps: int, chains: int = 1, rng: Any = 0,
         constraints: Any = None, init: Any = None, burn_in: int = 0, init_tries: int = 1000) -> McmcResult:
    """Run `chains` Markov chains of `kernel` on `model(*args)` conditioned on `constraints`.

    `init` is a trace (shared by all chains), a list of traces (one per chain), or choices to
    impose on top of the constraints when generating each chain's first state. Keeps `steps`
    states per chain after `burn_in` discarded ones. Each chain draws from its own child of `rng`.
    """
    if not isinstance(model, GenerativeFunction):
        raise TypeError(f"mcmc needs a generative function (made with @ppl.gen or a combinator), got {type(model).__name__}")
    kernel = check_kernel(kernel, "mcmc: kernel")
    steps = positive_int(steps, "steps")
    chains = positive_int(chains, "chains")
    burn_in = positive_int(burn_in, "burn_in", minimum=0)
    init_tries = positive_int(init_tries, "init_tries")
    constraints = ChoiceMap.coerce(constraints)
    kept = list(constraints.items())
    rngs = as_rng(rng).split(chains)
    starts = _initial_traces(model, rngs, constraints, init, args, init_tries)

    traces: list[list[Trace]] = []
    accepted = np.zeros((chains, steps), dtype=bool)
    for c, (chain_rng, trace) in enumerate(zip(rngs, starts)):
        chain: list[Trace] = []
        for step in range(burn_in + steps):
            trace, moved = run_kernel(kernel, chain_rng, trace)
            if moved and kept:
                _check_constraints_kept(trace, kept, kernel)
            if step >= burn_in:
                chain.append(trace)
                accepted[c, step - burn_in] = moved
        traces.append(chain)
    first = traces[0][0].choices.addresses()
    latent = [p for p in first if p not in constraints and all(t.choices.has_value(p) for chain in traces for t in chain)]
    return McmcResult(traces, {"accepted": accepted}, latent)
