"""`ConstrainedDecodePopulation`: constrained generation with every particle a row of a `StaticDecoder`.

The same target and token choice as `ConstrainedGeneration` (the general ppl.Model path,
lm/generation/generation.py), with the forward pass of all particles in one fixed-shape decode
step (one CUDA-graph replay on a GPU) instead of the pooled, prefix-trie server. Per step:
the device computes the tempered next-token probabilities of every row and sorts them
(lm/device/sorted_blocks.py); the host gets the block masses and the top block of each row in
one transfer and runs the token choice (AWRS by default) per unfinished particle, fetching a
deeper block only when a draw reaches it; the chosen tokens go back as the next step's input.
Resampled copies (one constraint state, the same probabilities bit for bit) may draw from one exact
mask instead, where the mask is AWRS's own fallback (`_CopyGroups`).
Finished and dead rows keep feeding EOS (fixed shapes). Resampling gathers KV rows on the
device and the constraint states on the host.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from inference.history.record import ParticleSummary
from inference.result import Particle
from inference.awrs import TokenDraw, WithoutReplacementDraws, token_blocks
from lm.device.sorted_blocks import SortedBatch
from lm.distribution.tempering import temper_logits
from lm.generation.dead_particles import death_cause
from lm.generation.token_choice import accepts_token, draw_token


@dataclass(frozen=True)
class GeneratedText:
    """One particle of constrained generation on the device path: what `ConstrainedGeneration` reports."""

    text: bytes
    token_ids: tuple[int, ...]
    finished: bool
    truncated: bool
    rejected: bool  # the last token choice found nothing the constraint allows
    weight: float
    evaluations: int

    @property
    def output(self) -> str:
        return self.text.decode("utf-8", errors="replace")


_UNSEEN = object()

# Resampled copies at one constraint state switch from AWRS to one shared exact mask when the first copy's
# rejections times the other copies reach this many draws saved (a mask costs about as much as this many draws).
GROUP_SAVED_DRAWS = 24


class _SharedVerdicts:
    """One step's constraint verdicts and masks, shared by the particles at the same state.

    After resampling, copies of a particle hold the same (immutable) constraint state, so a token
    test or a vocabulary mask made for one serves them all; nothing drawn changes.
    """

    def __init__(self, vocabulary: Any, constraint: Any, mask_for: Callable[[Any], Any],
                 candidates_for: Callable[[Any], Any] | None = None):
        self.vocabulary, self.constraint, self.mask_for = vocabulary, constraint, mask_for
        self.candidates_for = candidates_for
        self._verdicts: dict[int, dict[int, Any]] = {}
        self._masks: dict[int, tuple[np.ndarray, int]] = {}
        self._candidates: dict[int, Any] = {}
        self._alive: list[Any] = []  # the states keyed by id() stay alive for the step

    def accepts(self, state: Any, states: dict) -> Callable[[int], bool]:
        verdicts = self._verdicts.get(id(state))
        if verdicts is None:
            verdicts = self._verdicts[id(state)] = {}
            self._alive.append(state)

        def test(token_id: int) -> bool:
            verdict = verdicts.get(token_id, _UNSEEN)
            if verdict is _UNSEEN:
                advanced: dict = {}
                ok = accepts_token(self.vocabulary, self.constraint, state, token_id, advanced)
                verdict = verdicts[token_id] = advanced.get(token_id, True) if ok else None
            if verdict is None:
                return False
            if verdict is not True:
                states[token_id] = verdict
            return True

        return test

    def mask(self, state: Any) -> Callable[[], tuple[np.ndarray, int]]:
        def compute() -> tuple[np.ndarray, int]:
            made = self._masks.get(id(state))
            if made is None:
                made = self._masks[id(state)] = self.mask_for(state)
                self._alive.append(state)
            return made[0].copy(), made[1]

        return compute

    def candidates(self, state: Any) -> Callable[[], Any] | None:
        """AWRS's cheaper fallback set at `state` (generation.vocabulary_candidates), made once per state and step."""
        if self.candidates_for is None:
            return None

        def compute() -> Any:
            if id(state) not in self._candidates:
                self._candidates[id(state)] = self.candidates_for(state)
                self._alive.append(state)
            made = self._candidates[id(state)]
            return None if made is None else (made[0].copy(), made[1])

        return compute


class _CopyGroups:
    """Particles at one constraint state this step; after the first one's AWRS, the others may share one exact mask.

    When the first copy's AWRS rejected r tokens (or fell back to the mask), its k other copies would
    likely repeat about r draws each; if r * k >= GROUP_SAVED_DRAWS (or the mask is made already), the
    copies whose probabilities equal the first's bit for bit draw from p restricted to the state's mask
    instead, with weight Z: the locally optimal proposal, properly weighted like AWRS. The switch depends
    only on draws made before the copies', so each copy's (token, weight) stays properly weighted.
    """

    def __init__(self, states: list[Any], finished: np.ndarray, batch: SortedBatch, shared: _SharedVerdicts):
        self.batch, self.shared = batch, shared
        self.members: dict[int, list[int]] = {}  # first particle of a group -> all of them
        by_state: dict[int, list[int]] = {}
        for i, state in enumerate(states):
            if not finished[i]:
                by_state.setdefault(id(state), []).append(i)
        for members in by_state.values():
            if len(members) > 1:
                self.members[members[0]] = members
        self.first_of: dict[int, int] = {}  # a copy that draws from its group's mask -> the group's first particle
        self.masked: dict[int, tuple[Any, float]] = {}  # first particle -> (blocks of p times the mask or None, log Z)

    def note(self, i: int, draw: TokenDraw) -> None:
        """After particle i's own draw: switch its group's other copies to the mask if that saves enough."""
        members = self.members.get(i)
        if members is None or not (draw.masked or draw.rejections * (len(members) - 1) >= GROUP_SAVED_DRAWS):
            return
        same = self.batch.rows_equal(i, members[1:])
        for j, equal in zip(members[1:], same):
            if equal:
                self.first_of[j] = i

    def draw(self, i: int, state: Any, rng: Any) -> TokenDraw | None:
        """Particle i's token from its group's mask, or None if it draws by itself."""
        first = self.first_of.get(i)
        if first is None:
            return None
        made = self.masked.get(first)
        work = 1
        if made is None:  # the group's first copy to draw here makes the masked blocks (and is charged the mask's work)
            allowed, mask_work = self.shared.mask(state)()
            masked = np.where(allowed, self.batch.row(first).full(), 0.0)
            z = float(masked.sum())
            made = self.masked[first] = (token_blocks(masked), math.log(z)) if z > 0 else (None, -math.inf)
            work += int(mask_work)
        blocks, log_z = made
        if blocks is None:
            return TokenDraw(None, -math.inf, work, 0, masked=True)
        return TokenDraw(WithoutReplacementDraws(blocks).draw(rng), log_z, work, 0, masked=True)


class ConstrainedDecodePopulation:
    """N particles of constrained generation in a StaticDecoder's rows (see the module docstring)."""

    def __init__(self, llm: Any, prompt_ids: Sequence[int], n: int, max_tokens: int, decoder: Any, constraint: Any, *,
                 sampler: str, temperature: float, awrs_budget: int | None, mask_for: Callable[[Any], Any],
                 twist: Callable[[bytes], float] | None = None, potential: Callable[[bytes], float] | None = None,
                 candidates_for: Callable[[Any], Any] | None = None):
        self.llm, self.ids, self.n, self.max_tokens = llm, list(prompt_ids), n, max_tokens
        self.decoder, self.constraint, self.sampler = decoder, constraint, sampler
        self.temperature, self.awrs_budget, self.mask_for = float(temperature), awrs_budget, mask_for
        self.candidates_for = candidates_for
        self.twist_fn, self.potential = twist, potential
        self.vocabulary = llm.vocabulary
        self.eos = int(self.vocabulary.eos_ids[0])
        start = constraint.start()
        self.states = [start] * n
        self.texts = [b""] * n
        self.tokens: list[tuple[int, ...]] = [()] * n
        self.finished = np.zeros(n, dtype=bool)
        self.truncated = np.zeros(n, dtype=bool)
        self.rejected = np.zeros(n, dtype=bool)
        self.log_w = np.zeros(n, dtype=np.float64)
        self.twists = np.zeros(n, dtype=np.float64)
        self.evaluations = np.zeros(n, dtype=np.int64)
        self.t = 0
        self._first = decoder.prefill(self.ids)
        self._last = torch.full((n,), self.eos, dtype=torch.long, device=llm.device)

    def __len__(self) -> int:
        return self.n

    def _probabilities(self) -> torch.Tensor:
        with torch.inference_mode():
            if self.t == 0:
                logits = self._first.expand(self.n, -1)
            else:
                logits = self.decoder.step(self._last, len(self.ids) + self.t - 1)
            return temper_logits(logits.double(), self.temperature)[1].exp()

    def advance(self, rng: Any) -> None:
        self.log_w -= self.twists  # a twist steers one selection, then is removed
        self.twists[:] = 0.0
        batch = SortedBatch(self._probabilities())
        chosen = [self.eos] * self.n
        shared = _SharedVerdicts(self.vocabulary, self.constraint, self.mask_for, self.candidates_for)
        copies = (_CopyGroups(self.states, self.finished, batch, shared)
                  if self.sampler == "awrs" and self.candidates_for is None else None)
        for i in range(self.n):
            if self.finished[i]:
                continue
            states: dict = {}
            state = self.states[i]
            draw = copies.draw(i, state, rng) if copies is not None else None
            if draw is None:
                draw = draw_token(rng, batch.row(i), self.sampler, shared.accepts(state, states),
                                  awrs_budget=self.awrs_budget, mask=shared.mask(state),
                                  candidates=shared.candidates(state))
                if copies is not None:
                    copies.note(i, draw)
            elif draw.token is not None and not shared.accepts(state, states)(draw.token):
                raise ValueError(f"the mask accepts token {draw.token} but the constraint rejects it: they must agree")
            self.evaluations[i] += draw.evaluations
            self.log_w[i] += draw.log_weight
            if draw.token is None or draw.log_weight == -math.inf:
                self.rejected[i] = draw.token is None
                self._kill(i)
                continue
            token = self.vocabulary.tokens[draw.token]
            if token.is_eos:
                if self.potential is not None:
                    self.log_w[i] += float(self.potential(self.texts[i]))
                self.finished[i] = True
                continue
            chosen[i] = draw.token
            self.states[i] = states.get(draw.token, state)
            self.texts[i] += token.bytes
            self.tokens[i] = self.tokens[i] + (draw.token,)
            if len(self.tokens[i]) >= self.max_tokens:
                self.truncated[i] = True
                self._kill(i)
                continue
            if self.twist_fn is not None:
                self.twists[i] = float(self.twist_fn(self.texts[i]))
                self.log_w[i] += self.twists[i]
        self.t += 1
        self._last = torch.tensor(chosen, dtype=torch.long, device=self._last.device)

    def _kill(self, i: int) -> None:
        self.log_w[i] = -math.inf
        self.finished[i] = True

    def status(self) -> tuple[np.ndarray, np.ndarray]:
        return self.log_w.copy(), self.finished.copy()

    def reindex(self, ancestors: np.ndarray, log_weights: np.ndarray) -> None:
        index = [int(a) for a in ancestors]
        with torch.inference_mode():
            device_index = torch.as_tensor(index, dtype=torch.long, device=self._last.device)
            self.decoder.reorder(device_index, len(self.ids) + self.t)
            self._last = self._last[device_index]
        self.states = [self.states[a] for a in index]
        self.texts = [self.texts[a] for a in index]
        self.tokens = [self.tokens[a] for a in index]
        self.finished, self.truncated, self.rejected = self.finished[index], self.truncated[index], self.rejected[index]
        self.twists, self.evaluations = self.twists[index], self.evaluations[index]
        self.log_w = np.asarray(log_weights, dtype=np.float64).copy()
        self.n = len(index)

    def summaries(self) -> list[ParticleSummary]:
        """Each particle's text so far, cause of death and constraint evaluations (read only by a recorded run)."""
        return [ParticleSummary(p.trace.output, death_cause(p.trace) if p.log_weight == -math.inf else "",
                                p.trace.evaluations) for p in self.particles()]

    def particles(self) -> list[Particle]:
        return [Particle(GeneratedText(self.texts[i], self.tokens[i], bool(self.finished[i]), bool(self.truncated[i]),
                                       bool(self.rejected[i]), float(self.log_w[i]), int(self.evaluations[i])), float(self.log_w[i]))
                for i in range(self.n)]
