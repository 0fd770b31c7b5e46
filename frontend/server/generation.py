"""One request's generation: the constraint built, the prompt rendered, `lm.generate` run, cancellable step by step.

`build_request_constraint` runs in a worker thread before the generation joins the lockstep (a
schema that cannot compile is a 400 before any model work). `generate_for` runs inside
`Lockstep.run`: it renders chat messages (the model's chat template, or a plain transcript for
a model without one), calls `lm.generate` with the request's seed, and stops at the next step
once the request's `cancel` event is set (the client left, or the server is shutting down).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from constraints.base import Constraint, ConstraintError
from frontend.server.errors import APIError, bad_field
from frontend.server.requests import ConstraintRequest, GenerationRequest
from lm.distribution.chat import ChatTemplateError
from lm.errors import ContextWindowError
from lm.generation.api import build_constraint, generate
from lm.generation.generation_result import GenerationResult

# `%import` reads grammar files: a request may import only from Lark's bundled `common` module.
_IMPORT = re.compile(r"^[ \t]*%import[ \t]+([^\s(]*)", re.MULTILINE)


class Cancelled(Exception):
    """The request was cancelled between two SMC steps (its client disconnected, or the server is shutting down)."""


@dataclass(eq=False)  # compared and hashed by identity: the service keeps a set of them
class Job:
    """A generation in flight: its request, its constraint, the event that cancels it, and the streaming hook."""

    request: GenerationRequest
    constraint: Constraint | None
    cancel: threading.Event = field(default_factory=threading.Event)
    on_step: Callable[[Any, bytes], None] | None = None   # (StepInfo, healed bytes owed), after each step


@dataclass(frozen=True)
class Generated:
    """A finished generation: the result, the prompt's token count, and each distinct text's token count."""

    result: GenerationResult
    prompt_tokens: int
    completion_tokens: dict[str, int]


def build_request_constraint(spec: ConstraintRequest | None, databases: dict[str, Constraint]) -> Constraint | None:
    """The constraint a request asks for, through lm.generate's `build_constraint`; a 400 naming the field if it cannot compile.

    SQL constraints were built once at start-up (`databases`, by name); the others are built per request.
    """
    if spec is None:
        return None
    if spec.keyword == "sql":
        return databases[spec.value]
    if spec.keyword == "grammar":
        for match in _IMPORT.finditer(spec.value):
            if match.group(1).split(".")[0] != "common":
                raise bad_field("grammar", f"%import {match.group(1)}: a grammar may import only from Lark's 'common' "
                                           "module (imports read files)", code="invalid_grammar")
    try:
        constraint, _ = build_constraint(**{spec.keyword: spec.value}, allow_extra_keys=spec.allow_extra_keys)
    except (ConstraintError, ValueError, TypeError) as e:
        raise bad_field(spec.param, str(e), code="invalid_constraint") from None
    return constraint


def generate_for(llm: Any, job: Job) -> Generated:
    """Run the job's generation on `llm` (inside Lockstep.run); APIError for what the request got wrong."""
    request = job.request
    prompt = _prompt_text(llm, request.prompt)
    owed = b""
    if job.on_step is not None:
        from lm.generation.token_healing import heal_prompt

        owed = heal_prompt(llm, prompt).owed  # what lm.generate will heal: the streamed text leaves it out

    def on_step(info: Any) -> None:
        if job.cancel.is_set():
            raise Cancelled()
        if job.on_step is not None:
            job.on_step(info, owed)

    param = "messages" if request.kind == "chat" else "prompt"
    try:
        result = generate(llm, prompt, constraint=job.constraint, particles=request.particles, method=request.method,
                          max_tokens=request.max_tokens, temperature=request.temperature, rng=request.seed,
                          engine="general", on_step=on_step)
    except ContextWindowError as e:
        raise bad_field(param, f"{e}; shorten it", code="context_length_exceeded") from None
    except ConstraintError as e:  # BudgetTooSmall: the constraint's shortest output cannot fit max_tokens
        raise bad_field("max_tokens", str(e), code="budget_too_small") from None
    if result.all_dead:
        raise APIError(422, f"no valid sample: {result.message}; try a larger max_tokens, more particles or a looser "
                            "constraint", param=request.constraint.param if request.constraint else None,
                       code="no_valid_sample")
    return Generated(result, prompt_tokens=_prompt_tokens(result), completion_tokens=_completion_tokens(result))


def _prompt_text(llm: Any, prompt: "str | list[dict]") -> str:
    """The prompt string: the text itself, or chat messages under the model's chat template (a transcript without one)."""
    if isinstance(prompt, str):
        return prompt
    if not getattr(llm.tokenizer, "chat_template", None):
        return "".join(f"{m['role']}: {m['content']}\n" for m in prompt) + "assistant:"
    try:
        return llm.chat(prompt)
    except ChatTemplateError as e:
        raise bad_field("messages", str(e), code="invalid_messages") from None


def _prompt_tokens(result: GenerationResult) -> int:
    """Tokens the generation started from (after token healing backed the prompt up)."""
    return result.particles[0].trace.context.prompt_length if result.particles else 0


def _completion_tokens(result: GenerationResult) -> dict[str, int]:
    """Each distinct text's generated token count (the healed bytes' tokens included; EOS not counted)."""
    counts: dict[str, int] = {}
    for particle in result.particles:
        context = particle.trace.context
        counts.setdefault(result.output(particle.trace), len(context) - context.prompt_length)
    return counts
