"""The programme's learning system in a real browser (issue J): ``qiwidgets serve`` on the
sample programme, driven by Debian's Chromium through Playwright (fixtures ``store``, ``server``,
``visit`` in conftest.py). The change-idea library filters by measure and decision (and by a
search) as the core's pure filter does; the learning-system health renders for the programme and
for one team, on the programme dashboard and on the team's own; the page keeps free of serious
accessibility violations. Screenshots go to test-artifacts/dashboards/.

Waits are on what the page shows, never on fixed sleeps.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

from browser import PAGE_TIMEOUT, assert_no_violation, screenshot

from qiwidgets import workbook as wb

MONTH = "2026-10"


@pytest.fixture(scope="module")
def core(store):
    """What the core says the page should show."""
    status = wb.programme_status(store)
    return {"library": wb.library_from(status),
            "health": wb.learning_system_health(store, month=status.month)}  # fmt: skip


def _library_shows(page, n: int) -> None:
    page.wait_for_selector(f".qi-library-browser .qi-library[data-qi-ideas='{n}']",
                           timeout=PAGE_TIMEOUT)  # fmt: skip


def _shown(board) -> list[tuple[str, str, str]]:
    """(idea, team, decision) of every test row the library shows."""
    return board.locator(".qi-library-browser .qi-idea tr[data-qi-decision]").evaluate_all(
        "rows => rows.map(r => [r.closest('.qi-idea').dataset.qiIdea, r.dataset.qiTeam,"
        " r.dataset.qiDecision])")  # fmt: skip


def _expected(library) -> list[tuple[str, str, str]]:
    return [(i.key, t.team_code, t.decision_key) for i in library.ideas for t in i.tests]


def test_the_change_idea_library_filters_by_measure_and_decision(server, visit, core):
    library = core["library"]
    v = visit()
    page = v.open(server.url("programme.ipynb"), charts=2)
    board = page.locator(".qi-programme-dashboard")
    browser_box = board.locator(".qi-library-browser")
    _library_shows(page, len(library.ideas))
    assert sorted(map(tuple, _shown(board))) == sorted(_expected(library))
    screenshot(page, "programme-change-idea-library.png")

    selects = browser_box.locator(".widget-dropdown select")
    # by measure: the ideas whose tests watch Ward 7's lying and standing BP measure
    selects.nth(0).select_option(label=dict(library.measure_options)["LYING_STANDING_BP"])
    want = library.filter(measure="LYING_STANDING_BP")
    _library_shows(page, len(want.ideas))
    assert sorted(map(tuple, _shown(board))) == sorted(_expected(want))
    # and by decision: nothing was abandoned there; then every measure, abandoned tests only
    selects.nth(1).select_option(label="Abandoned")
    _library_shows(page, len(library.filter(measure="LYING_STANDING_BP", decision="abandon")
                             .ideas))  # fmt: skip
    selects.nth(0).select_option(label="All measures")
    want = library.filter(decision="abandon")
    _library_shows(page, len(want.ideas))
    shown = _shown(board)
    assert shown and {d for _, _, d in shown} == {"abandon"}
    assert sorted(map(tuple, shown)) == sorted(_expected(want))
    # a search narrows it further (typed, then Enter)
    box = browser_box.locator("input[type='text']").first
    box.fill("socks")
    box.press("Enter")
    want = library.filter(search="socks", decision="abandon")
    _library_shows(page, len(want.ideas))
    assert sorted(map(tuple, _shown(board))) == sorted(_expected(want))
    assert browser_box.locator(".qi-status-info").filter(has_text="1 change idea shown").count()
    assert not v.errors, v.errors


def test_the_health_view_renders_for_the_programme_and_one_team(server, visit, core):
    health = core["health"]
    v = visit()
    page = v.open(server.url("programme.ipynb"), charts=2)
    box = page.locator(".qi-programme-dashboard .qi-health-browser")
    programme = box.locator(".qi-health[data-qi-health-scope='programme']")
    programme.wait_for(timeout=PAGE_TIMEOUT)

    def ratings(scope):
        return dict(scope.locator("tr[data-qi-component]").evaluate_all(
            "rows => rows.map(r => [r.dataset.qiComponent, r.dataset.qiRating])"))  # fmt: skip

    want = {c.component: str(c.rating) for c in health.programme.components}
    assert ratings(programme) == want
    assert health.programme.attention.label in programme.inner_text()
    box.locator(".widget-dropdown select").first.select_option(label="Ward 3 (Stroke)")
    team = box.locator(".qi-health[data-qi-health-scope='W03']")
    team.wait_for(timeout=PAGE_TIMEOUT)
    w03 = health.team("W03")
    assert ratings(team) == {c.component: str(c.rating) for c in w03.components}
    text = team.inner_text()
    assert "Ward 3 (Stroke)'s team" in text and w03.attention.label in text
    assert all(c.comment in text for c in w03.components)
    assert box.locator(".qi-health-teams tbody tr").count() == 12  # every team, by name
    box.scroll_into_view_if_needed()
    screenshot(page, "programme-health.png")
    assert not v.errors, v.errors


def test_a_team_s_dashboard_shows_its_own_learning_system_check(server, visit, core):
    v = visit()
    page = v.open(server.url("team.ipynb", team="W03"), charts=1)
    folded = page.locator(".qi-team-dashboard details.qi-team-health")
    folded.wait_for(timeout=PAGE_TIMEOUT)
    w03 = core["health"].team("W03")
    assert w03.attention.label in folded.locator("summary").inner_text()
    folded.locator("summary").click()
    shown = folded.locator(".qi-health[data-qi-health-scope='W03'] tr[data-qi-component]")
    shown.first.wait_for(timeout=PAGE_TIMEOUT)
    assert shown.count() == 7
    assert not v.errors, v.errors


def test_the_programme_page_has_no_accessibility_violation_once_filtered(server, visit):
    v = visit()
    page = v.open(server.url("programme.ipynb"), charts=2)
    box = page.locator(".qi-library-browser")
    box.locator(".widget-dropdown select").nth(1).select_option(label="Adopted")
    page.wait_for_selector(".qi-library-browser .qi-status-info", timeout=PAGE_TIMEOUT)
    page.locator(".qi-programme-dashboard details").first.locator("summary").click()
    assert_no_violation(page, "the programme dashboard, library filtered, evidence open")
    assert not v.errors, v.errors
