"""The report in headless Chromium: no console errors, every image decoded, both tables there, a
screenshot that is not blank; and the same checker catches a missing image and a script error.

Skipped, with the reason, where Playwright or a Chromium binary is missing (tests/report/chromium_page.py).
"""

from __future__ import annotations

import shutil

import pytest
from chromium_page import Chromium, pixel_spread, why_unavailable

UNAVAILABLE = why_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


def test_report_renders_with_every_image_and_no_errors(small_report, browser, tmp_path):
    check = browser.check(small_report.index, tmp_path / "report.png")
    assert check.errors == []
    assert len(check.images) == 8 and check.broken_images == []
    tables = {table["cls"]: table["rows"] for table in check.tables}
    assert tables["comparison"] == tables["properties"] == 1 + len(small_report.properties)
    assert check.title == small_report.title  # shown as text: the <script> in the title never ran
    width, height, spread = pixel_spread(check.screenshot)
    assert check.screenshot.stat().st_size > 20_000 and width == 1100 and height > 1500  # the whole page, images included
    assert spread > 20  # text, tables and image grids, not a blank page


def test_the_checker_catches_a_missing_image_a_script_error_and_a_blank_page(small_report, browser, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_report.out_dir, broken)
    (broken / "assets" / "1-samples.png").unlink()
    page = broken / "index.html"
    page.write_text(page.read_text().replace("</body>", "<script>notDefinedAnywhere()</script></body>"))
    check = browser.check(page, tmp_path / "broken.png")
    assert check.broken_images == ["assets/1-samples.png"] and len(check.images) == 8
    assert any("ERR_FILE_NOT_FOUND" in error and "1-samples.png" in error for error in check.errors)
    assert any(error.startswith("uncaught:") and "notDefinedAnywhere" in error for error in check.errors)

    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><head><title>blank</title></head><body></body></html>")
    check = browser.check(blank, tmp_path / "blank.png")
    assert check.errors == [] and check.images == [] and check.tables == []
    assert pixel_spread(check.screenshot)[2] == 0
