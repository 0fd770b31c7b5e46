"""A user-defined constraint: worked arithmetic whose every equation is right, then 'Answer: N'.

`CheckedArithmetic` accepts a one-line solution followed by '\\nAnswer: N' (nothing after it).
Every equation in the line, `A op B = C` with single spaces, op one of + - * / and A, B
maximal runs of digits, must have C = the true value written in decimal (natural numbers:
a negative difference or an inexact division or a division by zero has no value, so its '='
cannot be written); and N must be the value of the line's last equation (there must be one).
The check is incremental, digit by digit: a wrong digit of C is rejected where it is written,
and C must end exactly (no extra digit). The constraint does not say *which* numbers to
combine, so a correct final answer still depends on the model choosing the right computation.

Every state that `advance` returns can still be completed, and `advance` returns None as soon
as no completion exists, so token masking never strands a particle.

Run: python examples/checked_arithmetic.py   (SMC with AWRS on one word problem, built-in model)
"""
from __future__ import annotations

import lm
from constraints.base import Constraint

OPS = b"+-*/"
_DIGITS = frozenset(b"0123456789")
_SPACE, _EQUALS, _NEWLINE = ord(" "), ord("="), ord("\n")
ANSWER_PREFIX = b"Answer: "

# State tags: the first field of every state tuple. Line states carry `last` (the last equation's
# value, or None) second; the rest is the partial equation read so far.
TEXT = 0       # (TEXT, last): free text, no partial equation
NUM_A = 1      # (NUM_A, last, a, closed): in a run of digits with value a; closed: a result, no more digits
A_SPACE = 2    # (A_SPACE, last, a): "a "
OP = 3         # (OP, last, a, op): "a op"
OP_SPACE = 4   # (OP_SPACE, last, a, op): "a op "
NUM_B = 5      # (NUM_B, last, a, op, b): "a op b" (b's digits so far)
B_SPACE = 6    # (B_SPACE, last, a, op, b): "a op b "
EQUALS = 7     # (EQUALS, last, digits): "a op b =", the value's digits still to come after a space
RESULT = 8     # (RESULT, last, digits, pos): "a op b = " and the first `pos` digits of the value
ANSWER = 9     # (ANSWER, target, pos): after the newline, the first `pos` bytes of target = b"Answer: N"


def equation_value(a: int, op: int, b: int) -> int | None:
    """The natural-number value of `a op b`, or None where it has none (negative, inexact, /0)."""
    if op == ord("+"):
        return a + b
    if op == ord("-"):
        return a - b if a >= b else None
    if op == ord("*"):
        return a * b
    if b == 0 or a % b:
        return None
    return a // b


class CheckedArithmetic(Constraint):
    """A solution line whose equations `A op B = C` are all correct, then '\\nAnswer: N', N the last C."""

    def start(self) -> tuple:
        return (TEXT, None)

    def advance(self, state: tuple, chunk: bytes) -> tuple | None:
        for byte in chunk:
            state = _step(state, byte)
            if state is None:
                return None
        return state

    def is_accepting(self, state: tuple) -> bool:
        return state[0] == ANSWER and state[2] == len(state[1])

    def __repr__(self) -> str:
        return "CheckedArithmetic()"


def _step(state: tuple, byte: int) -> tuple | None:
    tag = state[0]
    if tag == ANSWER:
        target, pos = state[1], state[2]
        return (ANSWER, target, pos + 1) if pos < len(target) and target[pos] == byte else None
    last = state[1]
    if tag == EQUALS:
        return (RESULT, last, state[2], 0) if byte == _SPACE else None
    if tag == RESULT:
        digits, pos = state[2], state[3]
        if digits[pos] != byte:
            return None
        if pos + 1 < len(digits):
            return (RESULT, last, digits, pos + 1)
        value = int(digits)
        return (NUM_A, value, value, True)
    if byte == _NEWLINE:
        return None if last is None else (ANSWER, ANSWER_PREFIX + str(last).encode(), 0)
    digit = byte in _DIGITS
    if tag == NUM_A:
        if digit:
            return None if state[3] else (NUM_A, last, state[2] * 10 + byte - 48, False)
        if byte == _SPACE:
            return (A_SPACE, last, state[2])
    elif tag == A_SPACE:
        if byte in OPS:
            return (OP, last, state[2], byte)
    elif tag == OP:
        if byte == _SPACE:
            return (OP_SPACE, last, state[2], state[3])
    elif tag == OP_SPACE:
        if digit:
            return (NUM_B, last, state[2], state[3], byte - 48)
    elif tag == NUM_B:
        if digit:
            return (NUM_B, last, state[2], state[3], state[4] * 10 + byte - 48)
        if byte == _SPACE:
            return (B_SPACE, last, state[2], state[3], state[4])
    elif tag == B_SPACE:
        if byte == _EQUALS:
            value = equation_value(state[2], state[3], state[4])
            return None if value is None else (EQUALS, last, str(value).encode())
        if byte in OPS:
            return (OP, last, state[4], byte)  # "a op b op' ...": b starts the next equation
    if digit:
        return (NUM_A, last, byte - 48, False)
    return (TEXT, last)


def final_answer(text: str) -> int | None:
    """N from a text ending in '\\nAnswer: N' (what the constraint guarantees), else None."""
    head, sep, tail = text.rpartition("\nAnswer: ")
    tail = tail.strip()
    return int(tail) if sep and tail.isdigit() else None


PROBLEM = ("Problem: Ivan has 49 balloons. Liam gives him 24 balloons. He gives 22 balloons to Liam. "
           "How many balloons does Ivan have now?\nSolution:")


def main(particles: int = 8, seed: int = 0, prompt: str = PROBLEM) -> list[tuple[int | None, float]]:
    """Solve one word problem with SMC + AWRS under `CheckedArithmetic`; (answer, posterior probability) pairs."""
    llm = lm.load("builtin")
    result = llm.generate(prompt, constraint=CheckedArithmetic(), particles=particles, method="smc",
                          max_tokens=120, rng=seed)
    answers: dict[int | None, float] = {}
    for sample in result.samples:
        answers[final_answer(sample.value)] = answers.get(final_answer(sample.value), 0.0) + sample.probability
        print(f"p={sample.probability:.3f}  {sample.value!r}")
    ranked = sorted(answers.items(), key=lambda kv: -kv[1])
    print("answers by posterior probability:", ranked)
    return ranked


if __name__ == "__main__":
    main()
