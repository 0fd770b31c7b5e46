"""`ppl batch`: run every line of a JSONL file through `lm.batch`, in-process or on Ray, and say what it did.

Input problems (a malformed line, an output file of another job) are one-line usage errors
(exit 2) before any line runs; a line whose constraint is invalid is that line's error record.
Ctrl-C stops the job (exit 130): the finished groups are in OUT.jsonl and the same command resumes.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from frontend.failures import EXIT_INTERRUPTED, BadInput


@dataclass(frozen=True)
class BatchOptions:
    """Everything `ppl batch` was asked to do, checked by the command line."""

    input: Path
    out: Path
    overwrite: bool = False
    model: str = "builtin"
    particles: int = 8
    method: str = "smc"
    max_tokens: int = 128
    temperature: float = 1.0
    seed: int = 0
    group_size: int = 8
    ray: bool = False
    address: str | None = None
    actors: int = 1
    cpus_per_actor: float = 1.0
    gpus_per_actor: float | None = None
    threads: int = 1
    debug: bool = False


def run_batch(options: BatchOptions) -> int:
    """Run the job; returns the exit code (0 once every line has a record, 130 on Ctrl-C)."""
    if options.ray and importlib.util.find_spec("ray") is None:
        raise BadInput('--ray: Ray is not installed; pip install "ppl-smc[ray]" (or pip install "ray[data]")')
    if not options.input.is_file():
        raise BadInput(f"{options.input}: no such file; give a JSONL file, one JSON object per line")
    if options.input.resolve() == options.out.resolve():
        raise BadInput(f"--out {options.out}: the input file itself; give another path")
    import lm
    from lm.jobs import BatchInputError, OutputConflict

    if not options.debug:
        from transformers.utils import logging

        logging.set_verbosity_error()
    bar = _progress()
    try:
        summary = lm.batch(
            options.input, options.out, model=options.model, seed=options.seed, particles=options.particles,
            max_tokens=options.max_tokens, method=options.method, temperature=options.temperature,
            group_size=options.group_size, threads=options.threads, ray=options.ray, address=options.address,
            actors=options.actors, cpus_per_actor=options.cpus_per_actor, gpus_per_actor=options.gpus_per_actor,
            overwrite=options.overwrite, on_records=None if bar is None else (lambda records: bar.update(len(records))))
    except (BatchInputError, OutputConflict) as e:
        raise BadInput(str(e)) from None
    except ValueError as e:  # job settings the cluster cannot meet (lines' own errors are their records)
        raise BadInput(str(e).removeprefix("batch: ")) from None
    except lm.LMError as e:
        raise BadInput(f"--model {options.model}: {e}") from None
    except KeyboardInterrupt:
        click.echo(f"ppl batch: interrupted; the finished lines are in {options.out}: run the same command to "
                   "resume", err=True)
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"ppl batch: {summary}", err=True)
    return 0


def _progress():
    """A tqdm bar of finished lines on a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit="line", desc="ppl batch", file=sys.stderr)
