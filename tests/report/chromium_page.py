"""Test helper: open local HTML pages in headless Chromium and say what went wrong.

Playwright drives the system Chromium (`executable_path`); `playwright install` and its CDN are
never needed. The binary is $GENZOO_CHROMIUM or the first of chromium, chromium-browser,
google-chrome, google-chrome-stable on PATH. Not library code: only the report tests use it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# What the page tells about itself once loaded: every <img> and whether it decoded, every <table>.
_INSPECT = """() => ({
  images: Array.from(document.images).map(i => ({src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0})),
  tables: Array.from(document.querySelectorAll('table')).map(t => ({cls: t.className, rows: t.rows.length})),
  title: document.title,
})"""


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    configured = os.environ.get("GENZOO_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return next((path for path in map(shutil.which, BINARIES) if path), None)


def why_unavailable() -> str | None:
    """Why pages cannot be rendered here (a skip reason), or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if find_chromium() is None and os.environ.get("GENZOO_CHROMIUM"):
        return f"$GENZOO_CHROMIUM={os.environ['GENZOO_CHROMIUM']} is not a file or a command on PATH"
    if find_chromium() is None:
        return f"no Chromium binary: set $GENZOO_CHROMIUM or install one of {', '.join(BINARIES)} (Debian: apt-get install chromium)"
    return None


@dataclass
class PageCheck:
    """What rendering one page showed: errors, images, tables and the screenshot written."""

    errors: list[str]  # console errors, uncaught exceptions, failed requests
    images: list[dict[str, Any]]  # {"src", "loaded"} per <img>
    tables: list[dict[str, Any]]  # {"cls", "rows"} per <table>
    title: str
    screenshot: Path
    broken_images: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.broken_images = [image["src"] for image in self.images if not image["loaded"]]


def pixel_spread(png: Path) -> tuple[int, int, float]:
    """(width, height, standard deviation of the gray levels) of a screenshot; a blank page has spread 0."""
    from PIL import Image, ImageStat

    with Image.open(png) as image:
        return image.width, image.height, ImageStat.Stat(image.convert("L")).stddev[0]


class Chromium:
    """One headless browser for several pages: `with Chromium() as browser: browser.check(page, png)`."""

    def __init__(self, executable: str | None = None, *, timeout_ms: int = 15_000) -> None:
        self.executable = executable or find_chromium()
        self.timeout_ms = timeout_ms

    def __enter__(self) -> "Chromium":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        # chromium_sandbox=False passes --no-sandbox: Chromium refuses to start as root otherwise (CI containers)
        self._browser = self._playwright.chromium.launch(
            executable_path=self.executable, headless=True, chromium_sandbox=False, timeout=self.timeout_ms,
            args=["--disable-dev-shm-usage", "--disable-gpu"],
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._browser.close()
        self._playwright.stop()

    @property
    def version(self) -> str:
        return self._browser.version

    def check(self, html_file: Path, screenshot: Path, *, width: int = 1100) -> PageCheck:
        """Load file://html_file, wait for every resource, screenshot the full page, inspect it."""
        page = self._browser.new_page(viewport={"width": width, "height": 800})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(f"console.{message.type}: {message.text}") if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url} ({request.failure})"))
        try:
            page.goto(Path(html_file).resolve().as_uri(), wait_until="load", timeout=self.timeout_ms)
            found = page.evaluate(_INSPECT)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            page.close()
        return PageCheck(errors=errors, images=found["images"], tables=found["tables"], title=found["title"], screenshot=screenshot)
