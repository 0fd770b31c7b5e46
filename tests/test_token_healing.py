"""Token healing: a prompt ending in a partial token is backed up to a token boundary and the text owes
the removed bytes; checked exactly on the tiny LM (the target is the model given the kept tokens,
conditioned on the text starting with the removed bytes) and on the built-in model and SmolLM2."""
import math

import pytest

import ppl
import semantics
import lm
from constraints.literal_prefix import LiteralPrefix
from constraints.regular.regex import regex
from lm.generation.token_healing import heal_prompt
from smollm2 import smollm2


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


def test_literal_prefix_owes_its_bytes_then_hands_over():
    c = LiteralPrefix(b"ab", regex("c+"))
    s = c.start()
    assert c.advance(s, b"b") is None                      # must start with the owed bytes
    s1 = c.advance(s, b"a")
    assert s1 is not None and not c.is_accepting(s1)
    assert c.advance(s1, b"bc") is not None                # one chunk finishes the prefix and goes on
    assert c.advance(s1, b"bd") is None                    # ... into the inner constraint
    assert not c.is_accepting(c.advance(s1, b"b"))         # inner "c+" needs a byte
    assert c.accepts(b"abcc") and not c.accepts(b"ab") and not c.accepts(b"abd")
    assert LiteralPrefix(b" ").accepts(b" x") and not LiteralPrefix(b" ").viable(b"x")


def _lone_space(llm, ids):
    return llm.vocabulary.tokens[ids[-1]].bytes == b" "


@pytest.mark.parametrize("model", ["builtin", "smollm2"])
def test_story_prompt_no_longer_ends_in_a_lone_space(model, builtin, tmp_path_factory):
    llm = builtin if model == "builtin" else smollm2(tmp_path_factory)
    assert _lone_space(llm, llm.prompt_ids("Story: "))     # the problem: the tokenizer leaves " " alone
    healed = heal_prompt(llm, "Story: ")
    assert not _lone_space(llm, list(healed.token_ids))
    assert healed.owed.endswith(b" ") and llm.vocabulary.decode(healed.token_ids) + healed.owed == b"Story: "
    result = lm.generate(llm, "Story: ", regex="[A-Z][a-z]{1,5}", particles=3, max_tokens=8, rng=0)  # ends by 7 tokens
    assert result.healed == healed.owed
    assert result.samples
    for particle in result.particles:
        if particle.log_weight > -math.inf:
            text = particle.trace.text                     # everything generated after the kept prompt
            assert text.startswith(healed.owed)
            assert text[len(healed.owed):].decode() in {s.value for s in result.samples}
    assert all(not s.value.startswith(" ") for s in result.samples)   # the continuation after the space
    unhealed = lm.generate(llm, "Story: ", regex="[A-Z][a-z]{1,5}", particles=2, max_tokens=8, rng=0, heal=False)
    assert unhealed.healed == b""


def test_healing_keeps_a_prompt_at_a_safe_boundary(builtin):
    healed = heal_prompt(builtin, "Story:")
    assert healed.owed == b"" and list(healed.token_ids) == builtin.prompt_ids("Story:")


MAX_TOKENS = 2
INNER = "b?(ab)?"


def _exact_target(llm, kept, owed, inner, max_tokens):
    """p(continuation | kept prompt, text starts with `owed`, the rest matches `inner`), by enumeration."""
    @ppl.gen
    def program():
        context = llm.context(list(kept))
        text = b""
        for i in range(max_tokens):
            token = ppl.sample(context.next_token(), i)
            if token.is_eos:
                ppl.condition(text.startswith(owed) and inner.accepts(text[len(owed):]))
                return text[len(owed):].decode("utf-8", errors="replace")
            text += token.bytes
        ppl.condition(False)
        return ""

    exact = semantics.enumerate(program)
    return math.exp(exact.log_z), exact.retval.probabilities()


@pytest.mark.parametrize("particles", [1, 2])
def test_healed_generation_targets_the_model_conditioned_on_the_owed_bytes(tiny, particles):
    healed = heal_prompt(tiny, "b a")
    assert healed.owed == b"a" and healed.removed_tokens == 1   # "a" starts the token "ab"
    z, target = _exact_target(tiny, healed.token_ids, healed.owed, regex(INNER), MAX_TOKENS + healed.removed_tokens)
    assert len(target) > 1
    weighted, total = {}, 0.0
    for outcome in semantics.explore(lambda rng: lm.generate(tiny, "b a", regex=INNER, particles=particles,
                                                             proposal="mask", max_tokens=MAX_TOKENS, rng=rng)):
        prob = math.exp(outcome.log_prob)
        total += prob
        result = outcome.value
        assert result.healed == b"a"
        for particle, w in zip(result.particles, result.weights):
            if w > 0:
                text = result.output(particle.trace)
                weighted[text] = weighted.get(text, 0.0) + prob * math.exp(result.log_ml) * w
    assert total == pytest.approx(1.0, abs=1e-9)
    assert sum(weighted.values()) == pytest.approx(z, rel=1e-9)       # E[Z_hat] = Z
    for text, p in target.items():                                      # E[Z_hat 1{output = x}] = p(x) Z
        assert weighted.get(text, 0.0) == pytest.approx(p * z, rel=1e-9)


def test_twist_and_potential_see_the_text_after_the_owed_bytes(builtin):
    seen = []

    def record(text: bytes) -> float:
        seen.append(text)
        return 0.0

    result = lm.generate(builtin, "Code: ", regex="[A-Z]{3}", particles=2, max_tokens=8, rng=0, twist=record,
                         potential=record)
    assert result.healed == b" " and result.samples and seen
    assert {s.value.encode() for s in result.samples} <= set(seen)      # the potential saw the returned texts
    assert not any(text.startswith(b" ") for text in seen)
