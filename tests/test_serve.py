"""`ppl serve`: the OpenAI-compatible server, through the real `openai` client and plain HTTP, on the built-in model.

One server (uvicorn in a thread, a free localhost port, an API key) serves the module's tests;
the Ctrl-C test starts `ppl serve` itself in a subprocess.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.extras import require
from tests.serve_helpers import connection, get, post, running_server, send

require("starlette", "serve")
require("uvicorn", "serve")
openai = require("openai", "test")

import lm  # noqa: E402
from frontend.server import Limits, ServerConfig  # noqa: E402
from frontend.server.streaming import SettledText  # noqa: E402

KEY = "test-key"
PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"], "additionalProperties": False}
SQL_PROMPT = "Database: singer(id, name, age)\nQuestion: How many singers are there?\nSQL: "
LONG = {"prompt": "Story: ", "regex": "[a-z ]{300,400}", "max_tokens": 440, "particles": 64}  # seconds of work


@pytest.fixture(scope="module")
def llm():
    return lm.load("builtin")


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "shop.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
        connection.executemany("INSERT INTO singer VALUES (?, ?, ?)", [(1, "Ann", 31), (2, "Bo", 45)])
    return path


@pytest.fixture(scope="module")
def server(llm, database):
    config = ServerConfig(model_id="builtin", databases={"shop": database}, api_key=KEY,
                          limits=Limits(body_bytes=200_000, schema_bytes=10_000, regex_chars=200))
    with running_server(llm, config) as (url, uvicorn_server):
        yield url, uvicorn_server


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server[0] + "/v1", api_key=KEY, max_retries=0, timeout=60)


def health(url):
    status, body = get(url + "/health")
    assert status == 200
    return body


# ---- what it answers ----

def test_models_and_health(server, client):
    assert [m.id for m in client.models.list().data] == ["builtin"]
    body = health(server[0])  # no key needed: load balancers poll it
    assert body["status"] == "ok" and body["model"] == "builtin"


def test_completion_choices_are_lm_generate_samples_for_the_same_seed(server, client, llm):
    response = client.completions.create(model="builtin", prompt="Person: ", max_tokens=40, seed=5, extra_body={
        "particles": 6, "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}})
    expected = lm.generate(llm, "Person: ", json_schema=PERSON, particles=6, max_tokens=40, rng=5)
    assert [c.text for c in response.choices] == [s.value for s in expected.texts]
    probabilities = [c.model_extra["probability"] for c in response.choices]
    assert probabilities == pytest.approx([s.probability for s in expected.texts], abs=1e-4)
    assert response.model_extra["log_ml"] == pytest.approx(expected.log_ml, abs=1e-3)
    assert response.model_extra["particles"] == 6 and response.model_extra["seed"] == 5
    assert all(c.finish_reason == "stop" for c in response.choices)
    assert response.usage.prompt_tokens >= 1 and response.usage.completion_tokens >= len(response.choices)


def test_method_temperature_and_n_reach_lm_generate(server, llm):
    status, body = post(server[0] + "/v1/completions", {
        "model": "builtin", "prompt": "Code: ", "regex": "[A-Z]{2}-[0-9]{2}", "particles": 8, "max_tokens": 12,
        "seed": 4, "method": "lcd", "temperature": 0.7, "n": 2}, key=KEY)
    expected = lm.generate(llm, "Code: ", regex="[A-Z]{2}-[0-9]{2}", particles=8, max_tokens=12, rng=4,
                           method="lcd", temperature=0.7)
    assert status == 200 and body["method"] == "lcd"
    assert [c["text"] for c in body["choices"]] == [s.value for s in expected.texts][:2]


def test_pydantic_model_through_the_clients_parse_helper(client):
    pydantic = require("pydantic", "test")

    class Person(pydantic.BaseModel):
        name: str = pydantic.Field(max_length=12)
        age: int = pydantic.Field(ge=0, le=120)

    parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse  # openai < 1.92
    completion = parse(model="builtin", messages=[{"role": "user", "content": "A person"}],
                       response_format=Person, seed=3, max_tokens=40, extra_body={"particles": 4})
    assert completion.choices
    assert all(isinstance(choice.message.parsed, Person) for choice in completion.choices)
    probabilities = [choice.model_extra["probability"] for choice in completion.choices]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1.0)


def test_regex_grammar_sql_and_json_object_over_plain_http(server, database):
    url = server[0]
    status, body = post(url + "/v1/completions", {"model": "builtin", "prompt": "Code: ", "regex": "[A-Z]{2}-[0-9]{3}",
                                                  "particles": 8, "seed": 1, "max_tokens": 12, "n": 2}, key=KEY)
    assert status == 200 and 1 <= len(body["choices"]) <= 2
    assert all(re.fullmatch("[A-Z]{2}-[0-9]{3}", c["text"]) for c in body["choices"])
    status, body = post(url + "/v1/completions", {"model": "builtin", "prompt": "Answer: ", "particles": 4,
                                                  "grammar": 'start: "yes" | "no" | "maybe"', "max_tokens": 8}, key=KEY)
    assert status == 200 and {c["text"] for c in body["choices"]} <= {"yes", "no", "maybe"}
    status, body = post(url + "/v1/completions", {"model": "builtin", "prompt": SQL_PROMPT, "sql": "shop",
                                                  "particles": 3, "max_tokens": 40, "seed": 0}, key=KEY)
    assert status == 200 and body["choices"]
    with sqlite3.connect(database) as connection:
        for choice in body["choices"]:
            connection.execute(choice["text"].rstrip(";")).fetchall()  # valid SQL over this database
    status, body = post(url + "/v1/chat/completions", {
        "model": "builtin", "messages": [{"role": "user", "content": "JSON"}], "response_format": {"type": "json_object"},
        "particles": 4, "max_tokens": 40, "seed": 2}, key=KEY)
    assert status == 200 and all(isinstance(json.loads(c["message"]["content"]), dict) for c in body["choices"])


def test_stream_deltas_add_up_to_the_most_probable_choice(client):
    stream = client.chat.completions.create(model="builtin", messages=[{"role": "user", "content": "A code"}],
                                            stream=True, seed=1, max_tokens=20, extra_body={"regex": "[A-Z]{3}-[0-9]{2}"})
    text, posterior, finish = "", None, None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        posterior = (chunk.model_extra or {}).get("posterior", posterior)
    assert finish == "stop" and posterior is not None
    assert text == posterior["choices"][0]["message"]["content"]
    assert re.fullmatch("[A-Z]{3}-[0-9]{2}", text)


def test_settled_text_is_the_live_particles_common_prefix():
    class P:
        def __init__(self, text, log_weight=0.0):
            self.trace, self.log_weight = type("T", (), {"text": text}), log_weight

    settled = SettledText(skip=1)
    assert settled.update([P(b" ab"), P(b" ac")]) == "a"
    assert settled.update([P(b" acd\xc3"), P(b" acd\xc3\xa9"), P(b" x", -float("inf"))]) == "cd"  # é held back
    assert settled.update([P(b" acd\xc3\xa9!")]) == "é!"
    assert settled.rest("acdé!?") == "?"


# ---- concurrency ----

def test_64_concurrent_requests_share_forward_passes_and_nothing_is_lost_or_crossed(server):
    url = server[0]
    before = health(url)

    def ask(i):
        tag = f"R{i:02d}-"
        return i, post(url + "/v1/completions", {"model": "builtin", "prompt": "Code: ", "regex": tag + "[a-z]{2,5}",
                                                 "particles": 4, "max_tokens": 12, "seed": i}, key=KEY)

    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(ask, range(64)))
    assert len(answers) == 64
    for i, (status, body) in answers:
        assert status == 200, body
        assert body["choices"] and all(re.fullmatch(f"R{i:02d}-[a-z]{{2,5}}", c["text"]) for c in body["choices"])
        assert body["seed"] == i
    after = health(url)
    assert after["completed"] - before["completed"] == 64 and after["in_flight"] == 0
    assert after["generations_per_round"] > before["generations_per_round"]  # requests shared forward passes


# ---- bad input, security ----

def _error(status_and_body, status, param):
    got, body = status_and_body
    assert got == status, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param
    return error


@pytest.mark.parametrize("change, status, param", [
    ({"particles": 10 ** 6}, 400, "particles"),
    ({"particles": 256, "max_tokens": 512}, 400, "max_tokens"),
    ({"particles": 0}, 400, "particles"),
    ({"model": "gpt-4o"}, 404, "model"),
    ({"temperature": 0}, 400, "temperature"),
    ({"top_p": 0.5}, 400, "top_p"),
    ({"particle": 8}, 400, "particle"),
    ({"method": "beam"}, 400, "method"),
    ({"seed": -1}, 400, "seed"),
    ({"regex": "(a"}, 400, "regex"),
    ({"regex": "a" * 201}, 413, "regex"),
    ({"regex": "((a{100}){100}){100}"}, 400, "regex"),  # short, but its automaton would have 10^6 nodes
    ({"regex": "[0-9]{30}", "max_tokens": 2}, 400, "max_tokens"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "wat"}}}}, 400,
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"$ref": "file:///etc/passwd"}}}}, 400,
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"enum": ["x" * 50] * 300}}}}, 413,
     "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_object"}, "regex": "a"}, 400, "regex"),
    ({"grammar": '%import secrets.rule\nstart: "a"'}, 400, "grammar"),
    ({"sql": "/etc/passwd"}, 400, "sql"),
    ({"sql": "nope"}, 400, "sql"),
])
def test_bad_fields_are_openai_errors_naming_the_field(server, change, status, param):
    body = {"model": "builtin", "prompt": "Person: ", "particles": 2, "max_tokens": 8, **change}
    _error(post(server[0] + "/v1/completions", body, key=KEY), status, param)


def test_body_size_json_and_api_key(server, client):
    url = server[0] + "/v1/completions"
    _error(post(url, None, raw=b"{" + b" " * 300_000 + b"}", key=KEY), 413, None)
    _error(post(url, None, raw=b"{not json", key=KEY), 400, None)
    _error(post(url, {"model": "builtin", "prompt": "x"}), 401, None)
    _error(post(url, {"model": "builtin", "prompt": "x"}, key="wrong"), 401, None)
    _error(get(server[0] + "/v1/models"), 401, None)
    _error(get(server[0] + "/v1/nothing", key=KEY), 404, None)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server[0] + "/v1", api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="builtin", prompt="x", extra_body={"particles": 0})


def test_an_unsatisfiable_constraint_is_an_error_and_the_server_goes_on(server):
    url = server[0] + "/v1/completions"
    impossible = {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 2}},
                  "required": ["a"]}
    got, body = post(url, {"model": "builtin", "prompt": "x", "max_tokens": 16, "particles": 2,
                           "response_format": {"type": "json_schema", "json_schema": {"schema": impossible}}}, key=KEY)
    assert got in (400, 422) and body["error"]["message"]
    got, body = post(url, {"model": "builtin", "prompt": "Code: ", "regex": "[A-Z]{2}", "max_tokens": 4}, key=KEY)
    assert got == 200 and body["choices"]


def _wait_until(predicate, seconds=60.0, what=lambda: ""):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out {what()}"
        time.sleep(0.05)


def test_a_client_that_disconnects_cancels_its_generation(server):
    url = server[0]
    before = health(url)["cancelled"]
    body = {"model": "builtin", **LONG}
    waiting = connection(url, timeout=0.5)  # gives up waiting for the whole answer
    send(waiting, "/v1/completions", body, key=KEY)
    with pytest.raises(TimeoutError):
        waiting.getresponse()
    waiting.close()
    streaming = connection(url, timeout=30)  # reads the first chunk, then hangs up
    send(streaming, "/v1/completions", {**body, "stream": True}, key=KEY)
    assert streaming.getresponse().readline().startswith(b"data: ")
    streaming.close()
    _wait_until(lambda: health(url)["cancelled"] == before + 2 and health(url)["in_flight"] == 0,
                what=lambda: f"{before} {health(url)}")
    got, answer = post(url + "/v1/completions", {"model": "builtin", "prompt": "Code: ", "regex": "[A-Z]{2}",
                                                 "max_tokens": 4}, key=KEY)
    assert got == 200 and answer["choices"]


def test_ctrl_c_drains_refuses_new_requests_and_exits_cleanly():
    repository = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "PYTHONPATH": str(repository), "PPL_API_KEY": "env-key"}
    process = subprocess.Popen([sys.executable, "-c", "from frontend.cli import main; raise SystemExit(main())",
                                "serve", "--port", "0", "--shutdown-timeout", "1", "--log-level", "warning"],  # no --host
                               cwd=repository, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        while line and "serving" not in line:
            line = process.stderr.readline()
        url = re.search(r"(http://\S+)/v1", line).group(1)
        assert url.startswith("http://127.0.0.1:")  # localhost unless told otherwise
        _error(get(url + "/v1/models"), 401, None)  # the key from $PPL_API_KEY
        streaming = connection(url, timeout=60)
        send(streaming, "/v1/completions", {"model": "builtin", **LONG, "stream": True}, key="env-key")
        response = streaming.getresponse()
        assert response.readline().startswith(b"data: ")  # the generation runs
        process.send_signal(signal.SIGINT)
        try:  # a request during shutdown: refused, never left hanging
            status, body = get(url + "/v1/models", key="env-key", timeout=10)
            assert status == 503 and body["error"]["code"] == "shutting_down"
        except OSError:  # urllib.error.URLError: connection refused, the listening socket is closed
            pass
        try:
            rest = response.read().decode()
            assert rest.rstrip().endswith("data: [DONE]")  # finished, or cancelled with an error event
        except (http.client.HTTPException, OSError):
            pass  # cancelled after the shutdown timeout: the connection was closed
        streaming.close()
        assert process.wait(timeout=60) == 0
        errors = process.stderr.read()
        assert "Traceback" not in errors and "stopped" in errors
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
