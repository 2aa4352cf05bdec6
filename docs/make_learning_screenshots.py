"""Take the README's screenshots of the programme's learning system, by hand:
``.venv/bin/python docs/make_learning_screenshots.py``.

Loads the sample programme into a temporary store, serves the dashboards, and saves from the
programme dashboard (October 2026): the month in one paragraph, the funnel plot, the
learning-system health (the programme's check, then Ward 3's), the change-idea library searched
and filtered by measure and decision, and a bright spot's story (docs/img/learning-*.png). The
sample's teams are taken to have shared with the programme the reflections they marked as a
bright spot or as may-generalise. Debian's Chromium through Playwright; nothing is fetched from
the network.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
WAIT = 180_000  # ms


def share_flagged_reflections(db: str) -> None:
    """As the sample's teams would: share with the programme the reflections they marked as a
    bright spot or as may-generalise (the sample leaves every reflection with its team)."""
    import sqlite3

    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE reflections SET shared = 1 WHERE bright_spot = 1 OR generalisable = 1")
    con.close()


def main() -> int:
    from playwright.sync_api import sync_playwright

    from qiwidgets.dashboards.harness import ServedDashboards, launch_chromium
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    with tempfile.TemporaryDirectory(prefix="qiwidgets-shots-") as tmp:
        db = str(Path(tmp) / "sample.db")
        init_db(db)
        load_sample(db)
        dispose_engines()
        share_flagged_reflections(db)
        with ServedDashboards(db, workdir=Path(tmp) / "serve") as served, \
                sync_playwright() as p:  # fmt: skip
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(served.url("programme.ipynb"), wait_until="commit")
            page.locator(".qi-funnel .qi-vl[data-drawn='yes'] svg").wait_for(timeout=WAIT)

            def shot(locator, name: str) -> None:
                locator.scroll_into_view_if_needed()
                path = OUT / name
                locator.screenshot(path=str(path))
                print("wrote", path.relative_to(ROOT))

            shot(page.locator(".qi-month-summary").first, "learning-month-summary.png")
            shot(page.locator(".qi-funnel").first, "learning-funnel.png")
            health = page.locator(".qi-health-browser")
            shot(health.locator(".qi-health").first, "learning-health-programme.png")
            health.locator(".widget-dropdown select").first.select_option(label="Ward 3 (Stroke)")
            team = health.locator(".qi-health[data-qi-health-scope='W03']")
            team.wait_for(timeout=WAIT)
            shot(team, "learning-health-team.png")
            library = page.locator(".qi-library-browser")
            library.locator(".widget-dropdown select").nth(1).select_option(label="Adopted")
            library.locator(".widget-dropdown select").nth(0).select_option(
                label="Falls with harm per 1,000 occupied bed days")
            search = library.locator("input[type='text']").first
            search.fill("rounding")
            search.press("Enter")
            page.locator(".qi-library-browser .qi-library[data-qi-ideas='1']").wait_for(
                timeout=WAIT)  # fmt: skip
            shot(library, "learning-library.png")
            shot(page.locator(".qi-story").first, "learning-bright-spot.png")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
