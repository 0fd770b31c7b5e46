"""`ppl generate --html/--history` and `ppl view`: the files a recorded run writes, and one-line errors (exit 2) that
name the file and the field for truncated, foreign or edited histories."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from frontend.cli import main
from inference.history import load, to_json

ROOT = Path(__file__).resolve().parents[1]
PERSON = ROOT / "examples" / "person.json"


def one_line_error(capsys, argv: list[str], command: str) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A `ppl generate` run on the built-in model writing both files."""
    folder = tmp_path_factory.mktemp("run")
    html, history = folder / "run.html", folder / "run.json"
    assert main(["generate", "Person: ", "--json-schema", str(PERSON), "--particles", "4", "--max-tokens", "48",
                 "--html", str(html), "--history", str(history), "--no-progress"]) == 0
    return html, history


def test_generate_writes_the_page_and_the_history(recorded):
    html, history = recorded
    run = load(str(history))
    assert run.particles == 4 and run.steps and run.samples
    assert run.meta["prompt"] == "Person: " and run.meta["constraint"].startswith("json_schema: ")
    page = html.read_text()
    tag = '<script type="application/json" id="run-history">'
    start = page.index(tag) + len(tag)
    assert page.startswith("<!DOCTYPE html>") and json.loads(page[start:page.index("</script>", start)]) == to_json(run)


def test_view_writes_beside_the_history_or_where_asked(recorded, tmp_path, capsys):
    _, history = recorded
    target = tmp_path / "out.html"
    assert main(["view", str(history), "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert '"format":"ppl-smc run history"' in target.read_text()
    copy = tmp_path / "copy.json"
    copy.write_text(history.read_text())
    assert main(["view", str(copy)]) == 0
    assert (tmp_path / "copy.html").is_file()


def test_view_errors_name_the_file_and_the_field(recorded, tmp_path, capsys):
    _, history = recorded
    text = history.read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[:text.index('"log_weights"', text.index('"steps"')) + 30])
    line = one_line_error(capsys, ["view", str(cut)], "ppl view")
    assert str(cut) in line and "truncated" in line and "in field steps[0].log_weights" in line
    foreign = tmp_path / "package.json"
    foreign.write_text(json.dumps({"name": "left-pad", "version": "1.3.0"}))
    line = one_line_error(capsys, ["view", str(foreign)], "ppl view")
    assert str(foreign) in line and "field format is missing" in line and "not a run history" in line
    edited = tmp_path / "edited.json"
    document = json.loads(text)
    document["steps"][1]["causes"][0] = None
    edited.write_text(json.dumps(document))
    line = one_line_error(capsys, ["view", str(edited)], "ppl view")
    assert str(edited) in line and "field steps[1].causes[0] is a JSON null" in line
    line = one_line_error(capsys, ["view", str(tmp_path / "missing.json")], "ppl view")
    assert "missing.json: no such file" in line


def test_generate_checks_the_output_paths_first(tmp_path, capsys):
    line = one_line_error(capsys, ["generate", "P: ", "--html", str(tmp_path / "no" / "run.html")], "ppl generate")
    assert "--html" in line and "does not exist" in line
    line = one_line_error(capsys, ["generate", "P: ", "--history", str(tmp_path / "run.txt")], "ppl generate")
    assert "--history" in line and ".json" in line
