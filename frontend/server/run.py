"""Running the app under uvicorn: a socket bound before start-up, Ctrl-C that drains, then cancels.

The first Ctrl-C (or SIGTERM) stops accepting connections and marks the server as draining (new
requests and /health get 503); in-flight requests get `shutdown_seconds` to finish, then their
generations are cancelled at the next step and answer 503 (a stream ends with an error event).
A second Ctrl-C cancels at once.
Either way the worker threads are joined before `run_server` returns.
"""
from __future__ import annotations

import asyncio
import socket
from types import FrameType
from typing import Any, Callable

import uvicorn

from frontend.server.app import ServerState, create_app
from frontend.server.config import ServerConfig

_BACKSTOP_SECONDS = 5.0


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, telling the app when shutdown begins and cancelling its jobs once the drain time is up."""

    def __init__(self, config: uvicorn.Config, state: ServerState, drain_seconds: float):
        super().__init__(config)
        self._state = state
        self._drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._state.draining = True
        cancel_all = self._state.service.cancel_all
        if self.force_exit:
            cancel_all()
        elif self._loop is not None:  # cancelled jobs end their responses themselves, before uvicorn's own timeout
            self._loop.call_soon_threadsafe(self._loop.call_later, self._drain_seconds, cancel_all)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free port, read back with getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_server(llm: Any, config: ServerConfig, *, log_level: str = "info") -> _DrainingServer:
    """The uvicorn server for `llm` under `config` (not started: call `.run(sockets=[bind(...)])`)."""
    app = create_app(llm, config)
    # uvicorn's own timeout is the backstop: by then the cancelled generations have ended their responses.
    settings = uvicorn.Config(app, log_level=log_level, lifespan="on", timeout_keep_alive=5,
                              timeout_graceful_shutdown=config.shutdown_seconds + _BACKSTOP_SECONDS)
    return _DrainingServer(settings, app.state.server, config.shutdown_seconds)


def run_server(llm: Any, config: ServerConfig, *, host: str, port: int, log_level: str = "info",
               announce: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C (see the module docstring); `announce` gets the URL once the socket is bound."""
    sock = bind(host, port)
    server = uvicorn_server(llm, config, log_level=log_level)
    announce(url_of(sock))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C it handled again once it has shut down
        pass
    finally:
        server.config.app.state.server.service.close()
        sock.close()
