"""Imports of CSV and Excel files into the store (qiwidgets.store.imports).

Every test runs on SQLite and on PostgreSQL (the ``store_url`` fixture of conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from qiwidgets.errors import ImportValidationError
from qiwidgets.store import models as m
from qiwidgets.store.db import get_engine
from qiwidgets.store.imports import Problem, import_file, parse_date, parse_number

TEAMS = """programme,programme_name,code,name,organisation
FALLS,Reducing harm from falls,W1,Ward 1,Northfield
FALLS,,W2,Ward 2,Northfield
"""

MEASURES = """programme,team,code,name,measure_type,numerator_definition,denominator_definition,unit,multiplier,frequency,improvement_direction,chart_type,value_definition
FALLS,,HARM,Falls with harm per 1000 bed days,outcome,falls with harm,bed days,per 1000 bed days,1000,monthly,decrease,u,
FALLS,,RISK,Risk assessment within 24 h,process,assessed,audited,%,100,monthly,increase,p,
FALLS,W1,BELL,Call-bell response,process,,,minutes,,,decrease,i,median response time
"""

GOOD = """team,measure,period,numerator,denominator,value,data_quality
W1,HARM,2024-01,3,800,,ok
W1,HARM,2024-02,2,790,,ok
W1,RISK,2024-01,14,20,,ok
W2,RISK,2024-01,11,20,55,provisional
W1,BELL,2024-01,,,6.5,
"""


def write(tmp_path: Path, name: str, text: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


@pytest.fixture
def db(store_url, tmp_path):
    """A database with a programme, two teams and three measures."""
    import_file("teams", write(tmp_path, "teams.csv", TEAMS), store_url)
    import_file("measures", write(tmp_path, "measures.csv", MEASURES), store_url)
    return store_url


def snapshot(url) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every table: equal snapshots mean an unchanged database."""
    engine = get_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def observations(url) -> dict[tuple[str, str, dt.date], tuple]:
    engine = get_engine(url)
    stmt = (
        select(
            m.Team.code,
            m.Measure.code,
            m.Observation.period,
            m.Observation.numerator,
            m.Observation.denominator,
            m.Observation.value,
            m.Observation.data_quality,
        )
        .join(m.Team, m.Team.id == m.Observation.team_id)
        .join(m.Measure, m.Measure.id == m.Observation.measure_id)
    )
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): tuple(r[3:]) for r in conn.execute(stmt)}


def problems_of(excinfo) -> list[Problem]:
    return list(excinfo.value.problems)


def has(problems, row, column, rule_part) -> bool:
    return any(
        p.row == row and p.column == column and rule_part in p.rule for p in problems
    ), problems


# --- cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("1,234", 1234.0), (" 12 ", 12.0), ("1 234", 1234.0), ("1,234.5", 1234.5), ("", None),
     ("-3", -3.0), ("1.5e3", 1500.0)],
)  # fmt: skip
def test_numbers_written_as_people_write_them(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["12,5", "abc", "nan", "inf", "1e400", "5%", "1_000", "N/A"])
def test_numbers_that_are_refused(text):
    with pytest.raises(ValueError):
        parse_number(text)


@pytest.mark.parametrize(
    "text, expected",
    [("2024-03", dt.date(2024, 3, 1)), ("2024-03-15", dt.date(2024, 3, 15)),
     ("45383", dt.date(2024, 4, 1)), ("45383.0", dt.date(2024, 4, 1)),
     ("2024-3", dt.date(2024, 3, 1)), ("2024-03-01 00:00:00", dt.date(2024, 3, 1))],
)  # fmt: skip
def test_dates(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2024-13", "2024-02-30", "01/03/2024", "1850-01", "2024", "x"])
def test_odd_dates_are_refused(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_problem_reads_like_a_sentence():
    p = Problem("observations.csv", 14, "denominator", "-3", "must be zero or more")
    assert str(p) == (
        "observations.csv, row 14, column 'denominator', value '-3': must be zero or more"
    )


# --- real-world files ---------------------------------------------------------------------------

EXPECTED_GOOD = {
    ("W1", "HARM", dt.date(2024, 1, 1)): (3.0, 800.0, None, "ok"),
    ("W1", "HARM", dt.date(2024, 2, 1)): (2.0, 790.0, None, "ok"),
    ("W1", "RISK", dt.date(2024, 1, 1)): (14.0, 20.0, None, "ok"),
    ("W2", "RISK", dt.date(2024, 1, 1)): (11.0, 20.0, 55.0, "provisional"),
    ("W1", "BELL", dt.date(2024, 1, 1)): (None, None, 6.5, "ok"),
}


def _quirky(text: str) -> dict[str, bytes]:
    semicolons = text.replace(",", ";")
    return {
        "plain": text.encode(),
        "bom_semicolon_crlf": b"\xef\xbb\xbf" + semicolons.replace("\n", "\r\n").encode(),
        "tabs": text.replace(",", "\t").encode(),
        "utf16": text.encode("utf-16"),
        "trailing_blank_rows": (text + ",,,,,,\n\n  \n,,\n\n").encode(),
        "whitespace": "\n".join(
            " , ".join(f" {c} " for c in line.split(",")) for line in text.splitlines()
        ).encode(),
        "thousands_and_excel_dates": text.replace("800", '"0,800"')
        .replace("2024-01", "45292")
        .replace(",790,", ',"790",')
        .encode(),
        "header_in_other_words": text.replace("data_quality", "Data Quality")
        .replace("team,", "TEAM ,")
        .encode(),
    }


@pytest.mark.parametrize("variant", sorted(_quirky(GOOD)))
def test_real_world_csv_files(db, tmp_path, variant):
    path = write(tmp_path, "obs.csv", _quirky(GOOD)[variant])
    result = import_file("observations", path, db)
    assert (result.rows, result.inserted) == (5, 5)
    assert observations(db) == EXPECTED_GOOD


def test_thousands_separator_in_a_quoted_cell(db, tmp_path):
    text = 'team,measure,period,numerator,denominator\nW1,HARM,2024-01,3,"1,234"\n'
    import_file("observations", write(tmp_path, "o.csv", text), db)
    assert observations(db)[("W1", "HARM", dt.date(2024, 1, 1))][1] == 1234.0


def test_windows_1252_file(store_url, tmp_path):
    text = TEAMS.replace("Northfield", "Hôpital Sainte-Thérèse")
    import_file("teams", write(tmp_path, "teams.csv", text, "cp1252"), store_url)
    with get_engine(store_url).connect() as conn:
        names = set(conn.execute(select(m.Team.organisation)).scalars())
    assert names == {"Hôpital Sainte-Thérèse"}


def test_excel_workbook(db, tmp_path):
    import openpyxl
    book = openpyxl.Workbook()
    other = book.active
    other.title = "notes"
    other.append(["this sheet is not read"])
    sheet = book.create_sheet("Observations")
    sheet.append(["team", "measure", "period", "numerator", "denominator", "value"])
    sheet.append(["W1", "HARM", dt.datetime(2024, 1, 1), 3, 800.0, None])
    sheet.append(["W1", "BELL", 45292, None, None, 6.5])  # an Excel serial day
    sheet.append([None] * 6)
    path = tmp_path / "falls.xlsx"
    book.save(path)
    result = import_file("observations", path, db)
    assert result.inserted == 2
    got = observations(db)
    assert got[("W1", "HARM", dt.date(2024, 1, 1))] == (3.0, 800.0, None, "ok")
    assert got[("W1", "BELL", dt.date(2024, 1, 1))] == (None, None, 6.5, "ok")


def test_excel_problems_name_the_sheet_and_row(db, tmp_path):
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["team", "measure", "period", "numerator", "denominator"])
    sheet.append(["W1", "HARM", "2024-01", 3, -800])
    path = tmp_path / "falls.xlsx"
    book.save(path)
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", path, db)
    (problem,) = problems_of(excinfo)
    assert str(problem) == (
        "falls.xlsx, row 2, column 'denominator', value '-800': must be zero or more"
    )


# --- problems: all at once, with spreadsheet row numbers ------------------------------------------


def test_every_problem_is_reported_at_once(db, tmp_path):
    text = (
        "team,measure,period,numerator,denominator,value,data_quality,notes\n"  # row 1
        "W1,HARM,2024-01,3,-800,,ok,\n"  # 2: negative count
        "W1,RISK,2024-01,25,20,,ok,\n"  # 3: numerator > denominator (a proportion)
        "W9,HARM,2024-01,3,800,,ok,\n"  # 4: unknown team
        "W1,NOPE,2024-01,3,800,,ok,\n"  # 5: unknown measure
        "W1,HARM,2024-13,3,800,,ok,\n"  # 6: odd date
        "W1,HARM,2024-02,three,800,,ok,\n"  # 7: wrong type
        ",,,,,,,\n"  # 8: blank row, skipped
        "W1,HARM,2024-03,3,800,,great,\n"  # 9: bad choice
        "W1,HARM,2024-04,3,1e13,,ok,\n"  # 10: huge number
        "W1,BELL,2024-01,,,,ok,\n"  # 11: value missing
        "W1,HARM,2024-05,3,800,,ok,\n"  # 12
        "W1,HARM,2024-05,4,800,,ok,\n"  # 13: duplicate of row 12
        "W1,HARM,2024-06-15,3,800,,ok,\n"  # 14: not the first day of a monthly measure
        "W1,HARM,2024-07,3,800,9.9,ok,\n"  # 15: value disagrees with 3/800*1000 = 3.75
    )
    before = snapshot(db)
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", write(tmp_path, "observations.csv", text), db)
    problems = problems_of(excinfo)
    expected = [
        (1, "notes", "is not a column"),
        (2, "denominator", "must be zero or more"),
        (3, "numerator", "must not be more than the denominator"),
        (4, "team", "is not a team"),
        (5, "measure", "is not a measure of team 'W1'"),
        (6, "period", "is not a real date"),
        (7, "numerator", "must be a number"),
        (9, "data_quality", "must be one of ok, provisional"),
        (10, "denominator", "must be at most 1,000,000,000,000"),
        (11, "value", "is required"),
        (13, None, "same team, measure and period as row 12"),
        (14, "period", "must be the first day of a month"),
        (15, "value", "must equal numerator / denominator x multiplier"),
    ]
    for row, column, rule in expected:
        assert has(problems, row, column, rule)[0], (row, column, rule, problems)
    assert len(problems) == len(expected), problems
    assert "13 problems; nothing was imported" in str(excinfo.value)
    assert all(p.file == "observations.csv" for p in problems)
    assert snapshot(db) == before


def test_missing_columns_and_empty_files(db, tmp_path):
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", write(tmp_path, "o.csv", "team,period\nW1,2024-01\n"), db)
    problems = problems_of(excinfo)
    assert has(problems, 1, "measure", "required column")[0]
    assert any("'value' column" in p.rule for p in problems)
    for text in ("", "\n\n", "\ufeff", "team,measure,period,value\n", "team,measure,period\n,,\n"):
        with pytest.raises(ImportValidationError) as excinfo:
            import_file("observations", write(tmp_path, "e.csv", text), db)
        assert excinfo.value.problems, repr(text)


def test_undecodable_and_binary_files(db, tmp_path):
    data = GOOD.encode() + b"W1,HARM,2024-03,\x81\x8d,800,,ok\n"  # not UTF-8, not cp1252
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", write(tmp_path, "o.csv", data), db)
    assert "cannot be read as text" in str(excinfo.value.problems[0])
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", write(tmp_path, "o.xlsx", b"PK\x03\x04garbage"), db)
    assert "not a readable Excel" in str(excinfo.value.problems[0])


def test_row_numbers_count_blank_rows_and_the_header(db, tmp_path):
    text = "team,measure,period,numerator,denominator\n\n\nW1,HARM,2024-01,3,-1\n"
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", write(tmp_path, "o.csv", text), db)
    assert [p.row for p in excinfo.value.problems] == [4]


def test_a_ragged_row_is_reported_with_its_line(db, tmp_path):
    text = "team,measure,period,numerator,denominator\nW1,HARM,2024-01,3,800\nW1,HARM,2024-02,3,800,7\n"
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", write(tmp_path, "o.csv", text), db)
    (problem,) = excinfo.value.problems
    assert problem.row == 3 and "6 cells" in problem.rule


def test_long_lists_of_the_same_problem_are_summarised(db, tmp_path):
    rows = "".join(f"W1,HARM,{2000 + i // 12}-{i % 12 + 1:02d},x,800\n" for i in range(30))
    path = write(tmp_path, "o.csv", "team,measure,period,numerator,denominator\n" + rows)
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", path, db, max_problems_per_rule=5)
    problems = excinfo.value.problems
    assert [p.row for p in problems[:5]] == [2, 3, 4, 5, 6]
    assert "25 more rows break the rule 'must be a number'" in problems[5].rule
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", path, db, max_problems_per_rule=None)
    assert len(excinfo.value.problems) == 30


# --- all or nothing, idempotence, edit history -------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(db, tmp_path):
    path = write(tmp_path, "obs.csv", GOOD)
    import_file("observations", path, db)
    before = snapshot(db)
    result = import_file("observations", path, db)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 5)
    assert snapshot(db) == before


def test_a_corrected_value_is_kept_in_the_edit_history(db, tmp_path):
    import_file("observations", write(tmp_path, "october.csv", GOOD), db)
    corrected = GOOD.replace("W1,HARM,2024-01,3,800,,ok", "W1,HARM,2024-01,4,812,,estimated")
    result = import_file("observations", write(tmp_path, "october-fixed.csv", corrected), db)
    assert (result.inserted, result.updated, result.unchanged, result.edits) == (0, 1, 4, 3)
    assert observations(db)[("W1", "HARM", dt.date(2024, 1, 1))] == (4.0, 812.0, None, "estimated")
    with get_engine(db).connect() as conn:
        edits = conn.execute(
            select(m.ObservationEdit.field, m.ObservationEdit.old_value,
                   m.ObservationEdit.new_value, m.ObservationEdit.source,
                   m.ObservationEdit.changed_at)
            .order_by(m.ObservationEdit.field)
        ).all()  # fmt: skip
        version = conn.execute(
            select(m.Observation.version, m.Observation.source).where(m.Observation.numerator == 4)
        ).one()
    assert [tuple(e[:4]) for e in edits] == [
        ("data_quality", "ok", "estimated", "october-fixed.csv"),
        ("denominator", "800.0", "812.0", "october-fixed.csv"),
        ("numerator", "3.0", "4.0", "october-fixed.csv"),
    ]
    assert all(isinstance(e[4], dt.datetime) for e in edits)
    assert tuple(version) == (2, "october-fixed.csv")


def test_an_absent_column_leaves_the_field_alone_and_an_empty_cell_clears_it(db, tmp_path):
    import_file("observations", write(tmp_path, "a.csv", GOOD), db)
    no_quality = "team,measure,period,numerator,denominator,value\nW2,RISK,2024-01,11,20,55\n"
    result = import_file("observations", write(tmp_path, "b.csv", no_quality), db)
    assert result.unchanged == 1
    assert observations(db)[("W2", "RISK", dt.date(2024, 1, 1))][3] == "provisional"
    cleared = "team,measure,period,numerator,denominator,value\nW2,RISK,2024-01,11,20,\n"
    result = import_file("observations", write(tmp_path, "c.csv", cleared), db)
    assert (result.updated, result.edits) == (1, 1)
    assert observations(db)[("W2", "RISK", dt.date(2024, 1, 1))][2] is None


def test_a_failed_import_leaves_the_database_unchanged(db, tmp_path):
    import_file("observations", write(tmp_path, "good.csv", GOOD), db)
    before = snapshot(db)
    # A correction of an existing row, a new row, and one bad cell at the end.
    bad = GOOD.replace("3,800", "5,800") + "W2,HARM,2024-02,1,700,,ok\nW2,HARM,2024-03,x,700,,ok\n"
    with pytest.raises(ImportValidationError):
        import_file("observations", write(tmp_path, "bad.csv", bad), db)
    assert snapshot(db) == before


# --- teams, measures, PDSA ------------------------------------------------------------------------


def test_teams_and_measures_reimport_changes_nothing_and_updates_versions(db, tmp_path):
    before = snapshot(db)
    assert import_file("teams", write(tmp_path, "t.csv", TEAMS), db).unchanged == 2
    assert import_file("measures", write(tmp_path, "m.csv", MEASURES), db).unchanged == 3
    assert snapshot(db) == before
    renamed = TEAMS.replace("W2,Ward 2", "W2,Ward Two")
    result = import_file("teams", write(tmp_path, "t2.csv", renamed), db)
    assert (result.updated, result.unchanged) == (1, 1)
    with get_engine(db).connect() as conn:
        row = conn.execute(select(m.Team.name, m.Team.version).where(m.Team.code == "W2")).one()
    assert tuple(row) == ("Ward Two", 2)


def test_measure_rows_are_checked_by_their_model(store_url, tmp_path):
    import_file("teams", write(tmp_path, "t.csv", TEAMS), store_url)
    bad = MEASURES.replace(",outcome,", ",result,").replace(",1000,monthly", ",-5,monthly")
    bad += "FALLS,W7,X,X,process,,,,,,sideways,z,\nFALLS,,RISK,Again,outcome,a,b,,,,,,\n"
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("measures", write(tmp_path, "m.csv", bad), store_url)
    problems = excinfo.value.problems
    for row, column, rule in [
        (2, "measure_type", "must be one of outcome, process, balancing"),
        (5, "improvement_direction", "must be one of increase, decrease, neutral"),
        (5, "chart_type", "must be one of"),
        (6, None, "same team and code as row 3"),
    ]:
        assert has(problems, row, column, rule)[0], (row, column, rule, problems)


def test_pdsa_import(db, tmp_path):
    text = (
        "team,title,change_idea,measures,plan_date,do_start,study_date,act,act_date\n"
        "W1,PDSA 1: prompt,,HARM;RISK,2024-01-05,2024-01-10,2024-02-10,adopt,2024-02-12\n"
        "W2,PDSA 1: socks,,HARM,2024-03-01,2024-02-01,,,2024-04-01\n"
        "W2,PDSA 2: rounding,A change idea nobody wrote down,NOPE,,,,,\n"
        "W1,PDSA 3: no decision,,,,,,,2024-04-01\n"
    )
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("pdsa", write(tmp_path, "pdsa.csv", text), db)
    problems = excinfo.value.problems
    for row, column, rule in [
        (3, "do_start", "`do_start` (2024-02-01) must not be before `plan_date` (2024-03-01)."),
        (4, "change_idea", "is not a change idea of team 'W2'"),
        (4, "measures", "is not a measure of team 'W2'"),
        (5, "act", "`act` (adopt, adapt or abandon) is needed with an `act_date`."),
    ]:
        assert has(problems, row, column, rule)[0], (row, column, rule, problems)
    good = text.splitlines()[:2]
    path = write(tmp_path, "pdsa-ok.csv", "\n".join(good) + "\n")
    assert import_file("pdsa", path, db).inserted == 1
    before = snapshot(db)
    assert import_file("pdsa", path, db).unchanged == 1
    assert snapshot(db) == before
    with get_engine(db).connect() as conn:
        links = conn.execute(select(m.pdsa_measures)).all()
    assert len(links) == 2


def test_the_sample_files_are_valid_import_files(store_url):
    from qiwidgets.store.sample import DEFAULT_DIR

    assert import_file("teams", DEFAULT_DIR / "teams.csv", store_url).inserted == 12
    assert import_file("measures", DEFAULT_DIR / "measures.csv", store_url).inserted == 5
    result = import_file("observations", DEFAULT_DIR / "observations.csv", store_url)
    assert result.inserted == result.rows > 1000


# --- a generated corpus of malformed files ------------------------------------------------------

HEADER = ["team", "measure", "period", "numerator", "denominator", "value", "data_quality"]
BASE = [
    ["W1", "HARM", "2024-01", "3", "800", "", "ok"],
    ["W1", "RISK", "2024-01", "14", "20", "", "ok"],
    ["W2", "RISK", "2024-02", "11", "20", "", "provisional"],
    ["W1", "BELL", "2024-01", "", "", "6.5", ""],
]
# (column, bad cell, rule the problem must state)
CELL_FAULTS = [
    ("numerator", "three", "must be a number"),
    ("denominator", "12,5", "point for decimals"),
    ("numerator", "-4", "must be zero or more"),
    ("denominator", "99999999999999999999", "must be at most"),
    ("numerator", "inf", "must be a number"),
    ("period", "2024-02-30", "is not a real date"),
    ("period", "31/01/2024", "must be a date written"),
    ("period", "1066-10", "must be between 1950 and 2100"),
    ("period", "", "is required"),
    ("team", "Ward 99", "is not a team"),
    ("measure", "falls", "is not a measure"),
    ("data_quality", "good", "must be one of"),
    ("value", "6,5", "point for decimals"),
]


@st.composite
def malformed_files(draw):
    rows = [list(r) for r in BASE]
    header = list(HEADER)
    rules: list[str] = []
    faults = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
    for fault in faults:
        if fault == 0:  # broken cells
            column, cell, rule = draw(st.sampled_from(CELL_FAULTS))
            target = rows[draw(st.integers(0, 2))]  # rows 0-2 are counted measures
            target[header.index(column)] = cell
            rules.append(rule)
        elif fault == 1:  # numerator > denominator on a proportion
            rows[1][3], rows[1][4] = "21", "20"
            rules.append("must not be more than the denominator")
        elif fault == 2:  # a duplicate team x measure x period
            rows.append(list(rows[draw(st.integers(0, len(BASE) - 1))]))
            rules.append("same team, measure and period")
        elif fault == 3:  # a required column missing
            column = draw(st.sampled_from(["team", "measure", "period"]))
            index = header.index(column)
            header.pop(index)
            for r in rows:
                r.pop(index)
            rules = ["required column"]  # nothing that needs the column can be checked
            break
        elif fault == 4:  # an unknown column
            header.append("comments")
            for r in rows:
                r.append("x")
            rules.append("is not a column")
        elif fault == 5:  # negative or huge denominators
            rows[0][4] = draw(st.sampled_from(["-1", "1e13", "1,234,567,890,123,456"]))
            rules.append("must be")
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding)
    if draw(st.booleans()):
        data = draw(st.sampled_from([b"", b"   \r\n", b"\x81\x8d\x90 broken"]))
        rules = ["empty" if not data.strip() else "cannot be read as text"]
    return data, rules


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=malformed_files())
def test_malformed_files_are_refused_and_change_nothing(db, tmp_path, case):
    data, rules = case
    before = snapshot(db)
    path = tmp_path / "corpus.csv"
    path.write_bytes(data)
    with pytest.raises(ImportValidationError) as excinfo:
        import_file("observations", path, db)
    problems = excinfo.value.problems
    assert problems, "an ImportValidationError must list its problems"
    text = "\n".join(str(p) for p in problems)
    # One fault can hide another (a bad team hides that team's duplicate), so each file must
    # name at least one of its faults, and a file with a single fault must name that one.
    assert any(rule in text for rule in rules), (rules, text)
    if len(rules) == 1:
        assert rules[0] in text, (rules, text)
    assert all(str(p).startswith("corpus.csv") for p in problems)
    assert snapshot(db) == before


# --- large imports on SQLite: indexes rebuilt and CHECK rules verified once ------------------------


def test_a_large_sqlite_import_still_enforces_every_check_rule(monkeypatch, tmp_path):
    """Above BULK_REBUILD_ROWS rows, SQLite checks the table's CHECK rules in one pass after the
    rows are written; a row that breaks one still fails the whole import and changes nothing,
    and the database's own per-row checking is back on afterwards. (SQLite only: PostgreSQL
    checks every row as it is written, on every path.)"""
    from sqlalchemy import insert, text

    from qiwidgets.errors import StoreError
    from qiwidgets.store import observation_writes
    from qiwidgets.store.db import init_db

    db = f"sqlite:///{tmp_path / 'bulk.db'}"
    init_db(db)
    import_file("teams", write(tmp_path, "teams.csv", TEAMS), db)
    import_file("measures", write(tmp_path, "measures.csv", MEASURES), db)

    monkeypatch.setattr(observation_writes, "BULK_REBUILD_ROWS", 2)
    result = import_file("observations", write(tmp_path, "obs.csv", GOOD), db)
    assert result.inserted == 5  # the bulk path writes good rows as before
    before = snapshot(db)
    engine = get_engine(db)
    table = m.Observation.__table__
    with engine.connect() as conn:
        team_id, measure_id = conn.execute(text(
            "SELECT team_id, measure_id FROM observations LIMIT 1")).one()  # fmt: skip
    now = dt.datetime(2026, 1, 1)
    bad = {"team_id": team_id, "measure_id": measure_id, "period": dt.date(2025, 1, 1),
           "numerator": -1.0, "denominator": 10.0, "data_quality": "ok", "version": 1,
           "created_at": now, "updated_at": now}  # fmt: skip
    with (pytest.raises(StoreError, match="numerator_not_negative"), engine.begin() as conn,
          observation_writes.bulk_load(conn, table, 2)):  # fmt: skip
        conn.execute(insert(table), [bad])
    assert snapshot(db) == before  # the row, and the dropped index, rolled back
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA ignore_check_constraints").scalar() == 0
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'observations'")}  # fmt: skip
        assert "ix_observations_measure_id_period" in names
        with pytest.raises(Exception, match="CHECK constraint failed"):
            conn.execute(insert(table), [bad])  # and the database checks each row again
