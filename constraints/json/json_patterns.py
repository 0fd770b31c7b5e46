r"""A `pattern` for prefix tests: the same regex with its lookarounds and word boundaries removed.

The `regex` module's partial matching (`search(text, partial=True)`) answers "can some
continuation of `text` match?" correctly for ordinary regexes, anchors included, but not
for zero-width assertions that look past the text so far: a lookahead reads the end of
the prefix as the end of the text (`^(?!in$)[a-z_]+$` refuses the prefix `in` of
`integer`), a lookbehind at the start of an unanchored search never sees characters still
to come, and `\b`/`\B` at the end of the prefix are decided as if nothing followed.
Removing those assertions only enlarges the set of matching texts, so partial matching of
the relaxed pattern is a sound prefix test for the original; the original is still
checked exactly with `re.search` when the string closes.
"""
from __future__ import annotations

import re

_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


def prefix_pattern(pattern: str) -> str | None:
    """`pattern` with lookarounds and `\\b`/`\\B` replaced by empty groups, for partial
    matching; None when that is not safe (a group that captures inside a lookaround, whose
    number a backreference may use, or verbose mode, where `#` and spaces are not text)."""
    try:
        if re.compile(pattern).flags & re.VERBOSE:
            return None if _has_assertion(pattern) else pattern
    except re.error:
        return None
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1:i + 2] in ("b", "B"):
                out.append("(?:)")
            else:
                out.append(pattern[i:i + 2])
            i += 2
        elif char == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
        elif pattern.startswith(_LOOKAROUND, i):
            end = _group_end(pattern, i)
            if _captures(pattern[i:end]):
                return None
            out.append("(?:)")
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _has_assertion(pattern: str) -> bool:
    return any(marker in pattern for marker in _LOOKAROUND + ("\\b", "\\B"))


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class opening at `start`."""
    i = start + 1
    if pattern[i:i + 1] == "^":
        i += 1
    if pattern[i:i + 1] == "]":
        i += 1  # a `]` first in a class is a literal
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    return len(pattern)


def _group_end(pattern: str, start: int) -> int:
    """The index just past the group opening at `start` (parentheses counted outside classes)."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(pattern)


def _captures(group: str) -> bool:
    """Some group inside `group` (past its opening) captures."""
    i = 1
    while i < len(group):
        char = group[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(group, i)
            continue
        if char == "(" and (group[i + 1:i + 2] != "?" or group.startswith("(?P<", i)):
            return True
        i += 1
    return False
