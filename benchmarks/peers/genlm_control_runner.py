"""genlm-control: SMC with its AWRS token sampler (the same algorithm as ours) on a local model."""
from __future__ import annotations

import asyncio

import peer_job
import torch


def strip_prefix(prefix: bytes):
    """Map the LM's token context to the potential's bytes: drop `prefix`, or poison a context without it."""
    def coerce(context) -> bytes:
        data = b"".join(context)
        if data.startswith(prefix):
            return data[len(prefix):]
        if prefix.startswith(data):
            return b""
        return b"\x00" + data  # no JSON document starts with NUL: the potential rejects it
    return coerce


def main() -> None:
    job = peer_job.read_job()
    torch.set_num_threads(1)
    import time

    from genlm.control import EOS, AWRS, BoolCFG, JsonSchema, PromptedLLM

    started = time.perf_counter()
    llm = PromptedLLM.from_name(job["model"], backend="hf")
    load_s = time.perf_counter() - started
    peer_job.emit({"versions": peer_job.versions("genlm-control", "genlm-backend", "genlm-grammar", "torch",
                                                 "transformers"), "load_s": load_s})
    cfgs: dict[str, object] = {}

    def setup(task: dict):
        if task["kind"] == "json":
            condition = JsonSchema(task["schema"]).coerce(llm, f=strip_prefix(task["prefix"].encode()))
        else:
            if task["grammar"] not in cfgs:  # one grammar per database, built once
                cfgs[task["grammar"]] = BoolCFG.from_lark(task["grammar"])
            condition = cfgs[task["grammar"]].coerce(llm, f=b"".join)
        return condition

    def generate(task: dict, condition) -> list[dict]:
        llm.prompt_ids = llm.model.tokenizer.encode(task["prompt"])
        sampler = AWRS(llm, condition, seed=job["seed"])

        async def run():
            out = await sampler.smc(n_particles=job["particles"], ess_threshold=0.5, max_tokens=job["max_tokens"])
            await sampler.cleanup()
            return out

        sequences = asyncio.run(run())
        outputs = []
        for context, log_weight in zip(sequences.contexts, sequences.log_weights):
            finished = bool(context) and context[-1] is EOS
            data = b"".join(t.byte_string if hasattr(t, "byte_string") else t for t in context if t is not EOS)
            outputs.append({"text": data.decode("utf-8", errors="replace"),
                            "finished": bool(finished and log_weight > float("-inf")), "log_weight": float(log_weight)})
        return outputs

    peer_job.run_tasks(job, setup, generate)


if __name__ == "__main__":
    main()
