"""The HTML report in headless Chromium (Debian's ``chromium``, driven by Playwright): a partial run's page renders
without console errors, shows its plots, tables and items, fetches nothing, runs none of the run's text as script,
and fits a phone's screen. Screenshots go to ``$AGORA_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agora.reports import read_run, run_html
from tests.test_reports import FALSE_QUOTE, ITEMS, PROTOCOLS, TRUE_QUOTE, module_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
URL = "http://report.agora.test/report.html"
"""Where the page is served from, by the test's own route: any other request is recorded and aborted."""
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STOP_AFTER = 20

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason=f"no chromium binary at {CHROMIUM}: apt-get install chromium"
    ),
]


@dataclass(frozen=True)
class Report:
    html: str
    items: int  # the items the run reached before it was interrupted


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The HTML report of a run interrupted after STOP_AFTER records."""
    directory = module_run(tmp_path_factory, "browser", stop_after=STOP_AFTER)
    found = read_run(directory)
    assert found.partial and 2 <= len(found.items) < ITEMS
    return Report(run_html(found), len(found.items))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


class Visit:
    """One page load: the page, every request it made, and every console error or warning and page error."""

    def __init__(self, browser: Any, html: str, viewport: dict[str, int], *, mobile: bool = False) -> None:
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
        self.context.route("**/*", lambda route: self._serve(route, html))
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.goto(URL, wait_until="load")

    def _serve(self, route: Any, html: str) -> None:
        self.requests.append(route.request.url)
        if route.request.url == URL:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        else:
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        folder = Path(os.environ.get("AGORA_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def visit(browser: Any, report: Report) -> Iterator[Visit]:
    opened = Visit(browser, report.html, LAPTOP)
    yield opened
    opened.context.close()


def test_the_page_renders_its_plots_and_tables_and_fetches_nothing(
    visit: Visit, report: Report, tmp_path: Path
) -> None:
    page = visit.page
    assert page.locator("h1").inner_text() == "Run report: sky"
    assert "Partial run: the run was interrupted" in page.get_by_role("alert").inner_text()
    plots = page.locator("figure.plot svg[role=img]")
    labels = plots.evaluate_all("(svgs) => svgs.map((s) => s.getAttribute('aria-label'))")
    assert labels[:3] == [
        "Accuracy by protocol and judge with 95% intervals",
        "Reliability diagram: accuracy against stated confidence",
        "Risk-coverage: selective accuracy against coverage",
    ]
    assert sum(label.startswith("Cohen's kappa") for label in labels) >= 1
    assert labels[-1] == "Probe flip rates by check and judge"
    for box in plots.evaluate_all("(svgs) => svgs.map((s) => s.getBoundingClientRect().toJSON())"):
        assert box["width"] >= 250 and box["height"] >= 120  # drawn, and big enough to read
    headline = page.locator("#headline + .scroll table tbody tr")
    assert headline.count() >= len(PROTOCOLS[:3]) * 4  # three judges and the decision under each protocol
    for anchor in ("paired", "agreement", "robustness", "ratings", "items"):
        assert page.locator(f"#{anchor}").is_visible()
    assert page.locator("details.item").count() == report.items
    visit.screenshot("report-laptop.png", tmp_path)
    assert visit.problems == []
    assert visit.requests == [URL]


def test_the_item_viewer_shows_transcripts_verdicts_and_decisions_as_text(visit: Visit) -> None:
    page = visit.page
    item = page.locator("details.item", has=page.locator("summary .id", has_text="hostile"))
    item.locator(":scope > summary").click()
    body = item.locator(".itembody")
    assert body.is_visible()
    assert '<script>window.__pwned = 1</script><img src="x"' in body.locator(".question").inner_text()
    assert body.locator("q.v").first.inner_text() == TRUE_QUOTE
    assert body.locator("q.u").first.inner_text() == FALSE_QUOTE
    assert "✓ verified" in body.inner_text() and "✗ unverified" in body.inner_text()
    assert body.locator("table.verdicts tbody tr").count() >= 3
    assert body.locator(".decision").first.inner_text().startswith("decision:")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert visit.problems == [] and visit.requests == [URL]


def test_the_filter_narrows_the_items(visit: Visit, report: Report) -> None:
    page = visit.page
    page.locator("#filter").fill("question 3")
    assert page.locator("details.item:visible").count() == 1
    assert page.locator("#shown").inner_text() == f"1 of {report.items} items"
    page.locator("#filter").fill("")
    page.locator("#only-wrong").check()
    wrong = page.locator('details.item[data-wrong="1"]').count()
    assert 0 < wrong < report.items and page.locator("details.item:visible").count() == wrong


def test_the_page_fits_a_phone(browser: Any, report: Report, tmp_path: Path) -> None:
    visit = Visit(browser, report.html, PHONE, mobile=True)
    try:
        page = visit.page
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth, Math.max("
            "...[...document.querySelectorAll('figure.plot svg')].map((s) => s.getBoundingClientRect().right))]"
        )
        page_width, body_width, screen, rightmost_plot = widths
        assert screen == PHONE["width"]
        assert page_width <= screen and body_width <= screen and rightmost_plot <= screen
        visit.screenshot("report-phone.png", tmp_path)
        assert visit.problems == [] and visit.requests == [URL]
    finally:
        visit.context.close()
