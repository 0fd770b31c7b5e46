"""Load on `ppl serve`: R concurrent requests against the same calls made one by one in-process.

One workload of R JSON-Schema requests (request i: prompt "Record i:\\n", a person schema,
seed i, N particles, at most T tokens), three ways, on one model (default the built-in one), one
torch thread each:

  in-process   `lm.generate` for each request in turn, in this process (no HTTP): the baseline
  http-serial  the same requests sent one at a time to `ppl serve` (a subprocess)
  http-burst   all R sent at once (R client threads) to the same server: their generations run in
               lockstep and share forward passes (lm/serving/lockstep.py)

Latency is from sending a request to its whole answer (in-process: the call's own duration, so
the baseline's p50/p99 exclude queueing, which favours it); throughput is requests per second of
wall time. CPU s is the model process's CPU time (this process in-process, the server's
otherwise): on a shared machine it moves far less than wall time, so its ratio is the steadier
one. The three ways run in turn, `--repeats` times, and the fastest run of each is
reported (the machine may be shared). Every server answer is checked against the in-process samples for the same seed
(texts equal); the table says how many differ. Every answer must be a 200 carrying its own request's seed
(nothing lost or crossed), else the benchmark stops. /health's generations_per_round says how many
generations shared each forward pass.

    OMP_NUM_THREADS=1 python benchmarks/serve_load.py --requests 64 --out benchmarks/results/serve_load.md
    OMP_NUM_THREADS=1 python benchmarks/serve_load.py --model smollm2 --requests 16 --particles 4 --tokens 40 \
        --out benchmarks/results/serve_load.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 16},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"], "additionalProperties": False}


def requests_of(model: str, count: int, particles: int, tokens: int) -> list[dict]:
    return [{"model": model, "prompt": f"Record {i}:\n", "seed": i, "particles": particles, "max_tokens": tokens,
             "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}}
            for i in range(count)]


Run = tuple[list[float], float, list[list[str]], float]   # latencies, wall s, texts per request, CPU s of the model's process


def in_process(model: str, bodies: list[dict]) -> Run:
    import lm

    llm = lm.load(model, threads=1)
    lm.generate(llm, "Warm-up: ", json_schema=PERSON, particles=2, max_tokens=bodies[0]["max_tokens"])
    llm.clear_cache()
    latencies, texts = [], []
    start, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        t = time.perf_counter()
        result = lm.generate(llm, body["prompt"], json_schema=PERSON, particles=body["particles"],
                             max_tokens=body["max_tokens"], rng=body["seed"])
        latencies.append(time.perf_counter() - t)
        texts.append([s.value for s in result.texts])
    return latencies, time.perf_counter() - start, texts, time.process_time() - cpu


def post(url: str, body: dict) -> tuple[float, list[str]]:
    t = time.perf_counter()
    request = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:  # HTTPError (nothing lost) for any status but 200
        answer = json.loads(response.read())
    if answer.get("seed") != body["seed"] or not answer["choices"]:
        raise RuntimeError(f"request with seed {body['seed']} got another request's answer, or none: {answer}")
    return time.perf_counter() - t, [c["text"] for c in answer["choices"]]


def over_http(url: str, server: int, bodies: list[dict], concurrent: int) -> Run:
    start, cpu = time.perf_counter(), cpu_seconds(server)
    with ThreadPoolExecutor(concurrent) as pool:
        answers = list(pool.map(lambda b: post(url, b), bodies))
    return [a[0] for a in answers], time.perf_counter() - start, [a[1] for a in answers], cpu_seconds(server) - cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`, all its threads (Linux /proc; nan elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/health", timeout=60) as response:
        return json.loads(response.read())


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", "from frontend.cli import main; raise SystemExit(main())",
                                "serve", "--model", model, "--port", "0", "--threads", "1", "--log-level", "warning"],
                               cwd=ROOT, env=environment, stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    while line and "serving" not in line:
        line = process.stderr.readline()
    match = re.search(r"(http://\S+)/v1", line)
    if match is None:
        process.kill()
        raise RuntimeError("ppl serve did not start")
    return process, match.group(1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin", help="builtin, smollm2, ... (as ppl serve --model)")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--particles", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each way, in turn; the fastest counts")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    bodies = requests_of(args.model, args.requests, args.particles, args.tokens)
    rows: dict[str, Run] = {}
    rounds, shared = 0, 0.0
    for _ in range(args.repeats):  # the ways in turn, repeated: the fastest run of each counts (a shared machine)
        runs = {"in-process": in_process(args.model, bodies)}
        for name, concurrent in (("http-serial", 1), ("http-burst", len(bodies))):
            process, url = start_server(args.model)  # a fresh server each: no distributions memoized by another way
            try:
                post(url, {**bodies[0], "prompt": "Warm-up: ", "particles": 2})
                before = health(url)
                runs[name] = over_http(url, process.pid, bodies, concurrent)
                after = health(url)
            finally:
                process.send_signal(2)
                process.wait(timeout=120)
            if name == "http-burst" and (name not in rows or runs[name][1] < rows[name][1]):
                rounds = after["forward_rounds"] - before["forward_rounds"]
                shared = ((after["generations_per_round"] * after["forward_rounds"]
                           - before["generations_per_round"] * before["forward_rounds"]) / rounds) if rounds else 0.0
        for name, run in runs.items():
            if name not in rows or run[1] < rows[name][1]:
                rows[name] = run
    reference = rows["in-process"][2]
    base_throughput = len(bodies) / rows["in-process"][1]
    lines = ["", f"## {time.strftime('%Y-%m-%d %H:%M')}: {args.requests} requests, {args.particles} particles, "
                 f"at most {args.tokens} tokens, model {args.model}", "",
             f"`OMP_NUM_THREADS=1 python benchmarks/serve_load.py --model {args.model} --requests {args.requests} --particles "
             f"{args.particles} --tokens {args.tokens} --repeats {args.repeats}`", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average "
             f"{os.getloadavg()[0]:.1f} at the end; Python {platform.python_version()}.", "",
             "| way | wall s | requests/s | x in-process | p50 latency s | p99 latency s | CPU s | x in-process, by CPU s "
             "| answers unlike in-process |",
             "|---|---|---|---|---|---|---|---|---|"]
    base_cpu = rows["in-process"][3]
    for name, (latencies, wall, texts, cpu) in rows.items():
        differ = sum(a != b for a, b in zip(texts, reference))
        lines.append(f"| {name} | {wall:.2f} | {len(bodies) / wall:.2f} | {len(bodies) / wall / base_throughput:.2f} | "
                     f"{statistics.median(latencies):.3f} | {percentile(latencies, 0.99):.3f} | {cpu:.1f} | "
                     f"{base_cpu / cpu:.2f} | {differ} |")
    lines += ["", f"http-burst: {rounds} joint forward rounds, {shared:.1f} generations per round on average."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        with open(args.out, "a") as out:
            out.write(text)


if __name__ == "__main__":
    main()
