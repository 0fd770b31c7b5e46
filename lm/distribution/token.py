"""`Token`: one vocabulary entry as the exact bytes it contributes to the text."""
from __future__ import annotations


class Token:
    """A token of a vocabulary: `.id`, `.bytes` (exact), `.text` (best-effort decode), `.is_eos`, `.is_special`.

    Tokens are compared and hashed by id and bytes, so they work as trace values and dict keys.
    Special tokens (EOS, BOS, padding, control tokens) contribute no bytes to the text.
    """

    __slots__ = ("id", "bytes", "text", "is_eos", "is_special", "_hash")

    def __init__(self, id: int, bytes_: bytes, text: str, is_eos: bool = False, is_special: bool = False):
        self.id = int(id)
        self.bytes = bytes(bytes_)
        self.text = text
        self.is_eos = bool(is_eos)
        self.is_special = bool(is_special)
        self._hash = hash((self.id, self.bytes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other.id == self.id and other.bytes == self.bytes

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.is_special:
            return f"Token({self.id}, {self.text!r}{', eos' if self.is_eos else ''})"
        return f"Token({self.id}, {self.bytes!r})"

    def __reduce__(self):
        return (Token, (self.id, self.bytes, self.text, self.is_eos, self.is_special))
