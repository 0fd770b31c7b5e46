"""Sampling and resampling on the model's device, written with fixed shapes so CUDA graphs can record them."""
from __future__ import annotations

from typing import Callable

import torch

from lm.distribution.tempering import temper_logits

SamplingHead = Callable[[torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


def sampling_head(temperature: float) -> SamplingHead:
    """logits [N, V] -> (x ~ q, log p(x) - log q(x)) with q ∝ p^(1/temperature), drawn by an exponential race."""

    def head(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logp, logq = temper_logits(logits, temperature)
        # argmax of log q - log E with E ~ Exp(1) iid is a draw from q (the exponential race / Gumbel-max).
        race = logq - torch.empty_like(logq).exponential_().log()
        token = race.argmax(dim=-1)
        correction = (logp.gather(1, token[:, None]) - logq.gather(1, token[:, None]))[:, 0]
        return token, correction

    return head


def systematic_ancestors(log_weights: torch.Tensor) -> torch.Tensor:
    """Systematic resampling: one uniform, N evenly spaced points through the normalized weights' CDF."""
    n = log_weights.shape[0]
    w = torch.softmax(log_weights, dim=0)
    cdf = torch.cumsum(w, dim=0)
    cdf[-1] = 1.0
    points = (torch.arange(n, device=w.device, dtype=w.dtype) + torch.rand((), device=w.device, dtype=w.dtype)) / n
    return torch.searchsorted(cdf, points, right=True).clamp_(max=n - 1)
