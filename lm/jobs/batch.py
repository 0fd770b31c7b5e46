"""`lm.batch`: constrained generation for many prompts, in this process or on a Ray cluster, resumable.

    summary = lm.batch("prompts.jsonl", "out.jsonl", particles=8, seed=0)            # in-process
    summary = lm.batch("prompts.jsonl", "out.jsonl", ray=True, actors=4)             # Ray Data actors
    summary = lm.batch([{"prompt": "Code: ", "regex": "[A-Z]{3}"}])                  # records in memory

Every line gets one output record (samples with probabilities, log-ML, ESS, timing; or its
error). A line's seed is a hash of the job seed and its index, and lines run in fixed groups
from an empty cache, so the records are the same in-process, on one actor or on many. With an
output file an interrupted job resumes: finished lines are kept, the rest run (docs/batch.md).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from lm.jobs.job import BatchJob, groups as cut_groups
from lm.loading.model_dir import BUILTIN_MODELS, MODEL_PACKAGES
from lm.jobs.output import OutputFile
from lm.jobs.records import parse_lines, read_input


@dataclass
class BatchSummary:
    """What a batch run did: lines in the input, done before (resumed), run now, error records, seconds."""

    total: int
    resumed: int
    ran: int
    errors: int
    seconds: float
    out: Path | None = None
    records: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        before = f", {self.resumed} done before" if self.resumed else ""
        where = f" -> {self.out}" if self.out is not None else ""
        return (f"{self.total} lines: {self.ran} run ({self.errors} errors){before}, {self.seconds:.1f} s{where}")


def batch(input: "str | os.PathLike | Sequence[dict]", out: "str | os.PathLike | None" = None, *,
          model: Any = "builtin", seed: int = 0, particles: int = 8, max_tokens: int = 128, method: str = "smc",
          temperature: float = 1.0, group_size: int = 8, threads: int = 1, device: str = "auto",
          ray: bool = False, address: str | None = None, actors: int = 1, cpus_per_actor: float = 1.0,
          gpus_per_actor: float | None = None, overwrite: bool = False,
          on_records: Callable[[list[dict]], Any] | None = None) -> BatchSummary:
    """Run every line of `input` (a JSONL path, or a list of line objects) and write one record per line to `out`.

    `model` is a name or path each replica loads, or (in-process only) a loaded LanguageModel.
    Settings given here are the job's defaults; a line's own fields override them. `group_size`
    lines run together on a model replica (their particles share forward passes). `ray=True` or
    `address=` runs on Ray (a local cluster, the one this process joined, or the one at
    `address`) with `actors` replicas; otherwise in this process. An existing `out` is resumed
    (records of other settings or of a changed input are refused) unless `overwrite`.
    `on_records(records)` sees each group's new records as they are written.
    Returns a BatchSummary whose `records` are this run's, sorted by index.
    """
    llm = None if isinstance(model, (str, os.PathLike)) else model
    if llm is None and str(model) not in BUILTIN_MODELS and str(model) not in MODEL_PACKAGES and Path(model).exists():
        model = Path(model).resolve()  # a model directory or .gguf file: the same path from every worker's cwd
    if llm is not None and (ray or address is not None):
        raise ValueError("batch: on Ray give the model's name or path (each actor loads it), not a loaded model")
    job = BatchJob(model=str(model) if llm is None else llm.name, seed=seed, particles=particles,
                   max_tokens=max_tokens, method=method, temperature=temperature, group_size=group_size,
                   threads=threads, device=device)
    if isinstance(input, (str, os.PathLike)):
        lines = read_input(input)
    else:
        lines = parse_lines(list(input))
    start = time.perf_counter()
    output = OutputFile(out, job.fingerprint(), lines, overwrite=overwrite) if out is not None else None
    done = output.done if output is not None else set()
    pending = [group for group in cut_groups(lines, job.group_size) if any(line.index not in done for line in group)]
    written: list[dict] = []
    seen: set[int] = set(done)

    def sink(records: list[dict]) -> None:
        fresh = output.append(records) if output is not None else [r for r in records if r["index"] not in seen]
        seen.update(r["index"] for r in fresh)
        written.extend(fresh)
        if on_records is not None and fresh:
            on_records(fresh)

    try:
        if ray or address is not None:
            from lm.jobs.ray_runner import run_on_ray

            run_on_ray(job, pending, sink, actors=actors, address=address, cpus_per_actor=cpus_per_actor,
                       gpus_per_actor=gpus_per_actor)
        else:
            from lm.jobs.local_runner import run_in_process

            run_in_process(job, pending, sink, llm)
    finally:
        if output is not None:
            output.close()
    written.sort(key=lambda r: r["index"])
    return BatchSummary(total=len(lines), resumed=0 if output is None else output.resumed, ran=len(written),
                        errors=sum("error" in r for r in written), seconds=time.perf_counter() - start,
                        out=None if out is None else Path(out), records=written)
