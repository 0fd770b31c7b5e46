"""CheckedArithmetic (examples/checked_arithmetic.py) against an independent regex reference, exactly."""
import random
import re

from hypothesis import given, settings, strategies as st

from examples.checked_arithmetic import CheckedArithmetic, final_answer
from lm.training.arithmetic_documents import arithmetic_document

C = CheckedArithmetic()

# -- the reference: whole-string checks with regular expressions, no incremental state ---------------

EQUATION = re.compile(rb"(?=(?<![0-9])([0-9]+) ([-+*/]) ([0-9]+) =)")
PENDING = re.compile(rb"(?<![0-9])([0-9]+) ([-+*/]) ([0-9]+) =( ?[0-9]*)$")
FILLER = b"x 1 + 1 = 2"  # breaks any partial equation and adds a correct one


def value(a: int, op: bytes, b: int) -> int | None:
    if op == b"+":
        return a + b
    if op == b"-":
        return a - b if a >= b else None
    if op == b"*":
        return a * b
    return a // b if b and a % b == 0 else None


def reference_line(line: bytes) -> tuple[bool, int | None]:
    """Whether a finished solution line has at least one equation and all are right; the last value."""
    last = None
    for m in EQUATION.finditer(line):
        v = value(int(m[1]), m[2], int(m[3]))
        after = m.end(3) + 2
        expected = b" " + str(v).encode()
        if v is None or line[after:after + len(expected)] != expected:
            return False, None
        follow = line[after + len(expected):after + len(expected) + 1]
        if follow.isdigit():
            return False, None
        last = v
    return last is not None, last


def reference_accepts(text: bytes) -> bool:
    line, newline, rest = text.partition(b"\n")
    ok, last = reference_line(line)
    return bool(newline) and ok and rest == b"Answer: " + str(last).encode()


def reference_viable(text: bytes) -> bool:
    """Some accepted string starts with `text`: tried on the completions that can matter."""
    line, newline, rest = text.partition(b"\n")
    if newline:
        ok, last = reference_line(line)
        return ok and (b"Answer: " + str(last).encode()).startswith(rest)
    tails = [b"", FILLER]
    m = PENDING.search(line)
    if m:
        v = value(int(m[1]), m[2], int(m[3]))
        full = b" " + str(v).encode() if v is not None else None
        if full is not None and full.startswith(m[4]):
            tails += [full[len(m[4]):], full[len(m[4]):] + FILLER]
    return any(reference_line(line + tail)[0] for tail in tails)


def first_rejection(text: bytes) -> int | None:
    """The length of the shortest non-viable prefix, byte by byte, or None."""
    state = C.start()
    for i, byte in enumerate(text):
        state = C.advance(state, bytes((byte,)))
        if state is None:
            return i + 1
    return None


def solutions(count: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [arithmetic_document(rng).split("\nSolution:", 1)[1].encode() for _ in range(count)]


# -- the generated training solutions ---------------------------------------------------------------------

def test_accepts_every_generated_solution():
    for text in solutions(400):
        assert C.accepts(text), text
        assert reference_accepts(text), text
        answer = int(text.rsplit(b"Answer: ", 1)[1])
        assert final_answer(text.decode()) == answer


def test_rejects_a_wrong_result_at_its_first_wrong_digit():
    checked = 0
    for text in solutions(150, seed=1):
        for m in re.finditer(rb"= ([0-9]+)", text):
            start, digits = m.start(1), m[1]
            for i in range(len(digits)):
                wrong = bytes((ord("0") + (digits[i] - ord("0") + 3) % 10,))
                bad = text[:start + i] + wrong + text[start + i + 1:]
                assert first_rejection(bad) == start + i + 1, bad
                checked += 1
            longer = text[:m.end(1)] + b"0" + text[m.end(1):]          # an extra digit
            assert first_rejection(longer) == m.end(1) + 1
            if len(digits) > 1:                                      # ended too early
                shorter = text[:m.end(1) - 1] + text[m.end(1):]
                assert first_rejection(shorter) == m.end(1)
    assert checked > 300


def test_answer_must_be_the_last_value_and_then_end():
    for text in solutions(100, seed=2):
        head, answer = text.rsplit(b"Answer: ", 1)
        wrong = head + b"Answer: " + str(int(answer) + 1).encode()
        assert not C.accepts(wrong)
        assert first_rejection(wrong) is not None
        state = C.advance(C.start(), text)
        assert C.is_accepting(state)
        assert C.advance(state, b" ") is None and C.advance(state, b"0") is None
        assert not C.is_accepting(C.advance(C.start(), text[:-1]))


def test_dead_ends_are_found_where_they_are_certain():
    assert C.viable(b" 44 / 8") and C.viable(b" 44 / 8 ") and C.viable(b" 44 / 8 apples")
    assert not C.viable(b" 44 / 8 =")
    assert C.viable(b" 44 / 4 =") and not C.viable(b" 44 / 4 = 12")
    assert not C.viable(b" 3 - 5 =") and C.viable(b" 5 - 5 = 0")
    assert not C.viable(b" 7 / 0 =") and C.viable(b" 0 / 7 = 0")
    assert not C.viable(b" no equation\n")                     # the answer needs an equation
    assert not C.viable(b" 2 + 2 =4") and C.viable(b" 2 + 2 = 4 =")  # after '=': a space, the value
    assert C.accepts(b" 1 + 2 = 3 + 4 = 7\nAnswer: 7")         # chained: 3 starts the next equation
    assert not C.accepts(b" 2 * 3 * 4 = 24\nAnswer: 24")       # only 'A op B' right before '=' is checked
    assert C.accepts(b" 2 * 3 + 4 = 7\nAnswer: 7") and not C.viable(b" 2 * 3 + 4 = 1")


def test_chunks_and_bytes_agree():
    rng = random.Random(3)
    for text in solutions(60, seed=4):
        cuts = sorted(rng.sample(range(1, len(text)), 6))
        state = C.start()
        for a, b in zip([0] + cuts, cuts + [len(text)]):
            state = C.advance(state, text[a:b])
        assert state == C.advance(C.start(), text)
        assert hash(state) == hash(C.advance(C.start(), text))


# -- exhaustive and random agreement with the reference ------------------------------------------------

PIECES = [b"0", b"1", b"2", b"3", b" ", b"=", b" + ", b" - ", b" / ", b" * ", b" = ", b"\n", b"Answer: "]


def test_every_short_string_agrees_with_the_reference():
    """Strings of up to 5 pieces: viable (non-None state) iff the reference can complete them; accepting iff accepted."""
    seen = 0
    frontier = [(b"", C.start())]
    for _ in range(5):
        grown = []
        for text, state in frontier:
            for piece in PIECES:
                new_text, new_state = text + piece, C.advance(state, piece)
                viable = reference_viable(new_text)
                assert (new_state is not None) == viable, new_text
                seen += 1
                if new_state is None:
                    continue
                assert C.is_accepting(new_state) == reference_accepts(new_text), new_text
                grown.append((new_text, new_state))
        frontier = grown
    assert seen > 50_000


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES + [b"12", b"7", b"x", b"\nAnswer: "]), max_size=14))
def test_random_strings_agree_with_the_reference(pieces):
    text = b"".join(pieces)
    state = C.advance(C.start(), text)
    assert (state is not None) == reference_viable(text)
    if state is not None:
        assert C.is_accepting(state) == reference_accepts(text)
