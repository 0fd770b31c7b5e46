"""The run viewer at scale: 64 particles x 512 SMC steps of a real LM run, recorded, saved and drawn in headless Chromium.

The run: a lipogram on the built-in model (SMC with ESS resampling): 511 tokens without the
letter 'e' from the empty prompt (each step observes "the next token has no 'e'", then samples
it among those), and a 512th step that observes end-of-text and finishes (the model's window is
512). It is run twice with the same seed, without and with `record=True`, side by side (the
same job, alternated, `--repeats` times each; the ratio of the faster runs is what recording costs). Then the history is saved as JSON and as the viewer
page, read back as `ppl view` does, and the page is opened in headless Chromium (the system's, via
Playwright) `--loads` times: wall time from navigation to the page's ready flag, the page's own
time to ready (performance.now(), from navigation start), and the time of a click that selects a
particle's lineage and of a filter toggle (both redraw the lanes).

    OMP_NUM_THREADS=1 python benchmarks/viewer_scale.py --out benchmarks/results/viewer_scale.md
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import inference  # noqa: E402
import lm  # noqa: E402
import ppl  # noqa: E402
from inference.history import load  # noqa: E402


class Lipogram(ppl.Model):
    """`tokens` tokens without an 'e' (each step conditions on it), then one step that observes end-of-text."""

    def __init__(self, llm, tokens: int):
        super().__init__()
        self.context = llm.context("")
        self.tokens = tokens
        self.allowed = [t for t in llm.vocabulary.tokens
                        if t is not None and not t.is_special and not t.is_eos and b"e" not in t.bytes.lower()]
        self.eos = llm.vocabulary.tokens[llm.vocabulary.eos_ids[0]]

    async def step(self):
        if len(self.context.generated) == self.tokens:
            logprobs = await self.context.next_token_logprobs()  # scored, not appended: the window is full
            self.factor(float(logprobs[self.eos.id]))
            self.finish()
            return
        await self.observe(self.context.mask_dist(self.allowed), True, "no_e")
        await self.sample(self.context.next_token(), "token")

    def summary(self) -> str:
        return self.context.generated_text


def run(llm, particles: int, tokens: int, record: bool, seed: int):
    start = time.perf_counter()
    result = inference.smc(Lipogram(llm, tokens), particles=particles, rng=seed, record=record)
    return result, time.perf_counter() - start


def measure_page(page_path: Path, loads: int) -> dict:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browser import chromium_path

    out: dict = {"wall": [], "ready": [], "click": [], "filter": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            start = time.perf_counter()
            page.goto(page_path.resolve().as_uri())
            page.locator("body[data-ready]").wait_for(state="attached", timeout=120_000)
            out["wall"].append(time.perf_counter() - start)
            assert page.locator("body").get_attribute("data-ready") == "true", errors
            out["ready"].append(float(page.locator("body").get_attribute("data-render-ms")) / 1000)
            out["click"].append(page.evaluate("""() => {
                const c = document.getElementById('lanes'), d = c.dataset, box = c.getBoundingClientRect();
                const t = +d.steps - 1, i = 3;
                const x = box.left + +d.left + t * +d.cellWidth + 1, y = box.top + +d.top + i * +d.cellHeight + 1;
                const start = performance.now();
                c.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: y, bubbles: true}));
                return (performance.now() - start) / 1000; }"""))
            assert page.locator("#selection").get_attribute("data-lineage"), "the click selected nothing"
            out["filter"].append(page.evaluate("""() => {
                const box = document.querySelector('input[name=state-finished]');
                const start = performance.now();
                box.click();
                return (performance.now() - start) / 1000; }"""))
            out["lanes"] = page.locator("#lanes").get_attribute("data-lanes")
            out["steps"] = page.locator("#lanes").get_attribute("data-steps")
            page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--particles", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=511, help="tokens before the end-of-text step (steps = tokens + 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loads", type=int, default=3, help="page loads measured")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind (the faster one is reported)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    llm = lm.load("builtin")
    run(llm, 4, 4, False, args.seed)  # warm-up: the first forward passes
    plain_times, recorded_times = [], []
    for _ in range(args.repeats):  # alternated, so a change in the machine's load hits both alike
        plain, seconds = run(llm, args.particles, args.tokens, False, args.seed)
        plain_times.append(seconds)
        recorded, seconds = run(llm, args.particles, args.tokens, True, args.seed)
        recorded_times.append(seconds)
    plain_s, recorded_s = min(plain_times), min(recorded_times)
    # The same job (same steps); not bit-identical draws: the batched float32 forward passes depend on the KV cache's state.
    assert len(plain.steps) == len(recorded.steps) == args.tokens + 1
    history = recorded.history
    with tempfile.TemporaryDirectory() as scratch:
        json_path, html_path = Path(scratch) / "run.json", Path(scratch) / "run.html"
        start = time.perf_counter()
        history.save(str(json_path))
        save_s = time.perf_counter() - start
        start = time.perf_counter()
        loaded = load(str(json_path))
        load_s = time.perf_counter() - start
        assert loaded == history
        start = time.perf_counter()
        loaded.save_html(str(html_path))
        html_s = time.perf_counter() - start
        json_mb, html_mb = json_path.stat().st_size / 1e6, html_path.stat().st_size / 1e6
        page = measure_page(html_path, args.loads)
    steps = len(history.steps)
    resampled = sum(s.resampled for s in history.steps)
    lines = [
        f"## {args.particles} particles x {steps} steps (built-in model lipogram, seed {args.seed}; "
        f"{time.strftime('%Y-%m-%d')})", "",
        f"`OMP_NUM_THREADS=1 python benchmarks/viewer_scale.py --particles {args.particles} --tokens {args.tokens} "
        f"--seed {args.seed} --loads {args.loads} --repeats {args.repeats}` on {platform.machine()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores (shared; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after), "
        f"Chromium from the system via Playwright; the run resampled {resampled} times.",
        "",
        "| what | measured |", "| --- | --- |",
        f"| SMC run without recording (faster of {args.repeats}) | {plain_s:.2f} s |",
        f"| same run with `record=True` (faster of {args.repeats}, alternated) | {recorded_s:.2f} s "
        f"(ratio {recorded_s / plain_s:.3f}) |",
        f"| history JSON | {json_mb:.2f} MB, saved in {save_s:.2f} s, loaded and checked in {load_s:.2f} s |",
        f"| viewer page (one HTML file) | {html_mb:.2f} MB, written in {html_s:.2f} s |",
        f"| lanes x steps drawn | {page['lanes']} x {page['steps']} |",
        f"| page load to ready, wall (median of {args.loads}) | {statistics.median(page['wall']):.2f} s "
        f"(min {min(page['wall']):.2f}) |",
        f"| page's own time to ready from navigation start (median) | {statistics.median(page['ready']):.2f} s |",
        f"| click a particle: lineage highlighted, its text shown (median) | {statistics.median(page['click']) * 1000:.0f} ms |",
        f"| toggle a filter: lanes and table redrawn (median) | {statistics.median(page['filter']) * 1000:.0f} ms |",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fresh = not args.out.exists()
        with open(args.out, "a", encoding="utf-8") as out:
            if fresh:
                out.write("# Run viewer at scale (benchmarks/viewer_scale.py)\n\n")
            out.write(report + "\n")


if __name__ == "__main__":
    main()
