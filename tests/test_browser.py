"""The built HTML in a real browser: every page of the TOC loads in headless Chromium with its math typeset,
its figures drawn, no script errors, and (for chapters) a working Colab link; and the page fits its reader's
screen. At 1280 px no display equation or figure is wider than the text column and no figure is shrunk; at
390 px (a phone) the page itself never scrolls sideways: only wide tables and code scroll, inside their own box.
Screenshots of every page at both widths are left in ``_build/screenshots/`` for a human to look at.

The pages load MathJax from a CDN. Offline (CI), requests to that CDN are answered from the copy of MathJax 3
in the ``django-static-mathjax`` package; every other outside request is refused, so the test also shows the
book reads without them.

``ADAMCOURSE_BOOK_HTML=/tmp/out/_build/html pytest tests/test_browser.py`` checks a book built beforehand.
Run as a script, the module measures an already built book without pytest (and without building it again):

    .venv/bin/python tests/test_browser.py /tmp/out/_build/html --json overflow.json

prints every overflow it finds at both widths and writes the list as JSON.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # book_build, when run as a script
from book_build import ROOT, toc_pages  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MATHJAX_CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/mathjax@3/(.*)")
SCREENSHOTS = ROOT / "_build" / "screenshots"
# Console errors that come from the Jupyter Book 1 stack itself, not from this book: sphinx-thebe 0.3.1 adds its
# config script twice (harmless here: Thebe live code is off), and pydata-sphinx-theme reports the empty theme
# mode of a fresh browser profile before it falls back to "auto".
KNOWN_UPSTREAM = ("Identifier 'THEBE_JS_URL' has already been declared", "Got invalid theme mode: .")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
DOWNSCALE_TOLERANCE = 1.02  # a figure drawn at less than 1/1.02 of its pixel width counts as shrunk


def mathjax_dir() -> Path:
    import mathjax  # the django-static-mathjax package

    return Path(mathjax.__file__).parent / "static" / "mathjax"


@contextlib.contextmanager
def serve(directory: Path):
    """Serve the built HTML on loopback (as a reader's web server would); yield its base URL."""
    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def chromium():
    """One headless Debian Chromium for all pages."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(request):
    """The book served on loopback: the session's build (``built_book``), or the ``_build/html`` named by
    ``ADAMCOURSE_BOOK_HTML`` to check a book built beforehand without building it again."""
    given = os.environ.get("ADAMCOURSE_BOOK_HTML")
    html = Path(given) if given else request.getfixturevalue("built_book")
    with serve(html) as url:
        yield url


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
    with chromium() as browser:
        yield browser


def route(request_route):
    url = request_route.request.url
    cdn = MATHJAX_CDN.match(url)
    if cdn:
        local = mathjax_dir() / cdn.group(1).split("?")[0]
        return request_route.fulfill(path=local) if local.is_file() else request_route.abort()
    if url.startswith("http://127.0.0.1"):
        return request_route.continue_()
    return request_route.abort()  # no other outside resource: the book must read without it


# --- What a page looks like at one width ------------------------------------------------------------------------

# Runs in the page once MathJax has typeset it (and book/_static/fit-math.js has fitted the displays on a narrow
# screen). Every width is in CSS pixels.
MEASURE = r"""() => {
  const round = x => Math.round(x * 10) / 10;
  const section = el => {  // the nearest heading above el, to say where it is
    const heads = [...document.querySelectorAll('article h1, article h2, article h3')];
    let last = null;
    for (const h of heads) {
      if (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) last = h; else break;
    }
    return last ? last.textContent.replace(/[#¶]/g, '').trim().slice(0, 60) : '';
  };
  const tex = el => {
    try {
      const items = MathJax.startup.document.getMathItemsWithin(el);
      if (items.length) return items[0].math.replace(/\s+/g, ' ').trim().slice(0, 60);
    } catch (e) {}
    return '';
  };

  // Display equations: the typeset math is wider than the box the page gives it (the theme's div.math is a
  // flex row of the number and the mjx-container, which clips or scrolls what does not fit).
  const equations = [];
  document.querySelectorAll('div.math').forEach((div, i) => {
    const box = div.querySelector('mjx-container');
    if (!box) return;
    const math = box.querySelector(':scope > mjx-math') || box;
    const eqno = div.querySelector('span.eqno');
    const natural = Math.max(box.scrollWidth, math.getBoundingClientRect().width);
    const available = box.clientWidth;
    const scale = parseFloat(math.style.fontSize || '100') / 100;
    const record = {
      index: i + 1, number: eqno ? (eqno.textContent.match(/\([^)]*\)/) || [''])[0] : '',
      tex: tex(div), section: section(div), natural: round(natural), available: round(available),
      column: round(div.parentElement.clientWidth), scale: round(scale * 100) / 100,
    };
    record.overflows = natural > available + 1;
    if (record.overflows || scale < 1) equations.push(record);
  });

  // Inline math wider than the line it sits in: the theme's span.math clips it (or, with course.css, scrolls).
  const inline = [];
  document.querySelectorAll('article span.math').forEach((span, i) => {
    const math = span.querySelector('mjx-container > mjx-math');
    if (!math) return;
    const parent = span.parentElement, ps = getComputedStyle(parent);
    const line = parent.clientWidth - parseFloat(ps.paddingLeft) - parseFloat(ps.paddingRight);
    const shown = span.getBoundingClientRect().width, natural = math.getBoundingClientRect().width;
    // clipped: the span has grown to the full line (its max-width) and the math is still wider
    if (shown < line - 1 || natural <= shown + 1) return;
    inline.push({index: i + 1, tex: tex(span), section: section(span), natural: round(natural),
                 available: round(shown), scale: parseFloat(math.style.fontSize || '100') / 100});
  });

  // Figures: images in cell outputs (and figures) drawn narrower than their pixels, or past their container.
  const figures = [];
  document.querySelectorAll('article .cell_output img, article figure img').forEach((img, i) => {
    const r = img.getBoundingClientRect();
    const holder = img.closest('.cell_output') || img.closest('figure') || img.parentElement;
    const c = holder.getBoundingClientRect();
    const cell = img.closest('div.cell');
    const input = cell && cell.querySelector('.cell_input pre');
    const record = {
      index: i + 1, section: section(img),
      code: input ? input.textContent.trim().split('\n')[0].slice(0, 60) : '',
      natural: img.naturalWidth, displayed: round(r.width), container: round(c.width),
      overflow: round(r.right - c.right),
    };
    record.downscaled = img.naturalWidth > r.width * %(tolerance)s;
    record.past_container = r.right > c.right + 1;
    if (record.downscaled || record.past_container) figures.push(record);
  });

  // Code and text outputs that scroll inside their box (allowed, reported so that long lines can be wrapped).
  const code = [];
  document.querySelectorAll('article div.cell pre, article div.highlight pre').forEach((pre, i) => {
    if (pre.scrollWidth <= pre.clientWidth + 1 || pre.closest('details:not([open])')) return;
    const lines = pre.textContent.split('\n');
    const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
    const pad = parseFloat(getComputedStyle(pre).paddingLeft) + parseFloat(getComputedStyle(pre).paddingRight);
    const perChar = (pre.scrollWidth - pad) / Math.max(1, longest.length);
    const fits = Math.floor((pre.clientWidth - pad) / perChar);
    code.push({
      index: i + 1, section: section(pre), output: !!pre.closest('.cell_output'), longest: longest.length,
      fits, over: lines.filter(l => l.length > fits).length, line: longest.trim().slice(0, 60),
    });
  });

  // Tables that scroll inside their box (allowed; reported, as a reader may miss the columns out of view).
  const tables = [];
  document.querySelectorAll('article table').forEach((table, i) => {
    let box = table.parentElement;
    while (box && box.tagName !== 'ARTICLE' && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    if (!box || box.tagName === 'ARTICLE' || box.scrollWidth <= box.clientWidth + 1) return;
    const caption = table.querySelector('caption');
    const head = [...table.querySelectorAll('th')].map(th => th.textContent.trim()).join(' | ');
    tables.push({index: i + 1, section: section(table), natural: box.scrollWidth, available: box.clientWidth,
                 caption: ((caption ? caption.textContent : '') || head).trim().slice(0, 60)});
  });

  // The page: does it scroll sideways, and which outermost elements reach past the right edge?
  const width = window.innerWidth;
  const pageWidth = document.documentElement.scrollWidth;
  const sticking = [];
  if (pageWidth > width) {
    const clipped = el => {  // inside a box that scrolls or clips on x and itself fits the screen
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if (o !== 'visible' && a.getBoundingClientRect().right <= width + 1) return true;
      }
      return false;
    };
    const describe = el => {
      let s = el.tagName.toLowerCase();
      if (el.id) s += '#' + el.id;
      if (typeof el.className === 'string' && el.className.trim())
        s += '.' + el.className.trim().split(/\s+/).slice(0, 3).join('.');
      return s;
    };
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.right <= width + 1 || r.width === 0) continue;
      const style = getComputedStyle(el);
      if (style.position === 'fixed' || style.visibility === 'hidden') continue;
      if (clipped(el)) continue;
      const parent = el.parentElement;
      if (parent && parent !== document.body && parent.getBoundingClientRect().right > width + 1
          && !clipped(parent)) continue;  // report the outermost element only
      sticking.push({
        element: describe(el), right: round(r.right), section: section(el),
        in_table_or_code: !!el.closest('table, pre, code, .highlight'),
        text: (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60),
      });
      if (sticking.length >= 20) break;
    }
  }
  return {width, page_width: pageWidth, equations, inline, figures, code, tables, sticking};
}""".replace("%(tolerance)s", str(DOWNSCALE_TOLERANCE))


def visit(browser, site: str, page: str, viewport: dict) -> dict:
    """Load ``page`` at ``viewport``; wait for MathJax; return what the page shows (errors, math, images, links,
    layout) and leave a screenshot ``_build/screenshots/<page>_<width>.png``."""
    tab = browser.new_page(viewport=viewport)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.route("**/*", route)
    try:
        response = tab.goto(f"{site}/{page}.html", wait_until="load")
        seen = {"status": response.status if response else None, "ok": bool(response and response.ok)}
        seen["has_math"] = tab.locator(".math").count() > 0
        if seen["has_math"]:
            tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            tab.evaluate("() => MathJax.startup.promise")
            # book/_static/fit-math.js marks the page once it has fitted the displays (narrow screens only)
            tab.wait_for_function("() => !document.querySelector('script[src*=\"fit-math\"]')"
                                  " || document.documentElement.dataset.mathFitted !== undefined",
                                  timeout=10_000)
        seen["untypeset"] = tab.locator(".math:not(:has(mjx-container))").count()
        seen["tex_errors"] = tab.locator("mjx-merror").all_inner_texts()
        seen["broken_images"] = tab.evaluate(
            "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        seen["colab"] = tab.evaluate(
            "() => [...document.querySelectorAll(\"a[href*='colab.research.google.com/github/']\")]"
            ".map(a => a.getAttribute('href'))")
        seen["images"] = tab.locator("img").count()
        seen["layout"] = tab.evaluate(MEASURE)
        seen["text"] = tab.inner_text("article")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=SCREENSHOTS / f"{page.replace('/', '_')}_{viewport['width']}.png", full_page=True)
    finally:
        tab.close()
    seen["errors"] = [e for e in errors if not any(known in e for known in KNOWN_UPSTREAM)
                      and "Failed to load resource" not in e]  # the outside requests refused above
    return seen


@pytest.fixture(scope="module")
def seen(browser, site):
    """``seen(page, viewport)``: one visit per page and width, shared by the tests below."""
    cache: dict = {}

    def get(page: str, viewport: dict) -> dict:
        key = (page, viewport["width"])
        if key not in cache:
            cache[key] = visit(browser, site, page, viewport)
        return cache[key]

    return get


# --- Messages that say what to fix --------------------------------------------------------------------------------

def equation_problem(page: str, eq: dict) -> str:
    what = f"equation {eq['number']}" if eq["number"] else f"display {eq['index']} (unnumbered)"
    where = f" in '{eq['section']}'" if eq["section"] else ""
    if eq["scale"] < 1:
        size = (f"shrunk to {eq['scale']:.0%}, is {eq['natural']:.0f} px wide in a {eq['available']:.0f} px box"
                + (" and still scrolls inside it" if eq["overflows"] else " and fits"))
    else:
        size = f"is {eq['natural']:.0f} px wide in a {eq['available']:.0f} px box"
    return f"{page}: {what}{where} {size}: {eq['tex']!r}"


def inline_problem(page: str, m: dict) -> str:
    where = f" in '{m['section']}'" if m["section"] else ""
    shrunk = f"shrunk to {m['scale']:.0%}, " if m["scale"] < 1 else ""
    return (f"{page}: inline math {m['index']}{where} is {shrunk}{m['natural']:.0f} px wide on a "
            f"{m['available']:.0f} px line (it scrolls; make it a display or split it): {m['tex']!r}")


def notebook_cell(page: str, code: str) -> int | None:
    """The index (from 0, as in the .ipynb) of the code cell of ``page`` whose source starts with ``code``."""
    path = ROOT / f"{page}.ipynb"
    if not code or not path.is_file():
        return None
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        source = "".join(cell["source"]).strip()
        if cell["cell_type"] == "code" and source.split("\n")[0][:60] == code:
            return i
    return None


def figure_problem(page: str, fig: dict) -> str:
    where = f" in '{fig['section']}'" if fig["section"] else ""
    cell = notebook_cell(page, fig["code"])
    if cell is not None:
        where += f", cell {cell}"
    if fig["code"]:
        where += f" ({fig['code']!r})"
    parts = []
    if fig["downscaled"]:
        parts.append(f"drawn {fig['displayed']:.0f} px wide from {fig['natural']} px "
                     f"({fig['displayed'] / fig['natural']:.0%}; make it at most {fig['container']:.0f} px wide)")
    if fig["past_container"]:
        parts.append(f"reaches {fig['overflow']:.0f} px past its {fig['container']:.0f} px container")
    return f"{page}: image {fig['index']}{where} is " + " and ".join(parts)


def scroll_problem(page: str, layout: dict) -> str:
    lines = [f"{page}: the page is {layout['page_width']} px wide on a {layout['width']} px screen; sticking out:"]
    for s in layout["sticking"]:
        kind = " (a table or code that should scroll in its own box)" if s["in_table_or_code"] else ""
        lines.append(f"  {s['element']} to x = {s['right']:.0f}{kind} in '{s['section']}': {s['text']!r}")
    return "\n".join(lines)


# --- The tests ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_in_chromium(seen, page):
    s = seen(page, DESKTOP)
    assert s["ok"], f"{page}: HTTP {s['status']}"
    if s["has_math"]:
        assert s["untypeset"] == 0, f"{page}: {s['untypeset']} math elements were not typeset by MathJax"
        assert not s["tex_errors"], f"{page}: MathJax could not typeset: {s['tex_errors']}"
    assert not s["broken_images"], f"{page}: images that did not load: {s['broken_images']}"
    assert not s["errors"], f"{page}: errors in the browser console: {s['errors']}"

    if (ROOT / f"{page}.ipynb").is_file():  # a chapter: Colab opens its reader notebook (tools/reader_notebooks.py)
        assert s["colab"], f"{page}: no Colab launch button"
        assert s["colab"][0].endswith(f"/blob/notebooks/{page.removeprefix('book/')}.ipynb")
        assert s["images"] >= 1, f"{page}: a chapter without a single figure"


@pytest.mark.parametrize("page", toc_pages())
def test_page_fits_the_desktop_column(seen, page):
    """At 1280 px every display equation and every figure fits the text column, and no figure is shrunk
    (its text would be smaller than it was drawn): a too-wide equation is broken in the chapter's source, a
    figure is made at the column's width (``viz.figure``)."""
    layout = seen(page, DESKTOP)["layout"]
    problems = [equation_problem(page, eq) for eq in layout["equations"] if eq["overflows"] or eq["scale"] < 1]
    problems += [inline_problem(page, m) for m in layout["inline"]]
    problems += [figure_problem(page, fig) for fig in layout["figures"]]
    if layout["page_width"] > layout["width"]:
        problems.append(scroll_problem(page, layout))
    if problems:
        pytest.fail(f"{len(problems)} element(s) do not fit at 1280 px:\n" + "\n".join(problems), pytrace=False)


@pytest.mark.parametrize("page", toc_pages())
def test_page_does_not_scroll_sideways_on_a_phone(seen, page):
    """At 390 px the page never scrolls sideways: wide tables and code scroll inside their own box, long API
    signatures wrap, and a display equation that is still too wide scrolls inside its own box (the layout
    shrinks it to no less than 75% first)."""
    layout = seen(page, PHONE)["layout"]
    if layout["page_width"] > layout["width"]:
        pytest.fail(scroll_problem(page, layout), pytrace=False)


def test_api_page_reads_clean(seen):
    """The API page shows what a reader needs: no dataclass ``<factory>`` defaults, no RST markup that did not
    render (a broken ````literal````), no "Alias for field number N" where a NamedTuple field needs a docstring."""
    text = seen("book/reference/api", DESKTOP)["text"]
    problems = []
    for m in re.finditer(r"=<factory>", text):
        problems.append(f"a dataclass signature shows its default factories: {text[max(0, m.start() - 60):m.end()]!r}")
    for m in re.finditer(r"``", text):
        problems.append(f"a literal did not render (RST wants ``x`` with no space just inside the quotes): "
                        f"{text[max(0, m.start() - 40):m.end() + 20]!r}")
    aliases = []
    for m in re.finditer(r"(\w+): [^\n]*\n+Alias for field number \d+", text):
        owner = re.findall(r"class (\w+)\(", text[:m.start()])
        aliases.append(f"{owner[-1] if owner else '?'}.{m.group(1)}")
    if aliases:
        problems.append(f"{len(aliases)} NamedTuple fields read 'Alias for field number N' (give each field a "
                        f"docstring): {', '.join(aliases)}")
    if problems:
        pytest.fail("book/reference/api:\n" + "\n".join(problems), pytrace=False)


def test_menu_button_opens_the_navigation_on_a_phone(browser, site):
    """The article header's menu button opens the book's navigation on a phone (book/_static/toggles.js: the
    themes bind it to a hidden copy of the button)."""
    tab = browser.new_page(viewport=PHONE)
    tab.route("**/*", route)
    try:
        tab.goto(f"{site}/book/intro.html", wait_until="load")
        tab.locator(".bd-header-article .primary-toggle").first.click()
        tab.wait_for_function("() => document.querySelector('#pst-primary-sidebar-modal').open", timeout=5_000)
        links = tab.locator("#pst-primary-sidebar-modal a.reference").count()
        assert links >= len(toc_pages()) - 1, f"the navigation opened with {links} links"
    finally:
        tab.close()


EXPLORER_PAGES = {"book/foundations/rmsprop": 1, "book/foundations/adam": 2,  # page -> explorers on it
                  "book/practice/claims": 1, "book/practice/failures": 1}


@pytest.mark.parametrize("page", EXPLORER_PAGES)
def test_explorers_move_in_the_static_page(browser, site, page):
    """No kernel runs behind the book: each explorer is there as its main slider over precomputed frames
    (adamcourse.widgets.Explorer.static_html), not as an empty widget box. Moving the slider changes the figure."""
    tab = browser.new_page(viewport=DESKTOP)
    tab.route("**/*", route)
    try:
        tab.goto(f"{site}/{page}.html", wait_until="load")
        explorers = tab.locator(".adamcourse-explorer-static")
        assert explorers.count() == EXPLORER_PAGES[page], f"{page}: {explorers.count()} explorers in the page"
        assert tab.locator(".jupyter-widgets, .widget-subarea").count() == 0, f"{page}: an empty widget box"
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            image, readout = explorer.locator("img"), explorer.locator("output")
            slider = explorer.locator("input[type=range]")
            before, label = image.get_attribute("src"), readout.inner_text()
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"{page}: explorer {i} has no figure"
            last = slider.get_attribute("max")
            target = "0" if slider.input_value() != "0" else last
            slider.fill(target)  # sets the value and fires input, as dragging does
            assert image.get_attribute("src") != before, f"{page}: explorer {i}'s figure did not change"
            assert readout.inner_text() != label, f"{page}: explorer {i}'s readout did not change"
            assert "Colab or Jupyter" in explorer.inner_text()
    finally:
        tab.close()


# --- As a script: measure a built book and write the list ---------------------------------------------------------

def measure_book(html: Path, pages: list[str] | None = None) -> list[dict]:
    """Every overflow on every page at both widths, as a list of records."""
    found = []
    with serve(html) as site, chromium() as browser:
        for page in pages or toc_pages():
            for viewport in (DESKTOP, PHONE):
                layout = visit(browser, site, page, viewport)["layout"]
                w = viewport["width"]
                for eq in layout["equations"]:
                    found.append({"page": page, "width": w, "kind": "equation", **eq,
                                  "message": equation_problem(page, eq)})
                for m in layout["inline"]:
                    found.append({"page": page, "width": w, "kind": "inline-math", **m,
                                  "message": inline_problem(page, m)})
                for fig in layout["figures"]:
                    if w == DESKTOP["width"]:  # a phone shrinks every figure, by design
                        found.append({"page": page, "width": w, "kind": "figure", **fig,
                                      "cell": notebook_cell(page, fig["code"]),
                                      "message": figure_problem(page, fig)})
                for block in layout["code"]:
                    if w == DESKTOP["width"]:  # on a phone most code scrolls, by design
                        kind = "output" if block["output"] else "code"
                        found.append({"page": page, "width": w, "kind": f"{kind}-scrolls", **block,
                                      "message": f"{page}: {kind} block {block['index']} in '{block['section']}' "
                                                 f"scrolls: {block['over']} line(s) longer than the "
                                                 f"{block['fits']} characters that fit, the longest "
                                                 f"{block['longest']}: {block['line']!r}"})
                for t in layout["tables"]:
                    if w == DESKTOP["width"]:
                        found.append({"page": page, "width": w, "kind": "table-scrolls", **t,
                                      "message": f"{page}: table {t['index']} in '{t['section']}' is "
                                                 f"{t['natural']} px wide in a {t['available']} px box and "
                                                 f"scrolls: {t['caption']!r}"})
                if layout["page_width"] > layout["width"]:
                    found.append({"page": page, "width": w, "kind": "page-scroll",
                                  "page_width": layout["page_width"], "sticking": layout["sticking"],
                                  "message": scroll_problem(page, layout)})
    return found


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built book's _build/html")
    parser.add_argument("--json", type=Path, help="write the list here")
    parser.add_argument("--page", action="append", help="only this page (repeatable), e.g. book/intro")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    found = measure_book(args.html, args.page)
    for item in found:
        print(f"[{item['width']}] {item['message']}")
    print(f"{len(found)} problem(s) in {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
