"""Browser-test support: a served store, Debian's Chromium through Playwright, and a visit
that records every request, dialog and page error, and axe-core's accessibility check of a page
as shown. Imported by the browser test modules, which use its fixtures (``store``, ``server``,
``browser``, ``visit``, defined in conftest.py).

Waits are on what the page shows (widget selectors, a drawn chart's ``data-drawn="yes"``,
a status message), never on fixed sleeps; nothing here asserts a duration.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "dashboards"
PAGE_TIMEOUT = 180_000  # ms: a kernel start on a loaded 2-core machine can take a while
#: Every chart a visitor can see is drawn (a chart in a closed tab is drawn when it is opened).
EVERY_SHOWN_CHART_DRAWN = """() => [...document.querySelectorAll('.qi-vl:not([data-drawn="yes"])')]
    .every(el => el.getClientRects().length === 0)"""
ACTION_TIMEOUT = 90_000

if not Path("/usr/bin/chromium").exists():  # the Makefile installs it (`make test`)
    pytest.fail("Debian's chromium is missing: run `make system-deps` (apt-get install chromium).",
                pytrace=False)  # fmt: skip


class Visit:
    """A browser context that records every request, dialog, console error and page error."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1200, "height": 1000})
        self.context.set_default_timeout(ACTION_TIMEOUT)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.document = None  # the response of the last page opened (the HTML as served)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, url: str, *, charts: int = 1):
        self.document = self.page.goto(url, wait_until="commit", timeout=PAGE_TIMEOUT)
        self.page.wait_for_selector(
            ".qi-team-dashboard, .qi-programme-dashboard, .qi-failed, .qi-refused",
            timeout=PAGE_TIMEOUT,
        )
        if charts:
            self.wait_charts(charts)
        return self.page

    def wait_charts(self, n: int, scope: str = "") -> None:
        self.page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length >= n",
            arg=[f"{scope} .qi-vl[data-drawn='yes'] svg".strip(), n], timeout=PAGE_TIMEOUT,
        )  # fmt: skip

    def hosts(self) -> set[str]:
        return {urllib.parse.urlsplit(u).netloc for u in self.requests if "://" in u}

    def close(self):
        self.context.close()


def screenshot(page, name: str) -> Path:
    """A full-page screenshot (the page scrolls inside Voilà's container: size the viewport)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        "() => { const el = document.querySelector('#rendered_cells');"
        " return Math.max(document.body.scrollHeight, el ? el.scrollHeight + 80 : 0); }"
    )
    page.set_viewport_size({"width": 1200, "height": max(800, min(int(height), 10000))})
    page.wait_for_function(EVERY_SHOWN_CHART_DRAWN)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1200, "height": 1000})
    # kept as a test artefact: LOOK at it (test-artifacts/dashboards/*.png)
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small"
    return path


# --- accessibility: axe-core in the page ---------------------------------------------------

_AXE = Axe()  # the axe.min.js bundled in the wheel (axe_playwright_python/axe.min.js)


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as shown now (every rule axe runs by default)."""
    return _AXE.run(page).response["violations"]


def describe(violations: list[dict], nodes: int = 3) -> str:
    """Each violation's id, impact, what it asks, and the HTML of its first ``nodes`` nodes."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} - {len(v['nodes'])} node(s)")
        for node in v["nodes"][:nodes]:
            lines.append(f"    {node['html'][:300]}")
            why = " ".join((node.get("failureSummary") or "").split())
            if why:
                lines.append(f"      {why[:300]}")
    return "\n".join(lines)


def assert_no_violation(page, where: str) -> None:
    """Fail on any violation axe-core finds (critical to minor), naming each."""
    found = axe_violations(page)
    if found:
        pytest.fail(f"axe-core on {where}:\n{describe(found)}", pytrace=False)
