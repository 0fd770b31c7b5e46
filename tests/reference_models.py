"""What LM tests compare against: a plain full-sequence forward pass, and a small random Llama directory."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

import lm
from lm.loading.model_dir import BUILTIN_MODELS


class Reference:
    """Next-token log-probs from a plain full-sequence forward pass, memoized by sequence."""

    def __init__(self, llm: lm.LanguageModel):
        self.model, self.memo = llm.model, {}

    def __call__(self, ids: list[int]) -> np.ndarray:
        key = tuple(ids)
        if key not in self.memo:
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor([ids])).logits[0, -1]
            self.memo[key] = torch.log_softmax(logits.double(), -1).numpy()
        return self.memo[key]


def write_small_llama(out: Path) -> Path:
    """A small random-weight Llama (grouped-query attention, rotary positions) with the built-in tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=2048, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(BUILTIN_MODELS["builtin"] / name, out / name)
    return out
