"""lm.load on GGUF files and model names: the dequantize-once cache and a clear error for each bad input.

The files are written here with the `gguf` package from a small random Llama (the layout
llama.cpp's converter writes), so every path runs in seconds; tests/test_lm_smollm2.py loads a
real GGUF file.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import lm
from lm.errors import GGUFError
from lm.loading import gguf_model, model_packages
from lm.loading.gguf_model import SOURCE_FILE
from lm.loading.model_packages import ModelPackage
from reference_models import write_small_llama

gguf = pytest.importorskip("gguf")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("PPL_CACHE", str(root))
    return root


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    return write_small_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def llama_gguf(llama_dir, tmp_path_factory) -> Path:
    return write_gguf(llama_dir, tmp_path_factory.mktemp("gguf") / "small-llama.gguf")


@pytest.fixture(scope="module")
def original(llama_dir):
    return lm.load(llama_dir)


def test_a_gguf_file_loads_as_the_model_it_was_written_from(llama_gguf, original, cache):
    llm = lm.load(llama_gguf)
    assert llm.name == "small-llama" and llm.path.parent == cache / "gguf"
    assert [t.bytes for t in llm.vocabulary.tokens] == [t.bytes for t in original.vocabulary.tokens]
    assert llm.vocabulary.eos_ids == original.vocabulary.eos_ids
    for ids in ([1, 2, 3], [40, 41, 42, 43, 44, 45]):
        np.testing.assert_array_equal(llm.context(ids).logprobs(), original.context(ids).logprobs())
    assert llm.tokenize("ab cd") == original.tokenize("ab cd")


def test_the_second_load_reads_the_cache(llama_gguf, monkeypatch):
    first = lm.load(llama_gguf)

    def dequantize_again(path, out):
        raise AssertionError("dequantized a second time")

    monkeypatch.setattr(gguf_model, "_dequantize", dequantize_again)
    second = lm.load(str(llama_gguf))
    assert second.path == first.path
    assert json.loads((first.path / SOURCE_FILE).read_text())["sha256"] == gguf_model.file_sha256(llama_gguf)


def test_an_incomplete_cache_directory_is_rebuilt(llama_gguf, original):
    llm = lm.load(llama_gguf)
    (llm.path / SOURCE_FILE).unlink()      # as if the process died before finishing
    (llm.path / "model.safetensors").write_bytes(b"half")
    again = lm.load(llama_gguf)
    np.testing.assert_array_equal(again.context([5, 6]).logprobs(), original.context([5, 6]).logprobs())


def test_a_changed_file_gets_its_own_cache_entry(llama_dir, tmp_path, cache):
    a = write_gguf(llama_dir, tmp_path / "a" / "m.gguf")
    b = write_gguf(llama_dir, tmp_path / "b" / "m.gguf", scale_embeddings=2.0)
    assert lm.load(a).path != lm.load(b).path
    assert len(list((cache / "gguf").iterdir())) == 2


def test_a_quantized_gguf_is_dequantized(llama_dir, tmp_path):
    path = write_gguf(llama_dir, tmp_path / "q8.gguf", matrices=gguf.GGMLQuantizationType.Q8_0)
    llm = lm.load(path)
    reader = gguf.GGUFReader(path)
    stored = next(t for t in reader.tensors if t.name == "blk.0.ffn_down.weight")
    assert stored.tensor_type == gguf.GGMLQuantizationType.Q8_0
    expected = gguf.quants.dequantize(stored.data, stored.tensor_type)
    np.testing.assert_array_equal(llm.model.model.layers[0].mlp.down_proj.weight.detach().numpy(), expected)


def test_missing_gguf_file(tmp_path):
    with pytest.raises(GGUFError, match=r"GGUF file .*nowhere\.gguf does not exist"):
        lm.load(tmp_path / "nowhere.gguf")


def test_garbage_is_not_a_gguf_file(tmp_path):
    path = tmp_path / "garbage.gguf"
    path.write_bytes(b"this is not a model" * 100)
    with pytest.raises(lm.ModelDirectoryError, match=r"garbage\.gguf is not a GGUF file .*'GGUF'"):
        lm.load(path)


def test_an_unknown_gguf_version(tmp_path):
    path = tmp_path / "v9.gguf"
    path.write_bytes(b"GGUF" + (9).to_bytes(4, "little") + bytes(64))
    with pytest.raises(GGUFError, match="GGUF version 9 is not supported"):
        lm.load(path)


def test_a_truncated_gguf_file(llama_gguf, tmp_path):
    data = llama_gguf.read_bytes()
    path = tmp_path / "truncated.gguf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GGUFError, match=rf"truncated\.gguf: transformers could not read its config "
                                        rf"\(.*\); if the file is corrupt or truncated \({len(data) // 2} bytes\), download it again"):
        lm.load(path)
    assert not (gguf_model.cache_root() / "gguf").exists() or not any(
        (p / SOURCE_FILE).exists() for p in (gguf_model.cache_root() / "gguf").iterdir())


def test_an_unsupported_quantization_type(llama_dir, tmp_path):
    path = write_gguf(llama_dir, tmp_path / "q8_1.gguf", matrices=gguf.GGMLQuantizationType.Q8_1)
    with pytest.raises(GGUFError, match=r"q8_1\.gguf: the quantization type Q8_1 cannot be dequantized.*use a file quantized as"):
        lm.load(path)


def test_an_unsupported_architecture(tmp_path):
    path = tmp_path / "odd.gguf"
    writer = gguf.GGUFWriter(str(path), "nonesuch")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    _finish(writer)
    with pytest.raises(GGUFError, match=r"odd\.gguf: transformers cannot load this GGUF architecture .*nonesuch.*HF directory"):
        lm.load(path)


def test_an_unwritable_cache_is_named(llama_gguf, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PPL_CACHE", str(blocker / "cache"))
    with pytest.raises(GGUFError, match=r"cannot write the model cache .*a-file/cache/gguf: .*set PPL_CACHE to a writable directory"):
        lm.load(llama_gguf)


def test_missing_packages_are_named(llama_gguf, monkeypatch):
    monkeypatch.setitem(sys.modules, "accelerate", None)  # as if not installed: find_spec and import both fail
    with pytest.raises(GGUFError, match=r"needs the packages gguf and accelerate \(accelerate missing\): pip install gguf accelerate"):
        lm.load(llama_gguf)


def test_a_model_directory_without_a_tokenizer(llama_dir, tmp_path):
    import shutil

    target = shutil.copytree(llama_dir, tmp_path / "model")
    (target / "tokenizer.json").unlink()
    with pytest.raises(lm.ModelDirectoryError, match=r"model has no tokenizer .*: copy the tokenizer files"):
        lm.load(target)


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(lm.ModelDirectoryError, match=r"'gpt-5' is not a known model name \(builtin, tiny, smollm2 \(.*\)\) "
                                                     r"nor an existing directory or \.gguf file"):
        lm.load("gpt-5")
    with pytest.raises(lm.ModelDirectoryError, match="does not exist"):  # a path is reported as a path
        lm.load("./gpt-5")


def test_a_registered_package_that_is_not_installed(monkeypatch):
    absent = ModelPackage("ppl-smc-no-such-model", "no_such_model/m.gguf", "pip install ppl-smc-no-such-model")
    monkeypatch.setattr(model_packages, "MODEL_PACKAGES", {"smollm2": absent})
    with pytest.raises(lm.ModelDirectoryError, match=r"model 'smollm2' comes in the package ppl-smc-no-such-model, "
                                                     r"which is not installed: pip install ppl-smc-no-such-model"):
        model_packages.package_model_file("smollm2")


def write_gguf(model_dir: Path, out: Path, *, matrices=None, scale_embeddings: float = 1.0) -> Path:
    """Write the Llama in `model_dir` as llama.cpp's converter would: tensor names mapped, Q and K rows
    permuted to llama.cpp's rotary layout, the byte-level BPE tokenizer as metadata; 2-D weights in
    `matrices` (a GGMLQuantizationType; float32 if None)."""
    from safetensors.torch import load_file

    config = json.loads((model_dir / "config.json").read_text())
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    weights = {k: v.to(torch.float32).numpy() for k, v in load_file(model_dir / "model.safetensors").items()}
    heads, kv_heads, layers = config["num_attention_heads"], config["num_key_value_heads"], config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, layers)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name(out.stem)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(config["hidden_size"] // heads)
    writer.add_rope_freq_base(float(config.get("rope_theta") or config["rope_parameters"]["rope_theta"]))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    vocab = sorted(tokenizer["model"]["vocab"].items(), key=lambda item: item[1])
    specials = {t["id"] for t in tokenizer["added_tokens"] if t["special"]}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([piece for piece, _ in vocab])
    writer.add_token_types([gguf.TokenType.CONTROL if i in specials else gguf.TokenType.NORMAL for _, i in vocab])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    for name, w in weights.items():
        if name.endswith("q_proj.weight"):
            w = _rotary_permute(w, heads)
        elif name.endswith("k_proj.weight"):
            w = _rotary_permute(w, kv_heads)
        elif name == "model.embed_tokens.weight":
            w = w * scale_embeddings
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if matrices is not None and w.ndim == 2 and gguf_name != "token_embd.weight":
            writer.add_tensor(gguf_name, _quantize(w, matrices), raw_dtype=matrices)
        else:
            writer.add_tensor(gguf_name, np.ascontiguousarray(w))
    _finish(writer)
    return out


def _rotary_permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's layout of the Q/K rows of each head: interleaved rotary pairs instead of two halves."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _quantize(w: np.ndarray, qtype) -> np.ndarray:
    try:
        return gguf.quants.quantize(w, qtype)
    except NotImplementedError:  # a type gguf cannot write either: any bytes of the right size will do
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        return np.zeros((w.shape[0], w.shape[1] // block * size), dtype=np.uint8)


def _finish(writer) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
