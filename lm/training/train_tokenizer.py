"""Train the built-in model's byte-level BPE tokenizer on the generated corpus.

The result (tokenizer.json + tokenizer_config.json + special_tokens_map.json) loads offline with
`transformers.AutoTokenizer.from_pretrained(dir)`. Every byte has a token, so any text
round-trips; `<|endoftext|>` (id 0) is both BOS and EOS.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from lm.training.corpus import CorpusSpec, generate_corpus

EOS_TOKEN = "<|endoftext|>"


def train_byte_level_bpe(documents: Iterable[str], vocab_size: int, min_frequency: int = 20) -> Tokenizer:
    """A GPT-2-style byte-level BPE tokenizer with `vocab_size` tokens (256 bytes + EOS + merges)."""
    if vocab_size < 257:
        raise ValueError(f"vocab_size must be at least 257 (256 bytes + EOS), got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(documents, trainer=trainer)
    return tokenizer


def save_for_transformers(tokenizer: Tokenizer, out_dir: Path, model_max_length: int) -> None:
    """Write the tokenizer files `AutoTokenizer.from_pretrained(out_dir)` reads."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "unk_token": EOS_TOKEN,
        "pad_token": EOS_TOKEN,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special = {"bos_token": EOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN, "pad_token": EOS_TOKEN}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the built-in byte-level BPE tokenizer.")
    parser.add_argument("--out", type=Path, required=True, help="directory to write tokenizer files into")
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--documents", type=int, default=60000, help="corpus documents to train on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-max-length", type=int, default=512)
    args = parser.parse_args()
    tokenizer = train_byte_level_bpe(generate_corpus(args.documents, CorpusSpec(seed=args.seed)), args.vocab_size)
    save_for_transformers(tokenizer, args.out, args.model_max_length)
    print(f"wrote {tokenizer.get_vocab_size()}-token tokenizer to {args.out}")


if __name__ == "__main__":
    main()
