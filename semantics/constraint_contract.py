"""`check_constraint(c, strings)`: the contract every `constraints.Constraint` must keep.

Checked on the given strings (and their prefixes), for any constraint family, yours included:

* immutable states: a state is hashable, and after every other advance made from it (other
  chunkings, other branches, whole-vocabulary masks) its hash and its behaviour (accepting or
  not, and the verdict on a few probe chunks) are what they were when it was first made;
* chunking invariance: reading a string byte by byte, all at once, or cut at random places
  (inside multi-byte characters too) gives the same verdicts: dead or viable after every
  chunk, accepting or not at the end, and `accepts`/`viable` agree with the states;
* prefix viability agrees with acceptance: every prefix of an accepted string is viable, and
  the longest viable prefix of a rejected string extends to an accepted one where that can be
  checked: by the constraint's `shortest_completion`, or by a search over `alphabet`;
* token masks: `constraint.token_mask(TokenTrie(vocabulary), state)` equals testing every
  token on its own (`advance(state, token) is not None`) at states along the strings.

A violation raises `CheckFailed` naming the string, the chunk or prefix, and both verdicts.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from inference.token_trie import TokenTrie
from semantics.exact_checks import CheckFailed

_MAX_SEARCH = 2_000  # constraint advances a completion search may make


@dataclass(frozen=True)
class ConstraintReport:
    """What check_constraint checked: strings (accepted among them), prefix states, chunkings, completions, masks."""

    strings: int
    accepted: int
    states: int
    chunkings: int
    completions: int
    masks: int


def _b(text: bytes) -> str:
    shown = repr(text)
    return shown if len(shown) <= 120 else shown[:117] + "..."


def _as_bytes(string: bytes | str) -> bytes:
    return string.encode("utf-8") if isinstance(string, str) else bytes(string)


def _hash(state: Any, where: str) -> int:
    try:
        return hash(state)
    except TypeError as err:
        raise CheckFailed(f"the state after {where} is not hashable ({err}): states must be immutable values") from None


class _Prefixes:
    """The byte-by-byte states of one string up to its first dead prefix, with their behaviour when first made."""

    def __init__(self, constraint: Any, text: bytes, probes: Sequence[bytes], tracked: int):
        self.text = text
        self.states = [constraint.start()]
        self.probes: list[tuple[int, list[bytes]]] = []
        self.signatures: list[tuple] = []
        every = max(1, (len(text) + 1) // max(1, tracked))  # the states whose behaviour is tracked
        for i in range(len(text) + 1):
            _hash(self.states[-1], _b(text[:i]))
            if i % every == 0 or i == len(text):
                self.probes.append((i, [text[i:i + 3]] + list(probes)))  # its own continuation first: it should be viable
                self.signatures.append(self._signature(constraint, i, self.probes[-1][1]))  # before anything reads on
            if i == len(text):
                break
            following = constraint.advance(self.states[-1], text[i:i + 1])
            if following is None:
                break
            self.states.append(following)
        self.viable = len(self.states) - 1  # the longest viable prefix is text[:viable]
        self.check_unchanged(constraint)

    def _signature(self, constraint: Any, i: int, chunks: Sequence[bytes]) -> tuple:
        state = self.states[i]
        verdicts = []
        for n, chunk in enumerate(chunks):
            following = constraint.advance(state, chunk) if chunk else state
            verdicts.append(None if following is None else n > 0 or bool(constraint.is_accepting(following)))
        return _hash(state, _b(self.text[:i])), bool(constraint.is_accepting(state)), tuple(verdicts)

    def alive_at(self, position: int) -> bool:
        return position <= self.viable

    def check_unchanged(self, constraint: Any) -> None:
        for (i, chunks), before in zip(self.probes, self.signatures):
            after = self._signature(constraint, i, chunks)
            if after != before:
                what = "hash" if after[0] != before[0] else "accepting" if after[1] != before[1] else "verdicts on probe chunks"
                raise CheckFailed(f"the state after {_b(self.text[:i])} changed ({what}: {before[1:]} became {after[1:]}) "
                                  "once other chunks were read from it: states must be immutable")


def _random_cuts(length: int, rng: random.Random, longest: int) -> list[int]:
    cuts, at = [], 0
    while at < length:
        at = min(length, at + rng.randint(1, longest))
        cuts.append(at)
    return cuts


def _check_chunking(constraint: Any, prefixes: _Prefixes, cuts: list[int]) -> None:
    text, state, at = prefixes.text, constraint.start(), 0
    pieces = []
    for cut in cuts:
        pieces.append(text[at:cut])
        state = constraint.advance(state, text[at:cut])
        at = cut
        if (state is not None) != prefixes.alive_at(at):
            raise CheckFailed(f"chunking changes the verdict on {_b(text)}: read as {pieces!r} the prefix {_b(text[:at])} is "
                              f"{'viable' if state is not None else 'dead'}, byte by byte it is "
                              f"{'viable' if prefixes.alive_at(at) else 'dead'}")
        if state is None:
            return
        bytewise = bool(constraint.is_accepting(prefixes.states[at]))
        if bool(constraint.is_accepting(state)) != bytewise:
            raise CheckFailed(f"chunking changes acceptance of {_b(text[:at])}: read as {pieces!r} it is "
                              f"{'' if not bytewise else 'not '}accepting, byte by byte it is {'' if bytewise else 'not '}accepting")


def _search_completion(constraint: Any, state: Any, alphabet: bytes, depth: int) -> bytes | None:
    queue, advances = deque([(state, b"")]), 0
    while queue:
        current, path = queue.popleft()
        if constraint.is_accepting(current):
            return path
        if len(path) >= depth:
            continue
        for byte in alphabet:
            if advances >= _MAX_SEARCH:
                return None
            advances += 1
            following = constraint.advance(current, bytes((byte,)))
            if following is not None:
                queue.append((following, path + bytes((byte,))))
    return None


def _check_completion(constraint: Any, prefixes: _Prefixes, alphabet: bytes | None, depth: int, seen: bytes) -> bool:
    """The longest viable prefix of a rejected string extends to an accepted string; False where not checkable.

    The constraint's `shortest_completion` is tried first (None for a viable state is a violation; a text
    that does not complete is allowed, as families document it as a lower bound where lexing or a final
    check decides). Otherwise a breadth-first search over `alphabet` must find one within `depth` bytes;
    without `alphabet`, a search over the bytes `seen` in the strings and the claimed text that finds
    none leaves the prefix unchecked."""
    prefix, state = prefixes.text[:prefixes.viable], prefixes.states[prefixes.viable]
    try:
        claimed = constraint.shortest_completion(state)
    except NotImplementedError:
        claimed = None
        known = False
    else:
        known = True
        if claimed is None:
            raise CheckFailed(f"the prefix {_b(prefix)} is viable but shortest_completion says no accepted string extends it")
        if constraint.completes(state, claimed):
            return True
    if alphabet is None and not known:
        return False
    bytes_to_try = alphabet if alphabet is not None else bytes(sorted(set(seen) | set(claimed or b"")))
    if _search_completion(constraint, state, bytes_to_try, depth) is not None:
        return True
    if alphabet is None:
        return False
    raise CheckFailed(f"the prefix {_b(prefix)} is viable but no accepted string extends it by at most {depth} bytes "
                      f"from {_b(alphabet)}" + (f" (shortest_completion gave {_b(claimed)}, which does not complete it)"
                                                if claimed is not None else ""))


def _default_vocabulary(texts: Iterable[bytes], most: int = 300) -> list[bytes | None]:
    """Every substring of 1 to 3 bytes of the strings (first seen first, at most `most`), and one special token."""
    seen: dict[bytes, None] = {}
    for length in (1, 2, 3):
        for text in texts:
            for i in range(len(text) - length + 1):
                seen.setdefault(text[i:i + length], None)
    return list(seen)[:most] + [None]


def _check_masks(constraint: Any, trie: TokenTrie, vocabulary: Sequence[bytes | None], where: list[tuple[bytes, Any]]) -> None:
    for prefix, state in where:
        mask, _ = constraint.token_mask(trie, state)
        for token_id, token in enumerate(vocabulary):
            alone = token is not None and len(token) > 0 and constraint.advance(state, token) is not None
            if bool(mask[token_id]) != alone:
                raise CheckFailed(f"the token mask after {_b(prefix)} {'allows' if mask[token_id] else 'forbids'} token "
                                  f"{token_id} ({_b(token) if token is not None else 'special'}), but reading it alone "
                                  f"{'succeeds' if alone else 'fails'}")


def check_constraint(constraint: Any, strings: Iterable[bytes | str], *, vocabulary: Sequence[bytes | None] | None = None,
                     alphabet: bytes | str | None = None, depth: int = 6, chunkings: int = 3, longest_chunk: int = 8,
                     mask_states: int = 12, tracked_states: int = 24, completions: bool = True,
                     seed: int = 0) -> ConstraintReport:
    """Check the constraint contract (module docstring) on `strings` (bytes, or str read as UTF-8).

    `vocabulary`: token bytes (None for a special token) for the mask check; by default every
    substring of 1-3 bytes of the strings; `[]` skips it. `alphabet` and `depth`: where to search
    for a completion of a viable prefix when the constraint has no working `shortest_completion`.
    `chunkings` random cuttings (chunks of 1 to `longest_chunk` bytes, from `seed`) besides byte
    by byte and all at once; masks at up to `mask_states` states spread over the strings; the behaviour
    of about `tracked_states` states per string (evenly spaced) is recorded and checked unchanged;
    `completions=False` leaves out the completion of rejected strings' viable prefixes.
    """
    texts = [_as_bytes(s) for s in strings]
    if not texts:
        raise ValueError("check_constraint needs at least one string")
    search_alphabet = None if alphabet is None else bytes(sorted(set(_as_bytes(alphabet))))
    seen = bytes(sorted({b for text in texts for b in text}))
    probes = sorted({seen[:1], seen[-1:]} - {b""})  # besides each state's own continuation
    rng = random.Random(seed)
    all_prefixes, accepted, completed, cuttings = [], 0, 0, 0
    for text in texts:
        prefixes = _Prefixes(constraint, text, probes, tracked_states)
        all_prefixes.append(prefixes)
        whole = constraint.accepts(text)
        bytewise = prefixes.viable == len(text) and bool(constraint.is_accepting(prefixes.states[-1]))
        if whole != bytewise:
            raise CheckFailed(f"accepts({_b(text)}) is {whole} but reading it byte by byte {'accepts' if bytewise else 'rejects'} it")
        for i in (0, prefixes.viable, min(len(text), prefixes.viable + 1)):
            said = constraint.viable(text[:i])
            if said != prefixes.alive_at(i):
                raise CheckFailed(f"viable({_b(text[:i])}) is {said} but byte by byte the prefix is "
                                  f"{'viable' if prefixes.alive_at(i) else 'dead'}")
        if whole:
            accepted += 1
        elif completions:
            completed += _check_completion(constraint, prefixes, search_alphabet, depth, seen)
        for cuts in [[len(text)]] + [_random_cuts(len(text), rng, longest_chunk) for _ in range(chunkings)]:
            if text:
                _check_chunking(constraint, prefixes, cuts)
                cuttings += 1
    masks = 0
    vocabulary = _default_vocabulary(texts) if vocabulary is None else list(vocabulary)
    if vocabulary and mask_states > 0:
        everywhere = [(p.text[:i], state) for p in all_prefixes for i, state in enumerate(p.states)]
        step = max(1, len(everywhere) // mask_states)
        chosen = everywhere[::step][:mask_states]
        _check_masks(constraint, TokenTrie(vocabulary), vocabulary, chosen)
        masks = len(chosen)
    for prefixes in all_prefixes:
        prefixes.check_unchanged(constraint)
    return ConstraintReport(len(texts), accepted, sum(len(p.states) for p in all_prefixes), cuttings, completed, masks)
