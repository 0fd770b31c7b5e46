"""One-call exact checks of inference code: proper weighting, unbiasedness, stationarity.

Each check runs the algorithm under the enumerating rng (`semantics.explore`), so every outcome
of its discrete randomness is visited once with its exact probability, and compares the
exact expectations with `semantics.enumerate` of the target to a tolerance of 1e-9 (floating
point, not sampling error). A failure raises `CheckFailed` (an AssertionError, so pytest
reports it) naming the worst value and the expected and computed numbers.

* `check_proper_weighting(sampler, model)`: E[Z_hat * sum_i W_i 1{x_i = x}] = p(x, y) for every x.
* `check_unbiased(estimator, model)`: E[Z_hat] = Z.
* `check_stationary(kernel, model)`: the exact posterior is invariant under one kernel step
  (and, with `reversible=True`, in detailed balance).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from semantics.enumerating_rng import explore
from semantics.exact import Exact, enumerate as exact_enumerate

TOLERANCE = 1e-9


class CheckFailed(AssertionError):
    """An exact check found a counterexample; the message names it."""


@dataclass(frozen=True)
class WeightingReport:
    """What check_proper_weighting computed: key -> E[Z_hat sum_i W_i 1{x_i = key}] and key -> p(key, y)."""

    expected: dict
    target: dict
    expected_z: float
    z: float
    outcomes: int


@dataclass(frozen=True)
class StationarityReport:
    """What check_stationary computed: the exact posterior and the transition rows from each state in its support."""

    posterior: dict
    rows: dict


def _default_key(trace: Any) -> Any:
    return trace.choices


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _exact(model: Any, args: tuple, max_outcomes: int) -> Exact:
    return model if isinstance(model, Exact) else exact_enumerate(model, *args, max_outcomes=max_outcomes)


def target_measure(model: Any, *args: Any, key: Callable[[Any], Any] = _default_key,
                   max_outcomes: int = 200_000) -> tuple[dict, float]:
    """key(trace) -> p(trace, y) (unnormalized) and Z, exactly, for a finite program, a ppl.Model or an Exact."""
    exact = _exact(model, args, max_outcomes)
    measure: dict = {}
    for e in exact.executions:
        if e.log_weight > -math.inf:
            k = key(e.trace)
            measure[k] = measure.get(k, 0.0) + math.exp(e.log_weight)
    return measure, math.exp(exact.log_z)


def _weighted_pairs(outcome_value: Any, key: Callable[[Any], Any]) -> tuple[list[tuple[Any, float]], float]:
    """(key, Z_hat * W_i) for each sample of one run, and the run's Z_hat."""
    if hasattr(outcome_value, "log_ml") and hasattr(outcome_value, "weights"):  # an inference.Result
        result = outcome_value
        if any(math.isnan(float(w)) for w in result.weights) or math.isnan(result.log_ml):
            raise CheckFailed(f"the sampler returned NaN weights or log_ml: {result!r}")
        if result.all_dead:
            if result.log_ml != -math.inf or result.ess != 0.0 or not result.message:
                raise CheckFailed(f"a result with every weight zero must have log_ml = -inf, ess = 0 and a message: {result!r}")
            return [], 0.0
        if abs(float(result.weights.sum()) - 1) > 1e-12 or not 1 - 1e-9 <= result.ess <= len(result.particles) + 1e-9:
            raise CheckFailed(f"normalized weights must sum to 1 and 1 <= ESS <= N: {result!r}")
        z = math.exp(result.log_ml)
        return [(key(p.trace), z * float(w)) for w, p in zip(result.weights, result.particles) if w > 0], z
    pairs = list(outcome_value)  # (value, log_weight) samples: Z_hat = mean weight, Z_hat W_i = w_i / N
    if not pairs:
        raise CheckFailed("the sampler returned no samples")
    weighted = []
    for value, log_weight in pairs:
        if math.isnan(log_weight):
            raise CheckFailed(f"sample {_show(value)} has a NaN log weight")
        if log_weight > -math.inf:
            weighted.append((value, math.exp(log_weight) / len(pairs)))
    return weighted, sum(w for _, w in weighted)


def _mismatches(got: dict, want: dict, atol: float, rtol: float) -> list[tuple[float, Any, float, float]]:
    bad = []
    for k in set(got) | set(want):
        g, w = got.get(k, 0.0), want.get(k, 0.0)
        if abs(g - w) > atol + rtol * abs(w):
            bad.append((abs(g - w), k, g, w))
    return sorted(bad, key=lambda item: -item[0])


def check_proper_weighting(sampler: Callable[[Any], Any], model: Any, *args: Any,
                           key: Callable[[Any], Any] = _default_key, atol: float = TOLERANCE, rtol: float = 0.0,
                           max_outcomes: int = 200_000) -> WeightingReport:
    """Check exactly that `sampler(rng)` is properly weighted for `model(*args)`.

    `sampler(rng)` returns an `inference.Result` (Z_hat * W_i per particle, key(particle.trace) its
    value) or a list of (value, log_weight) samples (Z_hat * W_i = w_i / N). `model` is a finite
    generative function (with `args`), a `ppl.Model`, an `Exact`, or a dict value -> unnormalized
    target mass p(x, y). Passes when |E[Z_hat sum_i W_i 1{x_i = x}] - p(x, y)| <= atol + rtol p(x, y)
    for every x (hence E[Z_hat] = Z); raises CheckFailed naming the worst x otherwise.
    """
    if isinstance(model, dict):
        want, z = dict(model), math.fsum(model.values())
    else:
        want, z = target_measure(model, *args, key=key, max_outcomes=max_outcomes)
    got: dict = {}
    expected_z, total, count = 0.0, 0.0, 0
    for outcome in explore(sampler, max_outcomes=max_outcomes):
        p = math.exp(outcome.log_prob)
        total += p
        count += 1
        pairs, z_hat = _weighted_pairs(outcome.value, key)
        expected_z += p * z_hat
        for k, w in pairs:
            got[k] = got.get(k, 0.0) + p * w
    if abs(total - 1) > 1e-9:
        raise CheckFailed(f"the sampler's outcomes have total probability {total!r}, not 1")
    bad = _mismatches(got, want, atol, rtol)
    if bad:
        _, k, g, w = bad[0]
        raise CheckFailed(
            f"not properly weighted: for {_show(k)}, E[Z_hat * sum_i W_i 1{{x_i = x}}] = {g!r} but the target "
            f"p(x, y) = {w!r} (difference {g - w:+.3g}; {len(bad)} of {len(set(got) | set(want))} values differ; "
            f"E[Z_hat] = {expected_z!r}, Z = {z!r}; {count} outcomes enumerated)")
    if abs(expected_z - z) > atol + rtol * z:
        raise CheckFailed(f"biased: E[Z_hat] = {expected_z!r} but Z = {z!r} ({count} outcomes enumerated)")
    return WeightingReport(got, want, expected_z, z, count)


def check_unbiased(estimator: Callable[[Any], Any], model: Any, *args: Any, atol: float = TOLERANCE,
                   rtol: float = 0.0, max_outcomes: int = 200_000) -> float:
    """Check exactly that E[Z_hat] = Z, the normalizing constant (marginal likelihood) of `model(*args)`.

    `estimator(rng)` returns an `inference.Result` (Z_hat = exp(log_ml)) or Z_hat itself as a float
    (natural scale, not log). `model` is a finite generative function (with `args`), a `ppl.Model`,
    an `Exact`, or the number Z. Returns E[Z_hat]; raises CheckFailed with the largest terms otherwise.
    """
    if isinstance(model, (int, float)):
        z = float(model)
    else:
        z = math.exp(_exact(model, args, max_outcomes).log_z)
    terms: list[tuple[float, float, float]] = []  # (probability * estimate, probability, estimate)
    total = 0.0
    for outcome in explore(estimator, max_outcomes=max_outcomes):
        p = math.exp(outcome.log_prob)
        total += p
        value = outcome.value
        estimate = math.exp(value.log_ml) if hasattr(value, "log_ml") else float(value)
        if math.isnan(estimate) or estimate < 0:
            raise CheckFailed(f"the estimator returned {estimate!r}: an estimate of Z must be a non-negative number")
        terms.append((p * estimate, p, estimate))
    if abs(total - 1) > 1e-9:
        raise CheckFailed(f"the estimator's outcomes have total probability {total!r}, not 1")
    expected = math.fsum(t[0] for t in terms)
    if abs(expected - z) > atol + rtol * z:
        largest = ", ".join(f"Z_hat = {e:.6g} with probability {p:.6g}" for _, p, e in sorted(terms, key=lambda t: -t[0])[:3])
        raise CheckFailed(f"biased: E[Z_hat] = {expected!r} but Z = {z!r} (relative error {(expected - z) / z if z else math.inf:+.3g}; "
                          f"{len(terms)} outcomes; largest terms: {largest})")
    return expected


def _next_trace(step: Any) -> Any:
    """A kernel returns the next trace, or (trace, accepted)."""
    if isinstance(step, tuple) and len(step) == 2:
        return step[0]
    return step


def _rows(kernel: Callable[[Any, Any], Any], starts: Iterable[tuple[Any, Any]], key: Callable[[Any], Any],
          max_outcomes: int) -> dict:
    rows = {}
    for state, trace in starts:
        row: dict = {}
        for outcome in explore(lambda rng: key(_next_trace(kernel(rng, trace))), max_outcomes=max_outcomes):
            row[outcome.value] = row.get(outcome.value, 0.0) + math.exp(outcome.log_prob)
        if abs(math.fsum(row.values()) - 1) > 1e-12:
            raise CheckFailed(f"from {_show(state)} the kernel's outcomes have total probability {math.fsum(row.values())!r}, "
                              "not 1")
        rows[state] = row
    return rows


def check_stationary(kernel: Callable[[Any, Any], Any], model: Any, *args: Any, reversible: bool = False,
                     key: Callable[[Any], Any] = _default_key, atol: float = TOLERANCE,
                     max_outcomes: int = 200_000) -> StationarityReport:
    """Check exactly that one step of `kernel(rng, trace)` leaves the posterior of `model(*args)` invariant.

    The kernel returns the next trace or (trace, accepted). It is run from the trace of every
    execution in the posterior's support; the next state's law (row x of the transition matrix P)
    is computed exactly, and pi P = pi is checked per state (with `reversible`, also
    pi(x) P(x, y) = pi(y) P(y, x) for every pair). States are key(trace), choices by default.
    Raises CheckFailed naming the worst state (or pair) and both sides otherwise.
    """
    exact = _exact(model, args, max_outcomes)
    exact.posterior()  # ModelError when every execution has probability zero
    pi: dict = {}
    starts: dict = {}
    for e in exact.executions:
        if e.log_weight > -math.inf:
            k = key(e.trace)
            pi[k] = pi.get(k, 0.0) + math.exp(e.log_weight - exact.log_z)
            starts.setdefault(k, e.trace)
    rows = _rows(kernel, starts.items(), key, max_outcomes)
    pushed: dict = {}
    for x, row in rows.items():
        for y, p in row.items():
            pushed[y] = pushed.get(y, 0.0) + pi[x] * p
    bad = _mismatches(pushed, pi, atol, 0.0)
    if bad:
        _, y, g, w = bad[0]
        raise CheckFailed(f"not stationary: the posterior probability of {_show(y)} is {w!r} but after one kernel step "
                          f"from the posterior it is {g!r} (difference {g - w:+.3g}; {len(bad)} of {len(set(pi) | set(pushed))} states differ)")
    if reversible:
        worst = max(((abs(pi[x] * rows[x].get(y, 0.0) - pi[y] * rows[y].get(x, 0.0)), x, y) for x in pi for y in pi),
                    key=lambda item: item[0], default=(0.0, None, None))
        if worst[0] > atol:
            _, x, y = worst
            raise CheckFailed(f"not reversible: pi(x) P(x, y) = {pi[x] * rows[x].get(y, 0.0)!r} but pi(y) P(y, x) = "
                              f"{pi[y] * rows[y].get(x, 0.0)!r} for x = {_show(x)}, y = {_show(y)}")
    return StationarityReport(pi, rows)
