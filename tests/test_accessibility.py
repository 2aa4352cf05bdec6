"""Accessibility (issue F, WCAG 2.2 AA as the NHS service standard asks): axe-core, run in
Debian's Chromium, finds no violation at any impact level (heading order and empty table headers
included) on the team dashboard (every tab), the programme dashboard, a team report and the
programme report; every Making Data Count icon keeps its text title and every chart has a text
alternative.

axe-core comes inside the PyPI package ``axe-playwright-python`` (its ``axe.min.js``, injected
into the page by Playwright): nothing is fetched at test time. The dashboards are served by the
real ``qiwidgets serve`` (fixtures ``server``, ``browser``, ``visit`` in conftest.py); the
reports are built by the real pipeline (``runner.run_reports``, papermill in spawned workers)
for two teams, and opened from ``file://``.

No rule is switched off and nothing is excluded: a finding is fixed where the markup or colour is
made (views.py, the dashboards' qiwidgets.css, reports/html.py, charts/palette.py).
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

from browser import EVERY_SHOWN_CHART_DRAWN, PAGE_TIMEOUT, assert_no_violation
from jupyter_state import jupyter_state

MONTH = "2026-10"
REPORT_TEAMS = ["W01", "W02"]
#: The team dashboard's tabs after the first ("Measures"), and what each shows once it is
#: built (its panel fills after the tab opens; waits are on what the page shows).
TEAM_TABS = {
    "Our data": ".qi-data-row",
    "Explore a chart": "h3:text-is('On this chart')",
    "PDSA cycles": "h3:text-is('Act')",
    "Reflections": ".qi-reflections",
    "Progress score": "h3:text-is('History')",
    "Aim and drivers": "h3:text-is('Change or remove a cause')",
    "Our team": ".qi-skills",
    "Other teams": "h3:text-is('What our team shared, and the comments on it')",
}
OPEN_PANEL = ".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)"


# --- checks -----------------------------------------------------------------------------------

#: In the page: every MDC icon (``svg.qiw-icon``) is an image with a text ``<title>``; every
#: chart (a dashboard's ``.qi-vl``, a report's ``figure.qiw-chart``, and any Vega SVG
#: ``svg.marks`` outside them) has a text alternative: a labelled ``role="img"`` (or Vega's
#: ``role="graphics-document"``, which it puts on the element it draws into, keeping our
#: label), or a root ``<svg role="img">`` with a ``<title>`` or ``<desc>``.
TEXT_ALTERNATIVES = """() => {
  const text = el => (el && el.textContent || '').trim();
  const label = el => (el.getAttribute('aria-label') || '').trim();
  const short = el => el.outerHTML.slice(0, 240);
  const problems = [];
  const icons = [...document.querySelectorAll('svg.qiw-icon')];
  for (const svg of icons) {
    if (svg.getAttribute('role') !== 'img' || !text(svg.querySelector(':scope > title'))) {
      problems.push('icon without role="img" and a <title>: ' + short(svg));
    }
  }
  const labelledSvg = svg => svg && svg.getAttribute('role') === 'img' &&
      (label(svg) || text(svg.querySelector(':scope > title')) ||
       text(svg.querySelector(':scope > desc')));
  const holders = [...document.querySelectorAll('.qi-vl, figure.qiw-chart')];
  const loose = [...document.querySelectorAll('svg.marks')]
      .filter(svg => !svg.closest('.qi-vl, figure.qiw-chart'));
  for (const el of [...holders, ...loose]) {
    const role = el.getAttribute('role');
    const named = ['img', 'graphics-document'].includes(role) && label(el);
    const svg = el.matches('svg') ? el : el.querySelector('svg.marks, :scope > svg');
    if (!named && !labelledSvg(svg)) {
      problems.push('chart without a text alternative: ' + short(el));
    }
  }
  return {icons: icons.length, charts: holders.length + loose.length, problems};
}"""


def assert_text_alternatives(page, where: str, *, icons: int, charts: int) -> None:
    found = page.evaluate(TEXT_ALTERNATIVES)
    assert not found["problems"], f"{where}:\n" + "\n".join(found["problems"])
    assert found["icons"] >= icons, (where, found)  # the checks above saw the page's icons
    assert found["charts"] >= charts, (where, found)


# --- the dashboards ---------------------------------------------------------------------------


def test_team_dashboard_every_tab(server, visit):
    from qiwidgets.dashboards.team import TABS

    assert list(TEAM_TABS) == list(TABS[1:])  # a new tab is checked too
    v = visit()
    page = v.open(server.url("team.ipynb", team="W01"), charts=3)
    page.wait_for_function(EVERY_SHOWN_CHART_DRAWN, timeout=PAGE_TIMEOUT)
    assert_no_violation(page, "the team dashboard, Measures tab")
    assert_text_alternatives(page, "the team dashboard, Measures tab", icons=3, charts=3)

    for title, ready in TEAM_TABS.items():
        page.locator(".lm-TabBar-tab", has_text=title).first.click()
        panel = page.locator(OPEN_PANEL)
        panel.locator(ready).first.wait_for(timeout=PAGE_TIMEOUT)
        page.wait_for_function(EVERY_SHOWN_CHART_DRAWN, timeout=PAGE_TIMEOUT)
        assert_no_violation(page, f"the team dashboard, {title!r} tab")
        assert_text_alternatives(page, f"the team dashboard, {title!r} tab", icons=0, charts=0)

    # a status message (another team chosen): its colour too
    page.locator(".lm-TabBar-tab", has_text="Measures").first.click()
    page.locator(".qi-team-dashboard .widget-dropdown select").first.select_option(
        label="Ward 2 (Care of Older People)"
    )
    page.locator(".qi-status-info").filter(has_text="Ward 2").first.wait_for()
    page.wait_for_function(EVERY_SHOWN_CHART_DRAWN, timeout=PAGE_TIMEOUT)
    assert_no_violation(page, "the team dashboard after choosing another team")
    assert not v.errors, v.errors


def test_programme_dashboard(server, visit):
    v = visit()
    page = v.open(server.url("programme.ipynb"), charts=2)
    page.wait_for_function(EVERY_SHOWN_CHART_DRAWN, timeout=PAGE_TIMEOUT)
    assert_no_violation(page, "the programme dashboard")
    assert_text_alternatives(page, "the programme dashboard", icons=12, charts=2)
    assert not v.errors, v.errors


# --- the reports ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(store, tmp_path_factory):
    """The month's reports for two teams and the programme, built by the real pipeline, with
    Jupyter's state in a temporary folder (jupyter_state.py)."""
    from qiwidgets.reports import runner

    out = tmp_path_factory.mktemp("a11y-reports")
    with jupyter_state(tmp_path_factory.mktemp("a11y-jupyter")):
        result = runner.run_reports(MONTH, store, out, REPORT_TEAMS, workers=2, timeout=240)
    month = out / MONTH
    assert (month / "programme.html").is_file(), result
    for code in REPORT_TEAMS:
        assert (month / "teams" / f"{code}.html").is_file(), result
    return month


@pytest.mark.parametrize("which", ["team", "programme"])
def test_report(reports, visit, which):
    path = reports / ("teams/W01.html" if which == "team" else "programme.html")
    v = visit()
    v.page.goto(path.as_uri(), timeout=PAGE_TIMEOUT)
    where = f"the {which} report ({path.name})"
    assert_no_violation(v.page, where)
    if which == "team":
        assert_text_alternatives(v.page, where, icons=3, charts=3)
    else:
        assert_text_alternatives(v.page, where, icons=len(REPORT_TEAMS), charts=2)
    assert {u.split(":", 1)[0] for u in v.requests} <= {"file", "data"}, v.requests
    assert not v.errors, v.errors
    # the check itself: an icon without its title and a chart without a name are found
    v.page.evaluate("""() => {
      document.querySelector('svg.qiw-icon > title').remove();
      const svg = document.querySelector('figure.qiw-chart svg');
      svg.querySelectorAll(':scope > title, :scope > desc').forEach(t => t.remove());
    }""")
    problems = v.page.evaluate(TEXT_ALTERNATIVES)["problems"]
    assert len(problems) == 2 and "icon" in problems[0] and "chart" in problems[1], problems
