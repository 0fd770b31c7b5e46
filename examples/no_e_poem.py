"""A lipogram: text from the built-in model that never uses the letter 'e' (LLaMPPL's classic).

A sequential model whose random choices are LM tokens. Each step restricts the next token to
those without an 'e' (observing the mask Bernoulli, so the weight is P(no 'e' next)), samples
it, and SMC resamples towards continuations the model finds likely.

Run: python examples/no_e_poem.py
"""
import inference
import lm
import ppl


class NoE(ppl.Model):
    def __init__(self, llm, prompt: str, max_tokens: int = 24):
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


def main(particles: int = 12, seed: int = 0) -> inference.Result:
    llm = lm.load("builtin")
    result = inference.smc(NoE(llm, "Story: "), particles=particles, ess_threshold=0.5, rng=seed)
    result.output = lambda particle: particle.context.generated_text
    for sample in result.samples[:5]:
        print(f"p={sample.probability:.3f}  {sample.value!r}")
    print(f"log P(no 'e' in the story) estimate: {result.log_ml:.3f}")
    return result


if __name__ == "__main__":
    main()
