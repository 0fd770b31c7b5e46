"""What a server is started with: the model's name, the registered databases, the API key and the limits."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for (each breach is a 400 or 413 naming the field)."""

    body_bytes: int = 1 << 20            # the whole request body (413)
    particles: int = 256
    particle_tokens: int = 32_768        # particles x max_tokens: the work of one request
    schema_bytes: int = 64 << 10         # a JSON Schema, as compact JSON (413)
    grammar_bytes: int = 64 << 10        # a Lark grammar's text (413)
    regex_chars: int = 1_000             # a regular expression (413); the automaton itself is bounded by constraints.regular
    concurrent: int = 64                 # generations running at once (worker threads); more requests wait their turn


@dataclass(frozen=True)
class ServerConfig:
    """A server's settings: `model_id` is what /v1/models lists and requests must name; `databases` maps the names
    requests may give in `sql` to sqlite files chosen at start-up (a request never names a file)."""

    model_id: str
    databases: dict[str, Path] = field(default_factory=dict)
    api_key: str | None = None
    limits: Limits = Limits()
    shutdown_seconds: float = 10.0       # in-flight requests get this long to finish at Ctrl-C, then are cancelled
