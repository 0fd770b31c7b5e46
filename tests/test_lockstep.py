"""`lm.serving.lockstep.Lockstep` on the built-in model: joint forward rounds, fixed-group reproducibility, failures, cancelling.

`lm.batch` (test_batch.py) runs fixed groups and `ppl serve` (test_serve.py) an open set through it.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import pytest

import lm
from lm.generation.api import generate
from lm.serving.lockstep import Cancelled, Lockstep

CODE = "[A-Z]{3}-[0-9]{2}"
SMALL = dict(particles=4, max_tokens=16)


class Recording:
    """The model's real ForwardServer, with each `serve` call's request count recorded (and a chosen call failing)."""

    __ppl_shared__ = True

    def __init__(self, inner: Any, fail_at: int | None = None):
        self.inner, self.calls, self.fail_at = inner, [], fail_at

    def serve(self, pendings: Sequence[Any]) -> None:
        self.calls.append(len(pendings))
        if len(self.calls) == self.fail_at:
            raise MemoryError("no room for the batch")
        self.inner.serve(pendings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def llm():
    return lm.load("builtin")


def lockstep_on(llm, fail_at: int | None = None) -> tuple[Lockstep, Recording]:
    """A lockstep over `llm`, its forward server recorded; `llm` itself is left as it was."""
    llm.clear_cache()
    server = llm.server
    llm.server = Recording(server, fail_at)
    try:
        return Lockstep(llm), llm.server
    finally:
        llm.server = server


def code(model, i: int, on_step=None):
    def job():
        result = generate(model, f"Code {i}: ", regex=CODE, rng=i, on_step=on_step, **SMALL).to_dict()
        return {k: v for k, v in result.items() if k not in ("seconds", "steps")}, [s["log_ml"] for s in result["steps"]]
    return job


def test_a_group_shares_forward_rounds_and_gives_the_same_results_every_run(llm):
    alone_rounds = 0
    for i in range(4):
        lockstep, server = lockstep_on(llm)
        lockstep.run(code(lockstep.llm, i))
        alone_rounds += len(server.calls)
    runs = []
    for _ in range(2):
        lockstep, server = lockstep_on(llm)
        runs.append(lockstep.run_group([code(lockstep.llm, i) for i in range(4)]))
        stats = lockstep.stats()
        assert stats.rounds == len(server.calls) and stats.requests_served == sum(server.calls)
        assert stats.running == 0 and 1 < stats.generations_per_round <= 4
        assert max(len(r[1]) for r in runs[-1]) <= stats.rounds < alone_rounds
    assert all(isinstance(r, tuple) and r[0]["samples"] for r in runs[0])
    assert runs[0] == runs[1]


def test_a_generation_joins_an_open_lockstep_mid_run_and_shares_its_rounds(llm):
    lockstep, server = lockstep_on(llm)
    joined, results = [], {}

    def start_second(info):
        if info.step == 2 and not joined:
            joined.append(threading.Thread(target=lambda: results.update(second=lockstep.run(code(lockstep.llm, 1)))))
            joined[0].start()
            while lockstep.stats().running < 2:  # it has joined: the next round waits for it
                threading.Event().wait(0.01)

    results["first"] = lockstep.run(code(lockstep.llm, 0, on_step=start_second))
    joined[0].join(timeout=60)
    assert set(results) == {"first", "second"} and results["second"][0]["samples"]
    assert lockstep.stats().generations_served > lockstep.stats().rounds  # some rounds served both


def test_a_generation_that_raises_or_a_failed_round_does_not_wedge_the_others(llm):
    def fail_at_step(n):
        def on_step(info):
            if info.step == n:
                raise ValueError(f"stopped at step {n}")
        return on_step

    lockstep, _ = lockstep_on(llm)
    results = lockstep.run_group([code(lockstep.llm, 0), code(lockstep.llm, 1, on_step=fail_at_step(2)),
                                  lambda: 1 / 0, code(lockstep.llm, 3)])
    assert isinstance(results[1], ValueError) and isinstance(results[2], ZeroDivisionError)
    assert results[0][0]["samples"] and results[3][0]["samples"] and lockstep.stats().running == 0

    lockstep, server = lockstep_on(llm, fail_at=3)  # the third round's forward pass fails: all its members see it
    results = lockstep.run_group([code(lockstep.llm, i) for i in range(3)])
    assert all(isinstance(r, RuntimeError) and isinstance(r.__cause__, MemoryError) for r in results)
    assert "joint forward pass failed: MemoryError" in str(results[0])
    assert lockstep.run(code(lockstep.llm, 0))[0]["samples"]  # the lockstep goes on


def test_cancel_stops_every_generation_at_its_next_turn_and_the_lockstep_goes_on(llm):
    lockstep, server = lockstep_on(llm)

    def cancel_at_step_2(info):
        if info.step == 2:
            lockstep.cancel()

    results = lockstep.run_group([code(lockstep.llm, 0, on_step=cancel_at_step_2)] +
                                 [code(lockstep.llm, i) for i in (1, 2)])
    assert all(isinstance(r, Cancelled) for r in results), results
    rounds = len(server.calls)
    assert lockstep.stats().running == 0 and rounds <= 3  # nothing served after the cancel
    assert lockstep.run(code(lockstep.llm, 1))[0]["samples"] and len(server.calls) > rounds


def test_a_generation_cannot_run_another_inside_the_lockstep_or_use_its_model_outside(llm):
    lockstep, _ = lockstep_on(llm)
    with pytest.raises(RuntimeError, match="cannot run another"):
        lockstep.run(lambda: lockstep.run(lambda: None))
    with pytest.raises(RuntimeError, match="outside Lockstep.run"):
        code(lockstep.llm, 0)()
    assert lockstep.stats().running == 0
