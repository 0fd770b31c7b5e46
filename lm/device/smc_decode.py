"""`lm.smc_decode`: token-level twisted SMC kept on the model's device, run by the one SMC engine.

`smc_decode(llm, prompt, particles=N, max_tokens=T, potential=phi)` targets
pi(x) ∝ p(x | prompt) exp(phi(x)) over completed sequences (ended by EOS or by the length
limit), with exp(phi(prefix)) as the intermediate twist (lm/device/decode_population.py). The
engine (inference/smc_engine/engine.py) resamples when the ESS falls below
ess_threshold * N; the KV rows follow by an index gather on the device. It returns the same
`inference.Result` as every SMC call: particles carry `DecodedText` (token_ids, text, finished).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

import ppl
from inference.history.recorder import HistoryRecorder
from inference.result import Result
from inference.smc_engine.engine import EssResampling, Observer, run_smc
from lm.device.decode_population import DecodePopulation, Potential

_SMALLEST_COLUMNS = 128


def decoder_columns(llm: Any, prompt_length: int, steps: int) -> int:
    """Columns of a static KV cache for a prompt plus `steps` tokens: the next size of a ladder (128 x 1, 1.5, 2, 3,
    4, 6, ...) that holds them, capped at the window.

    Calls whose lengths differ a little share one decoder (on CUDA one recorded graph; recording costs a
    fraction of a second per shape), and the masked columns a step attends to past the need stay under 1.5x.
    """
    need = prompt_length + steps
    size = _SMALLEST_COLUMNS
    while size < need:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return min(llm.window, size)


def smc_decode(llm: Any, prompt: "str | Sequence[int]", *, particles: int = 16, max_tokens: int = 64,
               potential: Potential | None = None, ess_threshold: float = 0.5, temperature: float = 1.0,
               stop_at_eos: bool = True, rng: Any = 0, graphs: bool | None = None, sampling: str = "device",
               on_step: Observer | None = None, record: bool = False) -> Result:
    """Run twisted SMC over `particles` continuations of `prompt` for at most `max_tokens` tokens.

    `potential(tokens)` gets the generated tokens so far ([N, t] on the device) and returns each
    prefix's log potential ([N]); -inf kills a particle. `rng` (a seed or a ppl rng, as everywhere)
    drives resampling and seeds torch's generator of the model's device, from which the token draws
    are made on the device (`sampling="host"` draws them with `rng` instead: exact under the
    enumerating rng). `stop_at_eos=False` treats EOS as an ordinary token (every particle runs
    `max_tokens` steps: throughput measurements). The decoder (and its CUDA graph) is kept by
    `llm` and reused by the next call of the same shape. `record=True` keeps every step in `result.history`.
    """
    if particles < 1 or max_tokens < 1:
        raise ValueError(f"smc_decode: particles and max_tokens must be positive, got {particles} and {max_tokens}")
    if not 0.0 <= ess_threshold <= 1.0:
        raise ValueError(f"smc_decode: ess_threshold must lie in [0, 1], got {ess_threshold}")
    if not temperature > 0.0 or not math.isfinite(temperature):
        raise ValueError(f"smc_decode: temperature must be a positive number, got {temperature}")
    ids = llm.prompt_ids(prompt)
    steps = min(max_tokens, llm.window - len(ids))
    if steps < 1:
        raise ValueError(f"smc_decode: the prompt ({len(ids)} tokens) fills the context window of {llm.window}")
    r = ppl.rng(0 if rng is None else rng)
    if sampling == "device" and rng is not None:
        torch.manual_seed(int(r.numpy().integers(2**63 - 1)))
    head_temperature = float(temperature) if sampling == "device" else None
    decoder = llm.static_decoder(particles, decoder_columns(llm, len(ids), steps), head_temperature, graphs)
    population = DecodePopulation(llm, ids, particles, steps, decoder, potential=potential, temperature=temperature,
                                  stop_at_eos=stop_at_eos, sampling=sampling)
    return run_smc(population, r, EssResampling(ess_threshold, "systematic"), max_steps=steps, steps_known=steps,
                   name="smc_decode", observer=on_step, history=HistoryRecorder() if record else None)
