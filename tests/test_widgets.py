"""The workbook widgets, driven by setting trait values in plain pytest (no browser).

Each test gets its own SQLite database (a copy of one migrated, seeded template) and asserts
that the store changed and the widget's result is right; stale edits and bad input show a
message, never a traceback; hostile text is shown escaped.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil

import pytest
from traitlets import TraitError

from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.store.db import dispose_engines, init_db
from qiwidgets.widgets import (
    AimBuilder,
    DriverDiagramEditor,
    HealthCheckWidget,
    MeasureFamily,
    PDSALog,
    ProgressScoreWidget,
    ReflectionJournal,
    TeamWorkbook,
    VariationExplorer,
)

TODAY = dt.date(2026, 1, 15)
MONTHS = [dt.date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]
FALLS = [6, 7, 5, 6, 8, 6, 7, 5, 6, 7, 6, 6, 3, 2, 3, 2, 3, 2, 2, 3, 2, 3, 2, 2]
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"


def _seed(db: str) -> None:
    """A programme with two wards; Ward 7 has falls (shared) and huddles (own) for 24 months."""
    init_db(db)
    p = repo.save_programme(
        db,
        {
            "code": "SAFER",
            "name": "Safer wards",
            "shared_aim": "Halve falls with harm across our wards by 2027",
        },
    )
    w7 = repo.save_team(db, {"programme_id": p.id, "code": "W7", "name": "Ward 7"})
    repo.save_team(db, {"programme_id": p.id, "code": "W9", "name": "Ward 9"})
    falls = repo.save_measure(
        db,
        {
            "programme_id": p.id,
            "code": "falls",
            "name": "Falls with harm",
            "measure_type": "outcome",
            "numerator_definition": "falls with harm",
            "denominator_definition": "occupied bed days",
            "multiplier": 1000,
            "unit": "per 1,000 bed days",
            "improvement_direction": "decrease",
            "frequency": "monthly",
            "chart_type": "u",
            "data_source": "incident system",
        },
    )
    huddles = repo.save_measure(
        db,
        {
            "programme_id": p.id,
            "team_id": w7.id,
            "code": "huddles",
            "name": "Huddles held",
            "measure_type": "process",
            "numerator_definition": "shifts with a huddle",
            "denominator_definition": "shifts",
            "multiplier": 100,
            "unit": "%",
            "improvement_direction": "increase",
            "frequency": "monthly",
            "data_source": "ward log",
        },
    )
    for i, month in enumerate(MONTHS):
        repo.record_observation(
            db,
            {
                "team_id": w7.id,
                "measure_id": falls.id,
                "period": month,
                "numerator": FALLS[i],
                "denominator": 1000,
            },
        )
        repo.record_observation(
            db,
            {
                "team_id": w7.id,
                "measure_id": huddles.id,
                "period": month,
                "numerator": 20 + i,
                "denominator": 60,
            },
        )
    repo.save_pdsa(
        db,
        {
            "team_id": w7.id,
            "title": "Falls huddles",
            "do_start": MONTHS[10],
            "measure_ids": [falls.id],
        },
    )


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    path = tmp_path_factory.mktemp("widgets") / "template.db"
    _seed(f"sqlite:///{path}")
    dispose_engines()  # checkpoint the WAL into the file
    return path


@pytest.fixture
def db(_template, tmp_path):
    path = tmp_path / "store.db"
    shutil.copyfile(_template, path)
    url = f"sqlite:///{path}"
    yield url
    dispose_engines()


def assert_no_traceback(widget):
    assert "Traceback" not in widget.status.value
    assert 'File "' not in widget.status.value


def fill_good_aim(w):
    w.what.value = "Reduce falls with harm"
    w.for_whom.value = "for patients on Ward 7"
    w.how_much.value = "from 6 to 3 per 1,000 bed days"
    w.by_when.value = dt.date(2027, 3, 31)


# --- purpose ------------------------------------------------------------------------------------


def test_aim_builder_checks_live_and_saves(db):
    w = AimBuilder(db, "W7", today=TODAY)
    assert "Halve falls with harm across our wards by 2027" in w.header.value
    assert w.check is not None and not w.check.ok
    w.what.value = "Reduce falls with harm"
    assert not w.check.measurable and not w.check.time_bound
    fill_good_aim(w)
    assert w.check.ok
    assert "✓" in w.check_html.value and "✗" not in w.check_html.value
    falls_id = repo.get_measure(db, "falls", "W7").id
    w.outcome_measures.value = (falls_id,)
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    aim = repo.get_aim(db, "W7")
    assert aim.what == "Reduce falls with harm" and aim.by_when == dt.date(2027, 3, 31)
    assert [x.id for x in aim.outcome_measures] == [falls_id]
    assert w.saved.id == aim.id
    # the team aim is now shown under the programme aim
    assert "Reduce falls with harm for patients on Ward 7" in w.header.value


def test_aim_builder_draft_and_bad_input(db):
    w = AimBuilder(db, "W7", today=TODAY)
    w.save_button.click()  # nothing written
    assert w.message_kind == "problem" and "what will improve" in w.message
    assert repo.get_aim(db, "W7") is None
    w.what.value = "Improve care"
    w.save_button.click()
    assert w.message_kind == "warning" and "draft" in w.message
    w.what.value = "x" * 6000  # a visitor can send anything through the websocket
    assert w.message_kind == "problem" and "too long" in w.message
    assert_no_traceback(w)


def test_aim_builder_stale_edit_shows_a_message(db):
    a = AimBuilder(db, "W7", today=TODAY)
    fill_good_aim(a)
    a.save_button.click()
    first = AimBuilder(db, "W7", today=TODAY)
    second = AimBuilder(db, "W7", today=TODAY)
    first.how_much.value = "from 6 to 2 per 1,000 bed days"
    first.save_button.click()
    assert first.message_kind == "ok"
    second.how_much.value = "from 6 to 4 per 1,000 bed days"
    second.save_button.click()
    assert second.message_kind == "conflict"
    assert "Someone else changed this aim" in second.message
    assert_no_traceback(second)
    assert repo.get_aim(db, "W7").how_much == "from 6 to 2 per 1,000 bed days"
    second.reload_button.click()
    assert second.how_much.value == "from 6 to 2 per 1,000 bed days"


def test_aim_builder_escapes_hostile_text(db):
    w = AimBuilder(db, "W7", today=TODAY)
    w.what.value = HOSTILE
    w.save_button.click()
    for html in (w.header.value, w.check_html.value):
        assert "<script>" not in html and "<img" not in html
    assert ESCAPED in w.header.value


def test_driver_diagram_editor_builds_the_tree(db):
    w = DriverDiagramEditor(db, "W7")
    assert "No drivers yet" in w.diagram.value
    w.kind.value = "secondary"
    w.text.value = "Huddles"
    w.add_button.click()  # no primary driver yet
    assert w.message_kind == "problem" and "primary driver first" in w.message
    w.kind.value = "primary"
    w.text.value = "Reliable risk assessment"
    w.add_button.click()
    assert w.message_kind == "ok", w.message
    primary = w.saved
    w.kind.value = "secondary"
    assert w.parent.value == primary.id
    w.text.value = "Safety huddles every shift"
    w.add_button.click()
    w.kind.value = "change_idea"
    w.parent.value = w.saved.id
    w.text.value = HOSTILE
    w.add_button.click()
    assert w.message_kind == "ok", w.message
    kinds = [n.kind for n in repo.list_driver_nodes(db, "W7")]
    assert sorted(kinds) == ["change_idea", "primary", "secondary"]
    assert "Reliable risk assessment" in w.diagram.value
    assert ESCAPED in w.diagram.value and "<script>" not in w.diagram.value


def test_driver_diagram_stale_edit(db):
    setup = DriverDiagramEditor(db, "W7")
    setup.text.value = "Reliable risk assessment"
    setup.add_button.click()
    node_id = setup.saved.id
    a, b = DriverDiagramEditor(db, "W7"), DriverDiagramEditor(db, "W7")
    a.node.value = node_id
    b.node.value = node_id
    a.edit_text.value = "Reliable falls risk assessment"
    a.edit_button.click()
    assert a.message_kind == "ok"
    b.edit_text.value = "Something else"
    b.edit_button.click()
    assert b.message_kind == "conflict" and "Someone else changed" in b.message
    assert repo.list_driver_nodes(db, "W7")[0].text == "Reliable falls risk assessment"


# --- measures -----------------------------------------------------------------------------------


def test_measure_family_warns_and_suggests(db):
    w = MeasureFamily(db, "W7")
    assert any("No balancing measure" in x for x in w.warnings)
    assert "Falls with harm" in w.table.value and "Huddles held" in w.table.value
    w.code.value = "lying_bp"
    w.name.value = "Lying and standing blood pressure done"
    w.measure_type.value = "balancing"
    w.data_kind.value = "proportion"
    assert w.suggestion == "p" and w.chart_type.value == "p"
    w.texts["numerator_definition"].value = "patients 65+ with lying/standing BP"
    w.texts["denominator_definition"].value = "patients 65+ admitted"
    w.multiplier.value = 100
    w.target.value = "90"
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    saved = repo.get_measure(db, "lying_bp", "W7")
    assert saved.measure_type == "balancing" and saved.chart_type == "p" and saved.target == 90
    assert not any("No balancing measure" in x for x in w.warnings)
    w.data_kind.value = "days_between"
    assert w.suggestion == "t"


def test_measure_family_bad_input_and_stale(db):
    w = MeasureFamily(db, "W7")
    w.code.value = "x"
    w.name.value = "X"
    w.texts["value_definition"].value = "minutes"
    w.target.value = "lots"
    w.save_button.click()
    assert w.message_kind == "problem" and "target" in w.message
    w.target.value = ""
    w.code.value = "bad code!"
    w.save_button.click()
    assert w.message_kind == "problem" and "code" in w.message
    assert_no_traceback(w)
    huddles = repo.get_measure(db, "huddles", "W7")
    a, b = MeasureFamily(db, "W7"), MeasureFamily(db, "W7")
    a.pick.value = huddles.id
    b.pick.value = huddles.id
    a.name.value = "Safety huddles held"
    a.save_button.click()
    assert a.message_kind == "ok", a.message
    b.name.value = "Huddles"
    b.save_button.click()
    assert b.message_kind == "conflict"
    assert repo.get_measure(db, "huddles", "W7").name == "Safety huddles held"


# --- variation ----------------------------------------------------------------------------------


def test_variation_explorer_draws_and_reads(db):
    v = VariationExplorer(db, "W7", "falls")
    assert v.result is not None and v.result.rule_set == "Anhøj"
    assert v.svg.startswith("<svg") and v.svg in v.chart_html.value
    assert "Falls with harm" in v.reading_html.value
    assert [e.start for e in v.events] == [MONTHS[0], MONTHS[12]]
    assert [p.text for p in v.prompts] == [
        "A shift began 2 months after PDSA 'Falls huddles' started — record what you learned?"
    ]
    assert "Falls huddles" in v.prompts_html.value
    assert "PDSA: Falls huddles" in v.svg  # the cycle is drawn on the chart
    assert "http://" not in v.chart_html.value.replace("http://www.w3.org", "")


def test_variation_rule_set_switch_shows_what_changed(db):
    v = VariationExplorer(db, "W7", "falls")
    v.rule_set.value = "mdc"
    assert v.result.rule_set == "Making Data Count" and v.view.chart == "xmr"
    assert v.comparison.startswith("With Making Data Count:")
    assert "Anhøj" in v.comparison and "What changed" in v.changes_html.value
    v.rule_set.value = "ihi"
    assert v.result.rule_set == "IHI" and v.view.chart == "run"
    assert "Making Data Count" in v.comparison
    assert "IHI" in v.rule_help.value


def test_variation_baseline_phase_exclude_need_a_reason(db):
    v = VariationExplorer(db, "W7", "falls")
    v.action.value = "baseline"
    v.period.value = MONTHS[11].isoformat()
    v.record_button.click()
    assert v.message_kind == "problem" and "reason" in v.message
    assert repo.list_annotations(db, "W7") == []
    v.reason.value = "The year before the huddles"
    v.record_button.click()
    assert v.message_kind == "ok", v.message
    stored = repo.list_annotations(db, "W7")
    assert [(a.kind, a.reason, a.date) for a in stored] == [
        ("baseline", "The year before the huddles", MONTHS[11])
    ]
    assert v.view.options.freeze == 12 and v.result.options["freeze"] == 12
    # exclude a point: stored with its reason, re-applied when the chart is drawn again
    v.action.value = "exclude"
    v.period.value = MONTHS[4].isoformat()
    v.reason.value = "Half the month's incident reports were lost"
    v.record_button.click()
    assert v.message_kind == "ok"
    again = VariationExplorer(db, "W7", "falls")
    assert again.result.options["exclude"] == [5]
    assert not bool(again.result.points["include"].iloc[4])
    # a new phase replaces the frozen baseline (qicharts2 semantics), and the notes say so
    again.action.value = "phase"
    again.period.value = MONTHS[12].isoformat()
    again.reason.value = "Huddles adopted on every shift"
    again.record_button.click()
    assert again.result.options["part"] == [12]
    assert "baseline is not frozen" in again.notes_html.value
    kinds = sorted(a.kind for a in repo.list_annotations(db, "W7"))
    assert kinds == ["baseline", "exclude", "phase"]


def test_variation_note_escaped_and_removable(db):
    v = VariationExplorer(db, "W7", "falls")
    v.action.value = "event"
    v.period.value = MONTHS[6].isoformat()
    v.record_button.click()
    assert v.message_kind == "problem" and "Write what happened" in v.message
    v.note_text.value = HOSTILE
    v.record_button.click()
    assert v.message_kind == "ok"
    assert ESCAPED in v.annotations_html.value
    for html in (v.annotations_html.value, v.chart_html.value, v.status.value):
        assert "<script>" not in html and "<img" not in html
    note = repo.list_annotations(db, "W7")[0]
    other = VariationExplorer(db, "W7", "falls")
    repo.save_annotation(db, {"text": "Changed by a colleague"}, id=note.id, version=note.version)
    other.remove_select.value = note.id
    other.remove_button.click()
    assert other.message_kind == "conflict"
    assert len(repo.list_annotations(db, "W7")) == 1
    v.refresh()
    v.remove_select.value = note.id
    v.remove_button.click()
    assert v.message_kind == "ok" and repo.list_annotations(db, "W7") == []


def test_variation_callbacks_validate_what_they_receive(db):
    v = VariationExplorer(db, "W7", "falls")
    # what a visitor could send straight to a handler through a forged message
    v._on_rule_set({"new": "'; DROP TABLE annotations; --", "old": "anhoej"})
    assert v.message_kind == "problem" and "rule set" in v.message
    v._on_measure({"new": 99999})
    assert v.message_kind == "problem"
    v._on_team({"new": "W7"})
    assert v.message_kind == "problem"
    assert_no_traceback(v)
    assert len(repo.list_annotations(db, "W7")) == 0
    assert v.result is not None  # the chart is still there


def test_variation_team_and_measure_pickers(db):
    v = VariationExplorer(db)
    w9 = repo.get_team(db, "W9")
    v.team_select.value = w9.id
    assert v.team.code == "W9" and v.result is None
    # said where the chart would be (not at the bottom), and nothing to record at yet
    assert "no data points" in v.verdict_html.value and "Our data" in v.verdict_html.value
    assert v.record_box.layout.display == "none" and v.chart_html.value == ""
    v.team_select.value = repo.get_team(db, "W7").id
    huddles = repo.get_measure(db, "huddles", "W7")
    v.measure_select.value = huddles.id
    assert v.measure.code == "huddles" and v.view.chart == "p"


def test_unexpected_errors_are_logged_not_shown(db, monkeypatch, caplog):
    v = VariationExplorer(db, "W7", "falls")

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(repo, "add_annotation", boom)
    v.note_text.value = "A note"
    with caplog.at_level(logging.ERROR, logger="qiwidgets"):
        v.record_button.click()
    assert v.message_kind == "problem" and "Something unexpected went wrong" in v.message
    assert "secret internals" not in v.status.value
    assert any("secret internals" in r.exc_text for r in caplog.records if r.exc_text)
    assert caplog.records[0].name.startswith("qiwidgets")


# --- PDSA -----------------------------------------------------------------------------------------


def test_pdsa_log_walks_the_cycle(db):
    DriverDiagramEditor(db, "W7")  # nothing yet; add a change idea through the repo
    team = repo.get_team(db, "W7")
    primary = repo.save_driver_node(db, {"team_id": team.id, "kind": "primary", "text": "Checks"})
    idea = repo.save_driver_node(
        db,
        {
            "team_id": team.id,
            "kind": "change_idea",
            "parent_id": primary.id,
            "text": "Yellow socks",
        },
    )
    w = PDSALog(db, "W7")
    w.title.value = "Yellow socks for high-risk patients"
    w.change_idea.value = idea.id
    falls = repo.get_measure(db, "falls", "W7")
    w.measures.value = (falls.id,)
    w.plan_question.value = "Do staff spot high-risk patients faster?"
    w.prediction.value = "Fewer unwitnessed falls within a month"
    assert "Fewer unwitnessed falls" in w.prediction_echo.value
    w.plan_date.value = MONTHS[13]
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    assert w.stage == "plan"
    w.do_start.value = MONTHS[14]
    w.save_button.click()
    assert w.stage == "do"
    w.act.value = "adopt"
    w.save_button.click()
    assert w.message_kind == "problem" and "Study before you act" in w.message
    w.study_result.value = "Falls went down as predicted"
    w.act_date.value = MONTHS[16]
    w.save_button.click()
    assert w.message_kind == "ok", w.message and w.stage == "done"
    cycle = next(c for c in repo.list_pdsa_cycles(db, "W7") if c.title.startswith("Yellow"))
    assert cycle.act == "adopt" and cycle.change_idea_id == idea.id
    assert [x.id for x in cycle.measures] == [falls.id]
    v = VariationExplorer(db, "W7", "falls")
    assert "PDSA: Yellow socks" in v.svg and "Adopted: Yellow socks" in v.svg


def test_pdsa_log_bad_dates_and_stale(db):
    w = PDSALog(db, "W7")
    w.title.value = "Backwards"
    w.plan_date.value = MONTHS[5]
    w.do_start.value = MONTHS[2]
    w.save_button.click()
    assert w.message_kind == "problem" and "must not be before" in w.message
    assert_no_traceback(w)
    cycle = repo.list_pdsa_cycles(db, "W7")[0]
    a, b = PDSALog(db, "W7"), PDSALog(db, "W7")
    a.pick.value = cycle.id
    b.pick.value = cycle.id
    a.do_notes.value = "Ran on nights too"
    a.save_button.click()
    assert a.message_kind == "ok"
    b.do_notes.value = "Days only"
    b.save_button.click()
    assert b.message_kind == "conflict" and "PDSA cycle" in b.message


# --- reflection ---------------------------------------------------------------------------------


def test_reflection_journal_saves_and_escapes(db):
    w = ReflectionJournal(db, "W7", today=TODAY)
    w.save_button.click()
    assert w.message_kind == "problem" and "Answer at least one" in w.message
    w.prompts["what_happened"].value = HOSTILE
    w.prompts["what_worked"].value = "Huddles at shift change"
    w.learning_level.value = "double_loop"
    w.bright_spot.value = True
    w.generalisable.value = True
    w.story.value = "Mrs B went home without a fall."
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    r = repo.list_reflections(db, "W7")[0]
    assert r.learning_level == "double_loop" and r.bright_spot and r.generalisable
    assert r.date == TODAY and r.what_happened == HOSTILE
    assert ESCAPED in w.history.value and "<script>" not in w.history.value
    assert "Double-loop learning" in w.history.value
    labels = [label for label, _ in w.learning_level.options]
    assert any("questioned an assumption" in label for label in labels)


def test_reflection_journal_stale(db):
    first = ReflectionJournal(db, "W7", today=TODAY)
    first.prompts["what_happened"].value = "Started huddles"
    first.save_button.click()
    rid = first.saved.id
    a, b = ReflectionJournal(db, "W7"), ReflectionJournal(db, "W7")
    a.pick.value = rid
    b.pick.value = rid
    a.prompts["what_should_change"].value = "Add nights"
    a.save_button.click()
    assert a.message_kind == "ok"
    b.prompts["what_should_change"].value = "Stop"
    b.save_button.click()
    assert b.message_kind == "conflict" and "reflection" in b.message
    assert repo.get_reflection(db, rid).what_should_change == "Add nights"


# --- progress score and learning-system check ---------------------------------------------------


def test_progress_score_team_and_lead(db):
    team = ProgressScoreWidget(db, "W7", today=TODAY)
    assert "outstanding sustainable results" in team.scale.value
    assert team.month.value == dt.date(2026, 1, 1)
    team.save_button.click()
    assert team.message_kind == "problem"
    team.team_score.value = 3.0
    team.justification.value = "Falls down for 6 months"
    team.save_button.click()
    assert team.message_kind == "ok", team.message
    lead = ProgressScoreWidget(db, "W7", today=TODAY)
    assert lead.team_score.value == 3.0  # the month's record is read
    lead.lead_score.value = 2.5
    lead.save_button.click()
    assert lead.message_kind == "ok", lead.message
    rows = repo.list_progress_scores(db, "W7")
    assert [(r.team_score, r.lead_score) for r in rows] == [(3.0, 2.5)]
    assert "3.0 modest improvement" in lead.history_html.value
    assert "2.5 changes tested, no improvement" in lead.history_html.value
    # the team widget still holds the old version: its edit is refused
    team.justification.value = "Changed my mind"
    team.save_button.click()
    assert team.message_kind == "conflict"
    # a month scored elsewhere in the meantime is refused too (someone else scored it first)
    other = ProgressScoreWidget(db, "W7", today=TODAY)
    again = ProgressScoreWidget(db, "W7", today=TODAY)
    other.month.value = again.month.value = dt.date(2025, 12, 1)
    other.team_score.value = again.team_score.value = 2.0
    other.save_button.click()
    again.save_button.click()
    assert other.message_kind == "ok" and again.message_kind == "conflict"
    # the Dropdown refuses values off the scale; a forged value reaching the handler too
    with pytest.raises(TraitError):
        other.team_score.value = 7.0
    assert_no_traceback(again)


def test_health_check_over_time(db):
    w = HealthCheckWidget(db, "W7", today=TODAY)
    shown = " ".join(
        c.value for c in w.children if isinstance(c.value if hasattr(c, "value") else None, str)
    )
    assert "Shared purpose" in shown and "Everyone knows and owns the aim" in shown
    w.save_button.click()
    assert w.message_kind == "problem" and "Rate at least one" in w.message
    w.comments["autonomy"].value = "We decide"
    w.save_button.click()
    assert w.message_kind == "problem" and "Autonomy" in w.message
    for i, c in enumerate(m.HEALTH_COMPONENTS):
        w.ratings[c].value = 1 + i % 5
    w.comments["shared_language"].value = HOSTILE
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    frame = repo.list_health_checks(db, team="W7")
    assert len(frame) == 7 and set(frame["component"]) == set(m.HEALTH_COMPONENTS)
    assert len(w.history) == 1
    # a later check adds a row to the history
    w.period.value = dt.date(2026, 4, 15)
    assert all(r.value is None for r in w.ratings.values())
    w.ratings["autonomy"].value = 4
    w.save_button.click()
    assert len(w.history) == 2
    # two people editing the same check
    a = HealthCheckWidget(db, "W7", today=TODAY)
    b = HealthCheckWidget(db, "W7", today=TODAY)
    assert a.comments["shared_language"].value == HOSTILE
    a.ratings["autonomy"].value = 5
    a.save_button.click()
    assert a.message_kind == "ok"
    b.ratings["autonomy"].value = 2
    b.save_button.click()
    assert b.message_kind == "conflict"


def test_programme_level_health_check(db):
    w = HealthCheckWidget(db, None, today=TODAY)
    assert "the programme Safer wards" in w.heading.value
    w.ratings["shared_purpose"].value = 4
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    frame = repo.list_health_checks(db, level="programme")
    assert frame["team_id"].isna().all() and len(frame) == 1


# --- the team workbook --------------------------------------------------------------------------


def test_team_workbook_switches_team_and_records_learning(db):
    book = TeamWorkbook(db, "W7", today=TODAY)
    assert book.variation.result is not None
    assert book.variation.prompts
    book.variation.learn_button.click()
    assert book.tabs.selected_index == 4
    assert "2 months after PDSA 'Falls huddles'" in book.journal.prompts["what_happened"].value
    book.journal.save_button.click()
    assert book.journal.message_kind == "ok"
    w9 = repo.get_team(db, "W9")
    book.team_select.value = w9.id
    assert all(s.team.id == w9.id for s in book.sections)
    assert book.variation.result is None and "Ward 9" in book.message


# --- the sample programme -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sample_template(tmp_path_factory):
    from qiwidgets.store.sample import load_sample

    path = tmp_path_factory.mktemp("sample") / "sample.db"
    init_db(f"sqlite:///{path}")
    load_sample(f"sqlite:///{path}")
    dispose_engines()
    return path


def test_team_workbook_on_the_sample_programme(_sample_template, tmp_path):
    path = tmp_path / "sample.db"
    shutil.copyfile(_sample_template, path)
    db = f"sqlite:///{path}"
    try:
        book = TeamWorkbook(db, "W07", today=dt.date(2026, 11, 15))
        for section in book.sections:
            assert section.message_kind in ("", "info", "ok"), (section, section.message)
        v = book.variation
        assert v.result is not None and v.svg.startswith("<svg")
        assert v.result.options["part"]  # the sample's rebase (with its reason) is applied
        assert book.aim.aim is not None and "Ward" in book.aim.header.value
        assert "No drivers yet" not in book.drivers.diagram.value
        assert book.pdsa.cycles and book.journal.reflections and book.progress.history
        for rule_set in ("ihi", "mdc", "anhoej"):
            v.rule_set.value = rule_set
            assert v.message_kind in ("", "info"), v.message
            assert v.result is not None
        for measure_id in [value for _, value in v.measure_select.options]:
            v.measure_select.value = measure_id
            assert v.message_kind in ("", "info"), v.message
    finally:
        dispose_engines()
