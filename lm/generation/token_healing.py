"""Token healing: back a prompt up to a token boundary the tokenizer would not merge across.

A prompt ending in a partial token ("Story: " ends in a lone space token) puts the model where
its training text almost never was: the tokenizer would have merged that space with the next
word (" Once"). Healing removes the trailing tokens while some vocabulary token starts with
their bytes and goes on past the prompt's end, and owes those bytes to the generated text
(`constraints.literal_prefix.LiteralPrefix`), as guidance does. The target becomes the model
given the kept tokens, conditioned on the text starting with the removed bytes.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HealedPrompt:
    """The prompt's token ids backed up to a safe boundary, and the bytes generation owes."""

    token_ids: tuple[int, ...]
    owed: bytes
    removed_tokens: int


def heal_prompt(llm: Any, prompt: str) -> HealedPrompt:
    """The healed form of `prompt` on `llm` (at least its first token is kept; special tokens are never removed)."""
    ids = llm.prompt_ids(prompt)
    tokens = llm.vocabulary.tokens
    ordinary = sorted({t.bytes for t in tokens if t is not None and not t.is_special and not t.is_eos and t.bytes})
    owed, removed = b"", 0
    while removed < len(ids) - 1:
        token = tokens[ids[-1 - removed]]
        if token is None or token.is_special or token.is_eos or not token.bytes:
            break
        candidate = token.bytes + owed
        if not _extended_by_a_token(ordinary, candidate):
            break
        owed, removed = candidate, removed + 1
    return HealedPrompt(tuple(ids[:len(ids) - removed]), owed, removed)


def _extended_by_a_token(sorted_tokens: list[bytes], data: bytes) -> bool:
    """Some token's bytes start with `data` and are longer (so a token could cross the prompt's end)."""
    index = bisect.bisect_right(sorted_tokens, data)
    return index < len(sorted_tokens) and sorted_tokens[index].startswith(data)
