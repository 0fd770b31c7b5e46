"""Generation with the token budget, checked exactly against the enumerated target on the tiny LM.

The target is the model conditioned on the constraint and on every prefix passing the budget
test (constraints/token_budget.py): enumerated by semantics.enumerate from a program that
samples tokens and conditions on `TokenBudget.advance` at every step. Running `generate` under
the enumerating rng gives E[Z_hat 1{output = x}] = p(x, target) for every text x, to 1e-9,
for SMC with the mask proposal (1 and 2 particles) and AWRS with the mask fallback, and for
token masking's support. With the exact token count (`searched_over`) the target is
p(x | constraint, at most max_tokens tokens) itself, and no particle ever dies at max_tokens.
"""
import math

import pytest

import ppl
import semantics
from constraints.token_budget import BudgetTooSmall, TokenBudget, bytes_as_tokens, searched_over, spelled_by
from inference.smc_engine.smc import smc
from lm import constraints, load
from lm.generation.generation import ConstrainedGeneration, generate, vocabulary_trie

# Tiny vocabulary: EOS, a, b, ' ', ab, \xc3, \xa9, é. "abbb" fits 4 tokens only as ab|b|b + EOS, and the
# budget forces a text that started with the token 'a' to close at once.
CASES = [(r"a*bbb|ab", 4), (r"(ab|b)a?", 3), (r"(a|b)*b", 3)]


@pytest.fixture(scope="module")
def tiny():
    return load("tiny")


def ordinary_tokens(llm):
    return [t.bytes if t is not None and not (t.is_special or t.is_eos) else None for t in llm.vocabulary.tokens]


def budget_target(llm, budget: TokenBudget):
    """p(text, constraint, every prefix passes the budget test), by enumeration: (Z, law of the text)."""
    @ppl.gen
    def program():
        context = llm.context("")
        state = budget.start()
        text = b""
        for i in range(budget.max_tokens):
            token = ppl.sample(context.next_token(), i)
            if token.is_eos:
                ppl.condition(budget.is_accepting(state))
                return text.decode("utf-8", errors="replace")
            state = budget.advance(state, token.bytes)
            if state is None:
                ppl.condition(False)
                return ""
            text += token.bytes
        ppl.condition(False)
        return ""

    exact = semantics.enumerate(program)
    return math.exp(exact.log_z), exact.retval.probabilities()


def fits_target(llm, constraint, max_tokens):
    """p(text, constraint, EOS within max_tokens tokens): the budget-free target, by enumeration."""
    @ppl.gen
    def program():
        context = llm.context("")
        text = b""
        for i in range(max_tokens):
            token = ppl.sample(context.next_token(), i)
            if token.is_eos:
                ppl.condition(constraint.accepts(text))
                return text.decode("utf-8", errors="replace")
            text += token.bytes
        ppl.condition(False)
        return ""

    exact = semantics.enumerate(program)
    return math.exp(exact.log_z), exact.retval.probabilities()


def weighted_outputs(run):
    """E[Z_hat 1{output = x}] over all randomness of `run(rng) -> Result`, and P(every particle dead)."""
    weighted, total, dead = {}, 0.0, 0.0
    for outcome in semantics.explore(run):
        prob = math.exp(outcome.log_prob)
        total += prob
        result = outcome.value
        if result.all_dead:
            dead += prob
            continue
        z = math.exp(result.log_ml)
        for particle, w in zip(result.particles, result.weights):
            text = particle.trace.output
            weighted[text] = weighted.get(text, 0.0) + prob * z * w
    assert total == pytest.approx(1.0, abs=1e-9)
    return weighted, dead


def assert_properly_weighted(weighted, z, target):
    assert z > 0
    assert sum(weighted.values()) == pytest.approx(z, rel=1e-9)
    assert set(weighted) == {t for t, p in target.items() if p > 0}
    for text, p in target.items():
        assert weighted[text] == pytest.approx(p * z, rel=1e-9)


@pytest.mark.parametrize("pattern,max_tokens", CASES)
@pytest.mark.parametrize("particles", [1, 2])
def test_smc_with_the_budget_is_properly_weighted_for_the_budget_target(tiny, pattern, max_tokens, particles):
    constraint = constraints.regex(pattern)
    budget = TokenBudget(constraint, max_tokens, tokens=spelled_by(vocabulary_trie(tiny)))
    z, target = budget_target(tiny, budget)
    weighted, dead = weighted_outputs(lambda rng: generate(
        tiny, "", constraint, particles=particles, max_tokens=max_tokens, proposal="mask", rng=rng))
    assert_properly_weighted(weighted, z, target)
    assert dead == 0.0  # a completion always fits: no run comes back empty


@pytest.mark.parametrize("pattern,max_tokens", CASES)
def test_awrs_with_the_mask_fallback_and_the_budget_is_properly_weighted(tiny, pattern, max_tokens):
    constraint = constraints.regex(pattern)
    budget = TokenBudget(constraint, max_tokens, tokens=spelled_by(vocabulary_trie(tiny)))
    z, target = budget_target(tiny, budget)

    def run(rng):
        model = ConstrainedGeneration(tiny, "", constraint, max_tokens=max_tokens, awrs_budget=1, fallback="mask")
        return smc(model, particles=1, rng=rng, max_steps=max_tokens + 1)

    weighted, dead = weighted_outputs(run)
    assert_properly_weighted(weighted, z, target)
    assert dead == 0.0


@pytest.mark.parametrize("pattern,max_tokens", CASES)
def test_with_exact_token_counts_the_target_is_the_model_given_the_constraint_and_the_length(tiny, pattern,
                                                                                                max_tokens):
    constraint = constraints.regex(pattern)
    exact_budget = TokenBudget(constraint, max_tokens, tokens=searched_over(ordinary_tokens(tiny)))
    z, target = fits_target(tiny, constraint, max_tokens)
    assert budget_target(tiny, exact_budget) == pytest.approx((z, target), rel=1e-12)
    weighted, dead = weighted_outputs(lambda rng: generate(
        tiny, "", exact_budget, particles=2, max_tokens=max_tokens, proposal="mask", rng=rng, budget=False))
    assert_properly_weighted(weighted, z, target)
    assert dead == 0.0


def test_without_the_budget_runs_come_back_empty_and_with_it_never(tiny):
    pattern, max_tokens = CASES[0]
    constraint = constraints.regex(pattern)
    _, dead_without = weighted_outputs(lambda rng: generate(
        tiny, "", constraint, particles=1, max_tokens=max_tokens, proposal="mask", rng=rng, budget=False))
    _, dead_with = weighted_outputs(lambda rng: generate(
        tiny, "", constraint, particles=1, max_tokens=max_tokens, proposal="mask", rng=rng))
    assert dead_without > 0.05 and dead_with == 0.0


def test_token_masking_with_the_budget_masks_what_cannot_finish(tiny):
    """LCD samples the myopic law, but with the budget its support is the budget target's and it never truncates."""
    pattern, max_tokens = CASES[0]
    constraint = constraints.regex(pattern)
    budget = TokenBudget(constraint, max_tokens, tokens=spelled_by(vocabulary_trie(tiny)))
    _, target = budget_target(tiny, budget)
    support, total = set(), 0.0
    for outcome in semantics.explore(lambda rng: generate(tiny, "", constraint, particles=1, max_tokens=max_tokens,
                                                          method="lcd", rng=rng)):
        total += math.exp(outcome.log_prob)
        particle = outcome.value.particles[0]
        assert particle.trace.finished and not particle.trace.truncated
        support.add(particle.trace.output)
    assert total == pytest.approx(1.0, abs=1e-9)
    assert support == {t for t, p in target.items() if p > 0}


def test_the_budget_test_counts_eos_and_one_token_per_advance():
    constraint = constraints.regex("abc")
    budget = TokenBudget(constraint, 4)  # 3 bytes need at most 3 tokens, + EOS = 4
    state = budget.advance(budget.start(), b"ab")
    assert state is not None and state[1] == 1
    assert budget.advance(state, b"c") is not None
    assert not budget.fits(constraint.advance(constraint.start(), b"a"), 3)  # 3 used + "bc" + EOS > 4
    assert budget.is_accepting(budget.advance(state, b"c"))


def test_a_shortest_output_longer_than_the_budget_is_an_error_naming_both_lengths(tiny):
    with pytest.raises(BudgetTooSmall, match=r"7 bytes.*max_tokens=4 leaves room for 3 tokens"):
        TokenBudget(constraints.regex("abababa+"), 4, tokens=bytes_as_tokens)
    with pytest.raises(BudgetTooSmall, match="max_tokens=3"):
        generate(tiny, "", constraints.regex("(ab){3}"), max_tokens=3, rng=0)
    assert generate(tiny, "", constraints.regex("(ab){3}"), max_tokens=4, rng=0).samples[0].value == "ababab"


def test_counting_the_shortest_completion_in_tokens_can_be_stricter_than_the_exact_count(tiny):
    """'bbb' is the shortest completion (3 tokens); 'abab' is longer in bytes but 2 tokens (ab|ab)."""
    constraint = constraints.regex("bbb|abab")
    with pytest.raises(BudgetTooSmall):
        TokenBudget(constraint, 3, tokens=spelled_by(vocabulary_trie(tiny)))
    exact = TokenBudget(constraint, 3, tokens=searched_over(ordinary_tokens(tiny)))
    assert exact.advance(exact.start(), b"ab") is not None and exact.advance(exact.start(), b"a") is None



@pytest.mark.parametrize("pattern,max_tokens", [(r"(ab|b)a?", 3), (r"(a|b)*b", 2)])
def test_awrs_with_the_candidate_fallback_and_the_budget_is_properly_weighted(tiny, pattern, max_tokens):
    """After its rejections AWRS draws among the grammar's tokens (the budget's cheap superset), testing the
    budget only on what it draws: still properly weighted for the budgeted target, every random choice enumerated."""
    constraint = constraints.regex(pattern)
    budget = TokenBudget(constraint, max_tokens, tokens=spelled_by(vocabulary_trie(tiny)))
    z, target = budget_target(tiny, budget)

    def run(rng):
        model = ConstrainedGeneration(tiny, "", constraint, max_tokens=max_tokens, awrs_budget=1,
                                      fallback="candidates")
        return smc(model, particles=1, rng=rng, max_steps=max_tokens + 1)

    weighted, dead = weighted_outputs(run)
    assert_properly_weighted(weighted, z, target)
    assert dead == 0.0
