"""Deterministic batching of requests from many coroutines (no timers, no event loop).

A model step that needs something served in a batch (LM logits) awaits a `Pending`. The
driver runs every coroutine until it finishes or blocks on a Pending, groups the Pendings by
server in a fixed order, asks each server to serve its whole group in one call (one batched
forward pass), and resumes the coroutines with the results. The order of everything depends
only on the order of the coroutines, so results are reproducible.
"""
from __future__ import annotations

from typing import Any, Coroutine, Protocol, Sequence


class Server(Protocol):
    """Serves a batch of pending requests at once, filling in each one's `result`."""

    def serve(self, pendings: Sequence["Pending"]) -> None: ...


class Pending:
    """An awaitable request, answered by `server.serve([...])` setting `.result`."""

    __slots__ = ("server", "payload", "result", "done")

    def __init__(self, server: Server, payload: Any):
        self.server, self.payload = server, payload
        self.result: Any = None
        self.done = False

    def resolve(self, result: Any) -> None:
        self.result, self.done = result, True

    def __await__(self):
        if not self.done:
            yield self
        if not self.done:
            raise RuntimeError(f"{self.server!r} did not serve a pending request")
        return self.result


def serve_all(pendings: Sequence[Pending]) -> None:
    """Serve pendings grouped by server (first-appearance order), one call per server."""
    groups: dict[int, list[Pending]] = {}
    servers: dict[int, Server] = {}
    for p in pendings:
        groups.setdefault(id(p.server), []).append(p)
        servers[id(p.server)] = p.server
    for key, group in groups.items():
        servers[key].serve(group)


def run_sync(coroutine: Coroutine) -> Any:
    """Run one coroutine to completion, serving each of its requests as it comes."""
    return run_batched([coroutine])[0]


def run_batched(coroutines: Sequence[Coroutine]) -> list:
    """Run coroutines in lockstep; requests blocked at the same time are served together."""
    results: list = [None] * len(coroutines)
    waiting: dict[int, Pending | None] = {i: None for i in range(len(coroutines))}
    while waiting:
        blocked: dict[int, Pending] = {}
        for i, pending in waiting.items():
            value = pending.result if pending is not None else None
            try:
                request = coroutines[i].send(value)
            except StopIteration as stop:
                results[i] = stop.value
                continue
            if not isinstance(request, Pending):
                coroutines[i].close()
                raise TypeError(f"a model step awaited {request!r}; only ppl requests (LM calls) can be awaited inside a step")
            blocked[i] = request
        serve_all(list(blocked.values()))
        waiting = blocked
    return results
