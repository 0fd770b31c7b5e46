"""Shortest completions found by search: best-first over bytes, guided by a lower bound.

A family's `shortest_completion` is computed from its structure; where two constraints meet
(`&`), or a structural answer cannot be trusted, the shortest completion is searched for:
A* over byte strings, where a node is a state reached by some bytes, its cost the bytes read,
and its heuristic the constraint's own `min_completion_bytes` (a lower bound, so the first
accepting node popped is a shortest completion). Every node tries all 256 bytes, so the
search is bounded by `max_expansions`; past it, the answer falls back to a lower bound.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable

# Nodes expanded before a search gives up (each costs 256 advances).
MAX_EXPANSIONS = 32


def search_completion(advance: Callable[[Any, bytes], Any], accepting: Callable[[Any], bool],
                      lower_bound: Callable[[Any], int | None], state: Any,
                      max_expansions: int = MAX_EXPANSIONS) -> tuple[bytes | None, int | None]:
    """(a shortest completion, its length) by A*; (None, bound) when the search gave up, bound being
    the least f-value left (a lower bound on the shortest completion); (None, None) if none exists."""
    start_bound = lower_bound(state)
    if start_bound is None:
        return None, None
    order = itertools.count()
    # Ties on f go to the deeper node (-g first): with 256 children of equal f at every level, breadth
    # first among them would spend the expansion budget before any reached an accepting state.
    frontier = [(start_bound, 0, next(order), state, b"")]
    expansions = 0
    while frontier:
        f, minus_g, _, node, text = heapq.heappop(frontier)
        g = -minus_g
        if accepting(node):
            return text, g
        if expansions >= max_expansions:
            return None, f
        expansions += 1
        for byte in range(256):
            chunk = bytes((byte,))
            following = advance(node, chunk)
            if following is None:
                continue
            bound = lower_bound(following)
            if bound is None:
                continue
            heapq.heappush(frontier, (g + 1 + bound, -(g + 1), next(order), following, text + chunk))
    return None, None


def shortest_common_completion(conjunction: Any, state: tuple) -> bytes | None:
    """The shortest completion of a `Conjunction` state (see the module docstring).

    Each side's shortest completion is tried first: one the other side also accepts, as long as the
    longer side's, is a shortest common completion. Else A* with the larger side's bound as heuristic;
    if that gives up, the longer side's completion (its length a lower bound) is returned.
    """
    left, right = conjunction.left, conjunction.right
    texts = []
    for side, part in ((left, state[0]), (right, state[1])):
        text = side.shortest_completion(part)
        if text is None:
            return None
        texts.append(text)
    longest = max(len(t) for t in texts)
    for text in sorted(texts, key=len, reverse=True):
        if len(text) == longest and conjunction.completes(state, text):
            return text

    def bound(pair: tuple) -> int | None:
        a, b = left.min_completion_bytes(pair[0]), right.min_completion_bytes(pair[1])
        return None if a is None or b is None else max(a, b)

    found, _ = search_completion(conjunction.advance, conjunction.is_accepting, bound, state)
    return found if found is not None else max(texts, key=len)
