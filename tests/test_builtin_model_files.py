"""The shipped model directories (lm/builtin/model, lm/builtin/tiny) and the corpus they came from."""
from __future__ import annotations

import itertools
import json
import math
import random
import re
import sqlite3
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

from lm.training.corpus import CorpusSpec, generate_corpus
from lm.training.evaluate_samples import sample_completions
from lm.training.make_tiny import TINY_TOKEN_BYTES
from lm.training.sql_documents import sql_example
from lm.training.sql_schemas import DEFAULT_SPIDER_DIR, load_spider_schemas
from lm.training.token_stream import encode_documents, mean_token_loss

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ROOT / "lm" / "builtin" / "model"
TINY = ROOT / "lm" / "builtin" / "tiny"
EOS = "<|endoftext|>"

torch.set_num_threads(1)


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level spelling: each byte as one printable character (character -> byte)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


BYTE_OF_CHAR = _byte_level_alphabet()


def _token_bytes(tokenizer, token_id: int) -> bytes:
    return bytes(BYTE_OF_CHAR[ch] for ch in tokenizer.convert_ids_to_tokens(token_id))


@pytest.fixture(scope="module")
def builtin():
    model = AutoModelForCausalLM.from_pretrained(BUILTIN, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(BUILTIN, local_files_only=True)
    return model, tokenizer


@pytest.fixture(scope="module")
def tiny():
    model = AutoModelForCausalLM.from_pretrained(TINY, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(TINY, local_files_only=True)
    return model, tokenizer


def test_builtin_loads_with_matching_vocabulary(builtin):
    model, tokenizer = builtin
    assert isinstance(model, GPT2LMHeadModel)
    assert len(tokenizer) == model.config.vocab_size == 2048
    assert tokenizer.eos_token == tokenizer.bos_token == EOS
    assert tokenizer.eos_token_id == model.config.eos_token_id == 0
    # every single byte is a token, so any text can be encoded
    single_bytes = {_token_bytes(tokenizer, i) for i in range(1, len(tokenizer)) if len(_token_bytes(tokenizer, i)) == 1}
    assert len(single_bytes) == 256


def test_builtin_weights_are_small_safetensors():
    weights = BUILTIN / "model.safetensors"
    assert weights.is_file()
    assert weights.stat().st_size < 30 * 1024 * 1024
    assert sum(p.stat().st_size for p in BUILTIN.iterdir()) < 30 * 1024 * 1024
    assert "final held-out loss" in (BUILTIN / "TRAINING.md").read_text()


def test_tokenizer_round_trips_json_and_sql(builtin):
    _, tokenizer = builtin
    samples = [
        'Person: {"name": "Zoë Müller", "age": 34, "tags": ["a", "b"], "spouse": null}',
        "Question: How many singers are there?\nSQL: SELECT count(*) FROM singer WHERE Age > 30",
        "SELECT T1.Name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.Singer_ID = T2.Singer_ID",
        '  {"indented":\n  [1, 2.5, -3e4, true, false]}\t',
    ] + generate_corpus(50, CorpusSpec(seed=7))
    for text in samples:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
        assert EOS not in tokenizer.convert_ids_to_tokens(ids)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40))
def test_tokenizer_round_trips_any_text(builtin, text):
    _, tokenizer = builtin
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert b"".join(_token_bytes(tokenizer, i) for i in ids) == text.encode("utf-8")


def test_builtin_heldout_loss_is_far_below_uniform(builtin):
    model, tokenizer = builtin
    # A corpus seed used neither for training (0) nor for the training-time held-out set.
    documents = generate_corpus(60, CorpusSpec(seed=424242))
    stream = encode_documents(tokenizer, documents, tokenizer.eos_token_id)
    bound = math.log(len(tokenizer)) / 2
    assert stream.numel() > 2000
    assert mean_token_loss(model, stream, block_size=256) < bound
    # the bound is meaningful: the same architecture with untrained weights is far above it
    torch.manual_seed(0)
    untrained = GPT2LMHeadModel(model.config).eval()
    assert mean_token_loss(untrained, stream, block_size=256) > bound


def test_builtin_continues_person_prompt_with_json(builtin):
    model, tokenizer = builtin
    prompt = 'Person: {"'
    ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        for _ in range(30):
            next_id = model(input_ids=ids).logits[0, -1].argmax()
            ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
    greedy = tokenizer.decode(ids[0, 1:])[len(prompt):]
    assert re.match(r'[A-Za-z_]+": ', greedy), greedy
    completions = sample_completions(model, tokenizer, prompt, 8, 30, torch.Generator().manual_seed(0))
    json_like = [c for c in completions if re.match(r'[A-Za-z_]+": ["\d\[{tfn-]', c.text)]
    assert len(json_like) >= 4, [c.text for c in completions]


def test_tiny_vocabulary_is_the_documented_bytes(tiny):
    model, tokenizer = tiny
    assert len(tokenizer) == model.config.vocab_size == len(TINY_TOKEN_BYTES) == 8
    assert tokenizer.convert_ids_to_tokens(0) == EOS == tokenizer.eos_token == tokenizer.bos_token
    assert [_token_bytes(tokenizer, i) for i in range(1, 8)] == list(TINY_TOKEN_BYTES[1:])
    for text in ("ab a", "é ba", " b", "aab  é"):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_tiny_next_token_distributions_are_not_degenerate(tiny):
    model, _ = tiny
    contexts = [(0, *c) for n in range(3) for c in itertools.product(range(8), repeat=n)]
    with torch.no_grad():
        probs = []
        for context in contexts:
            logits = model(input_ids=torch.tensor([context])).logits[0, -1].double()
            probs.append(torch.softmax(logits, dim=-1))
    probs = torch.stack(probs)
    assert probs.min().item() > 1e-3 and probs.max().item() < 1 - 1e-3
    # context matters: the distribution after 'a' differs from the one after b"\xc3"
    assert (probs[contexts.index((0, 1))] - probs[contexts.index((0, 5))]).abs().max().item() > 0.05


JSON_LABELS = ("Person", "Product", "Event", "Order", "Book", "Company", "Reading", "User", "JSON")


def _json_payloads(documents: list[str]) -> list[str]:
    """The JSON texts inside the JSON documents of a corpus (schema prompts included)."""
    payloads = []
    for doc in documents:
        if doc.startswith("Schema: {"):
            schema, _, instance = doc[len("Schema: "):].partition("\nJSON: ")
            payloads += [schema, instance]
        elif doc.split(":", 1)[0].removesuffix(" list") in JSON_LABELS:
            payloads.append(doc.split(": ", 1)[1])
    return payloads


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_corpus_is_deterministic_and_mixed():
    first = generate_corpus(300, CorpusSpec(seed=3))
    assert first == generate_corpus(300, CorpusSpec(seed=3))
    assert first != generate_corpus(300, CorpusSpec(seed=4))
    for starts in (("SQL:", "Question:", "Database:"), ("Problem:",), ("Person:",), ("Story:",)):
        assert any(doc.startswith(starts) for doc in first), starts


def test_corpus_json_is_valid_except_the_deliberately_malformed_share():
    clean = _json_payloads(generate_corpus(1500, CorpusSpec(seed=5, malformed_share=0.0)))
    assert len(clean) > 400 and all(_parses(p) for p in clean)
    share = 0.06
    payloads = _json_payloads(generate_corpus(1500, CorpusSpec(seed=5, malformed_share=share)))
    broken = sum(not _parses(p) for p in payloads) / len(payloads)
    # Hoeffding, failure probability 1e-6 per side; schema texts are never broken, so <= share.
    slack = math.sqrt(math.log(1e6) / (2 * len(payloads)))
    assert 0 < broken <= share + slack


def test_generated_spider_queries_execute():
    schemas = load_spider_schemas()
    rng = random.Random(11)
    for schema in schemas:
        database = DEFAULT_SPIDER_DIR / "databases" / schema.db_id / f"{schema.db_id}.sqlite"
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            for _ in range(15):
                connection.execute(sql_example(rng, schema).sql).fetchmany(5)
        finally:
            connection.close()
