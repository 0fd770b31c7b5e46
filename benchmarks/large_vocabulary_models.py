"""Two 50,257-token model directories for the constrained-generation benchmark, built offline under /tmp.

The real GPT-2 vocabulary cannot be downloaded here, so we train a byte-level BPE of the same
size on the built-in model's generated corpus plus the Python standard library's source (the
corpus alone runs out of merges near 24k tokens). Then:

* `random-50k`: a GPT-2-small-wide (n_embd 768, 12 heads) model with 2 layers and random
  weights over that tokenizer. Its next-token distributions are nearly uniform: the worst case
  for rejection sampling.
* `builtin-50k`: the built-in model's exact distribution over a 50k vocabulary. Its tokenizer is
  the built-in one (same merges, so prompts tokenize identically) with the 50k BPE's other tokens
  appended as unreachable vocabulary entries; the output head is untied and each new row is
  w = c / gamma (gamma: the final LayerNorm's scale), whose logit is c * sum(beta / gamma) for
  every context because LayerNorm output has zero mean; c puts that logit at NEW_TOKEN_LOGIT.
"""
from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_DIR = ROOT / "lm/builtin/model"
VOCAB_SIZE = 50257
NEW_TOKEN_LOGIT = -40.0
RECIPE = {"version": 1, "vocab_size": VOCAB_SIZE, "corpus_documents": 100000, "corpus_seed": 7,
          "min_frequency": 2, "random_layers": 2, "random_embd": 768, "new_token_logit": NEW_TOKEN_LOGIT}


def _ready(out: Path) -> bool:
    marker = out / "benchmark_recipe.json"
    return marker.exists() and json.loads(marker.read_text()) == RECIPE and (out / "model.safetensors").exists()


def _mark(out: Path) -> None:
    (out / "benchmark_recipe.json").write_text(json.dumps(RECIPE, indent=2) + "\n")


def train_large_tokenizer(cache: Path):
    """The 50k byte-level BPE (tokenizers.Tokenizer), trained once and cached in `cache`."""
    from tokenizers import Tokenizer

    from lm.training.corpus import CorpusSpec, generate_corpus
    from lm.training.train_tokenizer import train_byte_level_bpe

    path = cache / "tokenizer.json"
    if path.exists() and (cache / "benchmark_recipe.json").exists() and \
            json.loads((cache / "benchmark_recipe.json").read_text()) == RECIPE:
        return Tokenizer.from_file(str(path))
    documents = generate_corpus(RECIPE["corpus_documents"], CorpusSpec(seed=RECIPE["corpus_seed"]))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts and "test" not in p.parts)
    documents += [p.read_text(errors="replace") for p in sources]
    tokenizer = train_byte_level_bpe(documents, VOCAB_SIZE, min_frequency=RECIPE["min_frequency"])
    if tokenizer.get_vocab_size() != VOCAB_SIZE:
        raise RuntimeError(f"the BPE reached only {tokenizer.get_vocab_size()} tokens, not {VOCAB_SIZE}")
    cache.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    _mark(cache)
    return tokenizer


def build_random_model(out: Path, tokenizer) -> Path:
    """GPT-2-wide, 2 layers, random weights (seed 0), over the 50k tokenizer."""
    if _ready(out):
        return out
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from lm.training.train_tokenizer import save_for_transformers

    out.mkdir(parents=True, exist_ok=True)
    save_for_transformers(tokenizer, out, model_max_length=1024)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB_SIZE, n_positions=1024, n_embd=RECIPE["random_embd"], n_head=12,
                        n_layer=RECIPE["random_layers"], bos_token_id=0, eos_token_id=0, pad_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(out)
    _mark(out)
    return out


def build_extended_builtin(out: Path, tokenizer) -> Path:
    """The built-in model's distribution over a 50k vocabulary (see the module docstring)."""
    if _ready(out):
        return out
    import torch
    from safetensors.torch import load_file, save_file

    spec = json.loads((BUILTIN_DIR / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    base = len(vocab)
    large = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    for piece, _ in large:
        if len(vocab) >= VOCAB_SIZE:
            break
        if piece not in vocab and piece != "<|endoftext|>":
            vocab[piece] = len(vocab)
    if len(vocab) != VOCAB_SIZE:
        raise RuntimeError(f"extended vocabulary has {len(vocab)} tokens, not {VOCAB_SIZE}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    for name in ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        if (BUILTIN_DIR / name).exists():
            shutil.copy(BUILTIN_DIR / name, out / name)

    weights = load_file(str(BUILTIN_DIR / "model.safetensors"))
    wte = weights["transformer.wte.weight"]
    gamma = weights["transformer.ln_f.weight"].double()
    beta = weights["transformer.ln_f.bias"].double()
    scale = NEW_TOKEN_LOGIT / float((beta / gamma).sum())
    new_rows = (scale / gamma).to(wte.dtype).expand(VOCAB_SIZE - base, -1)
    weights["transformer.wte.weight"] = torch.cat([wte, torch.zeros(VOCAB_SIZE - base, wte.shape[1], dtype=wte.dtype)])
    weights["lm_head.weight"] = torch.cat([wte, new_rows]).contiguous()
    save_file({k: v.contiguous() for k, v in weights.items()}, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((BUILTIN_DIR / "config.json").read_text())
    config.update(vocab_size=VOCAB_SIZE, tie_word_embeddings=False)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    _mark(out)
    return out


def build_all(root: Path) -> dict[str, Path]:
    """{'random-50k': dir, 'builtin-50k': dir}, built (once) under `root`."""
    tokenizer = train_large_tokenizer(root / "bpe50k")
    return {"builtin-50k": build_extended_builtin(root / "builtin-50k", tokenizer),
            "random-50k": build_random_model(root / "random-50k", tokenizer)}
