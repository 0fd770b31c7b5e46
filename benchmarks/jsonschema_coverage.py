"""Coverage of the JSON Schema constraint on JSONSchemaBench (MaskBench) schemas.

For every schema file: does it compile, does the constraint accept the serialization of
every valid instance and reject every invalid one, and is every prefix of every valid
serialization viable? Serializations: the constraint's own `dumps` under the default (whitespace="compact",
plain numbers), `json.dumps(data, indent=2, ensure_ascii=False)` under whitespace="any",
and `json.dumps` with keys shuffled (raw UTF-8) under "compact" with numbers="json".
Also times `advance` per LM-token-sized chunk on a few real schemas.

    python3 benchmarks/jsonschema_coverage.py                 # all files, writes the table
    python3 benchmarks/jsonschema_coverage.py --stride 19     # a sample, no table written
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from constraints.base import ConstraintError  # noqa: E402
from constraints.json.json_schema import json_schema  # noqa: E402

DATA = Path("/work/shared/data/jsonschemabench/schemas")
OUT = Path(__file__).resolve().parent / "results" / "jsonschema_coverage.md"
SPEED_FILES = ("Glaiveai2K---create_invoice_cc60fdf8.json", "BFCL_multiple_70.json",
               "Github_easy---o43322.json", "Github_easy---o21860.json",
               "Github_trivial---o84271.json", "Handwritten---testwp9.json")


def shuffled(value, rng: random.Random):
    """The same JSON value with every object's keys in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


MODES = {"compact": {}, "any": {"whitespace": "any"}, "compact+json numbers": {"numbers": "json"}}


def serializations(data, rng: random.Random, constraints: dict) -> list[tuple[str, bytes]]:
    """compact (plain numbers) via the constraint's own writer; json.dumps(indent=2) under
    "any"; json.dumps with shuffled keys under compact with JSON number spellings."""
    return [("compact", constraints["compact"].dumps(data)),
            ("any", json.dumps(data, indent=2, ensure_ascii=False).encode()),
            ("compact+json numbers", json.dumps(shuffled(data, rng), ensure_ascii=False).encode())]


def walk(constraint, text: bytes):
    """States after each byte; the first None means a rejected prefix."""
    state = constraint.start()
    for i in range(len(text)):
        state = constraint.advance(state, text[i:i + 1])
        if state is None:
            return i, None
    return len(text), state


def check_file(path: Path) -> dict:
    record = json.loads(path.read_text())
    result = {"file": path.name, "features": record["meta"].get("features", []), "error": None,
              "valid": 0, "valid_accepted": 0, "invalid": 0, "invalid_rejected": 0,
              "prefix_failures": 0, "failures": [], "rejected_at": collections.Counter()}
    constraints = {}
    for mode, options in MODES.items():
        try:
            constraints[mode] = json_schema(record["schema"], **options)
        except ConstraintError as err:
            result["error"] = str(err)
            return result
        except RecursionError:
            result["error"] = "RecursionError (keyword 'depth' at '/')"
            return result
    rng = random.Random(path.name)
    for test in record["tests"]:
        for mode, text in serializations(test["data"], rng, constraints):
            constraint = constraints[mode]
            reached, state = walk(constraint, text)
            accepted = state is not None and constraint.is_accepting(state)
            if test["valid"]:
                result["valid"] += 1
                result["valid_accepted"] += accepted
                if state is None:
                    result["prefix_failures"] += 1
                if not accepted:
                    result["failures"].append(f"valid rejected ({mode}) at byte {reached}: {text[:reached + 1][-60:]!r}")
            else:
                result["invalid"] += 1
                result["invalid_rejected"] += not accepted
                if state is None and reached < len(text) - 1:
                    result["rejected_at"]["a byte before the last"] += 1
                elif state is None:
                    result["rejected_at"]["the last byte (the closing bracket)"] += 1
                elif not constraint._machine.can_finish(state.threads):
                    result["rejected_at"]["the end, by the stream"] += 1
                elif not accepted:
                    result["rejected_at"]["the end, only by the final jsonschema check"] += 1
                if accepted:
                    result["failures"].append(f"invalid accepted ({mode}): {text[:100]!r}")
    return result


def keyword_of(error: str) -> str:
    match = re.search(r"\(keyword '([^']*)' at", error)
    return match.group(1) if match else error[:40]


def speed(files: list[str], passes: int = 7, data: Path = DATA) -> list[tuple]:
    """Microseconds per advance over 1-8 byte chunks of the valid instances: the median over
    passes (warm), and milliseconds for the first byte-by-byte pass (cold: includes the lazily
    compiled parts of the schema)."""
    rows = []
    for name in files:
        path = data / name
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        try:
            constraint = json_schema(record["schema"])
        except ConstraintError:
            continue
        texts = [json.dumps(test["data"]).encode() for test in record["tests"] if test["valid"]]
        t0 = time.perf_counter()
        for text in texts:
            walk(constraint, text)
        cold = time.perf_counter() - t0
        per_pass = []
        for repeat in range(passes):
            constraint._steps.clear()  # time the work, not the (state, chunk) memo
            rng, calls, elapsed = random.Random(repeat), 0, 0.0
            for text in texts:
                state, i = constraint.start(), 0
                while i < len(text) and state is not None:
                    size = rng.randint(1, 8)
                    t0 = time.perf_counter()
                    state = constraint.advance(state, text[i:i + size])
                    elapsed += time.perf_counter() - t0
                    calls += 1
                    i += size
            per_pass.append(1e6 * elapsed / calls)
        rows.append((name, statistics.median(per_pass), calls, 1e3 * cold, sum(map(len, texts))))
    return rows


def commit() -> str:
    """The checked-out commit (short hash), marked "+changes" if the constraint's files differ from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lm/constraints", "benchmarks/jsonschema_coverage.py"],
                               cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" +changes" if dirty else "")


def table(results: list[dict], rows: list[tuple], seconds: float, at: str = "unknown") -> str:
    total = len(results)
    compiled = [r for r in results if r["error"] is None]
    valid = sum(r["valid"] for r in compiled)
    invalid = sum(r["invalid"] for r in compiled)
    va = sum(r["valid_accepted"] for r in compiled)
    ir = sum(r["invalid_rejected"] for r in compiled)
    pf = sum(r["prefix_failures"] for r in compiled)
    lines = ["# JSON Schema constraint coverage on JSONSchemaBench (MaskBench)", "",
             f"Command: `python3 benchmarks/jsonschema_coverage.py` ({seconds:.0f} s), at commit {at}.",
             "Each instance is checked three times: `constraint.dumps(data)` under the defaults "
             "(whitespace=\"compact\", plain numbers), `json.dumps(data, indent=2, ensure_ascii=False)` "
             "under whitespace=\"any\", and `json.dumps` with every object's keys shuffled (raw UTF-8) "
             "under \"compact\" with numbers=\"json\" "
             "(counts below are serializations, three per instance). Every prefix of every valid "
             "serialization is tested for viability.", "",
             "| measure | value |", "| --- | --- |",
             f"| schema files | {total} |",
             f"| compiled | {len(compiled)} ({100 * len(compiled) / total:.2f} %) |",
             f"| valid serializations accepted (compiled schemas) | {va} / {valid} ({100 * va / max(valid, 1):.2f} %) |",
             f"| invalid serializations rejected (compiled schemas) | {ir} / {invalid} ({100 * ir / max(invalid, 1):.2f} %) |",
             f"| valid serializations with a rejected prefix | {pf} |", "",
             "Where invalid serializations were rejected:", "",
             "| rejected at | count |", "| --- | --- |"]
    stages = sum((r["rejected_at"] for r in compiled), collections.Counter())
    lines += [f"| {stage} | {count} |" for stage, count in stages.most_common()]
    lines += ["",
             "## Compiled share by feature (`meta.features`)", "",
             "| feature | files | compiled | share |", "| --- | --- | --- | --- |"]
    by_feature: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in results:
        for feature in r["features"] or ["(none)"]:
            by_feature[feature][0] += 1
            by_feature[feature][1] += r["error"] is None
    for feature, (n, ok) in sorted(by_feature.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"| {feature} | {n} | {ok} | {100 * ok / n:.1f} % |")
    lines += ["", "## Compile errors by keyword", "", "| keyword | files | example |", "| --- | --- | --- |"]
    errors = collections.defaultdict(list)
    for r in results:
        if r["error"] is not None:
            errors[keyword_of(r["error"])].append(r)
    for keyword, rs in sorted(errors.items(), key=lambda kv: -len(kv[1])):
        example = rs[0]["error"].replace("|", "\\|")[:150]
        lines.append(f"| {keyword} | {len(rs)} | {rs[0]['file']}: {example} |")
    failures = [(r["file"], f) for r in compiled for f in r["failures"]]
    lines += ["", f"## Disagreements with the labels ({len(failures)})", ""]
    lines += [f"- {file}: {f}".replace("|", "\\|") for file, f in failures[:50]]
    lines += ["", "## Speed of `advance` (whitespace=\"compact\", chunks of 1-8 bytes, one CPU core)", "",
              "Wall-clock timings on a shared machine: other jobs' load moves them by up to 2x between "
              "runs, so compare versions only back to back (same load).", "",
              "| schema | µs per advance (warm, median of 7 passes) | calls per pass | first pass, ms (cold) | bytes |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {us:.1f} | {calls} | {cold:.1f} | {size} |" for name, us, calls, cold, size in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=1, help="check every n-th file (sorted by name)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--speed-only", action="store_true", help="only time advance")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of schema files")
    args = parser.parse_args()
    if args.speed_only:
        for name, us, calls, cold, size in speed(list(SPEED_FILES), data=args.data):
            print(f"{name}: {us:.1f} µs per advance (warm, median), {calls} calls per pass, "
                  f"first pass {cold:.1f} ms for {size} bytes")
        return
    files = sorted(args.data.glob("*.json"))[::args.stride]
    at = commit()
    t0 = time.perf_counter()
    results = []
    for path in files:
        results.append(check_file(path))
        if args.verbose and (results[-1]["failures"] or results[-1]["error"]):
            print(path.name, results[-1]["error"], results[-1]["failures"][:3])
    seconds = time.perf_counter() - t0
    report = table(results, speed(list(SPEED_FILES), data=args.data), seconds, at)
    if args.stride == 1:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
