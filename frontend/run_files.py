"""The run viewer on the command line: `ppl generate --html/--history` and `ppl view RUN.json [-o OUT.html]`.

A recorded generation writes its history as JSON (`--history`, inference/history/json_format.py)
and/or as the self-contained viewer page (`--html`, viewer/). `ppl view` turns a saved history
into the page; a file that is not one (truncated, foreign, another version) is a one-line
usage error naming the file and the field.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from frontend.failures import BadInput

HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json",)


def check_output_path(option: str, path: Path, suffixes: tuple[str, ...]) -> None:
    """BadInput before any work unless `path` can be written: its folder exists and its suffix fits."""
    if not path.parent.is_dir():
        raise BadInput(f"{option} {path}: the directory {path.parent} does not exist; create it or write elsewhere")
    if path.suffix.lower() not in suffixes:
        raise BadInput(f"{option} {path}: name a {' or '.join(suffixes)} file")


def write_run_files(result: Any, *, html: Path | None, history: Path | None, meta: dict, title: str) -> None:
    """Write the recorded run's page and/or JSON history, `meta` (prompt, constraint, ...) added to its header."""
    recorded = getattr(result, "history", None)
    if recorded is None:
        raise BadInput("--html/--history: this run recorded no history (the engine did not support record=True)")
    recorded = dataclasses.replace(recorded, meta={**recorded.meta, **{k: str(v) for k, v in meta.items()}})
    if history is not None:
        recorded.save(str(history))
    if html is not None:
        recorded.save_html(str(html), title=title)


def run_view(source: Path, output: Path | None) -> int:
    """`ppl view`: read the history in `source`, write the page to `output` (default: beside it, .html)."""
    from inference.history import HistoryFormatError, load

    target = output if output is not None else source.with_suffix(".html")
    check_output_path("-o" if output is not None else "output", target, HTML_SUFFIXES)
    if target.resolve() == source.resolve():
        raise BadInput(f"{source}: the page would overwrite the history; name another file with -o OUT.html")
    try:
        history = load(str(source))
    except FileNotFoundError:
        raise BadInput(f"{source}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{source}: is a directory, not a run history file") from None
    except UnicodeDecodeError:
        raise BadInput(f"{source}: not UTF-8 text, so not a run history (JSON)") from None
    except HistoryFormatError as e:
        raise BadInput(f"{source}: {e}") from None
    except OSError as e:
        raise BadInput(f"{source}: {e.strerror or e}") from None
    history.save_html(str(target), title=f"SMC run: {source.name}")
    click.echo(str(target))
    return 0
