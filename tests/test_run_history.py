"""Run histories (inference/history/): what `record=True` records on every engine path, checked against the run
itself (final texts rebuilt through the recorded ancestry, weights, evaluations, causes of death), the JSON form
(schema-valid, strict, round-trips equal) and its one-line errors on truncated or foreign documents."""
from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest

import inference
import lm
import ppl
from examples import hmm_smc
from inference.history import HISTORY_SCHEMA, History, HistoryFormatError, from_json, load, to_json
from lm.generation.dead_particles import CAUSES
from lm.generation.generation import generate as lm_generation
from ppl import dist

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 8},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 99}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


def check_consistent(result, history: History, texts) -> None:
    """The recorded steps agree with the run: StepInfo fields, final weights, and each final particle's text
    rebuilt through the recorded parents and pieces equals the particle's own."""
    assert len(history.steps) == len(result.steps) > 0
    for recorded, info in zip(history.steps, result.steps):
        assert (recorded.step, recorded.resampled, recorded.live) == (info.step, info.resampled, info.live)
        assert recorded.ess == info.ess and (recorded.log_ml == info.log_ml or math.isnan(info.log_ml))
        assert len({len(recorded.parents), len(recorded.pieces), len(recorded.log_weights), len(recorded.causes)}) == 1
    last = history.steps[-1]
    assert list(last.log_weights) == [p.log_weight for p in result.particles]
    for i, text in enumerate(texts):
        assert history.text(len(history.steps) - 1, i) == text
    assert [(s.text, s.probability) for s in history.samples] == [
        (s.value if isinstance(s.value, str) else repr(s.value), s.probability) for s in result.group(result.output)]
    assert history.log_ml == result.log_ml and history.ess == result.ess
    jsonschema.validate(to_json(history), HISTORY_SCHEMA)
    assert from_json(json.loads(json.dumps(to_json(history), allow_nan=False))) == history


@pytest.mark.parametrize("engine", ["general", "device"])
def test_generation_history_matches_the_run(builtin, engine):
    result = lm.generate(builtin, "Person: ", json_schema=SCHEMA, particles=6, max_tokens=40, rng=1, engine=engine,
                         record=True)
    history = result.history
    check_consistent(result, history, [p.trace.output for p in result.particles])
    assert history.meta == {"model": "builtin", "method": "smc"}
    assert any(s.resampled for s in history.steps), "the test wants a run that resampled"
    # Each final particle's constraint evaluations are the sum of its lineage's per-step counts.
    last = len(history.steps) - 1
    for i, particle in enumerate(result.particles):
        path = history.lineage(last, i)
        assert sum(history.steps[t].evaluations[j] for t, j in enumerate(path)) == particle.trace.evaluations
        done = next(t for t, j in enumerate(path) if history.steps[t].finished[j])
        assert all(history.steps[t].pieces[j] for t, j in enumerate(path[:done]))  # a token a step, then EOS
        assert not any(history.steps[t].pieces[j] for t, j in enumerate(path[done:], done))


def test_smc_decode_records_its_rows(builtin):
    result = lm.smc_decode(builtin, "Story: ", particles=5, max_tokens=10, ess_threshold=0.9, sampling="host", rng=0,
                           record=True)
    check_consistent(result, result.history, [p.trace.text for p in result.particles])


def test_without_resampling_increments_add_up_to_the_final_log_weights(builtin):
    result = lm_generation(builtin, "Code: ", lm.constraints.regex("[A-Z]{2}-[0-9]{2}"), particles=5, max_tokens=12,
                           ess_threshold=0.0, rng=3, record=True)
    history = result.history
    assert not any(s.resampled for s in history.steps)
    for i, particle in enumerate(result.particles):
        path = history.lineage(len(history.steps) - 1, i)
        assert path == [i] * len(history.steps)
        total = math.fsum(history.steps[t].increments[i] for t in range(len(history.steps)))
        assert total == pytest.approx(particle.log_weight, abs=1e-9)


def test_dead_particles_record_their_cause(builtin):
    # rerank samples the unconstrained model: most particles die the step their prefix leaves the regex.
    result = lm_generation(builtin, "Code: ", lm.constraints.regex("[0-9]{3}"), particles=12, max_tokens=8,
                           method="rerank", rng=0, record=True)
    history = result.history
    deaths = [(t, i) for t, s in enumerate(history.steps) for i in range(len(s)) if s.state(i) == "dead"
              and (t == 0 or history.steps[t - 1].state(s.parents[i]) != "dead")]
    assert deaths, "the test wants particles that died"
    for t, i in deaths:
        assert history.steps[t].causes[i] in CAUSES
        assert history.steps[t].causes[i] == "constraint"
        assert history.steps[t].increments[i] == -math.inf
    alive = [(t, i) for t, s in enumerate(history.steps) for i in range(len(s)) if s.state(i) != "dead"]
    assert all(history.steps[t].causes[i] == "" for t, i in alive)
    document = to_json(history)
    assert "-inf" in document["steps"][-1]["log_weights"]  # strict JSON: -inf as a string
    assert from_json(json.loads(json.dumps(document, allow_nan=False))) == history


def test_model_particles_without_a_summary_show_their_choices(builtin):
    class Walk(ppl.Model):
        """A random walk observed at the end; its summary is its choices, its text rewritten by `summary`."""

        def __init__(self):
            super().__init__()
            self.position = 0

        def step(self):
            self.position += self.sample(dist.Categorical(probs=np.array([0.5, 0.5])), "move") * 2 - 1
            self.factor(-0.3 * abs(self.position))
            if self.step_index >= 5:
                self.finish()

    result = inference.smc(Walk(), particles=5, rng=2, ess_threshold=1.0, record=True)
    history = result.history
    check_consistent(result, history, [" ".join(f"move={p.trace.choices[(t, 'move')]}" for t in range(6)) + " "
                                       for p in result.particles])

    class Position(Walk):
        def summary(self):
            return f"at {self.position}"  # not an extension of the previous text: kept prefix + piece

    result = inference.smc(Position(), particles=5, rng=2, ess_threshold=1.0, record=True)
    check_consistent(result, result.history, [f"at {p.trace.position}" for p in result.particles])
    assert any(k < len(result.history.text(t - 1, s.parents[i]))
               for t, s in enumerate(result.history.steps) if t for i, k in enumerate(s.keep))


def test_unfold_with_rejuvenation_and_smc_steer_record_their_ancestry(builtin):
    chain = hmm_smc.hmm(hmm_smc.INITIAL, hmm_smc.TRANSITION, hmm_smc.EMISSION, hmm_smc.BOATS[:8])
    result = inference.smc(chain, None, particles=6, rng=1, rejuvenation=hmm_smc.rejuvenate, record=True)
    texts = ["".join(f"x={p.trace.choices[(t, 'x')]} " for t in range(8)) for p in result.particles]
    check_consistent(result, result.history, texts)

    class Digits(ppl.Model):
        def __init__(self):
            super().__init__()
            self.text = ""

        def step(self):
            self.text += str(self.sample(dist.Categorical(probs=np.array([0.5, 0.3, 0.2])), "d"))
            self.factor(-0.5 * self.text.count("0"))
            if len(self.text) == 4:
                self.finish()

        def summary(self):
            return self.text

    steered = inference.smc_steer(Digits(), particles=3, expansions=2, rng=0, record=True)
    history = steered.history
    assert [len(s) for s in history.steps] == [6] * 4  # each step's 3 survivors expanded 2 ways
    assert len(steered.particles) == 3
    for t, step in enumerate(history.steps):
        for i in range(len(step)):
            assert len(history.text(t, i)) == t + 1


def test_off_by_default_and_save_html_says_how_to_record(builtin, tmp_path):
    result = lm.generate(builtin, "Person: ", json_schema=SCHEMA, particles=2, max_tokens=40, rng=0)
    assert result.history is None
    with pytest.raises(ValueError, match="record=True"):
        result.save_html(tmp_path / "run.html")
    assert "<iframe" not in result._repr_html_()


def test_save_load_round_trip_and_html_embeds_the_same_document(builtin, tmp_path):
    result = lm.generate(builtin, "Person: ", json_schema=SCHEMA, particles=3, max_tokens=40, rng=0, record=True)
    path = tmp_path / "run.json"
    result.history.save(str(path))
    assert load(str(path)) == result.history
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    page = tmp_path / "run.html"
    result.save_html(str(page))
    html = page.read_text()
    start = html.index('<script type="application/json" id="run-history">') + len(
        '<script type="application/json" id="run-history">')
    assert json.loads(html[start:html.index("</script>", start)]) == to_json(result.history)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    frame = result._repr_html_()
    assert frame.count("<iframe") == 1 and 'sandbox="allow-scripts"' in frame


@pytest.fixture(scope="module")
def document(builtin):
    result = lm.generate(builtin, "Person: ", json_schema=SCHEMA, particles=3, max_tokens=40, rng=0, record=True)
    return to_json(result.history)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("format"), "format"),
    (lambda d: d.update(format="something else"), "format"),
    (lambda d: d.update(version=99), "version"),
    (lambda d: d.pop("steps"), "steps"),
    (lambda d: d["steps"][2].update(parents=[0, 1, 7]), "steps[2].parents[2]"),
    (lambda d: d["steps"][1]["log_weights"].__setitem__(1, "heavy"), "steps[1].log_weights[1]"),
    (lambda d: d["steps"][0]["pieces"].pop(), "steps[0].pieces"),
    (lambda d: d["steps"][3].pop("ess"), "steps[3].ess"),
    (lambda d: d["samples"][0].update(text=3), "samples[0].text"),
])
def test_bad_documents_name_the_field(document, change, field):
    bad = json.loads(json.dumps(document))
    change(bad)
    with pytest.raises(HistoryFormatError) as error:
        from_json(bad)
    assert error.value.field == field and f"field {field} " in str(error.value)


def test_truncated_and_non_history_files(document, tmp_path):
    text = json.dumps(document)
    cut = tmp_path / "cut.json"
    cut.write_text(text[:text.index('"pieces"') + 20])
    with pytest.raises(HistoryFormatError, match=r"truncated.*in field steps\[0\]\.pieces"):
        load(str(cut))
    other = tmp_path / "list.json"
    other.write_text("[1, 2, 3]")
    with pytest.raises(HistoryFormatError, match="not an object: not a run history"):
        load(str(other))
