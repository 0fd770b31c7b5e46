"""GGUF files as model directories: dequantized once through transformers, then kept as a plain HF directory.

The first load of a `.gguf` file reads it with `from_pretrained(dir, gguf_file=name)` (which needs the
`gguf` and `accelerate` packages), dequantizes every weight to float32 and saves model, tokenizer,
chat template and generation config under the cache, keyed by the SHA-256 of the file's bytes;
later loads read that directory. The cache is `$PPL_CACHE`, else `$XDG_CACHE_HOME/ppl-smc`, else
`~/.cache/ppl-smc`.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lm.errors import GGUFError
from lm.loading.progress import progress_bars_off

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)
CACHE_ENV = "PPL_CACHE"
SOURCE_FILE = "gguf_source.json"  # written last: a cached directory without it is incomplete
_REQUIRED = ("gguf", "accelerate")


def cache_root() -> Path:
    """Where dequantized models are kept: $PPL_CACHE, else $XDG_CACHE_HOME/ppl-smc, else ~/.cache/ppl-smc."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ppl-smc"


def gguf_model_dir(path: Path) -> Path:
    """The cached HF directory of the GGUF file at `path`, made on first use."""
    check_gguf_file(path)
    digest = file_sha256(path)
    target = cache_root() / "gguf" / f"{path.stem}-{digest[:16]}"
    if (target / SOURCE_FILE).is_file():
        return target
    missing = [name for name in _REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise GGUFError(f"{path}: loading a GGUF file needs the packages gguf and accelerate "
                        f"({', '.join(missing)} missing): pip install gguf accelerate")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as e:
        raise GGUFError(f"cannot write the model cache {target.parent}: {_one_line(e)}; "
                        f"set {CACHE_ENV} to a writable directory") from None
    try:
        with progress_bars_off():  # transformers' own GGUF conversion still shows its bar: it is the slow part
            _dequantize(path, scratch)
        _publish(scratch, target, {"gguf": str(path.resolve()), "bytes": path.stat().st_size, "sha256": digest,
                                   "transformers": importlib.metadata.version("transformers")})
    except OSError as e:  # a full disk or a cache directory changed underneath us
        raise GGUFError(f"cannot write the dequantized model of {path} into {target.parent}: {_one_line(e)}; "
                        f"free space or set {CACHE_ENV} to another directory") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _publish(scratch: Path, target: Path, source: dict) -> None:
    """Mark `scratch` complete and rename it to `target`, unless another process got there first."""
    (scratch / SOURCE_FILE).write_text(json.dumps(source, indent=1))
    if target.exists() and not (target / SOURCE_FILE).is_file():
        shutil.rmtree(target)  # left incomplete by hand or by an older version
    try:
        os.replace(scratch, target)
    except OSError:
        if not (target / SOURCE_FILE).is_file():
            raise


def check_gguf_file(path: Path) -> None:
    """Raise GGUFError unless `path` is a file that starts with a GGUF header of a version we read."""
    if not path.exists():
        raise GGUFError(f"GGUF file {path} does not exist")
    if not path.is_file():
        raise GGUFError(f"GGUF path {path} is not a file")
    with path.open("rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise GGUFError(f"{path} is not a GGUF file (it does not start with the bytes 'GGUF'): pass a .gguf model file "
                        "or a model directory")
    version = int.from_bytes(head[4:], "little")
    if version not in GGUF_VERSIONS:
        raise GGUFError(f"{path}: GGUF version {version} is not supported (only {', '.join(map(str, GGUF_VERSIONS))}); "
                        "convert it with a current llama.cpp")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dequantize(path: Path, out: Path) -> None:
    """Read the GGUF file through transformers, dequantized to float32, and save it as an HF directory in `out`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    where, name = str(path.parent), path.name
    stage = "read its config"
    try:
        config = AutoConfig.from_pretrained(where, gguf_file=name, local_files_only=True)
        stage = "read and dequantize its weights"
        model = AutoModelForCausalLM.from_pretrained(where, gguf_file=name, config=config, dtype=torch.float32,
                                                     local_files_only=True, **_dequantized())
        stage = "build its tokenizer"
        tokenizer = AutoTokenizer.from_pretrained(where, gguf_file=name, local_files_only=True)
    except ImportError as e:
        raise GGUFError(f"{path}: loading a GGUF file needs the packages gguf and accelerate ({_one_line(e)}): "
                        "pip install gguf accelerate") from None
    except Exception as e:  # transformers and gguf raise ValueError, KeyError, NotImplementedError, ... for bad files
        raise GGUFError(_explain(path, stage, e)) from None
    if getattr(model, "hf_quantizer", None) is not None:
        raise GGUFError(f"{path}: transformers kept the weights quantized, so they cannot be saved as a plain model; "
                        "upgrade transformers or convert the model to an HF directory")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _dequantized() -> dict[str, Any]:
    """from_pretrained arguments that ask for plain dense weights (transformers >= 5 can keep GGUF blocks packed)."""
    try:
        from transformers import GgufConfig
    except ImportError:  # older transformers always dequantizes
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _explain(path: Path, stage: str, error: Exception) -> str:
    """One line naming what failed in `path` and what to do about it."""
    text = _one_line(error)
    if isinstance(error, NotImplementedError) and "Dequantization for" in text:
        qtype = text.split("Dequantization for", 1)[1].split()[0]
        return (f"{path}: the quantization type {qtype} cannot be dequantized by the installed gguf package; "
                "use a file quantized as Q8_0, Q6_K, Q5_K, Q4_K, Q4_0 or Q4_1, or upgrade gguf")
    if ("not supported" in text and "architecture" in text) or "Unknown gguf model_type" in text:
        return (f"{path}: transformers cannot load this GGUF architecture ({text}); "
                "load the model's HF directory (config.json, safetensors, tokenizer) instead")
    return (f"{path}: transformers could not {stage} ({type(error).__name__}: {text}); if the file is corrupt or "
            f"truncated ({path.stat().st_size} bytes), download it again")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
