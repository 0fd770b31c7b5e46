"""Errors of the language-model layer, each naming the file, argument or length at fault."""
from __future__ import annotations

from ppl.errors import ModelError


class LMError(ModelError):
    """A language model, its directory or its input is unusable."""


class ModelDirectoryError(LMError):
    """A model directory is missing or lacks a config, safetensors weights or a tokenizer."""


class TokenizerError(LMError):
    """A tokenizer cannot be used: no end-of-sequence token, or a vocabulary we cannot map to bytes."""


class ContextWindowError(LMError):
    """A prompt or a context is longer than the model's context window."""


class UnsupportedModelError(LMError):
    """The model's architecture does not work with the pooled KV cache (e.g. no attention cache)."""


class KVBudgetError(LMError):
    """The particles' KV cache does not fit in the device's memory (names the particle count and the budget)."""
