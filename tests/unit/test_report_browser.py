"""The report laid out by a real browser: Debian's Chromium, headless, driven by Playwright at
a 1280-pixel-wide window. Every column is at least as wide as its header's longest word, a
table wider than the page scrolls inside its own container, no row is taller than a few lines
of text, every figure loads and the page logs no error.

With ``MPCBENCH_SCREENSHOTS=DIR`` the browser also saves screenshots of the first section,
of the first figure and of the security model into DIR."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from mpcbench import parties
from mpcbench.case import Case
from mpcbench.report import build
from mpcbench.results import store
from mpcbench.results.identity import config_text
from mpcbench.results.schema import SECURITY_COLUMNS
from tests.unit import report_data

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1280
#: the tallest row allowed, in lines of the row's text
MAX_LINES = 6

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium not installed (make test-deps)"),
]

#: per table column: the header cell's content width and its longest word's width
_COLUMNS = """() => {
  const probe = document.body.appendChild(document.createElement('span'));
  probe.style.cssText = 'position: absolute; visibility: hidden; white-space: pre';
  const out = [];
  for (const table of document.querySelectorAll('table')) {
    for (const th of table.tHead.rows[0].cells) {
      const style = getComputedStyle(th);
      probe.style.font = style.font;
      let word = 0;
      for (const w of th.textContent.split(/\\s+/)) {
        probe.textContent = w;
        word = Math.max(word, probe.getBoundingClientRect().width);
      }
      const content = th.getBoundingClientRect().width - parseFloat(style.paddingLeft)
        - parseFloat(style.paddingRight) - parseFloat(style.borderLeftWidth)
        - parseFloat(style.borderRightWidth);
      out.push({table: table.id, header: th.textContent, width: content, word: word});
    }
  }
  probe.remove();
  return out;
}"""

#: per table: its width and right edge, the viewport's, and its scroll container if any
_TABLES = """() => Array.from(document.querySelectorAll('table')).map(table => {
  const box = table.getBoundingClientRect();
  const scroll = table.closest('.scroll');
  return {
    table: table.id, width: box.width, right: box.right + window.scrollX,
    viewport: document.documentElement.clientWidth,
    scroll: scroll && getComputedStyle(scroll).overflowX,
    scrollRight: scroll && scroll.getBoundingClientRect().right + window.scrollX,
  };
})"""

#: per table: its tallest row, the height of that row's text lines and the row's padding
_ROWS = """() => Array.from(document.querySelectorAll('table')).map(table => {
  let tallest = null;
  for (const row of table.rows) {
    const height = row.getBoundingClientRect().height;
    if (!tallest || height > tallest.height) tallest = {row, height};
  }
  const style = getComputedStyle(tallest.row.cells[0]);
  return {
    table: table.id, height: tallest.height, line: parseFloat(style.lineHeight),
    padding: parseFloat(style.paddingTop) + parseFloat(style.paddingBottom)
      + parseFloat(style.borderBottomWidth),
    text: Array.from(tallest.row.cells, c => c.innerText).join(' | ').slice(0, 160),
  };
})"""


def _declared_security(run: pd.DataFrame) -> pd.DataFrame:
    """``run`` with the security record its backend declares in ``backend_config`` and its
    options as the backend resolves them, as the launcher stores them: the longest texts
    the report shows."""
    if run["kind"].iloc[0] != "mpc":
        return run
    framework, threshold = run["framework"].iloc[0], run["threshold"].iloc[0]
    case = Case(framework, run["model"].iloc[0], parties=int(run["parties"].iloc[0]),
                options={} if pd.isna(threshold) else {"threshold": int(threshold)})
    record = parties.get(framework).security(case)
    extras = {k: v for k, v in record.items() if k not in SECURITY_COLUMNS}
    stored = run["backend_config"].iloc[0]
    config = json.loads(stored) if isinstance(stored, str) else {}
    backend = parties.get(framework)
    return run.assign(backend_config=json.dumps({**config, "security": extras}),
                      config=config_text({**backend.resolve(case), "rewrite": "none"}))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("results")
    for run in report_data.synthetic():
        store.append(_declared_security(run), results)
    return build(results, tmp_path_factory.mktemp("report"), expected=parties.kinds())


def _screenshots(page: Page, out: Path) -> None:
    """The first section (its heading to the next one's), the first figure and the security
    model, as PNG files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    top, bottom = page.evaluate("""() => {
      const [first, next] = document.querySelectorAll('h2');
      return [first, next].map(h => h.getBoundingClientRect().top + window.scrollY);
    }""")
    main = page.locator("main").bounding_box()
    page.screenshot(path=out / "first-section.png", full_page=True,
                    clip={"x": main["x"], "y": top - 8, "width": main["width"],
                          "height": bottom - top})
    page.locator("section.figure:has(img)").first.screenshot(path=out / "figure.png")
    page.locator("#table-security").screenshot(path=out / "security.png")


@pytest.fixture(scope="module")
def browser_page(report) -> Iterator[tuple[Page, list[str]]]:
    """The report open in headless Chromium, and every error the page logged."""
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.on("console", console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri())
        # open every collapsed section (not the long cells), so its tables are laid out
        page.evaluate("""() => document.querySelectorAll('details').forEach(d => {
          if (!d.closest('td')) d.open = true; })""")
        if os.environ.get("MPCBENCH_SCREENSHOTS"):
            _screenshots(page, Path(os.environ["MPCBENCH_SCREENSHOTS"]))
        yield page, errors
        browser.close()


def test_no_column_narrower_than_its_header_word(browser_page):
    columns = browser_page[0].evaluate(_COLUMNS)
    assert len(columns) > 100
    narrow = [c for c in columns if c["width"] < c["word"] - 0.5]
    assert not narrow, "\n".join(
        f"{c['table']}: {c['header']!r} {c['width']:.0f} px < {c['word']:.0f} px"
        for c in narrow)


def test_wide_tables_scroll_in_their_own_container(browser_page):
    page, _ = browser_page
    tables = page.evaluate(_TABLES)
    assert any(t["right"] > t["viewport"] for t in tables)  # the list of all runs is wide
    unbounded = [t for t in tables if t["right"] > t["viewport"] and not (
        t["scroll"] in ("auto", "scroll") and t["scrollRight"] <= t["viewport"])]
    assert unbounded == []
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_no_row_taller_than_a_few_lines(browser_page):
    rows = browser_page[0].evaluate(_ROWS)
    tall = [r for r in rows if r["height"] > MAX_LINES * r["line"] + r["padding"] + 1]
    assert not tall, "\n".join(
        f"{r['table']}: {(r['height'] - r['padding']) / r['line']:.0f} lines, {r['height']:.0f}"
        f" px: {r['text']!r}" for r in tall)


def test_every_figure_loads(browser_page):
    page, _ = browser_page
    images = page.evaluate("""() => Array.from(document.images).map(
        i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))""")
    assert len(images) >= 5
    assert [i["alt"] for i in images if not (i["complete"] and i["width"] > 0)] == []


def test_no_errors_in_the_console(browser_page):
    assert browser_page[1] == []
