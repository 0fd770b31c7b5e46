"""The language-model examples run on the built-in model and produce what they promise."""
import json
import math
import sqlite3

import jsonschema

from examples import constrained_json, no_e_poem, text_to_sql


def test_no_e_poem():
    result = no_e_poem.main(particles=6, seed=1)
    assert not result.all_dead and math.isfinite(result.log_ml) and result.log_ml < 0
    for sample in result.samples:
        assert "e" not in sample.value.lower()


def test_constrained_json():
    outputs = constrained_json.main(particles=4, seed=2)
    for result in outputs.values():
        assert result.samples
        for sample in result.samples:
            jsonschema.validate(json.loads(sample.value), constrained_json.SCHEMA)


def test_text_to_sql():
    rows = text_to_sql.main(particles=4, seed=3)
    assert rows
    database = text_to_sql.SPIDER / "databases" / "concert_singer" / "concert_singer.sqlite"
    with sqlite3.connect(database) as connection:
        for query, answer in rows:
            assert connection.execute(query.rstrip(";")).fetchall() == answer


def test_no_e_poem_on_smollm2_through_its_chat_template(tmp_path_factory):
    from smollm2 import smollm2

    llm = smollm2(tmp_path_factory)
    assert "Write a short poem" in no_e_poem.poem_prompt(llm) and no_e_poem.poem_prompt(llm) != no_e_poem.REQUEST
    result = no_e_poem.main(llm, particles=2, max_tokens=5, seed=0)
    assert not result.all_dead and result.log_ml < 0
    for sample in result.samples:
        assert "e" not in sample.value.lower()


def test_pydantic_extraction_returns_validated_instances():
    from examples import pydantic_extraction

    orders = pydantic_extraction.main("builtin", particles=3, seed=0)
    assert orders and all(isinstance(order, pydantic_extraction.Order) for order in orders)
    for order in orders:
        pydantic_extraction.Order.model_validate(order.model_dump())
        assert 1 <= order.quantity <= 99
