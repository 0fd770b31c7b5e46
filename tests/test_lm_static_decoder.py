"""The static (CUDA-graph-ready) decoder and lm.smc_decode compute what the model and the SMC identities say.

- StaticDecoder: after a shared prompt, random token feeds and random row gathers (resampling with
  repeated and dropped ancestors), every row's next-token log-probs equal a fresh full forward pass
  of its sequence (float32, 1e-4 as in test_lm_batching), for GPT-2 and a grouped-query Llama.
- smc_decode with one particle is importance sampling: its log_ml must equal
  log p(x) + phi(x) - log q(x) of the returned sequence, recomputed here from fresh forward passes.
- smc_decode's evidence estimate is unbiased: on the tiny model, Z = sum_x p(x) exp(phi(x)) is
  enumerated exactly; the mean of exp(log_ml) over independent runs lies within an empirical
  Bernstein bound (Maurer & Pontil 2009; delta = 1e-6) of Z. Weights are <= 1 there (phi only
  decreases, temperature 1), so exp(log_ml) lies in [0, 1].
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import lm
from lm.device.static_decoder import StaticDecoder
from reference_models import Reference, write_small_llama

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return lm.load(write_small_llama(tmp_path_factory.mktemp("llama")))


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


token_ids = st.integers(1, 2047)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=st.lists(token_ids, min_size=1, max_size=5), rows=st.integers(1, 5),
       plan=st.lists(st.tuples(st.lists(token_ids, min_size=5, max_size=5), st.lists(st.integers(0, 4), min_size=5, max_size=5)),
                     min_size=1, max_size=6),
       family=st.sampled_from(["gpt2", "llama"]))
def test_static_decoder_logprobs_equal_a_fresh_forward_pass(builtin, llama, prompt, rows, plan, family):
    llm = {"gpt2": builtin, "llama": llama}[family]
    reference = Reference(llm)
    decoder = StaticDecoder(llm, rows, 16)
    first = torch.log_softmax(decoder.prefill(prompt).double(), -1).numpy()
    assert np.abs(first - reference(prompt)).max() < TOLERANCE
    sequences = [list(prompt) for _ in range(rows)]
    for step, (tokens, ancestors) in enumerate(plan):
        tokens, ancestors = tokens[:rows], [a % rows for a in ancestors[:rows]]
        for seq, token in zip(sequences, tokens):
            seq.append(token)
        logits = decoder.step(torch.tensor(tokens), len(prompt) + step)
        for i, seq in enumerate(sequences):
            got = torch.log_softmax(logits[i].double(), -1).numpy()
            assert np.abs(got - reference(seq)).max() < TOLERANCE, (family, step, i)
        decoder.reorder(torch.tensor(ancestors), len(prompt) + step + 1)
        sequences = [list(sequences[a]) for a in ancestors]


def fresh_logprobs(llm, ids: list[int]) -> np.ndarray:
    with torch.inference_mode():
        logits = llm.model(input_ids=torch.tensor([ids])).logits[0, -1].double()
    return torch.log_softmax(logits, -1).numpy()


def count_potential(token_ids: "int | list[int]", penalty: float):
    """log phi(prefix) = -penalty * (how many of the prefix's tokens are in token_ids)."""
    marked = torch.tensor(sorted({token_ids} if isinstance(token_ids, int) else set(token_ids)))

    def potential(tokens: torch.Tensor) -> torch.Tensor:
        return -penalty * torch.isin(tokens, marked).sum(dim=1).double()
    return potential


def space_tokens(llm) -> list[int]:
    return [t.id for t in llm.vocabulary.tokens if t is not None and t.bytes.startswith(b" ")]


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
@pytest.mark.parametrize("stop_at_eos", [True, False])
def test_one_particle_weight_is_the_importance_ratio(builtin, temperature, stop_at_eos):
    llm = builtin
    prompt = llm.prompt_ids("SELECT")
    spaces = space_tokens(llm)
    for seed in range(4):
        result = lm.smc_decode(llm, prompt, particles=1, max_tokens=12, temperature=temperature,
                               potential=count_potential(spaces, 0.3), stop_at_eos=stop_at_eos, rng=seed)
        decoded = result.particles[0].trace
        generated = list(decoded.token_ids) + ([llm.vocabulary.eos_ids[0]] if decoded.finished else [])
        assert len(generated) == len(result.steps)
        log_p = log_q = 0.0
        for t, token in enumerate(generated):
            logp = fresh_logprobs(llm, prompt + generated[:t])
            logq = logp / temperature - np.logaddexp.reduce(logp / temperature)
            log_p, log_q = log_p + logp[token], log_q + logq[token]
        phi = -0.3 * sum(token in spaces for token in generated)
        assert result.log_ml == pytest.approx(log_p + phi - log_q, abs=1e-4)
        assert result.log_weights[0] == pytest.approx(result.log_ml, abs=1e-9)
        if not stop_at_eos:
            assert len(result.steps) == 12 and not decoded.finished


def exact_evidence(llm, prompt: list[int], steps: int, potential_token: int, penalty: float) -> float:
    """Z = sum over completed sequences (EOS within `steps`, or `steps` tokens) of p(x) exp(phi(x))."""
    eos = set(llm.vocabulary.eos_ids)
    vocab = [t.id for t in llm.vocabulary.tokens if t is not None]
    total = 0.0
    frontier = [([], 0.0)]
    for t in range(steps):
        grown = []
        for seq, log_p in frontier:
            logp = fresh_logprobs(llm, prompt + seq)
            for token in vocab:
                if logp[token] == -np.inf:
                    continue
                extended = seq + [token]
                weight = log_p + logp[token]
                if token in eos or t + 1 == steps:
                    total += math.exp(weight - penalty * extended.count(potential_token))
                else:
                    grown.append((extended, weight))
        frontier = grown
    return total


def test_evidence_estimate_is_unbiased_on_the_tiny_model(tiny):
    llm, steps, runs, delta = tiny, 3, 1500, 1e-6
    prompt = llm.prompt_ids([1])
    a = 1
    z = exact_evidence(llm, prompt, steps, a, 1.5)
    results = [lm.smc_decode(llm, prompt, particles=3, max_tokens=steps, ess_threshold=1.0,
                             potential=count_potential(a, 1.5), rng=seed) for seed in range(runs)]
    assert sum(any(s.resampled for s in r.steps) for r in results) > runs / 2  # the estimate goes through resampling
    estimates = np.array([math.exp(r.log_ml) for r in results])
    assert estimates.min() >= 0.0 and estimates.max() <= 1.0 + 1e-9
    variance = estimates.var(ddof=1)
    log_term = math.log(4 / delta)
    bound = math.sqrt(2 * variance * log_term / runs) + 7 * log_term / (3 * (runs - 1))
    assert abs(estimates.mean() - z) <= bound, (estimates.mean(), z, bound)


def test_smc_decode_concentrates_where_the_potential_points(builtin):
    """A strong penalty on tokens that start with a space: SMC's weighted particles use far fewer than plain sampling."""
    llm = builtin
    marked = set(space_tokens(llm))
    plain = lm.smc_decode(llm, "SELECT", particles=32, max_tokens=16, rng=0)
    steered = lm.smc_decode(llm, "SELECT", particles=32, max_tokens=16, potential=count_potential(sorted(marked), 3.0), rng=0)

    def spaces(r):
        return float(np.dot(r.weights, [sum(t in marked for t in p.trace.token_ids) for p in r.particles]))

    assert any(s.resampled for s in steered.steps) and spaces(steered) < spaces(plain)
    assert len(steered.particles) == 32 and np.isfinite(steered.log_ml)
    texts = {p.trace.text for p in steered.particles}  # samples are the distinct texts, as for every SMC result
    assert {s.value for s in steered.samples} == texts and abs(sum(s.probability for s in steered.samples) - 1) < 1e-9


def test_bad_input(builtin, tiny):
    with pytest.raises(ValueError, match="particles"):
        lm.smc_decode(builtin, "SELECT", particles=0)
    with pytest.raises(ValueError, match="ess_threshold"):
        lm.smc_decode(builtin, "SELECT", ess_threshold=1.5)
    with pytest.raises(ValueError, match="temperature"):
        lm.smc_decode(builtin, "SELECT", temperature=0.0)
    with pytest.raises(lm.ContextWindowError):
        lm.smc_decode(tiny, [1] * (tiny.window + 1))
    with pytest.raises(lm.ContextWindowError):
        StaticDecoder(tiny, 2, tiny.window + 1)
    with pytest.raises(ValueError, match="CUDA"):
        StaticDecoder(tiny, 2, 8, graphs=True)


def test_decoder_reports_its_memory(builtin):
    decoder = StaticDecoder(builtin, 3, 16)
    layers, shape = len(builtin.server.pool.layers), builtin.server.pool.layers[0]
    assert decoder.bytes == layers * 2 * 3 * shape.heads * 16 * shape.head_dim * 4  # float32
    assert not decoder.graphed  # CPU: eager steps


def test_all_particles_killed_gives_zero_evidence(builtin):
    result = lm.smc_decode(builtin, "SELECT", particles=4, max_tokens=5,
                           potential=lambda tokens: torch.full((tokens.shape[0],), -math.inf, dtype=torch.float64))
    assert result.log_ml == -math.inf and not result.weights.any()


def test_every_enumerated_sequence_is_reachable(tiny):
    """The tiny model's sequences of length 2 all have positive probability: SMC draws several distinct ones."""
    seen = set()
    for seed in range(30):
        result = lm.smc_decode(tiny, [1], particles=4, max_tokens=2, rng=seed, stop_at_eos=False)
        seen.update(p.trace.token_ids for p in result.particles)
    assert len(seen) > 8 and all(len(s) == 2 for s in seen)
    assert seen <= set(itertools.product(range(8), repeat=2))


@given(need=st.integers(1, 20_000), window=st.integers(1, 20_000))
def test_decoder_columns_hold_the_need_with_less_than_half_again_to_spare(need, window):
    """Lengths share a decoder shape by a ladder: enough columns, under 1.5x the need past 128, never past the window."""
    from lm.device.smc_decode import decoder_columns

    class Window:
        pass

    Window.window = window
    columns = decoder_columns(Window, need - 1, 1)
    assert columns == min(window, columns)
    if need <= window:
        assert need <= columns <= max(128, need * 3 // 2)


def test_prompts_of_nearby_lengths_share_one_static_decoder(builtin):
    """Two generate calls whose prompt lengths differ a little reuse one decoder (on CUDA: one recorded graph)."""
    from lm.generation.generation import device_decoder

    first = device_decoder(builtin, "a", 4, 8, "device")
    assert device_decoder(builtin, "a longer prompt", 4, 8, "device") is first
    assert device_decoder(builtin, "a", 3, 8, "device") is not first
