"""Random JSON records (people, products, events, orders, ...) as prompted training documents.

Documents look the way users prompt: a label line then the object, e.g.
``Person: {"name": "Alice Smith", "age": 34}``; a small share are deliberately malformed so
that an LM trained on them is often, but not always, syntactically valid.
"""
from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable
from typing import Any

from lm.training import lexicon as lx


def _full_name(rng: random.Random) -> str:
    return f"{rng.choice(lx.FIRST_NAMES)} {rng.choice(lx.LAST_NAMES)}"


def _date(rng: random.Random, first_year: int = 1950, last_year: int = 2025) -> str:
    return f"{rng.randint(first_year, last_year)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}"


def _price(rng: random.Random) -> float:
    return round(rng.choice((rng.uniform(1, 50), rng.uniform(10, 500), rng.uniform(100, 3000))), 2)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _email(rng: random.Random, name: str) -> str:
    first, last = name.split(" ", 1)
    ascii_first = _ascii(first) or "user"
    ascii_last = _ascii(last) or "mail"
    sep = rng.choice((".", "_", ""))
    suffix = str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
    return f"{ascii_first}{sep}{ascii_last}{suffix}@{rng.choice(lx.EMAIL_DOMAINS)}"


def _address(rng: random.Random) -> dict[str, Any]:
    city, country = rng.choice(lx.CITIES)
    address: dict[str, Any] = {"street": f"{rng.randint(1, 999)} {rng.choice(lx.STREETS)}", "city": city}
    if rng.random() < 0.6:
        address["zip"] = f"{rng.randint(10000, 99999)}"
    address["country"] = country
    return address


def _pick_keys(rng: random.Random, fields: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """Keep the required keys and a random subset of the others, in the declared order."""
    return {k: v for k, v in fields.items() if k in required or rng.random() < 0.55}


def person(rng: random.Random) -> dict[str, Any]:
    name = _full_name(rng)
    fields: dict[str, Any] = {
        "id": rng.randint(1, 9999),
        "name": name,
        "age": rng.randint(1, 95),
        "email": _email(rng, name),
        "city": rng.choice(lx.CITIES)[0],
        "job": rng.choice(lx.JOBS),
        "is_active": rng.random() < 0.7,
        "height_cm": rng.randint(120, 205),
        "hobbies": rng.sample(lx.HOBBIES, rng.randint(0, 3)),
        "address": _address(rng),
        "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "birth_date": _date(rng, 1940, 2015),
        "spouse": None if rng.random() < 0.5 else _full_name(rng),
    }
    record = _pick_keys(rng, fields, ("name",))
    if rng.random() < 0.3:
        record = {"first_name": name.split(" ")[0], "last_name": name.split(" ", 1)[1],
                  **{k: v for k, v in record.items() if k != "name"}}
    return record


def product(rng: random.Random) -> dict[str, Any]:
    noun = rng.choice(lx.PRODUCT_NOUNS)
    fields: dict[str, Any] = {
        "id": rng.randint(100, 99999),
        "sku": f"{noun[:3].upper()}-{rng.randint(1000, 9999)}",
        "name": f"{rng.choice(lx.PRODUCT_ADJECTIVES).title()} {noun.title()}",
        "brand": rng.choice(lx.BRANDS),
        "price": _price(rng),
        "currency": rng.choice(lx.CURRENCIES),
        "in_stock": rng.random() < 0.75,
        "quantity": rng.randint(0, 500),
        "category": rng.choice(lx.CATEGORIES),
        "tags": rng.sample(lx.COLORS + lx.PRODUCT_ADJECTIVES, rng.randint(0, 3)),
        "rating": round(rng.uniform(1, 5), 1),
        "dimensions": {"width": rng.randint(5, 200), "height": rng.randint(5, 200),
                       "depth": rng.randint(1, 100)},
        "color": rng.choice(lx.COLORS),
    }
    return _pick_keys(rng, fields, ("name", "price"))


def event(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(lx.EVENT_KINDS)
    city, country = rng.choice(lx.CITIES)
    fields: dict[str, Any] = {
        "id": rng.randint(1, 5000),
        "title": f"{rng.choice(lx.EVENT_TOPICS).title()} {kind.title()}",
        "type": kind,
        "date": _date(rng, 2015, 2027),
        "start_time": _time(rng),
        "location": {"city": city, "country": country},
        "capacity": rng.choice((20, 50, 100, 250, 500, 1000, 5000)),
        "tickets_sold": rng.randint(0, 900),
        "free": rng.random() < 0.3,
        "speakers": [_full_name(rng) for _ in range(rng.randint(0, 3))],
        "organizer": {"name": _full_name(rng), "email": _email(rng, _full_name(rng))},
    }
    return _pick_keys(rng, fields, ("title", "date"))


def order(rng: random.Random) -> dict[str, Any]:
    items = []
    for _ in range(rng.randint(1, 4)):
        noun = rng.choice(lx.PRODUCT_NOUNS)
        items.append({"product": noun, "quantity": rng.randint(1, 5), "unit_price": _price(rng)})
    total = round(sum(item["quantity"] * item["unit_price"] for item in items), 2)
    fields: dict[str, Any] = {
        "order_id": rng.randint(10000, 99999),
        "customer": _full_name(rng),
        "date": _date(rng, 2018, 2025),
        "items": items,
        "total": total,
        "currency": rng.choice(lx.CURRENCIES),
        "status": rng.choice(lx.ORDER_STATUSES),
        "shipping_address": _address(rng),
        "paid": rng.random() < 0.8,
        "notes": None,
    }
    return _pick_keys(rng, fields, ("order_id", "items", "total"))


def book(rng: random.Random) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": rng.choice(lx.BOOK_TITLES),
        "author": _full_name(rng),
        "year": rng.randint(1850, 2025),
        "genre": rng.choice(lx.GENRES),
        "pages": rng.randint(80, 900),
        "isbn": f"978-{rng.randint(0, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-{rng.randint(0, 9)}",
        "available": rng.random() < 0.6,
        "ratings": [rng.randint(1, 5) for _ in range(rng.randint(0, 5))],
    }
    return _pick_keys(rng, fields, ("title", "author"))


def company(rng: random.Random) -> dict[str, Any]:
    city, country = rng.choice(lx.CITIES)
    fields: dict[str, Any] = {
        "name": f"{rng.choice(lx.BRANDS)} {rng.choice(('Inc', 'Ltd', 'Group', 'Labs', 'Co'))}",
        "founded": rng.randint(1900, 2023),
        "employees": rng.choice((5, 12, 40, 150, 800, 2500, 12000)),
        "headquarters": {"city": city, "country": country},
        "public": rng.random() < 0.4,
        "industries": rng.sample(lx.CATEGORIES, rng.randint(1, 3)),
        "ceo": {"name": _full_name(rng), "age": rng.randint(30, 75)},
        "revenue_millions": round(rng.uniform(0.5, 900), 1),
    }
    return _pick_keys(rng, fields, ("name",))


def sensor_reading(rng: random.Random) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "sensor_id": f"s-{rng.randint(1, 300)}",
        "timestamp": f"{_date(rng, 2022, 2025)}T{_time(rng)}:00Z",
        "temperature": round(rng.uniform(-20, 40), 1),
        "humidity": rng.randint(5, 100),
        "battery": round(rng.random(), 2),
        "ok": rng.random() < 0.9,
        "values": [round(rng.uniform(0, 10), 2) for _ in range(rng.randint(1, 4))],
    }
    return _pick_keys(rng, fields, ("sensor_id", "temperature"))


def user_account(rng: random.Random) -> dict[str, Any]:
    name = _full_name(rng)
    fields: dict[str, Any] = {
        "username": _email(rng, name).split("@")[0],
        "email": _email(rng, name),
        "verified": rng.random() < 0.7,
        "roles": rng.sample(("admin", "editor", "viewer", "owner", "guest"), rng.randint(1, 2)),
        "created": _date(rng, 2010, 2025),
        "settings": {"theme": rng.choice(("light", "dark")), "language": rng.choice(("en", "fr", "de", "es", "ja")),
                     "notifications": rng.random() < 0.5},
        "login_count": rng.randint(0, 5000),
    }
    return _pick_keys(rng, fields, ("username",))


RECORD_KINDS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "Person": person,
    "Product": product,
    "Event": event,
    "Order": order,
    "Book": book,
    "Company": company,
    "Reading": sensor_reading,
    "User": user_account,
}


def _type_schema(value: Any) -> dict[str, Any]:
    """A minimal JSON Schema describing a value's shape (used for 'Schema:' prompts)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if value is None:
        return {"type": "null"}
    if isinstance(value, list):
        return {"type": "array", "items": _type_schema(value[0]) if value else {}}
    return {"type": "object",
            "properties": {k: _type_schema(v) for k, v in value.items()},
            "required": list(value)}


def _malform(rng: random.Random, text: str) -> str:
    """Break a serialized JSON object in one of the ways careless writers do."""
    flaw = rng.randrange(6)
    if flaw == 0 and text.endswith("}"):
        return text[:-1]                                   # missing closing brace
    if flaw == 1 and text.endswith("}"):
        return text[:-1] + ", }"                           # trailing comma
    if flaw == 2 and '": "' in text:
        return text.replace('": "', "\": '", 1).replace('", ', "', ", 1)   # single quotes
    if flaw == 3 and '{"' in text:
        head, _, rest = text.partition('{"')
        key, _, tail = rest.partition('"')
        return f"{head}{{{key}{tail}"                      # unquoted first key
    if flaw == 4 and ", " in text:
        return text.replace(", ", " ", 1)                  # missing comma
    return text.replace("true", "True").replace("false", "False").replace("null", "None")


def json_document(rng: random.Random, malformed_share: float) -> str:
    """One prompted JSON document, e.g. 'Person: {...}' (a few are schema-prompted or indented)."""
    label = rng.choice(tuple(RECORD_KINDS))
    record = RECORD_KINDS[label](rng)
    ensure_ascii = rng.random() < 0.1
    indent = 2 if rng.random() < 0.05 else None
    text = json.dumps(record, ensure_ascii=ensure_ascii, indent=indent)
    if rng.random() < malformed_share:
        text = _malform(rng, text)
    style = rng.random()
    if style < 0.08:
        schema = json.dumps(_type_schema(record))
        return f"Schema: {schema}\nJSON: {text}"
    if style < 0.18:
        return f"JSON: {text}"
    if style < 0.24 and isinstance(record, dict):
        items = [record] + [RECORD_KINDS[label](rng) for _ in range(rng.randint(1, 2))]
        return f"{label} list: {json.dumps(items, ensure_ascii=ensure_ascii)}"
    return f"{label}: {text}"
