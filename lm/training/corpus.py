"""The built-in model's training corpus: a seeded mix of JSON, SQL, arithmetic and prose documents.

Each document is prompted the way users prompt the model ('Person: {...}',
'Question: ...\\nSQL: SELECT ...', 'Problem: ...', 'Story: ...'); documents are separated by the
end-of-text token at training time. Run as a module to print a sample.
"""
from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lm.training.arithmetic_documents import arithmetic_document
from lm.training.json_documents import json_document
from lm.training.prose_documents import prose_document
from lm.training.sql_documents import sql_document
from lm.training.sql_schemas import DEFAULT_SPIDER_DIR, SqlSchema, invented_schemas, load_spider_schemas


@dataclass(frozen=True)
class CorpusSpec:
    """What the corpus mixes, in what shares, from which seed."""

    seed: int = 0
    json_share: float = 0.36
    sql_share: float = 0.36
    arithmetic_share: float = 0.12
    prose_share: float = 0.16
    malformed_share: float = 0.12   # of JSON and SQL documents, deliberately broken
    spider_share: float = 0.7       # of SQL documents, written over Spider's schemas
    spider_dir: Path = DEFAULT_SPIDER_DIR

    def __post_init__(self) -> None:
        shares = (self.json_share, self.sql_share, self.arithmetic_share, self.prose_share)
        if any(s < 0 for s in shares) or sum(shares) <= 0:
            raise ValueError(f"document shares must be non-negative with a positive sum, got {shares}")
        for name in ("malformed_share", "spider_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


def iter_documents(spec: CorpusSpec = CorpusSpec(), schemas: tuple[list[SqlSchema], list[SqlSchema]] | None = None) -> Iterator[str]:
    """An endless, deterministic stream of documents for `spec` (same seed, same stream).

    `schemas` is (Spider schemas, invented schemas); loaded from `spec.spider_dir` when omitted.
    """
    spider, invented = schemas if schemas is not None else (load_spider_schemas(spec.spider_dir), invented_schemas())
    rng = random.Random(spec.seed)
    kinds = ("json", "sql", "arithmetic", "prose")
    weights = (spec.json_share, spec.sql_share, spec.arithmetic_share, spec.prose_share)
    while True:
        kind = rng.choices(kinds, weights)[0]
        if kind == "json":
            yield json_document(rng, spec.malformed_share)
        elif kind == "sql":
            pool = spider if (spider and rng.random() < spec.spider_share) or not invented else invented
            yield sql_document(rng, rng.choice(pool), spec.malformed_share)
        elif kind == "arithmetic":
            yield arithmetic_document(rng)
        else:
            yield prose_document(rng)


def generate_corpus(count: int, spec: CorpusSpec = CorpusSpec()) -> list[str]:
    """The first `count` documents of the stream for `spec`."""
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    stream = iter_documents(spec)
    return [next(stream) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Print documents of the built-in model's training corpus.")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for document in generate_corpus(args.count, CorpusSpec(seed=args.seed)):
        print(document)
        print("-" * 40)


if __name__ == "__main__":
    main()
