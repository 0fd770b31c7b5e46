"""A parser for a documented subset of Python `re` syntax, producing `regex_syntax` trees.

Python's own compiler first validates the pattern, so every syntax error is reported with
Python's message and position; this parser then builds the tree, following `re`'s grammar
(escapes, classes, braces that are literals when not a valid quantifier, verbose mode, scoped
flags) and raising `ConstraintError` that names any feature outside the subset.
"""
from __future__ import annotations

import re
import unicodedata

from constraints.base import ConstraintError
from constraints.regular.regex_syntax import (
    MAX_CODE_POINT, SURROGATES, Alt, CharSet, Concat, EndAnchor, Lookbehind, Node, Ranges,
    Repeat, complement_ranges, intersect_ranges, normalize_ranges, union_ranges,
)
from constraints.regular import unicode_tables as tables

_SPECIAL = set(".\\[{()*+?^$|")
_WHITESPACE = set(" \t\n\r\v\f")
_DIGITS = set("0123456789")
_OCTAL = set("01234567")
_HEX = set("0123456789abcdefABCDEF")
_ASCII_LETTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_FLAG_LETTERS = {"a": re.ASCII, "i": re.IGNORECASE, "L": re.LOCALE, "m": re.MULTILINE,
                 "s": re.DOTALL, "u": re.UNICODE, "x": re.VERBOSE}
_ALL = ((0, MAX_CODE_POINT),)
_NON_ASCII = ((0x80, SURROGATES[0] - 1), (SURROGATES[1] + 1, MAX_CODE_POINT))
MAX_REPEAT_COUNT = 1000


class RegexError(ConstraintError):
    """A pattern is invalid or outside the supported subset; `position` is an index into it."""

    def __init__(self, message: str, pattern: str, position: int):
        super().__init__(f"{message} at position {position} in regex {pattern!r}")
        self.pattern, self.position, self.reason = pattern, position, message


def parse_regex(pattern: str, flags: int = 0, end_anchors: bool = True) -> Node:
    """Parse `pattern` (Python syntax, `re` flags) into a tree over characters.

    `end_anchors=False` rejects `$` and `\\Z` (meaningless when a match may be followed by
    more text, as for Lark terminals).
    """
    if not isinstance(pattern, str):
        raise ConstraintError(f"regex pattern must be a str, got {type(pattern).__name__}")
    try:
        re.compile(pattern, flags)
    except re.error as err:
        raise RegexError(f"invalid regex: {err.msg}", pattern, err.pos or 0) from None
    except (OverflowError, ValueError) as err:
        raise RegexError(f"invalid regex: {err}", pattern, 0) from None
    if flags & re.LOCALE:
        raise RegexError("unsupported flag re.LOCALE", pattern, 0)
    tree = _Parser(pattern, flags).parse()
    _check_end_anchors(tree, pattern, end_anchors)
    return tree


class _Parser:
    def __init__(self, pattern: str, flags: int):
        self.text = pattern
        self.pos = 0
        self.flags = flags

    # -- reading ---------------------------------------------------------------------------
    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def take(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def accept(self, ch: str) -> bool:
        if self.peek() == ch:
            self.pos += 1
            return True
        return False

    def unsupported(self, feature: str, position: int):
        raise RegexError(f"unsupported regex feature: {feature}", self.text, position)

    # -- structure -------------------------------------------------------------------------
    def parse(self) -> Node:
        tree = self.alternation(self.flags, top=True)
        if self.pos != len(self.text):  # pragma: no cover - re.compile rejects unbalanced ')'
            raise RegexError("unbalanced parenthesis", self.text, self.pos)
        return tree

    def alternation(self, flags: int, top: bool = False) -> Node:
        options = [self.sequence(flags, first=top)]
        while self.accept("|"):
            if top:  # global flags seen in the first branch apply to the rest
                flags = self.flags
            options.append(self.sequence(flags))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self, flags: int, first: bool = False) -> Node:
        items: list[Node] = []
        while True:
            ch = self.peek()
            if ch is None or ch in "|)":
                break
            start = self.pos
            self.pos += 1
            if flags & re.VERBOSE:
                if ch in _WHITESPACE:
                    continue
                if ch == "#":
                    while self.peek() not in (None, "\n"):
                        self.pos += 1
                    continue
            if ch in "*+?{":
                if not self.quantifier(ch, start, items):
                    items.append(self.char_atom("{", start, flags))
                continue
            atom = self.atom(ch, start, flags)
            if atom is None:  # a comment group or global flags
                if first and not items:
                    flags = self.flags
                continue
            items.append(atom)
        if len(items) == 1:
            return items[0]
        return Concat(tuple(items))

    def quantifier(self, ch: str, start: int, items: list) -> bool:
        """Apply a quantifier to the last item; False when a '{' is a literal brace."""
        if ch == "{":
            if self.peek() == "}":
                return False
            lo = hi = ""
            while self.peek() is not None and self.peek() in _DIGITS:
                lo += self.take()
            if self.accept(","):
                while self.peek() is not None and self.peek() in _DIGITS:
                    hi += self.take()
            else:
                hi = lo
            if not self.accept("}"):
                self.pos = start + 1
                return False
            low = int(lo) if lo else 0
            high = int(hi) if hi else None
        else:
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        if max(low, high or 0) > MAX_REPEAT_COUNT:
            raise RegexError(f"repetition count above {MAX_REPEAT_COUNT}", self.text, start)
        greedy = True
        if self.accept("?"):
            greedy = False
        elif self.peek() == "+":
            self.unsupported("possessive quantifier", self.pos)
        item = items.pop()  # re.compile guarantees there is something repeatable
        items.append(Repeat(item, low, high, greedy))
        return True

    def atom(self, ch: str, start: int, flags: int) -> Node | None:
        if ch == "\\":
            return self.escape(start, flags)
        if ch not in _SPECIAL:
            return self.char_atom(ch, start, flags)
        if ch == "[":
            return self.char_class(start, flags)
        if ch == ".":
            ranges = _ALL if flags & re.DOTALL else complement_ranges(((10, 10),))
            return CharSet(ranges)
        if ch == "(":
            return self.group(start, flags)
        if ch == "^":
            return _line_start(flags)
        if ch == "$":
            return EndAnchor(start)
        raise AssertionError(ch)  # pragma: no cover

    # -- characters ------------------------------------------------------------------------
    def char_atom(self, ch: str, start: int, flags: int) -> CharSet:
        return self.with_case(CharSet(((ord(ch), ord(ch)),)), start, flags)

    def with_case(self, charset: CharSet, start: int, flags: int) -> CharSet:
        """Apply IGNORECASE to a one-character atom spanning text[start:self.pos]."""
        if not flags & re.IGNORECASE:
            return charset
        source = self.text[start:self.pos]
        effective = flags & (re.IGNORECASE | re.ASCII | re.DOTALL)
        return CharSet(tables.case_insensitive(source, effective, charset.ranges))

    def escape(self, start: int, flags: int) -> Node:
        ch = self.take()
        category = _category(ch, flags)
        if category is not None:
            return self.with_case(CharSet(category), start, flags)
        if ch == "A":
            return Lookbehind(_ALL, negate=True)
        if ch == "Z":
            return EndAnchor(start)
        if ch in ("b", "B"):
            self.unsupported(f"word boundary \\{ch}", start)
        if ch == "0":
            digits = self._take_while(_OCTAL, 2)
            return self.code_atom(int("0" + digits, 8), start, flags)
        if ch in _DIGITS:
            nxt = self.peek()
            if nxt is not None and nxt in _DIGITS:
                second = self.take()
                third = self.peek()
                if ch in _OCTAL and second in _OCTAL and third is not None and third in _OCTAL:
                    self.pos += 1
                    return self.code_atom(int(ch + second + third, 8), start, flags)
            self.unsupported("backreference", start)
        return self.code_atom(self._escaped_code(ch, start), start, flags)

    def code_atom(self, code: int, start: int, flags: int) -> CharSet:
        return self.with_case(CharSet(((code, code),)), start, flags)

    def _escaped_code(self, ch: str, start: int) -> int:
        """The code point of an escape that denotes one character (shared with classes)."""
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch == "x":
            return int(self._take_while(_HEX, 2), 16)
        if ch == "u":
            return int(self._take_while(_HEX, 4), 16)
        if ch == "U":
            return int(self._take_while(_HEX, 8), 16)
        if ch == "N":
            self.accept("{")
            end = self.text.index("}", self.pos)
            name = self.text[self.pos:end]
            self.pos = end + 1
            return ord(unicodedata.lookup(name))
        return ord(ch)

    def _take_while(self, allowed: set, limit: int) -> str:
        out = ""
        while len(out) < limit and self.peek() is not None and self.peek() in allowed:
            out += self.take()
        return out

    def char_class(self, start: int, flags: int) -> CharSet:
        negate = self.accept("^")
        parts: list[Ranges] = []
        while True:
            item_start = self.pos
            ch = self.take()
            if ch == "]" and parts:
                break
            low = self.class_item(ch, item_start, flags)
            if self.peek() == "-":
                self.pos += 1
                other_start = self.pos
                other = self.take()
                if other == "]":
                    parts.append(low if isinstance(low, tuple) else ((low, low),))
                    parts.append(((45, 45),))
                    break
                high = self.class_item(other, other_start, flags)
                # re.compile already rejected ranges whose ends are categories or reversed
                parts.append(((low, high),))
            else:
                parts.append(low if isinstance(low, tuple) else ((low, low),))
        ranges = union_ranges(*parts)
        if negate:
            ranges = complement_ranges(ranges)
        return self.with_case(CharSet(ranges), start, flags)

    def class_item(self, ch: str, start: int, flags: int):
        """A code point, or the ranges of a category escape such as \\d."""
        if ch != "\\":
            return ord(ch)
        esc = self.take()
        category = _category(esc, flags)
        if category is not None:
            return category
        if esc in _OCTAL:
            return int(esc + self._take_while(_OCTAL, 2), 8)
        return self._escaped_code(esc, start)

    # -- groups ----------------------------------------------------------------------------
    def group(self, start: int, flags: int) -> Node | None:
        if not self.accept("?"):
            return self.group_body(start, flags)
        ch = self.take()
        if ch == ":":
            return self.group_body(start, flags)
        if ch == "P":
            if self.accept("<"):
                self.pos = self.text.index(">", self.pos) + 1
                return self.group_body(start, flags)
            self.unsupported("backreference (?P=name)", start)
        if ch == "#":
            self.pos = self.text.index(")", self.pos) + 1
            return None
        if ch in "=!":
            self.unsupported("lookahead assertion", start)
        if ch == "<":
            kind = self.take()
            return self.lookbehind(start, flags, negate=(kind == "!"))
        if ch == "(":
            self.unsupported("conditional group (?(...)...)", start)
        if ch == ">":
            self.unsupported("atomic group (?>...)", start)
        return self.flag_group(ch, start, flags)

    def group_body(self, start: int, flags: int) -> Node:
        body = self.alternation(flags)
        self.accept(")")
        return body

    def flag_group(self, ch: str, start: int, flags: int) -> Node | None:
        add = remove = 0
        while ch not in ")-:":
            add |= _FLAG_LETTERS[ch]
            ch = self.take()
        if ch == "-":
            ch = self.take()
            while ch != ":":
                remove |= _FLAG_LETTERS[ch]
                ch = self.take()
        if add & re.LOCALE:
            self.unsupported("flag L", start)
        if ch == ")":  # global flags: re.compile only allows them at the very start
            self.flags |= add
            return None
        inner = (flags | add) & ~remove
        if add & re.ASCII:
            inner &= ~re.UNICODE
        body = self.alternation(inner)
        self.accept(")")
        return body

    def lookbehind(self, start: int, flags: int, negate: bool) -> Node:
        body = self.alternation(flags)
        self.accept(")")
        chars = _single_character(body)
        if chars is None:
            self.unsupported("lookbehind longer than one character", start)
        non_ascii = intersect_ranges(chars, _NON_ASCII)
        if non_ascii and non_ascii != _NON_ASCII:
            self.unsupported("lookbehind on a set with some but not all non-ASCII characters", start)
        return Lookbehind(chars, negate)


def _line_start(flags: int) -> Lookbehind:
    if flags & re.MULTILINE:
        return Lookbehind(complement_ranges(((10, 10),)), negate=True)
    return Lookbehind(_ALL, negate=True)


def _category(ch: str | None, flags: int) -> Ranges | None:
    ascii_only = bool(flags & re.ASCII)
    if ch in ("d", "D"):
        ranges = tables.ASCII_DIGIT if ascii_only else tables.unicode_digit()
    elif ch in ("w", "W"):
        ranges = tables.ASCII_WORD if ascii_only else tables.unicode_word()
    elif ch in ("s", "S"):
        ranges = tables.ASCII_SPACE if ascii_only else tables.unicode_space()
    else:
        return None
    return complement_ranges(ranges) if ch.isupper() else ranges


def _single_character(node: Node) -> Ranges | None:
    """The set of characters if `node` matches exactly one character, else None."""
    if isinstance(node, CharSet):
        return node.ranges
    if isinstance(node, Concat) and len(node.items) == 1:
        return _single_character(node.items[0])
    if isinstance(node, Alt):
        parts = [_single_character(o) for o in node.options]
        if any(p is None for p in parts):
            return None
        return normalize_ranges(r for p in parts for r in p)
    return None


def _only_empty(node: Node) -> bool:
    """`node` can match only the empty string."""
    if isinstance(node, CharSet):
        return False
    if isinstance(node, Concat):
        return all(_only_empty(i) for i in node.items)
    if isinstance(node, Alt):
        return all(_only_empty(o) for o in node.options)
    if isinstance(node, Repeat):
        return node.max == 0 or _only_empty(node.item)
    return True


def _check_end_anchors(node: Node, pattern: str, allowed: bool, at_tail: bool = True) -> None:
    """`$`/`\\Z` are supported only where nothing but empty matches can follow them."""
    if isinstance(node, EndAnchor):
        if not allowed:
            raise RegexError("unsupported regex feature: end anchor ($ or \\Z)", pattern, node.position)
        if not at_tail:
            raise RegexError("unsupported regex feature: end anchor ($ or \\Z) before more pattern",
                             pattern, node.position)
    elif isinstance(node, Concat):
        for index, item in enumerate(node.items):
            rest_empty = all(_only_empty(i) for i in node.items[index + 1:])
            _check_end_anchors(item, pattern, allowed, at_tail and rest_empty)
    elif isinstance(node, Alt):
        for option in node.options:
            _check_end_anchors(option, pattern, allowed, at_tail)
    elif isinstance(node, Repeat):
        again = node.max is None or node.max > 1
        _check_end_anchors(node.item, pattern, allowed,
                           at_tail and (not again or _only_empty(node.item)))


__all__ = ["parse_regex", "RegexError"]
