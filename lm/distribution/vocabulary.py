"""The vocabulary as bytes: every token id of the model's output layer as a `Token`.

Ids the tokenizer does not define (output rows a model pads its vocabulary with) have no
Token; the next-token distribution gives them probability zero.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from lm.errors import TokenizerError
from lm.distribution.token import Token
from lm.distribution.token_bytes import PieceDecoder, PieceEncoding, piece_encoding


class Vocabulary:
    """Tokens by id, the EOS ids, and lookups by bytes."""

    def __init__(self, tokens: Sequence[Token | None], eos_ids: Iterable[int], encoding: PieceEncoding):
        self.tokens: list[Token | None] = list(tokens)
        self.eos_ids: tuple[int, ...] = tuple(sorted(set(eos_ids)))
        self.encoding = encoding
        self.defined = np.array([t is not None for t in self.tokens], dtype=bool)
        self._by_bytes: dict[bytes, list[int]] = {}
        for t in self.tokens:
            if t is not None and not t.is_special:
                self._by_bytes.setdefault(t.bytes, []).append(t.id)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, token_id: int) -> Token:
        token = self.tokens[token_id] if 0 <= token_id < len(self.tokens) else None
        if token is None:
            raise KeyError(f"token id {token_id} is not in the vocabulary (size {len(self.tokens)})")
        return token

    @property
    def eos(self) -> Token:
        """The first end-of-sequence token."""
        return self.tokens[self.eos_ids[0]]

    def ids_for_bytes(self, data: bytes) -> list[int]:
        """Ids of the (non-special) tokens whose bytes are exactly `data`."""
        return list(self._by_bytes.get(bytes(data), ()))

    def token_id(self, value: Any) -> int | None:
        """The id of a Token of this vocabulary or of an int id; None for anything else."""
        if isinstance(value, Token):
            i = value.id
            return i if 0 <= i < len(self.tokens) and self.tokens[i] == value else None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            i = int(value)
            return i if 0 <= i < len(self.tokens) and self.tokens[i] is not None else None
        return None

    def decode(self, ids: Iterable[int]) -> bytes:
        """The bytes of a token sequence (special tokens contribute nothing)."""
        return b"".join(self.tokens[i].bytes for i in ids)


def _eos_ids(tokenizer: Any, config: Any, generation_config: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(tokenizer, "eos_token_id", None), getattr(config, "eos_token_id", None),
                   getattr(generation_config, "eos_token_id", None)):
        if source is None:
            continue
        ids.update(int(i) for i in (source if isinstance(source, (list, tuple)) else [source]))
    return ids


def build_vocabulary(tokenizer: Any, logit_width: int, config: Any = None, generation_config: Any = None,
                     where: str = "the tokenizer") -> Vocabulary:
    """A Vocabulary for `tokenizer` over the model's `logit_width` output ids; errors name `where`."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TokenizerError(f"{where}: only `tokenizers`-backed (fast) tokenizers are supported; "
                             f"got {type(tokenizer).__name__} (add a tokenizer.json)")
    encoding = piece_encoding(backend.to_str())
    decoder = PieceDecoder(encoding)
    eos = {i for i in _eos_ids(tokenizer, config, generation_config) if 0 <= i < logit_width}
    if not eos:
        raise TokenizerError(f"{where}: the tokenizer defines no end-of-sequence token within the model's "
                             f"{logit_width} output ids (set eos_token in tokenizer_config.json or eos_token_id in config.json)")
    added = {int(i): t for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()}
    special_ids = set(getattr(tokenizer, "all_special_ids", [])) | eos
    count = min(logit_width, len(tokenizer))
    pieces = tokenizer.convert_ids_to_tokens(list(range(count)))
    tokens: list[Token | None] = [None] * logit_width
    for i, piece in enumerate(pieces):
        if piece is None:
            continue
        is_eos = i in eos
        added_token = added.get(i)
        if i in special_ids or (added_token is not None and getattr(added_token, "special", False)):
            tokens[i] = Token(i, b"", str(getattr(added_token, "content", piece)), is_eos=is_eos, is_special=True)
            continue
        if added_token is not None:
            data = str(added_token.content).encode("utf-8")
        else:
            try:
                data = decoder(piece)
            except ValueError as e:
                raise TokenizerError(f"{where}: token {i}: {e}") from None
        tokens[i] = Token(i, data, data.decode("utf-8", errors="replace"), is_eos=is_eos)
    for i in eos:
        if tokens[i] is None:
            tokens[i] = Token(i, b"", "<eos>", is_eos=True, is_special=True)
    return Vocabulary(tokens, eos, encoding)
