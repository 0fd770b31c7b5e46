"""Chat prompts: a list of {"role", "content"} messages rendered with the tokenizer's chat template.

The rendered text is what `LanguageModel.context` then tokenizes. A template that writes the
BOS token itself, for a tokenizer that also adds BOS when encoding, loses its leading BOS text
here so that the prompt holds one BOS, not two (as vLLM and transformers' own pipelines do).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lm.errors import LMError


class ChatTemplateError(LMError):
    """Chat messages cannot be rendered: no chat template, malformed messages, or the template refused them."""


def check_messages(messages: Any) -> list[dict]:
    """`messages` as a list of {"role": str, "content": str} dicts; ChatTemplateError naming the bad message."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ChatTemplateError(f"chat messages must be a list of {{'role', 'content'}} dicts, got {type(messages).__name__}")
    if not messages:
        raise ChatTemplateError("chat messages: the list is empty")
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ChatTemplateError(f"chat message {i}: expected a dict with 'role' and 'content', got {type(message).__name__}")
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                raise ChatTemplateError(f"chat message {i}: {key!r} must be a string, got {message.get(key)!r:.60}")
        checked.append(dict(message))
    return checked


def is_chat(prompt: Any) -> bool:
    """Whether `prompt` is a list of chat messages rather than a prompt string."""
    return not isinstance(prompt, (str, bytes)) and isinstance(prompt, Sequence) and all(
        isinstance(m, Mapping) for m in prompt) and len(prompt) > 0


def chat_prompt(tokenizer: Any, messages: Any, *, add_generation_prompt: bool = True, where: str = "the model") -> str:
    """The prompt text for `messages` under the tokenizer's chat template (see the module docstring)."""
    checked = check_messages(messages)
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(f"{where}: the tokenizer has no chat template (no 'chat_template' in tokenizer_config.json "
                                "and no chat_template.jinja), so chat messages cannot be formatted; pass a plain prompt string instead")
    try:
        text = tokenizer.apply_chat_template(checked, tokenize=False, add_generation_prompt=add_generation_prompt)
    except Exception as e:  # jinja2 raises TemplateError and whatever the template's raise_exception says
        raise ChatTemplateError(f"{where}: the chat template refused the messages: {type(e).__name__}: {e}") from None
    if not isinstance(text, str):
        raise ChatTemplateError(f"{where}: the chat template rendered {type(text).__name__}, not text")
    bos = getattr(tokenizer, "bos_token", None)
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if bos and bos_id is not None and text.startswith(bos) and list(tokenizer.encode(""))[:1] == [bos_id]:
        text = text[len(bos):]
    return text
