"""`ppl demo`: the whole stack offline: an exact posterior against importance sampling, then JSON
generation on the built-in model with SMC + AWRS and with token masking."""
from __future__ import annotations

import json
import time

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


def run_demo(particles: int = 8, seed: int = 0, threads: int | None = None) -> int:
    """Print the demo's two parts; returns the exit code."""
    import jsonschema

    import inference
    import lm
    import ppl
    import semantics
    from lm.generation import generate

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
    print(f"P(rain | grass wet): exact {exact.marginal('rain')[1]:.4f}, "
          f"importance sampling (2000 particles) {approx.marginal('rain').get(1, 0.0):.4f}")
    print(f"log p(grass wet):    exact {exact.log_z:.4f}, estimate {approx.log_ml:.4f}")

    print("\n== 2. JSON Schema constrained generation on the built-in model ==")
    llm = lm.load("builtin", **({} if threads is None else {"threads": threads}))
    constraint = lm.constraints.json_schema(DEMO_SCHEMA)
    print("schema:", json.dumps(DEMO_SCHEMA))
    for method in ("smc", "lcd"):
        start = time.perf_counter()
        result = generate(llm, "Person: ", constraint, particles=particles, method=method, max_tokens=48, rng=seed)
        seconds = time.perf_counter() - start
        print(f"\nmethod={method} ({'SMC with AWRS' if method == 'smc' else 'token masking, the myopic baseline'}), "
              f"{particles} particles, {seconds:.2f} s")
        if result.all_dead:
            print("  ", result.message)
            continue
        for sample in result.samples[:5]:
            document = json.loads(sample.value)
            jsonschema.validate(document, DEMO_SCHEMA)
            print(f"  p={sample.probability:.3f}  {sample.value}   (valid JSON, validates against the schema)")
    return 0
