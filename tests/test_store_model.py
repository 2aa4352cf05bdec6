"""The store's model and repo API, on SQLite and on a real PostgreSQL server (``db_url``)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select

from qiwidgets.errors import InvalidRecordError, NotFoundError, StaleEditError, StoreError
from qiwidgets.store import db as store_db
from qiwidgets.store import models as m
from qiwidgets.store import repo


def build_programme(url: str) -> dict:
    """A small programme with one record of every type; returns the records by name."""
    p = repo.save_programme(url, {"code": "FALLS", "name": "Reducing harm from falls",
                                  "shared_aim": "Halve falls with harm by 2027"})  # fmt: skip
    w7 = repo.save_team(url, {"programme_id": p.id, "code": "W7", "name": "Ward 7",
                              "organisation": "St Elsewhere"})  # fmt: skip
    w9 = repo.save_team(url, {"programme_id": p.id, "code": "W9", "name": "Ward 9"})
    outcome = repo.save_measure(url, {
        "programme_id": p.id, "code": "FALLS_HARM", "name": "Falls with harm per 1,000 bed days",
        "measure_type": "outcome", "numerator_definition": "Falls with harm",
        "denominator_definition": "Occupied bed days", "unit": "per 1,000 bed days",
        "multiplier": 1000, "improvement_direction": "decrease", "chart_type": "u",
        "frequency": "monthly", "target": 3.0, "target_date": "2027-03-31",
        "baseline_start": "2025-01-01", "baseline_end": "2025-12-01",
    })  # fmt: skip
    process = repo.save_measure(url, {
        "programme_id": p.id, "team_id": w7.id, "code": "RISK24",
        "name": "% risk assessment within 24 h", "measure_type": "process",
        "numerator_definition": "Assessed within 24 h", "denominator_definition": "Admissions",
        "chart_type": "p", "improvement_direction": "increase", "multiplier": 100,
    })  # fmt: skip
    aim = repo.save_aim(url, {"team_id": w7.id, "what": "Reduce falls with harm",
                              "for_whom": "Inpatients on Ward 7", "how_much": "from 6 to 3",
                              "by_when": "2027-03-31", "outcome_measure_ids": [outcome.id]})  # fmt: skip
    primary = repo.save_driver_node(url, {"team_id": w7.id, "kind": "primary",
                                          "text": "Reliable risk assessment"})  # fmt: skip
    idea = repo.save_driver_node(url, {"team_id": w7.id, "kind": "change_idea",
                                       "parent_id": primary.id, "text": "Safety huddle"})  # fmt: skip
    pdsa = repo.save_pdsa(url, {
        "team_id": w7.id, "change_idea_id": idea.id, "measure_ids": [outcome.id, process.id],
        "title": "Huddle on nights", "plan_question": "Will a huddle work at night?",
        "prediction": "Half of shifts will huddle", "plan_date": "2026-01-05",
        "do_start": "2026-01-10", "study_date": "2026-02-01", "study_result": "70 % huddled",
        "act": "adapt", "act_date": "2026-02-03",
    })  # fmt: skip
    annotation = repo.add_annotation(url, {"team_id": w7.id, "measure_id": outcome.id,
                                           "pdsa_id": pdsa.id, "date": "2026-01-10",
                                           "text": "Huddles start", "kind": "pdsa_start"})  # fmt: skip
    reflection = repo.save_reflection(url, {
        "team_id": w7.id, "date": "2026-10-03", "authors": "A. Nurse; B. Doctor",
        "what_happened": "Two falls at night", "what_worked": "Huddles",
        "learning_level": "double_loop", "bright_spot": True, "generalisable": True,
    })  # fmt: skip
    score = repo.save_progress_score(url, {"team_id": w7.id, "month": "2026-10",
                                           "team_score": 3.0, "lead_score": 2.5,
                                           "justification": "Modest improvement"})  # fmt: skip
    health = repo.save_health_check(url, {"programme_id": p.id, "period": "2026-10-01",
                                          "component": "shared_purpose", "rating": 4,
                                          "comment": "Clear aim"})  # fmt: skip
    team_health = repo.save_health_check(url, {"programme_id": p.id, "team_id": w7.id,
                                               "period": "2026-10-01", "component": "autonomy",
                                               "rating": 3})  # fmt: skip
    for month, (num, den) in enumerate([(6, 1000), (5, 980), (7, 1010)], start=1):
        for team in (w7, w9):
            repo.record_observation(url, {"team_id": team.id, "measure_id": outcome.id,
                                          "period": dt.date(2026, month, 1), "numerator": num,
                                          "denominator": den})  # fmt: skip
    repo.record_observation(url, {"team_id": w7.id, "measure_id": process.id,
                                  "period": "2026-01-01", "numerator": 40, "denominator": 50})  # fmt: skip
    return locals()


# --- schema ---------------------------------------------------------------------------------


def test_every_table_created_and_at_head(store_url):
    assert store_db.current_revision(store_url) == store_db.head_revision()
    expected = {t.name for t in m.Base.metadata.sorted_tables} | {"alembic_version"}
    assert set(store_db.table_names(store_url)) == expected


def test_every_record_type_round_trips(store_url):
    rec = build_programme(store_url)
    w7 = repo.get_team(store_url, "W7")
    assert (w7.name, w7.organisation) == ("Ward 7", "St Elsewhere")
    assert repo.get_programme(store_url).shared_aim == "Halve falls with harm by 2027"
    assert [t.code for t in repo.list_teams(store_url, "FALLS")] == ["W7", "W9"]

    family = repo.list_measures(store_url, "W7")
    assert [x.code for x in family] == ["FALLS_HARM", "RISK24"]  # outcome before process
    assert [x.code for x in repo.list_measures(store_url, "W9")] == ["FALLS_HARM"]
    fh = repo.get_measure(store_url, "FALLS_HARM")
    assert (fh.multiplier, fh.chart_type, fh.target_date) == (1000.0, "u", dt.date(2027, 3, 31))
    assert fh.is_shared and not repo.get_measure(store_url, "RISK24", team="W7").is_shared

    aim = repo.get_aim(store_url, "W7")
    assert aim.how_much == "from 6 to 3" and [x.code for x in aim.outcome_measures] == [
        "FALLS_HARM"
    ]
    diagram = repo.driver_diagram(store_url, "W7")
    assert list(diagram["kind"]) == ["primary", "change_idea"]
    assert list(diagram["depth"]) == [0, 1]

    (cycle,) = repo.list_pdsa_cycles(store_url, "W7")
    assert cycle.act == "adapt" and cycle.change_idea.text == "Safety huddle"
    assert sorted(x.code for x in cycle.measures) == ["FALLS_HARM", "RISK24"]

    (note,) = repo.list_annotations(store_url, "W7", "FALLS_HARM")
    assert (note.kind, note.date, note.pdsa_id) == ("pdsa_start", dt.date(2026, 1, 10), cycle.id)

    (refl,) = repo.list_reflections(store_url, "W7")
    assert refl.learning_level == "double_loop" and refl.bright_spot is True
    assert repo.list_reflections(store_url, programme="FALLS", generalisable=True)[0].id == refl.id

    (score,) = repo.list_progress_scores(store_url, "W7")
    assert (score.month, score.team_score, score.lead_score) == (dt.date(2026, 10, 1), 3.0, 2.5)

    checks = repo.list_health_checks(store_url)
    assert sorted(checks["component"]) == ["autonomy", "shared_purpose"]
    assert list(repo.list_health_checks(store_url, level="programme")["rating"]) == [4]

    obs = repo.observations(store_url, "W7")
    assert len(obs) == 4 and list(obs.columns) == repo.OBSERVATION_COLUMNS
    falls = obs[obs["measure"] == "FALLS_HARM"]
    assert list(falls["numerator"]) == [6.0, 5.0, 7.0]
    assert str(falls["period"].dtype).startswith("datetime64")
    across = repo.observations(store_url, measure="FALLS_HARM")
    assert sorted(set(across["team"])) == ["W7", "W9"] and len(across) == 6
    assert rec["reflection"].version == 1


def test_new_records_start_at_version_1_and_updates_move_it_on(store_url):
    rec = build_programme(store_url)
    for name in ("aim", "pdsa", "reflection", "score", "health", "annotation", "outcome"):
        assert rec[name].version == 1, name
    r = rec["reflection"]
    r2 = repo.save_reflection(store_url, {"what_worked": "Night huddles"}, id=r.id, version=1)
    assert r2.version == 2
    again = repo.get_reflection(store_url, r.id)
    assert again.what_worked == "Night huddles"
    assert again.what_happened == "Two falls at night"  # fields not given are kept
    assert again.updated_at >= again.created_at


def test_stale_edit_is_refused_and_the_other_edit_kept(store_url):
    rec = build_programme(store_url)
    r = rec["reflection"]
    repo.save_reflection(store_url, {"what_worked": "Colleague's text"}, id=r.id, version=1)
    with pytest.raises(StaleEditError) as err:
        repo.save_reflection(store_url, {"what_worked": "My text"}, id=r.id, version=1)
    assert str(err.value) == (
        "Someone else changed this reflection (Ward 7, 2026-10-03) since you opened it. Your "
        "text has not been saved over theirs: reload to see their version, then apply your "
        "change again."
    )
    assert repo.get_reflection(store_url, r.id).what_worked == "Colleague's text"


@pytest.mark.parametrize(
    ("saver", "record", "change"),
    [
        (repo.save_aim, "aim", {"how_much": "from 6 to 2"}),
        (repo.save_pdsa, "pdsa", {"study_result": "80 %"}),
        (repo.save_progress_score, "score", {"lead_score": 3.0}),
        (repo.save_health_check, "health", {"rating": 5}),
        (repo.save_annotation, "annotation", {"text": "Huddles begin"}),
        (repo.save_measure, "outcome", {"target": 2.5}),
        (repo.save_team, "w7", {"name": "Ward Seven"}),
        (repo.save_driver_node, "idea", {"text": "Night huddle"}),
    ],
)
def test_every_editable_record_refuses_stale_versions(store_url, saver, record, change):
    rec = build_programme(store_url)
    target = rec[record]
    first = saver(store_url, change, id=target.id, version=target.version)
    assert first.version == target.version + 1
    with pytest.raises(StaleEditError, match="Someone else changed this"):
        saver(store_url, change, id=target.id, version=target.version)


def test_link_change_alone_moves_the_version_on(store_url):
    rec = build_programme(store_url)
    cycle = rec["pdsa"]
    changed = repo.save_pdsa(store_url, {"measure_ids": [rec["outcome"].id]}, id=cycle.id,
                             version=1)  # fmt: skip
    assert changed.version == 2 and [x.code for x in changed.measures] == ["FALLS_HARM"]
    with pytest.raises(StaleEditError):
        repo.save_pdsa(store_url, {"measure_ids": []}, id=cycle.id, version=1)


def test_update_needs_a_version_and_an_existing_record(store_url):
    rec = build_programme(store_url)
    with pytest.raises(InvalidRecordError, match="`version` is required"):
        repo.save_reflection(store_url, {"story": "x"}, id=rec["reflection"].id)
    with pytest.raises(NotFoundError, match="no longer exists"):
        repo.save_reflection(store_url, {"story": "x"}, id=99999, version=1)


def test_delete_checks_the_version_and_references(store_url):
    rec = build_programme(store_url)
    note = rec["annotation"]
    with pytest.raises(StaleEditError):
        repo.delete_record(store_url, m.Annotation, note.id, version=7)
    repo.delete_record(store_url, m.Annotation, note.id, version=1)
    assert repo.list_annotations(store_url, "W7") == []
    primary = rec["primary"]
    with pytest.raises(StoreError, match="cannot be deleted"):
        repo.delete_record(store_url, m.DriverNode, primary.id, version=1)
    assert len(repo.list_driver_nodes(store_url, "W7")) == 2


# --- validation ---------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_with_field_rule_and_value(store_url):
    rec = build_programme(store_url)
    with pytest.raises(InvalidRecordError) as err:
        repo.save_measure(store_url, {"programme_id": rec["p"].id, "code": "X 1", "name": "",
                                      "measure_type": "up", "improvement_direction": "up",
                                      "value_definition": "minutes"})  # fmt: skip
    message = str(err.value)
    assert "`measure_type` must be one of 'outcome', 'process', 'balancing', got 'up'." in message
    assert "`improvement_direction` must be one of 'increase', 'decrease', 'neutral', got 'up'." in (
        message
    )
    assert "`name` must not be empty" in message and "`code` may contain only" in message
    assert {f for f, _ in err.value.problems} == {
        "code", "name", "measure_type", "improvement_direction",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("saver", "data", "expected"),
    [
        (repo.save_progress_score, {"month": "2026-11", "team_score": 6},
         "`team_score` must be one of 0.5, 1.0"),
        (repo.save_progress_score, {"month": "2026-11", "team_score": 2.2},
         "got 2.2"),
        (repo.save_progress_score, {"month": "2026-11"}, "Give a `team_score` or a `lead_score`"),
        (repo.save_annotation, {"date": "2026-01-01", "text": "New limits", "kind": "rebase"},
         "`reason` is required for a rebase annotation"),
        (repo.save_reflection, {"date": "03/10/2026"}, "`date` must be a date written YYYY-MM-DD"),
        (repo.save_reflection, {"date": "2026-10-03", "learning_level": "triple"},
         "`learning_level` must be one of 'single_loop', 'double_loop', 'deutero'"),
        (repo.save_reflection, {"date": "2026-10-03", "mood": "good"},
         "`mood` is not a field of this record."),
        (repo.save_pdsa, {"title": "T", "do_start": "2026-02-01", "study_date": "2026-01-01"},
         "`study_date` (2026-01-01) must not be before `do_start` (2026-02-01)."),
        (repo.save_pdsa, {"title": "T", "act": "keep"}, "`act` must be one of 'adopt'"),
    ],
)  # fmt: skip
def test_plain_validation_messages(store_url, saver, data, expected):
    rec = build_programme(store_url)
    with pytest.raises(InvalidRecordError) as err:
        saver(store_url, {"team_id": rec["w7"].id, **data})
    assert expected in str(err.value)


def test_health_check_rating_and_component(store_url):
    rec = build_programme(store_url)
    with pytest.raises(InvalidRecordError) as err:
        repo.save_health_check(store_url, {"programme_id": rec["p"].id, "period": "2026-11-01",
                                           "component": "morale", "rating": 6})  # fmt: skip
    assert {f for f, _ in err.value.problems} == {"component", "rating"}


def test_cross_record_rules(store_url):
    rec = build_programme(store_url)
    w9 = rec["w9"]
    with pytest.raises(InvalidRecordError, match="not in Ward 9's family of measures"):
        repo.save_pdsa(store_url, {"team_id": w9.id, "title": "T",
                                   "measure_ids": [rec["process"].id]})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="must be a change idea in Ward 9's"):
        repo.save_pdsa(store_url, {"team_id": w9.id, "title": "T",
                                   "change_idea_id": rec["idea"].id})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="not an outcome measure"):
        repo.save_aim(store_url, {"team_id": rec["w7"].id, "what": "x",
                                  "outcome_measure_ids": [rec["process"].id]})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="a secondary must sit under a primary driver"):
        repo.save_driver_node(store_url, {"team_id": rec["w7"].id, "kind": "secondary",
                                          "text": "x"})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="already in this family of measures"):
        repo.save_measure(store_url, {"programme_id": rec["p"].id, "team_id": w9.id,
                                      "code": "FALLS_HARM", "name": "x",
                                      "measure_type": "outcome", "value_definition": "x"})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="already has a team 'W7'"):
        repo.save_team(store_url, {"programme_id": rec["p"].id, "code": "W7", "name": "x"})
    with pytest.raises(InvalidRecordError,
                       match="`numerator` must not be more than the denominator, got 51"):
        repo.record_observation(store_url, {"team_id": rec["w7"].id,
                                            "measure_id": rec["process"].id,
                                            "period": "2026-02-01", "numerator": 51,
                                            "denominator": 50})  # fmt: skip


def test_second_score_for_the_same_month_is_a_stale_edit(store_url):
    rec = build_programme(store_url)
    with pytest.raises(StaleEditError, match=r"progress score \(Ward 7, 2026-10\)"):
        repo.save_progress_score(store_url, {"team_id": rec["w7"].id, "month": "2026-10-20",
                                             "team_score": 4.0})  # fmt: skip


def test_database_constraints_hold_without_the_repo(store_url):
    """The CHECK and UNIQUE constraints guard the data even from code that skips validation."""
    rec = build_programme(store_url)
    engine = store_db.get_engine(store_url)
    now = m.utcnow()
    base = {"version": 1, "created_at": now, "updated_at": now}
    bad_rows = [
        (m.Annotation, {"team_id": rec["w7"].id, "date": dt.date(2026, 1, 1), "text": "x",
                        "kind": "rebase", "reason": None}),
        (m.Annotation, {"team_id": rec["w7"].id, "date": dt.date(2026, 1, 1), "text": "x",
                        "kind": "rebase", "reason": ""}),
        (m.ProgressScore, {"team_id": rec["w9"].id, "month": dt.date(2026, 1, 1),
                           "team_score": 2.2}),
        (m.HealthCheck, {"programme_id": rec["p"].id, "period": dt.date(2026, 1, 1),
                         "component": "autonomy", "rating": 0}),
        (m.Observation, {"team_id": rec["w7"].id, "measure_id": rec["outcome"].id,
                         "period": dt.date(2026, 1, 1), "numerator": 1, "data_quality": "ok"}),
        (m.Observation, {"team_id": rec["w7"].id, "measure_id": rec["outcome"].id,
                         "period": dt.date(2030, 1, 1), "numerator": -1, "data_quality": "ok"}),
        (m.Measure, {"programme_id": rec["p"].id, "code": "FALLS_HARM", "name": "dup",
                     "measure_type": "outcome"}),
        (m.Reflection, {"team_id": 424242, "date": dt.date(2026, 1, 1), "bright_spot": False,
                        "generalisable": False}),
    ]  # fmt: skip
    for model, row in bad_rows:
        with (pytest.raises(StoreError, match="breaks a rule of the database"),
              store_db.session_scope(engine) as session):  # fmt: skip
            session.execute(insert(model.__table__), [{**base, **row}])


def test_observation_correction_keeps_the_edit_history(store_url):
    rec = build_programme(store_url)
    w7, outcome = rec["w7"], rec["outcome"]
    obs = repo.observations(store_url, "W7", "FALLS_HARM")
    first = obs.iloc[0]
    corrected = repo.record_observation(
        store_url,
        {"team_id": w7.id, "measure_id": outcome.id, "period": "2026-01-01", "numerator": 4,
         "denominator": 1000, "data_quality": "estimated", "source": "correction by J. Smith"},
        version=int(first["version"]),
    )  # fmt: skip
    assert (corrected.numerator, corrected.version) == (4.0, 2)
    history = repo.observation_history(store_url, "W7")
    assert list(zip(history["field"], history["old_value"], history["new_value"])) == [
        ("numerator", "6.0", "4.0"), ("data_quality", "ok", "estimated"),
    ]  # fmt: skip
    assert set(history["source"]) == {"correction by J. Smith"}
    with pytest.raises(StaleEditError, match=r"data point \(Ward 7, Falls with harm"):
        repo.record_observation(store_url, {"team_id": w7.id, "measure_id": outcome.id,
                                            "period": "2026-01-01", "numerator": 9,
                                            "denominator": 1000}, version=1)  # fmt: skip
    with pytest.raises(StaleEditError):  # the user saw an empty cell, someone filled it
        repo.record_observation(store_url, {"team_id": w7.id, "measure_id": outcome.id,
                                            "period": "2026-01-01", "numerator": 9,
                                            "denominator": 1000})  # fmt: skip


def test_upsert_is_idempotent_and_records_changes(store_url):
    rec = build_programme(store_url)
    w9, outcome = rec["w9"], rec["outcome"]
    rows = [{"team_id": w9.id, "measure_id": outcome.id, "period": dt.date(2027, mo, 1),
             "numerator": mo, "denominator": 1000.0} for mo in range(1, 13)]  # fmt: skip
    engine = store_db.get_engine(store_url)

    def upsert(rows, source):
        return store_db.run_in_transaction(
            lambda s: repo.upsert_observations(s, rows, source=source), engine
        )

    assert upsert(rows, "a.csv") == repo.UpsertSummary(12, 0, 0)
    before = repo.observations(store_url, "W9")
    assert upsert(rows, "a.csv") == repo.UpsertSummary(0, 0, 12)
    assert repo.observations(store_url, "W9").equals(before)
    rows[3] = {**rows[3], "numerator": 40.0}
    assert upsert(rows, "b.csv") == repo.UpsertSummary(0, 1, 11)
    after = repo.observations(store_url, "W9").set_index("period")
    assert after.loc["2027-04-01", "numerator"] == 40.0
    assert after.loc["2027-04-01", "version"] == 2 and after.loc["2027-04-01", "source"] == "b.csv"
    history = repo.observation_history(store_url, "W9")
    assert list(history["old_value"]) == ["4.0"] and list(history["new_value"]) == ["40.0"]
    with pytest.raises(InvalidRecordError, match="appears twice"):
        upsert([rows[0], rows[0]], "c.csv")


def test_reads_name_what_is_missing(store_url):
    build_programme(store_url)
    with pytest.raises(NotFoundError, match="There is no team 'W99'"):
        repo.get_team(store_url, "W99")
    with pytest.raises(NotFoundError, match="There is no measure 'NOPE' in Ward 7's family"):
        repo.observations(store_url, "W7", "NOPE")


def test_uninitialised_database_gives_a_plain_message(db_url):
    with pytest.raises(StoreError, match="has not been set up for qiwidgets: run `qiwidgets init"):
        repo.list_programmes(db_url)


def test_programme_observations_join_only_its_teams(store_url):
    rec = build_programme(store_url)
    other = repo.save_programme(store_url, {"code": "SEPSIS", "name": "Sepsis"})
    team = repo.save_team(store_url, {"programme_id": other.id, "code": "W7", "name": "Ward 7b"})
    with pytest.raises(StoreError, match="Several programmes have a team 'W7'"):
        repo.get_team(store_url, "W7")
    assert repo.get_team(store_url, "W7", programme="SEPSIS").id == team.id
    assert repo.observations(store_url, "W7", programme="SEPSIS").empty
    assert len(repo.observations(store_url, "W7", programme="FALLS")) == 4
    assert rec["p"].id != other.id


# --- database resolution ------------------------------------------------------------------------


def test_resolve_url(monkeypatch, tmp_path):
    monkeypatch.delenv(store_db.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert store_db.resolve_url(None) == f"sqlite:///{tmp_path / 'qiwidgets.db'}"
    assert store_db.resolve_url("ward.db") == f"sqlite:///{tmp_path / 'ward.db'}"
    assert store_db.resolve_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    monkeypatch.setenv(store_db.ENV_VAR, "postgresql://u@h/qi")
    assert store_db.resolve_url(None) == "postgresql+psycopg://u@h/qi"
    assert store_db.resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(StoreError, match="must be a SQLite file or a PostgreSQL URL"):
        store_db.resolve_url("mysql://u@h/d")


def test_sqlite_connections_are_set_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = store_db.init_db(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == store_db.SQLITE_BUSY_TIMEOUT_MS
    store_db.dispose_engines()


def test_missing_folder_is_a_plain_error(tmp_path):
    with pytest.raises(StoreError, match="the folder .* does not exist"):
        store_db.init_db(str(tmp_path / "nowhere" / "x.db"))


def test_read_only_session_does_not_take_the_write_lock(tmp_path):
    """A dashboard reading must not block a writer (WAL + deferred BEGIN for reads)."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = store_db.init_db(url)
    with store_db.session_scope(engine, write=False) as reader:
        reader.execute(select(m.Programme)).all()  # a read transaction is open
        repo.save_programme(url, {"code": "P", "name": "P"})  # a writer still gets through
    assert [p.code for p in repo.list_programmes(url)] == ["P"]
    store_db.dispose_engines()
