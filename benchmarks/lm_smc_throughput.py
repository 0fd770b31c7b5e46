"""SMC decoding throughput: ours vs plain batched `generate` (the limit) and vs llamppl / genlm-control.

For each particle count N and length T, one run of each job on the same model, same process:

  generate   transformers `model.generate` of N sequences, T new tokens, sampling the full distribution
  ours       N particles of a ppl.Model whose step is `await self.sample(self.ctx.next_token(), "tok")`,
             run by ppl.run_batched, resampled after every step by a fixed random ancestor pattern
             (so KV rows are shared and copied), T steps
  ours-ctx   the same decoding on bare lm contexts (no ppl.Model: what the LM layer itself costs)
  ours-static  lm.smc_decode: the same N particles and T steps with every step on the device (static KV
             cache, the decode step and sampling recorded as one CUDA graph on CUDA), a token-level twist
             (log potential -0.1 per odd token id) and ess_threshold=1 (resampling whenever the weights
             differ: nearly every step), EOS treated as an ordinary token; the faster of two runs (the
             first also records the graph)
  llamppl    llamppl's smc_standard over the same job (ess_threshold=2: resample every step), run in
             the separate venv /work/venvs/peers, offline, on the same local model directory
  genlm      genlm-control's DirectTokenSampler SMC, same settings, same venv

Ratios are tokens/s over generate's tokens/s measured in the same process right before.

    python benchmarks/lm_smc_throughput.py --model builtin --particles 16 64 --tokens 128 512 --peers
    python benchmarks/lm_smc_throughput.py --model gpt2-small-random --particles 16 --tokens 128
    python benchmarks/lm_smc_throughput.py --model llama1b-random --device cuda --dtype bfloat16

`--model` is builtin, tiny, gpt2-small-random (124M, 50k vocab, random weights built from a config),
llama1b-random (0.93B Llama-shaped, random, built on the target device) or a model directory.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = Path(os.environ.get("LM_BENCH_PEERS_PYTHON", "/work/venvs/peers/bin/python"))
RANDOM_MODELS_DIR = Path(os.environ.get("LM_BENCH_MODELS", "/tmp/lm_bench_models"))
PROMPT = "SELECT"


# -- random-weight models built from a config (no download) -------------------------------------------

def synthetic_byte_level_tokenizer(out_dir: Path, vocab_size: int) -> None:
    """A byte-level BPE tokenizer of `vocab_size` tokens: 256 bytes, byte pairs merged, EOS last."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    merges = []
    for a in alphabet:
        for b in alphabet:
            if len(vocab) >= vocab_size - 1:
                break
            vocab[a + b] = len(vocab)
            merges.append((a, b))
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")
    fast.save_pretrained(out_dir)


def build_random_model(kind: str, device: str, dtype: str) -> Path:
    """Build (once) a random-weight model directory for `kind`; returns its path."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    out = RANDOM_MODELS_DIR / f"{kind}-{dtype}"
    if (out / "model.safetensors").exists() or (out / "model.safetensors.index.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    vocab = 50257
    if kind == "gpt2-small-random":
        config = GPT2Config(vocab_size=vocab, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                            bos_token_id=vocab - 1, eos_token_id=vocab - 1, pad_token_id=vocab - 1)
        build = GPT2LMHeadModel
    elif kind == "llama1b-random":
        config = LlamaConfig(vocab_size=vocab, hidden_size=2048, intermediate_size=5632, num_hidden_layers=16,
                             num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=2048,
                             bos_token_id=vocab - 1, eos_token_id=vocab - 1, pad_token_id=vocab - 1,
                             tie_word_embeddings=False)
        build = LlamaForCausalLM
    else:
        raise ValueError(f"unknown random model {kind!r}")
    with torch.device(device):
        model = build(config)
    model.to({"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]).save_pretrained(out)
    synthetic_byte_level_tokenizer(out, vocab)
    return out


def model_dir(spec: str, device: str, dtype: str) -> Path:
    if spec in ("builtin", "tiny"):
        from lm.loading.model_dir import resolve

        return resolve(spec)
    if spec.endswith("-random"):
        return build_random_model(spec, device, dtype)
    return Path(spec)


# -- our jobs ---------------------------------------------------------------------------------------------

def ancestor_pattern(n: int, steps: int, seed: int):
    """The fixed random resampling pattern: one multinomial-uniform ancestor vector per step."""
    import numpy as np

    g = np.random.default_rng(seed)
    return [g.integers(0, n, n) for _ in range(steps)]


def run_generate(llm, prompt_ids: list[int], n: int, steps: int) -> float:
    import torch
    from transformers import GenerationConfig

    device = llm.device
    ids = torch.tensor([prompt_ids] * n, device=device)
    config = GenerationConfig(max_new_tokens=steps, min_new_tokens=steps, do_sample=True, top_k=0, top_p=1.0,
                              temperature=1.0, pad_token_id=llm.vocabulary.eos_ids[0], eos_token_id=llm.vocabulary.eos_ids[0])
    torch.manual_seed(0)
    _sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        out = llm.model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    _sync(device)
    elapsed = time.perf_counter() - start
    assert out.shape[1] == len(prompt_ids) + steps
    return elapsed


def run_generate_static(llm, prompt_ids: list[int], n: int, steps: int) -> float:
    """`generate` with a static KV cache, which transformers compiles with torch.compile (timed after a warm-up run)."""
    import torch
    from transformers import GenerationConfig

    device = llm.device
    ids = torch.tensor([prompt_ids] * n, device=device)
    config = GenerationConfig(max_new_tokens=steps, min_new_tokens=steps, do_sample=True, top_k=0, top_p=1.0,
                              temperature=1.0, pad_token_id=llm.vocabulary.eos_ids[0], eos_token_id=llm.vocabulary.eos_ids[0],
                              cache_implementation="static")
    with torch.inference_mode():
        llm.model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)  # compiles
        _sync(device)
        start = time.perf_counter()
        llm.model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
        _sync(device)
    return time.perf_counter() - start


def run_ours_model(llm, prompt_ids: list[int], n: int, steps: int, seed: int) -> float:
    import ppl

    class Decode(ppl.Model):
        def __init__(self, ctx):
            super().__init__()
            self.ctx = ctx

        async def step(self):
            await self.sample(self.ctx.next_token(), "tok")

    llm.clear_cache()
    pattern = ancestor_pattern(n, steps, seed)
    rng = ppl.rng(seed)
    _sync(llm.device)
    start = time.perf_counter()
    particles = [Decode(llm.context(prompt_ids)) for _ in range(n)]
    for ancestors in pattern:
        ppl.run_batched([p.run_step(rng) for p in particles])
        particles = [particles[a].clone() for a in ancestors]
    _sync(llm.device)
    elapsed = time.perf_counter() - start
    assert all(len(p.ctx.generated) == steps for p in particles)
    return elapsed


def run_ours_contexts(llm, prompt_ids: list[int], n: int, steps: int, seed: int) -> float:
    import ppl

    llm.clear_cache()
    pattern = ancestor_pattern(n, steps, seed)
    rng = ppl.rng(seed)
    server = llm.server
    _sync(llm.device)
    start = time.perf_counter()
    contexts = [llm.context(prompt_ids) for _ in range(n)]
    for ancestors in pattern:
        dists = [c.next_token() for c in contexts]
        pendings = [p for p in (d.pending() for d in dists) if p is not None]
        if pendings:
            server.serve(pendings)
        for d in dists:
            d.sample(rng)
        contexts = [contexts[a].clone() for a in ancestors]
    _sync(llm.device)
    elapsed = time.perf_counter() - start
    assert all(len(c.generated) == steps for c in contexts)
    return elapsed


def run_ours_static(llm, prompt_ids: list[int], n: int, steps: int, seed: int) -> tuple[float, int]:
    import lm

    def odd_tokens(tokens):
        return -0.1 * (tokens % 2).sum(dim=1).double()

    best, resamples = None, 0
    for attempt in range(2):
        _sync(llm.device)
        start = time.perf_counter()
        result = lm.smc_decode(llm, prompt_ids, particles=n, max_tokens=steps, potential=odd_tokens, ess_threshold=1.0,
                               stop_at_eos=False, rng=seed + attempt)
        _sync(llm.device)
        elapsed = time.perf_counter() - start
        assert len(result.steps) == steps and all(len(p.trace.token_ids) == steps for p in result.particles)
        if best is None or elapsed < best:
            best, resamples = elapsed, sum(s.resampled for s in result.steps)
    return best, resamples


def check_static_decoder(llm, rows: int = 6, steps: int = 12, seed: int = 0) -> float:
    """Largest |log p| difference between the static decoder (CUDA graph on CUDA) and fresh full forward passes."""
    import numpy as np
    import torch

    from lm.device.static_decoder import StaticDecoder

    g = np.random.default_rng(seed)
    vocab = [t.id for t in llm.vocabulary.tokens if t is not None and not t.is_special]
    prompt = [int(x) for x in g.choice(vocab, 3)]
    decoder = StaticDecoder(llm, rows, 32)
    first = decoder.prefill(prompt)
    seqs = [list(prompt) for _ in range(rows)]

    def fresh(seq):
        with torch.inference_mode():
            logits = llm.model(input_ids=torch.tensor([seq], device=llm.device)).logits[0, -1]
        return torch.log_softmax(logits.double(), -1)

    worst = float((torch.log_softmax(first.double(), -1) - fresh(prompt)).abs().max())
    for t in range(steps):
        last = [int(x) for x in g.choice(vocab, rows)]
        for i in range(rows):
            seqs[i].append(last[i])
        logits = decoder.step(torch.tensor(last, device=llm.device), len(prompt) + t)
        for i in range(rows):
            worst = max(worst, float((torch.log_softmax(logits[i].double(), -1) - fresh(seqs[i])).abs().max()))
        ancestors = g.integers(0, rows, rows)
        decoder.reorder(torch.tensor(ancestors, device=llm.device), len(prompt) + t + 1)
        seqs = [list(seqs[a]) for a in ancestors]
    return worst


def check_against_fresh_forward(llm, rounds: int = 6, seed: int = 0) -> float:
    """Largest |log p| difference between the batched/cached/cloned path and a fresh full forward pass."""
    import random

    import numpy as np
    import torch

    g = random.Random(seed)
    vocab = [t.id for t in llm.vocabulary.tokens if t is not None and not t.is_special]
    population = [llm.context([g.choice(vocab) for _ in range(g.randint(1, 6))]) for _ in range(3)]
    worst = 0.0
    for _ in range(rounds):
        population = [g.choice(population).clone() for _ in range(g.randint(2, 12))]
        dists = [c.next_token() for c in population]
        pendings = [p for p in (d.pending() for d in dists) if p is not None]
        if pendings:
            llm.server.serve(pendings)
        for ctx, d in zip(population, dists):
            with torch.inference_mode():
                logits = llm.model(input_ids=torch.tensor([ctx.token_ids], device=llm.device)).logits[0, -1]
            fresh = torch.log_softmax(logits.double(), -1).cpu().numpy()
            worst = max(worst, float(np.abs(d.target_logprobs() - fresh).max()))
        for ctx in population:
            for _ in range(g.randint(1, 3)):
                ctx.extend(g.choice(vocab))
    return worst


def _sync(device) -> None:
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.synchronize()


# -- peers (run inside /work/venvs/peers; import nothing of ours) ---------------------------------------

def peer_llamppl(path: str, prompt: str, n: int, steps: int) -> dict:
    import asyncio

    import llamppl

    lm = llamppl.CachedCausalLM.from_pretrained(path, backend="hf")

    class Decode(llamppl.Model):
        def __init__(self):
            super().__init__()
            self.ctx = llamppl.LMContext(lm, prompt)
            self.count = 0

        async def step(self):
            await self.sample(self.ctx.next_token())
            self.count += 1
            if self.count >= steps:
                self.finish()

    start = time.perf_counter()
    particles = asyncio.run(llamppl.smc_standard(Decode(), n, ess_threshold=2.0))
    elapsed = time.perf_counter() - start
    tokens = sum(p.count for p in particles)
    return {"seconds": elapsed, "tokens": tokens}


def peer_genlm(path: str, prompt: str, n: int, steps: int) -> dict:
    import asyncio

    from genlm.control import EOS, PromptedLLM, direct_token_sampler

    # The byte 0xFF never occurs in UTF-8 text: as genlm-control's EOS it lets particles run all T
    # steps, like the other jobs (genlm-control stops a particle at its EOS).
    llm = PromptedLLM.from_name(path, backend="hf", eos_byte_strings=[b"\xff"])
    llm.prompt_ids = llm.model.tokenizer.encode(prompt)
    sampler = direct_token_sampler(llm)

    async def job():
        out = await sampler.smc(n_particles=n, ess_threshold=2.0, max_tokens=steps + 1)  # + the closing EOS
        await sampler.cleanup()
        return out

    start = time.perf_counter()
    sequences = asyncio.run(job())
    elapsed = time.perf_counter() - start
    tokens = sum(1 for c in sequences.contexts for t in c if t is not EOS)
    return {"seconds": elapsed, "tokens": tokens}


def run_peer(name: str, path: Path, prompt: str, n: int, steps: int, threads: int, timeout: float) -> dict:
    """Run one peer job in the peers venv; {'seconds', 'tokens'} or {'error'}."""
    if not PEERS_PYTHON.exists():
        return {"error": f"{PEERS_PYTHON} does not exist (python -m venv /work/venvs/peers; pip install torch==2.13.0 llamppl genlm-control)"}
    cmd = [str(PEERS_PYTHON), str(Path(__file__).resolve()), "--peer", name, "--peer-model", str(path), "--peer-prompt", prompt,
           "--particles", str(n), "--tokens", str(steps), "--threads", str(threads)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS=str(threads))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd="/tmp")
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no output'}"}


def peer_versions() -> dict:
    if not PEERS_PYTHON.exists():
        return {}
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "['llamppl', 'genlm-control', 'genlm-backend', 'torch', 'transformers']}))")
    out = subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-200:]}


def peer_main(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    job = {"llamppl": peer_llamppl, "genlm": peer_genlm}[args.peer]
    n, steps = args.particles[0], args.tokens[0]
    print(json.dumps(job(args.peer_model, args.peer_prompt, n, steps)))


# -- driver -----------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--particles", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--tokens", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--jobs", nargs="+", default=["generate", "ours", "ours-ctx"],
                        choices=["generate", "generate-static", "ours", "ours-ctx", "ours-static"])
    parser.add_argument("--peers", nargs="*", choices=["llamppl", "genlm"], default=None,
                        help="also run these peers (no names: both)")
    parser.add_argument("--peer-runs", nargs="+", default=None, metavar="N:T",
                        help="the (particles:tokens) settings at which to run peers (default: all)")
    parser.add_argument("--peer-timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="time our jobs and generate this many times, keep the fastest")
    parser.add_argument("--out", type=Path, default=None, help="append a markdown table to this file")
    parser.add_argument("--check", action="store_true",
                        help="first compare the batched path with fresh forward passes on this device and dtype")
    parser.add_argument("--peer", choices=["llamppl", "genlm"], help=argparse.SUPPRESS)
    parser.add_argument("--peer-model", help=argparse.SUPPRESS)
    parser.add_argument("--peer-prompt", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer_main(args)
        return

    sys.path.insert(0, str(ROOT))
    import torch
    import transformers

    import lm

    path = model_dir(args.model, args.device, args.dtype)
    llm = lm.load(path, device=args.device, dtype=args.dtype, threads=args.threads)
    params = sum(p.numel() for p in llm.model.parameters())
    prompt_ids = llm.tokenize(PROMPT) or [llm.vocabulary.eos_ids[0]]
    peers = [] if args.peers is None else (args.peers or ["llamppl", "genlm"])
    rows = []
    header = (f"model {args.model} ({type(llm.model).__name__}, {params / 1e6:.1f}M parameters, vocabulary {len(llm.vocabulary)}), "
              f"device {args.device}, dtype {args.dtype}, threads {args.threads}, prompt {PROMPT!r} ({len(prompt_ids)} tokens)")
    print(header, flush=True)
    if args.check:
        print(f"check: max |batched - fresh| log-probability {check_against_fresh_forward(llm):.3g}", flush=True)
        print(f"check: max |static decoder - fresh| log-probability {check_static_decoder(llm):.3g}", flush=True)
        llm.clear_cache()
    run_generate(llm, prompt_ids, 2, 4)  # warm-up
    run_ours_model(llm, prompt_ids, 2, 4, args.seed)
    for n in args.particles:
        for requested in args.tokens:
            steps = min(requested, llm.window - len(prompt_ids))
            row = {"N": n, "T": steps}
            timings = {}
            for attempt in range(args.repeat):  # interleaved, the fastest of each kept: the machine may be shared
                seed = args.seed + attempt
                jobs = {"generate": lambda: run_generate(llm, prompt_ids, n, steps),
                        "ours": lambda: run_ours_model(llm, prompt_ids, n, steps, seed),
                        "ours-ctx": lambda: run_ours_contexts(llm, prompt_ids, n, steps, seed),
                        "ours-static": lambda: run_ours_static(llm, prompt_ids, n, steps, seed),
                        "generate-static": lambda: run_generate_static(llm, prompt_ids, n, steps)}
                for name in ("generate", "ours", "ours-ctx", "ours-static", "generate-static"):  # compiled last: keep torch.compile away from the eager jobs
                    if name in args.jobs:
                        seconds = jobs[name]()
                        if name == "ours-static":
                            seconds, row["ours-static resamples"] = seconds
                        timings[name] = min(seconds, timings.get(name, seconds))
            for name, seconds in timings.items():
                row[name] = n * steps / seconds
                row[f"{name} ms/step"] = 1000 * seconds / steps
            for peer in peers:
                if args.peer_runs and f"{n}:{requested}" not in args.peer_runs and f"{n}:{steps}" not in args.peer_runs:
                    continue
                result = run_peer(peer, path, PROMPT, n, steps, args.threads, args.peer_timeout)
                row[peer] = result["tokens"] / result["seconds"] if "seconds" in result else result["error"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = render(rows, peers)
    print(table)
    if args.out:
        versions = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
                    "cpu": platform.processor() or platform.machine()}
        if args.device.startswith("cuda"):
            versions["gpu"] = torch.cuda.get_device_name(0)
        if peers:
            versions["peers venv"] = peer_versions()
        command = "python " + " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:])
        with open(args.out, "a") as f:
            f.write(f"\n## {args.model} on {args.device} ({time.strftime('%Y-%m-%d %H:%M')})\n\n`{command}`\n\n{header}\n\n"
                    f"versions: {json.dumps(versions)}\n\n{table}\n")


def render(rows: list[dict], peers: list[str]) -> str:
    """A markdown table: tokens/s per job and ratios to generate (ours) and of ours to each peer."""
    cols = ["N", "T", "generate tok/s", "ours tok/s", "ours / generate", "ours-ctx / generate"]
    static = any("generate-static" in r for r in rows)
    lockstep = any("ours-static" in r for r in rows)
    if lockstep:
        cols += ["ours-static tok/s", "ours-static / generate", "ours-static resampled steps"]
    if static:
        cols += ["generate-static tok/s", "ours / generate-static", "ours-ctx / generate-static"]
        if lockstep:
            cols += ["ours-static / generate-static", "ms/step: ours-static, generate-static, generate"]
    for peer in peers:
        cols += [f"{peer} tok/s", f"ours / {peer}", f"ours-ctx / {peer}"] + ([f"ours-static / {peer}"] if lockstep else [])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        g, o, c = r.get("generate"), r.get("ours"), r.get("ours-ctx")
        cells = [str(r["N"]), str(r["T"]), _num(g), _num(o), _ratio(o, g), _ratio(c, g)]
        q = r.get("ours-static")
        if lockstep:
            cells += [_num(q), _ratio(q, g), str(r.get("ours-static resamples", "-"))]
        if static:
            s = r.get("generate-static")
            cells += [_num(s), _ratio(o, s), _ratio(c, s)]
            if lockstep:
                ms = [r.get(f"{k} ms/step") for k in ("ours-static", "generate-static", "generate")]
                cells += [_ratio(q, s), ", ".join(f"{m:.2f}" if m else "-" for m in ms)]
        for peer in peers:
            value = r.get(peer)
            cells += [_num(value) if not isinstance(value, str) else f"failed: {value}", _ratio(o, value), _ratio(c, value)]
            if lockstep:
                cells.append(_ratio(q, value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(x) -> str:
    return f"{x:.0f}" if isinstance(x, (int, float)) else "-"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"


if __name__ == "__main__":
    main()
