"""Make the tiny-vocabulary LM (`lm/builtin/tiny`): 8 tokens, so LM programs can be enumerated exactly.

    python -m lm.training.make_tiny --out lm/builtin/tiny

Tokens (as bytes): EOS, b"a", b"b", b" ", b"ab", b"\\xc3", b"\\xa9", b"\\xc3\\xa9" ("é"): single
bytes, multi-byte tokens, and two bytes that are not valid UTF-8 alone. A one-layer GPT-2 is
trained for a few seconds on strings from a first-order Markov chain over these tokens, so its
next-token distributions depend on context and keep every probability well inside (0, 1).
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

from lm.training.token_stream import WindowSampler
from lm.training.train_tokenizer import EOS_TOKEN, save_for_transformers

# Byte-level (GPT-2) spellings: "Ġ" is the space byte, "Ã" is 0xC3, "©" is 0xA9.
TINY_VOCAB = {EOS_TOKEN: 0, "a": 1, "b": 2, "Ġ": 3, "ab": 4, "Ã": 5, "©": 6, "Ã©": 7}
TINY_MERGES = [("a", "b"), ("Ã", "©")]
TINY_TOKEN_BYTES = (None, b"a", b"b", b" ", b"ab", b"\xc3", b"\xa9", b"\xc3\xa9")

# Row i: distribution of the token after token i (row 0: after EOS, i.e. a document's first token).
# Every entry is positive; row 0 gives EOS small mass so empty documents are rare but possible.
_TRANSITIONS = torch.tensor([
    #  EOS    a     b     ' '   ab    xC3   xA9   é
    [0.02, 0.30, 0.20, 0.05, 0.20, 0.05, 0.03, 0.15],   # after EOS
    [0.15, 0.15, 0.25, 0.15, 0.10, 0.05, 0.05, 0.10],   # after a
    [0.15, 0.30, 0.10, 0.20, 0.10, 0.05, 0.02, 0.08],   # after b
    [0.05, 0.25, 0.25, 0.03, 0.25, 0.04, 0.03, 0.10],   # after ' '
    [0.20, 0.10, 0.10, 0.25, 0.15, 0.05, 0.05, 0.10],   # after ab
    [0.10, 0.05, 0.05, 0.05, 0.05, 0.05, 0.60, 0.05],   # after 0xC3
    [0.25, 0.15, 0.15, 0.15, 0.10, 0.05, 0.05, 0.10],   # after 0xA9
    [0.25, 0.15, 0.15, 0.20, 0.10, 0.05, 0.02, 0.08],   # after é
], dtype=torch.float64)


def tiny_tokenizer() -> Tokenizer:
    """A byte-level BPE tokenizer whose whole vocabulary is TINY_VOCAB."""
    tokenizer = Tokenizer(models.BPE(vocab=dict(TINY_VOCAB), merges=list(TINY_MERGES)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([EOS_TOKEN])
    return tokenizer


def markov_stream(n_tokens: int, generator: torch.Generator) -> torch.Tensor:
    """A token stream from the Markov chain above, starting after an EOS."""
    stream = [0]
    for _ in range(n_tokens - 1):
        stream.append(int(torch.multinomial(_TRANSITIONS[stream[-1]].float(), 1, generator=generator)))
    return torch.tensor(stream, dtype=torch.long)


@torch.no_grad()
def probability_range(model: GPT2LMHeadModel, max_context: int) -> tuple[float, float]:
    """Smallest and largest next-token probability over every context of up to `max_context`
    tokens after an EOS (exhaustive)."""
    vocab = model.config.vocab_size
    low, high = 1.0, 0.0
    for length in range(max_context + 1):
        contexts = torch.tensor([(0, *c) for c in itertools.product(range(vocab), repeat=length)])
        probs = torch.softmax(model(input_ids=contexts).logits[:, -1].double(), dim=-1)
        low, high = min(low, probs.min().item()), max(high, probs.max().item())
    return low, high


def make_tiny(out_dir: Path, seed: int = 0, steps: int = 300) -> dict:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_for_transformers(tiny_tokenizer(), out_dir, model_max_length=64)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    if len(tokenizer) != len(TINY_VOCAB):
        raise RuntimeError(f"tiny tokenizer has {len(tokenizer)} tokens, expected {len(TINY_VOCAB)}")

    config = GPT2Config(vocab_size=len(TINY_VOCAB), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = GPT2LMHeadModel(config)
    sampler = WindowSampler(markov_stream(20000, generator), 32, 0, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        batch = sampler.batch(16)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    low, high = probability_range(model, max_context=3)
    if not (low > 1e-4 and high < 1 - 1e-4):
        raise RuntimeError(f"tiny model is too close to degenerate: probabilities span [{low}, {high}]")
    model.save_pretrained(out_dir)
    stats = {"seed": seed, "steps": steps, "final training loss": round(loss.item(), 4),
             "next-token probability range (contexts up to 3 tokens)": [round(low, 5), round(high, 5)],
             "parameters": sum(p.numel() for p in model.parameters())}
    (out_dir / "TRAINING.md").write_text(
        "# Tiny-vocabulary model\n\n"
        "Made by `python -m lm.training.make_tiny --out lm/builtin/tiny`. Vocabulary (id: bytes):\n\n"
        + "".join(f"- {i}: {'EOS <|endoftext|> (also BOS)' if b is None else repr(b)}\n" for i, b in enumerate(TINY_TOKEN_BYTES))
        + "\nThe tokenizer encodes only text over 'a', 'b', ' ' and 'é'; the model assigns every "
        "token positive probability in every context.\n\n"
        + "".join(f"- {k}: {v}\n" for k, v in stats.items()))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description="Make the tiny-vocabulary LM directory.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(make_tiny(args.out, args.seed, args.steps)))


if __name__ == "__main__":
    main()
