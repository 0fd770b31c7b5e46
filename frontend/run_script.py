"""`ppl run SCRIPT.py [ARGS]...`: run a user's program as `python SCRIPT.py ARGS...` would, in this process."""
from __future__ import annotations

import runpy
import sys
import traceback
from pathlib import Path
from typing import Sequence

from frontend.failures import EXIT_RUNTIME, BadInput


def run_script(script: Path, args: Sequence[str]) -> int:
    """Run `script` as __main__ with sys.argv = [script, *args] and its folder first on sys.path.

    Returns its exit status: SystemExit's code, 0 when it returns, 1 after printing the traceback
    of an exception it raised (its own frames only, as python prints them).
    """
    if not script.is_file():
        raise BadInput(f"{script}: no such file; give the path of a Python program")
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return _exit_status(e.code)
    except Exception as e:
        _print_user_traceback(e, script)
        return EXIT_RUNTIME
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"), as python does
    return 1


def _print_user_traceback(error: BaseException, script: Path) -> None:
    """The traceback from the script's first frame on (runpy's and ours left out)."""
    tb = error.__traceback__
    target = str(script.resolve())
    while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()) != target:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__, file=sys.stderr)
