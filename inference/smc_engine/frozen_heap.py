"""Python's cyclic garbage collector during an SMC run: the objects older than the run are left out of its passes.

A language model, its vocabulary and token trie, and the libraries they import leave hundreds of
thousands of objects tracked by the collector (SmolLM2-135M: about 620,000 after one generation),
and a full collection walks all of them (about 225 ms on the 2-core CPU machine). During
generation, constraint states and their caches allocate enough to trigger such a collection every
few dozen steps: at N = 64 with a JSON schema, about 1.8 ms per step of the host's ~10 ms
(benchmarks/results/awrs_host_work.md). `gc.freeze()` when the run starts moves the objects that
exist then to the collector's permanent generation, so collections during the run walk only what
the run allocates; `gc.unfreeze()` when it ends hands them back. Nothing is collected differently
except in time: an object that existed before the run and becomes cyclic garbage during it is
collected after the run. The heap is left alone when something already froze it (a server that
freezes before forking keeps its freeze), so a run inside another run, or beside one in another
thread, does nothing.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Within the block, the collector skips the objects that existed when it started (unless already frozen)."""
    if gc.get_freeze_count() > 0 or not gc.isenabled():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
