"""`lm.generate`, the one-call API: constraint keywords (JSON Schema as dict, text or Pydantic model;
regex), unlisted JSON keys closed by default, the result's views (text, samples, instances, to_dict,
terminal and HTML), bad arguments named, and a message naming the cause when every particle dies."""
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import inference
import lm
import ppl
from constraints.base import ConstraintError
from lm.generation.api import build_constraint
from ppl import dist

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 10},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 99}},
          "required": ["name", "age"]}


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


def test_one_call_by_model_name_returns_valid_json():
    assert lm.generate is lm.generation.generate
    result = lm.generate("builtin", "Person: ", json_schema=SCHEMA, particles=4, max_tokens=32, rng=0)
    assert isinstance(result, lm.GenerationResult) and isinstance(result, inference.Result)
    assert result.samples and math.isclose(sum(s.probability for s in result.samples), 1.0, rel_tol=1e-9)
    for value in result.instances:
        assert set(value) == {"name", "age"} and 0 <= value["age"] <= 99
    assert result.text == result.samples[0].value and json.loads(result.text) == result.instances[0]


def test_schema_as_json_text_and_the_method_form_agree(builtin):
    by_dict = lm.generate(builtin, "Person: ", json_schema=SCHEMA, particles=3, max_tokens=32, rng=1)
    by_text = builtin.generate("Person: ", json_schema=json.dumps(SCHEMA), particles=3, max_tokens=32, rng=1)
    assert [(s.value, s.probability) for s in by_dict.samples] == [(s.value, s.probability) for s in by_text.samples]
    assert by_dict.log_ml == by_text.log_ml


def test_pydantic_model_gives_validated_instances(builtin):
    pydantic = pytest.importorskip("pydantic")

    class Person(pydantic.BaseModel):
        name: str = pydantic.Field(pattern="^[A-Z][a-z]+$", max_length=10)
        age: int = pydantic.Field(ge=0, le=99)

    result = lm.generate(builtin, "Person: ", json_schema=Person, particles=4, max_tokens=32, rng=0)
    assert result.samples and all(isinstance(s.value, Person) for s in result.samples)
    assert all(isinstance(p, Person) for p in result.instances)
    assert math.isclose(sum(s.probability for s in result.samples), 1.0, rel_tol=1e-9)
    assert Person.model_validate_json(result.text) == result.instances[0]


def test_pydantic_type_json_schema_cannot_express_is_a_clear_error(builtin):
    pydantic = pytest.importorskip("pydantic")
    from typing import Callable

    class Tool(pydantic.BaseModel):
        run: Callable[[int], int]

    with pytest.raises(ConstraintError, match="Pydantic model Tool: a field type cannot be expressed in JSON Schema"):
        lm.generate(builtin, "Tool: ", json_schema=Tool)


def test_unlisted_keys_are_refused_at_their_first_byte_unless_allowed():
    """7(a): a plain Pydantic model states no additionalProperties; generation closes its objects (nested ones too)."""
    pydantic = pytest.importorskip("pydantic")

    class Address(pydantic.BaseModel):
        city: str

    class Person(pydantic.BaseModel):
        name: str
        address: Address

    assert "additionalProperties" not in json.dumps(Person.model_json_schema())
    closed, _ = build_constraint(json_schema=Person)
    opened, _ = build_constraint(json_schema=Person, allow_extra_keys=True)
    assert closed.viable(b'{"n') and not closed.viable(b'{"s')                     # "story" dies at "s"
    assert opened.viable(b'{"story": "Once upon a time')
    assert not closed.viable(b'{"name": "Ada", "address": {"city": "Oslo", "z')      # the nested object too
    assert not closed.viable(b'{"name": "Ada", "address": {"city": "Oslo"}, ')      # every listed key is used
    document = b'{"name": "Ada", "address": {"city": "Oslo"}, "note": "x"}'
    assert opened.accepts(document) and not closed.accepts(document)
    assert closed.accepts(b'{"address": {"city": "Oslo"}, "name": "Ada"}')
    # a schema that states additionalProperties, or lists no properties, keeps its own rule
    stated, _ = build_constraint(json_schema={"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "integer"}})
    assert stated.accepts(b'{"a": 1, "b": 2}') and not stated.accepts(b'{"a": 1, "b": "x"}')
    free, _ = build_constraint(json_schema={"type": "object"})
    assert free.accepts(b'{"anything": [1, 2]}')
    # keys listed by any branch of an allOf are allowed; others are not
    merged, _ = build_constraint(json_schema={"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]})
    assert merged.accepts(b'{"a": 1, "b": 2}') and not merged.viable(b'{"c')


def test_generation_under_a_plain_schema_writes_only_listed_keys(builtin):
    result = lm.generate(builtin, "Person: ", json_schema={"type": "object", "properties": SCHEMA["properties"]},
                         particles=4, max_tokens=32, rng=3)
    assert result.instances and all(set(value) <= {"name", "age"} for value in result.instances)


def test_one_constraint_at_most_and_arguments_are_named(builtin):
    with pytest.raises(ValueError, match="at most one constraint, got json_schema=, regex="):
        lm.generate(builtin, "x", json_schema=SCHEMA, regex="a")
    for options, problem in [({"particles": 0}, "particles must be a positive integer"),
                             ({"max_tokens": -1}, "max_tokens must be a positive integer"),
                             ({"temperature": 0}, "temperature must be a positive number"),
                             ({"method": "beam"}, "method must be one of smc, lcd, rerank")]:
        with pytest.raises(ValueError, match=problem):
            lm.generate(builtin, "x", **options)
    with pytest.raises(TypeError, match="prompt must be a string or a list of chat messages"):
        lm.generate(builtin, b"x")
    with pytest.raises(TypeError, match="constraint= must be a Constraint"):
        lm.generate(builtin, "x", constraint="[a-z]+")
    with pytest.raises(ConstraintError, match="grammar file .*missing.lark"):
        lm.generate(builtin, "x", grammar=Path("missing.lark"))
    with pytest.raises(lm.ContextWindowError, match="no room is left"):
        lm.generate(lm.load("tiny"), "b" * 64)


def test_grammar_and_constraint_keywords(builtin):
    grammar = 'start: "yes" | "no"'
    by_text = lm.generate(builtin, "Answer: ", grammar=grammar, particles=2, max_tokens=4, rng=0)
    by_object = lm.generate(builtin, "Answer: ", constraint=lm.constraints.lark(grammar), particles=2, max_tokens=4, rng=0)
    assert {s.value for s in by_text.samples} <= {"yes", "no"} and by_text.samples
    assert [s.value for s in by_text.samples] == [s.value for s in by_object.samples]


def test_result_prints_for_terminal_json_and_jupyter(tiny):
    result = lm.generate(tiny, "b", regex="(ab|ba|b)", particles=6, max_tokens=3, rng=0)
    shown = str(result)
    assert "6 particles" in shown and "ESS" in shown and "log-ML" in shown
    rows = [line for line in shown.splitlines() if re.match(r"\s+[01]\.\d{4}  ", line)]
    assert [line.split()[-1] for line in rows] == [s.value for s in result.samples]   # most probable first
    record = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [(s["text"], s["probability"]) for s in record["samples"]] == [(s.value, s.probability) for s in result.samples]
    assert record["particles"] == 6 and record["evaluations"] > 0 and record["seconds"] >= 0
    assert record["log_ml"] == result.log_ml and record["ess"] == result.ess and record["method"] == "smc"
    markup = lm.generate(tiny, "b", regex="(ab|ba|b)", particles=2, max_tokens=3, rng=0)._repr_html_()
    assert "<table>" in markup and "log-ML" in markup
    dead = lm.generate(tiny, "b", regex="zzz", particles=2, max_tokens=5, rng=0)
    assert "no samples: no valid continuation" in str(dead)
    assert json.loads(json.dumps(dead.to_dict(), allow_nan=False))["log_ml"] is None
    with pytest.raises(ValueError, match="no text was generated: no valid continuation"):
        dead.text


def test_html_escapes_the_samples(builtin):
    result = lm.generate(builtin, "Tag: ", regex="<b>&</b>", particles=1, max_tokens=12, rng=0)
    markup = result._repr_html_()
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in markup and "<b>&</b>" not in markup


def test_every_inference_result_prints_its_samples():
    @ppl.gen
    def coin():
        heads = ppl.sample(dist.Bernoulli(0.3), "heads")
        ppl.observe(dist.Bernoulli(0.9 if heads else 0.2), 1, "evidence")
        return int(heads)

    result = inference.importance(coin, particles=200, rng=0)
    lines = str(result).splitlines()
    assert lines[0].startswith("200 particles · ESS") and lines[1] == "probability  sample"
    assert {line.split()[-1] for line in lines[2:]} == {"0", "1"}
    assert "<table>" in result._repr_html_()


# ---- 7(e): when every particle dies, the message names the cause and what to try -------------

def test_dead_constraint_rejected_every_token(tiny):
    result = lm.generate(tiny, "b", regex="zzz", particles=4, max_tokens=5, rng=0)
    assert result.all_dead and "4 of 4 particles reached a point where the constraint rejected every token" in result.message


def test_dead_rerank_names_the_method_to_use_instead(tiny):
    result = lm.generate(tiny, "b", regex="(ab){2}", particles=3, max_tokens=3, rng=0, method="rerank")
    assert result.all_dead and "use method='smc'" in result.message


def test_dead_max_tokens(builtin):
    result = lm.generate(builtin, "Story: ", regex="[a-z ]{40}", particles=3, max_tokens=4, rng=0, budget=False)
    assert result.all_dead and "3 of 3 particles reached max_tokens=4" in result.message and "raise max_tokens" in result.message


def test_with_the_token_budget_an_output_that_cannot_fit_is_an_error_up_front(builtin):
    from constraints.token_budget import BudgetTooSmall

    with pytest.raises(BudgetTooSmall, match="shortest output .* is 40 bytes"):
        lm.generate(builtin, "Story: ", regex="[a-z ]{40}", particles=3, max_tokens=4, rng=0)


def test_dead_condition(tiny):
    result = lm.generate(tiny, "b", regex="(ab|ba|b)", particles=4, max_tokens=5, rng=0, potential=lambda text: -math.inf)
    assert result.all_dead and "4 of 4 particles finished but a condition failed" in result.message


def test_dead_context_window(tiny):
    result = lm.generate(tiny, "b" * 60, regex="a{100}", particles=2, max_tokens=100, rng=0, budget=False)
    assert result.all_dead and "filled the model's context window of 64 tokens" in result.message


def test_dead_causes_are_ranked(tiny):
    """Mixed deaths: the dominant cause comes first, the others follow with their counts."""
    from lm.generation.dead_particles import dead_message

    constraint_dead = lm.generate(tiny, "b", regex="zzz", particles=1, max_tokens=5, rng=0).particles[0].trace
    budget_dead = lm.generate(tiny, "b", regex="a{30}", particles=1, max_tokens=3, rng=0, budget=False).particles[0].trace
    message = dead_message([budget_dead, budget_dead, constraint_dead], method="smc", max_tokens=3, window=None)
    assert message.index("2 of 3 particles reached max_tokens=3") < message.index("1 of 3 particles reached a point")


# ---- docs/api.md: every python block runs ---------------------------------------------------

def test_api_doc_examples_run():
    doc = Path(__file__).resolve().parents[1] / "docs" / "api.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/api.md block {i}", "exec"), namespace)
        except Exception as e:  # name the block that failed
            raise AssertionError(f"docs/api.md python block {i} failed: {type(e).__name__}: {e}\n{block}") from e


# ---- allow_extra_keys=False, on generated schemas (Hypothesis) -------------------------------

KEYS = st.sampled_from(["a", "b", "ab", "c"])


def _object_schemas():
    leaf = st.sampled_from([{"type": "string"}, {"type": "integer"}, {}, {"type": ["string", "null"]}])
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda props, req: {"type": "object", "properties": props, "required": sorted(set(req) & set(props))},
                  st.dictionaries(KEYS, inner, min_size=1, max_size=3), st.lists(KEYS, max_size=2)),
        st.builds(lambda items: {"type": "array", "items": items, "maxItems": 2}, inner)), max_leaves=4)


def _closed(schema):
    """The schema with additionalProperties: false wherever an object lists properties and states none."""
    if isinstance(schema, dict):
        out = {k: (_closed(v) if k in ("items",) else v) for k, v in schema.items()}
        if "properties" in schema:
            out["properties"] = {k: _closed(v) for k, v in schema["properties"].items()}
            out.setdefault("additionalProperties", False)
        return out
    return schema


JSON_DOCS = st.recursive(st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["", "x"])),
                         lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(KEYS, inner, max_size=3)),
                         max_leaves=6)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_object_schemas(), st.lists(JSON_DOCS, min_size=1, max_size=5))
def test_closed_objects_accept_exactly_what_additional_properties_false_accepts(schema, documents):
    import jsonschema

    from constraints.json.json_schema import json_schema

    closed = json_schema(schema, allow_extra_keys=False)
    opened = json_schema(schema)
    oracle = jsonschema.Draft202012Validator(_closed(schema))
    for document in documents:
        text = closed.dumps(document)
        assert closed.accepts(text) == oracle.is_valid(document), (schema, document)
        assert not closed.accepts(text) or opened.accepts(text)
        if oracle.is_valid(document):
            assert all(closed.viable(text[:i]) for i in range(len(text)))   # sound prefixes


# ---- issue 16, item 3: unfinished particles keep their text and cause, apart from the samples -----------

def test_unfinished_prefixes_are_kept_with_their_cause_and_never_sampled(tiny):
    result = lm.generate(tiny, "b", regex="a{30}", particles=3, max_tokens=3, rng=0, budget=False)
    assert result.all_dead and result.samples == []
    assert [u.cause for u in result.unfinished] == ["max_tokens"] * 3
    assert all(u.text and set(u.text) <= {"a"} for u in result.unfinished)  # what each had written
    assert result.to_dict()["unfinished"] == [{"text": u.text, "cause": u.cause} for u in result.unfinished]
    rejected = lm.generate(tiny, "b", regex="zzz", particles=2, max_tokens=5, rng=0)
    assert [u.cause for u in rejected.unfinished] == ["constraint"] * 2
    window = lm.generate(tiny, "b" * 60, regex="a{100}", particles=2, max_tokens=100, rng=0, budget=False)
    assert {u.cause for u in window.unfinished} == {"window"}


def test_a_condition_that_kills_some_particles_leaves_them_out_of_the_samples(tiny):
    result = lm.generate(tiny, "b", regex="(ab|ba|b)", particles=16, max_tokens=5, rng=1,
                         potential=lambda text: -math.inf if text == b"b" else 0.0)
    kept = {s.value for s in result.samples}
    assert kept and "b" not in kept
    assert result.unfinished and all(u.cause == "condition" and u.text == "b" for u in result.unfinished)
    assert len(result.unfinished) + sum(w > 0 for w in result.weights) == 16


def test_the_generation_layer_names_max_tokens_not_the_constraint(tiny):
    """The message of issue 16: particles cut at max_tokens were reported as rejected by the constraint."""
    from lm.generation.generation import generate

    result = generate(tiny, "b", lm.constraints.regex("a{30}"), particles=4, max_tokens=3, rng=0, budget=False)
    assert result.all_dead and "4 of 4 particles reached max_tokens=3" in result.message
    assert "rejected" not in result.message


@pytest.mark.parametrize("keyword, max_tokens", [
    ({"json_schema": {"type": "object", "properties": {"first_name": {"type": "string"}, "age": {"type": "integer"}},
                      "required": ["first_name", "age"]}}, 6),
    ({"sql": "CREATE TABLE singer(name, age)"}, 1)])
def test_json_and_sql_outputs_that_cannot_fit_are_an_error_before_generation(builtin, keyword, max_tokens):
    """The error names the shortest output's length (bytes and tokens) and what max_tokens leaves; no step runs."""
    from constraints.token_budget import BudgetTooSmall

    def no_step(info):
        pytest.fail("generation ran")

    with pytest.raises(BudgetTooSmall, match=rf"shortest output .* is \d+ bytes and needs \d+ tokens \+ 1 EOS, "
                                             rf"but max_tokens={max_tokens} leaves room for {max_tokens - 1} tokens") as e:
        lm.generate(builtin, "Answer: ", particles=2, max_tokens=max_tokens, rng=0, on_step=no_step, **keyword)
    assert e.value.needed + 1 > max_tokens and e.value.shortest >= e.value.needed
    # with just enough room it generates, and the output is no shorter than the shortest
    result = lm.generate(builtin, "Answer: ", particles=2, max_tokens=e.value.needed + 1, rng=0, **keyword)
    assert result.samples and all(len(s.value.encode()) >= e.value.shortest for s in result.samples)
