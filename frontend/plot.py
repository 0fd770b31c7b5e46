"""`ppl generate --plot FILE.png`: the run's ESS over steps (resampling marked) and its particle weights."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from frontend.failures import BadInput


def check_plot_path(path: Path) -> None:
    """BadInput before any work if the figure cannot be written where asked or matplotlib is missing."""
    if not path.parent.is_dir():
        raise BadInput(f"--plot {path}: the directory {path.parent} does not exist; create it or write elsewhere")
    try:
        import matplotlib
    except ImportError:
        raise BadInput("--plot needs matplotlib: pip install 'ppl-smc[plot]'") from None
    formats = {"png", "pdf", "svg", "jpg", "jpeg"}
    if path.suffix.lower().lstrip(".") not in formats:
        raise BadInput(f"--plot {path}: name a .png (or .pdf, .svg, .jpg) file; matplotlib {matplotlib.__version__} "
                               "picks the format from the extension")


def write_plot(result: Any, path: Path, particles: int, title: str) -> None:
    """Three panels: ESS (and live particles, when reported) per step, the running log-ML estimate, final weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    steps = result.steps
    x = [s.step for s in steps]
    fig, (ess_ax, ml_ax, w_ax) = plt.subplots(3, 1, figsize=(8, 9), constrained_layout=True)
    fig.suptitle(title)

    ess_ax.plot(x, [s.ess for s in steps], marker=".", label="ESS before resampling")
    live = [getattr(s, "live", None) for s in steps]
    if steps and all(v is not None for v in live):
        ess_ax.plot(x, live, drawstyle="steps-post", label="live particles")
    resampled = [s for s in steps if s.resampled]
    if resampled:
        ess_ax.scatter([s.step for s in resampled], [s.ess for s in resampled], marker="x", color="red", zorder=3,
                       label="resampled")
    ess_ax.axhline(particles, color="gray", linestyle="--", linewidth=0.8, label=f"N = {particles}")
    ess_ax.set(xlabel="step (token)", ylabel="particles", ylim=(0, particles * 1.05))
    ess_ax.legend(loc="lower left", fontsize="small")

    running = [getattr(s, "log_ml", None) for s in steps]
    if steps and all(v is not None for v in running):
        ml_ax.plot(x, running, marker=".")
        ml_ax.set(xlabel="step (token)", ylabel="log-ML estimate so far")
    else:
        ml_ax.text(0.5, 0.5, f"final log-ML estimate {result.log_ml:.4g}\n(this engine reports no running estimate)",
                   ha="center", va="center", transform=ml_ax.transAxes)
        ml_ax.set_axis_off()

    weights = np.sort(np.asarray(result.weights, dtype=float))[::-1]
    w_ax.bar(np.arange(len(weights)), weights)
    w_ax.set(xlabel="particle (by weight)", ylabel="normalized weight",
             title=f"final weights: ESS {result.ess:.2f} of {len(weights)}")
    fig.savefig(path, dpi=100)
    plt.close(fig)
