"""The progress bar of `ppl generate` on stderr: steps (one token each), ESS, live particles, elapsed time.

It appears only once a run has lasted a second (tqdm's `delay`), and only on a terminal unless
forced (`--progress`), so piped output and quick runs stay clean.
"""
from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """A tqdm bar fed by the engine's per-step callback; `enabled=None` shows it only when stderr is a terminal."""

    def __init__(self, total_steps: int, particles: int, enabled: bool | None = None, delay: float = 1.0,
                 mininterval: float = 0.1):
        from tqdm import tqdm

        disable = None if enabled is None else not enabled  # tqdm: None = off unless the stream is a TTY
        self.particles = particles
        self.bar = tqdm(total=total_steps, unit="step", desc="generating", file=sys.stderr, delay=delay,
                        mininterval=mininterval, disable=disable, leave=False, dynamic_ncols=True)

    def on_step(self, info: Any) -> None:
        """Advance to `info.step` and show its ESS and, when the engine reports it, the live particles."""
        postfix = {"ess": f"{info.ess:.1f}/{self.particles}"}
        live = getattr(info, "live", None)
        if live is not None:
            postfix["live"] = live
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(max(0, info.step + 1 - self.bar.n))

    def close(self) -> None:
        self.bar.close()
