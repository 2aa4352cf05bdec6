"""One set of record rules: a record the import accepts, the repository (the workbook's and the
data entry grid's way in) accepts too, and the reverse, over generated records.

Each generated data point (or measure definition) goes once through ``import_file`` (as a one-row
CSV file, for team W1) and once through the repository (``record_observation`` /
``save_measure``, for team W2, given the same text as typed in a box); both must accept it or both
refuse it. Numbers are written in their shortest form, as the workbook writes them (the import
also checks a rate against "the decimals written").
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from qiwidgets.errors import ImportValidationError, InvalidRecordError
from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.store.db import session_scope
from qiwidgets.store.imports import import_file

TEAMS = "programme,programme_name,code,name\nFALLS,Falls,W1,Ward 1\nFALLS,,W2,Ward 2\n"
MEASURES = (
    "programme,code,name,measure_type,numerator_definition,denominator_definition,unit,"
    "multiplier,frequency,chart_type,value_definition\n"
    "FALLS,HARM,Falls with harm,outcome,falls,bed days,per 1000 bed days,1000,monthly,u,\n"
    "FALLS,RISK,Risk assessed,process,assessed,admitted,%,100,monthly,p,\n"
    "FALLS,BELL,Call bell,process,,,minutes,,monthly,i,minutes\n"
    "FALLS,QTR,Quarterly audit,process,,,score,,quarterly,i,score\n"
    "FALLS,ANY,Any day,balancing,,,minutes,,,run,minutes\n"
)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])  # fmt: skip


@pytest.fixture
def db(store_url, tmp_path):
    (tmp_path / "t.csv").write_text(TEAMS, encoding="utf-8")
    (tmp_path / "m.csv").write_text(MEASURES, encoding="utf-8")
    import_file("teams", tmp_path / "t.csv", store_url)
    import_file("measures", tmp_path / "m.csv", store_url)
    return store_url


def _csv(header: list[str], row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, row])
    return out.getvalue()


# --- data points ---------------------------------------------------------------------------------

numbers = st.one_of(
    st.just(""),
    st.integers(-5, 2000).map(str),
    st.integers(10**12 - 2, 10**12 + 2).map(str),  # around the largest number taken
    st.floats(-5, 2000, allow_nan=False).map(lambda f: repr(round(f, 2))),
    st.sampled_from(["x", "1,234", "12,5", "1 234", "3.0", "inf", "-0"]),
)
periods = st.builds(
    lambda y, mo, d: f"{y:04d}-{mo:02d}-{d:02d}",
    st.sampled_from([1949, 1950, 2024, 2026, 2100, 2101]),
    st.integers(1, 12),
    st.sampled_from([1, 1, 1, 15]),
) | st.sampled_from(["2026-03", "2026-13", "03/2026", ""])
#: What a field may be changed to, to break (or not) a rule.
FAULTS = {
    "measure": st.sampled_from(["HARM", "RISK", "BELL", "QTR", "ANY"]),
    "period": periods,
    "numerator": numbers,
    "denominator": numbers,
    "value": numbers,
    "data_quality": st.sampled_from(["", "ok", "Provisional", "estimated", "good"]),
    "note": st.sampled_from(["", "checked twice", "x" * 20_001]),
}


@st.composite
def points(draw) -> dict:
    """A data point that is right for its measure, with up to two fields changed."""
    measure = draw(st.sampled_from(["HARM", "RISK", "BELL", "QTR", "ANY"]))
    month = draw(st.sampled_from([1, 4, 7, 10]) if measure == "QTR" else st.integers(1, 12))
    point = {"measure": measure, "period": f"2026-{month:02d}", "numerator": "",
             "denominator": "", "value": "", "data_quality": "", "note": ""}  # fmt: skip
    if measure in ("HARM", "RISK"):
        den = draw(st.integers(1, 5000))
        num = draw(st.integers(0, den if measure == "RISK" else 50))
        point.update(numerator=str(num), denominator=str(den))
        if draw(st.booleans()):  # the rate too, as a person writes it
            rate = num / den * (100 if measure == "RISK" else 1000)
            point["value"] = repr(round(rate, draw(st.integers(0, 3))))
    else:
        point["value"] = repr(round(draw(st.floats(0, 500, allow_nan=False)), 1))
    for field in draw(st.lists(st.sampled_from(sorted(FAULTS)), max_size=2, unique=True)):
        point[field] = draw(FAULTS[field])
    return point


def _import_accepts(db, tmp_path, point: dict) -> tuple[bool, str]:
    header = ["team", "measure", "period", "numerator", "denominator", "value", "data_quality",
              "note"]  # fmt: skip
    path = tmp_path / "o.csv"
    path.write_text(_csv(header, ["W1", *(point[h] for h in header[1:])]), encoding="utf-8")
    try:
        import_file("observations", path, db)
    except ImportValidationError as exc:
        return False, "; ".join(str(p) for p in exc.problems)
    return True, ""


def _repository_accepts(db, point: dict) -> tuple[bool, str]:
    team = repo.get_team(db, "W2")
    measure = repo.get_measure(db, point["measure"], "W2")
    data = {"team_id": team.id, "measure_id": measure.id,
            **{k: v for k, v in point.items() if k != "measure"}}  # fmt: skip
    try:
        repo.record_observation(db, data)
    except InvalidRecordError as exc:
        return False, str(exc)
    return True, ""


def _forget_data(db) -> None:
    with session_scope(db) as s:
        s.execute(delete(m.ObservationEdit))
        s.execute(delete(m.Observation))


@SETTINGS
@given(point=points())
def test_a_data_point_the_import_accepts_the_repository_accepts_and_the_reverse(db, tmp_path,
                                                                              point):  # fmt: skip
    try:
        imported, why_import = _import_accepts(db, tmp_path, point)
        recorded, why_repo = _repository_accepts(db, point)
    finally:
        _forget_data(db)
    event(f"accepted: {imported}")
    assert imported == recorded, (point, why_import, why_repo)


def test_the_property_finds_rules_that_differ(db, tmp_path, monkeypatch):
    """Were the repository to skip a measure's rules, a generated point would tell them apart."""
    monkeypatch.setattr("qiwidgets.store.observations.check_observations", lambda r, m: [])
    point = {"measure": "RISK", "period": "2026-03", "numerator": "21", "denominator": "20",
             "value": "", "data_quality": "", "note": ""}  # fmt: skip
    try:
        assert _import_accepts(db, tmp_path, point)[0] is False
        assert _repository_accepts(db, point)[0] is True
    finally:
        _forget_data(db)


# --- measure definitions ---------------------------------------------------------------------------

MEASURE_FAULTS = {
    "code": st.sampled_from(["New.2", "Falls #1 (new)", "", "a" * 65, "x-y_z"]),
    "name": st.sampled_from(["", "n" * 301, "Another"]),
    "measure_type": st.sampled_from(["outcome", "Process", "result", ""]),
    "numerator_definition": st.sampled_from(["", "falls"]),
    "denominator_definition": st.sampled_from(["", "bed days"]),
    "value_definition": st.sampled_from(["", "minutes"]),
    "multiplier": st.sampled_from(["", "1000", "0", "-5", "1,000"]),
    "chart_type": st.sampled_from(["", "p", "U", "i", "pie"]),
    "frequency": st.sampled_from(["", "monthly", "Quarterly", "yearly"]),
    "baseline_start": st.sampled_from(["", "2025-01", "2026-06-01"]),
    "baseline_end": st.sampled_from(["", "2025-12", "1900-01"]),
}


@st.composite
def measures(draw) -> dict:
    """A measure definition that is right, with up to two fields changed."""
    counted = draw(st.booleans())
    measure = {"code": "NEW1", "name": "A measure", "measure_type": "process",
               "numerator_definition": "falls" if counted else "",
               "denominator_definition": "bed days" if counted else "",
               "value_definition": "" if counted else "minutes",
               "multiplier": "1000" if counted else "", "chart_type": "u" if counted else "i",
               "frequency": "monthly", "baseline_start": "2025-01", "baseline_end": "2025-12"}  # fmt: skip
    for field in draw(st.lists(st.sampled_from(sorted(MEASURE_FAULTS)), max_size=2,
                               unique=True)):  # fmt: skip
        measure[field] = draw(MEASURE_FAULTS[field])
    return measure


@SETTINGS
@given(measure=measures())
def test_a_measure_the_import_accepts_the_repository_accepts_and_the_reverse(db, tmp_path,
                                                                           measure):  # fmt: skip
    header = ["programme", "team", *measure]
    path = tmp_path / "m.csv"
    path.write_text(_csv(header, ["FALLS", "W1", *measure.values()]), encoding="utf-8")
    team = repo.get_team(db, "W2")
    try:
        try:
            import_file("measures", path, db)
            imported, why_import = True, ""
        except ImportValidationError as exc:
            imported, why_import = False, "; ".join(str(p) for p in exc.problems)
        try:
            repo.save_measure(db, {"programme_id": team.programme_id, "team_id": team.id,
                                   **measure})  # fmt: skip
            saved, why_repo = True, ""
        except InvalidRecordError as exc:
            saved, why_repo = False, str(exc)
    finally:
        with session_scope(db) as s:
            s.execute(delete(m.Measure).where(m.Measure.team_id.is_not(None)))
    event(f"accepted: {imported}")
    assert imported == saved, (measure, why_import, why_repo)
