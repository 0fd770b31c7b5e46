"""Quiet loading: transformers' progress bars off while lm.load reads or writes a model."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def progress_bars_off() -> Iterator[None]:
    """Disable transformers' progress bars for the duration, restoring them after."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()
