"""`ppl serve`: load the model, check the registered databases, and run the HTTP server until Ctrl-C.

The server (Starlette and uvicorn, the `serve` extra) is imported only here, when the command
runs; options are checked before the model loads.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from frontend.failures import BadInput


@dataclass(frozen=True)
class ServeOptions:
    """What `ppl serve` was asked to do, checked by the command line."""

    model: str = "builtin"
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    databases: tuple[str, ...] = ()      # NAME=FILE.sqlite
    served_name: str | None = None
    concurrent: int = 64
    particles: int = 256
    particle_tokens: int = 32_768
    shutdown_seconds: float = 10.0
    device: str = "cpu"
    threads: int | None = None
    log_level: str = "info"


def run_serve(options: ServeOptions) -> int:
    """Serve until Ctrl-C; returns 0 after a clean shutdown."""
    databases = _databases(options.databases)
    try:
        from frontend.server import Limits, ServerConfig, run_server
    except ImportError as e:
        raise BadInput(f"ppl serve needs the 'serve' extra ({e.name} is missing): pip install -e '.[serve]'") from None
    from frontend.generate_command import MODEL_HELP, _quiet_transformers
    import lm

    _quiet_transformers(show_progress=sys.stderr.isatty())
    threads = {} if options.threads is None else {"threads": options.threads}
    try:
        llm = lm.load(options.model, device=options.device, **threads)
    except (lm.LMError, ValueError, OSError, ImportError) as e:
        raise BadInput(f"--model {options.model}: {e}; give {MODEL_HELP}") from None
    limits = Limits(concurrent=options.concurrent, particles=options.particles, particle_tokens=options.particle_tokens)
    config = ServerConfig(model_id=options.served_name or llm.name, databases=databases, api_key=options.api_key,
                          limits=limits, shutdown_seconds=options.shutdown_seconds)
    if options.host not in ("127.0.0.1", "localhost", "::1") and options.api_key is None:
        click.echo(f"ppl serve: warning: listening on {options.host} without an API key: anyone who can reach this "
                   "port can use the model (give --api-key or set PPL_API_KEY)", err=True)
    try:
        run_server(llm, config, host=options.host, port=options.port, log_level=options.log_level,
                   announce=lambda url: click.echo(f"ppl serve: serving {config.model_id!r} at {url}/v1 "
                                                   "(Ctrl-C to stop)", err=True))
    except ValueError as e:  # a registered database that cannot be read
        raise BadInput(f"--database: {e}") from None
    except OSError as e:
        raise BadInput(f"--host {options.host} --port {options.port}: cannot listen there: {e.strerror or e}") from None
    click.echo("ppl serve: stopped", err=True)
    return 0


def _databases(specs: tuple[str, ...]) -> dict[str, Path]:
    """NAME=FILE pairs as a dict; BadInput for a malformed pair, a repeated name or a file that is not there."""
    databases: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise BadInput(f"--database {spec}: give NAME=FILE.sqlite (requests then ask for \"sql\": \"NAME\")")
        if name in databases:
            raise BadInput(f"--database {spec}: the name {name!r} is given twice")
        if not Path(path).is_file():
            raise BadInput(f"--database {spec}: {path} is not a file")
        databases[name] = Path(path)
    return databases
