"""Lockstep: concurrent generations, each in its own worker thread, whose LM requests share forward passes.

Within one generation, `ppl.batching.run_batched` already serves the requests of all particles
of a step in one batched forward pass. Across requests, `Lockstep` does the same one level up:
each generation runs in a worker thread, but only one thread at a time runs host code (the
prefix trie, the KV pool, the tokenizer and the constraint states are not thread-safe), and a
thread that needs logits parks its pending requests and waits. When every running generation is
parked (or has finished), the last one to arrive serves all parked requests in one call to the
model's `ForwardServer` (one batched forward pass, over rows of the shared KV pool) and wakes the
others. No lock is held around a whole generation: requests that arrive together advance
together, step by step, and a request that arrives later joins at the next step.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class LockstepStats:
    """What the lockstep did: joint forward rounds, the generations and requests they served, generations running now."""

    rounds: int
    generations_served: int
    requests_served: int
    running: int

    @property
    def generations_per_round(self) -> float:
        """Mean number of generations whose requests shared one round (1.0: no batching across requests)."""
        return self.generations_served / self.rounds if self.rounds else 0.0


class _Round:
    """The requests parked since the last joint forward pass."""

    __slots__ = ("pendings", "members", "done", "error")

    def __init__(self) -> None:
        self.pendings: list = []
        self.members = 0
        self.done = False
        self.error: BaseException | None = None


class _GatedServer:
    """Stands in for a model's ForwardServer: `serve` parks the requests in the lockstep; anything else goes through."""

    __ppl_shared__ = True  # particles cloned by ppl share it, as they share the ForwardServer

    def __init__(self, inner: Any, lockstep: "Lockstep"):
        self._inner, self._lockstep = inner, lockstep

    def serve(self, pendings: Sequence[Any]) -> None:
        self._lockstep._park(pendings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"Lockstep({self._inner!r})"


class Lockstep:
    """Runs generations on `llm` concurrently (see the module docstring); `self.llm` is the model they must use.

    `self.llm` is a shallow copy of `llm` whose forward server parks requests in this lockstep; it
    shares the weights, the KV pool and the prefix trie with `llm`, which should not be used
    elsewhere while generations run.
    """

    def __init__(self, llm: Any):
        self._inner = llm.server
        self.llm = copy.copy(llm)
        self.llm.server = _GatedServer(self._inner, self)
        self._turn = threading.Condition(threading.RLock())
        self._counting = threading.Lock()  # guards _running, which a thread joins before it gets the turn
        self._running = 0
        self._round = _Round()
        self._rounds = 0
        self._generations_served = 0
        self._requests_served = 0

    def run(self, job: Callable[[], T]) -> T:
        """Run `job` (one generation on `self.llm`) in the calling thread, in step with the other jobs running."""
        with self._counting:  # counted at once, so that a round in progress waits for this generation too
            self._running += 1
        with self._turn:
            try:
                return job()
            finally:
                with self._counting:
                    self._running -= 1
                if self._round.members and self._round.members >= self._running_now():
                    self._serve_round()

    def stats(self) -> LockstepStats:
        with self._turn:
            return LockstepStats(self._rounds, self._generations_served, self._requests_served, self._running_now())

    def _running_now(self) -> int:
        with self._counting:
            return self._running

    def _park(self, pendings: Sequence[Any]) -> None:
        """Add a generation's requests to this round; serve the round when every running generation is in it."""
        with self._turn:
            this = self._round
            this.pendings.extend(pendings)
            this.members += 1
            if this.members >= self._running_now():
                self._serve_round()
            else:
                while not this.done:
                    self._turn.wait()
            if this.error is not None:
                raise RuntimeError(f"the joint forward pass failed: {type(this.error).__name__}: {this.error}") \
                    from this.error

    def _serve_round(self) -> None:
        """Serve the parked requests in one call (the calling thread holds the turn), then wake their generations."""
        this, self._round = self._round, _Round()
        try:
            self._inner.serve(this.pendings)
        except Exception as e:  # every parked generation fails with it; the server itself goes on
            this.error = e
        self._rounds += 1
        self._generations_served += this.members
        self._requests_served += len(this.pendings)
        this.done = True
        self._turn.notify_all()
