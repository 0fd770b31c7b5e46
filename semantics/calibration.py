"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman, 2018) for continuous latents.

Draw theta from the prior and data y given theta; draw L values from the algorithm's posterior
given y; the rank of theta among them (how many are smaller, ties split at random) is uniform on
{0, ..., L} for every simulation exactly when the algorithm samples the true posterior (its
draws independent). Over N simulations the ranks go into B bins (B divides L + 1, so each bin
holds the same number of rank values) and a chi-square test with B - 1 degrees of freedom
compares the counts with N / B each. The check fails when some latent's p-value falls below
alpha / K (K latents, Bonferroni): under a calibrated sampler that happens with probability at
most alpha, the stated false-alarm rate. A variance too large piles ranks in the middle bins,
too small at both ends, a shifted posterior to one side.

The posterior may come from any algorithm: `posterior_draws` turns an `inference.Result`
(weighted particles: importance sampling, SMC) or an MCMC/NUTS result into draws per address.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from semantics.exact_checks import CheckFailed

Draws = Mapping[Any, np.ndarray]


@dataclass(frozen=True)
class CalibrationReport:
    """Ranks (simulations x latents, each in 0..draws) and the chi-square uniformity test per latent."""

    names: tuple
    ranks: np.ndarray
    draws: int
    bins: int
    alpha: float
    counts: np.ndarray      # latents x bins
    statistics: np.ndarray  # chi-square statistic per latent
    p_values: np.ndarray

    @property
    def threshold(self) -> float:
        """The p-value below which a latent fails: alpha over the number of latents (Bonferroni)."""
        return self.alpha / len(self.names)

    @property
    def passed(self) -> bool:
        return bool(np.all(self.p_values >= self.threshold))

    def summary(self) -> str:
        lines = [f"SBC: {len(self.ranks)} simulations, {self.draws} posterior draws each, {self.bins} bins, "
                 f"false-alarm rate {self.alpha} (fails below p = {self.threshold:.3g})"]
        for name, stat, p, counts in zip(self.names, self.statistics, self.p_values, self.counts):
            verdict = "ok" if p >= self.threshold else "FAILS"
            lines.append(f"  {name!r}: chi2 = {stat:.1f} on {self.bins - 1} dof, p = {p:.3g} {verdict}; "
                         f"bin counts {counts.tolist()} (expected {len(self.ranks) / self.bins:.1f} each)")
        return "\n".join(lines)

    def plot(self, path: str | None = None) -> Any:
        """The rank histograms with the 99% band of a uniform bin count (needs matplotlib, the `plot` extra)."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as err:
            raise ImportError("CalibrationReport.plot needs matplotlib: pip install -e '.[plot]'") from err
        k = len(self.names)
        figure, axes = plt.subplots(1, k, figsize=(4 * k, 3), squeeze=False)
        n = len(self.ranks)
        low, high = stats.binom.ppf([0.005, 0.995], n, 1 / self.bins)
        for ax, name, counts in zip(axes[0], self.names, self.counts):
            ax.axhspan(low, high, color="0.85", label="99% band (uniform)")
            ax.bar(np.arange(self.bins), counts, width=0.9, color="tab:blue")
            ax.axhline(n / self.bins, color="0.4", linewidth=1)
            ax.set_title(str(name))
            ax.set_xlabel(f"rank bin ({self.draws + 1} ranks in {self.bins} bins)")
        axes[0][0].set_ylabel("simulations")
        figure.tight_layout()
        if path is not None:
            figure.savefig(path)
            plt.close(figure)
        return figure


def _bins(draws: int, simulations: int, bins: int | None) -> int:
    values = draws + 1
    if bins is not None:
        if bins < 2 or values % bins:
            raise ValueError(f"bins={bins} must be at least 2 and divide draws + 1 = {values} (equal rank values per bin)")
        return bins
    divisors = [b for b in range(2, values + 1) if values % b == 0 and simulations / b >= 5]
    if not divisors:
        raise ValueError(f"{simulations} simulations are too few for a chi-square test on {values} rank values "
                         "(at least 10, with 5 expected per bin)")
    return max(divisors)


def _thinned(values: Any, draws: int, name: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size < draws:
        raise ValueError(f"the posterior gave {array.size} draws of {name!r}, fewer than draws={draws}")
    return array[np.linspace(0, array.size - 1, draws).round().astype(int)]


def rank(value: float, draws: np.ndarray, rng: np.random.Generator) -> int:
    """How many draws are below `value`, ties split uniformly at random (so ranks stay uniform for atoms)."""
    below = int(np.sum(draws < value))
    ties = int(np.sum(draws == value))
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def simulation_based_calibration(prior_predictive: Callable[[np.random.Generator], tuple[Mapping, Any]],
                                 posterior: Callable[[Any, np.random.Generator], Draws], *, simulations: int = 200,
                                 draws: int = 19, bins: int | None = None, alpha: float = 0.01, seed: int = 0
                                 ) -> CalibrationReport:
    """Ranks of prior draws among posterior draws, and their uniformity test (module docstring).

    `prior_predictive(rng)` returns (theta, data): theta maps each latent's name to a scalar drawn from
    the prior, data is anything `posterior` takes. `posterior(data, rng)` returns, per latent name,
    at least `draws` posterior draws (more are thinned evenly: independent draws are assumed, so thin
    MCMC chains). rng is a numpy Generator; simulation s uses seeds derived from (seed, s).
    """
    if simulations < 10 or draws < 1:
        raise ValueError(f"simulations={simulations} (at least 10) and draws={draws} (at least 1)")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} is a false-alarm rate in (0, 1)")
    bins = _bins(draws, simulations, bins)
    names: tuple | None = None
    ranks = []
    for s in range(simulations):
        rng = np.random.default_rng([seed, s])
        theta, data = prior_predictive(rng)
        if names is None:
            names = tuple(theta)
            if not names:
                raise ValueError("prior_predictive returned no latents")
        sample = posterior(data, rng)
        row = []
        for name in names:
            if name not in sample:
                raise KeyError(f"the posterior returned no draws of {name!r} (it returned {list(sample)})")
            row.append(rank(float(theta[name]), _thinned(sample[name], draws, name), rng))
        ranks.append(row)
    rank_array = np.asarray(ranks, dtype=np.int64)
    per_bin = (draws + 1) // bins
    counts = np.stack([np.bincount(rank_array[:, j] // per_bin, minlength=bins) for j in range(len(names))])
    expected = simulations / bins
    statistics = ((counts - expected) ** 2 / expected).sum(axis=1)
    p_values = stats.chi2.sf(statistics, bins - 1)
    return CalibrationReport(names, rank_array, draws, bins, alpha, counts, statistics, p_values)


def check_calibration(prior_predictive: Callable[[np.random.Generator], tuple[Mapping, Any]],
                      posterior: Callable[[Any, np.random.Generator], Draws], **options: Any) -> CalibrationReport:
    """simulation_based_calibration, raising CheckFailed with the summary when a latent's ranks are not uniform."""
    report = simulation_based_calibration(prior_predictive, posterior, **options)
    if not report.passed:
        raise CheckFailed("the posterior sampler is not calibrated: " + report.summary())
    return report


def posterior_draws(result: Any, addresses: Sequence, draws: int, rng: np.random.Generator) -> dict:
    """`draws` values per address from an inference result: weighted particles (`inference.Result`, from
    importance sampling or SMC) are resampled by weight; MCMC/NUTS chains (`samples(address)`) are thinned."""
    if hasattr(result, "weights") and hasattr(result, "particles"):
        if result.all_dead:
            raise ValueError(f"no posterior draws: {result.message}")
        picks = rng.choice(len(result.particles), size=draws, p=np.asarray(result.weights, dtype=np.float64))
        return {a: np.array([float(result.particles[i].trace.choices[a]) for i in picks]) for a in addresses}
    if hasattr(result, "samples"):
        return {a: _thinned(result.samples(a), draws, a) for a in addresses}
    raise TypeError(f"posterior_draws needs an inference Result or an MCMC result, got {type(result).__name__}")
