"""The generation service: the model in lockstep, the worker threads, the requests in flight, and shutdown.

The event loop never runs model code: each generation runs in a worker thread (at most
`limits.concurrent` at once; later requests wait for a worker) inside `Lockstep.run`, so the
generations running at one time share their forward passes. The service keeps each job's cancel
event, so that a disconnected client, a timed-out shutdown or a second Ctrl-C stops its
generation at the next step, and counts what happened (for /health and the tests).
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from constraints.base import Constraint
from frontend.server.config import ServerConfig
from frontend.server.generation import Cancelled, Generated, Job, build_request_constraint, generate_for
from frontend.server.requests import ConstraintRequest
from lm.serving.lockstep import Lockstep


class GenerationService:
    """Runs jobs for the app (see the module docstring); `llm` is a loaded LanguageModel, taken over by the lockstep."""

    def __init__(self, llm: Any, config: ServerConfig):
        self.config = config
        self.lockstep = Lockstep(llm)
        self.databases = {name: _database_constraint(name, path) for name, path in config.databases.items()}
        self._workers = ThreadPoolExecutor(max_workers=config.limits.concurrent, thread_name_prefix="ppl-generation")
        self._jobs: set[Job] = set()
        self._guard = threading.Lock()
        self.completed = 0
        self.cancelled = 0
        self.failed = 0

    async def constraint(self, spec: ConstraintRequest | None) -> Constraint | None:
        """The request's constraint, compiled in a thread of the loop's default pool: the event loop stays free, and
        a schema that cannot compile is answered at once, not after the generations waiting for a worker."""
        if spec is None or spec.keyword == "sql":
            return build_request_constraint(spec, self.databases)
        return await asyncio.get_running_loop().run_in_executor(None, build_request_constraint, spec, self.databases)

    def submit(self, job: Job) -> "asyncio.Future[Generated]":
        """Start the job's generation; the future gives its `Generated`, or raises APIError / Cancelled."""
        with self._guard:
            self._jobs.add(job)
        future = asyncio.wrap_future(self._workers.submit(self._run, job))
        future.add_done_callback(_retrieved)  # a request that left early never reads its job's exception
        return future

    def _run(self, job: Job) -> Generated:
        try:
            if job.cancel.is_set():  # cancelled while it waited for a worker
                raise Cancelled()
            generated = self.lockstep.run(lambda: generate_for(self.lockstep.llm, job))
        except Cancelled:
            self._count("cancelled")
            raise
        except BaseException:
            self._count("failed")
            raise
        else:
            self._count("completed")
            return generated
        finally:
            with self._guard:
                self._jobs.discard(job)

    def _count(self, outcome: str) -> None:
        with self._guard:
            setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def in_flight(self) -> int:
        with self._guard:
            return len(self._jobs)

    def cancel_all(self) -> None:
        """Cancel every job in flight: each stops at its next step (or before it starts)."""
        with self._guard:
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel.set()

    def close(self) -> None:
        """Cancel what is still running and wait for the worker threads (each is at most one step from stopping)."""
        self.cancel_all()
        self._workers.shutdown(wait=True, cancel_futures=True)

    def health(self) -> dict[str, Any]:
        stats = self.lockstep.stats()
        with self._guard:
            counts = {"in_flight": len(self._jobs), "completed": self.completed, "cancelled": self.cancelled,
                      "failed": self.failed}
        return {**counts, "running": stats.running, "forward_rounds": stats.rounds,
                "generations_per_round": stats.generations_per_round}


def _retrieved(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled():
        future.exception()


def _database_constraint(name: str, path: Path) -> Constraint:
    """The SQL constraint over a database registered at start-up (built once; ValueError naming it if it cannot be)."""
    from lm.generation.api import build_constraint

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"database {name!r}: {path} is not a file")
    try:
        constraint, _ = build_constraint(sql=path)
    except Exception as e:  # sqlite3.DatabaseError for a file that is not a database, ConstraintError for its schema
        raise ValueError(f"database {name!r}: {path}: {type(e).__name__}: {e}") from None
    return constraint
