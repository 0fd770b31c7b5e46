"""llguidance token masking (LLMatcher bitmasks in an HF logits processor) on a local model."""
from __future__ import annotations

import json

import hf_sampling
import numpy as np
import peer_job
import torch


class MatcherProcessor:
    """An HF logits processor: one LLMatcher per row, consuming the row's last token, masking the next."""

    def __init__(self, tokenizer_ll, grammar: str, vocab: int):
        self.tokenizer_ll, self.grammar, self.vocab = tokenizer_ll, grammar, vocab
        self.matchers = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import llguidance
        import llguidance.torch

        if self.matchers is None:
            self.matchers = [llguidance.LLMatcher(self.tokenizer_ll, self.grammar) for _ in range(input_ids.shape[0])]
            self.bitmask = llguidance.torch.allocate_token_bitmask(input_ids.shape[0], self.tokenizer_ll.vocab_size)
        else:
            for i, m in enumerate(self.matchers):
                if not m.is_stopped():
                    m.consume_token(int(input_ids[i, -1]))
        for i, m in enumerate(self.matchers):
            llguidance.torch.fill_next_token_bitmask(m, self.bitmask, i)
        bits = np.unpackbits(self.bitmask.numpy().view(np.uint8), axis=1, bitorder="little")[:, : scores.shape[1]]
        allowed = torch.from_numpy(bits.astype(bool))
        return scores.masked_fill(~allowed, float("-inf"))


def main() -> None:
    job = peer_job.read_job()
    torch.set_num_threads(1)
    import llguidance
    import llguidance.hf

    model, tokenizer, load_s = hf_sampling.load(job["model"])
    tokenizer_ll = llguidance.hf.from_tokenizer(tokenizer, n_vocab=model.config.vocab_size)
    peer_job.emit({"versions": peer_job.versions("llguidance", "torch", "transformers"), "load_s": load_s})

    def setup(task: dict) -> str:
        if task["kind"] == "json":
            schema = dict(task["schema"], **{"x-guidance": {"whitespace_flexible": False, "item_separator": ", ",
                                                             "key_separator": ": "}})
            lark = f"start: {json.dumps(task['prefix'])} body\nbody: %json {json.dumps(schema)}\n"
        else:
            lark = task["grammar"]
        grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        error = llguidance.LLMatcher.validate_grammar(grammar, tokenizer_ll)
        if error:
            raise ValueError(f"grammar rejected: {error}")
        return grammar

    def generate(task: dict, grammar: str) -> list[dict]:
        processor = MatcherProcessor(tokenizer_ll, grammar, model.config.vocab_size)
        return hf_sampling.sample(model, tokenizer, task["prompt"], processor, particles=job["particles"],
                                  max_tokens=job["max_tokens"], seed=job["seed"])

    peer_job.run_tasks(job, setup, generate)


if __name__ == "__main__":
    main()
