"""The documentation runs: every page of docs/ is run as one test, its blocks in the order the page shows them:
```python blocks in one namespace, the `ppl ...` lines of ```bash blocks and the `$ ppl ...` lines of ```console
blocks as commands (a console block's printed lines must match), all in a fresh working directory that links
the checkout's top level (examples/, benchmarks/, ...). And the site builds with `mkdocs build --strict`.

A page containing `<!-- docs-test: each block alone -->` runs each python block in a fresh namespace (each is a
whole script). A block preceded by `<!-- skip: REASON -->` is not run; each such block is its own test item that pytest
reports as skipped with REASON (`pytest -rs` lists them)."""
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(`{3,})([\w+-]*)\s*$")
SKIP = re.compile(r"^<!--\s*skip:\s*(.+?)\s*-->$")
RUN_LANGUAGES = ("python", "bash", "console")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a docs page: its language, text, first line and skip reason (None: it runs)."""
    page: str
    language: str
    text: str
    line: int
    skip: str | None

    @property
    def label(self) -> str:
        return f"docs/{self.page}:{self.line}"


SHOWN_LANGUAGES = ("json", "text", "lark", "sql", "")  # shown, never run: data, output, grammars, diagrams


def read_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the `<!-- skip: ... -->` marker on the line before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(DOCS).as_posix()
    blocks, i, previous = [], 0, ""
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, language, start = opening.group(1), opening.group(2), i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            i += 1
        if i == len(lines):
            raise AssertionError(f"docs/{page}:{start}: a ``` block is never closed")
        marker = SKIP.match(previous)
        if previous.startswith("<!--") and "skip" in previous and not marker:
            raise AssertionError(f"docs/{page}:{start - 1}: write a skip marker as <!-- skip: REASON -->")
        blocks.append(Block(page, language, "\n".join(lines[start:i]) + "\n", start, marker and marker.group(1)))
        previous, i = "", i + 1
    return blocks


PAGES = sorted(DOCS.rglob("*.md"))
ALL_BLOCKS = [block for page in PAGES for block in read_blocks(page)]
BLOCKS = [block for block in ALL_BLOCKS if block.language in RUN_LANGUAGES]
SKIPPED = [block for block in BLOCKS if block.skip]


def commands(block: Block) -> list[tuple[str, str | None]]:
    """(command, expected output or None) pairs: `ppl` lines of a bash block (with `\\` continuations), or the
    `$ ppl` lines of a console block with the lines printed after each."""
    logical, current = [], ""
    for line in block.text.splitlines():
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(current)
            current = ""
    if block.language == "bash":
        return [(line.strip(), None) for line in logical if line.strip().startswith("ppl ")]
    pairs: list[tuple[str, list[str]]] = []
    for line in logical:
        if line.startswith("$ "):
            pairs.append((line[2:].strip(), []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(command, "\n".join(output).strip()) for command, output in pairs if command.startswith("ppl ")]


def command_environment(bin_dir: Path) -> dict:
    """An environment whose `ppl` (written to `bin_dir`) is this checkout's command line, run by this interpreter."""
    bin_dir.mkdir()
    script = bin_dir / "ppl"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom frontend.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                OMP_NUM_THREADS="1", MPLBACKEND="Agg")


def page_directory(directory: Path) -> None:
    """A working directory that shows the repository's top level (examples/, benchmarks/, ...) through links,
    so pages use the paths a reader of a checkout would, and what they write stays out of the checkout."""
    for entry in ROOT.iterdir():
        if entry.name not in (".git", "site"):
            (directory / entry.name).symlink_to(entry)


def run_python(block: Block, namespace: dict) -> None:
    """Execute one block in the page's namespace; a package that is not installed (an optional extra such
    as arviz) skips the page naming it, any other error fails naming the block and showing it."""
    try:
        exec(compile(block.text, block.label, "exec"), namespace)
    except ModuleNotFoundError as error:
        if error.name and (ROOT / error.name.split(".")[0]).exists():
            raise  # one of ours: a bug, not a missing extra
        pytest.skip(f"{block.label} needs the package {error.name!r}, which is not installed")
    except Exception as error:  # name the block and show it
        raise AssertionError(f"{block.label}: {type(error).__name__}: {error}\n"
                             f"{textwrap.indent(block.text, '    ')}") from error


SHELL_SYNTAX = {"|", "||", "&&", ";", ">", ">>", "<", "2>&1", "&"}


def run_ppl(words: list[str]) -> tuple[int, str, str]:
    """`ppl WORDS...` in this process (`frontend.cli.main`): no interpreter start or model load per command
    (loaded models are cached). Its exit status, stdout and stderr."""
    from frontend.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(words[1:])
    return status, out.getvalue(), err.getvalue()


def run_command(command: str, directory: Path, env: dict) -> tuple[int, str]:
    """Run one `ppl ...` line: its exit status and what it printed (stdout, then stderr). The `ppl` command
    runs in this process; what follows a pipe (`ppl ... | python -c ...`) runs in bash, reading its output;
    any other shell syntax runs the whole line in bash, with `ppl` this checkout's console script."""
    head, pipe, rest = command.partition(" | ")
    try:
        head_words = shlex.split(head, comments=True)
    except ValueError:  # " | " inside quotes: leave the line to bash
        head_words = ["|"]
    if SHELL_SYNTAX.isdisjoint(head_words):
        status, out, err = run_ppl(head_words)
        if not pipe or status != 0:
            return status, (out + err).strip()
        done = subprocess.run(["bash", "-o", "pipefail", "-c", rest], cwd=directory, env=env, input=out,
                              capture_output=True, text=True, timeout=300)
        return done.returncode, (done.stdout + err + done.stderr).strip()
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, (done.stdout + done.stderr).strip()


def run_commands(block: Block, directory: Path, env: dict) -> None:
    for command, expected in commands(block):
        status, shown = run_command(command, directory, env)
        if expected is None:
            assert status == 0, f"{block.label}: `{command}` exited {status}:\n{shown}"
        else:
            assert shown == expected, f"{block.label}: `{command}` printed\n{shown}\nthe page shows\n{expected}"


def test_every_page_has_runnable_blocks_or_none_claims_to():
    """The extraction found the blocks (a regression guard for the parser) and every skip names a reason."""
    assert len([b for b in BLOCKS if b.language == "python" and not b.skip]) >= 30
    assert all(len(block.skip) > 8 for block in SKIPPED)
    unknown = [f"{b.label}: ```{b.language}" for b in ALL_BLOCKS if b.language not in RUN_LANGUAGES + SHOWN_LANGUAGES]
    assert not unknown, f"blocks in a language the docs test neither runs nor knows as data: {unknown}"


STANDALONE = "<!-- docs-test: each block alone -->"  # a page whose python blocks are whole scripts: a fresh namespace each
RUN_PAGES = sorted({b.page for b in BLOCKS if not b.skip and (b.language == "python" or commands(b))})


@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_runs(page, tmp_path, monkeypatch):
    """A page's blocks run in the order the page shows them: python blocks in one namespace, `ppl` commands as
    subprocesses (a console block must print what the page shows), all in one working directory, on CPU."""
    directory = tmp_path / "checkout"
    directory.mkdir()
    page_directory(directory)
    env = command_environment(tmp_path / "bin")
    monkeypatch.chdir(directory)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    alone = STANDALONE in (DOCS / page).read_text(encoding="utf-8")
    namespace: dict = {"__name__": "__docs__"}
    for block in (b for b in BLOCKS if b.page == page and not b.skip):
        if block.language == "python":
            run_python(block, {"__name__": "__main__"} if alone else namespace)
        else:
            run_commands(block, directory, env)


@pytest.mark.parametrize("block", SKIPPED, ids=[b.label for b in SKIPPED])
def test_marked_blocks_are_reported(block):
    """Blocks marked `<!-- skip: REASON -->` show up in pytest's skip count, with their reason."""
    pytest.skip(f"{block.label} ({block.language}) not run: {block.skip}")


REPOSITORY_PATH = re.compile(r"`((?:benchmarks|examples|tests|docs|lm|ppl|inference|semantics|constraints|frontend|viewer)"
                             r"/[\w./-]*\w)`")


def test_named_repository_files_exist():
    """Every repository path a page names in backticks (`benchmarks/results/x.md`, `tests/test_x.py`) exists: a
    measured number cites a file that is there. (Links between pages are checked by the strict build.)"""
    missing = [f"docs/{page.relative_to(DOCS).as_posix()}: {path}" for page in PAGES
               for path in sorted(set(REPOSITORY_PATH.findall(page.read_text(encoding="utf-8"))))
               if not (ROOT / path).exists() and "*" not in path]
    assert not missing, "pages name files that do not exist:\n" + "\n".join(missing)


def test_site_builds_without_warnings(tmp_path):
    """`mkdocs build --strict` (every warning an error: broken links, pages left out of the nav, docstrings)."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason='the site needs the docs extra: pip install -e ".[docs]"')
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), NO_MKDOCS_2_WARNING="1"))
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "inference" / "index.html").is_file()
