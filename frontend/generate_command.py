"""`ppl generate`: load a model, generate under the constraint, print the samples (or one JSON object).

The order keeps failures cheap: options and constraint files are checked before any heavy import,
the prompt's length against the window right after the load, and only then does generation start.
Only torch and transformers are imported (through `lm`), never JAX.
"""
from __future__ import annotations

import functools
import inspect
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from frontend.constraint_options import ConstraintSpec, build_constraint
from frontend.failures import EXIT_INTERRUPTED, EXIT_RUNTIME, BadInput
from frontend.plot import check_plot_path, write_plot
from frontend.progress import ProgressBar
from frontend.report import Timings, dumps, sample_lines, summary_line, to_json
from frontend.run_files import HTML_SUFFIXES, JSON_SUFFIXES, check_output_path, write_run_files

MODEL_HELP = "'builtin', 'smollm2', a .gguf file or a local Hugging Face model directory"


@dataclass(frozen=True)
class GenerateOptions:
    """Everything `ppl generate` was asked to do, checked by the command line."""

    prompt: str
    model: str = "builtin"
    constraint: ConstraintSpec | None = None
    chat: bool = False
    particles: int = 8
    method: str = "smc"
    max_tokens: int = 128
    temperature: float = 1.0
    seed: int = 0
    allow_extra_keys: bool = False
    threads: int | None = None
    json: bool = False
    plot: Path | None = None
    html: Path | None = None
    history: Path | None = None
    progress: bool | None = None
    debug: bool = False


def run_generate(options: GenerateOptions) -> int:
    """Run the job; returns the exit code (0, 1 when every particle died, 130 on Ctrl-C)."""
    if options.plot is not None:
        check_plot_path(options.plot)
    if options.html is not None:
        check_output_path("--html", options.html, HTML_SUFFIXES)
    if options.history is not None:
        check_output_path("--history", options.history, JSON_SUFFIXES)
    constraint = build_constraint(options.constraint, options.allow_extra_keys)
    start = time.perf_counter()
    import lm  # torch and transformers: the one heavy import
    imported = time.perf_counter()
    if not options.debug:
        _quiet_transformers(show_progress=options.progress if options.progress is not None else sys.stderr.isatty())
    llm = _load(lm, options)
    prompt = _chat_prompt(llm, options.prompt) if options.chat else options.prompt
    _check_window(llm, prompt, options)
    loaded = time.perf_counter()
    progress = ProgressBar(options.max_tokens + 1, options.particles, options.progress)
    interrupted = False
    try:
        result = _generate(llm, prompt, constraint, options, progress.on_step)
    except KeyboardInterrupt as stop:  # inference.Interrupted carries the population so far
        partial, interrupted = getattr(stop, "result", None), True
        result = None if partial is None else _texts_so_far(partial)
    finally:
        progress.close()
    timings = Timings(imported - start, loaded - start, time.perf_counter() - loaded)
    if result is None:
        click.echo("ppl generate: interrupted before the first step finished; no samples", err=True)
        return EXIT_INTERRUPTED
    _print(result, prompt, options, timings, interrupted)
    if options.plot is not None:
        write_plot(result, options.plot, options.particles, f"ppl generate, {options.method}, {options.model}")
    if options.html is not None or options.history is not None:
        spec = options.constraint
        write_run_files(result, html=options.html, history=options.history, title=f"ppl generate: {options.model}",
                        meta={"prompt": prompt, "constraint": "none" if spec is None else f"{spec.kind}: {spec.source}"})
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_RUNTIME if result.all_dead else 0


def _generate(llm: Any, prompt: str, constraint: Any, options: GenerateOptions, on_step: Callable) -> Any:
    """The engine call: the one-call API `lm.generate` (token healing) where it exists, else lm.generation's."""
    import lm

    kwargs: dict[str, Any] = dict(particles=options.particles, method=options.method, max_tokens=options.max_tokens,
                                  rng=options.seed, temperature=options.temperature)
    if hasattr(lm, "generate"):
        run, kwargs["constraint"] = lm.generate, constraint
    else:
        from lm.generation import generate

        run = functools.partial(generate, constraint=constraint)
    if "on_step" in inspect.signature(run).parameters:
        kwargs["on_step"] = on_step
    if options.html is not None or options.history is not None:
        kwargs["record"] = True
    return run(llm, prompt, **kwargs)


def _texts_so_far(partial: Any) -> Any:
    """The engine's population at Ctrl-C (`inference.Interrupted.result`), read as text: each particle's output so far."""
    from inference import Result

    return Result(partial.particles, partial.log_ml, message="interrupted: the particles' text so far",
                  steps=partial.steps, output=lambda particle: getattr(particle, "output", particle),
                  history=partial.recorded)


def _quiet_transformers(show_progress: bool) -> None:
    """Errors only from transformers' logger (its warnings, e.g. a prompt longer than the window, would add lines to
    what the command line reports in one), and its loading bars (a GGUF's first dequantization) only with ours."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    if not show_progress:
        logging.disable_progress_bar()


def _load(lm: Any, options: GenerateOptions) -> Any:
    threads = {} if options.threads is None else {"threads": options.threads}
    try:
        return lm.load(options.model, **threads)
    except (lm.LMError, ValueError, OSError, ImportError) as e:
        raise BadInput(f"--model {options.model}: {e}; give {MODEL_HELP}") from None


def _chat_prompt(llm: Any, prompt: str) -> str:
    chat = getattr(llm, "chat", None)
    if chat is None:
        raise BadInput("--chat: this version of lm cannot apply chat templates; drop --chat and give the "
                               "prompt as the model should see it")
    import lm

    try:
        return chat([{"role": "user", "content": prompt}])
    except (lm.LMError, ValueError) as e:  # no chat template, or one that refuses the message
        raise BadInput(f"--chat: {e}; drop --chat to send the prompt as it is") from None


def _check_window(llm: Any, prompt: str, options: GenerateOptions) -> None:
    """BadInput unless the prompt's tokens plus --max-tokens fit the model's context window."""
    import lm

    try:
        length = len(llm.prompt_ids(prompt))
    except lm.ContextWindowError as e:
        raise BadInput(f"{e}; shorten the prompt") from None
    if length + options.max_tokens > llm.window:
        room = llm.window - length
        raise BadInput(
            f"the prompt is {length} token{'s' if length != 1 else ''} and --max-tokens is {options.max_tokens}: {length + options.max_tokens} "
            f"tokens exceed the model's context window of {llm.window}; lower --max-tokens to at most {room} "
            "or shorten the prompt")


def _print(result: Any, prompt: str, options: GenerateOptions, timings: Timings, interrupted: bool) -> None:
    if options.json:
        run = {"prompt": prompt, "model": options.model, "method": options.method, "particles": options.particles,
               "max_tokens": options.max_tokens, "temperature": options.temperature, "seed": options.seed,
               "constraint": None if options.constraint is None else options.constraint.describe()}
        click.echo(dumps(to_json(result, run=run, timings=timings, interrupted=interrupted)))
        return
    if interrupted:
        click.echo(f"ppl generate: interrupted after {len(result.steps)} steps; the particles' text so far, "
                   "most probable first:", err=True)
    if result.all_dead:
        click.echo(f"ppl generate: error: no sample: {result.message}; try a larger --max-tokens, more --particles "
                   "or a looser constraint", err=True)
    for line in sample_lines(result):
        click.echo(line)
    click.echo(summary_line(result, options.particles, timings), err=True)
