"""The result of MCMC: traces per chain, per-draw sample statistics, and an ArviZ export.

Every draw of every chain is a full trace (choices by address, score, return value), so any
function of the trace can be averaged. Numeric choices present in every draw become ArviZ
posterior variables (ArviZ is imported only when asked for), which gives R-hat, ESS and the
usual summaries.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from inference.result import hashable, ranked
from ppl.choicemap import as_path
from ppl.errors import AddressError


def variable_name(path: tuple) -> str:
    """An ArviZ variable name for an address: ("alpha", 0) -> "alpha[0]", ("steps", 1, "x") -> "steps[1].x"."""
    name = str(path[0])
    for key in path[1:]:
        name += f"[{key}]" if isinstance(key, (int, np.integer)) else f".{key}"
    return name


@dataclass
class McmcResult:
    """Draws of one or more Markov chains.

    `traces[c][d]` is draw d of chain c (a sequence per chain; NUTS builds each trace when it is
    first read). `stats[name]` has shape (chains, draws): "accepted" for trace kernels; for
    NUTS/HMC "acceptance_rate", "diverging", "n_steps", "energy" and "lp" (log p of the draw).
    `latent` lists the addresses exported to ArviZ by default (the unconstrained choices);
    `values` holds arrays (chains, draws, ...) by address path where they are known without traces.
    """

    traces: Sequence[Sequence[Any]]
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    latent: list[tuple] | None = None
    values: dict[tuple, np.ndarray] = field(default_factory=dict)

    @property
    def chains(self) -> int:
        return len(self.traces)

    @property
    def draws(self) -> int:
        return len(self.traces[0]) if self.traces else 0

    def all_traces(self) -> list[Any]:
        """Every draw of every chain, chain after chain."""
        return [t for chain in self.traces for t in chain]

    @property
    def acceptance_rate(self) -> np.ndarray:
        """Per chain: the fraction of accepted moves (MH) or the mean acceptance probability (NUTS/HMC)."""
        for name in ("accepted", "acceptance_rate"):
            if name in self.stats:
                return np.asarray(self.stats[name], dtype=np.float64).mean(axis=1)
        raise AttributeError("this result records no acceptance statistics")

    def samples(self, address: Any) -> np.ndarray:
        """The values at `address`, shape (chains, draws, *value shape)."""
        path = as_path(address)
        if path in self.values:
            return self.values[path]
        rows = []
        for c, chain in enumerate(self.traces):
            row = []
            for d, trace in enumerate(chain):
                if not trace.choices.has_value(path):
                    raise AddressError(f"draw {d} of chain {c} has no choice at address {address!r}")
                row.append(trace.choices[path])
            rows.append(row)
        return np.asarray(rows)

    def expectation(self, f: Callable[[Any], float]) -> float:
        """The average of f(trace) over all draws of all chains."""
        return float(np.mean([f(t) for t in self.all_traces()]))

    def marginal(self, address: Any) -> dict:
        """Value -> frequency of the choice at `address` over all draws (None where it was not made), most frequent first."""
        path = as_path(address)
        counts = Counter(hashable(t.choices.get(path)) for t in self.all_traces())
        total = sum(counts.values())
        return ranked({value: n / total for value, n in counts.items()})

    def posterior_arrays(self, addresses: list | None = None) -> dict[str, np.ndarray]:
        """Named arrays (chains, draws, ...) of numeric choices; all present in every draw unless named."""
        if not self.traces or not self.traces[0]:
            raise ValueError("the result has no draws")
        if addresses is None and self.latent is not None:
            paths = list(self.latent)
        elif addresses is None:
            first = self.traces[0][0].choices.addresses()
            paths = [p for p in first if all(t.choices.has_value(p) for t in self.all_traces())]
        else:
            paths = [as_path(a) for a in addresses]
        out: dict[str, np.ndarray] = {}
        for path in paths:
            values = self.samples(path)
            if values.dtype.kind not in "biuf":
                if addresses is not None:
                    raise TypeError(f"the choice at address {path!r} is not numeric ({values.dtype}); ArviZ needs numbers")
                continue
            name = variable_name(path)
            if name in out:
                raise ValueError(f"two addresses share the ArviZ variable name {name!r}")
            out[name] = values
        return out

    def to_arviz(self, addresses: list | None = None) -> Any:
        """An `arviz.InferenceData` with the numeric choices as posterior and the sample statistics."""
        import arviz

        stats = {name: np.asarray(value) for name, value in self.stats.items()}
        if "lp" not in stats:
            stats["lp"] = np.array([[t.score for t in chain] for chain in self.traces], dtype=np.float64)
        return arviz.from_dict(posterior=self.posterior_arrays(addresses), sample_stats=stats)

    def summary(self, addresses: list | None = None, **kwargs: Any) -> Any:
        """`arviz.summary` of the posterior (means, sd, HDI, ESS, R-hat) as a pandas DataFrame."""
        import arviz

        return arviz.summary(self.to_arviz(addresses), **kwargs)

    def ess(self, address: Any) -> np.ndarray:
        """ArviZ's bulk effective sample size of the choice at `address` (elementwise for arrays)."""
        import arviz

        return np.asarray(arviz.ess(self._single(address))["x"])

    def rhat(self, address: Any) -> np.ndarray:
        """ArviZ's rank-normalized R-hat of the choice at `address` (needs two or more chains)."""
        import arviz

        return np.asarray(arviz.rhat(self._single(address))["x"])

    def _single(self, address: Any) -> Any:
        import arviz

        return arviz.convert_to_dataset({"x": np.asarray(self.samples(address), dtype=np.float64)})

    def __repr__(self) -> str:
        return f"McmcResult(chains={self.chains}, draws={self.draws}, stats={sorted(self.stats)})"
