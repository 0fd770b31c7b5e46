"""Fit a guide's parameters by stochastic gradient ascent on a variational objective, with optax.

One optimization step (objective runs, gradient, optax update) is a single function, jitted
when the model and guide can be traced: their Python bodies then run only once, at trace time.
Enumerated choices are concrete at trace time, so control flow on them is fine under jit;
Python control flow on a sampled (REINFORCE) discrete value is not, and `jit="auto"` then runs
the step eagerly, where those values are drawn concretely from stop-gradient parameters.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ppl.errors import ModelError

from inference.vi.gradients import DEFAULT_MAX_BRANCHES, as_key, as_params, check_samples, gradient
from inference.vi.objectives import Objective, elbo
from inference.vi.programs import bound_model, check_guide

EMA_DECAY = 0.9


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters, the objective's estimate at every step, and whether the step ran jitted."""

    params: Any
    history: np.ndarray
    jitted: bool
    jit_error: str | None = None  # why the step could not be jitted (jit="auto" fell back to eager)


def _check_options(steps: Any, baseline: Any, jit: Any, samples: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if baseline not in (None, "ema", "loo"):
        raise ValueError(f"baseline must be 'ema', 'loo' or None, got {baseline!r}")
    if baseline == "loo" and samples < 2:
        raise ValueError("baseline='loo' (leave-one-out over the samples of one step) needs samples >= 2")
    if jit not in (True, False, "auto"):
        raise ValueError(f"jit must be True, False or 'auto', got {jit!r}")


def fit(model: Any, guide: Any, params: Any, *, objective: Objective = elbo,
        optimizer: optax.GradientTransformation | None = None, steps: int = 1000, rng: Any = 0,
        estimators: Mapping | None = None, samples: int = 1, baseline: str | None = "ema",
        jit: bool | str = "auto", callback: Callable[[int, Any, float], None] | None = None,
        max_branches: int = DEFAULT_MAX_BRANCHES) -> FitResult:
    """Maximize E[objective] over the guide's `params` (a pytree of arrays) with an optax optimizer.

    baseline for REINFORCE choices: "ema" (a bias-corrected running average of past values),
    "loo" (leave-one-out over `samples` >= 2 runs per step) or None. `callback(step, params,
    value)` runs after every step. A non-finite objective stops the fit with an error.
    """
    bound_model(model)
    check_guide(guide)
    check_samples(samples)
    _check_options(steps, baseline, jit, samples)
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    params = as_params(params)
    opt_state = optimizer.init(params)
    fixed_baseline = "loo" if baseline == "loo" else None

    def step(params: Any, opt_state: Any, key: Any, running: Any) -> tuple[Any, Any, Any]:
        estimate = gradient(model, guide, params, key, objective=objective, estimators=estimators, samples=samples,
                            baseline=running if baseline == "ema" else fixed_baseline, max_branches=max_branches)
        updates, opt_state = optimizer.update(jax.tree.map(jnp.negative, estimate.grad), opt_state, params)
        return optax.apply_updates(params, updates), opt_state, estimate.value

    runner = jax.jit(step) if jit else step
    jit_error = None
    keys = jax.random.split(as_key(rng), steps)
    history = np.empty(steps)
    average = 0.0
    for t in range(steps):
        sub = keys[t]
        running = average / (1.0 - EMA_DECAY ** t) if t else 0.0
        if t == 0 and jit:
            try:
                outcome = runner(params, opt_state, sub, running)
            except Exception as error:  # noqa: BLE001 - a tracing failure, or an error in the program itself
                outcome = step(params, opt_state, sub, running)  # the program's own errors surface here, eagerly
                jit_error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                if jit is True:
                    raise ModelError(f"vi.fit(jit=True): the model or guide cannot be traced under jax.jit ({jit_error}); "
                                     "Python control flow on a sampled value needs jit=False or jit='auto'") from error
                warnings.warn(f"vi.fit: running each step eagerly, the step cannot be jitted ({jit_error})", stacklevel=2)
                runner = step
        else:
            outcome = runner(params, opt_state, sub, running)
        params, opt_state, value = outcome
        value = float(value)
        if not math.isfinite(value):
            raise ModelError(f"vi.fit: the objective is {value} at step {t}: the guide proposes values with zero model "
                             "density (support mismatch, failed condition) or the parameters diverged (lower the learning rate)")
        history[t] = value
        average = EMA_DECAY * average + (1.0 - EMA_DECAY) * value
        if callback is not None:
            callback(t, params, value)
    return FitResult(params, history, bool(jit) and jit_error is None, jit_error)
