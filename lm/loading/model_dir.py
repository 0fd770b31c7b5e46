"""Where a model lives: built-in and package names, GGUF files and local directories, resolved to a checked directory."""
from __future__ import annotations

import json
import os
from pathlib import Path

from lm.errors import ModelDirectoryError
from lm.loading.gguf_model import gguf_model_dir
from lm.loading.model_packages import MODEL_PACKAGES, package_model_file

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "builtin"
BUILTIN_MODELS = {"builtin": BUILTIN_DIR / "model", "tiny": BUILTIN_DIR / "tiny"}

_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"), ("tokenizer.model",))


def resolve(name_or_path: "str | os.PathLike") -> Path:
    """The model directory of a built-in name ("builtin", "tiny"), a model package name ("smollm2"), a `.gguf`
    file (dequantized into the cache on first use) or a directory, checked to hold a usable model."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_MODELS:
        path = BUILTIN_MODELS[name_or_path]
        if not path.is_dir():
            raise ModelDirectoryError(f"the built-in model {name_or_path!r} is not installed: {path} does not exist "
                                      "(it is produced by lm/training)")
    elif isinstance(name_or_path, str) and name_or_path in MODEL_PACKAGES:
        path = gguf_model_dir(package_model_file(name_or_path))
    else:
        path = Path(name_or_path).expanduser()
        if path.suffix.lower() == ".gguf":
            path = gguf_model_dir(path)
        elif isinstance(name_or_path, str) and not path.exists() and not _looks_like_a_path(name_or_path):
            raise ModelDirectoryError(f"{name_or_path!r} is not a known model name ({', '.join(known_names())}) "
                                      "nor an existing directory or .gguf file")
    check_model_dir(path)
    return path


def model_name(name_or_path: "str | os.PathLike", directory: Path) -> str:
    """A short name for a loaded model: the name it was loaded by, a GGUF file's stem, or the directory's name."""
    if isinstance(name_or_path, str) and (name_or_path in BUILTIN_MODELS or name_or_path in MODEL_PACKAGES):
        return name_or_path
    path = Path(name_or_path)
    return path.stem if path.suffix.lower() == ".gguf" else directory.name


def known_names() -> list[str]:
    """The names `lm.load` accepts besides paths, each package name marked installed or not."""
    packages = [f"{name} ({'installed' if p.installed_version() else 'not installed: ' + p.install})"
                for name, p in MODEL_PACKAGES.items()]
    return list(BUILTIN_MODELS) + packages


def _looks_like_a_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith((".", "~"))


def check_model_dir(path: Path) -> None:
    """Raise ModelDirectoryError naming what is missing: the directory, config.json, safetensors weights or a tokenizer."""
    if not path.exists():
        raise ModelDirectoryError(f"model directory {path} does not exist (lm.load reads local files only, "
                                  "it downloads nothing)")
    if not path.is_dir():
        raise ModelDirectoryError(f"model path {path} is not a directory")
    config = path / "config.json"
    if not config.is_file():
        raise ModelDirectoryError(f"{path} is not a model directory: it has no config.json")
    try:
        spec = json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelDirectoryError(f"{config} is not valid JSON: {e}") from None
    if not isinstance(spec, dict) or "model_type" not in spec:
        raise ModelDirectoryError(f"{config} has no 'model_type' field")
    if not ((path / "model.safetensors").is_file() or (path / "model.safetensors.index.json").is_file()):
        others = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack"))
        hint = f" (found {', '.join(others)}; only safetensors weights are loaded)" if others else ""
        raise ModelDirectoryError(f"{path} has no model.safetensors weights{hint}")
    if not any(all((path / f).is_file() for f in files) for files in _TOKENIZER_FILES):
        raise ModelDirectoryError(f"{path} has no tokenizer (tokenizer.json, vocab.json + merges.txt, or tokenizer.model): "
                                  "copy the tokenizer files of the model into it")
