"""The device population (lm.smc_decode's particles in a StaticDecoder) under the one SMC engine, checked exactly.

On CPU, with the tiny model in float64 and `sampling="host"` (token draws through the engine's
rng), every random decision of a run is a categorical draw, so `semantics.explore` enumerates
all runs with their probabilities. Proper weighting says E[Z_hat * w_i 1{x_i = x}] summed over
particles equals p(x) exp(phi(x)) / q-correction-free target mass for every completed
sequence x, i.e. the twisted target pi(x) Z; checked to 1e-9, with resampling at every step.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lm
import semantics

STEPS = 2
PROMPT = [1]


@pytest.fixture(scope="module")
def tiny64():
    return lm.load("tiny", dtype="float64")


def potential_on(token: int, penalty: float):
    def potential(tokens: torch.Tensor) -> torch.Tensor:
        return -penalty * (tokens == token).sum(dim=1).double()
    return potential


def target_measure(llm, steps: int, token: int, penalty: float) -> dict:
    """p(x | prompt) exp(phi(x)) for every completed sequence (EOS within `steps`, or `steps` tokens)."""
    eos = set(llm.vocabulary.eos_ids)
    measure, frontier = {}, [((), 0.0)]
    for t in range(steps):
        grown = []
        for seq, log_p in frontier:
            context = llm.context(PROMPT + list(seq))
            logp = context.logprobs()
            for x in range(len(logp)):
                if logp[x] == -np.inf:
                    continue
                extended, weight = seq + (x,), log_p + logp[x]
                if x in eos or t + 1 == steps:
                    generated = tuple(i for i in extended if i not in eos)
                    measure[generated] = measure.get(generated, 0.0) + math.exp(weight - penalty * extended.count(token))
                else:
                    grown.append((extended, weight))
        frontier = grown
    return measure


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_decode_population_is_properly_weighted(tiny64, temperature):
    llm, token, penalty = tiny64, 3, 1.5
    want = target_measure(llm, STEPS, token, penalty)
    got, total = {}, 0.0
    for outcome in semantics.explore(lambda rng: lm.smc_decode(
            llm, PROMPT, particles=2, max_tokens=STEPS, ess_threshold=1.0, temperature=temperature,
            potential=potential_on(token, penalty), sampling="host", rng=rng)):
        prob = math.exp(outcome.log_prob)
        total += prob
        result = outcome.value
        z = math.exp(result.log_ml)
        for particle, w in zip(result.particles, result.weights):
            key = particle.trace.token_ids
            got[key] = got.get(key, 0.0) + prob * z * w
    assert total == pytest.approx(1.0, abs=1e-9)
    assert sum(got.values()) == pytest.approx(sum(want.values()), rel=1e-9)
    for key in set(got) | set(want):
        assert got.get(key, 0.0) == pytest.approx(want.get(key, 0.0), rel=1e-9, abs=1e-12), key
