"""Take the README's screenshots of data entry, by hand:
``.venv/bin/python docs/make_data_entry_screenshots.py``.

Loads the sample programme into a temporary store, imports a new ward (``qiwidgets import
teams``: no data yet), serves the dashboards, and on the ward's "Our data" tab types three
months of falls with harm and saves them, then types a numerator above its denominator and
saves again (refused, the message beside the month). Writes docs/img/data-entry.png (the tab)
and docs/img/data-entry-chart.png (the falls card with its three points). Debian's Chromium
through Playwright; nothing is fetched from the network.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
TEAM, NAME = "W13", "W13 Frailty"
WAIT = 180_000  # ms


def main() -> int:
    from playwright.sync_api import sync_playwright

    from qiwidgets.dashboards.harness import ServedDashboards, launch_chromium
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample
    from qiwidgets.widgets.data_entry import add_months, month_start

    this_month = month_start(dt.date.today())
    months = [add_months(this_month, -k) for k in (3, 2, 1)]
    falls = dict(zip(months, (("3", "812"), ("2", "790"), ("4", "800")), strict=True))
    with tempfile.TemporaryDirectory(prefix="qiwidgets-shots-") as tmp:
        db = str(Path(tmp) / "sample.db")
        init_db(db)
        load_sample(db)
        dispose_engines()
        teams = Path(tmp) / "teams.csv"
        teams.write_text(f"programme,code,name,organisation\nFALLS,{TEAM},{NAME},Northfield\n",
                         encoding="utf-8")  # fmt: skip
        subprocess.run([sys.executable, "-m", "qiwidgets.cli", "import", "teams", str(teams),
                        "--db", db], check=True)  # fmt: skip
        with ServedDashboards(db, workdir=Path(tmp) / "serve") as served, \
                sync_playwright() as p:  # fmt: skip
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1100, "height": 1600})
            panel = page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")

            def open_our_data() -> None:
                page.goto(served.url("team.ipynb", team=TEAM), wait_until="commit")
                page.locator(".qi-team-dashboard").wait_for(timeout=WAIT)
                page.locator(".lm-TabBar-tab", has_text="Our data").first.click()
                panel.locator(".qi-data-row").first.wait_for(timeout=WAIT)

            open_our_data()

            def box(measure: str, month: dt.date, field: str):
                return panel.locator(f".qi-data-{measure}-{month:%Y-%m}.qi-data-{field} input")

            for month, (num, den) in falls.items():
                box("FALLS_HARM", month, "numerator").fill(num)
                box("FALLS_HARM", month, "denominator").fill(den)
            box("FALLS_HARM", months[2], "note").fill("One fall found in the incident log late")
            panel.locator(".qi-data-save").click()
            panel.locator(".qi-status-ok", has_text="Saved 3 values").wait_for(timeout=WAIT)
            open_our_data()  # the saved months, as a visitor finds them
            box("RISK_24H", months[2], "numerator").fill("21")
            box("RISK_24H", months[2], "denominator").fill("20")
            panel.locator(".qi-data-save").click()
            panel.locator(".qi-cell-message").first.wait_for(timeout=WAIT)
            shot = OUT / "data-entry.png"
            panel.screenshot(path=str(shot))
            print("wrote", shot.relative_to(ROOT))
            page.locator(".lm-TabBar-tab", has_text="Measures").first.click()
            card = page.locator(f".qi-card[data-qi-team='{TEAM}'][data-qi-measure='FALLS_HARM']")
            card.locator(".qi-vl[data-drawn='yes'] svg").wait_for(timeout=WAIT)
            shot = OUT / "data-entry-chart.png"
            card.screenshot(path=str(shot))
            print("wrote", shot.relative_to(ROOT))
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
