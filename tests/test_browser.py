"""End to end in a real headless browser (Debian's chromium, driven by playwright): load the
explorer, change parameters, read the output size and formula, step the animation, upload an image."""
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from convscope.web import make_server

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def url():
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(url):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Debian's chromium is needed (make test installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        tab = browser.new_page(viewport={"width": 1200, "height": 1000})
        tab.goto(url)
        tab.wait_for_function("document.querySelector('#output-shape').textContent !== '?'")
        yield tab
        browser.close()


def test_page_shows_numbers_from_the_api(page):
    assert page.text_content("#output-shape") == "(1, 1, 5, 5)"
    assert page.text_content("#frame-label") == "frame 1 / 25"
    assert "floor(4 / 1) + 1 = 5" in page.text_content("#formula")


def test_changing_parameters_updates_size_and_formula(page):
    page.fill("#stride", "2")
    page.dispatch_event("#stride", "change")
    page.wait_for_function("document.querySelector('#output-shape').textContent === '(1, 1, 3, 3)'")
    assert "floor(4 / 2) + 1 = 3" in page.text_content("#formula")
    page.wait_for_function("document.querySelector('#frame-label').textContent === 'frame 1 / 9'")
    page.fill("#kernel", "9")
    page.dispatch_event("#kernel", "change")
    page.wait_for_function("document.querySelector('#error').textContent.includes('smaller than the dilated kernel')")


def test_animation_steps_and_screenshot(page):
    page.fill("#kernel", "3")
    page.dispatch_event("#kernel", "change")
    page.wait_for_function("document.querySelector('#frame-label').textContent === 'frame 1 / 9'")
    page.click("#step")
    assert page.text_content("#frame-label") == "frame 2 / 9"
    assert page.text_content("#frame-title").startswith("output (0, 1)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer.png"))
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10000


def test_upload_an_image_for_a_feature_map(page, tmp_path):
    ramp = (np.tile(np.arange(32), (32, 1)) * 8).astype(np.uint8)
    path = tmp_path / "ramp.png"
    Image.fromarray(ramp).save(path)
    page.set_input_files("#upload", str(path))
    page.wait_for_function("document.querySelector('#feature-map').src.startsWith('data:image/png')")
    assert page.text_content("#feature-info").startswith("input 32x32 -> 32x32")
    page.click("#example")
    page.wait_for_function("document.querySelector('#feature-info').textContent.startsWith('input 28x28')")


def test_exported_animation_plays_without_a_server(page, tmp_path):
    from convscope.viz import animate
    path = animate("conv_transpose2d", (2, 2), 3, stride=2, view="direct").save(tmp_path / "anim.html")
    page.goto(path.as_uri())
    assert page.text_content("#label") == "frame 1 / 25"
    page.click("#step")
    assert page.text_content("#label") == "frame 2 / 25"
    assert page.text_content("#caption").startswith("output (0, 1)")
