"""Errors of the modeling language, each naming the address or argument at fault."""
from __future__ import annotations


class ModelError(ValueError):
    """A program or its input is malformed (repeated address, bad argument, bad value)."""


class AddressError(ModelError, KeyError):
    """An address is repeated, missing, or names no choice."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class SupportError(ModelError):
    """A value lies outside the support of its distribution."""


class ParameterError(ModelError):
    """A distribution parameter is not finite or violates its constraint."""


class NotFiniteError(ModelError):
    """An enumerating interpretation met a draw with infinitely many outcomes."""
