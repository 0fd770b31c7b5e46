"""Checkable tasks for the real-model benchmark: JSON extraction (written here, gold values) and Spider text-to-SQL.

A JSON task is a short text about a person, product or event, a closed schema of the fields to
extract, and the gold values; an answer is right when every field equals the gold value
(strings compared case-insensitively with surrounding space and a final period dropped).
SQL tasks are Spider dev questions with the database's tables in the prompt; an answer is right
when it returns the gold query's result (`constrained_tasks.same_result`).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from constrained_tasks import SqlTask, sql_tasks


@dataclass(frozen=True)
class ExtractionTask:
    name: str
    text: str
    schema: dict
    gold: dict


def _obj(**props: dict) -> dict:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


S, I, N = {"type": "string"}, {"type": "integer"}, {"type": "number"}


def _enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


EXTRACTION_TASKS: tuple[ExtractionTask, ...] = (
    ExtractionTask("person-maria", "Maria Lopez is a 34-year-old nurse who lives in Madrid.",
                   _obj(name=S, age=I, city=S), {"name": "Maria Lopez", "age": 34, "city": "Madrid"}),
    ExtractionTask("person-tom", "Tom Becker, aged 52, works as a carpenter in Berlin.",
                   _obj(name=S, age=I, job=S), {"name": "Tom Becker", "age": 52, "job": "carpenter"}),
    ExtractionTask("person-aiko", "Aiko Tanaka was born in 1990 in Osaka and plays the violin.",
                   _obj(name=S, birth_year=I, city=S), {"name": "Aiko Tanaka", "birth_year": 1990, "city": "Osaka"}),
    ExtractionTask("person-james", "James Okafor is the head chef of a restaurant in Lagos. He is 41.",
                   _obj(name=S, age=I, city=S), {"name": "James Okafor", "age": 41, "city": "Lagos"}),
    ExtractionTask("product-lamp", "The Lumo desk lamp costs 39 dollars and comes in white.",
                   _obj(product=S, price=I, color=S), {"product": "Lumo desk lamp", "price": 39, "color": "white"}),
    ExtractionTask("product-phone", "The Zeta X2 phone has 128 GB of storage and is sold by Nova.",
                   _obj(model=S, storage_gb=I, brand=S), {"model": "Zeta X2", "storage_gb": 128, "brand": "Nova"}),
    ExtractionTask("product-shoes", "Our Trail Runner shoes are size 42, cost 85 euros, and are in stock.",
                   _obj(product=S, size=I, in_stock={"type": "boolean"}),
                   {"product": "Trail Runner", "size": 42, "in_stock": True}),
    ExtractionTask("product-book", "The novel 'Silent River' by Anna Berg has 320 pages.",
                   _obj(title=S, author=S, pages=I), {"title": "Silent River", "author": "Anna Berg", "pages": 320}),
    ExtractionTask("event-concert", "The jazz concert takes place in Chicago on Friday and tickets cost 25 dollars.",
                   _obj(city=S, day=_enum("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                          "Sunday"), price=I),
                   {"city": "Chicago", "day": "Friday", "price": 25}),
    ExtractionTask("event-meeting", "The budget meeting starts at 9 in room 204 and is led by Sara.",
                   _obj(topic=S, room=I, leader=S), {"topic": "budget", "room": 204, "leader": "Sara"}),
    ExtractionTask("event-race", "The city marathon in Boston has 3000 runners this year.",
                   _obj(event=S, city=S, runners=I), {"event": "marathon", "city": "Boston", "runners": 3000}),
    ExtractionTask("event-flight", "Flight LH 455 leaves Frankfurt for Tokyo at gate B12.",
                   _obj(origin=S, destination=S, gate=S),
                   {"origin": "Frankfurt", "destination": "Tokyo", "gate": "B12"}),
    ExtractionTask("pet-dog", "Our dog Bruno is a 3-year-old beagle.",
                   _obj(name=S, age=I, breed=S), {"name": "Bruno", "age": 3, "breed": "beagle"}),
    ExtractionTask("order-status", "Order 7781 was shipped yesterday to Paris.",
                   _obj(order_id=I, status=_enum("pending", "shipped", "delivered", "cancelled"), city=S),
                   {"order_id": 7781, "status": "shipped", "city": "Paris"}),
    ExtractionTask("weather", "Today in Oslo it is sunny with a high of 18 degrees.",
                   _obj(city=S, condition=_enum("sunny", "cloudy", "rainy", "snowy"), high=I),
                   {"city": "Oslo", "condition": "sunny", "high": 18}),
    ExtractionTask("company", "Greenleaf Ltd, founded in 2004, has 120 employees.",
                   _obj(company=S, founded=I, employees=I), {"company": "Greenleaf Ltd", "founded": 2004,
                                                             "employees": 120}),
)


def extraction_prompt(task: ExtractionTask) -> str:
    """The user message: the text, the fields to extract, and the JSON keys to use."""
    return (f"Extract the information from this text as JSON with the keys {', '.join(task.schema['properties'])}.\n"
            f"Text: {task.text}")


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().rstrip(".").strip().casefold()
    return value


def extraction_correct(task: ExtractionTask, text: str) -> bool:
    """Every gold field present with an equal value (strings normalized by `_norm`); booleans stay booleans."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    for key, gold in task.gold.items():
        got = value.get(key)
        if isinstance(gold, bool) or isinstance(got, bool):
            if got is not gold:
                return False
        elif _norm(got) != _norm(gold):
            return False
    return True


def database_tables(db_path: str) -> str:
    """The database's CREATE TABLE statements, as sqlite stores them."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT sql FROM sqlite_master WHERE type='table' AND sql IS NOT NULL").fetchall()
    finally:
        connection.close()
    return "\n".join(" ".join(r[0].split()) for r in rows)


def spider_prompt(task: SqlTask) -> str:
    """The user message: the tables, the question, and the request for one SQLite query."""
    return (f"Database tables:\n{database_tables(task.db_path)}\n"
            f"Question: {task.question}\nAnswer with only the SQL query, on one line, no explanation.")


def spider_tasks(databases: tuple[str, ...], per_database: int) -> list[SqlTask]:
    return sql_tasks(databases, per_database)
