"""The run viewer in a real browser (headless Chromium through Playwright): what a person sees on the page of a
recorded generation (lanes and steps drawn, samples and probabilities equal to the result's, a click highlights
the lineage, filters hide rows), that generated markup stays text, that the page makes no request beyond its own
file, and that the Jupyter repr shows the same view. Skips naming the package when no browser is installed."""
from __future__ import annotations

import json

import pytest

import lm
from frontend.cli import main
from lm.generation.generation import generate as lm_generation
from tests.browser import OpenedPage, launch, sync_playwright

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]+$", "maxLength": 8},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 99}},
          "required": ["name", "age"], "additionalProperties": False}
ORANGE = (249, 115, 22)  # the selected lineage's colour (viewer.js COLOURS.lineage)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


@pytest.fixture(scope="module")
def generation(builtin):
    result = lm.generate(builtin, "Person: ", json_schema=SCHEMA, particles=8, max_tokens=40, rng=2, record=True)
    assert any(s.resampled for s in result.steps) and len(result.samples) >= 1
    return result


def pixels(page, cells: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The canvas colour at the centre of each (step, lane) cell (the page's geometry, device pixel ratio 1)."""
    return [tuple(rgb) for rgb in page.evaluate("""cells => {
        const c = document.getElementById('lanes'), d = c.dataset, g = c.getContext('2d');
        const cw = +d.cellWidth, ch = +d.cellHeight, left = +d.left, top = +d.top;
        return cells.map(([t, i]) => Array.from(g.getImageData(Math.floor(left + t * cw + cw / 2),
                                                              Math.floor(top + i * ch + ch / 2), 1, 1).data.slice(0, 3)));
    }""", [list(c) for c in cells])]


def click_cell(page, step: int, lane: int) -> None:
    canvas = page.locator("#lanes")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    geometry = {k: int(canvas.get_attribute(f"data-{k}")) for k in ("cell-width", "cell-height", "left", "top")}
    page.mouse.click(box["x"] + geometry["left"] + step * geometry["cell-width"] + geometry["cell-width"] / 2,
                     box["y"] + geometry["top"] + lane * geometry["cell-height"] + geometry["cell-height"] / 2)


def test_page_shows_the_run_and_a_click_highlights_a_lineage(browser, generation, tmp_path):
    history = generation.history
    path = tmp_path / "run.html"
    generation.save_html(str(path))
    opened = OpenedPage(browser, path)
    page = opened.page
    opened.wait_ready()
    steps = len(history.steps)
    # Lanes and steps: as the caption says, as the canvas is laid out, and every cell painted.
    canvas = page.locator("#lanes")
    assert (canvas.get_attribute("data-lanes"), canvas.get_attribute("data-steps")) == ("8", str(steps))
    assert page.text_content("#lanes-caption").startswith(f"8 lanes (particle index) × {steps} steps")
    painted = pixels(page, [(t, i) for t in range(steps) for i in range(len(history.steps[t]))])
    assert all(rgb != (255, 255, 255) for rgb in painted)
    assert page.locator("#ess-chart polyline.ess").get_attribute("data-points") == str(steps)
    # The samples and their probabilities are the result's.
    rows = page.locator("#samples tr.sample")
    assert rows.count() == len(generation.samples)
    for k, sample in enumerate(generation.samples):
        assert rows.nth(k).locator("code").text_content() == sample.value
        cell = rows.nth(k).locator("td.probability")
        assert float(cell.get_attribute("data-probability")) == sample.probability
        assert cell.text_content() == f"{sample.probability:.4f}"
    # A click on the last step's lane 5 selects it: its lineage drawn in orange, its text shown token by token.
    last, lane = steps - 1, 5
    lineage = history.lineage(last, lane)
    assert len(set(lineage)) > 1, "the test wants a lineage that crosses lanes"
    assert ORANGE not in pixels(page, list(enumerate(lineage)))
    click_cell(page, last, lane)
    assert json.loads(page.locator("#selection").get_attribute("data-lineage")) == lineage
    assert pixels(page, list(enumerate(lineage))[:-1]) == [ORANGE] * (len(lineage) - 1)
    tokens = page.locator("#particle-text span.token")
    ended = next(t for t, j in enumerate(lineage) if history.steps[t].finished[j])  # the EOS step: its token is empty
    assert tokens.all_text_contents() == history.pieces(last, lane)[:ended + 1]
    assert "".join(tokens.all_text_contents()) == generation.particles[lane].trace.output
    assert page.locator("#final-particles tr.selected").get_attribute("data-lane") == str(lane)
    assert opened.errors == []
    assert opened.requests == [path.resolve().as_uri()]  # nothing fetched: no network, no CDN
    opened.close()


def test_filters_hide_dead_particles(browser, builtin, tmp_path):
    # Sample-then-filter without the token budget: particles die of a digit (constraint) or of max_tokens.
    result = lm_generation(builtin, "Name: ", lm.constraints.regex("[^0-9]*"), particles=12, max_tokens=30,
                           method="rerank", rng=0, record=True, budget=False)
    last = result.history.steps[-1]
    states = [last.state(i) for i in range(len(last))]
    assert 0 < states.count("dead") < len(states), "the test wants dead and live particles at the end"
    assert {"constraint", "max_tokens"} <= set(last.causes)
    path = tmp_path / "rerank.html"
    result.save_html(str(path))
    opened = OpenedPage(browser, path)
    page = opened.page
    opened.wait_ready()
    rows = page.locator("#final-particles tr.particle:not([hidden])")
    assert rows.count() == len(states)
    page.locator("input[name=state-dead]").uncheck()
    assert rows.count() == len(states) - states.count("dead")
    assert page.locator("#final-particles tr.particle:not([hidden])[data-state=dead]").count() == 0
    page.locator("input[name=state-dead]").check()
    page.locator("input[name=cause-constraint]").uncheck()
    assert rows.count() == len(states) - sum(last.causes[i] == "constraint" for i in range(len(last)))
    dead_now = [(t, i) for t, s in enumerate(result.history.steps) for i in range(len(s))
                if s.causes[i] == "constraint"]
    assert set(pixels(page, dead_now)) == {(243, 244, 246)}  # filtered cells are drawn blank grey
    assert opened.errors == []
    opened.close()


def test_generated_markup_is_shown_as_text_never_run(browser, builtin, tmp_path):
    text = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    pattern = text.replace(".", r"\.")
    result = lm.generate(builtin, "Page: ", regex=pattern, particles=2, max_tokens=64, rng=0, record=True)
    assert result.text == text
    path = tmp_path / "markup.html"
    result.save_html(str(path), title='</title><script>window.pwned=3</script>')
    opened = OpenedPage(browser, path)
    page = opened.page
    opened.wait_ready()
    assert page.evaluate("window.pwned") is None
    assert page.locator("#samples code").first.text_content() == text
    assert page.title() == '</title><script>window.pwned=3</script>'
    assert page.locator("img").count() == 0 and page.locator("script").count() == 2  # the data block and the viewer
    click_cell(page, len(result.history.steps) - 1, 0)
    written = result.particles[0].trace.output  # token healing's owed space, then the markup
    assert written == result.healed.decode() + text
    assert "".join(page.locator("#particle-text span.token").all_text_contents()) == written
    assert opened.errors == [] and opened.requests == [path.resolve().as_uri()]
    opened.close()


def test_jupyter_repr_and_ppl_view_show_the_same_view(browser, generation, tmp_path, capsys):
    opened = OpenedPage(browser, html=generation._repr_html_())
    frame = opened.page.frame_locator("iframe.ppl-run-viewer")
    opened.wait_ready(frame)
    assert frame.locator("#samples tr.sample").count() == len(generation.samples)
    assert frame.locator("#lanes").get_attribute("data-steps") == str(len(generation.history.steps))
    assert opened.errors == []
    opened.close()
    saved = tmp_path / "run.json"
    generation.history.save(str(saved))
    assert main(["view", str(saved)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "run.html")
    opened = OpenedPage(browser, tmp_path / "run.html")
    opened.wait_ready()
    assert opened.page.locator("#final-particles tr.particle").count() == 8
    assert opened.errors == []
    opened.close()
