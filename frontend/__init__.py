"""The front ends: the `ppl` command line, the only code that imports every package (DESIGN.md)."""
from frontend.cli import main

__all__ = ["main"]
