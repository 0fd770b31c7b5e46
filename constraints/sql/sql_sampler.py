"""Random sentences of a Lark grammar, to test the SQL grammar against sqlite.

A depth-limited random expansion: below `max_depth` every alternative is equally likely;
past it, only the alternatives of least height (the shortest way to finish) are used.
Regex terminals are sampled from their parsed form (literals, classes, alternations,
bounded repeats), so every sentence is in the grammar by construction.
"""
from __future__ import annotations

import random
import re

import lark

try:  # Python 3.11+
    import re._constants as _sre
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_PRINTABLE = [chr(c) for c in range(32, 127)]


class GrammarSampler:
    """Draws random sentences from a Lark grammar (rules as compiled by lark)."""

    def __init__(self, grammar: str | lark.Lark, start: str = "start", max_depth: int = 12):
        parser = grammar if isinstance(grammar, lark.Lark) else lark.Lark(grammar, parser="earley", start=start)
        self.start, self.max_depth = start, max_depth
        self.rules: dict[str, list[list]] = {}
        for rule in parser.rules:
            self.rules.setdefault(rule.origin.name, []).append(list(rule.expansion))
        self.patterns = {t.name: t.pattern for t in parser.terminals}
        self.height = self._heights()
        self._parsed: dict[str, object] = {}

    def _heights(self) -> dict[str, float]:
        height = {name: float("inf") for name in self.rules}
        changed = True
        while changed:
            changed = False
            for name, alternatives in self.rules.items():
                best = min(self._alternative_height(a, height) for a in alternatives)
                if best < height[name]:
                    height[name], changed = best, True
        return height

    @staticmethod
    def _alternative_height(alternative: list, height: dict[str, float]) -> float:
        inner = [height[s.name] for s in alternative if not s.is_term]
        return 1 + max(inner, default=0)

    def sample(self, rng: random.Random) -> str:
        out: list[str] = []
        self._expand(self.start, 0, rng, out)
        return "".join(out)

    def _expand(self, name: str, depth: int, rng: random.Random, out: list[str]) -> None:
        alternatives = self.rules[name]
        if depth >= self.max_depth:
            least = min(self._alternative_height(a, self.height) for a in alternatives)
            alternatives = [a for a in alternatives if self._alternative_height(a, self.height) == least]
        for symbol in rng.choice(alternatives):
            if symbol.is_term:
                out.append(self._terminal(symbol.name, rng))
            else:
                self._expand(symbol.name, depth + 1, rng, out)

    def _terminal(self, name: str, rng: random.Random) -> str:
        pattern = self.patterns[name]
        if pattern.type == "str":
            text = pattern.value
            if "i" in pattern.flags:
                text = "".join(c.lower() if rng.random() < 0.5 else c.upper() for c in text)
            return text
        if name not in self._parsed:
            self._parsed[name] = _sre_parse.parse(pattern.value)
        return _regex_sample(self._parsed[name], rng)


def _regex_sample(parsed, rng: random.Random) -> str:
    out: list[str] = []
    for op, arg in parsed:
        if op is _sre.LITERAL:
            out.append(chr(arg))
        elif op is _sre.NOT_LITERAL:
            out.append(rng.choice([c for c in _PRINTABLE if ord(c) != arg]))
        elif op is _sre.IN:
            out.append(rng.choice(_class_members(arg)))
        elif op is _sre.ANY:
            out.append(rng.choice(_PRINTABLE))
        elif op is _sre.BRANCH:
            out.append(_regex_sample(rng.choice(arg[1]), rng))
        elif op is _sre.SUBPATTERN:
            out.append(_regex_sample(arg[-1], rng))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            low, high, item = arg
            count = low
            while count < min(high, low + 6) and rng.random() < 0.6:
                count += 1
            out.extend(_regex_sample(item, rng) for _ in range(count))
        else:
            raise ValueError(f"regex construct {op} is not supported by the sampler")
    return "".join(out)


def _class_members(items) -> list[str]:
    negate = any(op is _sre.NEGATE for op, _ in items)
    chosen = set()
    for op, arg in items:
        if op is _sre.LITERAL:
            chosen.add(chr(arg))
        elif op is _sre.RANGE:
            chosen.update(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is _sre.CATEGORY:
            probe = {_sre.CATEGORY_DIGIT: r"\d", _sre.CATEGORY_SPACE: r"\s", _sre.CATEGORY_WORD: r"\w"}
            regex = re.compile(probe.get(arg, r"\w"))
            chosen.update(c for c in _PRINTABLE if regex.match(c))
    if negate:
        return [c for c in _PRINTABLE if c not in chosen]
    return sorted(chosen)
