"""Finding the leaf random choices inside a trace, by address.

A composite trace keeps its sub-traces by the address path of each `ppl.sample` call; a
nested generative function's choices live in its own sub-trace. MCMC kernels need the leaf
(its distribution and value) at an address, e.g. to enumerate a discrete choice's support.
"""
from __future__ import annotations

from typing import Any, Iterator

from ppl.choicemap import as_path
from ppl.trace import LeafTrace


def leaf_at(trace: Any, address: Any) -> LeafTrace | None:
    """The leaf trace of the random choice at `address`, or None if the trace made no such choice."""
    node, rest = trace, as_path(address)
    while rest:
        subtraces = getattr(node, "subtraces", None)
        if not subtraces:
            return None
        node, rest = _descend(subtraces, rest)
        if node is None:
            return None
    return node if isinstance(node, LeafTrace) else None


def _descend(subtraces: dict, rest: tuple) -> tuple[Any, tuple]:
    exact = subtraces.get(rest)
    if exact is not None:
        return exact, ()
    for key, sub in subtraces.items():
        if not isinstance(key, tuple):  # a wrapper (ppl.switch's branch) whose choices sit at its own level
            return sub, rest
        if rest[: len(key)] == key:
            return sub, rest[len(key):]
    return None, rest


def leaves(trace: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, LeafTrace]]:
    """Every (full address path, leaf trace) of a trace, in execution order."""
    if isinstance(trace, LeafTrace):
        yield prefix, trace
        return
    for key, sub in getattr(trace, "subtraces", {}).items():
        yield from leaves(sub, prefix + key if isinstance(key, tuple) else prefix)
