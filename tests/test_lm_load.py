"""lm.load and contexts: model directories, devices and dtypes, and clear errors for bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import lm
from lm.loading.model_dir import BUILTIN_MODELS

TINY = BUILTIN_MODELS["tiny"]


@pytest.fixture()
def tiny_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(TINY, target)
    return target


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


def test_builtin_names_and_paths_load(tiny, tiny_copy):
    assert tiny.name == "tiny" and tiny.window == 64 and len(tiny.vocabulary) == 8
    again = lm.load(tiny_copy)
    np.testing.assert_allclose(again.context("ab").logprobs(), tiny.context("ab").logprobs(), atol=1e-6)
    assert isinstance(tiny, lm.LanguageModel) and tiny.__ppl_shared__


def test_missing_directory(tmp_path):
    with pytest.raises(lm.ModelDirectoryError, match="does not exist"):
        lm.load(tmp_path / "nowhere")


def test_a_file_is_not_a_directory(tiny_copy):
    with pytest.raises(lm.ModelDirectoryError, match="not a directory"):
        lm.load(tiny_copy / "config.json")


def test_missing_config(tiny_copy):
    (tiny_copy / "config.json").unlink()
    with pytest.raises(lm.ModelDirectoryError, match="no config.json"):
        lm.load(tiny_copy)


def test_malformed_config(tiny_copy):
    (tiny_copy / "config.json").write_text("{not json")
    with pytest.raises(lm.ModelDirectoryError, match="config.json is not valid JSON"):
        lm.load(tiny_copy)
    (tiny_copy / "config.json").write_text(json.dumps({"n_layer": 1}))
    with pytest.raises(lm.ModelDirectoryError, match="model_type"):
        lm.load(tiny_copy)


def test_missing_weights(tiny_copy):
    (tiny_copy / "model.safetensors").unlink()
    with pytest.raises(lm.ModelDirectoryError, match="no model.safetensors"):
        lm.load(tiny_copy)
    (tiny_copy / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(lm.ModelDirectoryError, match="pytorch_model.bin; only safetensors"):
        lm.load(tiny_copy)


def test_corrupt_weights(tiny_copy):
    (tiny_copy / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(lm.ModelDirectoryError, match="does not load"):
        lm.load(tiny_copy)


def test_missing_tokenizer(tiny_copy):
    (tiny_copy / "tokenizer.json").unlink()
    with pytest.raises(lm.ModelDirectoryError, match="no tokenizer"):
        lm.load(tiny_copy)


def test_tokenizer_without_eos(tiny_copy):
    config = json.loads((tiny_copy / "tokenizer_config.json").read_text())
    config.pop("eos_token", None)
    (tiny_copy / "tokenizer_config.json").write_text(json.dumps(config))
    (tiny_copy / "special_tokens_map.json").unlink(missing_ok=True)
    (tiny_copy / "generation_config.json").unlink(missing_ok=True)
    model_config = json.loads((tiny_copy / "config.json").read_text())
    model_config["eos_token_id"] = None
    (tiny_copy / "config.json").write_text(json.dumps(model_config))
    with pytest.raises(lm.TokenizerError, match="no end-of-sequence token"):
        lm.load(tiny_copy)


def test_prompt_longer_than_the_window(tiny):
    with pytest.raises(lm.ContextWindowError, match="65 tokens long, longer than the model's context window of 64"):
        tiny.context([1] * 65)
    ctx = tiny.context([1] * 64)           # exactly full: a next-token distribution exists ...
    assert np.isfinite(ctx.logprobs()).all()
    with pytest.raises(lm.ContextWindowError, match="the context is full"):
        ctx.extend(1)                      # ... but no room for another token


def test_bad_arguments(tiny):
    with pytest.raises(ValueError, match="dtype"):
        lm.load("tiny", dtype="float8")
    with pytest.raises(ValueError, match="threads"):
        lm.load("tiny", threads=0)
    with pytest.raises(ValueError, match="device"):
        lm.load("tiny", device="tpu")
    with pytest.raises(ValueError, match="prompt token 1"):
        tiny.context([1, 99])
    with pytest.raises(ValueError, match="not a token"):
        tiny.context("a").extend(42)


def test_threads_argument_sets_torch_threads():
    before = torch.get_num_threads()
    try:
        lm.load("tiny", threads=2)
        assert torch.get_num_threads() == 2
        lm.load("tiny", threads=None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_bfloat16_matches_float32_to_bf16_precision(tiny):
    half = lm.load("tiny", dtype="bfloat16")
    assert half.dtype == torch.bfloat16 and half.server.pool.dtype == torch.bfloat16
    p16, p32 = np.exp(half.context("ab a").logprobs()), np.exp(tiny.context("ab a").logprobs())
    assert abs(p16.sum() - 1) < 1e-9 and np.abs(p16 - p32).max() < 0.02  # bf16 keeps 8 bits of mantissa


def test_empty_prompt_starts_from_bos(tiny):
    ctx = tiny.context("")
    assert ctx.token_ids == [0] and len(ctx) == 1 and ctx.generated == []


def test_the_package_version_is_the_installed_distributions():
    import importlib.metadata

    import ppl

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ppl.__version__"}
    assert ppl.__version__ == importlib.metadata.version("ppl-smc")
