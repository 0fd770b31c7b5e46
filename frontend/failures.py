"""One-line errors: what went wrong and how to fix it, with a traceback only under --debug.

Usage errors (what was typed: an option, a file it names, a constraint, a model, a prompt too long
for the window) are `click.UsageError` and exit 2; a run that fails exits 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import click

EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class BadInput(click.UsageError):
    """A usage error (exit 2) whose message already says how to fix it."""


class RunFailed(click.ClickException):
    """The run itself failed (exit 1): no valid sample, or an unexpected error."""

    exit_code = EXIT_RUNTIME


@contextlib.contextmanager
def one_line_errors(debug: bool) -> Iterator[None]:
    """Turn an unexpected exception into a one-line RunFailed, unless `debug` asks for its traceback."""
    try:
        yield
    except click.UsageError as e:
        if e.ctx is None:  # raised by our code, not by click's parser: name the command it came from
            e.ctx = click.get_current_context(silent=True)
        raise
    except (click.ClickException, KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        if debug:
            raise
        raise RunFailed(f"{type(e).__name__}: {e} (rerun with --debug for the traceback)") from e


def error_line(command_path: str, message: str) -> str:
    """The line printed for an error: `ppl generate: error: <message>`."""
    return f"{command_path}: error: {' '.join(message.split())}"
