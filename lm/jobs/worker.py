"""`GroupWorker`: one model replica that runs groups of lines and returns their output records.

The same class runs in-process and inside each Ray actor. A group starts from an empty KV
cache and its lines run in lockstep (lm/jobs/lockstep.py), so their particles share forward
passes; each line calls `lm.generate` with its own seed. A line that fails (an invalid
constraint, a prompt too long for the window) becomes an error record; the group goes on.
On CUDA with the device engine each line's particles already form one graph-recorded batch and
the static decoder holds one line at a time, so there the lines of a group run one after another.
"""
from __future__ import annotations

import functools
import os
import socket
import time
from typing import Any, Sequence

from lm.jobs.job import BatchJob
from lm.jobs.lockstep import run_in_lockstep
from lm.jobs.records import BatchLine, error_record, line_seed, result_record


class GroupWorker:
    """Holds a loaded model; `run(lines)` gives one output record per line, in the lines' order."""

    def __init__(self, job: BatchJob, llm: Any = None):
        """Loads `job.model` (on `job.device`, "auto": CUDA when there is one), unless a loaded `llm` is given."""
        import torch

        from lm.loading.loading import load

        device = job.device if job.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        self.job = job
        self.llm = llm if llm is not None else load(job.model, device=device, threads=job.threads)
        self.fingerprint = job.fingerprint()
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, lines: Sequence[BatchLine]) -> list[dict]:
        self.llm.clear_cache()  # every group starts from the same (empty) cache, wherever it runs
        calls = [functools.partial(self._line, line) for line in lines]
        if self.llm.device.type == "cuda":
            return [call() for call in calls]
        return run_in_lockstep(self.llm, calls)

    def _line(self, line: BatchLine) -> dict:
        from lm.generation.api import generate

        start = time.perf_counter()
        settings = {"particles": self.job.particles, "max_tokens": self.job.max_tokens, "method": self.job.method,
                    "temperature": self.job.temperature, **line.settings}
        seed = settings.pop("seed", None)
        seed = line_seed(self.job.seed, line.index) if seed is None else seed
        if line.problem is not None:
            return error_record(line, line.problem, seed, 0.0, self.name, self.fingerprint)
        constraint = {} if line.constraint_kind is None else {line.constraint_kind: line.constraint}
        try:
            result = generate(self.llm, line.prompt, rng=seed, **constraint, **settings)
        except Exception as e:  # this line's failure only: its record says what went wrong
            return error_record(line, e, seed, time.perf_counter() - start, self.name, self.fingerprint)
        return result_record(line, result, seed, time.perf_counter() - start, self.name, self.fingerprint)
