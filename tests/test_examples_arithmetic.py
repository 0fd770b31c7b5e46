"""The checked-arithmetic example runs on the built-in model and keeps its promise: every equation right."""
import math
import re

from examples import checked_arithmetic


def test_checked_arithmetic_example():
    ranked = checked_arithmetic.main(particles=4, seed=0)
    assert ranked and math.isclose(sum(p for _, p in ranked), 1.0, rel_tol=1e-9)
    assert all(isinstance(answer, int) for answer, _ in ranked)


def test_checked_arithmetic_samples_are_correct_arithmetic():
    import lm

    llm = lm.load("builtin")
    result = llm.generate(checked_arithmetic.PROBLEM, constraint=checked_arithmetic.CheckedArithmetic(),
                          particles=4, method="smc", max_tokens=120, rng=1)
    assert result.samples
    for sample in result.samples:
        equations = re.findall(r"(?<![0-9])([0-9]+) ([-+*/]) ([0-9]+) = ([0-9]+)", sample.value)
        assert equations, sample.value
        for a, op, b, c in equations:
            assert checked_arithmetic.equation_value(int(a), ord(op), int(b)) == int(c), sample.value
        assert checked_arithmetic.final_answer(sample.value) == int(equations[-1][3])
