"""`lm.batch` on a local Ray cluster (CPU): the in-process records on 4 actors, and on 1 actor that is killed.

One local cluster of 2 CPUs serves the module. A record's `worker` names the actor's process,
so the kill test kills a real actor process mid-job (SIGKILL) and checks that Ray restarted it
and re-ran what it held: every line once in the output, each record what in-process computes
(so the one-actor job gives the in-process records too, whichever process ran each line).
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from extras import require

ray = require("ray", "ray")
require("ray.data", "ray")

import lm  # noqa: E402
from lm.jobs import read_records  # noqa: E402

CODE = "[A-Z]{3}-[0-9]{2}"
JOB = dict(particles=4, max_tokens=16)
VOLATILE = ("seconds", "worker")


@pytest.fixture(scope="module")
def llm():
    return lm.load("builtin")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()


def computed(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in sorted(records, key=lambda r: r["index"])]


def pid(record: dict) -> int:
    return int(record["worker"].rsplit(":", 1)[1])


def lines(n: int) -> list[dict]:
    rows = [{"id": f"q{i}", "prompt": f"Code {i}: ", "regex": CODE} for i in range(n)]
    rows[2] = {"id": "bad", "prompt": "Code: ", "regex": "[A-Z"}  # an error record, on every runner
    return rows


def test_four_actors_write_the_in_process_records(cluster, llm):
    job = lines(8)
    local = lm.batch(job, model=llm, group_size=2, **JOB)
    four = lm.batch(job, group_size=2, ray=True, actors=4, cpus_per_actor=0.5, **JOB)
    assert computed(four.records) == computed(local.records)
    assert local.errors == 1 and len(local.records) == 8
    assert os.getpid() not in {pid(r) for r in four.records}


def test_a_killed_actors_lines_are_rerun_once_and_nothing_is_lost(cluster, llm, tmp_path):
    job = lines(16)
    out = tmp_path / "out.jsonl"
    expected = computed(lm.batch(job, model=llm, group_size=1, **JOB).records)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["summary"] = lm.batch(job, out, group_size=1, ray=True, actors=1, **JOB)
        except BaseException as e:  # reported by the assertion below
            outcome["error"] = e

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and out.read_bytes().count(b"\n") >= 1):
        time.sleep(0.05)
    first = read_records(out)
    assert first, "no record was written within 120 s"
    victim = pid(first[0])
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=300)
    assert not runner.is_alive() and "error" not in outcome, outcome.get("error")
    records = read_records(out)
    assert [r["index"] for r in records] == list(range(16))  # each line once: none lost, none written twice
    assert computed(records) == expected
    assert len(first) < 16 and any(pid(r) != victim for r in records)  # the restarted actor ran the rest
