"""`lm.load`: a causal LM from a local directory (or a built-in name) on the transformers backend."""
from __future__ import annotations

import inspect
import os
from typing import Any

import torch

from lm.errors import ModelDirectoryError, UnsupportedModelError
from lm.serving.forward_server import ForwardServer
from lm.serving.kv_pool import KVPool
from lm.distribution.language_model import LanguageModel
from lm.loading.model_dir import resolve
from lm.serving.pool_cache import ShapeProbe
from lm.distribution.vocabulary import build_vocabulary

DEFAULT_THREADS = 1
DEFAULT_CACHE_BYTES = 2 << 30
DEFAULT_MEMO_BYTES = 256 << 20
_DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _dtype(dtype: "str | torch.dtype") -> torch.dtype:
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(f"load: dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")


def _device(device: "str | torch.device") -> torch.device:
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"load: device {device!r} is not a torch device: {e}") from None
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"load: device {device!r} requested but CUDA is not available")
    return d


def _window(config: Any) -> int:
    for key in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            window = value
            break
    else:
        raise UnsupportedModelError(f"config of {config.model_type!r} states no context window (max_position_embeddings)")
    sliding = getattr(config, "sliding_window", None)
    if isinstance(sliding, int) and sliding > 0:
        window = min(window, sliding)  # beyond the window full attention would differ from the model's
    return window


def load(name_or_path: "str | os.PathLike" = "builtin", *, device: "str | torch.device" = "cpu",
         dtype: "str | torch.dtype" = "float32", threads: int | None = DEFAULT_THREADS,
         cache_bytes: int = DEFAULT_CACHE_BYTES, memo_bytes: int = DEFAULT_MEMO_BYTES,
         lean_forward: bool = True, trust_remote_code: bool = False) -> LanguageModel:
    """Load a causal LM: "builtin", "tiny", or a local directory with config.json, safetensors weights and a tokenizer.

    `threads` sets torch's (process-wide) CPU thread count; None leaves it alone. `cache_bytes`
    bounds the KV pool (beyond what one batch needs), `memo_bytes` the memoized distributions.
    `lean_forward=False` runs GPT-2 and Llama models through their transformers forward too
    (other architectures always do).
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    torch_dtype, torch_device = _dtype(dtype), _device(device)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"load: threads must be a positive integer or None, got {threads!r}")
        torch.set_num_threads(threads)
    path = resolve(name_or_path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as e:  # an unknown model_type or a config transformers rejects
        raise ModelDirectoryError(f"{path / 'config.json'}: {type(e).__name__}: {e}") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as e:  # tokenizers raises its own exception types for malformed files
        raise ModelDirectoryError(f"{path}: the tokenizer does not load: {type(e).__name__}: {e}") from None
    model = _load_model(AutoModelForCausalLM, path, torch_dtype, trust_remote_code)
    model.to(torch_device).eval()
    try:
        generation_config = GenerationConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError):
        generation_config = None
    shapes, logit_width = _probe(model, config, torch_device)
    window = _window(config)
    vocabulary = build_vocabulary(tokenizer, logit_width, config, generation_config, where=str(path))
    pool = KVPool(shapes, torch_dtype, torch_device, max_columns=window + 1, budget_bytes=cache_bytes)
    additive = getattr(model.config, "_attn_implementation", "sdpa") == "eager"
    server = ForwardServer(model, pool, vocabulary.defined, window, memo_bytes, additive_mask=additive,
                           lean=lean_forward)
    name = name_or_path if isinstance(name_or_path, str) and not os.sep in name_or_path else path.name
    return LanguageModel(model, tokenizer, vocabulary, server, window, path, str(name))


def _load_model(auto: Any, path: Any, dtype: torch.dtype, trust_remote_code: bool) -> Any:
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return _from_pretrained(auto, path, dtype, trust_remote_code)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _from_pretrained(auto: Any, path: Any, dtype: torch.dtype, trust_remote_code: bool) -> Any:
    kwargs = dict(local_files_only=True, use_safetensors=True, dtype=dtype, trust_remote_code=trust_remote_code)
    try:
        return auto.from_pretrained(path, attn_implementation="sdpa", **kwargs)
    except Exception as e:  # transformers and safetensors raise many types for an unloadable directory
        if "sdpa" not in str(e).lower():
            raise ModelDirectoryError(f"{path}: the model does not load: {type(e).__name__}: {e}") from None
    try:
        return auto.from_pretrained(path, attn_implementation="eager", **kwargs)
    except Exception as e:
        raise ModelDirectoryError(f"{path}: the model does not load: {type(e).__name__}: {e}") from None


def cache_keyword(model: Any) -> str:
    """The forward argument that takes a KV cache: `cache` in transformers >= 5.20, `past_key_values` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _probe(model: Any, config: Any, device: torch.device) -> tuple[list, int]:
    """Run one token through the model with a recording cache: each layer's KV shape, and the logit width."""
    probe = ShapeProbe()
    ids = torch.zeros((1, 1), dtype=torch.long, device=device)
    mask = torch.ones((1, 1, 1, 1), dtype=torch.bool, device=device)
    if getattr(model.config, "_attn_implementation", "sdpa") == "eager":
        mask = torch.zeros((1, 1, 1, 1), dtype=model.dtype, device=device)
    try:
        with torch.inference_mode():
            out = model(input_ids=ids, position_ids=torch.zeros_like(ids), attention_mask=mask, use_cache=True,
                        logits_to_keep=1, **{cache_keyword(model): probe})
    except Exception as e:  # any architecture-specific failure means the pooled cache cannot drive this model
        raise UnsupportedModelError(f"{config.model_type}: a forward pass with the pooled KV cache failed: {type(e).__name__}: {e}") from None
    count = len(probe.shapes)
    if count == 0 or sorted(probe.shapes) != list(range(count)):
        raise UnsupportedModelError(f"{config.model_type}: the model does not use a per-layer attention KV cache "
                                    "(recurrent, hybrid or encoder-decoder models are not supported)")
    return [probe.shapes[i] for i in range(count)], int(out.logits.shape[-1])
