"""The self-evaluation example: the judgment is a twist mid-way (removed again) and evidence at the end."""
import math

import pytest

import inference
import lm
from examples import self_evaluation_twist as example


def test_final_weights_hold_only_the_final_judgment():
    llm = lm.load("builtin")
    prompt, question, yes, no = example.judge_prompt(llm, "a dog")
    model = example.SelfEvaluated(llm, prompt, question, yes, no, max_tokens=9, every=4)
    result = inference.smc(model, particles=4, ess_threshold=0.0, rng=0)   # no resampling: weights are not averaged
    for particle in result.particles:
        trace = particle.trace
        assert len(trace.judgments) == 3                                   # after tokens 4 and 8, and at the end
        assert particle.log_weight == pytest.approx(trace.judgments[-1], abs=1e-12)
        assert trace.twist_amount == 0.0
        assert "Q:" not in trace.context.generated_text                     # the question was asked on a clone
        assert all(j <= 0.0 for j in trace.judgments)


def test_the_judgment_is_yes_against_no_after_the_question():
    llm = lm.load("builtin")
    prompt, question, yes, no = example.judge_prompt(llm, "a dog")
    model = example.SelfEvaluated(llm, prompt + " Once upon a time", question, yes, no)
    import ppl
    got = ppl.batching.run_sync(model.judge())
    probe = llm.context(prompt + " Once upon a time")
    for token_id in llm.tokenize(question):
        probe.extend(token_id)
    logprobs = probe.logprobs()
    p_yes, p_no = math.exp(logprobs[llm.tokenize(yes)[0]]), math.exp(logprobs[llm.tokenize(no)[0]])
    assert got == pytest.approx(math.log(p_yes / (p_yes + p_no)), abs=1e-9)


def test_the_example_runs():
    result = example.main("builtin", topic="a dog", particles=4, max_tokens=8)
    assert len(result.particles) == 4 and math.isfinite(result.log_ml) and result.log_ml <= 0
