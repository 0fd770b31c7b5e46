"""The `ppl` command line: constrained generation on a local model, and a demo of the whole stack.

    ppl demo                                     # offline, on the built-in model
    ppl generate --prompt "Person: " --schema person.json --particles 8 --method smc
    ppl generate --prompt "SQL: " --sql path/to/db.sqlite
    ppl generate --prompt "Code: " --regex "[A-Z]{3}-[0-9]{4}"

This is the one module that uses every package (DESIGN.md: dependencies point one way).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

DEMO_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "city": {"type": "string", "maxLength": 20},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def _constraint(args: argparse.Namespace) -> Any:
    from lm import constraints

    chosen = [name for name in ("schema", "regex", "grammar", "sql") if getattr(args, name)]
    if len(chosen) > 1:
        raise SystemExit(f"ppl generate: give one constraint, got {', '.join('--' + c for c in chosen)}")
    if args.schema:
        path = Path(args.schema)
        try:
            schema = json.loads(path.read_text())
        except FileNotFoundError:
            raise SystemExit(f"ppl generate: schema file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise SystemExit(f"ppl generate: {path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
        return constraints.json_schema(schema)
    if args.regex:
        return constraints.regex(args.regex)
    if args.grammar:
        path = Path(args.grammar)
        if not path.exists():
            raise SystemExit(f"ppl generate: grammar file not found: {path}")
        return constraints.lark(path.read_text())
    if args.sql:
        return constraints.sql(args.sql)
    return None


def _threads(args: argparse.Namespace) -> dict:
    return {} if args.threads is None else {"threads": args.threads}


def _generate(args: argparse.Namespace) -> int:
    import lm
    from lm.generation.generation import generate

    constraint = _constraint(args)
    llm = lm.load(args.model, **_threads(args))
    start = time.perf_counter()
    result = generate(llm, args.prompt, constraint, particles=args.particles, method=args.method,
                      max_tokens=args.max_tokens, rng=args.seed)
    elapsed = time.perf_counter() - start
    if result.all_dead:
        print(json.dumps({"error": result.message}))
        return 1
    for sample in result.samples:
        print(json.dumps({"text": sample.value, "probability": round(sample.probability, 6)}))
    print(json.dumps({"log_ml": result.log_ml, "ess": result.ess, "seconds": round(elapsed, 3)}), file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    import jsonschema

    import inference
    import lm
    import ppl
    import semantics
    from lm.generation.generation import generate

    @ppl.gen
    def sprinkler():
        rain = ppl.sample(ppl.dist.Bernoulli(0.2), "rain")
        on = ppl.sample(ppl.dist.Bernoulli(0.01 if rain else 0.4), "sprinkler")
        p_wet = {(1, 1): 0.99, (1, 0): 0.8, (0, 1): 0.9, (0, 0): 0.0}[(rain, on)]
        ppl.observe(ppl.dist.Bernoulli(p_wet), 1, "wet")
        return rain

    print("== 1. A probabilistic program, exactly and by inference ==")
    exact = semantics.enumerate(sprinkler)
    approx = inference.importance(sprinkler, particles=2000, rng=0)
    print(f"P(rain | grass wet): exact {exact.marginal('rain').probabilities()[1]:.4f}, "
          f"importance sampling (2000 particles) {approx.marginal('rain').get(1, 0.0):.4f}")
    print(f"log p(grass wet):    exact {exact.log_z:.4f}, estimate {approx.log_ml:.4f}")

    print("\n== 2. JSON Schema constrained generation on the built-in model ==")
    llm = lm.load("builtin", **_threads(args))
    constraint = lm.constraints.json_schema(DEMO_SCHEMA)
    print("schema:", json.dumps(DEMO_SCHEMA))
    for method in ("smc", "lcd"):
        start = time.perf_counter()
        result = generate(llm, "Person: ", constraint, particles=args.particles, method=method, max_tokens=48, rng=args.seed)
        seconds = time.perf_counter() - start
        print(f"\nmethod={method} ({'SMC with AWRS' if method == 'smc' else 'token masking, the myopic baseline'}), "
              f"{args.particles} particles, {seconds:.2f} s")
        if result.all_dead:
            print("  ", result.message)
            continue
        for sample in result.samples[:5]:
            document = json.loads(sample.value)
            jsonschema.validate(document, DEMO_SCHEMA)
            print(f"  p={sample.probability:.3f}  {sample.value}   (valid JSON, validates against the schema)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ppl", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole stack offline on the built-in model")
    demo.add_argument("--particles", type=int, default=8)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None)
    gen = sub.add_parser("generate", help="generate text under a constraint")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--model", default="builtin", help="'builtin', 'tiny', or a local model directory")
    gen.add_argument("--schema", help="a JSON Schema file")
    gen.add_argument("--regex", help="a regular expression the whole output must match")
    gen.add_argument("--grammar", help="a Lark grammar file")
    gen.add_argument("--sql", help="a sqlite database file: SELECT queries over its schema")
    gen.add_argument("--particles", type=int, default=8)
    gen.add_argument("--method", choices=("smc", "lcd", "rerank"), default="smc")
    gen.add_argument("--max-tokens", type=int, default=128)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    return _demo(args) if args.command == "demo" else _generate(args)


if __name__ == "__main__":
    sys.exit(main())
