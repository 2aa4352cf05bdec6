"""The programme's learning system (issue J), worked out once in ``qiwidgets.workbook.learning``
and rendered by every channel: the change-idea library across teams, the signal that followed a
test (the team page's rule), bright spots with their story, the learning-system health, a month
in one paragraph, and plain words for every term shown.

Expected values are read from the sample's own files (``data/samples/*.csv``), not from the
code under test. The reports built by the real pipeline (papermill) for two teams are checked at
the end (slow).
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from jupyter_state import jupyter_state

from qiwidgets import glossary, views
from qiwidgets import workbook as wb
from qiwidgets.workbook import learning

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
MONTH = "2026-10"


def _csv(name: str) -> list[dict[str, str]]:
    with open(SAMPLES / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def share_flagged_reflections(db: str) -> int:
    """The teams share with the programme the reflections they marked as a bright spot or as
    may-generalise (the sample leaves every reflection with its team). Returns how many."""
    import sqlite3

    con = sqlite3.connect(db)
    with con:
        n = con.execute("UPDATE reflections SET shared = 1 WHERE bright_spot = 1 "
                        "OR generalisable = 1").rowcount  # fmt: skip
    con.close()
    return n


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    path = tmp_path_factory.mktemp("learning") / "sample.db"
    init_db(str(path))
    load_sample(str(path))
    dispose_engines()
    assert share_flagged_reflections(str(path)) > 0
    return str(path)


@pytest.fixture(scope="module")
def status(sample_db):
    return wb.programme_status(sample_db, month=MONTH)


@pytest.fixture(scope="module")
def library(status):
    return wb.library_from(status)


# --- change ideas across teams ------------------------------------------------------------------


def test_a_change_idea_is_matched_by_its_name_whatever_the_case_spaces_and_punctuation():
    same = ["Non-slip socks stocked in every bay", "non slip socks  stocked in every bay.",
            "NON-SLIP SOCKS: stocked in every bay!", " Non–slip socks, stocked in every bay "]  # fmt: skip
    assert len({wb.idea_key(t) for t in same}) == 1
    assert wb.idea_key("Hourly rounding") != wb.idea_key("Two-hourly rounding")
    assert wb.idea_key(None) == wb.idea_key("  ") == ""


def test_the_library_lists_every_idea_tested_by_two_or_more_wards_with_its_decisions(library):
    """The sample's pdsa.csv, counted by hand: teams per idea and cycles per decision."""
    teams, decisions = collections.defaultdict(set), collections.defaultdict(collections.Counter)
    for row in _csv("pdsa.csv"):
        key = wb.idea_key(row["change_idea"])
        teams[key].add(row["team"])
        decisions[key][row["act"] or "undecided"] += 1
    expected = {k for k, ts in teams.items() if len(ts) >= 2}
    assert len(expected) >= 4  # the sample has ideas that spread
    shared = {i.key: i for i in library.shared()}
    assert set(shared) == expected
    for key in expected:
        idea = shared[key]
        assert set(idea.teams) == teams[key], idea.name
        assert idea.decision_counts() == {d: decisions[key][d] for d in wb.DECISIONS}, idea.name
    # one idea only one ward tested is in the library, not among the shared ones
    single = [i for i in library.ideas if len(i.teams) == 1]
    assert {i.key for i in single} == {k for k, ts in teams.items() if len(ts) == 1}


def test_ideas_and_teams_are_listed_by_name_never_ranked(library):
    names = [i.name for i in library.ideas]
    assert names == sorted(names, key=str.casefold)
    for idea in library.ideas:
        order = [learning._natural(t.team_name) for t in idea.tests]
        assert order == sorted(order), idea.name  # Ward 2 before Ward 10


def test_differently_written_ideas_are_one_idea_with_every_wording(status):
    records = status.team("W03").records
    cycle = next(c for c in records.cycles if c.change_idea is not None
                 and "socks" in c.change_idea.text.lower())  # fmt: skip
    original = cycle.change_idea.text
    cycle.change_idea.text = "NON-SLIP socks: stocked in every bay."
    try:
        idea = wb.library_from(status).idea("non slip socks stocked in every bay")
    finally:
        cycle.change_idea.text = original
    assert "W03" in idea.teams and len(idea.teams) == 6
    assert idea.name == original  # the wording most teams use
    assert "NON-SLIP socks: stocked in every bay." in idea.wordings


def test_a_signal_after_a_pdsa_start_is_attributed_by_the_team_page_s_rule(sample_db, library):
    """Every prompt the team's page gives (the variation explorer: a signal within
    PDSA_PROMPT_WITHIN periods after a cycle's start, on its measure's chart) is in the library,
    on the same cycle and measure; and the library links no other signal."""
    from qiwidgets.store import repo
    from qiwidgets.widgets import VariationExplorer

    page = set()
    for team in repo.list_teams(sample_db):
        explorer = VariationExplorer(sample_db, team, show_team_picker=False)
        for measure in repo.list_measures(sample_db, team.id):
            explorer.load(team, measure.id)
            for p in explorer.prompts:
                page.add((team.code, measure.code, p.pdsa_id, p.signal.start))
    linked = {(t.team_code, f.measure_code, t.cycle_id, f.start)
              for i in library.ideas for t in i.tests for f in t.followed if f.kind == "signal"}  # fmt: skip
    assert len(page) >= 10  # the sample has such signals on several wards
    assert linked == page


def test_the_direction_of_what_followed_is_the_engine_s(status, library):
    """A signal's direction comes from the engine's point types; a change that held from the
    measure's better direction."""
    tests = {(t.team_code, t.title): t for i in library.ideas for t in i.tests}
    for t in tests.values():
        team = status.team(t.team_code)
        for f in t.followed:
            m = team.measure(f.measure_code)
            if f.kind == "signal":
                pts = m.result.points
                on = pts[pd.to_datetime(pts["x"]) == pd.Timestamp(f.start)]["point_type"]
                assert {"improvement": "special_cause_improvement", "concern":
                        "special_cause_concern"}.get(f.verdict) in set(on) | {None}  # fmt: skip
            else:
                change = next(c for c in m.changes if c.phase and c.since == f.start)
                assert f.improved == (change.better is True)
    # Ward 9's rounding kept patients in bed: its balancing measure rose (README of the sample)
    w09 = next(t for (code, title), t in tests.items() if code == "W09" and "rounding" in title)
    assert [(f.measure_code, f.verdict) for f in w09.followed] == [("MOBILITY_LOSS", "concern")]
    # Ward 1's falls fell after hourly rounding: a change that held, in the better direction
    w01 = next(t for (code, title), t in tests.items() if code == "W01" and "rounding" in title)
    assert [(f.measure_code, f.kind, f.verdict) for f in w01.followed] == [
        ("FALLS_HARM", "phase", "improvement")]  # fmt: skip


def test_filters_narrow_the_library_and_check_what_they_are_given(library):
    before = library.to_frame()
    abandoned = library.filter(decision="abandon")
    assert abandoned.ideas and all(t.decision == "abandon" for i in abandoned.ideas for t in i.tests)
    on_bp = library.filter(measure="LYING_STANDING_BP")
    assert [i.name for i in on_bp.ideas] == [
        "Lying and standing blood pressure on admission for over-65s"]  # fmt: skip
    socks = library.filter(search="  SOCKS ")
    assert [i.key for i in socks.ideas] == ["non slip socks stocked in every bay"]
    ward9 = library.filter(search="ward 9", decision="abandon")
    assert {t.team_code for i in ward9.ideas for t in i.tests} == {"W09"}
    assert library.filter(search="no such idea").ideas == ()
    for bad in ({"measure": "NOPE"}, {"decision": "maybe"}, {"decision": 3},
                {"search": ["a"]}, {"search": "x" * 201}):  # fmt: skip
        with pytest.raises(wb.WorkbookInputError):
            library.filter(**bad)
    pd.testing.assert_frame_equal(library.to_frame(), before)  # the library is not changed


def test_the_analyst_api_gives_one_row_per_test_and_measure(sample_db, library):
    frame = wb.change_idea_library(sample_db, month=MONTH).to_frame()
    pd.testing.assert_frame_equal(frame, library.to_frame())
    assert frame["cycle_id"].nunique() == len(_csv("pdsa.csv"))
    per_decision = frame.drop_duplicates("cycle_id").groupby(["idea_key", "decision"]).size()
    for idea in library.ideas:
        for d, n in idea.decision_counts().items():
            assert per_decision.get((idea.key, d), 0) == n
    assert set(frame["direction"].dropna()) <= set(learning.FOLLOW_VERDICTS)


def test_a_report_for_an_earlier_month_knows_only_what_had_happened(sample_db):
    early = wb.change_idea_library(sample_db, month="2024-06")
    starts = [t.do_start for i in early.ideas for t in i.tests if t.do_start]
    assert starts and max(starts) <= dt.date(2024, 6, 30)
    assert all(t.act_date is None or t.act_date <= dt.date(2024, 6, 30)
               for i in early.ideas for t in i.tests)  # fmt: skip
    spread = wb.change_idea_library(sample_db, month="2025-06").spread()
    socks = next(s for s in spread if "socks" in s.idea.key)
    assert socks.new_teams  # tested by a ward for the first time in June 2025


# --- bright spots with their story ----------------------------------------------------------------


def test_each_bright_spot_links_its_evidence_reflections_and_change_ideas(status, library):
    stories = wb.bright_spot_stories(status, library)
    assert [s.team_code for s in stories] == [b.team_code for b in status.bright_spots()]
    assert len(stories) == 5
    for s in stories:
        assert all(m.measure_type == "outcome" and m.shared for m in s.evidence)
        assert s.reflections and all(r.bright_spot or r.generalisable for r in s.reflections)
        assert all(r.date <= dt.date(2026, 10, 31) for r in s.reflections)
        assert all(r.team_id == status.team(s.team_code).team.id for r in s.reflections)
        behind = [i for i in s.ideas if i.attributed]
        assert behind, s.team_name
        assert all(f.improved and f.team_code == s.team_code for i in behind for f in i.evidence)


def test_a_reflection_the_team_has_not_shared_stays_with_the_team(status, library):
    """Learning in confidence: a programme shows a reflection only once its team shared it."""
    team = status.team(wb.bright_spot_stories(status, library)[0].team_code)
    kept = [r for r in team.records.reflections if r.shared]
    assert kept
    for r in kept:
        r.shared = False  # the detached records of this status only; the store is unchanged
    try:
        story = next(s for s in wb.bright_spot_stories(status, library)
                     if s.team_code == team.code)  # fmt: skip
        assert story.reflections == ()
        assert "has not shared with the programme" in views.bright_spot_stories([story])
        assert wb.shared_learning(team.records.reflections) == []
    finally:
        for r in kept:
            r.shared = True


# --- learning-system health -----------------------------------------------------------------------


def test_the_health_view_shows_the_latest_rating_per_component_and_team(sample_db):
    rows = _csv("health_checks.csv")
    assert len(rows) == 539
    latest: dict[tuple[str, str], dict] = {}
    for r in rows:
        key = (r["team"] or "programme", r["component"])
        if key not in latest or r["period"] > latest[key]["period"]:
            latest[key] = r
    health = wb.learning_system_health(sample_db, month=MONTH)
    frame = health.latest_frame()
    got = {(r.scope, r.component): (int(r.rating), f"{r.period:%Y-%m}", r.comment)
           for r in frame.itertuples()}  # fmt: skip
    assert got == {k: (int(r["rating"]), r["period"], r["comment"]) for k, r in latest.items()}
    assert len(health.teams) == 12 and health.team("W12") is not None


def test_what_changed_and_what_needs_attention_follow_the_stated_rule():
    frame = pd.DataFrame([
        # the check before: everything 3; the latest: two components rated 2
        *[{"team": "W01", "period": pd.Timestamp("2026-01-01"), "component": c, "rating": 3,
           "comment": "patchy"} for c in glossary.HEALTH_COMPONENTS],
        *[{"team": "W01", "period": pd.Timestamp("2026-07-01"), "component": c,
           "rating": {"autonomy": 2, "infrastructure": 2, "shared_purpose": 4}.get(c, 3),
           "comment": "now"} for c in glossary.HEALTH_COMPONENTS],
        {"team": None, "period": pd.Timestamp("2026-07-01"), "component": "autonomy",
         "rating": 5, "comment": "programme"},
    ])  # fmt: skip
    view = wb.health_view(frame, "W01", "Ward 1")
    # autonomy and infrastructure are both 2, both fell by 1: the first in the list of seven
    assert view.attention.component == "autonomy"
    assert view.latest_period == dt.date(2026, 7, 1)
    assert view.previous_period == dt.date(2026, 1, 1)
    assert [c.component for c in view.changes()] == ["shared_purpose", "autonomy",
                                                     "infrastructure"]  # fmt: skip
    assert view.change_sentence().startswith("Since Jan 2026: Shared purpose up from 3 to 4")
    frame.loc[(frame["component"] == "infrastructure") & (frame["period"].dt.month == 1),
              "rating"] = 4  # infrastructure now fell by 2: it needs attention first
    assert wb.health_view(frame, "W01", "Ward 1").attention.component == "infrastructure"
    assert wb.health_view(frame, "W01", month="2026-03").latest_period == dt.date(2026, 1, 1)
    programme = wb.health_view(frame)
    assert programme.scope == "programme" and programme.attention.rating == 5
    assert "programme" in programme.rated_by and "team's own" in view.rated_by
    assert not wb.health_view(frame, "W99").has_data


# --- a month in one paragraph ---------------------------------------------------------------------


def test_a_team_s_month_says_what_changed_is_new_needs_attention_and_was_learned(status):
    for t in status.teams:
        summary = wb.team_month_summary(t)
        assert [label for label, _ in summary.parts] == ["What changed", "What is new",
                                                         "What needs attention",
                                                         "What was learned"]  # fmt: skip
        for m in t.measures:
            for signal in m.new_signals:
                assert signal in summary.changed
        for reason in wb.support_reasons(t):
            assert reason[1:] in summary.attention
    ps = wb.programme_month_summary(status)
    for b in status.bright_spots():
        assert b.team_name in ps.changed
    for t, _ in status.support():
        assert t.name in ps.attention


def test_summaries_and_views_render_user_text_as_text(status, library):
    html = views.month_summary(wb.team_month_summary(status.teams[0]))
    assert html.startswith('<p class="qi-month-summary"') and "<script" not in html
    hostile = learning.ChangeIdea("x", "<b>x</b>", ("<b>x</b>",), ())
    assert "<b>x</b>" not in views.change_idea(hostile)


# --- plain words -----------------------------------------------------------------------------------


def test_every_term_the_new_views_show_has_a_glossary_entry():
    from qiwidgets.dashboards.programme import PAGE_TERMS
    from qiwidgets.reports import programme, team

    for key in (*PAGE_TERMS, *programme.REPORT_TERMS, *team.REPORT_TERMS, *glossary.RULE_SETS,
                "needs_attention", "health_rating", "change_idea_library", "rebase_group"):  # fmt: skip
        assert glossary.explain(key), key
    assert glossary.explain("anhoej").startswith("Jacob Anhøj's run rules")
    shown = views.term("overdispersion")
    assert 'title="Teams differ more than chance' in shown and "<abbr" in shown


def test_the_funnel_names_every_team_and_its_centre_line(status, sample_db):
    from qiwidgets import charts
    from qiwidgets.store import repo

    names = {t.code: t.name for t in repo.list_teams(sample_db)}
    m = status.outcome
    obs = repo.observations(sample_db, measure=m.id)
    result = wb.outcome_funnel(obs[obs["period"] >= "2025-11-01"], m, names)
    spec = charts.funnel_chart_spec(result)
    labels = [r for r in json.loads(spec["data"]["values"]) if r.get("_layer") == "lbl"]
    assert {r["unit"] for r in labels} == set(names.values())
    assert {r["text"] for r in labels} == {n.split(" (")[0] for n in names.values()}
    text = str(spec)
    assert "Target 1" not in text and "Programme average: 1 (observed = expected)" in text
    assert "how many times more than chance alone" in spec["description"]


# --- the reports, built by the real pipeline for two teams (slow) ---------------------------------


@pytest.fixture(scope="module")
def two_team_reports(sample_db, tmp_path_factory):
    from qiwidgets.reports import runner

    out = tmp_path_factory.mktemp("learning-reports")
    with jupyter_state(tmp_path_factory.mktemp("learning-jupyter")):
        result = runner.run_reports(MONTH, sample_db, out, ["W01", "W02"], workers=2, timeout=240)
    assert result.ok, [r.describe() for r in result.failed]
    return out / MONTH


def _opens_with_summary(page: str, after: str) -> bool:
    """Nothing a reader sees (only the notebook's output wrappers) between ``after`` and the
    month's paragraph."""
    start = page.index(after) + len(after)
    between = page[start:page.index('<p class="qi-month-summary"')]
    return not re.search(r"<(?!/?div\b)[a-z]", between) and not re.sub(r"<[^>]+>", "",
                                                                       between).strip()  # fmt: skip


@pytest.mark.slow
def test_each_report_opens_with_the_month_in_one_paragraph(two_team_reports):
    team_page = (two_team_reports / "teams" / "W01.html").read_text(encoding="utf-8")
    assert _opens_with_summary(team_page, "</header>")
    assert team_page.index("qi-month-summary") < team_page.index("<h2>Aim</h2>")
    prog = (two_team_reports / "programme.html").read_text(encoding="utf-8")
    assert _opens_with_summary(prog, "separates common-cause from special-cause variation.</p>")
    assert prog.index("qi-month-summary") < prog.index("<h2>Teams by progress score</h2>")
    assert "October 2026 in one paragraph." in prog


@pytest.mark.slow
def test_a_two_team_programme_report_lists_no_failure_and_shows_the_learning_system(
        two_team_reports, status):  # fmt: skip
    page = (two_team_reports / "programme.html").read_text(encoding="utf-8")
    summary = json.loads((two_team_reports / "programme.json").read_text(encoding="utf-8"))
    assert "No report could be built" not in page and summary["missing_teams"] == []
    assert "left out on purpose" in page and len(summary["left_out"]) == 10
    # the learning system: health (programme and per team), what spread, the library, words
    assert 'data-qi-health-scope="programme"' in page
    assert all(f'data-qi-health-scope="{t.code}"' in page for t in status.teams)
    assert "<h2>What spread this month</h2>" in page
    assert page.count('class="qi-idea"') == len(wb.library_from(status).ideas)
    assert {b.team_code for b in status.bright_spots()} == set(
        re.findall(r'class="qi-story" data-qi-bright-spot="(\w+)"', page))  # fmt: skip
    assert "<h2>Words used in this report</h2>" in page and 'data-qi-term="overdispersion"' in page
    assert summary["change_ideas"] and summary["health_attention"] in glossary.HEALTH_COMPONENTS


@pytest.mark.slow
def test_a_new_learning_system_check_rebuilds_the_programme_report_only(two_team_reports,
                                                                        sample_db):  # fmt: skip
    """The programme report reads the programme's own checks: a new one rebuilds it (and no
    team report); a team's new check rebuilds that team's report. (Last in this module: it
    changes the sample store.)"""
    from qiwidgets.reports import runner
    from qiwidgets.store import repo

    out = two_team_reports.parent
    prog = repo.get_programme(sample_db)
    assert runner.plan(MONTH, sample_db, out, ["W01", "W02"]).jobs == []  # all up to date
    repo.save_health_check(sample_db, {"programme_id": prog.id, "period": "2026-10-01",
                                       "component": "autonomy", "rating": 2,
                                       "comment": "A new check for the test"})  # fmt: skip
    assert runner.plan(MONTH, sample_db, out, ["W01", "W02"]).jobs == []
    assert runner._programme_job(runner.plan(MONTH, sample_db, out, ["W01", "W02"])) is not None
    w02 = repo.get_team(sample_db, "W02")
    repo.save_health_check(sample_db, {"programme_id": prog.id, "team_id": w02.id,
                                       "period": "2026-10-01", "component": "autonomy",
                                       "rating": 3})  # fmt: skip
    assert [j.key for j in runner.plan(MONTH, sample_db, out, ["W01", "W02"]).jobs] == ["W02"]


def test_teams_give_an_idea_a_shared_name_and_the_library_groups_by_it(tmp_path):
    """Two wards word the same idea differently; once each gives it the shared name (the
    driver diagram's editor), the library counts one idea named by it, with both wordings. A
    shared name is for a change idea only."""
    from qiwidgets.errors import InvalidRecordError
    from qiwidgets.store import repo
    from qiwidgets.store.db import init_db
    from qiwidgets.widgets import DriverDiagramEditor

    db = f"sqlite:///{tmp_path / 'tags.db'}"
    init_db(db)
    p = repo.save_programme(db, {"code": "FALLS", "name": "Falls"})
    ideas = {}
    for code, words in (("A", "Check on people every hour"), ("B", "Intentional rounding")):
        team = repo.save_team(db, {"programme_id": p.id, "code": code, "name": f"Ward {code}"})
        driver = repo.save_driver_node(db, {"team_id": team.id, "kind": "primary",
                                            "text": "Staff see who is at risk"})  # fmt: skip
        ideas[code] = repo.save_driver_node(db, {"team_id": team.id, "kind": "change_idea",
                                                 "parent_id": driver.id, "text": words})  # fmt: skip
        repo.save_pdsa(db, {"team_id": team.id, "title": f"{code} tries it",
                            "change_idea_id": ideas[code].id, "do_start": "2026-09-01"})  # fmt: skip
    assert len(wb.change_idea_library(db, month="2026-10").ideas) == 2
    for code in ("A", "B"):
        editor = DriverDiagramEditor(db, code)
        editor.node.value = ideas[code].id
        assert editor.edit_tag.layout.display is None  # shown for a change idea
        editor.edit_tag.value = "Hourly rounding"
        editor.edit_button.click()
        assert editor.message_kind == "ok", editor.message
    (idea,) = wb.change_idea_library(db, month="2026-10").ideas
    assert idea.name == "Hourly rounding" and set(idea.teams) == {"A", "B"}
    assert set(idea.wordings) == {"Check on people every hour", "Intentional rounding"}
    # a driver is not an idea: no shared name (the editor hides the box, the store refuses)
    editor.node.value = editor.nodes[0].id
    assert editor.edit_tag.layout.display == "none"
    with pytest.raises(InvalidRecordError, match="for a change idea only"):
        repo.save_driver_node(db, {"idea_tag": "x"}, id=editor.nodes[0].id,
                              version=editor.nodes[0].version)  # fmt: skip


def test_a_learning_system_check_says_who_rated_each_component(tmp_path):
    """A rating saved by a person names them beside its month (views.health_view); one saved
    by a command names nobody."""
    from qiwidgets.store import people, repo
    from qiwidgets.store.db import init_db

    db = f"sqlite:///{tmp_path / 'health.db'}"
    init_db(db)
    p = repo.save_programme(db, {"code": "FALLS", "name": "Falls"})
    team = repo.save_team(db, {"programme_id": p.id, "code": "A", "name": "Ward A"})
    people.add_person(db, "sam", "Sam Jones")
    people.grant(db, "sam", "lead", team="A")
    sam = people.ActingDB(db, people.actor_for(db, "sam"))
    one, two = glossary.HEALTH_COMPONENTS[:2]
    repo.save_health_check(sam, {"programme_id": p.id, "team_id": team.id,
                                 "period": "2026-10-01", "component": one, "rating": 4})  # fmt: skip
    repo.save_health_check(db, {"programme_id": p.id, "team_id": team.id,
                                "period": "2026-10-01", "component": two, "rating": 2})  # fmt: skip
    view = wb.team_health(db, "A", "2026-10")
    by = {c.component: c.rated_by for c in view.components if c.rating is not None}
    assert by == {one: "Sam Jones", two: None}
    html = views.health_view(view)
    assert "Oct 2026, by Sam Jones" in html and html.count(", by ") == 1
