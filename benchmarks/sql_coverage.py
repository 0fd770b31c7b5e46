"""SQL constraint over the Spider databases: gold queries as written, corrupted copies, random
queries of the language run on sqlite, exact prefixes, and the cost per token and per byte
side by side with the previous constraint (the single-spelling Lark grammar).

For every database in the Spider subset: build `constraints.sql.sql.sql(path)`;
- every gold dev query, as written: accepted? (each refusal listed with its first rejected
  byte); every accepted one run on sqlite; every byte prefix of it viable;
- corrupted copies of each gold query (`sql_random.mutants`: a renamed column, a table
  that does not exist, a dropped keyword, a broken string, an unknown qualifier, a deleted
  token, and a re-laid-out copy), with sqlite's verdict as the truth: a copy sqlite refuses
  must be refused, one it runs should be accepted;
- random queries of the language (`sql_random.RandomQueries`), every one run on sqlite;
- sentences of the canonical grammar (`.grammar`), which must be accepted;
- time: gold queries cut into the builtin model's tokens, `advance` per token and per byte
  (one byte at a time, as a vocabulary-trie mask walks), for the previous constraint (a
  LarkConstraint over `.grammar`, on the canonical spelling of each query, the only one it
  accepts) and the new one (on the same canonical text, and on the query as written).
Writes benchmarks/results/sql_coverage.md.

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

from constraints.grammar.lark_grammar import LarkConstraint  # noqa: E402
from constraints.sql.sql import sql  # noqa: E402
from constraints.sql.sql_canonical import canonical_sql  # noqa: E402
from constraints.sql.sql_random import RandomQueries, mutants  # noqa: E402
from constraints.sql.sql_sampler import GrammarSampler  # noqa: E402

SPIDER = Path("/work/shared/data/spider")
TOKENIZER = ROOT / "lm/builtin/model/tokenizer.json"
FEATURES = {
    name: re.compile(pattern, re.I | re.S)
    for name, pattern in {
        "JOIN": r"\bJOIN\b", "subquery": r"\(\s*SELECT\b", "UNION/INTERSECT/EXCEPT": r"\b(UNION|INTERSECT|EXCEPT)\b",
        "GROUP BY": r"\bGROUP\s+BY\b", "HAVING": r"\bHAVING\b", "ORDER BY": r"\bORDER\s+BY\b",
        "CASE": r"\bCASE\b", "CAST": r"\bCAST\b", "LIKE/GLOB": r"\b(LIKE|GLOB)\b", "LIMIT": r"\bLIMIT\b",
        "double-quoted": r'"', "newline/tab": r"[\n\t]",
    }.items()
}
_PRETOKEN = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+")


def token_chunks():
    """A function splitting a query into token byte chunks: the builtin model's tokenizer
    when it is there, else GPT-2-style pre-tokens."""
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


def timed(constraint, queries: list[str], split, by_byte: bool) -> tuple[list[float], list[float]]:
    """Seconds per token and per byte of advancing a fresh start through each query."""
    per_token, per_byte = [], []
    for query in queries:
        chunks = split(query)
        if by_byte:
            chunks = [bytes((b,)) for chunk in chunks for b in chunk]
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
        per_byte.append(elapsed / len(query.encode()))
    return per_token, per_byte


def measure(db: str, gold: list[str], samples: int, split, rng: random.Random) -> dict:
    path = SPIDER / "databases" / db / f"{db}.sqlite"
    started = time.perf_counter()
    constraint = sql(path)
    build = time.perf_counter() - started
    schema = constraint.schema
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    connection.text_factory = bytes
    row: dict = {"db": db, "tables": len(schema.tables), "build_s": build, "gold": len(gold)}

    # Gold queries as written.
    refused, ran, not_viable = [], 0, 0
    for query in gold:
        offset = constraint.first_rejected_byte(query.encode())
        if offset is not None:
            refused.append((offset, query))
            continue
        ran += run_query(connection, query) is None
        data = query.encode()
        state = constraint.start()
        for i in range(len(data)):  # every byte prefix
            state = constraint.advance(state, data[i:i + 1])
            if state is None:
                not_viable += 1
                break
    row.update(gold_accepted=len(gold) - len(refused), gold_refused=refused, gold_ran=ran,
               not_viable=not_viable)

    # Corrupted copies, with sqlite's verdict as the truth.
    verdicts: dict[str, Counter] = {}
    wrong: list[tuple[str, str, str]] = []
    for query in gold:
        for kind, text in mutants(query, schema, rng):
            runs = run_query(connection, text) is None
            accepted = constraint.accepts(text.encode())
            verdicts.setdefault(kind, Counter())[(runs, accepted)] += 1
            if runs != accepted:
                wrong.append((kind, "accepted, sqlite refuses" if accepted else "refused, sqlite runs", text))
    row.update(mutants=verdicts, mutants_wrong=wrong)

    # Random queries of the language, run on sqlite.
    sampler = RandomQueries(constraint, max_tokens=40)
    drawn, walks, errors, features, lengths = 0, 0, Counter(), Counter(), []
    examples: dict[str, str] = {}
    while drawn < samples and walks < 40 * samples:
        walks += 1
        query = sampler.sample(rng)
        if query is None:
            continue
        drawn += 1
        lengths.append(len(query))
        features.update(name for name, pattern in FEATURES.items() if pattern.search(query))
        error = run_query(connection, query)
        if error is not None:
            errors[error] += 1
            examples.setdefault(error, query)
    row.update(samples=drawn, walks=walks, sample_errors=errors, sample_examples=examples,
               sample_features=features, sample_len=statistics.mean(lengths) if lengths else 0)

    # The previous constraint: the canonical grammar, a sublanguage.
    started = time.perf_counter()
    previous = LarkConstraint(constraint.grammar)
    row["previous_build_s"] = time.perf_counter() - started
    grammar_sampler = GrammarSampler(previous.parser, max_depth=9)
    canonical_samples = [grammar_sampler.sample(rng) for _ in range(max(1, samples // 4))]
    row["canonical_samples"] = len(canonical_samples)
    row["canonical_refused"] = [q for q in canonical_samples if not constraint.accepts(q.encode())]

    # Time, side by side: each distinct query once, on a fresh constraint of each kind.
    canonical = list(dict.fromkeys(canonical_sql(q, schema) for q in gold))
    written = list(dict.fromkeys(gold))
    fresh = sql(path)
    row["new_token"], row["new_byte"] = timed(fresh, canonical, split, by_byte=False)
    row["new_written_token"], row["new_written_byte"] = timed(fresh, written, split, by_byte=False)
    row["old_token"], row["old_byte"] = timed(previous, canonical, split, by_byte=False)
    row["new_trie_token"], row["new_trie_byte"] = timed(sql(path), canonical, split, by_byte=True)
    row["old_trie_token"], row["old_trie_byte"] = timed(LarkConstraint(constraint.grammar), canonical, split, by_byte=True)
    return row


def us(values: list[float]) -> float:
    return 1e6 * statistics.median(values) if values else float("nan")


def report(rows: list[dict], tokens: str, samples: int, command: str) -> str:
    total = sum(r["gold"] for r in rows)
    accepted = sum(r["gold_accepted"] for r in rows)
    ran = sum(r["gold_ran"] for r in rows)
    kinds: dict[str, Counter] = {}
    for r in rows:
        for kind, counts in r["mutants"].items():
            kinds.setdefault(kind, Counter()).update(counts)
    corrupt = sum(c[(False, False)] + c[(False, True)] for c in kinds.values())
    corrupt_refused = sum(c[(False, False)] for c in kinds.values())
    valid = sum(c[(True, True)] + c[(True, False)] for c in kinds.values())
    valid_accepted = sum(c[(True, True)] for c in kinds.values())
    drawn = sum(r["samples"] for r in rows)
    walks = sum(r["walks"] for r in rows)
    failed = sum(sum(r["sample_errors"].values()) for r in rows)
    canonical = sum(r["canonical_samples"] for r in rows)
    canonical_refused = sum(len(r["canonical_refused"]) for r in rows)

    def pooled(key: str) -> list[float]:
        return [v for r in rows for v in r[key]]

    lines = [
        "# SQL constraint on the Spider dev databases",
        "",
        f"Command: `{command}` (2-core machine shared with other jobs: timings are wall clock",
        "and noisy; the before/after ratios are measured in the same run, query by query).",
        f"Tokens: {tokens}. The constraint is the language of docs/sql.md; the previous one",
        "accepted a single spelling (the Lark grammar still available as `.grammar`).",
        "",
        "## Acceptance",
        "",
        f"- Gold queries accepted **as written** (no rewriting): **{accepted}/{total} = {accepted / total:.1%}**"
        " (previous constraint: 144/572 = 25.2% with spacing normalized, 0% as written)",
        f"- Accepted gold queries that run on sqlite: {ran}/{accepted}",
        f"- Byte prefixes of accepted gold queries refused: {sum(r['not_viable'] for r in rows)}"
        " (every byte prefix of every accepted query checked)",
        f"- Corrupted copies that sqlite refuses, refused by the constraint: **{corrupt_refused}/{corrupt}"
        f" = {corrupt_refused / max(corrupt, 1):.2%}**",
        f"- Copies that sqlite runs (re-laid-out, or a corruption that stays valid), accepted:"
        f" {valid_accepted}/{valid} = {valid_accepted / max(valid, 1):.2%}",
        f"- Random queries of the language that ran on sqlite without error: **{drawn - failed}/{drawn}"
        f" = {(drawn - failed) / max(drawn, 1):.2%}** ({walks} random walks, the rest got stuck"
        f" before an end and were dropped)",
        f"- Sentences of the previous (canonical) grammar accepted: {canonical - canonical_refused}/{canonical}",
        "- Random queries containing each construct: " + ", ".join(
            f"{name} {sum(r['sample_features'][name] for r in rows)}" for name in FEATURES),
        "",
        "Corrupted copies by kind (sqlite verdict / constraint verdict):",
        "",
        "| kind | sqlite refuses, refused | sqlite refuses, accepted | sqlite runs, accepted | sqlite runs, refused |",
        "|---|---|---|---|---|",
    ]
    for kind, c in kinds.items():
        lines.append(f"| {kind} | {c[(False, False)]} | {c[(False, True)]} | {c[(True, True)]} | {c[(True, False)]} |")
    lines += [
        "",
        "## Cost",
        "",
        "Median µs per token and per byte over the distinct gold queries of each database, each"
        " query advanced once from a fresh start. *chunks*: one `advance` per token (generation"
        " with AWRS); *bytes*: one `advance` per byte (a vocabulary-trie mask walk). Old: the"
        " previous Lark-grammar constraint on the canonical spelling (the only one it accepts);"
        " new: this constraint on the same text, and on the query as written.",
        "",
        f"- Pooled medians, chunks: old {us(pooled('old_token')):.0f} µs/token, new {us(pooled('new_token')):.0f} µs/token"
        f" (as written: {us(pooled('new_written_token')):.0f}); per byte old {us(pooled('old_byte')):.1f},"
        f" new {us(pooled('new_byte')):.1f}",
        f"- Pooled medians, bytes: old {us(pooled('old_trie_byte')):.1f} µs/byte, new {us(pooled('new_trie_byte')):.1f} µs/byte",
        f"- Build: old {sum(r['previous_build_s'] for r in rows):.1f} s in all, new {sum(r['build_s'] for r in rows):.2f} s in all",
        "",
        "| database | tables | gold | accepted | build s old | build s new | µs/token old | new | new, as written |"
        " µs/byte old | new | trie µs/byte old | new | random ok | mean random len |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = r["samples"] - sum(r["sample_errors"].values())
        lines.append(
            f"| {r['db']} | {r['tables']} | {r['gold']} | {r['gold_accepted']} | {r['previous_build_s']:.1f} |"
            f" {r['build_s']:.2f} | {us(r['old_token']):.0f} | {us(r['new_token']):.0f} |"
            f" {us(r['new_written_token']):.0f} | {us(r['old_byte']):.1f} | {us(r['new_byte']):.1f} |"
            f" {us(r['old_trie_byte']):.1f} | {us(r['new_trie_byte']):.1f} | {ok}/{r['samples']} |"
            f" {r['sample_len']:.0f} |")
    lines += ["", "## Refusals and disagreements with sqlite", ""]
    problems = []
    for r in rows:
        for offset, query in r["gold_refused"]:
            problems.append(f"- {r['db']}, gold query refused at byte {offset}"
                            f" (`{query[:offset]}` ⟨here⟩ `{query[offset:]}`)")
        for kind, verdict, text in r["mutants_wrong"]:
            problems.append(f"- {r['db']}, {kind}, {verdict}: `{' '.join(text.split())}`")
        for error, query in r["sample_examples"].items():
            problems.append(f"- {r['db']}, random query, sqlite error `{error}`"
                            f" ({r['sample_errors'][error]}x): `{' '.join(query.split())}`")
        for query in r["canonical_refused"]:
            problems.append(f"- {r['db']}, canonical sentence refused: `{query}`")
    lines += problems or ["None."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="random queries per database")
    parser.add_argument("--databases", nargs="*")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/sql_coverage.md"))
    args = parser.parse_args()
    with open(SPIDER / "dev.jsonl") as f:
        gold = [json.loads(line) for line in f]
    databases = args.databases or sorted({g["db_id"] for g in gold})
    split, tokens = token_chunks()
    rng = random.Random(args.seed)
    rows = []
    for db in databases:
        row = measure(db, [g["query"] for g in gold if g["db_id"] == db], args.samples, split, rng)
        print(f"{db}: gold {row['gold_accepted']}/{row['gold']}, random ok "
              f"{row['samples'] - sum(row['sample_errors'].values())}/{row['samples']}, "
              f"µs/token old {us(row['old_token']):.0f} new {us(row['new_token']):.0f}", flush=True)
        rows.append(row)
    command = "python3 benchmarks/sql_coverage.py" + "".join(f" {a}" for a in sys.argv[1:])
    text = report(rows, tokens, args.samples, command)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
