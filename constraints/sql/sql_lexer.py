"""sqlite's tokenizer, byte by byte, with immutable states: SQL text into tokens as sqlite reads it.

Token boundaries follow sqlite3GetToken: maximal munch, whitespace between tokens,
`'...'` strings and `"..."`, `` `...` ``, `[...]` identifiers with doubled-quote escapes,
numbers (`12`, `1.5`, `.5`, `1e-3`, `0x1F`) that an identifier character may not follow,
`X'..'` blobs. Comments, bind parameters and the JSON operators `->`, `->>` are not part of
the language (the lexer refuses them). A bare word that is an sqlite keyword becomes a
keyword token; any other becomes an identifier.

`Lexer.step(partial, byte)` returns the tokens the byte completes and the new partial
token; `completions(partial)` lists what an unfinished token may still become, for the
prefix test.
"""
from __future__ import annotations

# sqlite's keywords (https://sqlite.org/lang_keywords.html).
KEYWORDS = frozenset(
    """ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP
    GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT
    INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING
    NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING
    PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE
    RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN
    TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL
    WHEN WHERE WINDOW WITH WITHOUT""".split()
)

# Terminal names of the token classes other than keywords and operators.
ID, QID, DQ, STR, NUM, BLOB, EOF = "ID", "QID", "DQ", "STR", "NUM", "BLOB", "$"
_NAMED = frozenset((ID, QID, DQ, STR))

_SPACE = frozenset(b" \t\n\f\r")
_DIGIT = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ID_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") | frozenset(range(0x80, 0x100))
_ID_CHAR = _ID_START | _DIGIT | frozenset(b"$")
_SINGLE = {ord(c): c for c in "(),;+*%~&"}
# Operators that a further byte may extend: the longer spellings each may become.
_EXTENDS = {"<": ("<=", "<>", "<<"), ">": (">=", ">>"), "=": ("==",), "|": ("||",), "!": ("!=",),
            "-": (), "/": ()}
_MAX_HEX_DIGITS = 16  # sqlite: "hex literal too big" past 64 bits


class LexError(ValueError):
    """Bytes that sqlite cannot tokenize (or that the language leaves out, such as comments)."""


class Token:
    """A complete token. `term` is the parser terminal (a keyword, an operator, or a class
    name such as ID); `text` is the name or literal content; `key` the ASCII-lowercased name."""

    __slots__ = ("term", "text", "key", "integer")

    def __init__(self, term: str, text: str = "", integer: bool = False):
        self.term, self.text, self.integer = term, text, integer
        self.key = fold(text) if term in _NAMED else text

    def __repr__(self) -> str:
        return f"Token({self.term}, {self.text!r})"


def fold(name: str) -> str:
    """sqlite's case folding of identifiers: ASCII letters only."""
    if name.isascii():
        return name.lower()
    return name.encode("utf-8", "surrogateescape").lower().decode("utf-8", "surrogateescape")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


KEYWORD_TOKENS = {word: Token(word, word) for word in KEYWORDS}


def word_token(data: bytes) -> Token:
    upper = data.upper()
    if upper.isascii() and upper.decode() in KEYWORDS:
        return Token(upper.decode(), _decode(data))
    return Token(ID, _decode(data))


class Partial:
    """An unfinished token: `kind` is one of word, num, quote, bracket, blob, op, dot.

    `data` holds the bytes read so far (for quotes: the unescaped content), `phase` the
    position inside a number, `quote` the quote byte, `closed` whether a closing quote was
    just read (it is an escape if the same quote follows).
    """

    __slots__ = ("kind", "data", "phase", "quote", "closed")

    def __init__(self, kind: str, data: bytes = b"", phase: str = "", quote: int = 0, closed: bool = False):
        self.kind, self.data, self.phase, self.quote, self.closed = kind, data, phase, quote, closed

    def __repr__(self) -> str:
        return f"Partial({self.kind}, {self.data!r}, {self.phase}{', closed' if self.closed else ''})"


# What a partial token may still become, for the prefix test: complete tokens,
# ("prefix", class, text): a token of that class whose text starts with `text`, or
# ("keyword", TEXT): a keyword starting with TEXT.


class Lexer:
    """Stateless stepping functions; a lexer state is a `Partial` or None (between tokens)."""

    def step(self, partial: Partial | None, byte: int) -> tuple[list[Token], Partial | None]:
        """Tokens completed by `byte` and the partial token after it; LexError if none can follow."""
        if partial is None:
            return self._start(byte)
        kind = partial.kind
        if kind == "word":
            if byte in _ID_CHAR:
                return [], Partial("word", partial.data + bytes((byte,)))
            if byte == 0x27 and partial.data in (b"x", b"X"):
                return [], Partial("blob", b"")
            return self._after(word_token(partial.data), byte)
        if kind == "quote":
            return self._quote(partial, byte)
        if kind == "bracket":
            if byte == 0x5D:
                return [Token(QID, _decode(partial.data))], None
            return [], Partial("bracket", partial.data + bytes((byte,)))
        if kind == "num":
            return self._number(partial, byte)
        if kind == "dot":
            if byte in _DIGIT:
                return [], Partial("num", b"." + bytes((byte,)), "frac")
            return self._after(Token("."), byte)
        if kind == "blob":
            if partial.closed:
                if byte in _ID_CHAR:
                    raise LexError("an identifier character right after a blob literal")
                return self._after(Token(BLOB, _decode(partial.data)), byte)
            if byte == 0x27:
                if len(partial.data) % 2:
                    raise LexError("a blob literal with an odd number of hex digits")
                return [], Partial("blob", partial.data, closed=True)
            if byte in _HEX:
                return [], Partial("blob", partial.data + bytes((byte,)))
            raise LexError("a non-hex character in a blob literal")
        # kind == "op"
        text = partial.data.decode()
        longer = text + chr(byte)
        if longer in _EXTENDS[text]:
            return [Token(longer)], None
        if text == "!":
            raise LexError("'!' not followed by '='")
        if text == "-" and byte in (0x2D, 0x3E):
            raise LexError("comments and the -> operators are not part of the language")
        if text == "/" and byte == 0x2A:
            raise LexError("comments are not part of the language")
        return self._after(Token(text), byte)

    def _after(self, token: Token, byte: int) -> tuple[list[Token], Partial | None]:
        """`token` is complete; `byte` starts what follows it."""
        tokens, partial = self._start(byte)
        return [token] + tokens, partial

    def _start(self, byte: int) -> tuple[list[Token], Partial | None]:
        if byte in _SPACE:
            return [], None
        if byte in _ID_START:
            return [], Partial("word", bytes((byte,)))
        if byte in _DIGIT:
            return [], Partial("num", bytes((byte,)), "int")
        if byte in (0x27, 0x22, 0x60):
            return [], Partial("quote", b"", quote=byte)
        if byte == 0x5B:
            return [], Partial("bracket", b"")
        if byte == 0x2E:
            return [], Partial("dot")
        char = chr(byte)
        if char in _EXTENDS:
            return [], Partial("op", char.encode())
        single = _SINGLE.get(byte)
        if single is not None:
            return [Token(single)], None
        raise LexError(f"byte {chr(byte)!r} starts no token of the language")

    def _quote(self, partial: Partial, byte: int):
        quote = partial.quote
        if partial.closed:
            if byte == quote:
                return [], Partial("quote", partial.data + bytes((byte,)), quote=quote)
            return self._after(self._quoted(partial), byte)
        if byte == quote:
            return [], Partial("quote", partial.data, quote=quote, closed=True)
        return [], Partial("quote", partial.data + bytes((byte,)), quote=quote)

    @staticmethod
    def _quoted(partial: Partial) -> Token:
        term = {0x27: STR, 0x22: DQ, 0x60: QID}[partial.quote]
        return Token(term, _decode(partial.data))

    def _number(self, partial: Partial, byte: int):
        data, phase = partial.data, partial.phase
        extended = data + bytes((byte,))
        if phase == "int":
            if byte in _DIGIT:
                return [], Partial("num", extended, "int")
            if byte == 0x2E:
                return [], Partial("num", extended, "frac")
            if byte in (0x65, 0x45):
                return [], Partial("num", extended, "e")
            if byte in (0x78, 0x58) and data == b"0":
                return [], Partial("num", extended, "hex0")
        elif phase == "frac":
            if byte in _DIGIT:
                return [], Partial("num", extended, "frac")
            if byte in (0x65, 0x45):
                return [], Partial("num", extended, "e")
        elif phase == "e":
            if byte in _DIGIT:
                return [], Partial("num", extended, "exp")
            if byte in (0x2B, 0x2D):
                return [], Partial("num", extended, "esign")
            raise LexError("a number with an incomplete exponent")
        elif phase == "esign":
            if byte in _DIGIT:
                return [], Partial("num", extended, "exp")
            raise LexError("a number with an incomplete exponent")
        elif phase == "exp":
            if byte in _DIGIT:
                return [], Partial("num", extended, "exp")
        elif phase in ("hex0", "hex"):
            if byte in _HEX:
                if len(data) - 2 >= _MAX_HEX_DIGITS:
                    raise LexError("hex literal too big")
                return [], Partial("num", extended, "hex")
            if phase == "hex0":
                raise LexError("'0x' without hex digits")
        if byte in _ID_CHAR:
            raise LexError("an identifier character right after a number")
        return self._after(self._number_token(partial), byte)

    @staticmethod
    def _number_token(partial: Partial) -> Token:
        return Token(NUM, partial.data.decode(), integer=partial.phase in ("int", "hex"))

    def finish(self, partial: Partial | None) -> Token | None:
        """The token a partial token is at the end of the text; LexError if it is unfinished."""
        if partial is None:
            return None
        kind = partial.kind
        if kind == "word":
            return word_token(partial.data)
        if kind == "num":
            if partial.phase in ("e", "esign", "hex0"):
                raise LexError("an unfinished number")
            return self._number_token(partial)
        if kind == "quote" and partial.closed:
            return self._quoted(partial)
        if kind == "blob" and partial.closed:
            return Token(BLOB, _decode(partial.data))
        if kind == "dot":
            return Token(".")
        if kind == "op":
            if partial.data == b"!":
                raise LexError("'!' not followed by '='")
            return Token(partial.data.decode())
        raise LexError("an unterminated quoted token")

    def completions(self, partial: Partial) -> list:
        """What `partial` may still become: complete tokens, ("prefix", class, text) or ("keyword", TEXT)."""
        kind = partial.kind
        if kind == "word":
            data = partial.data
            found: list = [("prefix", ID, _decode(data))]
            if data.isascii():
                found.append(("keyword", data.decode().upper()))
            if data in (b"x", b"X"):
                found.append(("prefix", BLOB, ""))
            return found
        if kind == "num":
            return [("prefix", NUM, partial.data.decode())]
        if kind == "dot":
            return [Token("."), ("prefix", NUM, ".")]
        if kind == "op":
            text = partial.data.decode()
            tokens = [Token(longer) for longer in _EXTENDS[text]]
            return tokens if text == "!" else [Token(text)] + tokens
        if kind == "quote":
            term = {0x27: STR, 0x22: DQ, 0x60: QID}[partial.quote]
            content = _decode(partial.data)
            if partial.closed:
                return [self._quoted(partial), ("prefix", term, content + chr(partial.quote))]
            return [("prefix", term, content)]
        if kind == "bracket":
            return [("prefix", QID, _decode(partial.data))]
        if kind == "blob":
            return [Token(BLOB, _decode(partial.data))] if partial.closed else [("prefix", BLOB, "")]
        raise AssertionError(kind)


def tokenize(text: bytes) -> list[Token]:
    """All tokens of a complete text (LexError if it does not tokenize)."""
    lexer, partial, tokens = Lexer(), None, []
    for byte in text:
        done, partial = lexer.step(partial, byte)
        tokens += done
    last = lexer.finish(partial)
    if last is not None:
        tokens.append(last)
    return tokens
