"""`ListParameters`: a numpyro distribution constructor that accepts lists and tuples of numbers.

numpyro validates parameters with array methods (`probs.sum`), so `Categorical(probs=[0.5, 0.5])`
fails inside numpyro. The wrapper converts numeric lists and tuples to numpy arrays at the
call and otherwise stands for the wrapped class: attributes, `isinstance` and subclassing go
through to it, and the object built is numpyro's own.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def as_array_parameter(value: Any) -> Any:
    """A numeric list or tuple (nested or not) as a numpy array; anything else unchanged."""
    if not isinstance(value, (list, tuple)):
        return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged, or not numbers
        return value
    return array if array.dtype.kind in "biuf" else value


class ListParameters:
    """Wraps a numpyro distribution class or factory (see the module docstring)."""

    def __init__(self, constructor: Any):
        self.__wrapped__ = constructor
        self.__name__ = getattr(constructor, "__name__", repr(constructor))
        self.__qualname__ = getattr(constructor, "__qualname__", self.__name__)
        self.__doc__ = getattr(constructor, "__doc__", None)
        self.__module__ = getattr(constructor, "__module__", __name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*(as_array_parameter(a) for a in args),
                                **{k: as_array_parameter(v) for k, v in kwargs.items()})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(self.__wrapped__, type) and isinstance(instance, self.__wrapped__)

    def __subclasscheck__(self, subclass: type) -> bool:
        return isinstance(self.__wrapped__, type) and issubclass(subclass, self.__wrapped__)

    def __mro_entries__(self, bases: tuple) -> tuple:
        if not isinstance(self.__wrapped__, type):
            raise TypeError(f"{self.__name__} is a numpyro factory function, not a class: subclass one of the classes it returns")
        return (self.__wrapped__,)

    def __repr__(self) -> str:
        return f"<numpyro distribution {self.__name__}, accepting lists>"
