"""The modeling language: generative functions, traces, choice maps, combinators, sequential models."""
__version__ = "0.1.0"  # the one place the project's version is written (pyproject.toml reads it)

import os as _os
import sys as _sys

# Scores and weights are float64 everywhere: JAX's x64 mode, set without importing JAX (a job that
# never touches numpyro, such as constrained generation, stays JAX-free).
if "jax" in _sys.modules:
    _sys.modules["jax"].config.update("jax_enable_x64", True)
else:
    _os.environ["JAX_ENABLE_X64"] = "1"  # read by JAX when it is first imported

from ppl.batching import Pending, run_batched, run_sync  # noqa: E402
from ppl.choicemap import ChoiceMap, Selection, select  # noqa: E402
from ppl.combinators import Map, Switch, Unfold, map, switch, unfold  # noqa: E402
from ppl.distributions import Choice, Primitive, as_primitive  # noqa: E402
from ppl.errors import AddressError, ModelError, NotFiniteError, ParameterError, SupportError  # noqa: E402
from ppl.generative import DynamicGenFn, GenCall, GenerativeFunction, condition, factor, gen, observe, sample  # noqa: E402
from ppl.model import Model  # noqa: E402
from ppl.rng import Rng, SeededRng, rng  # noqa: E402
from ppl.trace import CallTrace, LeafTrace, Trace  # noqa: E402

__all__ = [
    "AddressError", "CallTrace", "Choice", "ChoiceMap", "DynamicGenFn", "GenCall", "GenerativeFunction",
    "LeafTrace", "Map", "Model", "ModelError", "NotFiniteError", "ParameterError", "Pending", "Primitive",
    "Rng", "SeededRng", "Selection", "SupportError", "Switch", "Trace", "Unfold", "as_primitive",
    "condition", "dist", "factor", "gen", "map", "observe", "rng", "run_batched", "run_sync", "sample",
    "select", "switch", "unfold",
]


def __getattr__(name: str):
    if name == "dist":  # numpyro's distributions, imported on first use
        import importlib

        return importlib.import_module("ppl.dist")
    raise AttributeError(f"module 'ppl' has no attribute {name!r}")
