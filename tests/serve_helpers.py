"""A `ppl serve` server for tests: uvicorn in a thread on a free localhost port, over a model the test loaded."""
from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator


@contextlib.contextmanager
def running_server(llm: Any, config: Any) -> Iterator[tuple[str, Any]]:
    """(base URL, uvicorn server) while the server runs in a daemon thread; stopped (and joined) on exit."""
    from frontend.server import bind, url_of, uvicorn_server

    sock = bind("127.0.0.1", 0)
    server = uvicorn_server(llm, config, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="test-server")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield url_of(sock), server
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down"


def post(url: str, body: Any, *, key: str | None = None, raw: bytes | None = None,
         timeout: float = 60) -> tuple[int, dict]:
    """POST JSON (or `raw` bytes) to `url`; (status, decoded JSON body), error statuses included."""
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    return _send(request, timeout)


def get(url: str, *, key: str | None = None, timeout: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(url, method="GET")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    return _send(request, timeout)


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def connection(url: str, timeout: float) -> http.client.HTTPConnection:
    """A raw HTTP connection to the server at `url` (for hanging up mid-request)."""
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def send(conn: http.client.HTTPConnection, path: str, body: Any, key: str | None = None) -> None:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    conn.request("POST", path, body=json.dumps(body), headers=headers)
