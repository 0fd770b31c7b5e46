"""Headless Chromium for tests: Playwright driving the system's browser (Debian's `chromium` package).

`browser()` skips with a reason naming what to install when the Python driver or the browser is
missing (`playwright install` is never needed: the system browser is used). `open_page` loads a
file and waits until the viewer says it is ready, collecting console errors and every request.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The system's Chromium (or Chrome) executable, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def launch(playwright):
    """A headless Chromium from the system, or skip naming the package to install."""
    path = chromium_path()
    if path is None:
        pytest.skip("needs a Chromium browser: apt-get install chromium (Debian's package; no `playwright install`)")
    return playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])


def sync_playwright():
    """Playwright's sync API entry point, or skip naming the Python package to install."""
    module = pytest.importorskip("playwright.sync_api", reason="needs the playwright package: pip install playwright "
                                                               "(it drives the system's chromium)")
    return module.sync_playwright()


class OpenedPage:
    """A page opened on a file, with what it logged: console errors, uncaught exceptions and requests."""

    def __init__(self, browser, path: Path | None = None, *, html: str | None = None, width: int = 1280):
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        if path is not None:
            self.page.goto(path.resolve().as_uri())
        else:
            self.page.set_content(html)

    def wait_ready(self, frame=None) -> None:
        (frame or self.page).locator("body[data-ready]").wait_for(state="attached", timeout=30_000)
        assert (frame or self.page).locator("body").get_attribute("data-ready") == "true", self.errors

    def close(self) -> None:
        self.page.close()
