"""JSON that validates against a schema, from the built-in model: SMC with AWRS vs token masking.

Token masking (what constrained-decoding engines do) enforces the schema locally and so
samples the wrong distribution; SMC with AWRS corrects it with importance weights.

Run: python examples/constrained_json.py
"""
import json

import jsonschema

import lm

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 12},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def main(particles: int = 8, seed: int = 0) -> dict:
    llm = lm.load("builtin")
    constraint = lm.constraints.json_schema(SCHEMA)
    outputs = {}
    for method in ("smc", "lcd"):
        result = llm.generate("Person: ", constraint=constraint, particles=particles, method=method, max_tokens=48, rng=seed)
        print(f"{method}: log Z estimate {result.log_ml:.3f}")
        for sample in result.samples:
            jsonschema.validate(json.loads(sample.value), SCHEMA)  # every output is valid by construction
            print(f"  p={sample.probability:.3f}  {sample.value}")
        outputs[method] = result
    return outputs


if __name__ == "__main__":
    main()
