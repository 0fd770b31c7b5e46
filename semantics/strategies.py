"""Hypothesis strategies for random finite programs, vocabularies and small LMs with known structure.

`bayes_nets` and `hmms` build small random models (a Bayesian network, an HMM) in several
equivalent spellings, so tests can check the interface, combinators and inference algorithms
against `semantics.enumerate` exactly; `vocabularies` draws token vocabularies (for constraint
masks) and `token_lms` small bigram language models over them whose string law is known in
closed form. Users draw from these to test their own kernels, samplers and constraints.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
from hypothesis import strategies as st

import ppl
from ppl import dist

_probability = st.floats(min_value=0.05, max_value=1.0, allow_nan=False)


def _distribution(draw: Any, size: int) -> np.ndarray:
    weights = np.array([draw(_probability) for _ in range(size)])
    return weights / weights.sum()


@dataclass
class BayesNet:
    """A random discrete Bayesian network: latents x0..x{n-1}, each with parents among earlier ones,
    and observations o0..o{k-1} each of one latent."""

    cardinalities: list[int]
    parents: list[tuple[int, ...]]
    tables: list[dict]             # per latent: parent values tuple -> probability vector
    observed: list[tuple[int, int]]  # (latent index, observed value)
    emissions: list[np.ndarray]    # per observation: [latent value, observed value] probabilities
    use_factor: bool = False
    program: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        net = self

        @ppl.gen
        def bayes_net():
            values = []
            for i, card in enumerate(net.cardinalities):
                key = tuple(values[p] for p in net.parents[i])
                values.append(ppl.sample(dist.Categorical(probs=net.tables[i][key]), f"x{i}"))
            for j, (latent, observed) in enumerate(net.observed):
                ppl.observe(dist.Categorical(probs=net.emissions[j][values[latent]]), observed, f"o{j}")
            if net.use_factor:
                ppl.factor(0.25 * sum(values))
            return tuple(values)

        self.program = bayes_net

    def addresses(self) -> list[str]:
        return [f"x{i}" for i in range(len(self.cardinalities))]

    def assignments(self) -> Iterator[dict]:
        """Every full assignment of the latents."""
        for values in itertools.product(*[range(c) for c in self.cardinalities]):
            yield dict(zip(self.addresses(), values))


@st.composite
def bayes_nets(draw: Any, max_latents: int = 3, max_cardinality: int = 3, max_observations: int = 2,
               allow_factor: bool = True) -> BayesNet:
    """A random BayesNet (see BayesNet)."""
    n = draw(st.integers(1, max_latents))
    cards = [draw(st.integers(2, max_cardinality)) for _ in range(n)]
    parents, tables = [], []
    for i in range(n):
        chosen = tuple(sorted(draw(st.sets(st.integers(0, i - 1), max_size=min(2, i))))) if i else ()
        parents.append(chosen)
        tables.append({key: _distribution(draw, cards[i]) for key in itertools.product(*[range(cards[p]) for p in chosen])})
    k = draw(st.integers(0, max_observations))
    observed, emissions = [], []
    for _ in range(k):
        latent = draw(st.integers(0, n - 1))
        size = draw(st.integers(2, 3))
        observed.append((latent, draw(st.integers(0, size - 1))))
        emissions.append(np.stack([_distribution(draw, size) for _ in range(cards[latent])]))
    use_factor = draw(st.booleans()) if allow_factor else False
    return BayesNet(cards, parents, tables, observed, emissions, use_factor)


@dataclass
class HMM:
    """A random discrete hidden Markov model with fixed observations."""

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray
    observations: list[int]

    @property
    def steps(self) -> int:
        return len(self.observations)

    def kernel(self) -> Any:
        """The one-step generative function kernel(t, previous_state) for ppl.unfold."""
        hmm = self

        @ppl.gen
        def hmm_step(t, previous):
            probs = hmm.initial if previous is None else hmm.transition[previous]
            x = ppl.sample(dist.Categorical(probs=probs), "x")
            ppl.observe(dist.Categorical(probs=hmm.emission[x]), hmm.observations[t], "y")
            return x

        return hmm_step

    def unfolded(self) -> Any:
        """The HMM through ppl.unfold: choices at ("steps", t, "x")."""
        chain = ppl.unfold(self.kernel(), self.steps)

        @ppl.gen
        def hmm_unfold():
            return ppl.sample(chain(None), "steps")

        return hmm_unfold

    def handwritten(self) -> Any:
        """The same HMM as an explicit loop, with the same addresses."""
        hmm = self

        @ppl.gen
        def hmm_loop():
            states, previous = [], None
            for t in range(hmm.steps):
                probs = hmm.initial if previous is None else hmm.transition[previous]
                previous = ppl.sample(dist.Categorical(probs=probs), ("steps", t, "x"))
                ppl.observe(dist.Categorical(probs=hmm.emission[previous]), hmm.observations[t], ("steps", t, "y"))
                states.append(previous)
            return states

        return hmm_loop

    def model(self) -> "ppl.Model":
        """The same HMM as a sequential ppl.Model (one step per time step, choice (t, "x"))."""
        return HMMModel(self)


class HMMModel(ppl.Model):
    """A sequential model of an HMM: step t samples x_t and observes y_t."""

    def __init__(self, hmm: HMM):
        super().__init__()
        self.hmm = hmm
        self.state: int | None = None

    def step(self) -> None:
        t = self.step_index
        probs = self.hmm.initial if self.state is None else self.hmm.transition[self.state]
        self.state = self.sample(dist.Categorical(probs=probs), "x")
        self.observe(dist.Categorical(probs=self.hmm.emission[self.state]), self.hmm.observations[t], "y")
        if t + 1 == self.hmm.steps:
            self.finish()


@st.composite
def hmms(draw: Any, max_states: int = 3, max_steps: int = 3, max_symbols: int = 3) -> HMM:
    """A random HMM (see HMM)."""
    k = draw(st.integers(2, max_states))
    m = draw(st.integers(2, max_symbols))
    steps = draw(st.integers(1, max_steps))
    initial = _distribution(draw, k)
    transition = np.stack([_distribution(draw, k) for _ in range(k)])
    emission = np.stack([_distribution(draw, m) for _ in range(k)])
    observations = [draw(st.integers(0, m - 1)) for _ in range(steps)]
    return HMM(initial, transition, emission, observations)


@st.composite
def vocabularies(draw: Any, alphabet: bytes = b"ab", max_tokens: int = 8, max_length: int = 3,
                 specials: bool = True) -> list:
    """A random token vocabulary: distinct non-empty byte strings over `alphabet` (every single byte
    included, so any string can be spelled), and, with `specials`, one special token (None: no bytes)."""
    singles = [bytes((b,)) for b in alphabet]
    longer = draw(st.lists(st.lists(st.sampled_from(singles), min_size=2, max_size=max_length).map(b"".join),
                           max_size=max(0, max_tokens - len(singles)), unique=True))
    tokens = singles + longer
    order = draw(st.permutations(range(len(tokens))))
    return [tokens[i] for i in order] + ([None] if specials else [])


@dataclass
class TokenLM:
    """A random small language model: a bigram model over byte tokens, token 0 being EOS.

    Its exact string distribution is known in closed form (`string_probabilities`), so generation,
    constrained generation and SMC over it can be checked against `semantics.enumerate` exactly."""

    tokens: list            # token id -> bytes; tokens[0] is EOS (b"")
    initial: np.ndarray     # next-token probabilities at the start
    transition: np.ndarray  # [previous token, next token]

    def probs(self, previous: int | None) -> np.ndarray:
        return self.initial if previous is None else self.transition[previous]

    def model(self, max_tokens: int, constraint: Any = None) -> "ppl.Model":
        """Generation as a ppl.Model: a token per step (choice (t, "token")) until EOS or `max_tokens`;
        with a `constraint`, conditioned on its viability after every token and on acceptance at the end."""
        return TokenLMGeneration(self, max_tokens, constraint)

    def string_probabilities(self, max_tokens: int) -> dict:
        """Generated bytes -> probability (a run stops at EOS or after `max_tokens` tokens), exactly."""
        out: dict = {}
        frontier = [(None, b"", 1.0, 0)]
        while frontier:
            previous, text, p, n = frontier.pop()
            if n == max_tokens:
                out[text] = out.get(text, 0.0) + p
                continue
            for token_id, q in enumerate(self.probs(previous)):
                if q == 0:
                    continue
                if token_id == 0:
                    out[text] = out.get(text, 0.0) + p * q
                else:
                    frontier.append((token_id, text + self.tokens[token_id], p * q, n + 1))
        return out


class TokenLMGeneration(ppl.Model):
    """Sampling from a TokenLM (see TokenLM.model); the output is the generated bytes."""

    def __init__(self, lm: TokenLM, max_tokens: int, constraint: Any = None):
        super().__init__()
        self.lm, self.max_tokens, self.constraint = lm, max_tokens, constraint
        self.previous: int | None = None
        self.output = b""
        self.state = None if constraint is None else constraint.start()

    def step(self) -> None:
        token_id = self.sample(ppl.Choice(range(len(self.lm.tokens)), self.lm.probs(self.previous)), "token")
        self.previous = token_id
        if token_id != 0:
            self.output += self.lm.tokens[token_id]
            if self.constraint is not None:
                self.state = self.constraint.advance(self.state, self.lm.tokens[token_id])
                self.condition(self.state is not None)
        if token_id == 0 or self.step_index + 1 == self.max_tokens:
            if self.constraint is not None and self.state is not None:
                self.condition(self.constraint.is_accepting(self.state))
            self.finish()


@st.composite
def token_lms(draw: Any, alphabet: bytes = b"ab", max_tokens: int = 4, max_length: int = 2) -> TokenLM:
    """A random TokenLM over a random vocabulary (EOS first, then vocabularies(alphabet) without specials)."""
    tokens = [b""] + draw(vocabularies(alphabet, max_tokens=max_tokens, max_length=max_length, specials=False))
    size = len(tokens)
    initial = _distribution(draw, size)
    transition = np.stack([_distribution(draw, size) for _ in range(size)])
    return TokenLM(tokens, initial, transition)
