"""Tempering a next-token distribution: q ∝ p^(1/temperature), on the host (numpy) or on the device (torch)."""
from __future__ import annotations

import numpy as np
import torch

from inference.weighting import log_sum_exp


def temper(logprobs: np.ndarray, temperature: float) -> np.ndarray:
    """log q for q ∝ p^(1/temperature), normalized (the input itself at temperature 1)."""
    if temperature == 1.0:
        return logprobs
    with np.errstate(invalid="ignore"):
        scaled = logprobs / temperature
    return scaled - log_sum_exp(scaled)


def temper_logits(logits: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p, log q) from raw logits [..., V], q ∝ p^(1/temperature), in the logits' dtype."""
    logp = torch.log_softmax(logits, dim=-1)
    logq = logp if temperature == 1.0 else torch.log_softmax(logits / temperature, dim=-1)
    return logp, logq
