"""Response bodies in OpenAI's shapes, whose choices are the posterior's distinct samples, most probable first.

Each choice carries its posterior `probability`; the response carries `log_ml` (None when -inf),
`ess`, `particles`, `seconds`, `seed` and `method`. `usage` counts the prompt's tokens and the
tokens of the returned choices. Streams send `chat.completion.chunk` / `text_completion` chunks.
"""
from __future__ import annotations

import math
import time
import uuid
from typing import Any

from frontend.server.generation import Generated
from frontend.server.requests import GenerationRequest


def response_id(request: GenerationRequest) -> str:
    return ("chatcmpl-" if request.kind == "chat" else "cmpl-") + uuid.uuid4().hex


def completion_body(request: GenerationRequest, generated: Generated, *, model_id: str, identifier: str,
                    seconds: float) -> dict[str, Any]:
    """The whole (non-streamed) response: the distinct samples as choices (at most `n`), usage and the posterior's figures."""
    result = generated.result
    samples = result.texts[:request.n] if request.n is not None else result.texts
    choices = []
    for index, sample in enumerate(samples):
        choice: dict[str, Any] = {"index": index}
        if request.kind == "chat":
            choice["message"] = {"role": "assistant", "content": sample.value, "refusal": None}
        else:
            choice["text"] = sample.value
        choice.update(logprobs=None, finish_reason="stop", probability=sample.probability)
        choices.append(choice)
    completion_tokens = sum(generated.completion_tokens.get(s.value, 0) for s in samples)
    return {
        "id": identifier, "object": "chat.completion" if request.kind == "chat" else "text_completion",
        "created": int(time.time()), "model": model_id, "system_fingerprint": _fingerprint(),
        "choices": choices,
        "usage": {"prompt_tokens": generated.prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": generated.prompt_tokens + completion_tokens},
        "log_ml": result.log_ml if math.isfinite(result.log_ml) else None, "ess": result.ess,
        "particles": len(result.particles), "seconds": seconds, "seed": request.seed, "method": request.method,
    }


def chunk_body(request: GenerationRequest, text: str, *, model_id: str, identifier: str, first: bool = False,
               finish_reason: str | None = None) -> dict[str, Any]:
    """One streamed chunk of choice 0: `text` appended to what was sent before."""
    if request.kind == "chat":
        delta: dict[str, Any] = {"role": "assistant", "content": text} if first else {"content": text}
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        kind = "chat.completion.chunk"
    else:
        choice, kind = {"index": 0, "text": text}, "text_completion"
    choice.update(logprobs=None, finish_reason=finish_reason)
    return {"id": identifier, "object": kind, "created": int(time.time()), "model": model_id,
            "system_fingerprint": _fingerprint(), "choices": [choice]}


def posterior_chunk(request: GenerationRequest, body: dict[str, Any]) -> dict[str, Any]:
    """The stream's last chunk: no choices, the usage, and the whole response (`completion_body`) as `posterior`."""
    kind = "chat.completion.chunk" if request.kind == "chat" else "text_completion"
    return {"id": body["id"], "object": kind, "created": body["created"], "model": body["model"],
            "system_fingerprint": body["system_fingerprint"], "choices": [], "usage": body["usage"],
            "posterior": body}


def _fingerprint() -> str:
    from ppl import __version__

    return f"ppl-{__version__}"
