"""`re.search` as whole-string matching: the regex tree of the texts in which a pattern occurs.

`re.search(p, text)` succeeds exactly when `text` is some text, then a match of `p`, then any
text, except where `p` ends in `$` or `\\Z`: after `$` only a final newline may follow (any
newline and more with the `m` flag), after `\\Z` nothing. So the search language is
`(?s:.*)` followed by the pattern with its tail extended: each branch that ends in an end
anchor gets what that anchor lets follow, every other branch gets `(?s:.*)`. `^` needs nothing:
it is a lookbehind for "no character before", true only at the very start.
"""
from __future__ import annotations

import re

from constraints.regular.regex_parser import RegexError
from constraints.regular.regex_syntax import (EMPTY, MAX_CODE_POINT, Alt, CharSet, Concat, EndAnchor, Node,
                                              Repeat)

_ANY_TEXT = Repeat(CharSet(((0, MAX_CODE_POINT),)), 0, None, True)
_NEWLINE = CharSet(((10, 10),))


def search_tree(tree: Node, pattern: str, flags: int = 0) -> Node:
    """The tree whose whole-string matches are the texts `re.search(pattern, text, flags)` finds a match in.

    `tree` is `parse_regex(pattern, flags)`. Raises RegexError for an end anchor inside a
    repetition (`($)*`), which this construction does not follow."""
    multiline = bool((re.compile(pattern, flags).flags | flags) & re.MULTILINE)
    return Concat((_ANY_TEXT, _extended(tree, pattern, multiline)))


def _extended(node: Node, pattern: str, multiline: bool) -> Node:
    """`node` followed by whatever `re.search` lets follow its match."""
    if not _has_end_anchor(node):
        return Concat((node, _ANY_TEXT))
    if isinstance(node, EndAnchor):
        if pattern[node.position:node.position + 1] != "$":
            return EMPTY  # \Z: the end of the text
        if multiline:
            return Alt((EMPTY, Concat((_NEWLINE, _ANY_TEXT))))
        return Repeat(_NEWLINE, 0, 1, True)
    if isinstance(node, Alt):
        return Alt(tuple(_extended(option, pattern, multiline) for option in node.options))
    if isinstance(node, Concat):
        # parse_regex allows an end anchor only where nothing but empty matches follow it
        last = max(i for i, item in enumerate(node.items) if _has_end_anchor(item))
        items = node.items
        return Concat(items[:last] + (_extended(items[last], pattern, multiline),) + items[last + 1:])
    if isinstance(node, Repeat) and node.max == 1:
        once = _extended(node.item, pattern, multiline)
        return Alt((once, _ANY_TEXT)) if node.min == 0 else once
    raise RegexError("unsupported regex feature for a search: end anchor inside a repetition", pattern,
                     max(0, _anchor_position(node)))


def _has_end_anchor(node: Node) -> bool:
    return _anchor_position(node) is not None


def _anchor_position(node: Node) -> int | None:
    if isinstance(node, EndAnchor):
        return node.position
    children = node.items if isinstance(node, Concat) else node.options if isinstance(node, Alt) else \
        (node.item,) if isinstance(node, Repeat) else ()
    for child in children:
        found = _anchor_position(child)
        if found is not None:
            return found
    return None
