"""Train the built-in GPT-2-shaped model on the generated corpus, time-boxed by wall clock.

    python -m lm.training.train_model --out lm/builtin/model --minutes 25 --threads 1

Writes a directory `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`
load offline (config.json, model.safetensors, tokenizer files) plus TRAINING.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

from lm.training.corpus import CorpusSpec, generate_corpus
from lm.training.sql_schemas import DEFAULT_SPIDER_DIR
from lm.training.token_stream import WindowSampler, encode_documents, mean_token_loss
from lm.training.train_tokenizer import EOS_TOKEN, save_for_transformers, train_byte_level_bpe

MAX_WEIGHTS_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True)
class TrainingRun:
    """Everything that determines a training run (recorded in TRAINING.md)."""

    seed: int = 0
    minutes: float = 25.0
    threads: int = 1
    vocab_size: int = 2048
    tokenizer_documents: int = 60000
    train_documents: int = 150000
    heldout_documents: int = 600
    n_layer: int = 4
    n_embd: int = 256
    n_head: int = 8
    n_positions: int = 512
    block_size: int = 512
    batch_size: int = 4
    learning_rate: float = 1.5e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    checkpoint_minutes: float = 5.0
    spider_dir: str = str(DEFAULT_SPIDER_DIR)
    malformed_share: float = 0.12


def _corpus_spec(run: TrainingRun, seed: int) -> CorpusSpec:
    return CorpusSpec(seed=seed, spider_dir=Path(run.spider_dir), malformed_share=run.malformed_share)


def learning_rate(run: TrainingRun, step: int, elapsed_fraction: float) -> float:
    """Linear warmup by steps, then cosine decay by elapsed wall-clock fraction."""
    if step < run.warmup_steps:
        return run.learning_rate * (step + 1) / run.warmup_steps
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed_fraction)))
    return run.min_learning_rate + (run.learning_rate - run.min_learning_rate) * cosine


def build_model(run: TrainingRun, vocab_size: int, eos_id: int) -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=run.n_positions, n_embd=run.n_embd, n_layer=run.n_layer,
        n_head=run.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def save_model(model: GPT2LMHeadModel, out_dir: Path) -> str:
    """Save weights as safetensors (float32, or float16 when float32 would exceed 30 MB)."""
    n_bytes = sum(p.numel() * 4 for p in model.state_dict().values())
    dtype = "float32"
    to_save = model
    if n_bytes > MAX_WEIGHTS_BYTES:
        to_save = GPT2LMHeadModel(model.config).to(torch.float16)
        to_save.load_state_dict(model.state_dict())
        dtype = "float16"
    to_save.save_pretrained(out_dir)
    if not (out_dir / "model.safetensors").is_file():
        raise RuntimeError(f"save_pretrained did not write {out_dir / 'model.safetensors'}")
    return dtype


def _write_report(out_dir: Path, run: TrainingRun, stats: dict, command: str) -> None:
    lines = [
        "# Built-in model: training record",
        "",
        "A GPT-2-shaped causal LM trained from scratch on the generated corpus of",
        "`lm.training.corpus` (JSON records, SQL over Spider and invented schemas, arithmetic",
        "word problems, template prose; a share of JSON/SQL documents deliberately malformed:",
        f"{run.malformed_share:.0%}).",
        "",
        "Command:",
        "",
        f"    {command}",
        "",
        "Prompt formats seen in training: `Person: {...}` (also Product, Event, Order, Book,",
        "Company, Reading, User, `JSON:`, `Schema: {json schema}\\nJSON: ...`),",
        "`SQL: SELECT ...`, `Question: ...\\nSQL: ...`, `Database: <db_id>\\nQuestion: ...\\nSQL: ...`,",
        "`Schema: t(a, b); u(c)\\nQuestion: ...\\nSQL: ...`, `Problem: ...\\nSolution: ...\\nAnswer: N`,",
        "`Story: ...`, `A poem:\\n...`, `Fact: ...`, `Q: ...\\nA: ...`. Documents are separated by",
        f"`{EOS_TOKEN}` (id 0, also BOS); a prompt may start with it or not.",
        "",
        "## Results",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in stats.items()]
    lines += ["", "## Run settings", ""]
    lines += [f"- {key}: {value}" for key, value in asdict(run).items()]
    (out_dir / "TRAINING.md").write_text("\n".join(lines) + "\n")


def train(run: TrainingRun, out_dir: Path, device: str, command: str) -> dict:
    torch.set_num_threads(run.threads)
    torch.manual_seed(run.seed)
    started = time.time()
    log = lambda message: print(f"[{time.time() - started:7.1f}s] {message}", flush=True)  # noqa: E731

    tokenizer_docs = generate_corpus(run.tokenizer_documents, _corpus_spec(run, run.seed))
    save_for_transformers(train_byte_level_bpe(tokenizer_docs, run.vocab_size), out_dir, run.n_positions)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    log(f"tokenizer: {len(tokenizer)} tokens, EOS id {eos_id}")

    train_docs = generate_corpus(run.train_documents, _corpus_spec(run, run.seed))
    heldout_docs = generate_corpus(run.heldout_documents, _corpus_spec(run, run.seed + 1_000_003))
    train_stream = encode_documents(tokenizer, train_docs, eos_id)
    heldout_stream = encode_documents(tokenizer, heldout_docs, eos_id)
    log(f"corpus: {len(train_docs)} documents, {train_stream.numel()} tokens; held out {heldout_stream.numel()} tokens")

    model = build_model(run, len(tokenizer), eos_id).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": run.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=run.learning_rate, betas=(0.9, 0.95))
    sampler = WindowSampler(train_stream, run.block_size, eos_id, torch.Generator().manual_seed(run.seed))
    heldout_eval = heldout_stream.to(device)
    initial_loss = mean_token_loss(model, heldout_eval, run.block_size)
    log(f"held-out loss before training: {initial_loss:.4f} (uniform: {math.log(len(tokenizer)):.4f})")

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        autocast = torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        autocast = contextlib.nullcontext()
    budget = run.minutes * 60
    train_start = time.time()
    last_checkpoint = train_start
    step, smoothed = 0, None
    model.train()
    while (elapsed := time.time() - train_start) < budget:
        lr = learning_rate(run, step, elapsed / budget)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = sampler.batch(run.batch_size).to(device)
        with autocast:
            loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        smoothed = loss.item() if smoothed is None else 0.98 * smoothed + 0.02 * loss.item()
        step += 1
        if step % 100 == 0:
            log(f"step {step} lr {lr:.2e} train loss {smoothed:.4f}")
        if time.time() - last_checkpoint > run.checkpoint_minutes * 60:
            heldout = mean_token_loss(model, heldout_eval, run.block_size)
            log(f"step {step} held-out loss {heldout:.4f}; checkpoint saved")
            save_model(model.cpu(), out_dir)
            model.to(device)
            last_checkpoint = time.time()

    final_heldout = mean_token_loss(model, heldout_eval, run.block_size)
    dtype = save_model(model.cpu(), out_dir)
    stats = {
        "parameters": n_params,
        "weights dtype": dtype,
        "weights bytes (model.safetensors)": (out_dir / "model.safetensors").stat().st_size,
        "vocabulary size": len(tokenizer),
        "training documents generated": len(train_docs),
        "training stream tokens": train_stream.numel(),
        "optimizer steps": step,
        "tokens processed": step * run.batch_size * run.block_size,
        "epochs over the stream": round(step * run.batch_size * run.block_size / train_stream.numel(), 3),
        "final smoothed training loss (nats/token)": round(smoothed, 4) if smoothed is not None else None,
        "held-out loss before training (nats/token)": round(initial_loss, 4),
        "final held-out loss (nats/token)": round(final_heldout, 4),
        "uniform loss log(V) (nats/token)": round(math.log(len(tokenizer)), 4),
        "held-out documents / tokens": f"{len(heldout_docs)} / {heldout_stream.numel()} (corpus seed {run.seed + 1_000_003})",
        "training wall clock (s)": round(time.time() - train_start, 1),
        "device / torch threads": f"{device} / {run.threads}",
        "torch / transformers": f"{torch.__version__} / {__import__('transformers').__version__}",
    }
    _write_report(out_dir, run, stats, command)
    log("done: " + json.dumps(stats))
    return stats


def main() -> None:
    defaults = TrainingRun()
    parser = argparse.ArgumentParser(description="Train the built-in GPT-2-shaped model, time-boxed.")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--device", default="cpu")
    for field, value in asdict(defaults).items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    run = TrainingRun(**{field: getattr(args, field) for field in asdict(defaults)})
    if run.n_embd % run.n_head:
        parser.error(f"--n-embd {run.n_embd} is not divisible by --n-head {run.n_head}")
    if run.block_size > run.n_positions:
        parser.error(f"--block-size {run.block_size} exceeds --n-positions {run.n_positions}")
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m lm.training.train_model " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    train(run, args.out, args.device, command)


if __name__ == "__main__":
    main()
