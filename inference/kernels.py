"""MCMC kernels over traces: selection Metropolis-Hastings, custom-proposal MH, enumerative Gibbs.

A kernel is any callable `kernel(rng, trace) -> (new_trace, accepted)` that leaves the
posterior of the trace's generative function invariant; `accepted` says whether the move
changed the state. A callable returning just the new trace is taken too (see `run_kernel`),
so e.g. conditional-SMC kernels compose with these. Kernels touch the model only through the generative-function interface of
`trace.gen_fn`, and draw every discrete decision (accept/reject, which Gibbs value) through
`rng.categorical`, so they can be run under the enumerating rng and their exact transition
matrices checked against the exact posterior.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ppl.choicemap import ChoiceMap, Selection, as_path, select
from ppl.errors import AddressError, ModelError, NotFiniteError, SupportError
from ppl.generative import GenerativeFunction
from ppl.trace import Trace

from inference.trace_sites import leaf_at

Kernel = Callable[[Any, Trace], "tuple[Trace, bool]"]


def accept(rng: Any, log_alpha: float) -> bool:
    """True with probability min(1, exp(log_alpha)), drawn as rng.categorical([1 - a, a])."""
    log_alpha = float(log_alpha)
    if math.isnan(log_alpha):
        raise ModelError("MH acceptance log-ratio is NaN: the current trace probably has probability zero "
                         "(score -inf); start the chain from a trace with positive probability")
    a = 1.0 if log_alpha >= 0.0 else math.exp(log_alpha)
    return rng.categorical(np.array([1.0 - a, a])) == 1


def run_kernel(kernel: Kernel, rng: Any, trace: Trace) -> tuple[Trace, bool]:
    """One step of `kernel` as (trace, accepted); a bare returned trace counts as accepted if it is a new one."""
    out = kernel(rng, trace)
    if isinstance(out, Trace):
        return out, out is not trace
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Trace):
        return out[0], bool(out[1])
    raise TypeError(f"kernel {kernel!r} must return (trace, accepted) or a trace, got {type(out).__name__}: {out!r:.200}")


class TraceKernel:
    """Base of the built-in kernels: a callable with a readable repr."""

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        raise NotImplementedError


def _selection(addresses: tuple) -> Selection:
    if len(addresses) == 1 and isinstance(addresses[0], Selection):
        return addresses[0]
    if not addresses:
        raise ValueError("mh needs a selection: mh(ppl.select('x', ...)) or mh('x', ...)")
    if any(isinstance(a, Selection) for a in addresses):
        raise TypeError("mh takes one Selection or several addresses, not a mixture of both")
    for a in addresses:
        as_path(a)
    return select(*addresses)


def _selects_something(selection: Selection, trace: Trace) -> bool:
    return any(address in selection for address in trace.choices.addresses())


class SelectionMH(TraceKernel):
    """Resample the selected choices from the prior (regenerate); accept with min(1, exp(w))."""

    def __init__(self, selection: Selection):
        self.selection = selection

    def __repr__(self) -> str:
        named = self.selection.addresses()
        if named and all(address in self.selection for address in named):
            return f"mh({', '.join(repr(p[0] if len(p) == 1 else p) for p in named)})"
        return f"mh({self.selection!r})"

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        if not _selects_something(self.selection, trace):
            raise AddressError(f"{self!r}: the selection names no choice of the trace; "
                               f"its addresses are {_addresses(trace)}")
        new, log_weight = trace.gen_fn.regenerate(rng, trace, self.selection)
        if accept(rng, log_weight):
            return new, True
        return trace, False


def mh(*selection: Any) -> SelectionMH:
    """Selection Metropolis-Hastings: `mh(ppl.select("x", "y"))` or `mh("x", "y")`.

    Proposes the selected choices afresh from the prior via `regenerate`. Raises AddressError
    at a step where the selection names no choice of the current trace.
    """
    return SelectionMH(_selection(selection))


class ProposalMH(TraceKernel):
    """MH with a custom proposal: a generative function q(trace, *args) over model addresses."""

    def __init__(self, proposal: GenerativeFunction, args: tuple):
        if not isinstance(proposal, GenerativeFunction):
            raise TypeError(f"mh_proposal needs a generative function (made with @ppl.gen) as the proposal, "
                            f"got {type(proposal).__name__}")
        self.proposal, self.args = proposal, args

    def __repr__(self) -> str:
        return f"mh_proposal({self.proposal.name})"

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        forward = self.proposal.simulate(rng, trace, *self.args)
        proposed = forward.choices
        try:
            new, weight, discard = trace.gen_fn.update(rng, trace, proposed)
        except SupportError:
            accept(rng, -math.inf)  # the proposed state has density zero: a certain rejection
            return trace, False
        except AddressError as e:
            raise AddressError(f"{self!r}: the proposal proposed a choice the model lacks: {e}") from None
        self._check_nothing_fresh(trace, new, proposed)
        try:
            backward_score, _ = self.proposal.assess(discard, new, *self.args)
        except AddressError as e:
            raise AddressError(f"{self!r}: the proposal cannot propose the way back (it must propose exactly the "
                               f"choices the update discards): {e}") from None
        if accept(rng, weight - forward.score + backward_score):
            return new, True
        return trace, False

    def _check_nothing_fresh(self, old: Trace, new: Trace, proposed: ChoiceMap) -> None:
        old_addresses = old.choices.addresses()
        new_addresses = new.choices.addresses()
        if len(new_addresses) == len(old_addresses) and set(new_addresses) == set(old_addresses):
            return
        fresh = set(new_addresses) - set(old_addresses) - set(proposed.addresses())
        if fresh:
            raise ModelError(f"{self!r}: the move created choices {sorted(fresh, key=repr)} that the proposal did not "
                             f"propose; the proposal must propose every new choice")


def mh_proposal(proposal: GenerativeFunction, *args: Any) -> ProposalMH:
    """Metropolis-Hastings with a custom proposal `proposal(trace, *args)`.

    The proposal's choices are imposed on the trace with `update`; the discarded old values
    are scored by the proposal run at the new trace, so the acceptance log-ratio is
    w_update + log q(discard; new) - log q(proposed; old). A proposed state outside the
    model's support is rejected.
    """
    return ProposalMH(proposal, args)


class Gibbs(TraceKernel):
    """Resample one discrete choice from its exact conditional, by enumerating its support."""

    def __init__(self, address: Any):
        self.path = as_path(address)
        self.address = address

    def __repr__(self) -> str:
        return f"gibbs({self.address!r})"

    def __call__(self, rng: Any, trace: Trace) -> tuple[Trace, bool]:
        leaf = leaf_at(trace, self.path)
        if leaf is None:
            raise AddressError(f"{self!r}: the trace has no choice at address {self.address!r}; "
                               f"its addresses are {_addresses(trace)}")
        values = leaf.primitive.enumerate_support()
        if values is None:
            raise NotFiniteError(f"{self!r}: the choice at {self.address!r} ({leaf.primitive!r}) has no finite support "
                                 "to enumerate; use mh or mh_proposal for it")
        candidates: list[Trace | None] = []
        log_weights = np.full(len(values), -np.inf)
        for i, value in enumerate(values):
            if np.array_equal(np.asarray(value), np.asarray(leaf.value)):
                candidates.append(trace)
                log_weights[i] = 0.0
                continue
            candidates.append(None)
            try:
                new, weight, discard = trace.gen_fn.update(rng, trace, {self.path: value})
            except SupportError:
                continue
            if len(discard) != 1 or len(new.choices) != len(trace.choices):
                raise ModelError(f"{self!r}: changing the choice at {self.address!r} changes which other choices the "
                                 "program makes; Gibbs by enumeration needs a fixed structure (use mh)")
            candidates[i] = new
            log_weights[i] = weight
        top = log_weights.max()
        index = rng.categorical(np.exp(log_weights - top))
        chosen = candidates[index]
        return chosen, chosen is not trace


def gibbs(address: Any) -> Gibbs:
    """Gibbs update of the finite discrete choice at `address` by enumeration of its support."""
    return Gibbs(address)


def _addresses(trace: Trace) -> list:
    shown = [p[0] if len(p) == 1 else p for p in trace.choices.addresses()]
    return shown if len(shown) <= 20 else shown[:20] + ["..."]
