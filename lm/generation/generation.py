"""Constrained generation in one call: SMC with AWRS proposals, and the baselines users compare.

`generate(llm, prompt, constraint, method=...)` targets the *globally* conditioned
distribution p(text | constraint holds) of the language model:

* "smc": each particle extends its text with a token from AWRS (an exact sample of the
  locally constrained next-token distribution plus an unbiased estimate of its normalizer,
  the incremental weight), and SMC resamples on those weights, correcting the myopia of
  local constraint enforcement (Lipkin et al., 2025; Loula et al., 2025). After `awrs_budget`
  rejections (default AWRS_BUDGET) a particle masks the vocabulary instead, still exactly.
* "lcd": locally constrained decoding by token masking (what Outlines, XGrammar and
  llguidance do): the mask is exact, but the weights are ignored, so the samples follow the
  myopic distribution, not the conditioned one. The baseline.
* "rerank": sample from the unconstrained model and keep what satisfies the constraint
  (importance sampling with the prior as proposal; a particle dies as soon as its prefix can no
  longer be completed). Exact but wasteful.

The same `ConstrainedGeneration` model is an ordinary `ppl.Model`, so users can subclass it
or compose it inside their own programs; `twist` steers resampling without changing the
target and `potential` is a soft constraint that does change it.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

import ppl
from inference.result import Particle, Result
from inference.arguments import check_ess_threshold, check_particles, check_scheme
from inference.history.record import ParticleSummary
from inference.history.recorder import HistoryRecorder
from inference.smc_engine.engine import EssResampling, Observer, run_smc
from inference.smc_engine.smc import smc
from inference.token_trie import TokenTrie
from constraints.base import Anything, Constraint
from lm.device.smc_decode import decoder_columns
from lm.errors import UnsupportedModelError
from lm.generation.dead_particles import dead_message, death_cause
from lm.generation.device_generation import ConstrainedDecodePopulation
from lm.generation.token_choice import accepts_token, draw_token, tempered_probabilities
from constraints.token_budget import TokenBudget, spelled_by

METHODS = ("smc", "lcd", "rerank")
ENGINES = ("auto", "device", "general")

# AWRS rejections before a particle falls back to the trie mask: a mask costs at least one advance per
# distinct first byte (256 on byte-level vocabularies), so the fallback costs at most ~1.5 masks;
# measured in benchmarks/results/awrs_fallback_counts.md (docs/generation.md).
AWRS_BUDGET = 128


class ConstrainedGeneration(ppl.Model):
    """Text from a language model, one token per step, under a constraint on its bytes."""

    # Immutable by contract (constraint states never change in place): clones share them.
    shared_attributes = ("constraint", "state", "_next_state", "trie", "twist_fn", "potential")

    def __init__(self, llm: Any, prompt: str, constraint: Constraint | None = None, *, sampler: str = "awrs",
                 max_tokens: int = 128, temperature: float = 1.0, twist: Callable[[bytes], float] | None = None,
                 potential: Callable[[bytes], float] | None = None, trie: TokenTrie | None = None,
                 awrs_budget: int | None = AWRS_BUDGET, budget: bool = True, fallback: str = "auto"):
        super().__init__()
        if fallback not in ("auto", "candidates", "mask"):
            raise ValueError(f"fallback must be 'auto', 'candidates' or 'mask', got {fallback!r}")
        if sampler not in ("awrs", "mask", "prior"):
            raise ValueError(f"sampler must be 'awrs', 'mask' or 'prior', got {sampler!r}")
        if awrs_budget is not None and (isinstance(awrs_budget, bool) or not isinstance(awrs_budget, int)
                                        or awrs_budget < 0):
            raise ValueError(f"awrs_budget must be a non-negative int or None, got {awrs_budget!r}")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
        self.llm = llm
        self.context = llm.context(prompt)
        self.constraint = constraint if constraint is not None else Anything()
        # Token budget (issue 16): a token is viable only if the text can still finish, EOS included,
        # within max_tokens (constraints/token_budget.py; the target is in docs/generation.md).
        if budget:
            spelling = trie if trie is not None else vocabulary_trie(llm)
            self.constraint = TokenBudget(self.constraint, max_tokens, tokens=spelled_by(spelling))
        self.state = self.constraint.start()
        self.fallback = "candidates" if uses_candidates(self.constraint, fallback) else "mask"
        self.sampler = sampler
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.twist_fn = twist
        self.potential = potential
        self.trie = trie if trie is not None or sampler != "mask" else vocabulary_trie(llm)
        self.awrs_budget = awrs_budget
        self.text = b""
        self.truncated = False
        self.rejected = False  # the constraint (budget included) refused every token
        self.evaluations = 0

    def _mask(self) -> tuple[np.ndarray, int]:
        """Token masking's accept mask at the current state and its constraint work (the trie built on first use)."""
        trie = self.trie if self.trie is not None else vocabulary_trie(self.llm)
        return vocabulary_mask(self.llm, trie, self.constraint, self.state)

    def _candidates(self) -> tuple[np.ndarray, int] | None:
        """A cheaper superset of the mask for AWRS's fallback (`vocabulary_candidates`)."""
        trie = self.trie if self.trie is not None else vocabulary_trie(self.llm)
        return vocabulary_candidates(self.llm, trie, self.constraint, self.state)

    def _draw(self, rng: Any, logprobs: np.ndarray) -> tuple[Any, float]:
        states: dict = {}
        draw = draw_token(rng, tempered_probabilities(logprobs, self.temperature), self.sampler,
                          lambda i: accepts_token(self.llm.vocabulary, self.constraint, self.state, i, states),
                          awrs_budget=self.awrs_budget, mask=self._mask,
                          candidates=self._candidates if self.fallback == "candidates" else None)
        self.evaluations += draw.evaluations
        if draw.token is None:
            self.rejected = True
            return None, -math.inf
        self._next_state = states.get(draw.token, self.state)
        return self.llm.vocabulary.tokens[draw.token], draw.log_weight

    async def step(self) -> None:
        logprobs = await self.context.next_token_logprobs()
        token = self.sample_with(lambda rng: self._draw(rng, logprobs), "token")
        if token is None:
            return
        if token.is_eos:
            if self.potential is not None:
                self.factor(self.potential(self.text))
            self.finish()
            return
        self.state = self._next_state
        self.text += token.bytes
        self.context.extend(token)
        if len(self.context) - self.context.prompt_length >= self.max_tokens:
            self.truncated = True
            self.condition(False)
            return
        if self.twist_fn is not None:
            self.twist(self.twist_fn(self.text))

    @property
    def output(self) -> str:
        return self.text.decode("utf-8", errors="replace")

    def summary(self) -> ParticleSummary:
        """The text so far, why the particle died (if it did) and its constraint evaluations: a recorded run's view."""
        return ParticleSummary(self.output, death_cause(self) if self.weight == -math.inf else "", self.evaluations)


def vocabulary_trie(llm: Any) -> TokenTrie:
    """The byte trie of a model's ordinary tokens (specials and EOS left out), built once per model."""
    cached = getattr(llm, "_token_trie", None)
    if cached is None:
        tokens = llm.vocabulary.tokens
        cached = TokenTrie([t.bytes if t is not None and not t.is_special and not t.is_eos else None for t in tokens])
        llm._token_trie = cached
    return cached


def vocabulary_mask(llm: Any, trie: TokenTrie, constraint: Constraint, state: Any) -> tuple[np.ndarray, int]:
    """The tokens `ConstrainedGeneration` accepts at `state`, by one trie walk, and its work (advances + 1).

    Ordinary tokens by `trie.mask`; every end-of-sequence id iff the text is complete (the +1).
    """
    mask, advances = constraint.token_mask(trie, state)
    mask[list(llm.vocabulary.eos_ids)] = constraint.is_accepting(state)
    return mask, advances + 1


def uses_candidates(constraint: Constraint, fallback: str = "auto") -> bool:
    """Whether AWRS falls back among the constraint's candidates: forced by `fallback`, or ("auto") where its
    budget test costs a search per token (`Constraint.costly_completions`: SQL); else the exact mask, which
    is cheaper where the test is (JSON, regexes)."""
    return fallback == "candidates" or (fallback == "auto" and getattr(constraint, "costly_completions", False))


def vocabulary_candidates(llm: Any, trie: TokenTrie, constraint: Constraint, state: Any) -> tuple[np.ndarray, int] | None:
    """A cheaper superset of `vocabulary_mask` for AWRS's fallback (`Constraint.token_candidates`; None where the
    constraint has none), every end-of-sequence id included (the test of a drawn one decides)."""
    found = constraint.token_candidates(trie, state)
    if found is None:
        return None
    mask, work = found
    mask[list(llm.vocabulary.eos_ids)] = True
    return mask, work + 1


def generate(llm: Any, prompt: str, constraint: Constraint | None = None, *, particles: int = 8, method: str = "smc",
             max_tokens: int = 128, ess_threshold: float = 0.5, resampling: str = "systematic", rng: Any = 0,
             temperature: float = 1.0, twist: Callable[[bytes], float] | None = None,
             potential: Callable[[bytes], float] | None = None, proposal: str = "awrs", engine: str = "auto",
             on_step: Observer | None = None, budget: bool = True, record: bool = False) -> Result:
    """Generate text continuing `prompt` under `constraint`; see the module docstring for the methods.

    Returns an inference Result whose `samples` are the distinct generated strings with their
    posterior probabilities; an unsatisfiable constraint ends with all particles dead and a
    message saying that no valid continuation was found (never a hang: at most `max_tokens` steps).
    With method="smc", `proposal` is "awrs" (few constraint checks per token, an unbiased weight)
    or "mask" (the whole vocabulary checked, the exact local normalizer as weight).
    `engine` picks the particles' home: "device" (rows of a static, graph-recorded KV cache:
    lm/generation/device_generation.py), "general" (ppl.Model particles over the pooled prefix-trie
    cache), or "auto" (device on CUDA when the architecture allows, general elsewhere). Both
    sample the same target. `on_step(info)` is called after every SMC step.
    With `budget` (default) a token is viable only if the text can still finish within max_tokens
    (constraints.token_budget.TokenBudget); a constraint whose shortest output cannot fit raises
    BudgetTooSmall before generation. `record=True` keeps every step's particles in `result.history`.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if proposal not in ("awrs", "mask"):
        raise ValueError(f"proposal must be 'awrs' or 'mask', got {proposal!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    sampler = {"smc": proposal, "lcd": "mask", "rerank": "prior"}[method]
    if budget:  # the token budget is part of the target on both paths (constraints/token_budget.py)
        constraint = TokenBudget(constraint if constraint is not None else Anything(), max_tokens,
                                 tokens=spelled_by(vocabulary_trie(llm)))
    threshold = ess_threshold if method == "smc" else 0.0
    decoder = device_decoder(llm, prompt, particles, max_tokens, engine)
    if decoder is not None:
        result = _device_generate(llm, prompt, constraint, decoder, sampler=sampler, particles=particles,
                                  max_tokens=max_tokens, threshold=threshold, resampling=resampling, rng=rng,
                                  temperature=temperature, twist=twist, potential=potential, on_step=on_step,
                                  record=record)
    else:
        model = ConstrainedGeneration(llm, prompt, constraint, sampler=sampler, max_tokens=max_tokens,
                                      temperature=temperature, twist=twist, potential=potential, budget=False)
        result = smc(model, particles=particles, ess_threshold=threshold, resampling=resampling, rng=rng,
                     max_steps=max_tokens + 1, on_step=on_step, record=record)
    population = [p.trace for p in result.particles]
    if method == "lcd":
        # Token masking keeps every particle that reached EOS with equal weight: the myopic distribution.
        log_weights = [0.0 if p.finished and p.weight > -math.inf else -math.inf for p in population]
    else:
        log_weights = [p.weight for p in population]
    message = result.message
    if all(w == -math.inf for w in log_weights):  # the dominant cause first (lm/generation/dead_particles.py)
        message = dead_message(population, method=method, max_tokens=max_tokens, window=None)
    return Result([Particle(p, w) for p, w in zip(population, log_weights)], result.log_ml,
                  message=message, steps=result.steps, output=lambda p: p.output, history=result.recorded)


def device_decoder(llm: Any, prompt: Any, particles: int, max_tokens: int, engine: str) -> Any:
    """The static decoder the device path runs on, or None for the general path ("auto": CUDA only).

    An architecture the static decoder does not know falls back to the general path with a warning
    (an error when engine="device" was asked for).
    """
    if engine == "general" or (engine == "auto" and getattr(llm, "device", None) is None):
        return None
    if engine == "auto" and llm.device.type != "cuda":
        return None
    ids = llm.prompt_ids(prompt)
    steps = max(1, min(max_tokens, llm.window - len(ids)))
    try:
        return llm.static_decoder(check_particles(particles), decoder_columns(llm, len(ids), steps), None)
    except UnsupportedModelError as e:
        if engine == "device":
            raise
        warnings.warn(f"generate: the device path is not available for this model ({e}); "
                      "running on the general path, which is slower on a GPU", RuntimeWarning, stacklevel=3)
        return None


def _device_generate(llm: Any, prompt: Any, constraint: Constraint | None, decoder: Any, *, sampler: str,
                     particles: int, max_tokens: int, threshold: float, resampling: str, rng: Any,
                     temperature: float, twist: Any, potential: Any, on_step: Observer | None,
                     record: bool = False) -> Result:
    ids = llm.prompt_ids(prompt)
    constraint = constraint if constraint is not None else Anything()
    steps = min(max_tokens, llm.window - len(ids))

    def mask_for(state: Any) -> tuple[np.ndarray, int]:
        return vocabulary_mask(llm, vocabulary_trie(llm), constraint, state)

    def candidates_for(state: Any) -> tuple[np.ndarray, int] | None:
        return vocabulary_candidates(llm, vocabulary_trie(llm), constraint, state)

    population = ConstrainedDecodePopulation(llm, ids, check_particles(particles), steps, decoder, constraint,
                                             sampler=sampler, temperature=float(temperature),
                                             awrs_budget=AWRS_BUDGET, mask_for=mask_for, twist=twist,
                                             potential=potential,
                                             candidates_for=candidates_for if uses_candidates(constraint) else None)
    selection = EssResampling(check_ess_threshold(threshold), check_scheme(resampling))
    return run_smc(population, ppl.rng(rng), selection, max_steps=steps + 1, name="generate", observer=on_step,
                   history=HistoryRecorder() if record else None)
