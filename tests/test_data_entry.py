"""The data entry grid and its upload box, driven by their traits (no browser), on SQLite and
PostgreSQL; and the one observation write path they share with the imports and the repository.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from qiwidgets.errors import InvalidDataPointsError, StaleDataPointsError
from qiwidgets.store import imports, observation_writes, people, repo
from qiwidgets.store.imports import import_file
from qiwidgets.widgets.data_entry import DataEntryGrid, add_months

TODAY = dt.date(2026, 11, 15)
TEAMS = "programme,programme_name,code,name\nFALLS,Falls,W12,Ward 12\nFALLS,,W13,W13 Frailty\n"
MEASURES = (
    "programme,team,code,name,measure_type,numerator_definition,denominator_definition,unit,"
    "multiplier,frequency,improvement_direction,chart_type,value_definition\n"
    "FALLS,,HARM,Falls with harm,outcome,falls with harm,occupied bed days,per 1000 bed days,"
    "1000,monthly,decrease,u,\n"
    "FALLS,,RISK,Risk assessment within 24 h,process,assessed,admitted,%,100,monthly,increase,"
    "p,\n"
    "FALLS,W13,BELL,Call-bell response,process,,,minutes,,monthly,decrease,i,median minutes\n"
)


@pytest.fixture
def store(store_url, tmp_path):
    """A programme with a new team W13 (no data yet), imported as an analyst would."""
    (tmp_path / "teams.csv").write_text(TEAMS, encoding="utf-8")
    (tmp_path / "measures.csv").write_text(MEASURES, encoding="utf-8")
    import_file("teams", tmp_path / "teams.csv", store_url)
    import_file("measures", tmp_path / "measures.csv", store_url)
    return store_url


def grid(db, **kwargs) -> DataEntryGrid:
    return DataEntryGrid(db, "W13", today=TODAY, **kwargs)


def type_in(g: DataEntryGrid, measure: str, month: str, **values) -> None:
    cell = g.cell(measure, month)
    for field, text in values.items():
        cell.boxes[field].value = text


def stored(db, measure: str | None = None) -> dict:
    """What the store holds for W13: (measure, month) -> (numerator, denominator, value)."""
    data = repo.observations(db, "W13", measure)

    def number(v):
        return None if pd.isna(v) else v  # NaN: empty

    return {(r.measure, r.period.strftime("%Y-%m")):
            (number(r.numerator), number(r.denominator), number(r.value))
            for r in data.itertuples()}  # fmt: skip


# --- what the grid shows --------------------------------------------------------------------------


def test_the_grid_shows_the_family_by_month_with_the_right_boxes(store):
    g = grid(store)
    assert [p.strftime("%Y-%m") for p in g.periods()] == [
        "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11",
    ]  # fmt: skip
    assert {c.measure.code for c in g.cells} == {"HARM", "RISK", "BELL"}
    assert len(g.cells) == 3 * 6
    assert set(g.cell("RISK", "2026-10").boxes) == {"numerator", "denominator", "data_quality",
                                                    "note"}  # fmt: skip
    assert set(g.cell("BELL", "2026-10").boxes) == {"value", "data_quality", "note"}
    assert g.later.disabled  # no month after the current one
    g.earlier.click()
    assert g.first_month == dt.date(2025, 12, 1) and g.last_month == dt.date(2026, 5, 1)
    assert not g.later.disabled
    g.later.click()
    assert g.last_month == dt.date(2026, 11, 1)


def test_a_team_without_measures_is_told_what_to_do(store):
    repo.save_team(store, {"programme_id": repo.get_programme(store).id, "code": "W14",
                           "name": "Ward 14"})  # fmt: skip
    # W14 has the shared measures; a programme without any has none
    p = repo.save_programme(store, {"code": "EMPTY", "name": "Empty"})
    repo.save_team(store, {"programme_id": p.id, "code": "E1", "name": "Empty ward"})
    g = DataEntryGrid(store, "E1", programme="EMPTY", today=TODAY)
    assert g.cells == [] and g.save_button.disabled
    assert "has no measures yet" in g.grid.children[0].value


# --- saving ----------------------------------------------------------------------------------------


def test_three_months_are_saved_together_with_flag_and_note(store):
    saved = []
    g = grid(store, on_saved=saved.append)
    type_in(g, "RISK", "2026-08", numerator="14", denominator="20")
    type_in(g, "RISK", "2026-09", numerator="15", denominator="21", data_quality="provisional")
    type_in(g, "RISK", "2026-10", numerator="1,012", denominator="1 100",
            note="Audit of every admission")  # fmt: skip
    type_in(g, "BELL", "2026-10", value="6.5")
    g.save_button.click()
    assert g.message_kind == "ok", g.message
    assert g.message == "Saved 4 values (August 2026, September 2026, October 2026)."
    assert stored(store) == {
        ("RISK", "2026-08"): (14.0, 20.0, None), ("RISK", "2026-09"): (15.0, 21.0, None),
        ("RISK", "2026-10"): (1012.0, 1100.0, None), ("BELL", "2026-10"): (None, None, 6.5),
    }  # fmt: skip
    assert saved and saved[0].inserted == 4
    kept = {(o.period, o.data_quality, o.note, o.source) for o in repo.list_observations(
        store, "W13") if o.period.month in (9, 10) and o.numerator}  # fmt: skip
    assert kept == {(dt.date(2026, 9, 1), "provisional", None, "data entry"),
                    (dt.date(2026, 10, 1), "ok", "Audit of every admission", "data entry")}  # fmt: skip
    # the grid shows what the store holds now, with the new versions
    assert g.cell("RISK", "2026-10").numerator.value == "1012"
    assert g.cell("RISK", "2026-10").shown.version == 1
    # saving again without a change writes nothing
    g.save_button.click()
    assert g.message == "Nothing to save: no value was changed."


def test_a_correction_keeps_the_old_value_in_the_edit_history(store):
    g = grid(store)
    type_in(g, "HARM", "2026-10", numerator="3", denominator="812")
    g.save_button.click()
    type_in(g, "HARM", "2026-10", numerator="4", note="One fall found late")
    g.save_button.click()
    assert g.message_kind == "ok", g.message
    history = repo.observation_history(store, "W13")
    old = [None if pd.isna(v) else v for v in history["old_value"]]  # NaN: no old value
    assert list(zip(history["field"], old, history["new_value"])) == [
        ("numerator", "3.0", "4.0"), ("note", None, "One fall found late"),
    ]  # fmt: skip
    assert set(history["source"]) == {"data entry"}


@pytest.mark.parametrize(
    ("measure", "values", "field", "rule"),
    [
        ("RISK", {"numerator": "twelve", "denominator": "20"}, "numerator", "must be a number"),
        ("RISK", {"numerator": "-3", "denominator": "20"}, "numerator", "must be zero or more"),
        ("RISK", {"numerator": "21", "denominator": "20"}, "numerator",
         "must not be more than the denominator"),
        ("HARM", {"numerator": "2", "denominator": "0"}, "denominator",
         "must be more than zero: a denominator of 0"),
        ("HARM", {"numerator": "2.5", "denominator": "800"}, "numerator",
         "must be a whole number, as it is a count"),
        ("HARM", {"numerator": "2", "denominator": "12,5"}, "denominator",
         "must be a number with a point for decimals"),
        ("BELL", {"value": "six"}, "value", "must be a number"),
        ("HARM", {"numerator": "", "denominator": "800"}, "numerator",
         "A data point needs a `numerator` or a `value`."),
    ],
)  # fmt: skip
def test_a_bad_value_is_named_beside_its_cell_and_nothing_is_saved(store, measure, values,
                                                                   field, rule):  # fmt: skip
    g = grid(store)
    type_in(g, "RISK", "2026-09", numerator="14", denominator="20")  # a good month alongside
    type_in(g, measure, "2026-10", **values)
    g.save_button.click()
    assert g.message_kind == "problem"
    assert g.message.startswith("Nothing was saved: 1 month needs attention")
    cell = g.cell(measure, "2026-10")
    assert [(c.measure.code, f) for c, f, _ in g.problems] == [(measure, field)]
    shown = cell.problem.value
    assert f"{cell.measure.name}, October 2026: " in shown and rule in shown
    assert f"`{field}`" in shown
    assert 'data-qi-month="2026-10"' in shown and f'data-qi-measure="{measure}"' in shown
    assert g.cell("RISK", "2026-09").problem.value == ""
    assert stored(store) == {}  # all or nothing
    assert cell.boxes[field].value == values[field]  # what was typed stays


def test_two_visitors_on_the_same_month_the_second_is_refused_and_keeps_what_they_typed(store):
    first, second = grid(store), grid(store)
    type_in(first, "HARM", "2026-10", numerator="3", denominator="812")
    first.save_button.click()
    assert first.message_kind == "ok"
    type_in(second, "HARM", "2026-10", numerator="5", denominator="812")
    type_in(second, "HARM", "2026-09", numerator="2", denominator="790")
    second.save_button.click()
    assert second.message_kind == "conflict"
    assert "Someone else changed this data point (W13 Frailty, Falls with harm, 2026-10-01)" in (
        second.message)  # fmt: skip
    assert "What you typed is still on the page" in second.message
    assert "someone else saved this month" in second.cell("HARM", "2026-10").problem.value
    assert second.cell("HARM", "2026-10").numerator.value == "5"  # kept
    assert stored(store) == {("HARM", "2026-10"): (3.0, 812.0, None)}  # nothing of theirs
    second.reload.click()  # they look at the saved values, then type their change again
    assert second.cell("HARM", "2026-10").numerator.value == "3"
    type_in(second, "HARM", "2026-10", numerator="5")
    second.save_button.click()
    assert second.message_kind == "ok"
    assert stored(store)[("HARM", "2026-10")] == (5.0, 812.0, None)


def test_a_member_s_save_is_signed_and_a_viewer_is_refused(store):
    people.add_person(store, "sam", "Sam Jones")
    people.add_person(store, "val", "Val Smith")
    people.grant(store, "sam", "member", team="W13")
    people.grant(store, "val", "viewer", team="W13")
    sam = people.ActingDB(store, people.actor_for(store, "sam"))
    val = people.ActingDB(store, people.actor_for(store, "val"))
    g = grid(sam)
    type_in(g, "HARM", "2026-10", numerator="3", denominator="812")
    g.save_button.click()
    type_in(g, "HARM", "2026-10", numerator="4")
    g.save_button.click()
    assert g.message_kind == "ok", g.message
    from sqlalchemy import select

    from qiwidgets.store import models as m
    from qiwidgets.store.db import session_scope

    with session_scope(store, write=False) as s:
        sam_id = s.scalar(select(m.Person.id).where(m.Person.identity_key == "sam"))
        assert set(s.scalars(select(m.ObservationEdit.changed_by_id))) == {sam_id}
        assert set(s.scalars(select(m.Observation.updated_by_id))) == {sam_id}
    v = grid(val)
    type_in(v, "HARM", "2026-09", numerator="1", denominator="800")
    v.save_button.click()
    assert v.message_kind == "problem"
    assert "may look at W13 Frailty's records but not change them" in v.message
    assert ("HARM", "2026-09") not in stored(store)


# --- uploading -------------------------------------------------------------------------------------


def upload(g: DataEntryGrid, name: str, text: str) -> None:
    g.upload.value = ({"name": name, "type": "text/csv", "size": len(text),
                       "content": memoryview(text.encode("utf-8")),
                       "last_modified": dt.datetime(2026, 11, 15)},)  # fmt: skip


def test_an_upload_with_one_bad_row_saves_nothing_and_lists_the_row(store):
    g = grid(store)
    text = ("team,measure,period,numerator,denominator,note\n"
            "W13,HARM,2026-08,3,812,\n"
            "W13,RISK,2026-08,25,20,the audit\n"
            "W13,HARM,2026-09,2,790,\n")  # fmt: skip
    upload(g, "our-data.csv", text)
    assert g.message_kind == "problem"
    assert g.message == "our-data.csv has 1 problem; nothing was imported."
    assert [(p.file, p.row, p.column, p.value) for p in g.problems] == [
        ("our-data.csv", 3, "numerator", "25")]  # fmt: skip
    report = g.upload_report.value
    assert "our-data.csv" in report and "<td" in report and "must not be more than the " in report
    assert stored(store) == {}
    assert g.upload.value == ()  # ready for the corrected file
    upload(g, "our-data.csv", text.replace(",25,20,", ",15,20,"))
    assert g.message_kind == "ok", g.message
    assert g.message.startswith("our-data.csv: 3 rows; 3 new")
    assert stored(store)[("RISK", "2026-08")] == (15.0, 20.0, None)
    assert g.cell("RISK", "2026-08").numerator.value == "15"  # the grid shows it
    notes = {o.note for o in repo.list_observations(store, "W13")}
    assert "the audit" in notes


def test_an_upload_takes_the_page_s_team_only(store):
    g = grid(store)
    upload(g, "wards.csv", "team,measure,period,numerator,denominator\n"
                           "W12,HARM,2026-08,3,812\nW13,HARM,2026-08,3,812\n")  # fmt: skip
    assert [(p.row, p.column, p.rule) for p in g.problems] == [
        (2, "team", "is another team: this page takes W13 Frailty's data only")]  # fmt: skip
    assert repo.observations(store, "W12").empty and stored(store) == {}


def test_a_person_imports_data_of_their_own_teams_only(store, tmp_path):
    from qiwidgets.errors import AccessDenied

    people.add_person(store, "sam", "Sam Jones")
    people.add_person(store, "val", "Val Smith")
    people.grant(store, "sam", "member", team="W13")
    people.grant(store, "val", "viewer", team="W13")
    sam = people.ActingDB(store, people.actor_for(store, "sam"))
    val = people.ActingDB(store, people.actor_for(store, "val"))
    v = grid(val)  # a viewer's upload on the team's own page
    upload(v, "ours.csv", "team,measure,period,numerator,denominator\nW13,HARM,2026-08,3,812\n")
    assert v.message_kind == "problem"
    assert "may look at W13 Frailty's records but not change them" in v.message
    path = tmp_path / "both.csv"  # a member's file that holds another ward's data
    path.write_text("team,measure,period,numerator,denominator\nW12,HARM,2026-08,3,812\n"
                    "W13,HARM,2026-08,3,812\n")  # fmt: skip
    with pytest.raises(AccessDenied, match="no access to Ward 12"):
        import_file("observations", path, sam)
    with pytest.raises(AccessDenied, match="may import data \\(observations\\) only"):
        import_file("teams", path, sam)
    assert repo.observations(store, "W12").empty and stored(store) == {}


def test_an_upload_that_is_not_a_csv_or_excel_file_is_refused(store):
    g = grid(store)
    upload(g, "notes.pdf", "%PDF-1.4")
    assert g.message_kind == "problem" and "takes a CSV or an Excel .xlsx file" in g.message


# --- the same rules and the one write path ----------------------------------------------------------


def test_the_grid_the_import_and_the_repository_share_one_write_path(store, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    calls = []
    real = observation_writes.write_observations

    def spy(session, batch, **kwargs):
        calls.append(len(batch))
        return real(session, batch, **kwargs)

    for module in ("observation_writes", "observations"):
        monkeypatch.setattr(f"qiwidgets.store.{module}.write_observations", spy)
    monkeypatch.setattr("qiwidgets.store.imports.observations.write_observations", spy)
    g = grid(store)
    type_in(g, "HARM", "2026-10", numerator="3", denominator="812")
    g.save_button.click()
    team, harm = repo.get_team(store, "W13"), repo.get_measure(store, "HARM", "W13")
    repo.record_observation(store, {"team_id": team.id, "measure_id": harm.id,
                                    "period": "2026-09", "numerator": 2, "denominator": 790})  # fmt: skip
    path = tmp_path / "o.csv"
    path.write_text("team,measure,period,numerator,denominator\nW13,HARM,2026-08,1,800\n")
    imports.import_file("observations", path, store)
    assert calls == [1, 1, 1]


def test_save_observations_reports_every_cell_and_refuses_stale_versions(store):
    team, risk = repo.get_team(store, "W13"), repo.get_measure(store, "RISK", "W13")
    points = [{"measure_id": risk.id, "period": dt.date(2026, 9, 1), "numerator": "x",
               "denominator": "20"},
              {"measure_id": risk.id, "period": dt.date(2026, 10, 1), "numerator": "30",
               "denominator": "20"},
              {"measure_id": 99999, "period": dt.date(2026, 10, 1), "value": "1"}]  # fmt: skip
    with pytest.raises(InvalidDataPointsError) as excinfo:
        repo.save_observations(store, team.id, points, seen_versions=[None, None, None])
    assert [(i, f) for i, f, _ in excinfo.value.cells] == [(0, "numerator"), (1, "numerator"),
                                                           (2, "measure_id")]  # fmt: skip
    assert "Risk assessment within 24 h, September 2026: `numerator` must be a number" in str(
        excinfo.value)  # fmt: skip
    good = [{**points[0], "numerator": "14"}]
    repo.save_observations(store, team.id, good, seen_versions=[None])
    with pytest.raises(StaleDataPointsError) as excinfo:  # saw no data point: there is one now
        repo.save_observations(store, team.id, good, seen_versions=[None])
    assert excinfo.value.points == [(team.id, risk.id, dt.date(2026, 9, 1))]


def test_months_arithmetic():
    assert add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert add_months(dt.date(2026, 11, 1), 2) == dt.date(2027, 1, 1)


# --- in the team dashboard ------------------------------------------------------------------------


def test_the_dashboard_s_our_data_tab_is_built_when_opened_and_redraws_the_charts(store):
    from qiwidgets.dashboards.team import TABS, TeamDashboard

    dash = TeamDashboard(store, "W13", today=TODAY)
    assert "Our data" not in dash.sections  # built when first opened
    dash.tabs.selected_index = TABS.index("Our data")
    g = dash.sections["Our data"]
    assert isinstance(g, DataEntryGrid)
    harm = next(c for c in dash.cards if c.code == "HARM")
    assert harm.status.result is None or len(harm.status.result.points) == 0
    for month, n in (("2026-08", "3"), ("2026-09", "2"), ("2026-10", "4")):
        type_in(g, "HARM", month, numerator=n, denominator="800")
    g.save_button.click()
    assert g.message_kind == "ok", g.message
    harm = next(c for c in dash.cards if c.code == "HARM")
    assert len(harm.status.result.points) == 3
    assert "<svg" in harm.html or "vega" in harm.html.lower()
