"""Take the README's screenshots of learning practice (issue M), by hand:
``.venv/bin/python docs/make_practice_screenshots.py``.

Loads the sample programme into a temporary store, gives links to a member of Ward 5 and to the
programme lead (the sample's own people), serves the dashboards, has the member ask for help on
the ward's page, and saves the request as the lead's page shows it
(docs/img/practice-help-lead.png) and the member's "My skills" form with the ward's counts and
gaps (docs/img/practice-skills.png). Debian's Chromium through Playwright; nothing is fetched from
the network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
MEMBER = "cal.roberts@riverside.example"
LEAD = "rosa.mendes@falls-collaborative.example"
REQUEST = ("Our night team would like to see how Ward 1 runs the risk-assessment prompt at "
           "night: could someone from Ward 1 join our huddle next week?")  # fmt: skip
WAIT = 180_000  # ms


def main() -> int:
    from playwright.sync_api import sync_playwright

    from qiwidgets.dashboards.harness import ServedDashboards, launch_chromium
    from qiwidgets.store import people
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    with tempfile.TemporaryDirectory(prefix="qiwidgets-shots-") as tmp:
        db = str(Path(tmp) / "sample.db")
        init_db(db)
        load_sample(db)
        member = people.create_link(db, MEMBER)[1]
        lead = people.create_link(db, LEAD)[1]
        dispose_engines()
        with ServedDashboards(db, workdir=Path(tmp) / "serve") as served, \
                sync_playwright() as p:  # fmt: skip
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto(served.url("team.ipynb", token=False, access=member), wait_until="commit")
            page.wait_for_selector(".qi-team-dashboard", timeout=WAIT)
            page.locator(".lm-TabBar-tab", has_text="Our team").first.click()
            form = page.locator(".qi-help-form")
            form.locator("textarea").wait_for(timeout=WAIT)
            form.locator("textarea").fill(REQUEST)
            form.get_by_role("button", name="Ask for help").click()
            form.locator(".qi-status-ok").wait_for(timeout=WAIT)
            skills = page.locator(".qi-my-skills")
            skills.locator(".qi-skills").first.wait_for(timeout=WAIT)
            shot = OUT / "practice-skills.png"
            page.set_viewport_size({"width": 1000, "height": 2400})  # the form and counts whole
            skills.evaluate("e => e.scrollIntoView({block: 'center'})")
            box = skills.bounding_box()
            width = page.evaluate("e => Math.max(e.scrollWidth, e.getBoundingClientRect().width)",
                                  skills.element_handle())  # fmt: skip
            page.screenshot(path=str(shot), clip={
                "x": box["x"] - 8, "y": box["y"] - 8, "width": min(width + 24, 1000 - box["x"]),
                "height": box["height"] + 16})  # fmt: skip
            page.set_viewport_size({"width": 1000, "height": 1400})
            print("wrote", shot.relative_to(ROOT))

            page.goto(served.url("programme.ipynb", token=False, access=lead),
                      wait_until="commit")  # fmt: skip
            inbox = page.locator(".qi-help-inbox")
            inbox.locator("li.qi-help").first.wait_for(timeout=WAIT)
            top = page.locator(".qi-help-heading").bounding_box()
            box = inbox.bounding_box()
            shot = OUT / "practice-help-lead.png"
            page.screenshot(path=str(shot), clip={
                "x": box["x"] - 8, "y": top["y"] - 8, "width": box["width"] + 16,
                "height": box["y"] + box["height"] - top["y"] + 16})  # fmt: skip
            print("wrote", shot.relative_to(ROOT))
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
