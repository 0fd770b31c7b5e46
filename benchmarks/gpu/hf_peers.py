"""The masking peers on a GPU: xgrammar's and llguidance's logits processors in HF `model.generate`.

One `generate` call draws N sequences of the same prompt (a batch of N rows), temperature 1,
full distribution (top_k=0, top_p=1), up to `max_new_tokens`, stopping at the model's EOS ids;
eager (dynamic cache) or with transformers' static cache, which `generate` compiles with
torch.compile on CUDA (`cache_implementation="static"` with a `CompileConfig`; the cache sized
`max_cache_len` for every call, so one compiled graph serves every prompt of a batch size).

xgrammar: its own `xgrammar.contrib.hf.LogitsProcessor` (one GrammarMatcher a row, its Triton
mask kernel on CUDA). llguidance ships no HF processor; `LLGuidanceProcessor` below is the
batch use its API is made for: tokens consumed and masks filled for all rows in parallel by an
`LLExecutor`, the bitmask (pinned host memory) copied to the device and applied there.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import torch

JSON_SEPARATORS = (", ", ": ")  # what our json_schema writes (compact): every engine targets the same language


@dataclass
class Sampled:
    texts: list[str]
    finished: list[bool]
    steps: int          # decoding steps generate ran (new positions; all rows stop together)
    wall_s: float


def sync(device: Any) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def hf_sample(model: Any, tokenizer: Any, prompt_ids: list[int], processor: Any, *, particles: int,
              max_new_tokens: int, eos_ids: list[int], seed: int, static: bool, max_cache_len: int) -> Sampled:
    """`particles` masked samples continuing `prompt_ids`, cut at the first EOS; timed with the device synced."""
    from transformers import CompileConfig, GenerationConfig

    device = model.device
    ids = torch.tensor([prompt_ids] * particles, device=device)
    options: dict[str, Any] = dict(max_new_tokens=max_new_tokens, do_sample=True, top_k=0, top_p=1.0, temperature=1.0,
                                   eos_token_id=list(eos_ids), pad_token_id=eos_ids[0])
    if static:
        options.update(cache_implementation="static", max_cache_len=max_cache_len, compile_config=CompileConfig())
    config = GenerationConfig(**options)
    torch.manual_seed(seed)
    sync(device)
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config,
                             logits_processor=[processor])
    sync(device)
    wall = time.perf_counter() - started
    texts, finished = [], []
    eos = set(eos_ids)
    for row in out[:, len(prompt_ids):].tolist():
        stop = next((i for i, t in enumerate(row) if t in eos), None)
        finished.append(stop is not None)
        texts.append(tokenizer.decode(row if stop is None else row[:stop], skip_special_tokens=False))
    return Sampled(texts, finished, out.shape[1] - len(prompt_ids), wall)


class XgrammarPeer:
    """xgrammar: a GrammarCompiler over the model's tokenizer; one HF logits processor per generate call."""

    name = "xgrammar"

    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: list[int]):
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=list(eos_ids))
        self.compiler = xgr.GrammarCompiler(info)

    def setup(self, task: Any, sql_grammar: str | None) -> Any:
        xgr = self.xgr
        if task.kind == "JSON":
            grammar = xgr.Grammar.from_json_schema(json.dumps(task.schema), any_whitespace=False,
                                                   separators=JSON_SEPARATORS)
        else:
            grammar = xgr.Grammar.from_lark(sql_grammar)
        return self.compiler.compile_grammar(grammar)

    def processor(self, compiled: Any) -> Any:
        import xgrammar.contrib.hf

        return xgrammar.contrib.hf.LogitsProcessor(compiled)


class LLGuidancePeer:
    """llguidance: LLMatcher grammars (JSON Schema through its %json, SQL as Lark), masks filled in parallel."""

    name = "llguidance"

    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: list[int], vocabulary: Any = None):
        import llguidance
        import llguidance.hf

        self.llguidance = llguidance
        if vocabulary is not None:
            wrapped = llguidance.TokenizerWrapper(_TokenBytes(vocabulary, tokenizer, eos_ids))
            self.tokenizer = llguidance.LLTokenizer(wrapped, n_vocab=vocab_size, eos_token=list(eos_ids))
        else:
            self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=list(eos_ids))
        self.executor = llguidance.LLExecutor()
        self.vocab_size = vocab_size
        self.eos_ids = set(eos_ids)

    def setup(self, task: Any, sql_grammar: str | None) -> str:
        LLMatcher = self.llguidance.LLMatcher
        if task.kind == "JSON":
            schema = dict(task.schema, **{"x-guidance": {"whitespace_flexible": False, "item_separator": ", ",
                                                         "key_separator": ": "}})
            grammar = LLMatcher.grammar_from_json_schema(json.dumps(schema))
        else:
            grammar = LLMatcher.grammar_from_lark(sql_grammar)
        error = LLMatcher.validate_grammar(grammar, self.tokenizer)
        if error:
            raise ValueError(f"llguidance rejected the grammar of {task.name}: {error}")
        return grammar

    def processor(self, grammar: str) -> "LLGuidanceProcessor":
        return LLGuidanceProcessor(self, grammar)


class _TokenBytes:
    """Our vocabulary's exact token bytes for llguidance's TokenizerWrapper.

    llguidance's own `from_tokenizer` re-reads the tokenizer's serialized JSON; for SmolLM2's GGUF
    tokenizer under transformers 5.17 that gave a token table that did not match the model (every
    row wrote the same invalid text), so the peer gets the same bytes per id that our engine uses.
    """

    def __init__(self, vocabulary: Any, tokenizer: Any, eos_ids: list[int]):
        self.tokens = [b"" if t is None else (t.text.encode() if t.is_special else t.bytes) for t in vocabulary.tokens]
        self.special_token_ids = [t.id for t in vocabulary.tokens if t is not None and t.is_special]
        self.eos_token_id = list(eos_ids)[0]
        self.bos_token_id = tokenizer.bos_token_id
        self.tokenizer = tokenizer

    def __call__(self, text: bytes) -> list[int]:
        return self.tokenizer.encode(text.decode("utf-8", errors="replace"), add_special_tokens=False)


class LLGuidanceProcessor:
    """An HF logits processor over one LLMatcher a row (usable for one generate call, like xgrammar's).

    A row is done once its EOS was consumed; HF then pads it, and its last mask (which allowed EOS)
    is kept. A matcher that is stopped but not done masks everything but EOS (llguidance's rule).
    """

    def __init__(self, peer: LLGuidancePeer, grammar: str):
        self.peer, self.grammar = peer, grammar
        self.matchers: list[Any] = []
        self.done: list[bool] = []
        self.bitmask = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import llguidance.torch as llt

        peer = self.peer
        if not self.matchers:
            self.matchers = [peer.llguidance.LLMatcher(peer.tokenizer, self.grammar) for _ in range(input_ids.shape[0])]
            self.done = [False] * len(self.matchers)
            self.bitmask = llt.allocate_token_bitmask(len(self.matchers), peer.vocab_size)
        else:
            last = input_ids[:, -1].tolist()
            live = [i for i in range(len(self.matchers)) if not self.done[i]]
            if live:
                llt.consume_token_par(peer.executor, [(self.matchers[i], last[i]) for i in live])
            for i in live:
                self.done[i] = last[i] in peer.eos_ids
        rows = [(m, i) for i, m in enumerate(self.matchers) if not self.done[i]]
        if rows:
            llt.fill_next_token_bitmask_par(peer.executor, rows, self.bitmask)
        llt.apply_token_bitmask_inplace(scores, self.bitmask.to(scores.device, non_blocking=True))
        return scores
