"""Measure how often the built-in model's unconstrained samples are valid JSON / executable SQL.

    python -m lm.training.evaluate_samples --model lm/builtin/model --samples 50

Samples are drawn by plain ancestral sampling at temperature 1 (no top-k, no top-p) until EOS
or `--max-new-tokens`. A JSON completion is valid when `json.loads` parses it; an SQL
completion when SQLite executes it on the Spider database the prompt names. This is evidence
of model quality (the target is "often but not always valid"), not a unit test.
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lm.training.sql_schemas import DEFAULT_SPIDER_DIR, load_spider_schemas


@dataclass(frozen=True)
class Completion:
    text: str
    finished: bool   # ended with EOS within the token budget


@torch.no_grad()
def sample_completions(model, tokenizer, prompt: str, count: int, max_new_tokens: int,
                       generator: torch.Generator, temperature: float = 1.0) -> list[Completion]:
    """`count` independent ancestral samples continuing `prompt` (prompt opened by EOS as BOS)."""
    eos = tokenizer.eos_token_id
    prompt_ids = [eos] + tokenizer(prompt, add_special_tokens=False)["input_ids"]
    input_ids = torch.tensor([prompt_ids] * count)
    out = model(input_ids=input_ids, use_cache=True)
    cache = out.cache
    logits = out.logits[:, -1]
    generated = [[] for _ in range(count)]
    finished = [False] * count
    for _ in range(max_new_tokens):
        probs = torch.softmax(logits.double() / temperature, dim=-1)
        tokens = torch.multinomial(probs, 1, generator=generator)
        for i, token in enumerate(tokens.flatten().tolist()):
            if not finished[i]:
                if token == eos:
                    finished[i] = True
                else:
                    generated[i].append(token)
        if all(finished) or len(prompt_ids) + len(generated[0]) + 1 >= model.config.n_positions:
            break
        out = model(input_ids=tokens, cache=cache, use_cache=True)
        cache, logits = out.cache, out.logits[:, -1]
    return [Completion(tokenizer.decode(ids), done) for ids, done in zip(generated, finished)]


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def executes(sql: str, database: Path, max_steps: int = 2_000_000) -> bool:
    """Whether SQLite runs `sql` on `database` without error (aborting runaway queries)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    steps = [0]

    def abort_when_slow() -> int:
        steps[0] += 1
        return int(steps[0] * 1000 > max_steps)

    connection.set_progress_handler(abort_when_slow, 1000)
    try:
        connection.execute(sql).fetchmany(1000)
    except (sqlite3.Error, sqlite3.Warning, ValueError):
        return False
    finally:
        connection.close()
    return True


def _rate(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 3) if flags else float("nan")


def evaluate(model_dir: Path, samples: int, seed: int, max_new_tokens: int, spider_dir: Path) -> dict:
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    generator = torch.Generator().manual_seed(seed)
    report: dict = {"model": str(model_dir), "samples per prompt": samples, "seed": seed,
                    "max new tokens": max_new_tokens, "temperature": 1.0, "results": {}}

    for prompt in ("Person:", "Product:", 'Person: {"'):
        completions = sample_completions(model, tokenizer, prompt, samples, max_new_tokens, generator)
        head = prompt.split(":", 1)[1].strip()
        valid = [is_json(head + c.text if head else c.text.strip()) for c in completions]
        report["results"][f"JSON {prompt!r}"] = {
            "valid share": _rate(valid), "ended with EOS": _rate([c.finished for c in completions]),
            "examples": [c.text for c in completions[:3]]}

    db_id = "concert_singer"
    database = spider_dir / "databases" / db_id / f"{db_id}.sqlite"
    question = "What are the names of singers older than 30?"
    outline = next(s for s in load_spider_schemas(spider_dir) if s.db_id == db_id).outline()
    fixed_prompts = {
        "SQL database prompt": f"Database: {db_id}\nQuestion: {question}\nSQL:",
        "SQL schema prompt": f"Schema: {outline}\nQuestion: {question}\nSQL:",
    }
    for label, prompt in fixed_prompts.items():
        completions = sample_completions(model, tokenizer, prompt, samples, max_new_tokens, generator)
        valid = [executes(c.text.strip(), database) for c in completions]
        report["results"][f"{label} {prompt!r} on {db_id}"] = {
            "executes share": _rate(valid), "ended with EOS": _rate([c.finished for c in completions]),
            "examples": [c.text for c in completions[:3]]}

    # One sample for each of `samples` Spider dev questions (real users' wording), across all databases.
    dev = [json.loads(line) for line in (spider_dir / "dev.jsonl").read_text().splitlines() if line.strip()]
    picked = random.Random(seed).sample(dev, min(samples, len(dev)))
    flags, examples = [], []
    for example in picked:
        prompt = f"Database: {example['db_id']}\nQuestion: {example['question']}\nSQL:"
        (completion,) = sample_completions(model, tokenizer, prompt, 1, max_new_tokens, generator)
        db = spider_dir / "databases" / example["db_id"] / f"{example['db_id']}.sqlite"
        flags.append(executes(completion.text.strip(), db))
        if len(examples) < 3:
            examples.append({"question": example["question"], "sql": completion.text.strip()})
    report["results"]["SQL Spider dev questions (Database: prompt), one sample each"] = {
        "executes share": _rate(flags), "examples": examples}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="Validity rates of unconstrained samples from a model directory.")
    parser.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "builtin" / "model")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--spider-dir", type=Path, default=DEFAULT_SPIDER_DIR)
    args = parser.parse_args()
    started = time.time()
    report = evaluate(args.model, args.samples, args.seed, args.max_new_tokens, args.spider_dir)
    report["wall clock (s)"] = round(time.time() - started, 1)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
