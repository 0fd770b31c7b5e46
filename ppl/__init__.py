"""The modeling language: generative functions, traces, choice maps, combinators, sequential models."""
from importlib.metadata import PackageNotFoundError as _NotInstalled, version as _version

import jax as _jax

_jax.config.update("jax_enable_x64", True)  # scores and weights are float64 everywhere

from ppl import dist  # noqa: E402
from ppl.batching import Pending, run_batched, run_sync  # noqa: E402
from ppl.choicemap import ChoiceMap, Selection, select  # noqa: E402
from ppl.combinators import Map, Switch, Unfold, map, switch, unfold  # noqa: E402
from ppl.distributions import Choice, Primitive, as_primitive  # noqa: E402
from ppl.errors import AddressError, ModelError, NotFiniteError, ParameterError, SupportError  # noqa: E402
from ppl.generative import DynamicGenFn, GenCall, GenerativeFunction, condition, factor, gen, observe, sample  # noqa: E402
from ppl.model import Model  # noqa: E402
from ppl.rng import Rng, SeededRng, rng  # noqa: E402
from ppl.trace import CallTrace, LeafTrace, Trace  # noqa: E402

try:
    __version__ = _version("ppl-smc")
except _NotInstalled:  # run from a checkout that was never pip-installed
    __version__ = "0+unknown"

__all__ = [
    "AddressError", "CallTrace", "Choice", "ChoiceMap", "DynamicGenFn", "GenCall", "GenerativeFunction",
    "LeafTrace", "Map", "Model", "ModelError", "NotFiniteError", "ParameterError", "Pending", "Primitive",
    "Rng", "SeededRng", "Selection", "SupportError", "Switch", "Trace", "Unfold", "as_primitive",
    "condition", "dist", "factor", "gen", "map", "observe", "rng", "run_batched", "run_sync", "sample",
    "select", "switch", "unfold",
]
