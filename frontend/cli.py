"""The `ppl` command line: constrained generation on a local model, running programs, and a demo.

    ppl generate "Person: " --json-schema examples/person.json     # offline, built-in model
    ppl generate "Code: " --regex "[A-Z]{3}-[0-9]{4}" --json       # one JSON object on stdout
    ppl generate "SQL: " --sql db.sqlite --model smollm2 --chat --plot run.png
    ppl batch prompts.jsonl --out results.jsonl --ray --actors 4
    ppl generate "Person: " --json-schema examples/person.json --html run.html
    ppl view run.json -o run.html                                  # a saved run history as a page
    ppl run my_program.py --its-own-flags
    ppl demo

Errors are one line (problem and fix; --debug for the traceback); exit status 2 for usage
errors, 1 for a failed run, 130 for Ctrl-C. Only click is imported until a command runs, and a
generation job never imports JAX (docs/cli.md).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Sequence

import click

from frontend.failures import EXIT_INTERRUPTED, EXIT_USAGE, BadInput, error_line, one_line_errors

_DEBUG = click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
_THREADS = click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="CPU threads for torch (default: 1).")


def _version() -> str:
    from ppl import __version__

    return __version__


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"ppl {_version()}")
        ctx.exit(0)


def _finite_positive(_ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} is not a positive finite number (1.0 samples the model as it is)",
                                 param=param)
    return value


_EXAMPLES = "\b\nExamples:\n" + __doc__.split("\n\n")[1]  # \b: click keeps the lines as they are


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, help=__doc__.split("\n\n")[0],
             epilog=_EXAMPLES)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print the version and exit.")
def cli() -> None:
    pass


@cli.command(epilog=_EXAMPLES)
@click.argument("prompt", required=False)
@click.option("--prompt", "prompt_option", metavar="TEXT", help="The prompt (same as the PROMPT argument).")
@click.option("--json-schema", "--schema", "json_schema", metavar="FILE", help="A JSON Schema file the output must satisfy.")
@click.option("--allow-extra-keys", is_flag=True,
              help="With --json-schema: objects may take keys the schema does not list (by default they may not, "
                   "as in Outlines and XGrammar).")
@click.option("--regex", metavar="R", help="A regular expression the whole output must match.")
@click.option("--grammar", metavar="FILE.lark", help="A Lark grammar file the output must parse with.")
@click.option("--sql", metavar="DB.sqlite", help="A sqlite database: the output is a SELECT query over its schema.")
@click.option("--model", default="builtin", show_default=True,
              help="'builtin', 'smollm2', a .gguf file, or a local Hugging Face model directory.")
@click.option("--chat", is_flag=True, help="Wrap the prompt as a user message in the model's chat template.")
@click.option("--particles", type=click.IntRange(min=1), default=8, show_default=True, help="Number of particles N.")
@click.option("--method", type=click.Choice(["smc", "lcd", "rerank"]), default="smc", show_default=True,
              help="smc: SMC with AWRS (the conditioned distribution); lcd: token masking; rerank: sample, then filter.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=128, show_default=True,
              help="Most tokens generated per particle.")
@click.option("--temperature", type=float, default=1.0, show_default=True, callback=_finite_positive,
              help="Sampling temperature (> 0).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed (>= 0).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout (docs/cli.md).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.png",
              help="Write ESS and particle weights over the steps as a figure.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.html",
              help="Record the run and write its viewer: one self-contained HTML page (docs/viewer.md).")
@click.option("--history", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.json",
              help="Record the run and write its history as JSON (for `ppl view`).")
@click.option("--progress/--no-progress", default=None,
              help="Show the progress bar (default: on a terminal, for runs over a second).")
@_THREADS
@_DEBUG
def generate(prompt: str | None, prompt_option: str | None, json_schema: str | None, allow_extra_keys: bool,
             regex: str | None, grammar: str | None, sql: str | None, model: str, chat: bool, particles: int,
             method: str, max_tokens: int, temperature: float, seed: int, as_json: bool, plot: Path | None,
             html: Path | None, history: Path | None, progress: bool | None, threads: int | None, debug: bool) -> int:
    """Generate text under a constraint.

    Continues PROMPT with the model, under at most one constraint, and prints the distinct
    samples with their posterior probabilities (or one JSON object with --json)."""
    with one_line_errors(debug):
        if (prompt is None) == (prompt_option is None):
            raise BadInput("give the prompt once: as the PROMPT argument or with --prompt")
        from frontend.constraint_options import read_constraint
        from frontend.generate_command import GenerateOptions, run_generate

        options = GenerateOptions(
            prompt=prompt if prompt is not None else prompt_option, model=model, chat=chat,
            constraint=read_constraint(json_schema, regex, grammar, sql), allow_extra_keys=allow_extra_keys,
            particles=particles, method=method, max_tokens=max_tokens, temperature=temperature, seed=seed,
            threads=threads, json=as_json, plot=plot, html=html, history=history, progress=progress, debug=debug)
        return run_generate(options)


@cli.command(epilog=_EXAMPLES)
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.jsonl",
              help="Where the records go; an existing file is resumed (its finished lines are kept).")
@click.option("--overwrite", is_flag=True, help="Start OUT.jsonl afresh instead of resuming it.")
@click.option("--model", default="builtin", show_default=True,
              help="'builtin', 'smollm2', a .gguf file, or a local Hugging Face model directory (on every worker).")
@click.option("--particles", type=click.IntRange(min=1), default=8, show_default=True, help="Default particles per line.")
@click.option("--method", type=click.Choice(["smc", "lcd", "rerank"]), default="smc", show_default=True,
              help="Default method per line.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=128, show_default=True,
              help="Default most tokens per particle.")
@click.option("--temperature", type=float, default=1.0, show_default=True, callback=_finite_positive,
              help="Default sampling temperature (> 0).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Job seed: each line's seed is a hash of it and the line's index (unless the line gives one).")
@click.option("--group-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Lines run together on one model replica, sharing forward passes.")
@click.option("--ray", "use_ray", is_flag=True, help="Run on Ray (the `ray` extra): a local cluster unless --address.")
@click.option("--address", metavar="ADDR", help="A running Ray cluster to run on ('auto': RAY_ADDRESS); implies --ray.")
@click.option("--actors", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --ray: model replicas (Ray actors).")
@click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="With --ray: CPUs each actor reserves.")
@click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=None,
              help="With --ray: GPUs each actor reserves (default: 1 where the cluster has GPUs, else 0).")
@_THREADS
@_DEBUG
def batch(input_path: Path, out: Path, overwrite: bool, model: str, particles: int, method: str, max_tokens: int,
          temperature: float, seed: int, group_size: int, use_ray: bool, address: str | None, actors: int,
          cpus_per_actor: float, gpus_per_actor: float | None, threads: int | None, debug: bool) -> int:
    """Run many prompts from a JSONL file.

    Each line of INPUT.jsonl is a prompt (or chat messages) with at most one constraint and its
    own settings; each line of OUT.jsonl is that line's samples with probabilities, log-ML and
    ESS, or its error (docs/batch.md). The options are the defaults lines can override."""
    with one_line_errors(debug):
        from frontend.batch_command import BatchOptions, run_batch

        options = BatchOptions(
            input=input_path, out=out, overwrite=overwrite, model=model, particles=particles, method=method,
            max_tokens=max_tokens, temperature=temperature, seed=seed, group_size=group_size,
            ray=use_ray or address is not None, address=address, actors=actors, cpus_per_actor=cpus_per_actor,
            gpus_per_actor=gpus_per_actor, threads=threads if threads is not None else 1, debug=debug)
        return run_batch(options)
@cli.command()
@click.argument("run_json", metavar="RUN.json", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.html",
              help="Where to write the page (default: RUN.html beside RUN.json).")
@_DEBUG
def view(run_json: Path, output: Path | None, debug: bool) -> int:
    """Write the viewer page of a recorded run.

    Reads RUN.json (a run history: `ppl generate --history`, or `result.history.save` in Python) and
    writes one self-contained HTML file that opens from file://; prints its path."""
    with one_line_errors(debug):
        from frontend.run_files import run_view

        return run_view(run_json, output)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("script", type=click.Path(path_type=Path))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(script: Path, args: tuple[str, ...]) -> int:
    """Run a Python program with this project importable.

    Runs SCRIPT with its ARGS as `python SCRIPT ARGS` would; its exit status is the program's."""
    with one_line_errors(debug=False):
        from frontend.run_script import run_script

        return run_script(script, args)


@cli.command()
@click.option("--particles", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@_THREADS
@_DEBUG
def demo(particles: int, seed: int, threads: int | None, debug: bool) -> int:
    """Run the whole stack offline on the built-in model.

    Exact vs approximate inference on a small program, then JSON generation with SMC + AWRS and
    with token masking."""
    with one_line_errors(debug):
        from frontend.demo import run_demo

        return run_demo(particles=particles, seed=seed, threads=threads)


def main(argv: Sequence[str] | None = None) -> int:
    """The `ppl` console script: runs the command line and returns its exit status (never a traceback unless --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = cli.main(args=args, prog_name="ppl", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # `ppl` alone: its help, as click prints it
        click.echo(e.ctx.get_help())
        return EXIT_USAGE
    except click.ClickException as e:
        command = e.ctx.command_path if isinstance(e, click.UsageError) and e.ctx is not None else "ppl"
        hint = "" if isinstance(e, BadInput) or not isinstance(e, click.UsageError) else f" (see '{command} --help')"
        click.echo(error_line(command, e.format_message()) + hint, err=True)
        return e.exit_code
    except (KeyboardInterrupt, click.Abort):
        click.echo("ppl: interrupted", err=True)
        return EXIT_INTERRUPTED
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
