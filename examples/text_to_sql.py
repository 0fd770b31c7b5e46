"""Text-to-SQL over a real Spider database: only queries that run on its schema are generated.

Run: python examples/text_to_sql.py [path/to/spider]
"""
import os
import sqlite3
import sys
from pathlib import Path

import lm

# The Spider subset: $PPL_SHARED_DATA/spider, else ../shared/data/spider beside the checkout, else /work/shared.
_SHARED = [Path(os.environ["PPL_SHARED_DATA"])] if os.environ.get("PPL_SHARED_DATA") else []
SPIDER = next((p / "spider" for p in _SHARED + [Path(__file__).resolve().parents[2] / "shared" / "data",
                                                Path("/work/shared/data")] if (p / "spider").is_dir()),
              Path("/work/shared/data/spider"))


def main(spider: Path = SPIDER, particles: int = 6, seed: int = 0) -> list:
    database = spider / "databases" / "concert_singer" / "concert_singer.sqlite"
    llm = lm.load("builtin")
    constraint = lm.constraints.sql(str(database))
    prompt = "Database: concert_singer\nQuestion: How many singers do we have?\nSQL: "
    result = llm.generate(prompt, constraint=constraint, particles=particles, method="smc", max_tokens=40, rng=seed)
    rows = []
    with sqlite3.connect(database) as connection:
        for sample in result.samples:
            answer = connection.execute(sample.value.rstrip(";")).fetchall()  # every query runs on the schema
            print(f"p={sample.probability:.3f}  {sample.value}  ->  {answer[:3]}")
            rows.append((sample.value, answer))
    return rows


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SPIDER)
