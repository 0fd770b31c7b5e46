"""Adaptive weighted rejection sampling (AWRS) over a categorical of tokens.

Anchor: Lipkin et al., 2025, "Fast Controlled Generation from Language Models with Adaptive
Weighted Rejection Sampling". We sample from the locally constrained distribution
p(x) c(x) / Z by drawing tokens from p *without replacement* and testing only those, and
return with the token an unbiased estimate of Z that SMC uses as the incremental weight.

The estimator is our derivation (Des Raj's estimator for successive sampling). Let v_1, v_2,
... be the draws without replacement, M_{j-1} the probability mass drawn before draw j and
S_{j-1} the accepted mass among those draws. Then

    t_j = S_{j-1} + c(v_j) (1 - M_{j-1})

satisfies E[t_j | draws before j] = Z, because v_j is drawn from p restricted to the
undrawn tokens, whose accepted mass is Z - S_{j-1}. Hence t_T is unbiased for any T fixed
before draw T is made. With K the index of the first accepted draw (the returned token x),
we use the mean of t_{K+1}, ..., t_{K+L}: each is conditionally unbiased given x, so
E[Z_hat | x] = Z and the pair (x, Z_hat) is properly weighted for p c. L = 1 costs one extra
constraint evaluation per token.

Bounding the work: a rejection budget C (`max_rejections`). If one of the first C draws is
accepted, nothing changes. If all C are rejected (event R_C), there are two ways to finish:

* with a `mask` (the whole-vocabulary accept mask, computed only now): draw the token from p
  restricted to the accepted tokens A (all of them undrawn, the C draws being rejected) and
  return log Z exactly, Z = p(A). Z = 0 gives token None and weight -inf: no valid continuation.
  Exactness. In the uncapped sampler, given rejected draws v_1..v_{j-1}, v_j is p restricted to
  the undrawn tokens, which include all of A; so given also that v_j is accepted, v_j ~ p c / Z,
  whatever j and the rejected history. Hence given R_C the first accepted token has law p c / Z,
  which is exactly what the fallback draws, and off R_C the sampler is unchanged: x ~ p c / Z.
  Weights: off R_C, x = v_K and 1{x = v, not R_C} are functions of v_1..v_K, and
  E[Z_hat | v_1..v_K] = Z (Des Raj, above); on R_C, Z_hat = Z. So for every token v
      E[Z_hat 1{x=v}] = Z P(x=v, not R_C) + Z P(x=v, R_C) = Z P(x=v) = p(v) c(v).
  The work is at most C tests + the mask's work + 1 (the chosen token is tested, which gives
  the caller its constraint state and checks that mask and `accepts` agree on it).
* with `candidates` (a superset of A that is much cheaper to find than the mask, such as a grammar's
  mask under a token budget whose own test costs a search per token): remove the C rejected draws D
  from it, leaving mass m = p(candidates minus D), and run AWRS without a cap on p restricted to what
  is left, normalized. That draw has law p c / Z exactly (A lies inside what is left), and its
  estimate Z_q has conditional mean p(A) / m given the token; the weight m Z_q has mean Z = p(A).
  The same argument as for the mask then makes the whole draw properly weighted, with only the
  drawn candidates tested instead of every token of A.
* without a mask: draw v_{C+1} without testing-before-choosing and return it with weight
  t_{C+1} = c(v_{C+1}) (1 - M_C) (one test). Properly weighted by the same unbiasedness of t_{C+1}
  (a rejected v_{C+1} is returned as None, weight 0), but the token law is no longer p c / Z and
  a rejection kills the particle; kept for callers without a mask.

`TokenDraw.evaluations` counts constraint work: one per distinct token passed to `accepts`, plus
the work the mask reports (for `TokenTrie.mask`, its constraint advances, one per trie edge).

Every random decision is a call to `rng.categorical`, so the sampler can be run under the
enumerating rng and checked exactly (tests/test_awrs_exact.py).

Drawing without replacement costs O(sqrt |V|) per draw, not O(|V|): the vocabulary is cut into
about sqrt |V| contiguous blocks with their masses (`TokenBlocks`, one O(|V|) pass per
distribution; a single block up to 2,048 tokens, where a categorical's fixed cost dominates); a draw picks a block by its remaining mass, then a token inside it, both by
`rng.categorical`, so the composite law is p restricted to the undrawn tokens. Only touched
blocks are copied, and a touched block's mass is re-summed from its members after each removal
(never decremented), so the undrawn mass stays a direct sum of undrawn probabilities: no
cancellation when one token holds almost all the mass. An inverse-CDF first draw (O(log |V|)
from the LM's cumulative sums) is not used: it needs `rng.uniform`, which cannot be enumerated,
and block masses taken as CDF differences lose the small blocks next to a dominant token.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class TokenDraw:
    """A token from the locally constrained distribution and its properly weighted log Z estimate.

    `token` is None when no token can be accepted (Z = 0): then `log_weight` is -inf.
    `evaluations` is the constraint work (distinct token tests plus the mask's reported work);
    `masked` says the rejection budget ran out and the token came from the mask (weight Z exactly).
    """

    token: int | None
    log_weight: float
    evaluations: int
    rejections: int
    masked: bool = False


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """A float64 softmax that keeps tiny probabilities (near-deterministic LMs stay exact)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()


_total = np.add.reduce  # ndarray.sum without its wrapper (the same pairwise sum): twice per draw

# Up to about this many tokens one categorical's fixed cost outweighs scanning them all: one block.
SINGLE_BLOCK_LIMIT = 2048


@dataclass(frozen=True)
class TokenBlocks:
    """Next-token probabilities cut into contiguous blocks of `block_size`, with each block's mass.

    Built by `token_blocks` (one O(|V|) pass); a distribution sampled several times can be blocked
    once and passed to `awrs` in place of its probabilities. `probs` is a read-only view.
    """

    probs: np.ndarray
    block_size: int
    masses: np.ndarray  # masses[b] = probs[b * block_size:(b + 1) * block_size].sum()

    def block(self, b: int) -> tuple[np.ndarray, int]:
        """A copy of block b's probabilities and the token id of its first member (blocks are contiguous)."""
        start = b * self.block_size
        return self.probs[start:start + self.block_size].copy(), start

    def full(self) -> np.ndarray:
        """Every token's probability, in token-id order."""
        return self.probs


def token_blocks(probs: np.ndarray, block_size: int | None = None) -> TokenBlocks:
    """Block `probs` (non-negative, finite, 1-D) into blocks of `block_size`.

    Default: ceil(sqrt |V|), or one block for at most SINGLE_BLOCK_LIMIT tokens.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D array, got shape {p.shape}")
    if block_size is None:
        block_size = p.size if p.size <= SINGLE_BLOCK_LIMIT else math.isqrt(p.size - 1) + 1
    elif isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    block_size = int(block_size)
    masses = np.add.reduceat(p, np.arange(0, p.size, block_size))
    if not np.isfinite(masses).all():
        bad = int(np.flatnonzero(~np.isfinite(p))[0])
        raise ValueError(f"probs must be finite: probs[{bad}] = {p[bad]}")
    if p.min() < 0:
        bad = int(np.argmin(p))
        raise ValueError(f"probs must be non-negative: probs[{bad}] = {p[bad]}")
    view = p.view()
    view.flags.writeable = False
    return TokenBlocks(view, block_size, masses)


class WithoutReplacementDraws:
    """Successive draws from blocked probabilities without replacement, each O(block count + block size).

    `blocks` is a `TokenBlocks` or anything with the same `masses`, `block(b)` and `full()` (e.g. a
    row of a GPU batch sorted by probability whose blocks reach the host only when touched).
    A draw is two `rng.categorical` calls: a block by its undrawn mass, then a token of that
    block by its probability; the product is p(token) / undrawn mass, the flat law. The first
    is skipped while one block alone has mass left (its only outcome has probability 1).
    """

    def __init__(self, blocks: Any):
        self._blocks = blocks
        self._masses = np.array(blocks.masses, dtype=np.float64)
        self._positive_blocks = int(np.count_nonzero(self._masses))
        self._touched: dict[int, tuple[np.ndarray, Any]] = {}  # block -> (probabilities, drawn ones zeroed; ids)
        self.probability = 0.0  # p of the token the last draw returned

    def undrawn_mass(self) -> float:
        """The probability of the tokens not drawn yet, summed directly (0 once all are drawn)."""
        return float(_total(self._masses))

    def draw(self, rng: Any) -> int:
        """An undrawn token, with probability proportional to p; call only while undrawn_mass() > 0."""
        masses = self._masses
        if self._positive_blocks == 1:  # a categorical with one possible outcome: skipping it changes no law
            block = int(np.flatnonzero(masses)[0])
        else:
            block = int(rng.categorical(masses))
        touched = self._touched.get(block)
        if touched is None:
            touched = self._touched[block] = self._blocks.block(block)
        members, ids = touched
        index = int(rng.categorical(members))
        self.probability = float(members[index])
        members[index] = 0.0
        left = float(_total(members))
        masses[block] = left
        if left == 0.0:
            self._positive_blocks -= 1
        return ids + index if isinstance(ids, int) else int(ids[index])


def awrs(rng: Any, probs: "np.ndarray | TokenBlocks | Any", accepts: Callable[[int], bool], *, extra_draws: int = 1,
         max_rejections: int | None = None, mask: Callable[[], tuple[np.ndarray, int]] | None = None,
         candidates: Callable[[], "tuple[np.ndarray, int] | None"] | None = None) -> TokenDraw:
    """Sample x ~ p(x)c(x)/Z without testing the whole vocabulary; return x and log Z_hat.

    `probs` are the LM's next-token probabilities (float64, summing to 1), or their `token_blocks`;
    `accepts(i)` is the constraint's test of token i. `extra_draws` (L >= 1) continuation draws
    estimate Z. `max_rejections` (C) bounds the rejection loop (None: no bound); after C rejections,
    `mask()` -> (boolean accept mask over the vocabulary, constraint work it did) is called and the
    token drawn from it with the exact Z as weight, or, without `mask`, one untested draw is returned
    (see the module docstring). `mask` must agree with `accepts` on every token. `candidates()`, if given,
    is tried first after C rejections: (a boolean superset of the accepted tokens, its work), or None to
    use the mask; the token is then drawn among the candidates, testing only those drawn.
    """
    if extra_draws < 1:
        raise ValueError(f"extra_draws must be >= 1, got {extra_draws}")
    if max_rejections is not None and max_rejections < 0:
        raise ValueError(f"max_rejections must be >= 0 or None, got {max_rejections}")
    if mask is not None and max_rejections is None:
        raise ValueError("mask is only used after max_rejections rejections: give max_rejections too")
    blocks = probs if hasattr(probs, "masses") else token_blocks(probs)
    draws = WithoutReplacementDraws(blocks)
    known: dict[int, bool] = {}
    accepted_mass = 0.0
    evaluations = 0

    def test(token: int) -> bool:
        nonlocal evaluations
        if token not in known:
            known[token] = bool(accepts(token))
            evaluations += 1
        return known[token]

    rejections = 0
    while True:
        undrawn = draws.undrawn_mass()
        if undrawn <= 0.0:
            return TokenDraw(None, -math.inf, evaluations, rejections)
        capped = max_rejections is not None and rejections >= max_rejections
        superset = candidates() if capped and mask is not None and candidates is not None else None
        if superset is not None:
            token, log_z, work = _draw_from_candidates(rng, blocks.full(), superset, known, test)
            evaluations += work
            return TokenDraw(token, log_z, evaluations, rejections, masked=True)
        if capped and mask is not None:
            token, log_z, work = _draw_from_mask(rng, blocks.full(), mask, rejected=known)
            evaluations += work
            if token is not None and not test(token):
                raise ValueError(f"mask() accepts token {token} but accepts({token}) rejects it: they must agree")
            return TokenDraw(token, log_z, evaluations, rejections, masked=True)
        token = draws.draw(rng)
        if capped:
            weight = undrawn if test(token) else 0.0
            return TokenDraw(token if weight > 0 else None, _log(weight), evaluations, rejections)
        if test(token):
            accepted_mass += draws.probability
            break
        rejections += 1

    chosen = token
    estimates = []
    for _ in range(extra_draws):
        undrawn = draws.undrawn_mass()
        if undrawn <= 0.0:  # everything drawn: Z is known exactly
            estimates.append(accepted_mass)
            continue
        token = draws.draw(rng)
        ok = test(token)
        estimates.append(accepted_mass + (undrawn if ok else 0.0))
        if ok:
            accepted_mass += draws.probability
    return TokenDraw(chosen, _log(sum(estimates) / len(estimates)), evaluations, rejections)


def _draw_from_mask(rng: Any, p: np.ndarray, mask: Callable[[], tuple[np.ndarray, int]],
                    rejected: dict[int, bool]) -> tuple[int | None, float, int]:
    """A token from p restricted to mask() (None if its mass Z is 0), log Z, and the mask's reported work."""
    allowed, work = _token_set(mask(), p, "mask()", "accept mask")
    for token in rejected:  # the budget ran out, so every token drawn so far was rejected by accepts()
        if allowed[token]:
            raise ValueError(f"mask() accepts token {token} but accepts({token}) rejected it: they must agree")
    draw = masked_sample(rng, p, allowed)  # accepted tokens are undrawn ones, so this is p c restricted to them
    return draw.token, draw.log_weight, int(work)


def _token_set(result: Any, p: np.ndarray, source: str, what: str) -> tuple[np.ndarray, int]:
    """`result` checked as (boolean array over the vocabulary, constraint work), as `source` must return it."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ValueError(f"{source} must return ({what}, constraint work), got {type(result).__name__}")
    allowed, work = result
    allowed = np.asarray(allowed)
    if allowed.dtype != np.bool_ or allowed.shape != p.shape:
        raise ValueError(f"{source} must return a boolean array of shape {p.shape}, got {allowed.dtype} {allowed.shape}")
    return allowed, work


def _draw_from_candidates(rng: Any, p: np.ndarray, superset: tuple, rejected: dict[int, bool],
                          test: Callable[[int], bool]) -> tuple[int | None, float, int]:
    """A token from p restricted to the candidates less the rejected draws, by uncapped AWRS over them, with
    its weight times their mass (module docstring), and the work the candidates' search reported."""
    allowed, work = _token_set(superset, p, "candidates()", "superset mask")
    left = np.where(allowed, p, 0.0)
    left[list(rejected)] = 0.0  # the budget ran out: every token drawn so far was rejected
    mass = float(left.sum())
    if mass <= 0.0:
        return None, -math.inf, int(work)
    draw = awrs(rng, left / mass, test)
    if draw.token is None:
        return None, -math.inf, int(work)
    return draw.token, draw.log_weight + math.log(mass), int(work)


def masked_sample(rng: Any, probs: np.ndarray, mask: np.ndarray) -> TokenDraw:
    """Locally constrained decoding: sample from p restricted to `mask`; the weight is Z exactly."""
    constrained = np.where(mask, np.asarray(probs, dtype=np.float64), 0.0)
    z = float(constrained.sum())
    if z <= 0.0:
        return TokenDraw(None, -math.inf, int(len(mask)), 0)
    return TokenDraw(rng.categorical(constrained), math.log(z), int(len(mask)), 0)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf
