"""Where a model lives: built-in names resolved to the package's directories, and checks of a model directory."""
from __future__ import annotations

import json
import os
from pathlib import Path

from lm.errors import ModelDirectoryError

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "builtin"
BUILTIN_MODELS = {"builtin": BUILTIN_DIR / "model", "tiny": BUILTIN_DIR / "tiny"}

_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"), ("tokenizer.model",))


def resolve(name_or_path: "str | os.PathLike") -> Path:
    """The directory of a built-in model name ("builtin", "tiny") or of a path, checked to hold a usable model."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_MODELS:
        path = BUILTIN_MODELS[name_or_path]
        if not path.is_dir():
            raise ModelDirectoryError(f"the built-in model {name_or_path!r} is not installed: {path} does not exist "
                                      "(it is produced by lm/training)")
    else:
        path = Path(name_or_path).expanduser()
    check_model_dir(path)
    return path


def check_model_dir(path: Path) -> None:
    """Raise ModelDirectoryError naming what is missing: the directory, config.json, safetensors weights or a tokenizer."""
    if not path.exists():
        raise ModelDirectoryError(f"model directory {path} does not exist")
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
        raise ModelDirectoryError(f"{path} has no tokenizer (tokenizer.json, vocab.json + merges.txt, or tokenizer.model)")
