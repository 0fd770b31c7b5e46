"""Run a batch job's groups on a Ray cluster through Ray Data, one actor per model replica.

Each group of lines is one row of a Ray Dataset (its lines as JSON text). `map_batches` sends
the rows, one at a time, to a pool of `RayGroupActor`s, each of which loads the model once and
runs a `GroupWorker` (`num_gpus` per actor where the cluster has GPUs). The driver reads the
output rows as they are produced and hands each group's records to `sink`, which appends them
to the output file. An actor that dies is restarted by Ray and the group it held is run again
(Ray Data's actor pools restart actors and retry their tasks by default); its partial work never
reached the driver, so nothing is lost or written twice. Only the prompts and records move; each actor loads the weights itself, and KV caches
never leave their actor.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from lm.jobs.job import BatchJob
from lm.jobs.records import BatchLine


class RayGroupActor:
    """Ray Data's callable class: holds one GroupWorker (the loaded model) and runs one group per call."""

    def __init__(self, job: dict):
        from lm.jobs.worker import GroupWorker

        self.worker = GroupWorker(BatchJob(**job))

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        out = []
        for text in batch["lines"]:
            lines = [BatchLine.from_json(data) for data in json.loads(str(text))]
            out.append(json.dumps(self.worker.run(lines), ensure_ascii=False))
        return {"records": np.array(out, dtype=object)}


def run_on_ray(job: BatchJob, groups: Sequence[Sequence[BatchLine]], sink: Callable[[list[dict]], Any], *,
               actors: int = 1, address: str | None = None, cpus_per_actor: float = 1.0,
               gpus_per_actor: float | None = None) -> None:
    """Run `groups` on `actors` Ray actors, calling `sink(records)` on the driver as each group finishes.

    Uses the Ray instance this process already joined, else joins `address` (a running cluster,
    "auto" for RAY_ADDRESS), else starts a local one for the job. `gpus_per_actor` defaults to 1
    when the cluster has GPUs, else 0.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError('batch: running on Ray needs the ray extra: pip install "ppl-smc[ray]" '
                          '(or pip install "ray[data]")') from None
    if not groups:
        return
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="warning")
        started = True
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        cpus = ray.cluster_resources().get("CPU", 0)
        if started and address is None and actors * cpus_per_actor > cpus:  # a local cluster cannot grow: say so
            raise ValueError(f"batch: {actors} actors of {cpus_per_actor:g} CPUs each need {actors * cpus_per_actor:g} "
                             f"CPUs, and this machine's Ray cluster has {cpus:g}; lower --actors or --cpus-per-actor")
        if gpus_per_actor is None:
            gpus_per_actor = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        rows = [{"lines": json.dumps([line.to_json() for line in group])} for group in groups]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        results = dataset.map_batches(
            RayGroupActor, fn_constructor_kwargs={"job": job.to_json()}, batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=min(actors, len(rows)), max_tasks_in_flight_per_actor=2),
            num_cpus=cpus_per_actor, num_gpus=gpus_per_actor)
        for row in results.iter_rows():
            sink(json.loads(row["records"]))
    finally:
        if started:
            ray.shutdown()
