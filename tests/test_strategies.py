"""The Hypothesis strategies users draw from: random vocabularies and small LMs with exact laws."""
import math

from hypothesis import given, settings, strategies as st

import semantics
from inference import smc
from lm import constraints
from semantics.strategies import token_lms, vocabularies


@settings(max_examples=15, deadline=None)
@given(token_lms(max_tokens=3))
def test_a_token_lm_generates_its_closed_form_law(lm):
    exact = semantics.enumerate(lm.model(3))
    got = semantics.FiniteMeasure((e.trace.output, e.log_weight) for e in exact.executions)
    want = semantics.FiniteMeasure((text, math.log(p))
                                   for text, p in lm.string_probabilities(3).items())
    assert semantics.total_variation(got, want) < 1e-12 and abs(exact.log_z) < 1e-12


@settings(max_examples=8, deadline=None)
@given(token_lms(max_tokens=3), st.sampled_from(["a*b", "(ab)+", "b?a?"]), st.integers(1, 2))
def test_constrained_smc_over_a_token_lm_is_properly_weighted(lm, pattern, particles):
    model = lm.model(2, constraints.regex(pattern))
    semantics.check_proper_weighting(lambda rng: smc(model, particles=particles, rng=rng), model,
                                     key=lambda particle: particle.output)


@settings(max_examples=15, deadline=None)
@given(vocabularies(b"ab", max_tokens=6), st.lists(st.text("ab", max_size=5), min_size=1, max_size=3))
def test_random_vocabularies_drive_the_constraint_contract(vocabulary, strings):
    assert all(bytes((b,)) in vocabulary for b in b"ab") and vocabulary[-1] is None
    semantics.check_constraint(constraints.regex("(ab|b)*a?"), strings, vocabulary=vocabulary, mask_states=20)
