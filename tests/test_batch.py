"""`lm.batch` and `ppl batch` in-process: one record per line, errors per line, seeds from the line, resuming.

Ray is tested in test_batch_ray.py; everything here runs without it.
"""
from __future__ import annotations

import json
import re
import signal
import sqlite3

import jsonschema
import pytest

import lm
from frontend.cli import main
from lm.generation.api import generate
from lm.jobs import BatchInputError, OutputConflict, line_seed, read_records
from lm.jobs.lockstep import run_in_lockstep
from lm.serving.forward_server import ForwardServer

PERSON = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 8},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 99}},
          "required": ["name", "age"], "additionalProperties": False}
CODE = "[A-Z]{3}-[0-9]{2}"
SMALL = dict(particles=4, max_tokens=24)
VOLATILE = ("seconds", "worker")  # where and how long: the rest of a record is what the job computes


@pytest.fixture(scope="module")
def llm():
    return lm.load("builtin")


def computed(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in sorted(records, key=lambda r: r["index"])]


def write_lines(path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def mixed_lines(tmp_path) -> list[dict]:
    (tmp_path / "person.json").write_text(json.dumps(PERSON))
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    return [
        {"id": "person", "prompt": "Person: ", "json_schema": "person.json"},
        {"id": "code", "prompt": "Code: ", "regex": CODE},
        {"id": "bad-regex", "prompt": "Code: ", "regex": "[A-Z"},
        {"id": "no-file", "prompt": "Person: ", "json_schema": "missing.json"},
        {"id": "yes-no", "prompt": "Answer: ", "grammar": 'start: "yes" | "no"', "particles": 2},
        {"id": "sql", "prompt": "Database: shop\nQuestion: How many items are there?\nSQL: ", "sql": "shop.sqlite"},
        {"id": "inline", "prompt": "Person: ", "json_schema": PERSON, "seed": 7},
    ]


def test_one_record_per_line_and_an_invalid_constraint_is_that_lines_error(llm, tmp_path):
    write_lines(tmp_path / "in.jsonl", mixed_lines(tmp_path))
    summary = lm.batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl", model=llm, group_size=3, **SMALL)
    records = read_records(tmp_path / "out.jsonl")
    assert [r["index"] for r in records] == list(range(7)) and summary.ran == 7 and summary.errors == 2
    by_id = {r["id"]: r for r in records}
    assert by_id["bad-regex"]["error"]["type"] == "RegexError" and "missing.json" in by_id["no-file"]["error"]["message"]
    for name in ("person", "inline"):
        for sample in by_id[name]["samples"]:
            jsonschema.validate(json.loads(sample["text"]), PERSON)
    assert all(re.fullmatch(CODE, s["text"]) for s in by_id["code"]["samples"])
    assert {s["text"] for s in by_id["yes-no"]["samples"]} <= {"yes", "no"}
    assert all(s["text"].upper().startswith("SELECT") for s in by_id["sql"]["samples"])
    for record in records:
        if "error" not in record:
            assert record["samples"] and sum(s["probability"] for s in record["samples"]) == pytest.approx(1.0)
            assert record["log_ml"] is not None and 0 < record["ess"] <= record["particles"] * (1 + 1e-9)
    assert by_id["inline"]["seed"] == 7 and by_id["code"]["seed"] == line_seed(0, 1)


def test_a_line_in_a_group_of_one_is_exactly_lm_generate_with_its_derived_seed(llm):
    lines = [{"prompt": "Code: ", "regex": CODE}, {"prompt": "Person: ", "json_schema": PERSON}]
    summary = lm.batch(lines, model=llm, group_size=1, seed=3, **SMALL)
    for record, line in zip(summary.records, lines):
        llm.clear_cache()
        constraint = {k: v for k, v in line.items() if k != "prompt"}
        alone = generate(llm, line["prompt"], rng=line_seed(3, record["index"]), **constraint, **SMALL).to_dict()
        assert record["samples"] == alone["samples"] and record["log_ml"] == alone["log_ml"]


def test_lockstep_merges_forward_passes_and_is_reproducible(llm):
    def line(i):
        return lambda: generate(llm, f"Person {i}: ", json_schema=PERSON, rng=i, **SMALL).to_dict()["samples"]

    llm.clear_cache()
    before = llm.cache_stats().forward_calls
    sequential = [line(i)() for i in range(4)]
    sequential_calls = llm.cache_stats().forward_calls - before
    runs = []
    for _ in range(2):
        llm.clear_cache()
        before = llm.cache_stats().forward_calls
        runs.append(run_in_lockstep(llm, [line(i) for i in range(4)]))
        calls = llm.cache_stats().forward_calls - before
    assert runs[0] == runs[1] and all(samples for samples in runs[0])
    assert calls < sequential_calls and len(sequential) == 4
    assert isinstance(llm.server, ForwardServer)  # the stand-in is gone once the group is done


def test_a_crash_mid_write_is_repaired_and_the_job_resumes_without_redoing_finished_lines(llm, tmp_path):
    write_lines(tmp_path / "in.jsonl", [{"prompt": f"Code {i}: ", "regex": CODE} for i in range(6)])
    whole = lm.batch(tmp_path / "in.jsonl", tmp_path / "whole.jsonl", model=llm, group_size=2, **SMALL)
    raw = (tmp_path / "whole.jsonl").read_bytes().split(b"\n")
    crashed = tmp_path / "crashed.jsonl"
    crashed.write_bytes(b"\n".join(raw[:3]) + b"\n" + raw[3][:25])  # three records, then a cut-off fourth
    kept = {json.loads(line)["index"] for line in raw[:3]}
    rerun: list[int] = []
    resumed = lm.batch(tmp_path / "in.jsonl", crashed, model=llm, group_size=2, **SMALL,
                       on_records=lambda records: rerun.extend(r["index"] for r in records))
    assert resumed.resumed == 3 and sorted(rerun) == sorted(set(range(6)) - kept)
    assert crashed.read_bytes().startswith(b"\n".join(raw[:3]) + b"\n")
    assert computed(read_records(crashed)) == computed(whole.records)


def test_ctrl_c_keeps_the_finished_groups_and_the_same_call_finishes_the_job(llm, tmp_path):
    lines = [{"prompt": f"Code {i}: ", "regex": CODE} for i in range(6)]
    out = tmp_path / "out.jsonl"

    def interrupt(records):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lm.batch(lines, out, model=llm, group_size=2, **SMALL, on_records=interrupt)
    assert [r["index"] for r in read_records(out)] == [0, 1]
    finished = lm.batch(lines, out, model=llm, group_size=2, **SMALL)
    assert finished.resumed == 2 and finished.ran == 4
    assert computed(read_records(out)) == computed(lm.batch(lines, model=llm, group_size=2, **SMALL).records)


def test_an_output_of_other_settings_or_a_changed_input_is_refused(llm, tmp_path):
    lines = [{"prompt": "Code: ", "regex": CODE}]
    out = tmp_path / "out.jsonl"
    lm.batch(lines, out, model=llm, **SMALL)
    with pytest.raises(OutputConflict, match="another job"):
        lm.batch(lines, out, model=llm, seed=1, **SMALL)
    with pytest.raises(OutputConflict, match="changed"):
        lm.batch([{"prompt": "Other: ", "regex": CODE}], out, model=llm, **SMALL)
    assert lm.batch(lines, out, model=llm, seed=1, overwrite=True, **SMALL).ran == 1


@pytest.mark.parametrize("text, message", [
    ('{"prompt": "a"}\nnot json\n', r"line 2: not JSON"),
    ('{"prompt": "a", "partciles": 3}\n', r"line 1: unknown field 'partciles'"),
    ('{"prompt": "a", "messages": []}\n', r"line 1: give exactly one of 'prompt'"),
    ('\n{"regex": "a"}\n', r"line 2: give exactly one of 'prompt'"),
    ('{"prompt": "a", "particles": 0}\n', r"line 1: field 'particles': a positive integer, got 0"),
    ('{"prompt": "a", "regex": "a", "grammar": "b"}\n', r"line 1: give at most one constraint"),
    ('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n', r"line 2: field 'id'.*line 1"),
    ('[1, 2]\n', r"line 1: a line is a JSON object"),
    ('{"messages": [{"role": "user"}]}\n', r"line 1: field 'messages', item 0"),
])
def test_a_malformed_input_line_is_named_by_file_line_and_field(tmp_path, text, message):
    (tmp_path / "in.jsonl").write_text(text)
    with pytest.raises(BatchInputError, match=message):
        lm.batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_ppl_batch_writes_records_resumes_and_reports_bad_input_in_one_line(tmp_path, capsys):
    write_lines(tmp_path / "in.jsonl", [{"prompt": "Code: ", "regex": CODE}, {"prompt": "X: ", "regex": "("}])
    args = ["batch", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--particles", "2",
            "--max-tokens", "16"]
    assert main(args) == 0
    assert "2 lines: 2 run (1 errors)" in capsys.readouterr().err
    assert main(args) == 0 and "0 run (0 errors), 2 done before" in capsys.readouterr().err
    assert main(args[:-1] + ["17"]) == 2
    assert capsys.readouterr().err.startswith("ppl batch: error: ") and len(read_records(tmp_path / "out.jsonl")) == 2
    (tmp_path / "bad.jsonl").write_text('{"prompt": 1}\n')
    assert main(["batch", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == (f"ppl batch: error: {tmp_path / 'bad.jsonl'}, line 1: field 'prompt': "
                                               "a string, got a JSON number")


def test_two_jobs_never_write_one_output(llm, tmp_path):
    lines = [{"prompt": "Code: ", "regex": CODE}]
    out = tmp_path / "out.jsonl"

    def second_job(records):
        with pytest.raises(OutputConflict, match="another batch job is writing"):
            lm.batch(lines, out, model=llm, **SMALL)

    lm.batch(lines, out, model=llm, **SMALL, on_records=second_job)
    assert len(read_records(out)) == 1 and lm.batch(lines, out, model=llm, **SMALL).resumed == 1


def test_ctrl_c_during_a_lockstep_group_stops_ppl_batch_with_130_and_it_resumes(tmp_path, monkeypatch, capsys):
    """A real SIGINT while a group's lines run in their threads: the job stops, the next run finishes it."""
    from lm.generation.generation import ConstrainedGeneration

    real_step, out, sent = ConstrainedGeneration.step, tmp_path / "out.jsonl", []

    async def step_then_ctrl_c(self):
        if out.stat().st_size > 0 and not sent:  # the first group's records are written: a step of the second
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        await real_step(self)

    write_lines(tmp_path / "in.jsonl", [{"prompt": f"Code {i}: ", "regex": CODE} for i in range(6)])
    args = ["batch", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--particles", "2",
            "--max-tokens", "12", "--group-size", "2"]
    monkeypatch.setattr(ConstrainedGeneration, "step", step_then_ctrl_c)
    assert main(args) == 130
    assert "interrupted" in capsys.readouterr().err
    kept = [r["index"] for r in read_records(tmp_path / "out.jsonl")]
    assert kept == [0, 1]
    monkeypatch.setattr(ConstrainedGeneration, "step", real_step)
    assert main(args) == 0 and "2 done before" in capsys.readouterr().err
    assert [r["index"] for r in read_records(tmp_path / "out.jsonl")] == list(range(6))
