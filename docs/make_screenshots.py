"""Take the README's screenshots of measure cards, by hand: ``.venv/bin/python docs/make_screenshots.py``.

Loads the sample programme into a temporary store, builds the October 2026 reports of Wards 6
and 7, serves the dashboards, and saves, for each card, the card as the team dashboard shows it
and as the team report prints it (docs/img/card-<team>-<measure>-{dashboard,report}.png).
Debian's Chromium through Playwright; nothing is fetched from the network.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
MONTH = "2026-10"
#: The cards issue F names: Ward 6's risk assessment, Ward 7's falls (phases) and its own
#: process measure.
CARDS = (("W06", "RISK_24H"), ("W07", "FALLS_HARM"))


def main() -> int:
    from playwright.sync_api import sync_playwright

    from qiwidgets.dashboards.harness import ServedDashboards, launch_chromium
    from qiwidgets.reports import runner
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    with tempfile.TemporaryDirectory(prefix="qiwidgets-shots-") as tmp:
        db = str(Path(tmp) / "sample.db")
        init_db(db)
        load_sample(db)
        dispose_engines()
        out = Path(tmp) / "reports"
        teams = sorted({t for t, _ in CARDS})
        result = runner.run_reports(MONTH, db, out, teams=teams, workers=2)
        if not all(r.ok for r in result.built):
            print("reports failed:", [r.describe() for r in result.failed], file=sys.stderr)
            return 1
        with ServedDashboards(db, workdir=Path(tmp) / "serve") as served, \
                sync_playwright() as p:  # fmt: skip
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 900, "height": 1400})
            for team, measure in CARDS:
                page.goto(served.url("team.ipynb", team=team), wait_until="commit")
                card = page.locator(f".qi-card[data-qi-team='{team}'][data-qi-measure='{measure}']")
                card.wait_for(timeout=180_000)
                card.locator(".qi-vl[data-drawn='yes'] svg").wait_for(timeout=180_000)
                shot = OUT / f"card-{team}-{measure}-dashboard.png"
                card.screenshot(path=str(shot))
                print("wrote", shot.relative_to(ROOT))
                report = out / MONTH / "teams" / f"{team}.html"
                page.goto(report.as_uri())
                section = page.locator(f"section[data-qi-measure='{measure}']")
                shot = OUT / f"card-{team}-{measure}-report.png"
                section.screenshot(path=str(shot))
                print("wrote", shot.relative_to(ROOT))
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
