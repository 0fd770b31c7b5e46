"""Lockstep: generations in threads that take turns, so that their next-token requests share forward passes.

`lm.generate` is synchronous: its SMC loop drives `ppl.run_batched` itself (which batches the
particles of one generation), so there is no event loop to put several generations on.
`Lockstep` runs each generation in its own thread, but the threads take turns: exactly one runs
host code at a time (the prefix trie, KV pool, tokenizer and constraint states see one writer),
in the order they joined, and a generation that asks the forward server for next-token
distributions parks its requests and hands the turn on. When every generation in the lockstep
is parked, all parked requests are served in one call to the model's `ForwardServer` (one
batched forward pass over rows of the shared KV pool) and the generations resume, in order.

The set is open: `run(job)` joins from any thread at any time (the HTTP server's workers) and
takes part from the next turn; a generation that finishes leaves. `run_group(jobs)` starts a
fixed group together (`lm.batch`): its members join in the group's order before any of them
runs, so when the group is alone in the lockstep the sequence of events depends only on the
jobs and their order, never on the OS scheduler, and results are reproducible.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")

_READY, _PARKED = "ready", "parked"
_SERVING = object()  # who has the turn while a round is served (outside the lock)


class Cancelled(Exception):
    """The generation was cancelled (`Lockstep.cancel`, or its group's caller was interrupted) before its next turn."""


@dataclass(frozen=True)
class LockstepStats:
    """What the lockstep did: joint forward rounds, the generations and requests they served, generations in it now."""

    rounds: int
    generations_served: int
    requests_served: int
    running: int

    @property
    def generations_per_round(self) -> float:
        """Mean number of generations whose requests shared one round (1.0: no batching across generations)."""
        return self.generations_served / self.rounds if self.rounds else 0.0


class _Member:
    """One generation in the lockstep: ready to run, or parked with its requests; and whether it was cancelled."""

    __slots__ = ("state", "pendings", "cancelled", "error")

    def __init__(self) -> None:
        self.state = _READY
        self.pendings: list = []
        self.cancelled = False
        self.error: BaseException | None = None  # the failure of the round that served its requests


class _GatedServer:
    """Stands in for a model's ForwardServer: `serve` parks the requests in the lockstep; anything else goes through."""

    __ppl_shared__ = True  # particles cloned by ppl share it, as they share the ForwardServer

    def __init__(self, inner: Any, lockstep: "Lockstep"):
        self._inner, self._lockstep = inner, lockstep

    def serve(self, pendings: Sequence[Any]) -> None:
        self._lockstep._park(pendings)

    def __getattr__(self, name: str) -> Any:  # table(), logprobs(), stats(), device, pool...: the real server's
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"Lockstep({self._inner!r})"


class Lockstep:
    """Runs generations on `llm` in turns with joint forward passes (see the module docstring).

    `self.llm` is the model the generations must use: a shallow copy of `llm` whose forward server
    parks requests in this lockstep. It shares the weights, the KV pool and the prefix trie with
    `llm`, which should not run generations elsewhere while generations run here.
    """

    def __init__(self, llm: Any):
        self._server = llm.server
        self.llm = copy.copy(llm)
        self.llm.server = _GatedServer(self._server, self)
        self._cond = threading.Condition()
        self._members: list[_Member] = []  # in turn order: the order they joined
        self._turn: Any = None  # the member whose turn it is, _SERVING, or None when the lockstep is empty
        self._local = threading.local()  # the member the calling thread runs
        self._rounds = 0
        self._generations_served = 0
        self._requests_served = 0

    # -- joining ------------------------------------------------------------------------------

    def run(self, job: Callable[[], T]) -> T:
        """Run `job` (one generation on `self.llm`) in the calling thread, in step with the others in the lockstep."""
        if getattr(self._local, "member", None) is not None:
            raise RuntimeError("a generation in a Lockstep cannot run another one in it (it would wait for itself)")
        member = _Member()
        with self._cond:
            self._join([member])
        return self._take_part(member, job)

    def run_group(self, jobs: Sequence[Callable[[], Any]]) -> list[Any]:
        """Each job's return value (or the Exception it raised), the jobs run together, one thread each, in turns.

        The jobs join in order before any runs: alone in the lockstep, the group's turns follow the
        same order in every run. One job alone runs in the calling thread. An interrupt (Ctrl-C) in
        the caller cancels the group: each job still running raises Cancelled at its next turn.
        """
        if len(jobs) <= 1:
            return [_outcome(lambda: self.run(job)) for job in jobs]
        members = [_Member() for _ in jobs]
        results: list[Any] = [None] * len(jobs)

        def take_part(i: int) -> None:
            try:
                results[i] = self._take_part(members[i], jobs[i])
            except BaseException as e:  # kept for the caller, which re-raises what is not an Exception
                results[i] = e

        threads = [threading.Thread(target=take_part, args=(i,), daemon=True, name=f"lockstep-{i}")
                   for i in range(len(jobs))]
        with self._cond:
            self._join(members)
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)  # a timed join lets Ctrl-C reach this thread
        except BaseException:
            self._cancel(members)
            raise
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        return results

    def cancel(self) -> None:
        """Cancel every generation now in the lockstep: each raises Cancelled at its next turn (after its next request)."""
        with self._cond:
            members = list(self._members)
        self._cancel(members)

    def stats(self) -> LockstepStats:
        with self._cond:
            return LockstepStats(self._rounds, self._generations_served, self._requests_served, len(self._members))

    # -- turns (a method whose body starts with `# _locked` is called with self._cond held) ---------

    def _join(self, members: list[_Member]) -> None:
        # _locked
        self._members.extend(members)
        if self._turn is None:
            self._turn = members[0]

    def _cancel(self, members: list[_Member]) -> None:
        with self._cond:
            for member in members:
                member.cancelled = True

    def _take_part(self, member: _Member, job: Callable[[], T]) -> T:
        self._local.member = member
        try:
            with self._cond:
                self._wait_for_turn(member)
            return job()
        finally:
            self._local.member = None
            with self._cond:
                self._leave(member)

    def _leave(self, member: _Member) -> None:
        # _locked
        index = self._members.index(member)
        del self._members[index]
        if self._turn is member:
            self._hand_on(index)

    def _park(self, pendings: Sequence[Any]) -> None:
        """Park the calling generation's requests, hand the turn on, and return once they are served and it is its turn."""
        member = getattr(self._local, "member", None)
        if member is None:
            raise RuntimeError("a Lockstep's model was used outside Lockstep.run / run_group")
        with self._cond:
            member.pendings, member.state = list(pendings), _PARKED
            self._hand_on(self._members.index(member) + 1)
            self._wait_for_turn(member)
            error, member.error = member.error, None
        if error is not None:
            raise RuntimeError(f"the joint forward pass failed: {type(error).__name__}: {error}") from error

    def _wait_for_turn(self, member: _Member) -> None:
        # _locked
        while self._turn is not member:
            self._cond.wait()
        if member.cancelled:
            raise Cancelled("the generation was cancelled")

    def _hand_on(self, start: int) -> None:
        """Give the turn to the first ready member from `start` on (cyclically); when all are parked, serve the round."""
        # _locked
        members = self._members
        for member in members[start:] + members[:start]:
            if member.state is _READY:
                self._turn = member
                self._cond.notify_all()
                return
        if not members:
            self._turn = None
            return
        parked = list(members)  # every member is parked: one round serves them all
        failure = self._serve(parked)
        for member in parked:
            member.state = _READY
        self._turn = self._members[0]  # the round's first member (a member joining meanwhile was appended)
        self._cond.notify_all()
        if failure is not None and not isinstance(failure, Exception):
            raise failure  # Ctrl-C in the thread that served: the others got it as the round's failure

    def _serve(self, parked: list[_Member]) -> BaseException | None:
        """Serve the parked requests of members not cancelled, in one call, with the lock released meanwhile."""
        # _locked
        live = [member for member in parked if not member.cancelled]
        pendings = [p for member in live for p in member.pendings]
        for member in parked:
            member.pendings = []
        if not live:
            return None
        self._turn = _SERVING
        failure = None
        self._cond.release()
        try:
            self._server.serve(pendings)
        except BaseException as e:  # every member in the round fails with it; the server itself goes on
            failure = e
        finally:
            self._cond.acquire()
        for member in live:
            member.error = failure
        self._rounds += 1
        self._generations_served += len(live)
        self._requests_served += len(pendings)
        return failure


def _outcome(call: Callable[[], Any]) -> Any:
    """The call's return value, or the Exception it raised (anything else, e.g. KeyboardInterrupt, propagates)."""
    try:
        return call()
    except Exception as e:
        return e
