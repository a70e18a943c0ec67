"""The explore page in headless Chromium against a live server on tiny runs: a slider move changes the image,
a painted mask is completed, a GAN step changes D's surface, a bad upload shows its error, and the console
stays clean (but for the browser's own note of that deliberate 415).

Skipped, with the reason, where Playwright or a Chromium binary is missing (tests/report/chromium_page.py).
"""

from __future__ import annotations

import pytest
from genzoo_testing.explore_server import live_server
from report.chromium_page import find_chromium, why_unavailable

UNAVAILABLE = why_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")
EXPECTED_CONSOLE = "Failed to load resource: the server responded with a status of 415 (Unsupported Media Type)"


@pytest.fixture(scope="module")
def address(explore_runs):
    from genzoo.explore.server.app import create_app

    app = create_app([explore_runs[name] for name in ("vae", "dcgan", "pixelcnn")], log=lambda line: None)
    with live_server(app) as served:
        yield f"{served}/"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), headless=True, chromium_sandbox=False,
                                              args=["--disable-dev-shm-usage", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, address):
    """A fresh page on the explore app; after the test, its console must hold no error but the expected ones."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.console_errors = []
    page.on("console", lambda message: page.console_errors.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    page.goto(address)
    page.wait_for_function("window.genzooExplore && window.genzooExplore.ready")
    yield page
    page.close()


def source_of(page, selector: str) -> str:
    return page.eval_on_selector(selector, "image => image.getAttribute('src') || ''")


def test_moving_a_slider_changes_the_image(page):
    image = "#run-0 [data-test=decoded]"
    page.wait_for_function(f"(document.querySelector('{image}').getAttribute('src') || '').startsWith('data:image/png')")
    before = source_of(page, image)
    slider = page.locator("#run-0 [data-test=slider]").first
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 0.95 * box["width"], box["y"] + box["height"] / 2)  # near the top of its range
    page.wait_for_function(f"document.querySelector('{image}').getAttribute('src') !== {before!r}")
    assert float(page.locator("#run-0 .sliders output").first.inner_text()) > 1.5
    assert "ms from slider to image" in page.locator("#run-0 [data-tool=sliders] .note").first.inner_text()
    assert page.console_errors == []


def test_clicking_the_manifold_decodes_that_point(page):
    grid = page.locator("#run-0 [data-test=manifold]")
    page.wait_for_function("(document.querySelector('#run-0 [data-test=manifold]').getAttribute('src') || '').startsWith('data:')")
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 0.2 * box["width"], box["y"] + 0.8 * box["height"])  # left of centre, below it
    page.wait_for_function("document.querySelector('#run-0 [data-test=manifold-z]').textContent.startsWith('z = (')")
    z = [float(v) for v in page.inner_text("#run-0 [data-test=manifold-z]")[5:-1].split(", ")]
    assert z[0] < -0.3 and z[1] > 0.3  # first coordinate left to right, second top to bottom, as in latent_manifold
    assert source_of(page, "#run-0 [data-test=manifold-image]").startswith("data:image/png")
    assert page.eval_on_selector("#run-0 .marker", "marker => !marker.hidden")
    assert page.console_errors == []


def test_painting_a_mask_and_completing(page):
    page.click('nav button[data-key="run-2"]')
    tool = "#run-2 [data-tool=complete]"
    page.click(f"{tool} img[data-test-index='1']")
    page.click(f"{tool} button:has-text('clear')")
    canvas = page.locator(f"{tool} [data-test=mask]")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.6 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.6 * box["height"], steps=12)
    page.mouse.up()
    painted = page.eval_on_selector(f"{tool} [data-test=mask]", "c => Array.from(c.cells).map((v, i) => v ? Math.floor(i / 28) : -1).filter(r => r >= 0)")
    assert 20 < len(painted) < 200 and min(painted) >= 14 and max(painted) <= 19  # a stroke across the lower middle
    page.click(f"{tool} [data-test=complete]")
    page.wait_for_function(f"document.querySelector('{tool} .status').textContent.startsWith('done in')", timeout=60_000)
    shown = page.eval_on_selector_all(f"{tool} .stage img", "images => images.map(i => i.getAttribute('src') || '')")
    assert len(shown) == 4 and all(src.startswith("data:image/png") for src in shown)
    assert "pixels hidden" in page.locator(f"{tool} figcaption").first.inner_text()
    assert page.console_errors == []


def test_a_gan_step_changes_the_surface(page):
    page.click('nav button[data-key="game"]')
    stats = "[data-test=gan-stats]"
    page.wait_for_function(f"document.querySelector('{stats}').textContent.startsWith('step 0')")
    field = "document.querySelector('[data-test=gan-field]').toDataURL()"
    before = page.evaluate(field)
    for _ in range(3):
        page.click("[data-test=step]")
    page.wait_for_function(f"document.querySelector('{stats}').textContent.startsWith('step 3')")
    assert page.evaluate(field) != before
    page.select_option("[data-test=g-loss]", "minimax")
    page.click("[data-test=play]")
    page.wait_for_function(f"/frames\\/s/.test(document.querySelector('{stats}').textContent) && !/^step [0-9] /.test(document.querySelector('{stats}').textContent)")
    page.click("[data-test=play]")
    assert page.locator("[data-test=play]").inner_text() == "play"
    assert page.console_errors == []


def test_a_bad_upload_shows_its_error(page):
    tool = "#run-0 [data-tool=sliders]"
    page.set_input_files(f"{tool} [data-test=upload]", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}])
    page.wait_for_selector(f"{tool} .status.error")
    assert page.locator(f"{tool} .status.error").inner_text() == "notes.txt is not an image genzoo can read: send a PNG or JPEG file"
    assert page.console_errors == [EXPECTED_CONSOLE]  # the browser's own line for the 415; no script error
