"""A hidden Markov model filtered by SMC with resample-move, checked against the exact forward algorithm.

The HMM is written once, as a one-step kernel unfolded over time (`ppl.unfold`). SMC extends
every particle one step at a time, resamples when the effective sample size drops below half
the particles, and after each resampling rejuvenates every particle with a Gibbs move on its
two most recent states (an MCMC kernel that leaves the current posterior invariant), which
restores diversity that resampling removed. The forward-backward recursions give the exact
marginal likelihood and smoothing marginals to compare with.

Run: python examples/hmm_smc.py
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import inference
import ppl
from ppl import dist

STATES = ("calm", "windy", "stormy")
INITIAL = np.array([0.6, 0.3, 0.1])
TRANSITION = np.array([[0.80, 0.15, 0.05],
                       [0.20, 0.60, 0.20],
                       [0.10, 0.30, 0.60]])
# Observed: how many boats went out (0 = none, 1 = a few, 2 = many).
EMISSION = np.array([[0.05, 0.25, 0.70],
                     [0.20, 0.60, 0.20],
                     [0.80, 0.15, 0.05]])
BOATS = [2, 2, 1, 1, 0, 0, 1, 0, 1, 2, 2, 2, 1, 0, 0, 0, 1, 2, 2, 1]


def hmm(initial: np.ndarray, transition: np.ndarray, emission: np.ndarray, observations: list[int]) -> Any:
    """The HMM as ppl.unfold of one step: choices ("x" the state, "y" observed) at step t live under t."""

    @ppl.gen
    def weather_step(t, previous):
        probs = initial if previous is None else transition[previous]
        state = ppl.sample(dist.Categorical(probs=probs), "x")
        ppl.observe(dist.Categorical(probs=emission[state]), observations[t], "y")
        return state

    return ppl.unfold(weather_step, len(observations))


def rejuvenate(rng: Any, trace: Any) -> Any:
    """Gibbs moves on the two most recent states of a prefix trace (leaves its posterior invariant)."""
    last = len(trace.retval) - 1
    for t in range(max(0, last - 1), last + 1):
        trace, _ = inference.gibbs((t, "x"))(rng, trace)
    return trace


def forward_backward(initial: np.ndarray, transition: np.ndarray, emission: np.ndarray,
                     observations: list[int]) -> tuple[float, np.ndarray]:
    """The exact log marginal likelihood and the smoothing marginals p(x_t | all observations)."""
    steps = len(observations)
    alpha = np.zeros((steps, len(initial)))
    log_z = 0.0
    prediction = initial
    for t, y in enumerate(observations):
        joint = prediction * emission[:, y]
        total = joint.sum()
        log_z += math.log(total)
        alpha[t] = joint / total
        prediction = alpha[t] @ transition
    beta = np.ones(len(initial))
    smoothing = np.zeros_like(alpha)
    for t in reversed(range(steps)):
        smoothing[t] = alpha[t] * beta / (alpha[t] * beta).sum()
        beta = transition @ (emission[:, observations[t]] * beta)
        beta /= beta.sum()
    return log_z, smoothing


def run_smc(initial: np.ndarray, transition: np.ndarray, emission: np.ndarray, observations: list[int],
            particles: int, rng: Any, ess_threshold: float = 0.5) -> inference.Result:
    """SMC with systematic resampling when ESS <= ess_threshold * N, and Gibbs rejuvenation after each resampling."""
    chain = hmm(initial, transition, emission, observations)
    return inference.smc(chain, None, particles=particles, ess_threshold=ess_threshold, resampling="systematic", rng=rng,
                         rejuvenation=rejuvenate)


def main(particles: int = 100, seed: int = 0) -> dict:
    result = run_smc(INITIAL, TRANSITION, EMISSION, BOATS, particles, seed)
    log_z, smoothing = forward_backward(INITIAL, TRANSITION, EMISSION, BOATS)
    steps = len(BOATS)
    estimated = np.array([[result.marginal((t, "x")).get(s, 0.0) for s in range(len(STATES))] for t in range(steps)])
    distance = 0.5 * np.abs(estimated - smoothing).sum(axis=1)
    resampled = sum(info.resampled for info in result.steps)
    print(f"{particles} particles, {steps} steps, resampled (and rejuvenated) {resampled} times")
    print(f"log marginal likelihood: SMC {result.log_ml:.4f}, exact {log_z:.4f}")
    print(f"final ESS {result.ess:.1f}; largest total-variation distance of a smoothing marginal: {distance.max():.3f}")
    most_likely = [STATES[int(np.argmax(row))] for row in estimated]
    print("most probable state per step:", " ".join(most_likely))
    return {"result": result, "log_ml": result.log_ml, "exact_log_z": log_z, "smoothing": smoothing,
            "estimated": estimated, "tv": distance}


if __name__ == "__main__":
    main()
