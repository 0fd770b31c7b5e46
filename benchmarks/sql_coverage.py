"""SQL constraint over the Spider databases: gold coverage, executability of grammar samples, speed.

For every database in /work/shared/data/spider: build `constraints.sql.sql.sql(path)`;
check the gold dev queries (layout-only rewrite, and full canonical rewrite) with the
constraint; draw random sentences from the grammar, check the constraint accepts each and
run them on the real sqlite file; time `advance` per token on the canonical gold queries
and check `viable` on every token prefix. Writes benchmarks/results/sql_coverage.md.

    python3 benchmarks/sql_coverage.py [--samples 200] [--databases singer car_1 ...]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from constraints.sql.sql import sql  # noqa: E402
from constraints.sql.sql_canonical import canonical_sql  # noqa: E402
from constraints.sql.sql_sampler import GrammarSampler  # noqa: E402

SPIDER = Path("/work/shared/data/spider")
TOKENIZER = ROOT / "lm/builtin/model/tokenizer.json"
FEATURES = {
    name: re.compile(pattern, re.I)
    for name, pattern in {
        "JOIN": r" JOIN ", "subquery": r"\(SELECT ", "UNION/INTERSECT/EXCEPT": r" (UNION|INTERSECT|EXCEPT) ",
        "GROUP BY": r" GROUP BY ", "HAVING": r" HAVING ", "ORDER BY": r" ORDER BY ",
        "aggregate": r"(COUNT|SUM|AVG|MIN|MAX)\(", "IN (...)": r" IN \(", "LIKE": r" LIKE ",
    }.items()
}
_PRETOKEN = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+")


def token_chunks():
    """A function splitting a query into token byte chunks: the builtin model's tokenizer
    when it is there, else GPT-2-style pre-tokens (a word, number or punctuation run with
    its leading space)."""
    if TOKENIZER.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(TOKENIZER))

        def split(query: str) -> list[bytes]:
            offsets = tokenizer.encode(query, add_special_tokens=False).offsets
            return [query[a:b].encode() for a, b in offsets if b > a]

        return split, f"the builtin model's tokenizer ({tokenizer.get_vocab_size()} tokens)"
    return (lambda q: [m.group(0).encode() for m in _PRETOKEN.finditer(q)]), "GPT-2-style pre-tokens"


def run_query(connection: sqlite3.Connection, query: str) -> str | None:
    """None when the query runs (or runs past the step budget), else sqlite's error."""
    steps = [0]

    def stop() -> bool:
        steps[0] += 1
        return steps[0] > 200

    connection.set_progress_handler(stop, 1000)
    try:
        connection.execute(query).fetchmany(5)
    except sqlite3.OperationalError as error:
        return None if str(error) == "interrupted" else str(error)
    except sqlite3.Error as error:
        return str(error)
    return None


def measure(db: str, gold: list[str], samples: int, split) -> dict:
    path = SPIDER / "databases" / db / f"{db}.sqlite"
    started = time.perf_counter()
    constraint = sql(path)
    build = time.perf_counter() - started
    schema = constraint.schema
    row: dict = {"db": db, "tables": len(schema.tables), "build_s": build,
                 "rules": len(constraint.lark.parser.rules), "grammar_kb": len(constraint.grammar) / 1000}

    per_token, per_byte, not_viable = [], [], 0
    # Timed first, on a fresh constraint, each distinct query once: the recognizer memoizes
    # (state, chunk) steps, so only prefixes shared between queries come from memory.
    canonical = [canonical_sql(q, schema) for q in gold]
    for query in dict.fromkeys(canonical):
        chunks = split(query)
        state = constraint.start()
        started = time.perf_counter()
        for chunk in chunks:
            state = constraint.advance(state, chunk)
            if state is None:
                break
        elapsed = time.perf_counter() - started
        if state is None:
            continue
        per_token.append(elapsed / len(chunks))
        per_byte.append(elapsed / len(query))
    for query in canonical:
        chunks = split(query)
        if constraint.accepts(query.encode()):
            not_viable += sum(not constraint.viable(b"".join(chunks[:i])) for i in range(1, len(chunks)))
    row["us_per_token"] = 1e6 * statistics.mean(per_token)
    row["us_per_token_median"] = 1e6 * statistics.median(per_token)
    row["us_per_token_p95"] = 1e6 * sorted(per_token)[int(0.95 * (len(per_token) - 1))]
    row["us_per_byte"] = 1e6 * statistics.mean(per_byte)
    row["not_viable_prefixes"] = not_viable

    layout = [canonical_sql(q, schema, respell=False) for q in gold]
    row["gold"] = len(gold)
    row["gold_layout"] = sum(constraint.accepts(q.encode()) for q in layout)
    row["gold_canonical"] = sum(constraint.accepts(q.encode()) for q in canonical)
    row["gold_rejected"] = [q for q in canonical if not constraint.accepts(q.encode())]

    sampler = GrammarSampler(constraint.lark.parser, max_depth=9)
    rng = random.Random(0)
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    errors: Counter = Counter()
    examples: dict[str, str] = {}
    not_accepted, lengths = [], []
    features: Counter = Counter()
    for _ in range(samples):
        query = sampler.sample(rng)
        lengths.append(len(query))
        features.update(name for name, pattern in FEATURES.items() if pattern.search(query))
        if not constraint.accepts(query.encode()):
            not_accepted.append(query)
        error = run_query(connection, query)
        if error is not None:
            errors[error] += 1
            examples.setdefault(error, query)
    row.update(samples=samples, sample_len=statistics.mean(lengths), not_accepted=not_accepted,
               sample_errors=errors, sample_examples=examples, sample_features=features)
    return row


def report(rows: list[dict], tokens: str, samples: int) -> str:
    total = sum(r["gold"] for r in rows)
    layout = sum(r["gold_layout"] for r in rows)
    canonical = sum(r["gold_canonical"] for r in rows)
    drawn = sum(r["samples"] for r in rows)
    failed = sum(sum(r["sample_errors"].values()) for r in rows)
    unaccepted = sum(len(r["not_accepted"]) for r in rows)
    lines = [
        "# SQL constraint on the Spider dev databases",
        "",
        "Command: `python3 benchmarks/sql_coverage.py` (2-core shared machine; timings are wall",
        f"clock, noisy). Tokens: {tokens}. Samples: {samples} random sentences per database",
        "from the grammar (depth limit 9), run read-only with a step budget. µs/token: each",
        "distinct canonical gold query once, on a fresh constraint; the mean carries the first",
        "queries, which build the recognizer's tables lazily, so the median is the steady state.",
        "",
        f"- Gold queries accepted, layout-only rewrite (spacing only): **{layout}/{total}"
        f" = {layout / total:.1%}**",
        f"- Gold queries accepted, canonical rewrite (spacing, schema spelling of names, T1"
        f" aliases, single-quoted strings): **{canonical}/{total} = {canonical / total:.1%}**",
        f"- Grammar samples accepted by the constraint: {drawn - unaccepted}/{drawn}",
        f"- Grammar samples that ran on sqlite without error: **{drawn - failed}/{drawn}"
        f" = {(drawn - failed) / drawn:.1%}**",
        f"- Token prefixes of accepted gold queries that `viable` rejected: "
        f"{sum(r['not_viable_prefixes'] for r in rows)}",
        "- Samples containing each construct: " + ", ".join(
            f"{name} {sum(r['sample_features'][name] for r in rows)}" for name in FEATURES),
        "",
        "| database | tables | rules | grammar kB | build s | gold | layout | canonical |"
        " µs/token mean | median | p95 | µs/byte | samples ok | mean sample len |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ran = r["samples"] - sum(r["sample_errors"].values())
        lines.append(
            f"| {r['db']} | {r['tables']} | {r['rules']} | {r['grammar_kb']:.0f} | {r['build_s']:.1f} |"
            f" {r['gold']} | {r['gold_layout']} | {r['gold_canonical']} | {r['us_per_token']:.0f} |"
            f" {r['us_per_token_median']:.0f} |"
            f" {r['us_per_token_p95']:.0f} | {r['us_per_byte']:.0f} | {ran}/{r['samples']} |"
            f" {r['sample_len']:.0f} |"
        )
    problems = [
        (r["db"], kind, text)
        for r in rows
        for kind, items in (("gold rejected", r["gold_rejected"]), ("sample not accepted", r["not_accepted"]))
        for text in items
    ] + [(r["db"], f"sqlite error: {e}", r["sample_examples"][e]) for r in rows for e in r["sample_errors"]]
    lines += ["", "## Failures", ""]
    lines += [f"- {db}, {kind}: `{text}`" for db, kind, text in problems] or ["None."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--databases", nargs="*")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/sql_coverage.md"))
    args = parser.parse_args()
    with open(SPIDER / "dev.jsonl") as f:
        gold = [json.loads(line) for line in f]
    databases = args.databases or sorted({g["db_id"] for g in gold})
    split, tokens = token_chunks()
    rows = []
    for db in databases:
        row = measure(db, [g["query"] for g in gold if g["db_id"] == db], args.samples, split)
        print(f"{db}: gold {row['gold_canonical']}/{row['gold']}, samples ok "
              f"{row['samples'] - sum(row['sample_errors'].values())}/{row['samples']}, "
              f"{row['us_per_token']:.0f} µs/token, build {row['build_s']:.1f} s", flush=True)
        rows.append(row)
    text = report(rows, tokens, args.samples)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
