"""Run a batch job's groups in this process, one after another, on one model replica (no Ray needed)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from lm.jobs.job import BatchJob
from lm.jobs.records import BatchLine


def run_in_process(job: BatchJob, groups: Sequence[Sequence[BatchLine]], sink: Callable[[list[dict]], Any],
                   llm: Any = None) -> None:
    """Load the model once (or use the loaded `llm`) and call `sink(records)` after each group, in input order."""
    if not groups:
        return
    from lm.jobs.worker import GroupWorker

    worker = GroupWorker(job, llm)
    for group in groups:
        sink(worker.run(group))
