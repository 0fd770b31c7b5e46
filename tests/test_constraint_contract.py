"""semantics.check_constraint passes on the project's constraint families and catches each broken clause."""
import pytest

from constraints.base import Constraint
from semantics import CheckFailed, check_constraint


class Words(Constraint):
    """Strings that are one of a few words; the state is the bytes read so far."""

    def __init__(self, *words: bytes):
        self.words = words

    def start(self):
        return b""

    def advance(self, state, chunk):
        new = state + chunk
        return new if any(w.startswith(new) for w in self.words) else None

    def is_accepting(self, state):
        return state in self.words


class Box:
    """A mutable state (hashed by identity): what the contract forbids."""

    def __init__(self, text):
        self.text = text


class MutatingWords(Words):
    def start(self):
        return Box(b"")

    def advance(self, state, chunk):
        state.text += chunk  # mutates the state it was given
        return state if any(w.startswith(state.text) for w in self.words) else None

    def is_accepting(self, state):
        return state.text in self.words


class ChunkSensitive(Words):
    """Refuses a chunk of more than 2 bytes: byte-by-byte reading disagrees with whole-token reading."""

    def advance(self, state, chunk):
        return None if len(chunk) > 2 else super().advance(state, chunk)


class TwoBytesRefused(Words):
    """Refuses chunks of exactly two bytes: only a cut into pieces shows it."""

    def advance(self, state, chunk):
        return None if len(chunk) == 2 else super().advance(state, chunk)


class NeverDead(Words):
    """Says every prefix is viable: a dead end goes unnoticed."""

    def advance(self, state, chunk):
        return state + chunk


class WrongNeutral(Words):
    """Claims that every letter is neutral (may be read without advancing): false for a closed word list."""

    def neutral_bytes(self, state):
        return frozenset(b"abcdefghijklmnopqrstuvwxyz")


def test_a_correct_constraint_passes():
    report = check_constraint(Words(b"cat", b"car", b"dog"), ["cat", "cab", "do", "x"], alphabet="abcdgortx")
    assert report.strings == 4 and report.accepted == 1 and report.completions == 3 and report.masks > 0


def test_mutable_states_are_caught():
    with pytest.raises(CheckFailed, match="states must be immutable"):
        check_constraint(MutatingWords(b"cat", b"car"), ["cat", "car"])


def test_chunk_dependent_verdicts_are_caught():
    with pytest.raises(CheckFailed, match=r"accepts\(b'cat'\) is False but reading it byte by byte accepts it"):
        check_constraint(ChunkSensitive(b"cat"), ["cat"])
    with pytest.raises(CheckFailed, match=r"chunking changes the verdict on b'cats': read as \[.*b'\w\w'\] the prefix b'c?\w\w' is "
                                          r"dead, byte by byte it is viable"):
        check_constraint(TwoBytesRefused(b"cats"), ["cats"], longest_chunk=2)


def test_a_viable_prefix_without_completion_is_caught():
    with pytest.raises(CheckFailed, match=r"the prefix b'cax' is viable but no accepted string extends it by at most 6 bytes"):
        check_constraint(NeverDead(b"cat"), ["cat", "cax"], alphabet="act")


def test_a_wrong_token_mask_is_caught():
    with pytest.raises(CheckFailed, match=r"the token mask after b'c?a?' allows token \d+ \(b'.*'\), but reading it alone fails"):
        check_constraint(WrongNeutral(b"cat"), ["cat"], vocabulary=[b"c", b"a", b"t", b"at", b"x", b"cx", None])


@pytest.mark.parametrize("family", ["regex", "lark", "json", "sql"])
def test_the_project_constraint_families_keep_the_contract(family):
    from lm import constraints

    made = {
        "regex": lambda: (constraints.regex(r"[a-zé]+@(ab|cd)\.com"), ["joe@ab.com", "zoé@cd.com", "x@cd.co", "abc", "@"]),
        "lark": lambda: (constraints.lark('start: "(" start ")" start | '), ["(()())", "(()", "())", ""]),
        "json": lambda: (constraints.json_schema({"type": "object", "properties": {"a": {"type": "string"}},
                                                  "required": ["a"]}), ['{"a": "xé"}', '{"a": 1}', "{}", '{"a": "\\u00e9"}']),
        "sql": lambda: (constraints.sql(ddl="CREATE TABLE t (a INTEGER, b TEXT);"),
                        ["SELECT a FROM t WHERE b = 'x'", "SELECT c FROM t", "select * from T;"]),
    }
    constraint, strings = made[family]()
    report = check_constraint(constraint, strings)
    assert report.accepted >= 1 and report.masks > 0
