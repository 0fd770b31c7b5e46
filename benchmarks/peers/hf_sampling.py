"""Token-masking generation through HF transformers `generate`, shared by the xgrammar and llguidance runners.

Ancestral sampling at temperature 1 over the full distribution (top_k=0, top_p=1), N sequences
in one batch, each masked by the engine's logits processor; outputs are cut at the first EOS.
"""
from __future__ import annotations

import time
from typing import Any

import torch


def load(model_dir: str) -> tuple[Any, Any, float]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer, time.perf_counter() - started


def sample(model: Any, tokenizer: Any, prompt: str, processor: Any, *, particles: int, max_tokens: int,
           seed: int) -> list[dict]:
    """`particles` masked samples continuing `prompt`; [{"text", "finished"}]."""
    torch.manual_seed(seed)
    inputs = tokenizer(prompt, return_tensors="pt")
    eos = model.config.eos_token_id  # one id, or a list of them (then any ends a row)
    eos_ids = set(eos) if isinstance(eos, (list, tuple)) else {eos}
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=True, top_k=0, top_p=1.0, temperature=1.0,
                             num_return_sequences=particles, max_new_tokens=max_tokens,
                             logits_processor=[processor], eos_token_id=sorted(eos_ids), pad_token_id=min(eos_ids))
    results = []
    for row in out[:, inputs["input_ids"].shape[1]:].tolist():
        end = next((i for i, token in enumerate(row) if token in eos_ids), None)
        finished = end is not None
        ids = row[:end] if finished else row
        results.append({"text": tokenizer.decode(ids, skip_special_tokens=False), "finished": finished})
    return results
