"""Learning practice in the monthly reports (issue M), on the sample programme: built through
papermill as ``qiwidgets reports`` builds them, each new section is there and says what the core
worked out; the team report never carries the team's safety pulse (its programme lead reads it),
and the programme report shows the pulse only as totals across teams.
"""

from __future__ import annotations

import pytest

from qiwidgets.reports import programme as programme_report
from qiwidgets.reports import runner
from qiwidgets.reports import team as team_report

pytestmark = pytest.mark.slow

MONTH = "2026-10"


@pytest.fixture(scope="module")
def built(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = runner.run_reports(MONTH, store, out, ["W05", "W12"], workers=1, timeout=240)
    assert all(r.ok for r in result.built), [r.describe() for r in result.failed]
    return out / MONTH


def test_the_team_report_shows_its_people_help_and_practice_but_not_its_pulse(built):
    html = (built / "teams" / "W05.html").read_text(encoding="utf-8")
    assert "<h2>The team</h2>" in html and "Helen Achebe" in html and "Patient or family partner" in html
    assert "<h2>Learning practice</h2>" in html
    assert 'data-qi-help="open"' in html and "night-shift version" in html  # still open
    assert "safety pulse is not in this report" in html
    assert "data-qi-pulse" not in html and "Agree, all statements" not in html


def test_the_programme_report_shows_who_asks_for_help_and_only_pooled_pulses(built):
    html = (built / "programme.html").read_text(encoding="utf-8")
    assert "Teams asking for help" in html
    assert html.count('data-qi-help="open"') == 2  # the sample's two open requests
    assert 'data-qi-pulse-scope="programme"' in html and 'data-qi-pulse-scope="team"' not in html
    assert html.count('data-qi-pulse-shown="yes"') == 6  # May to October 2026, pooled
    assert "How learning levels move" in html and "Tom Lindqvist" in html


def test_a_report_of_an_earlier_month_suggests_questioning_the_theory(store):
    """Ward 3 had three decided tests on falls with harm and no signal by April 2025; its
    double-loop reflection came in February 2026. Its June 2025 report suggests it; its October
    2026 report no longer does."""
    june = team_report.build(store, "W03", "2025-06").section("practice")
    assert 'data-qi-prompt="no_signal"' in june and "Falls with harm" in june
    october = team_report.build(store, "W03", "2026-10").section("practice")
    assert "data-qi-prompt" not in october and "No suggestion now" in october
    summary = programme_report.build(store, "2025-06", "/nonexistent").section("practice")
    assert "Ward 3 (Stroke)" in summary and 'data-qi-prompt="no_signal"' in summary


def test_the_team_report_shows_skills_as_counts_and_its_fishbone(built):
    """Ward 5's report: its skills as counts with its gaps, and its fishbone with the driver
    each cause links to; Ward 12 has no fishbone yet and says so."""
    html = (built / "teams" / "W05.html").read_text(encoding="utf-8")
    skills = html.split("coverage and gaps</h3>")[1].split("<h3>")[0]
    assert 'data-qi-skills-answered="5"' in skills and "5 of 7 people" in skills
    assert 'data-qi-skill="soft_drivers_blockers" data-qi-skill-gap="yes"' in skills
    assert 'data-qi-skill="tech_pdsa" data-qi-skill-gap="no"' in skills
    for name in ("Beth Smith", "Fay Patel"):  # W05's people are in the roster, not here
        assert name not in skills
    assert 'data-qi-fishbone=' in html and "furthest from the nurses" in html
    assert "→ Change idea: Non-slip socks stocked in every bay" in html
    assert "4 of 8 causes link to the driver diagram" in html
    w12 = (built / "teams" / "W12.html").read_text(encoding="utf-8")
    assert "has not drawn a cause-and-effect diagram yet" in w12 and "data-qi-skills-answered" in w12


def test_the_programme_report_shows_skills_gaps_across_teams_as_counts(built):
    html = (built / "programme.html").read_text(encoding="utf-8")
    gaps = html.split("gaps across teams</h3>")[1].split("<h3>")[0]
    assert "6 of 12 teams have skills profiles from 3 people or more (33 people)" in gaps
    assert 'data-qi-skill="tech_variation" data-qi-skill-gap-teams="3"' in gaps
    assert "Ward" not in gaps and "@" not in gaps  # no team and no person named
