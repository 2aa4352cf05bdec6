"""A new team enters its own data (issue G 1), in a real browser: ``qiwidgets import`` makes a
new ward with no data; its dashboard's "Our data" tab takes three months, the chart shows three
points, a reload shows them again, and the month's team report (the reports pipeline) reads
them. A bad value is named beside its cell and nothing is saved; of two visitors editing the
same month the second is refused and keeps what they typed; an upload with one bad row saves
nothing and lists the row.

Real ``qiwidgets serve`` (Voilà and kernels) and Debian's Chromium through Playwright. Waits are
on what the page shows, never on fixed sleeps.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

from browser import PAGE_TIMEOUT, screenshot

from qiwidgets.store import repo
from qiwidgets.widgets.data_entry import add_months, month_start

TEAM, NAME = "W13", "W13 Frailty"
#: The three months entered: the three before the current one (the grid shows six up to now).
THIS_MONTH = month_start(dt.date.today())
MONTHS = [add_months(THIS_MONTH, -k) for k in (3, 2, 1)]
FALLS = {MONTHS[0]: ("3", "812"), MONTHS[1]: ("2", "790"), MONTHS[2]: ("4", "800")}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The sample programme, and a new ward imported as an analyst would (no data yet)."""
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    folder = tmp_path_factory.mktemp("new-team")
    path = folder / "store.db"
    init_db(f"sqlite:///{path}")
    load_sample(f"sqlite:///{path}")
    dispose_engines()
    teams = folder / "teams.csv"
    teams.write_text(f"programme,code,name,organisation\nFALLS,{TEAM},{NAME},Northfield\n",
                     encoding="utf-8")  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "qiwidgets.cli", "import", "teams", str(teams),
                           "--db", str(path)], capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert repo.observations(str(path), TEAM).empty
    return str(path)


def open_our_data(visit_, server):
    """The new team's dashboard on its "Our data" tab: the page and the open panel."""
    page = visit_.open(server.url("team.ipynb", team=TEAM), charts=0)
    page.wait_for_function(
        "t => (document.querySelector('.qi-team-name') || {}).textContent === t",
        arg=NAME, timeout=PAGE_TIMEOUT,
    )  # fmt: skip
    page.locator(".lm-TabBar-tab", has_text="Our data").first.click()
    panel = page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")
    panel.locator(".qi-data-row").first.wait_for(timeout=PAGE_TIMEOUT)
    return page, panel


def box(panel, measure: str, month: dt.date, field: str):
    return panel.locator(f".qi-data-{measure}-{month:%Y-%m}.qi-data-{field} input").first


def type_month(panel, measure: str, month: dt.date, **values: str) -> None:
    for field, text in values.items():
        box(panel, measure, month, field).fill(text)
        box(panel, measure, month, field).press("Tab")


def save(panel) -> None:
    panel.locator(".qi-data-save").first.click()


def status(panel, kind: str, text: str):
    found = panel.locator(f".qi-status-{kind}", has_text=text).first
    found.wait_for(timeout=PAGE_TIMEOUT)
    return found


def stored(db: str) -> dict:
    data = repo.observations(db, TEAM)
    return {(r.measure, r.period.date()): (r.numerator, r.denominator)
            for r in data.itertuples()}  # fmt: skip


def test_a_new_team_enters_three_months_and_sees_them_everywhere(server, store, visit,
                                                                 tmp_path):  # fmt: skip
    v = visit()
    page, panel = open_our_data(v, server)
    for month, (num, den) in FALLS.items():
        type_month(panel, "FALLS_HARM", month, numerator=num, denominator=den)
    type_month(panel, "FALLS_HARM", MONTHS[2], note="One fall found in the incident log late")
    save(panel)
    status(panel, "ok", "Saved 3 values")
    assert stored(store) == {("FALLS_HARM", m): (float(n), float(d)) for m, (n, d) in
                             FALLS.items()}  # fmt: skip
    screenshot(page, "data-entry-saved.png")

    # the family's charts are drawn again: the falls chart has three points
    page.locator(".lm-TabBar-tab", has_text="Measures").first.click()
    chart = page.locator(".qi-card", has=page.locator("[data-qi-measure='FALLS_HARM']")).first
    chart.locator(".qi-vl[data-drawn='yes'] svg").first.wait_for(timeout=PAGE_TIMEOUT)
    points = chart.locator(".qi-vl svg path[aria-roledescription='point']")
    assert points.count() == 3, chart.inner_html()[:3000]

    # a reload shows what the store holds
    page, panel = open_our_data(v, server)
    for month, (num, den) in FALLS.items():
        assert box(panel, "FALLS_HARM", month, "numerator").input_value() == num
        assert box(panel, "FALLS_HARM", month, "denominator").input_value() == den
    assert box(panel, "FALLS_HARM", MONTHS[2], "note").input_value() == (
        "One fall found in the incident log late")  # fmt: skip

    # the monthly team report for the last month reads them (the reports pipeline: papermill)
    from qiwidgets.reports import runner

    month = f"{MONTHS[2]:%Y-%m}"
    out = tmp_path / "reports"
    with pytest.MonkeyPatch.context() as mp:  # Jupyter's state in a temporary folder
        for var in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
            (tmp_path / var).mkdir()
            mp.setenv(var, str(tmp_path / var))
        mp.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
        result = runner.run_reports(month, store, out, [TEAM], workers=1, timeout=240)
    assert [r.key for r in result.built] == [TEAM] and not result.failed, result.failed
    report = (out / month / "teams" / f"{TEAM}.html").read_text(encoding="utf-8")
    assert NAME in report and 'data-qi-measure="FALLS_HARM"' in report
    assert f"latest 5 per 1,000 bed days ({MONTHS[2]:%b %Y})" in report  # 4 / 800 x 1,000


def test_a_bad_value_is_named_beside_its_cell_and_nothing_is_saved(server, store, visit):
    page, panel = open_our_data(visit(), server)
    before = stored(store)
    month = MONTHS[0]
    type_month(panel, "RISK_24H", month, numerator="twelve", denominator="20")
    type_month(panel, "MOBILITY_LOSS", month, numerator="-1", denominator="20")
    type_month(panel, "RISK_24H", MONTHS[1], numerator="21", denominator="20")
    save(panel)
    status(panel, "problem", "Nothing was saved: 3 months need attention")
    messages = panel.locator(".qi-cell-message")
    messages.nth(2).wait_for(timeout=PAGE_TIMEOUT)
    texts = messages.all_inner_texts()
    risk = repo.get_measure(store, "RISK_24H", TEAM).name
    mobility = repo.get_measure(store, "MOBILITY_LOSS", TEAM).name
    assert any(f"{risk}, {month:%B %Y}: `numerator` must be a number" in t for t in texts), texts
    assert any(f"{mobility}, {month:%B %Y}: `numerator` must be zero or more" in t
               for t in texts), texts  # fmt: skip
    assert any(f"{risk}, {MONTHS[1]:%B %Y}: `numerator` must not be more than the denominator"
               in t for t in texts), texts  # fmt: skip
    assert stored(store) == before
    assert box(panel, "RISK_24H", month, "numerator").input_value() == "twelve"  # kept
    screenshot(page, "data-entry-bad-values.png")


def test_two_visitors_editing_the_same_month_the_second_is_refused_and_keeps_it(server, store,
                                                                                visit):  # fmt: skip
    month = MONTHS[1]
    _, first = open_our_data(visit(), server)
    page, second = open_our_data(visit(), server)
    type_month(first, "FALLS_HARM", month, numerator="5")
    save(first)
    status(first, "ok", "Saved 1 value")
    type_month(second, "FALLS_HARM", month, numerator="6")
    save(second)
    status(second, "conflict", "Someone else changed this data point")
    assert box(second, "FALLS_HARM", month, "numerator").input_value() == "6"
    second.locator(".qi-cell-conflict", has_text="someone else saved this month").first.wait_for()
    assert stored(store)[("FALLS_HARM", month)][0] == 5.0
    screenshot(page, "data-entry-second-visitor.png")


def test_an_upload_with_one_bad_row_saves_nothing_and_lists_the_row(server, store, visit,
                                                                    tmp_path):  # fmt: skip
    page, panel = open_our_data(visit(), server)
    before = stored(store)
    path = tmp_path / "ward-13.csv"
    path.write_text(
        "team,measure,period,numerator,denominator\n"
        f"{TEAM},RISK_24H,{MONTHS[0]:%Y-%m},14,20\n"
        f"{TEAM},RISK_24H,{MONTHS[1]:%Y-%m},25,20\n"
        f"{TEAM},RISK_24H,{MONTHS[2]:%Y-%m},15,21\n",
        encoding="utf-8",
    )
    with page.expect_file_chooser() as chooser:
        panel.locator(".qi-data-upload").first.click()
    chooser.value.set_files(str(path))
    status(panel, "problem", "ward-13.csv has 1 problem; nothing was imported.")
    report = panel.locator(".qi-upload-report table").first
    report.wait_for(timeout=PAGE_TIMEOUT)
    row = report.locator("tbody tr").first
    assert row.locator("td").all_inner_texts() == [
        "ward-13.csv", "3", "numerator", "25", "must not be more than the denominator"]  # fmt: skip
    assert stored(store) == before
    screenshot(page, "data-entry-upload-refused.png")
