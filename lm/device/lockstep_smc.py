"""SMC over token sequences that advance in lockstep, kept on the model's device.

`smc_decode(llm, prompt, particles=N, max_tokens=T, potential=phi)` targets
pi(x) ∝ p(x | prompt) exp(phi(x)) over completed sequences (ended by EOS or by the length
limit), with exp(phi(prefix)) as the intermediate twist: at step t particle i draws
x_t ~ q = p^(1/temperature) (renormalized), and its log weight grows by

    log p(x_t | x_<t) - log q(x_t | x_<t) + phi(x_<=t) - phi(x_<t),

so the product of increments telescopes to p(x) exp(phi(x)) / q(x) (Naesseth et al. 2019,
twisted SMC). Particles that emitted EOS stop: their weight and potential no longer change.
When the effective sample size falls below `ess_threshold * N`, particles are resampled
systematically and the KV rows follow by an index gather on the device.

Everything per step stays on the device: sampling (inside the decode step's CUDA graph),
weights, the resampling draw and the gather; the host reads two numbers per step (ESS and
how many particles finished). This is the fast path for token-level SMC; programs with
arbitrary Python per particle (constraints, ppl.Model steps) use llm.context and lm.generate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

import ppl
from lm.device.device_sampling import systematic_ancestors

Potential = Callable[[torch.Tensor], torch.Tensor]

_COLUMN_MULTIPLE = 16  # attention kernels want the key length aligned


@dataclass
class DecodeResult:
    """The particles of one `smc_decode` run: tokens, texts, final log weights and the evidence estimate."""

    token_ids: list[list[int]]
    texts: list[str]
    finished: list[bool]
    log_weights: np.ndarray
    log_ml: float
    ess: list[float] = field(default_factory=list)
    resampled_at: list[int] = field(default_factory=list)
    steps: int = 0

    @property
    def weights(self) -> np.ndarray:
        """Normalized particle weights (zeros when every particle has weight zero)."""
        lw = self.log_weights
        if not np.isfinite(lw).any():
            return np.zeros_like(lw)
        w = np.exp(lw - lw.max())
        return w / w.sum()


def smc_decode(llm: Any, prompt: "str | Sequence[int]", *, particles: int = 16, max_tokens: int = 64,
               potential: Potential | None = None, ess_threshold: float = 0.5, temperature: float = 1.0,
               stop_at_eos: bool = True, rng: Any = 0, graphs: bool | None = None) -> DecodeResult:
    """Run twisted SMC over `particles` continuations of `prompt` for at most `max_tokens` tokens.

    `potential(tokens)` gets the generated tokens so far ([N, t] on the device) and returns each
    prefix's log potential ([N]); -inf kills a particle. `rng` (a seed or a ppl rng, as everywhere)
    seeds torch's generator of the model's device, from which the draws are made on the device (the
    CUDA graph draws from the default generator); None leaves that generator as it is.
    `stop_at_eos=False` treats EOS as an ordinary token (every particle runs `max_tokens` steps:
    throughput measurements).
    The decoder (and its CUDA graph) is kept by `llm` and reused by the next call of the same
    shape. See the module docstring for the target and the weights.
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
    columns = min(llm.window, -(-(len(ids) + steps) // _COLUMN_MULTIPLE) * _COLUMN_MULTIPLE)
    device = llm.device
    if rng is not None:
        torch.manual_seed(int(ppl.rng(rng).numpy().integers(2**63 - 1)))
    decoder = llm.static_decoder(particles, columns, float(temperature), graphs)
    head = decoder.head
    n = particles
    eos = torch.tensor(llm.vocabulary.eos_ids, device=device)
    log_n = math.log(n)
    with torch.inference_mode():
        tokens = torch.empty((n, steps), dtype=torch.long, device=device)
        log_w = torch.zeros(n, dtype=torch.float64, device=device)
        phi = torch.zeros(n, dtype=torch.float64, device=device)
        done = torch.zeros(n, dtype=torch.bool, device=device)
        log_ml = 0.0
        ess_trace: list[float] = []
        resampled: list[int] = []
        first = decoder.prefill(ids)
        taken = 0
        for t in range(steps):
            if t == 0:
                token, correction = head(first.expand(n, -1))
            else:
                token, correction = decoder.step(tokens[:, t - 1], len(ids) + t - 1)
            token = torch.where(done, eos[0], token)
            increment = torch.where(done, 0.0, correction.double())
            tokens[:, t] = token
            taken = t + 1
            if potential is not None:
                new_phi = potential(tokens[:, :taken]).to(torch.float64)
                increment = increment + torch.where(done, 0.0, new_phi - phi)
                phi = torch.where(done, phi, new_phi)
            log_w = log_w + torch.nan_to_num(increment, nan=-math.inf)
            if stop_at_eos:
                done = done | torch.isin(token, eos)
            log_total = torch.logsumexp(log_w, dim=0)
            ess_now = torch.exp(2 * log_total - torch.logsumexp(2 * log_w, dim=0))
            ess_value, finished, total = torch.stack([ess_now.nan_to_num(0.0), done.sum().double(), log_total]).tolist()
            ess_trace.append(ess_value)
            if total == -math.inf:
                log_ml = -math.inf
                break
            if finished == n:
                break
            if ess_value < ess_threshold * n and t + 1 < steps:
                ancestors = systematic_ancestors(log_w)
                decoder.reorder(ancestors, len(ids) + t)
                tokens, done, phi = tokens[ancestors], done[ancestors], phi[ancestors]
                log_ml += total - log_n
                log_w = torch.zeros_like(log_w)
                resampled.append(t)
        if log_ml != -math.inf:
            log_ml += float(torch.logsumexp(log_w, dim=0)) - log_n
        host_tokens = tokens[:, :taken].cpu().numpy()
        host_weights = log_w.cpu().numpy()
    eos_set = set(llm.vocabulary.eos_ids) if stop_at_eos else set()
    token_ids, texts, finished_flags = [], [], []
    for row in host_tokens:
        out: list[int] = []
        ended = False
        for tok in row.tolist():
            if tok in eos_set:
                ended = True
                break
            out.append(tok)
        token_ids.append(out)
        finished_flags.append(ended)
        texts.append(llm.vocabulary.decode(out).decode("utf-8", errors="replace"))
    return DecodeResult(token_ids, texts, finished_flags, host_weights, float(log_ml), ess_trace, resampled, taken)
