"""`DecodePopulation`: N continuations of one prompt kept in a `StaticDecoder`'s rows, for the one SMC engine.

Particle i is row i of the decoder's KV tensor. A step feeds every row its last token (one
graph replay on CUDA), then each unfinished row draws x_t ~ q = p^(1/temperature)
(renormalized) and its log weight grows by

    log p(x_t | x_<t) - log q(x_t | x_<t) + phi(x_<=t) - phi(x_<t),

so the product of increments telescopes to p(x) exp(phi(x)) / q(x) (Naesseth et al. 2019,
twisted SMC); the target is pi(x) ∝ p(x | prompt) exp(phi(x)) over sequences ended by EOS or by
the length limit. Finished rows keep feeding EOS (fixed shapes) and no longer change.
Re-indexing is an index gather of the KV rows on the device.

`sampling="device"` draws inside the decode step (the CUDA graph draws from torch's generator);
`sampling="host"` takes each row's distribution to the host and draws with the engine's rng,
so the population runs exactly under the enumerating rng (the exact tests use this on CPU).
The host reads one small vector per step (weights and finished flags, one transfer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from inference.history.record import ParticleSummary
from inference.result import Particle
from lm.distribution.tempering import temper_logits

Potential = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DecodedText:
    """One particle's output: generated token ids (EOS excluded), text, and whether it ended with EOS."""

    token_ids: tuple[int, ...]
    text: str
    finished: bool

    @property
    def output(self) -> str:
        return self.text


class DecodePopulation:
    """N rows of a StaticDecoder advancing one token per step (see the module docstring)."""

    def __init__(self, llm: Any, prompt_ids: Sequence[int], n: int, steps: int, decoder: Any, *,
                 potential: Potential | None = None, temperature: float = 1.0, stop_at_eos: bool = True,
                 sampling: str = "device"):
        if sampling not in ("device", "host"):
            raise ValueError(f"sampling must be 'device' or 'host', got {sampling!r}")
        self.llm, self.ids, self.n, self.steps = llm, list(prompt_ids), n, steps
        self.decoder, self.potential = decoder, potential
        self.temperature, self.stop_at_eos, self.sampling = float(temperature), stop_at_eos, sampling
        device = llm.device
        self.eos = torch.tensor(llm.vocabulary.eos_ids, device=device)
        self.tokens = torch.empty((n, steps), dtype=torch.long, device=device)
        self.log_w = torch.zeros(n, dtype=torch.float64, device=device)
        self.phi = torch.zeros(n, dtype=torch.float64, device=device)
        self.done = torch.zeros(n, dtype=torch.bool, device=device)
        self.t = 0
        self._first = decoder.prefill(self.ids)

    def __len__(self) -> int:
        return self.n

    def _logits(self) -> torch.Tensor:
        if self.t == 0:
            return self._first.expand(self.n, -1)
        return self.decoder.step(self.tokens[:, self.t - 1], len(self.ids) + self.t - 1)

    def _draw_on_host(self, logits: torch.Tensor, rng: Any) -> tuple[torch.Tensor, torch.Tensor]:
        logp, logq = temper_logits(logits.double(), self.temperature)
        q = logq.exp().cpu().numpy()
        done = self.done.cpu().numpy()
        chosen = [0 if done[i] else int(rng.categorical(q[i])) for i in range(self.n)]
        token = torch.tensor(chosen, dtype=torch.long, device=logits.device)
        correction = (logp.gather(1, token[:, None]) - logq.gather(1, token[:, None]))[:, 0]
        return token, correction

    def advance(self, rng: Any) -> None:
        with torch.inference_mode():
            if self.sampling == "device":
                if self.t == 0:
                    token, correction = self.decoder.head(self._logits())
                else:
                    token, correction = self._logits()
            else:
                token, correction = self._draw_on_host(self._logits(), rng)
            done = self.done
            token = torch.where(done, self.eos[0], token)
            increment = torch.where(done, 0.0, correction.double())
            self.tokens[:, self.t] = token
            self.t += 1
            if self.potential is not None:
                new_phi = self.potential(self.tokens[:, :self.t]).to(torch.float64)
                increment = increment + torch.where(done, 0.0, new_phi - self.phi)
                self.phi = torch.where(done, self.phi, new_phi)
            self.log_w = self.log_w + torch.nan_to_num(increment, nan=-math.inf)
            if self.stop_at_eos:
                self.done = done | torch.isin(token, self.eos)

    def status(self) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            both = torch.cat([self.log_w, self.done.double()]).cpu().numpy()
        finished = both[self.n:] > 0.5
        if self.t >= self.steps:
            finished[:] = True
        return both[:self.n], finished

    def reindex(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        with torch.inference_mode():
            index = torch.as_tensor(np.asarray(ancestors, dtype=np.int64), device=self.tokens.device)
            self.decoder.reorder(index, len(self.ids) + self.t)
            self.tokens, self.done, self.phi = self.tokens[index], self.done[index], self.phi[index]
            self.log_w = torch.as_tensor(np.asarray(log_weights, dtype=np.float64), device=self.tokens.device)

    def summaries(self) -> list[ParticleSummary]:
        """Each particle's text so far (read only by a recorded run; one host transfer a step)."""
        return [ParticleSummary(p.trace.text, "condition" if p.log_weight == -math.inf else "") for p in self.particles()]

    def particles(self) -> list[Particle]:
        host_tokens = self.tokens[:, :self.t].cpu().numpy()
        weights, _ = self.status()
        eos_set = set(self.llm.vocabulary.eos_ids) if self.stop_at_eos else set()
        out = []
        for row, w in zip(host_tokens, weights):
            ids: list[int] = []
            ended = False
            for tok in row.tolist():
                if tok in eos_set:
                    ended = True
                    break
                ids.append(tok)
            text = self.llm.vocabulary.decode(ids).decode("utf-8", errors="replace")
            out.append(Particle(DecodedText(tuple(ids), text, ended), float(w)))
        return out
