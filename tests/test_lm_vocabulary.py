"""The vocabulary as bytes: byte-level BPE, SentencePiece byte fallback, special tokens, Token objects."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

import lm
from lm.distribution.token_bytes import PieceDecoder, PieceEncoding, byte_level_alphabet, piece_encoding
from lm.distribution.vocabulary import build_vocabulary


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


@pytest.fixture(scope="module")
def tiny():
    return lm.load("tiny")


def test_byte_level_alphabet_is_a_bijection_onto_bytes():
    table = byte_level_alphabet()
    assert len(table) == 256 and sorted(table.values()) == list(range(256))
    assert table["A"] == ord("A") and table["\u0120"] == ord(" ")  # 'Ġ' is the space


def test_tiny_vocabulary_keeps_partial_utf8_as_bytes(tiny):
    v = tiny.vocabulary
    assert [t.bytes for t in v.tokens] == [b"", b"a", b"b", b" ", b"ab", b"\xc3", b"\xa9", b"\xc3\xa9"]
    assert v.tokens[0].is_eos and v.tokens[0].is_special and v.eos_ids == (0,)
    assert not any(t.is_eos for t in v.tokens[1:])
    assert v.tokens[7].text == "é" and "\ufffd" in v.tokens[5].text
    assert v.ids_for_bytes(b"ab") == [4] and v.ids_for_bytes(b"zz") == []
    assert v.encoding is PieceEncoding.BYTE_LEVEL


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=40))
def test_builtin_token_bytes_concatenate_to_the_utf8_text(builtin, text):
    ids = builtin.tokenize(text)
    assert builtin.vocabulary.decode(ids) == text.encode("utf-8")


def test_builtin_vocabulary_covers_the_output_layer(builtin):
    v = builtin.vocabulary
    assert len(v) == builtin.model.config.vocab_size
    assert all(t is not None for t in v.tokens)
    assert v.eos.is_eos and v.eos.bytes == b""
    singles = {t.bytes for t in v.tokens if len(t.bytes) == 1}
    assert singles == {bytes([b]) for b in range(256)}  # every byte has a token


def test_tokens_compare_and_hash_by_id_and_bytes(tiny):
    a, b = tiny.vocabulary.tokens[1], tiny.vocabulary.tokens[2]
    assert a == lm.Token(1, b"a", "a") and a != b and len({a, b, lm.Token(1, b"a", "x")}) == 2
    assert repr(a) == "Token(1, b'a')"


def _sentencepiece_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece in ["\u2581", "a", "b", "\u2581a", "\u2581ab", "ab", "é"]:
        vocab[piece] = len(vocab)
    merges = [("a", "b"), ("\u2581", "a"), ("\u2581a", "b")]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def test_sentencepiece_pieces_and_byte_fallback_map_to_exact_bytes():
    tokenizer = _sentencepiece_tokenizer()
    assert piece_encoding(tokenizer.backend_tokenizer.to_str()) is PieceEncoding.SENTENCEPIECE
    v = build_vocabulary(tokenizer, len(tokenizer))
    by_piece = {tokenizer.convert_ids_to_tokens(i): v.tokens[i] for i in range(len(tokenizer))}
    assert by_piece["\u2581ab"].bytes == b" ab" and by_piece["<0xE2>"].bytes == b"\xe2" and by_piece["é"].bytes == "é".encode()
    assert by_piece["</s>"].is_eos and by_piece["<s>"].is_special and by_piece["<s>"].bytes == b""
    ids = tokenizer.encode("ab €", add_special_tokens=False)   # '€' has no piece: three byte-fallback tokens
    assert v.decode(ids) == " ab €".encode("utf-8")  # SentencePiece's leading space is part of the first piece


def test_plain_pieces_are_their_utf8():
    decode = PieceDecoder(PieceEncoding.PLAIN)
    assert decode("héllo") == "héllo".encode()
    assert piece_encoding(json.dumps({"decoder": None, "model": {"type": "WordLevel"}})) is PieceEncoding.PLAIN


def test_a_tokenizer_without_eos_is_rejected():
    tokenizer = _sentencepiece_tokenizer()
    tokenizer.eos_token = None
    with pytest.raises(lm.TokenizerError, match="end-of-sequence"):
        build_vocabulary(tokenizer, len(tokenizer), where="my-model")
