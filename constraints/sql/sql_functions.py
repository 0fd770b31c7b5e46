"""The SQL functions a query may call: sqlite's built-ins, with the argument counts sqlite checks.

The list is a chosen set of deterministic functions (aggregates, string, number, date and
math functions); each is kept only if the sqlite library Python runs has it
(`pragma_function_list`), so a query that calls one also prepares there. Functions left
out: window functions (need OVER), JSON functions (fail at run time on malformed JSON),
blob makers that can exceed sqlite's size limit, random and introspection functions.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# name: (fewest arguments, most arguments or None for any number)
_SCALARS = {
    "abs": (1, 1), "char": (0, None), "coalesce": (2, None), "format": (0, None), "hex": (1, 1),
    "ifnull": (2, 2), "iif": (3, 3), "instr": (2, 2), "length": (1, 1), "likely": (1, 1),
    "lower": (1, 1), "ltrim": (1, 2), "nullif": (2, 2), "printf": (0, None), "quote": (1, 1),
    "replace": (3, 3), "round": (1, 2), "rtrim": (1, 2), "sign": (1, 1), "substr": (2, 3),
    "substring": (2, 3), "trim": (1, 2), "typeof": (1, 1), "unicode": (1, 1), "unlikely": (1, 1),
    "upper": (1, 1),
    "date": (0, None), "time": (0, None), "datetime": (0, None), "julianday": (0, None),
    "unixepoch": (0, None), "strftime": (0, None),
    "ceil": (1, 1), "ceiling": (1, 1), "floor": (1, 1), "trunc": (1, 1), "sqrt": (1, 1),
    "pow": (2, 2), "power": (2, 2), "exp": (1, 1), "ln": (1, 1), "log": (1, 2), "log10": (1, 1),
    "log2": (1, 1), "mod": (2, 2), "pi": (0, 0),
}
_AGGREGATES = {"avg": (1, 1), "count": (0, 1), "group_concat": (1, 2), "sum": (1, 1), "total": (1, 1)}
# min and max: an aggregate with one argument, a scalar function with two or more.
_MIN_MAX = ("min", "max")


@dataclass(frozen=True)
class Function:
    """A callable function: `kind` is aggregate, scalar or minmax (aggregate iff one argument)."""

    name: str
    kind: str
    fewest: int
    most: int | None

    def takes(self, count: int) -> bool:
        return count >= self.fewest and (self.most is None or count <= self.most)


def sqlite_functions() -> dict[str, Function]:
    """The functions above that this sqlite library provides, by lowercase name."""
    connection = sqlite3.connect(":memory:")
    try:
        available = {row[0] for row in connection.execute("SELECT name FROM pragma_function_list")}
    except sqlite3.Error:  # pragma_function_list is compiled out: trust the list
        available = set(_SCALARS) | set(_AGGREGATES) | set(_MIN_MAX)
    finally:
        connection.close()
    functions = {}
    for name, (fewest, most) in _SCALARS.items():
        if name in available:
            functions[name] = Function(name, "scalar", fewest, most)
    for name, (fewest, most) in _AGGREGATES.items():
        if name in available:
            functions[name] = Function(name, "aggregate", fewest, most)
    for name in _MIN_MAX:
        if name in available:
            functions[name] = Function(name, "minmax", 1, None)
    return functions
