"""Run several generations on one model at once, so their particles share forward passes.

`lm.generate` is synchronous: its SMC loop drives `ppl.run_batched` itself and there is no
event loop to put two generations on. `run_in_lockstep` runs each call in its own thread, but
the threads take turns: exactly one runs at a time, in a fixed order (call 0, 1, 2, ...), and
a call that asks the model's forward server for a batch hands its requests over and waits.
When every unfinished call is waiting, all their requests are served in one `serve` call (one
batched forward pass), and the calls resume, again in order. Nothing runs concurrently, so
the model's prefix trie and KV pool see one writer, and the sequence of events depends only on
the calls and their order, never on the OS scheduler: results are reproducible.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

_READY, _WAITING, _DONE = "ready", "waiting", "done"


class Cancelled(Exception):
    """The lockstep group was cancelled (its caller was interrupted) while this call waited."""


class _MergingServer:
    """Stands in for the model's forward server while a group runs: `serve` waits for the group's round."""

    __ppl_shared__ = True

    def __init__(self, server: Any, group: "_Lockstep"):
        self._server = server
        self._group = group

    def serve(self, pendings: Sequence[Any]) -> None:
        self._group.deposit(list(pendings))

    def __getattr__(self, name: str) -> Any:  # table(), logprobs(), stats(), device, pool...: the real server's
        return getattr(self._server, name)


class _Lockstep:
    """The turn-taking state of one group of calls (see the module docstring)."""

    def __init__(self, server: Any, size: int):
        self.server = server
        self.states = [_READY] * size
        self.deposits: dict[int, list] = {}
        self.turn: int | None = 0 if size else None
        self.failure: BaseException | None = None
        self.cancelled = False
        self.cond = threading.Condition()
        self.local = threading.local()

    def member(self, index: int, call: Callable[[], Any], results: list) -> None:
        self.local.index = index
        try:
            with self.cond:
                self._wait_for_turn(index)
            results[index] = call()
        except BaseException as e:  # kept for the caller; a thread must always hand its turn on
            results[index] = e
        finally:
            with self.cond:
                self.states[index] = _DONE
                self._hand_on(index)

    def deposit(self, pendings: list) -> None:
        index = self.local.index
        with self.cond:
            self.deposits[index] = pendings
            self.states[index] = _WAITING
            self._hand_on(index)
            self._wait_for_turn(index)
            if self.failure is not None:
                raise self.failure

    def cancel(self) -> None:
        with self.cond:
            self.cancelled = True
            self.cond.notify_all()

    def _wait_for_turn(self, index: int) -> None:
        while self.turn != index:
            if self.cancelled:
                raise Cancelled("the batch job was interrupted")
            self.cond.wait()
        if self.cancelled:
            raise Cancelled("the batch job was interrupted")

    def _hand_on(self, index: int) -> None:
        """Pass the turn to the next ready call after `index`; when none is ready, serve the round's requests."""
        n = len(self.states)
        for j in list(range(index + 1, n)) + list(range(0, index + 1)):
            if self.states[j] == _READY:
                self.turn = j
                self.cond.notify_all()
                return
        waiting = [j for j in range(n) if self.states[j] == _WAITING]
        if waiting and not self.cancelled:
            self.failure = None
            pendings = [p for j in waiting for p in self.deposits.pop(j)]
            try:
                self.server.serve(pendings)
            except BaseException as e:  # every waiting call raises it from its own serve
                self.failure = e
            for j in waiting:
                self.states[j] = _READY
            self.turn = waiting[0]
        else:
            self.turn = None
        self.cond.notify_all()


def run_in_lockstep(llm: Any, calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each call's return value (or the exception it raised), the calls run in turns with merged forward passes.

    While the group runs, `llm.server` is a stand-in that merges the calls' requests; it is put
    back afterwards. One call alone runs directly. Ctrl-C in the caller cancels the group.
    """
    if len(calls) <= 1:
        results: list[Any] = []
        for call in calls:
            try:
                results.append(call())
            except Exception as e:
                results.append(e)
        return results
    server = llm.server
    group = _Lockstep(server, len(calls))
    results = [None] * len(calls)
    threads = [threading.Thread(target=group.member, args=(i, call, results), daemon=True, name=f"lockstep-{i}")
               for i, call in enumerate(calls)]
    llm.server = _MergingServer(server, group)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)  # a timed join lets Ctrl-C reach this thread
    except BaseException:
        group.cancel()  # the stand-in stays: a call still running raises Cancelled at its next request
        raise
    llm.server = server
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
    return results
