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
from lm import constraints
from lm.generation.generation import generate

STEPS = 2
PROMPT = [1]
REGEX = constraints.regex(r"(ab|ba|b)")


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


def test_constrained_generation_on_the_device_path_is_properly_weighted(tiny64):
    """generate(engine="device") with the masking proposal: E[Z_hat * w_i 1{text_i = x}] = p(x, constraint) exactly.

    (Enumerating AWRS over whole texts visits every order of rejected tokens: too many runs; its
    proper weighting per token is exact in test_awrs_exact.py, and the device path's AWRS evidence
    estimate is checked statistically below.)
    """
    from test_generation_exact import exact_target

    llm, max_tokens = tiny64, 3
    z, target = exact_target(llm, REGEX, max_tokens)
    for particles in (1, 2):
        weighted, total = {}, 0.0
        for outcome in semantics.explore(lambda rng: generate(
                llm, "", REGEX, particles=particles, max_tokens=max_tokens, proposal="mask", engine="device",
                ess_threshold=1.0, rng=rng)):
            prob = math.exp(outcome.log_prob)
            total += prob
            result = outcome.value
            for particle, w in zip(result.particles, result.weights):
                text = particle.trace.output
                weighted[text] = weighted.get(text, 0.0) + prob * math.exp(result.log_ml) * w
        assert total == pytest.approx(1.0, abs=1e-9)
        assert sum(weighted.values()) == pytest.approx(z, rel=1e-9)
        for text, p in target.items():
            assert weighted.get(text, 0.0) == pytest.approx(p * z, rel=1e-9), (particles, text)


def test_awrs_on_the_device_path_estimates_the_normalizer_without_bias(tiny64):
    """Each run's Z_hat lies in [0, 1]; its mean is within the empirical-Bernstein bound (delta = 1e-4) of Z."""
    from test_generation_exact import exact_target

    z, _ = exact_target(tiny64, REGEX, 3)
    runs, delta = 300, 1e-4
    estimates = np.array([math.exp(generate(tiny64, "", REGEX, particles=2, max_tokens=3, engine="device", rng=seed).log_ml)
                          for seed in range(runs)])
    assert ((estimates >= 0) & (estimates <= 1 + 1e-12)).all()
    variance = estimates.var(ddof=1)
    bound = math.sqrt(2 * variance * math.log(2 / delta) / runs) + 7 * math.log(2 / delta) / (3 * (runs - 1))
    assert abs(estimates.mean() - z) <= bound


def test_device_path_returns_valid_documents_on_a_real_schema():
    """The built-in model, a JSON schema: the device path returns non-empty results of valid documents only."""
    import json

    import jsonschema

    llm = lm.load("builtin")
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
                                               "age": {"type": "integer", "minimum": 0, "maximum": 99}},
              "required": ["name", "age"], "additionalProperties": False}
    constraint = constraints.json_schema(schema)
    for seed in range(3):
        result = generate(llm, "Person:", constraint, particles=6, max_tokens=32, engine="device", rng=seed)
        assert result.samples and math.isfinite(result.log_ml)
        for sample in result.samples:
            jsonschema.validate(json.loads(sample.value), schema)


def test_copies_switching_to_one_mask_return_valid_documents(monkeypatch):
    """With the switch to a group's mask made easy, a run mixes AWRS and mask draws: valid documents only."""
    import json

    import jsonschema

    import lm.generation.device_generation as device_generation

    monkeypatch.setattr(device_generation, "GROUP_SAVED_DRAWS", 1)
    mask_draws = []
    draw = device_generation._CopyGroups.draw

    def counted(self, i, state, rng):
        made = draw(self, i, state, rng)
        mask_draws.append(made is not None)
        return made

    monkeypatch.setattr(device_generation._CopyGroups, "draw", counted)
    llm = lm.load("builtin")
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}}, "required": ["name"],
              "additionalProperties": False}
    for seed in range(3):
        result = generate(llm, "Person:", constraints.json_schema(schema), particles=8, max_tokens=24, engine="device",
                          ess_threshold=1.0, rng=seed)
        assert result.samples and math.isfinite(result.log_ml)
        for sample in result.samples:
            jsonschema.validate(json.loads(sample.value), schema)
    assert any(mask_draws) and not all(mask_draws)
