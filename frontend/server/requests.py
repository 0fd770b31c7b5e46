"""Reading a request body: OpenAI's chat and completion fields, the SMC extensions, and the limits.

Every problem is an `APIError` naming the field (400, or 413 for a field over its size limit,
404 for a model this server does not serve). Nothing here compiles a constraint or touches the
model: `GenerationRequest` says what to generate, `ConstraintRequest` which keyword of
`lm.generate`'s `build_constraint` to call with what. A request can name a registered database,
never a file: `sql` is looked up in the databases the server was started with.
"""
from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from frontend.server.config import ServerConfig
from frontend.server.errors import APIError, bad_field
from lm.generation.generation import METHODS

DEFAULTS = {"particles": 8, "max_tokens": 128, "temperature": 1.0, "method": "smc"}
ROLES = ("system", "developer", "user", "assistant", "tool")

# OpenAI fields this server accepts only at their default (None is always fine): another value would change the
# distribution sampled (top_p, penalties, stop, logit_bias), ask for what it cannot give (logprobs, tools) or for
# several prompts.
_ONLY_DEFAULT = {"top_p": (1, 1.0), "frequency_penalty": (0, 0.0), "presence_penalty": (0, 0.0), "logprobs": (False,),
                 "top_logprobs": (0,), "stop": ([],), "logit_bias": ({},), "tools": ([],), "tool_choice": ("none",),
                 "functions": ([],), "echo": (False,), "suffix": ("",), "best_of": (1,)}
_IGNORED = ("user", "metadata", "store", "service_tier", "parallel_tool_calls", "stream_options", "modalities",
            "reasoning_effort", "prompt_cache_key", "safety_identifier")
_COMMON = ("model", "n", "max_tokens", "max_completion_tokens", "temperature", "seed", "stream", "response_format",
           "particles", "method", "regex", "grammar", "sql")
_FIELDS = {"chat": set(_COMMON) | {"messages"} | set(_ONLY_DEFAULT) - {"echo", "suffix", "best_of"} | set(_IGNORED),
           "completion": set(_COMMON) | {"prompt"} | set(_ONLY_DEFAULT) - {"tools", "tool_choice", "functions"}
           | set(_IGNORED)}


@dataclass(frozen=True)
class ConstraintRequest:
    """One constraint: `keyword` of build_constraint ("json_schema", "regex", "grammar", "sql") and its value.

    `param` is the request field it came from (for errors); `json_output` marks JSON Schema output;
    `allow_extra_keys` is set for json_object (any object), whose schema lists no keys.
    """

    keyword: str
    value: Any
    param: str
    json_output: bool = False
    allow_extra_keys: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """What one request asks for, checked against the server's limits."""

    kind: Literal["chat", "completion"]
    prompt: "str | list[dict]"        # the prompt text, or chat messages ({"role", "content"} with string content)
    constraint: ConstraintRequest | None
    n: int | None                     # at most this many choices (None: every distinct sample)
    max_tokens: int
    temperature: float
    seed: int
    particles: int
    method: str
    stream: bool


def parse_request(body: Any, kind: Literal["chat", "completion"], config: ServerConfig) -> GenerationRequest:
    """The GenerationRequest of a decoded JSON body for /v1/chat/completions ("chat") or /v1/completions."""
    if not isinstance(body, dict):
        raise APIError(400, f"the request body must be a JSON object, not {type(body).__name__}")
    for name in body:
        if name not in _FIELDS[kind]:
            where = "/v1/chat/completions" if kind == "chat" else "/v1/completions"
            raise bad_field(name, f"unknown field for {where} (the SMC fields are particles, method, regex, grammar "
                                  "and sql; docs/serve.md)", code="unknown_field")
    for name, defaults in _ONLY_DEFAULT.items():
        value = body.get(name)
        if value is not None and value not in defaults:
            raise bad_field(name, f"{value!r:.60} is not supported: this server samples the model conditioned on the "
                                  f"constraint, so only the default ({defaults[0]!r}) is accepted", code="unsupported")
    model = body.get("model")
    if model != config.model_id:
        raise APIError(404, f"model: this server serves {config.model_id!r}, not {model!r:.80}", param="model",
                       code="model_not_found")
    prompt = _messages(body.get("messages")) if kind == "chat" else _prompt(body.get("prompt"))
    particles = _positive_int(body, "particles", DEFAULTS["particles"])
    if particles > config.limits.particles:
        raise bad_field("particles", f"{particles} is over this server's limit of {config.limits.particles}")
    max_tokens = _max_tokens(body)
    if particles * max_tokens > config.limits.particle_tokens:
        raise bad_field("max_tokens", f"particles x max_tokens = {particles} x {max_tokens} = {particles * max_tokens} "
                                      f"is over this server's limit of {config.limits.particle_tokens} tokens per request; "
                                      "lower one of them")
    n = body.get("n")
    if n is not None:
        n = _positive_int(body, "n", 1)
    method = body.get("method", DEFAULTS["method"])
    if method not in METHODS:
        raise bad_field("method", f"{method!r:.40} is not one of {', '.join(METHODS)}")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad_field("stream", f"must be true or false, got {stream!r:.40}")
    return GenerationRequest(kind=kind, prompt=prompt, constraint=_constraint(body, config), n=n, max_tokens=max_tokens,
                             temperature=_temperature(body), seed=_seed(body), particles=particles, method=method,
                             stream=stream)


def _positive_int(body: dict, name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_field(name, f"must be a positive integer, got {value!r:.40}")
    return value


def _max_tokens(body: dict) -> int:
    given = [name for name in ("max_tokens", "max_completion_tokens") if body.get(name) is not None]
    if len(given) == 2 and body["max_tokens"] != body["max_completion_tokens"]:
        raise bad_field("max_completion_tokens", "give max_tokens or max_completion_tokens, not two different values")
    return _positive_int(body, given[0], DEFAULTS["max_tokens"]) if given else DEFAULTS["max_tokens"]


def _temperature(body: dict) -> float:
    value = body.get("temperature")
    if value is None:
        return DEFAULTS["temperature"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise bad_field("temperature", f"must be a positive number (1 samples the model as it is; there is no greedy "
                                       f"decoding of a posterior), got {value!r:.40}")
    return float(value)


def _seed(body: dict) -> int:
    value = body.get("seed")
    if value is None:
        return secrets.randbits(63)  # reported back in the response, so the run can be repeated
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 63:
        raise bad_field("seed", f"must be an integer from 0 to 2^63 - 1, got {value!r:.40}")
    return value


def _prompt(prompt: Any) -> str:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad_field("prompt", "must be one string (lists of prompts and token ids are not supported)"
                        if prompt is not None else "is required")
    return prompt


def _messages(messages: Any) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise bad_field("messages", "must be a non-empty list of {role, content} objects")
    checked = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise bad_field(where, "must be an object with role and content")
        role = message.get("role")
        if role not in ROLES:
            raise bad_field(f"{where}.role", f"must be one of {', '.join(ROLES)}, got {role!r:.40}")
        checked.append({"role": "system" if role == "developer" else role,
                        "content": _content(message.get("content"), f"{where}.content")})
    return checked


def _content(content: Any, where: str) -> str:
    """A message's text: a string, or the concatenated text of a list of {"type": "text", "text": ...} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_field(f"{where}[{j}]", "only text parts ({\"type\": \"text\", \"text\": ...}) are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise bad_field(where, "must be a string or a list of text parts")


def _constraint(body: dict, config: ServerConfig) -> ConstraintRequest | None:
    """The one constraint of the request: response_format (json_schema, json_object), regex, grammar or sql."""
    found = [c for c in (_response_format(body.get("response_format"), config), _regex(body.get("regex"), config),
                         _grammar(body.get("grammar"), config), _sql(body.get("sql"), config)) if c is not None]
    if len(found) > 1:
        raise bad_field(found[1].param, f"give one constraint, not {' and '.join(c.param for c in found)}",
                        code="conflicting_constraints")
    return found[0] if found else None


def _response_format(value: Any, config: ServerConfig) -> ConstraintRequest | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return ConstraintRequest("json_schema", {"type": "object"}, "response_format", json_output=True,
                                 allow_extra_keys=True)
    if kind != "json_schema":
        raise bad_field("response_format", "must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or "
                                           "{\"type\": \"json_schema\", \"json_schema\": {\"name\": ..., \"schema\": {...}}}")
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise bad_field("response_format.json_schema", "must be an object with a schema")
    schema = spec.get("schema")
    param = "response_format.json_schema.schema"
    if not isinstance(schema, (dict, bool)):
        raise bad_field(param, "must be a JSON Schema (an object)")
    size = len(json.dumps(schema, separators=(",", ":")))
    if size > config.limits.schema_bytes:
        raise bad_field(param, f"the schema is {size} bytes, over this server's limit of {config.limits.schema_bytes}",
                        status=413, code="too_large")
    return ConstraintRequest("json_schema", schema, param, json_output=True)


def _regex(value: Any, config: ServerConfig) -> ConstraintRequest | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_field("regex", "must be a regular expression string")
    if len(value) > config.limits.regex_chars:
        raise bad_field("regex", f"the pattern is {len(value)} characters, over this server's limit of "
                                 f"{config.limits.regex_chars}", status=413, code="too_large")
    return ConstraintRequest("regex", value, "regex")


def _grammar(value: Any, config: ServerConfig) -> ConstraintRequest | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_field("grammar", "must be the text of a Lark grammar")
    size = len(value.encode("utf-8"))
    if size > config.limits.grammar_bytes:
        raise bad_field("grammar", f"the grammar is {size} bytes, over this server's limit of "
                                   f"{config.limits.grammar_bytes}", status=413, code="too_large")
    # A trailing newline keeps the text from ever being read as a .lark file name by build_constraint.
    return ConstraintRequest("grammar", value + "\n", "grammar")


def _sql(value: Any, config: ServerConfig) -> ConstraintRequest | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in config.databases:
        known = ", ".join(sorted(config.databases)) or "none (start the server with --database NAME=FILE.sqlite)"
        raise bad_field("sql", f"{value!r:.60} is not a database this server knows; the databases: {known}",
                        code="unknown_database")
    return ConstraintRequest("sql", value, "sql")  # the name: the service holds its constraint, built at start-up
