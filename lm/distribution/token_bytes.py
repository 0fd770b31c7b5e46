"""The exact bytes of a tokenizer's pieces: byte-level BPE, SentencePiece (▁ and <0xNN>) or plain text.

Byte-level BPE (GPT-2 and most newer models) writes each byte as one printable character; the
table below inverts that mapping. SentencePiece writes a space as '▁' and, with byte fallback,
a raw byte as the piece '<0xNN>'. Which convention a tokenizer uses is read from its decoder.
"""
from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")
SENTENCEPIECE_SPACE = "\u2581"


class PieceEncoding(Enum):
    """How a tokenizer writes bytes into its vocabulary pieces."""

    BYTE_LEVEL = "byte-level"
    SENTENCEPIECE = "sentencepiece"
    PLAIN = "plain"


def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-to-character table, inverted: character -> byte.

    Printable Latin-1 bytes stand for themselves; the other bytes take the characters from
    U+0100 upwards, in byte order.
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table: dict[str, int] = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def _decoder_types(decoder: Any) -> list[dict]:
    if not decoder:
        return []
    if decoder.get("type") == "Sequence":
        return [d for sub in decoder.get("decoders", []) for d in _decoder_types(sub)]
    return [decoder]


def piece_encoding(tokenizer_json: str) -> PieceEncoding:
    """The piece convention of a `tokenizers` tokenizer, from its serialized decoder and model."""
    spec = json.loads(tokenizer_json)
    decoders = _decoder_types(spec.get("decoder"))
    types = {d.get("type") for d in decoders}
    if "ByteLevel" in types:
        return PieceEncoding.BYTE_LEVEL
    replaces_space = any(d.get("type") == "Replace" and SENTENCEPIECE_SPACE in json.dumps(d.get("pattern", "")) for d in decoders)
    if "Metaspace" in types or "ByteFallback" in types or replaces_space or (spec.get("model") or {}).get("byte_fallback"):
        return PieceEncoding.SENTENCEPIECE
    return PieceEncoding.PLAIN


class PieceDecoder:
    """Maps one vocabulary piece to its exact bytes under a given convention."""

    def __init__(self, encoding: PieceEncoding):
        self.encoding = encoding
        self._alphabet = byte_level_alphabet() if encoding is PieceEncoding.BYTE_LEVEL else None

    def __call__(self, piece: str) -> bytes:
        if self.encoding is PieceEncoding.BYTE_LEVEL:
            try:
                return bytes(self._alphabet[c] for c in piece)
            except KeyError as e:
                raise ValueError(f"piece {piece!r} has character {e.args[0]!r} outside the byte-level alphabet") from None
        if self.encoding is PieceEncoding.SENTENCEPIECE:
            match = _BYTE_FALLBACK.fullmatch(piece)
            if match:
                return bytes([int(match.group(1), 16)])
            return piece.replace(SENTENCEPIECE_SPACE, " ").encode("utf-8")
        return piece.encode("utf-8")
