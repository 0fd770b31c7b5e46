"""Outlines token masking: its logits processors (outlines_core for JSON, llguidance for Lark CFGs) in HF generate."""
from __future__ import annotations

import hf_sampling
import peer_job
import torch


def main() -> None:
    job = peer_job.read_job()
    torch.set_num_threads(1)
    import outlines
    from outlines.types import CFG, JsonSchema, Regex

    hf_model, tokenizer, load_s = hf_sampling.load(job["model"])
    model = outlines.from_transformers(hf_model, tokenizer)
    peer_job.emit({"versions": peer_job.versions("outlines", "outlines_core", "llguidance", "torch", "transformers"),
                   "load_s": load_s})

    def setup(task: dict):
        if task["kind"] == "json":
            # The leading space, then the schema's regex in outlines' default whitespace rule.
            return outlines.Generator(model, Regex(task["prefix"]) + JsonSchema(task["schema"]))
        return outlines.Generator(model, CFG(task["grammar"]))

    def generate(task: dict, generator) -> list[dict]:
        # What `generator(prompt, ...)` does (reset, then HF generate with outlines' logits processor), called
        # through hf_sampling so that EOS is seen (outlines' own decoding drops special tokens).
        generator.logits_processor.reset()
        return hf_sampling.sample(hf_model, tokenizer, task["prompt"], generator.logits_processor,
                                  particles=job["particles"], max_tokens=job["max_tokens"], seed=job["seed"])

    peer_job.run_tasks(job, setup, generate)


if __name__ == "__main__":
    main()
