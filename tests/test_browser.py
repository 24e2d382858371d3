"""The built HTML in a real browser: every page of the TOC loads in headless Chromium with its math typeset,
its figures drawn, no script errors, and (for chapters) a working Colab link. Screenshots of every page are
left in ``_build/screenshots/`` for a human to look at.

The pages load MathJax from a CDN. Offline (CI), requests to that CDN are answered from the copy of MathJax 3
in the ``django-static-mathjax`` package; every other outside request is refused, so the test also shows the
book reads without them.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from book_build import ROOT, toc_pages

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MATHJAX_CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/mathjax@3/(.*)")
SCREENSHOTS = ROOT / "_build" / "screenshots"
# Console errors that come from the Jupyter Book 1 stack itself, not from this book: sphinx-thebe 0.3.1 adds its
# config script twice (harmless here: Thebe live code is off), and pydata-sphinx-theme reports the empty theme
# mode of a fresh browser profile before it falls back to "auto".
KNOWN_UPSTREAM = ("Identifier 'THEBE_JS_URL' has already been declared", "Got invalid theme mode: .")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def mathjax_dir() -> Path:
    import mathjax  # the django-static-mathjax package

    return Path(mathjax.__file__).parent / "static" / "mathjax"


@pytest.fixture(scope="module")
def site(built_book):
    """Serve the built HTML on loopback (as a reader's web server would)."""
    handler = functools.partial(Quiet, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "Chromium not found: install Debian's `chromium` package to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it in CI)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def route(request_route):
    url = request_route.request.url
    cdn = MATHJAX_CDN.match(url)
    if cdn:
        local = mathjax_dir() / cdn.group(1).split("?")[0]
        return request_route.fulfill(path=local) if local.is_file() else request_route.abort()
    if url.startswith("http://127.0.0.1"):
        return request_route.continue_()
    return request_route.abort()  # no other outside resource: the book must read without it


@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_in_chromium(browser, site, page):
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.route("**/*", route)
    response = tab.goto(f"{site}/{page}.html", wait_until="load")
    assert response is not None and response.ok, f"{page}: HTTP {response and response.status}"

    has_math = tab.locator(".math").count() > 0
    if has_math:
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        tab.evaluate("() => MathJax.startup.promise")
        untypeset = tab.locator(".math:not(:has(mjx-container))").count()
        assert untypeset == 0, f"{page}: {untypeset} math elements were not typeset by MathJax"
        tex_errors = tab.locator("mjx-merror").all_inner_texts()
        assert not tex_errors, f"{page}: MathJax could not typeset: {tex_errors}"

    broken = tab.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                          ".map(i => i.src)")
    assert not broken, f"{page}: images that did not load: {broken}"
    errors = [e for e in errors if not any(known in e for known in KNOWN_UPSTREAM)
              and "Failed to load resource" not in e]  # the outside requests refused above
    assert not errors, f"{page}: errors in the browser console: {errors}"

    if (ROOT / f"{page}.ipynb").is_file():  # a chapter: Colab opens this very notebook from the repository
        colab = tab.locator("a[href*='colab.research.google.com/github/']")
        assert colab.count() >= 1, f"{page}: no Colab launch button"
        assert colab.first.get_attribute("href").endswith(f"/blob/main/{page}.ipynb")
        assert tab.locator("img").count() >= 1, f"{page}: a chapter without a single figure"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SCREENSHOTS / f"{page.replace('/', '_')}.png", full_page=True)
    tab.close()
