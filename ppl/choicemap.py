"""Choice maps and selections: random choices addressed by strings or tuples of keys.

An address is a string, an int, or a tuple of them; a tuple is a path into nested maps, so
`("sub", "x")` is the choice `"x"` inside the call at `"sub"`, and `(3, "x")` is `"x"` in the
fourth iteration of a `ppl.map`. A plain dict works wherever a ChoiceMap is taken: nested dicts
are submaps and tuple keys are paths.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from ppl.errors import AddressError

Key = "str | int"
Path = tuple


def as_path(address: Any) -> tuple:
    """The path of keys that an address names."""
    if isinstance(address, tuple):
        if not address:
            raise AddressError("the empty address () names no choice")
        return address
    return (address,)


class ChoiceMap:
    """An immutable tree of choices: leaves are values, inner nodes are ChoiceMaps."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Mapping | None = None):
        self._nodes: dict = {}
        for key, node in (nodes or {}).items():
            if isinstance(key, tuple):
                self._set_path(key, node)
            else:
                self._nodes[key] = ChoiceMap(node) if isinstance(node, Mapping) and not isinstance(node, ChoiceMap) else node
        self._nodes = {k: v for k, v in self._nodes.items() if not (isinstance(v, ChoiceMap) and v.is_empty())}

    def _set_path(self, path: tuple, node: Any) -> None:
        path = as_path(path)
        if len(path) == 1:
            self._nodes[path[0]] = ChoiceMap(node) if isinstance(node, Mapping) and not isinstance(node, ChoiceMap) else node
            return
        sub = self._nodes.get(path[0])
        if sub is None:
            sub = ChoiceMap()
        elif not isinstance(sub, ChoiceMap):
            raise AddressError(f"address {path!r} goes through the value at {path[0]!r}")
        sub = ChoiceMap(dict(sub._nodes))
        sub._set_path(path[1:], node)
        self._nodes[path[0]] = sub

    @staticmethod
    def coerce(choices: "ChoiceMap | Mapping | None") -> "ChoiceMap":
        """A ChoiceMap from a ChoiceMap, a (nested) dict, or None."""
        if isinstance(choices, ChoiceMap):
            return choices
        if choices is None:
            return EMPTY
        if isinstance(choices, Mapping):
            return ChoiceMap(choices)
        raise TypeError(f"choices must be a ChoiceMap or a dict, got {type(choices).__name__}")

    def is_empty(self) -> bool:
        return not self._nodes

    def node(self, address: Any) -> Any:
        """The value or submap at an address; KeyError naming the address if absent."""
        node: Any = self
        for i, key in enumerate(as_path(address)):
            if not isinstance(node, ChoiceMap) or key not in node._nodes:
                raise AddressError(f"no choice at address {address!r}")
            node = node._nodes[key]
        return node

    def get_node(self, key: Any) -> Any:
        """The value or submap directly under one key, or None."""
        return self._nodes.get(key)

    def submap(self, address: Any) -> "ChoiceMap":
        """The submap at an address (empty if absent)."""
        try:
            node = self.node(address)
        except AddressError:
            return EMPTY
        if not isinstance(node, ChoiceMap):
            raise AddressError(f"address {address!r} holds a value, not a submap")
        return node

    def __getitem__(self, address: Any) -> Any:
        node = self.node(address)
        if isinstance(node, ChoiceMap):
            raise AddressError(f"address {address!r} holds a submap, not a value; use .submap()")
        return node

    def get(self, address: Any, default: Any = None) -> Any:
        try:
            return self[address]
        except AddressError:
            return default

    def has_value(self, address: Any) -> bool:
        try:
            return not isinstance(self.node(address), ChoiceMap)
        except AddressError:
            return False

    def __contains__(self, address: Any) -> bool:
        try:
            self.node(address)
            return True
        except AddressError:
            return False

    def keys(self) -> Iterator:
        """The top-level keys."""
        return iter(self._nodes)

    def items(self) -> Iterator[tuple[tuple, Any]]:
        """Every (path, value) leaf, depth first in insertion order."""
        for key, node in self._nodes.items():
            if isinstance(node, ChoiceMap):
                for path, value in node.items():
                    yield (key,) + path, value
            else:
                yield (key,), node

    def addresses(self) -> list[tuple]:
        return [path for path, _ in self.items()]

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.addresses())

    def to_dict(self) -> dict:
        """A nested plain dict."""
        return {k: (v.to_dict() if isinstance(v, ChoiceMap) else v) for k, v in self._nodes.items()}

    def flat(self) -> dict:
        """A flat dict from address to value; single-key paths become plain keys."""
        return {(p[0] if len(p) == 1 else p): v for p, v in self.items()}

    def merge(self, other: "ChoiceMap | Mapping") -> "ChoiceMap":
        """This map with `other`'s leaves added or overriding."""
        out = ChoiceMap(self._nodes)
        for path, value in ChoiceMap.coerce(other).items():
            out._set_path(path, value)
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            other = ChoiceMap(other)
        if not isinstance(other, ChoiceMap):
            return NotImplemented
        mine, theirs = dict(self.items()), dict(other.items())
        return mine.keys() == theirs.keys() and all(_values_equal(mine[k], theirs[k]) for k in mine)

    def __hash__(self) -> int:
        return hash(tuple((p, _hashable(v)) for p, v in sorted(self.items(), key=repr)))

    def __repr__(self) -> str:
        return f"ChoiceMap({self.flat()!r})"


def _hashable(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        import numpy as np

        return np.asarray(value).tobytes()


def _values_equal(a: Any, b: Any) -> bool:
    import numpy as np

    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except Exception:
        return a == b


EMPTY = ChoiceMap()


class Selection:
    """A set of addresses (or whole subtrees) that an operation acts on."""

    __slots__ = ("_tree", "_all", "_complement")

    def __init__(self, addresses: "tuple | list" = (), *, everything: bool = False, complement: bool = False):
        self._all = everything
        self._complement = complement
        self._tree: dict = {}
        for address in addresses:
            node = self._tree
            path = as_path(address)
            for key in path[:-1]:
                node = node.setdefault(key, {})
                if node is True:
                    break
            else:
                node[path[-1]] = True

    @staticmethod
    def all() -> "Selection":
        return Selection(everything=True)

    @staticmethod
    def none() -> "Selection":
        return Selection()

    def complement(self) -> "Selection":
        """Every address this selection does not select."""
        out = Selection(everything=self._all, complement=not self._complement)
        out._tree = self._tree
        return out

    def _raw(self, key: Any) -> "Selection | bool":
        if self._all:
            return True
        node = self._tree.get(key)
        if node is True:
            return True
        if node is None:
            return False
        sub = Selection()
        sub._tree = node
        return sub

    def sub(self, key: Any) -> "Selection":
        """The selection inside the subtree at one key."""
        raw = self._raw(key)
        if raw is True:
            out = Selection.all()
        elif raw is False:
            out = Selection.none()
        else:
            out = raw
        return out.complement() if self._complement else out

    def __contains__(self, address: Any) -> bool:
        selection = self
        for key in as_path(address):
            selection = selection.sub(key)
        return selection.is_all()

    def _base_all(self) -> bool:
        return self._all

    def _base_empty(self) -> bool:
        return not self._all and not self._tree

    def is_all(self) -> bool:
        """Selects every address of the subtree."""
        return self._base_empty() if self._complement else self._base_all()

    def is_empty(self) -> bool:
        """Selects nothing in the subtree."""
        return self._base_all() if self._complement else self._base_empty()

    def addresses(self) -> list[tuple]:
        """The explicitly selected paths (for error messages and checks)."""
        out: list[tuple] = []

        def walk(node: dict, prefix: tuple) -> None:
            for key, sub in node.items():
                if sub is True:
                    out.append(prefix + (key,))
                else:
                    walk(sub, prefix + (key,))

        walk(self._tree, ())
        return out

    def __repr__(self) -> str:
        body = "all" if self._all else repr(self.addresses())
        return f"Selection({'not ' if self._complement else ''}{body})"


def select(*addresses: Any) -> Selection:
    """A selection of the given addresses (each a string, int or tuple path)."""
    return Selection(addresses)
