"""`LanguageModel`: a causal LM with its byte vocabulary, prefix trie, KV pool and batching server.

Made by `lm.load`. It is shared, never copied, when a ppl.Model particle is cloned.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from lm.distribution.context import LMContext
from lm.errors import ContextWindowError, KVBudgetError
from lm.serving.forward_server import ForwardServer
from lm.serving.kv_pool import CacheStats
from lm.serving.prefix_trie import new_root
from lm.distribution.token import Token
from lm.distribution.vocabulary import Vocabulary

STATIC_DECODERS_KEPT = 4  # decoder shapes kept on CUDA, each with its KV tensor and recorded graph


class LanguageModel:
    """A loaded language model: `context(prompt)` starts a sequence; `cache_stats()` reports memory and work."""

    __ppl_shared__ = True

    def __init__(self, model: Any, tokenizer: Any, vocabulary: Vocabulary, server: ForwardServer, window: int,
                 path: Path, name: str):
        self.model = model
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.server = server
        self.window = window
        self.path = path
        self.name = name
        self._root = new_root()
        self._static_decoders: dict[tuple, Any] = {}  # (rows, columns, temperature, graphs) -> StaticDecoder, oldest first

    def __repr__(self) -> str:
        return (f"LanguageModel({self.name!r}, {type(self.model).__name__}, vocabulary={len(self.vocabulary)}, "
                f"window={self.window}, device={self.device}, dtype={self.dtype})")

    def __deepcopy__(self, memo: dict) -> "LanguageModel":
        return self

    @property
    def device(self) -> torch.device:
        return self.server.device

    @property
    def dtype(self) -> torch.dtype:
        return self.server.pool.dtype

    @property
    def eos(self) -> Token:
        return self.vocabulary.eos

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` as the tokenizer encodes a prompt (with its BOS token, if it adds one)."""
        return list(self.tokenizer.encode(text))

    def context(self, prompt: "str | Sequence[int]" = "") -> LMContext:
        """A context holding `prompt` (text, or token ids); an empty prompt starts from BOS (or EOS)."""
        ids = self.prompt_ids(prompt)
        return LMContext(self, self._root.descend(ids), len(ids))

    def prompt_ids(self, prompt: "str | Sequence[int]" = "") -> list[int]:
        """The token ids a context for `prompt` starts from (checked against the vocabulary and the window)."""
        if isinstance(prompt, str):
            ids = self.tokenize(prompt)
        else:
            ids = []
            for position, t in enumerate(prompt):
                if self.vocabulary.token_id(t) is None:
                    raise ValueError(f"prompt token {position}: {t!r} is not a token id of this model's vocabulary")
                ids.append(int(t.id if isinstance(t, Token) else t))
        if not ids:
            bos = getattr(self.tokenizer, "bos_token_id", None)
            ids = [bos if bos is not None and self.vocabulary.token_id(bos) is not None else self.vocabulary.eos_ids[0]]
        if len(ids) > self.window:
            raise ContextWindowError(f"the prompt is {len(ids)} tokens long, longer than the model's context window of {self.window} tokens")
        return ids

    def chat(self, messages: Sequence[dict], add_generation_prompt: bool = True) -> str:
        """The prompt text for chat `messages` ({"role", "content"} dicts) under the tokenizer's chat template."""
        from lm.distribution.chat import chat_prompt

        return chat_prompt(self.tokenizer, messages, add_generation_prompt=add_generation_prompt, where=self.name)

    def generate(self, prompt: Any, constraint: Any = None, **options: Any) -> Any:
        """`lm.generate(self, prompt, constraint=constraint, **options)`: a prompt or chat messages, SMC with AWRS by default."""
        from lm.generation.api import generate

        return generate(self, prompt, constraint=constraint, **options)

    def static_decoder(self, rows: int, columns: int, temperature: float | None = 1.0, graphs: bool | None = None) -> Any:
        """A StaticDecoder whose step samples at `temperature` (None: returns logits), kept and reused.

        Reuse matters on CUDA, where building one records its decode step as a CUDA graph: there the last
        STATIC_DECODERS_KEPT shapes are kept (their KV tensors stay allocated; when a new one does not fit,
        the kept ones are freed and it is tried once more); elsewhere only the last one.
        """
        from lm.device.device_sampling import sampling_head
        from lm.device.static_decoder import StaticDecoder

        key = (rows, columns, temperature, graphs)
        decoder = self._static_decoders.pop(key, None)
        if decoder is None:
            kept = STATIC_DECODERS_KEPT if self.device.type == "cuda" else 1
            while len(self._static_decoders) >= kept:
                del self._static_decoders[next(iter(self._static_decoders))]  # free the oldest before allocating
            head = None if temperature is None else sampling_head(temperature)
            try:
                decoder = StaticDecoder(self, rows, columns, head=head, graphs=graphs)
            except KVBudgetError:
                if not self._static_decoders:
                    raise
                self._static_decoders.clear()
                decoder = StaticDecoder(self, rows, columns, head=head, graphs=graphs)
        self._static_decoders[key] = decoder
        return decoder

    def cache_stats(self) -> CacheStats:
        """Rows, bytes (allocated, budget, peak), forward calls, memo hits, recomputed tokens, copies, evictions."""
        return self.server.stats()

    def clear_cache(self) -> None:
        """Forget every cached key/value and memoized distribution (contexts stay valid; work is redone)."""
        self.server.clear()
        self._static_decoders.clear()
