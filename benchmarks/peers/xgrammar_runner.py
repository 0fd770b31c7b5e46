"""xgrammar token masking (its HF logits processor) on a local model: JSON schemas and Lark grammars."""
from __future__ import annotations

import json

import hf_sampling
import peer_job
import torch


def main() -> None:
    job = peer_job.read_job()
    torch.set_num_threads(1)
    import xgrammar as xgr
    import xgrammar.contrib.hf

    model, tokenizer, load_s = hf_sampling.load(job["model"])
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=model.config.vocab_size)
    compiler = xgr.GrammarCompiler(info)
    peer_job.emit({"versions": peer_job.versions("xgrammar", "torch", "transformers"), "load_s": load_s})

    def setup(task: dict):
        if task["kind"] == "json":
            body = xgr.Grammar.from_json_schema(json.dumps(task["schema"]), any_whitespace=False, separators=(", ", ": "))
            grammar = xgr.Grammar.concat(xgr.Grammar.from_ebnf(f"root ::= {json.dumps(task['prefix'])}"), body)
        else:
            grammar = xgr.Grammar.from_lark(task["grammar"])
        return compiler.compile_grammar(grammar)

    def generate(task: dict, compiled) -> list[dict]:
        processor = xgrammar.contrib.hf.LogitsProcessor(compiled)
        return hf_sampling.sample(model, tokenizer, task["prompt"], processor, particles=job["particles"],
                                  max_tokens=job["max_tokens"], seed=job["seed"])

    peer_job.run_tasks(job, setup, generate)


if __name__ == "__main__":
    main()
