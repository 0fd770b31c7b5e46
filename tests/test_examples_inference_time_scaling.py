"""The inference-time scaling example: its checker PRM, its probabilistic program and its five methods."""
import math
import re

import pytest

import inference
import lm
from examples import inference_time_scaling as its


def steps_of(solution: str) -> list[str]:
    """The sentences of a gold solution, as the model writes them (each with its leading space)."""
    return [" " + s.strip(" .") + "." for s in solution.split(". ")]


def test_the_checker_accepts_every_gold_solution_step_by_step():
    for problem in its.held_out_problems(150, events=4) + its.held_out_problems(100, events=2, seed=3):
        steps = steps_of(problem.solution) + [f"\nAnswer: {problem.answer}"]
        for i, step in enumerate(steps):
            assert its.checker_prm(problem.text, "".join(steps[:i]), step) == 1.0, (problem.text, step)


def test_the_checker_penalizes_slips_skips_inventions_and_early_answers():
    problem = its.held_out_problems(1, events=4)[0]
    steps = steps_of(problem.solution)
    before = "".join(steps[:2])
    eps = 1e-3
    a, op, b, c = re.findall(r"([0-9]+) ([-+*/]) ([0-9]+) = ([0-9]+)", steps[2])[-1]
    slip = steps[2].replace(f"= {c}", f"= {int(c) + 1}")
    assert its.checker_prm(problem.text, before, slip) == pytest.approx(eps ** 1)
    assert its.checker_prm(problem.text, before, steps[3]) < 1.0                         # an event skipped
    assert its.checker_prm(problem.text, before, " Then he finds 977 more.") == pytest.approx(eps)   # invented
    last = re.findall(r"= ([0-9]+)", before)[-1]
    assert its.checker_prm(problem.text, before, f"\nAnswer: {last}") == pytest.approx(eps)      # quantities unused
    everything = "".join(steps)
    assert its.checker_prm(problem.text, everything, f"\nAnswer: {problem.answer + 1}") == pytest.approx(eps)


def test_a_particle_weight_is_the_product_of_its_step_scores():
    llm = lm.load("builtin")
    problem = its.held_out_problems(2, events=4)[1]
    model = its.StepwiseSolution(llm, its.builtin_prompt(problem), problem.text)
    result = inference.smc(model, particles=6, ess_threshold=0.0, rng=3, max_steps=20)   # no resampling: IS
    for particle in result.particles:
        steps = particle.trace.steps
        assert "".join(steps) == particle.trace.context.generated_text
        expected = sum(math.log(its.checker_prm(problem.text, "".join(steps[:i]), s)) for i, s in enumerate(steps))
        assert particle.log_weight == pytest.approx(expected, abs=1e-9)
        assert particle.trace.finished


def test_every_method_answers_at_every_budget():
    out = its.main(problems=2, budgets=(1, 2, 4), progress=False)
    assert set(out["table"]) == set(its.METHODS)
    for row in out["rows"]:
        answer = row["problem"]["answer"]
        for method, by_budget in row["answers"].items():
            assert list(by_budget) == [1, 2, 4]
            for n, a in by_budget.items():
                assert row["correct"][method][n] == (a == answer)
    for method, accuracies in out["table"].items():
        assert all(0.0 <= a <= 1.0 for a in accuracies)
    assert len(set(out["table"]["greedy"])) == 1                         # greedy ignores the budget


def test_beam_search_keeps_the_budget():
    llm = lm.load("builtin")
    problem = its.held_out_problems(1, events=4)[0]
    model = its.StepwiseSolution(llm, its.builtin_prompt(problem), problem.text)
    result = its.beam_search(model, 8, rng=0)
    assert 1 <= len(result.particles) <= 2                                 # 8 rollouts: 2 beams, each extended 4 ways
    assert all(p.trace.finished for p in result.particles)
