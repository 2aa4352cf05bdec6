"""Issue K: the holes a hostile probe found in the file imports, each closed.

The importer stores exactly what a person reading the file sees, or refuses the file with a
message naming the file, row, column and value. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store_imports import MEASURES, TEAMS, observations, snapshot, write

from qiwidgets.errors import ImportValidationError, InvalidRecordError
from qiwidgets.store import repo
from qiwidgets.store.imports import import_file, parse_number

HEADER = "team,measure,period,numerator,denominator,value,data_quality\n"


@pytest.fixture
def db(store_url, tmp_path):
    """A database with a programme, two teams (W1, W2) and three measures: HARM (a u chart per
    1,000 bed days), RISK (a p chart, %) and BELL (minutes, a value)."""
    import_file("teams", write(tmp_path, "teams.csv", TEAMS), store_url)
    import_file("measures", write(tmp_path, "measures.csv", MEASURES), store_url)
    return store_url


def refused(db, path, kind: str = "observations"):
    """The problems of a refused import, after checking that the database did not change."""
    before = snapshot(db)
    with pytest.raises(ImportValidationError) as excinfo:
        import_file(kind, path, db)
    assert snapshot(db) == before
    problems = excinfo.value.problems
    assert problems, "a refusal must say why"
    return problems


# --- 4. rows with too few (or too many) cells --------------------------------------------------


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_row_cut_short_is_refused_not_padded_with_empty_cells(db, tmp_path, quoted):
    """A truncated line used to be padded with empty cells that cleared the stored fields:
    denominator 734 -> 73, provisional -> ok, reported as '1 changed'."""
    import_file(
        "observations",
        write(tmp_path, "a.csv", HEADER + "W1,HARM,2024-12,4,734,,provisional\n"),
        db,
    )
    cut = HEADER + ('"W1",HARM,2024-12,4,73\n' if quoted else "W1,HARM,2024-12,4,73\n")
    (problem,) = refused(db, write(tmp_path, "cut.csv", cut))
    assert (problem.file, problem.row) == ("cut.csv", 2)
    assert problem.rule.startswith("has 5 cells but the header has 7 columns")
    assert observations(db)[("W1", "HARM", dt.date(2024, 12, 1))] == (
        4.0,
        734.0,
        None,
        "provisional",
    )


def test_every_ragged_row_is_named_with_its_number_of_cells(db, tmp_path):
    text = (
        HEADER
        + "W1,HARM,2024-01,3,800,,ok\n"
        + "W1,HARM,2024-02,3\n"  # row 3: cut short
        + ",,\n"  # row 4: blank (skipped, whatever its number of cells)
        + "W1,HARM,2024-03,3,800,,ok,extra\n"  # row 5: one cell too many
        + '"W1","HARM","2024-04","3,5"\n'  # row 6: quoted, cut short
    )
    problems = refused(db, write(tmp_path, "o.csv", text))
    assert [(p.row, p.rule.split(":")[0]) for p in problems] == [
        (3, "has 4 cells but the header has 7 columns"),
        (5, "has 8 cells but the header has 7 columns"),
        (6, "has 4 cells but the header has 7 columns"),
    ]


# --- 5. hidden Excel sheets ----------------------------------------------------------------------


def _workbook(tmp_path, sheets, active: int):
    """A workbook of (title, rows, hidden) sheets with sheet ``active`` open."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows, hidden in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if hidden:
            sheet.sheet_state = "hidden"
    book.active = active
    path = tmp_path / "falls.xlsx"
    book.save(path)
    return path


COLUMNS = ["team", "measure", "period", "numerator", "denominator"]


def test_a_hidden_first_sheet_is_not_read_and_the_summary_says_so(db, tmp_path):
    path = _workbook(
        tmp_path,
        [("old_draft", [COLUMNS, ["W1", "RISK", "2024-03", 99, 100]], True),
         ("Data", [COLUMNS, ["W1", "RISK", "2024-03", 3, 800]], False)],
        active=1,
    )  # fmt: skip
    result = import_file("observations", path, db)
    assert observations(db) == {("W1", "RISK", dt.date(2024, 3, 1)): (3.0, 800.0, None, "ok")}
    assert result.file == "falls.xlsx (sheet 'Data')"
    assert "the hidden sheet 'old_draft' was not read" in result.summary()


def test_a_hidden_sheet_named_observations_does_not_win_over_the_visible_one(db, tmp_path):
    path = _workbook(
        tmp_path,
        [("Data", [COLUMNS, ["W1", "RISK", "2024-03", 3, 800]], False),
         ("observations", [COLUMNS, ["W1", "RISK", "2024-03", 99, 100]], True)],
        active=0,
    )  # fmt: skip
    result = import_file("observations", path, db)
    assert observations(db)[("W1", "RISK", dt.date(2024, 3, 1))][:2] == (3.0, 800.0)
    assert "the hidden sheet 'observations' was not read, only the visible sheet 'Data'" in (
        result.summary()
    )


def test_hidden_rows_are_read_and_the_summary_says_so(db, tmp_path):
    path = _workbook(
        tmp_path,
        [("observations", [COLUMNS, ["W1", "RISK", "2024-03", 3, 800],
                           ["W1", "RISK", "2024-04", 5, 800]], False)],
        active=0,
    )  # fmt: skip
    book = openpyxl.load_workbook(path)
    book.active.row_dimensions[3].hidden = True
    book.save(path)
    result = import_file("observations", path, db)
    assert result.inserted == 2
    assert "1 hidden row was read too (row 3)" in result.summary()


# --- 6. numbers whose reading depends on the locale; counts ----------------------------------------


@pytest.mark.parametrize(
    "text, rule",
    [("1.234", "is ambiguous"), ("-1.234", "is ambiguous"), ("1,234", "is ambiguous"),
     ("0,800", "is ambiguous"), ("1.234,5", "write 1234.5"),
     ("1.234.567", "write 1234567")],
)  # fmt: skip
def test_numbers_whose_reading_depends_on_the_locale_are_refused(text, rule):
    with pytest.raises(ValueError, match=rule):
        parse_number(text, decimal_point_known=False)


def test_a_european_thousands_separator_in_a_semicolon_file_is_refused(db, tmp_path):
    """1.234 bed days used to be stored as 1.234 (a rate of 2,431 per 1,000 instead of 2.4)."""
    text = "team;measure;period;numerator;denominator\nW1;HARM;2024-05;3;1.234\nW1;RISK;2024-05;5;1,234\n"
    problems = refused(db, write(tmp_path, "export.csv", text))
    assert [(p.row, p.column, p.value) for p in problems] == [
        (2, "denominator", "1.234"),
        (3, "denominator", "1,234"),
    ]
    assert problems[0].rule.startswith(
        "is ambiguous in a file separated by semicolons, tabs or '|': 1.234 means 1234 where the "
        "point separates thousands, and 1.234 where it is the decimal mark"
    )
    assert "write 1234 without a separator" in problems[0].rule


def test_counts_must_be_whole_numbers(db, tmp_path):
    """A denominator of bed days (a u chart) had no whole-number check, and a proportion's
    counts were only checked to within 1e-5 of their size (60000.5 passed)."""
    text = HEADER + (
        "W1,HARM,2024-01,3,1.234,,ok\n"  # row 2: looks like a thousands separator
        "W1,HARM,2024-02,3,812.5,,ok\n"  # row 3
        "W1,RISK,2024-01,60000.5,100000,,ok\n"  # row 4
        "W1,RISK,2024-02,3.0000000000000004,20,,ok\n"  # row 5: float noise from Excel: whole
    )
    problems = refused(db, write(tmp_path, "o.csv", text))
    whole = "must be a whole number, as it is a count"
    hint = ": if the point separates thousands, write the number without it (1234, not 1.234)"
    assert sorted((p.row, p.column, p.value, p.rule) for p in problems) == [
        (2, "denominator", "1.234", whole + hint),
        (3, "denominator", "812.5", whole),
        (4, "numerator", "60000.5", whole),
    ]


# --- 7. a denominator of 0 --------------------------------------------------------------------------

NO_CASES = (
    "must be more than zero: a denominator of 0 means there were no cases in the period, and 0 "
    "out of 0 is not a rate or a proportion that can be charted; leave this period without data"
)


def test_a_zero_denominator_is_refused_with_a_sentence_saying_what_to_do(db, tmp_path):
    """0/0 went in, and the monthly report then crashed with an IndexError."""
    text = HEADER + "W1,RISK,2024-07,0,0,,ok\nW1,HARM,2024-07,0,0,,ok\nW1,HARM,2024-08,2,0,,ok\n"
    problems = refused(db, write(tmp_path, "o.csv", text))
    assert [(p.row, p.column, p.value, p.rule) for p in problems] == [
        (2, "denominator", "0", NO_CASES),
        (3, "denominator", "0", NO_CASES),
        (4, "denominator", "0", NO_CASES),
    ]


def test_the_workbook_refuses_a_zero_denominator_with_the_same_sentence(db, tmp_path):
    team = repo.get_team(db, "W1")
    measure = repo.get_measure(db, "RISK", "W1")
    with pytest.raises(InvalidRecordError) as excinfo:
        repo.record_observation(db, {"team_id": team.id, "measure_id": measure.id,
                                     "period": "2024-07-01", "numerator": 0, "denominator": 0})  # fmt: skip
    assert str(excinfo.value) == f"The data point was not saved: `denominator` {NO_CASES}, got 0."
    assert observations(db) == {}


# --- 10. smaller holes --------------------------------------------------------------------------------


CODE_RULE = "may contain only letters, digits, '_', '.' and '-'"  # what the repository says


@pytest.mark.parametrize(
    "code, rule",
    [("../../etc/passwd", CODE_RULE), ("Ward 7", CODE_RULE), ("W7;DROP", CODE_RULE)],
)  # fmt: skip
def test_team_codes_follow_the_repository_s_rule(store_url, tmp_path, code, rule):
    text = f"programme,programme_name,code,name\nFALLS,Falls,{code},Evil ward\n"
    problems = refused(store_url, write(tmp_path, "teams.csv", text), "teams")
    assert [(p.row, p.column, p.value, p.rule) for p in problems] == [(2, "code", code, rule)]
    with pytest.raises(ValueError, match=rule):
        repo.check_code(code)  # the repository's own rule, word for word


def test_the_import_command_refuses_a_code_the_repository_refuses(store_url, tmp_path, capsys):
    from qiwidgets.cli import main

    path = write(tmp_path, "teams.csv", "programme,code,name\nFALLS,../../etc/passwd,Evil\n")
    assert main(["import", "teams", str(path), "--db", store_url]) == 2
    err = capsys.readouterr().err
    assert (
        "teams.csv, row 2, column 'code', value '../../etc/passwd': may contain only letters, "
        "digits, '_', '.' and '-'" in err
    )
    assert "Traceback" not in err


def test_measure_codes_follow_the_repository_s_rule(db, tmp_path):
    text = "programme,code,name,measure_type,value_definition\nFALLS,FALLS HARM,Falls,outcome,x\n"
    problems = refused(db, write(tmp_path, "m.csv", text), "measures")
    assert [(p.row, p.column, p.rule) for p in problems] == [(2, "code", CODE_RULE)]


def test_a_text_file_over_the_size_limit_is_refused_before_it_is_read(db, tmp_path, monkeypatch):
    from qiwidgets.store.imports import text_files

    monkeypatch.setattr(text_files, "MAX_TEXT_FILE_BYTES", 1000)

    def not_read(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(text_files, "_text_encoding", not_read)
    path = write(tmp_path, "big.csv", HEADER + "W1,HARM,2024-01,3,800,,ok\n" * 50)
    (problem,) = refused(db, path)
    assert problem.file == "big.csv"
    assert problem.rule == (
        f"is {path.stat().st_size:,} bytes, more than the 1,000 bytes an import reads: split it "
        "into smaller files (a year or a few teams each) and import each"
    )


def test_an_excel_sheet_over_the_size_limit_is_refused_before_a_row_is_read(
    db, tmp_path, monkeypatch
):
    rows = [COLUMNS] + [["W1", "RISK", "2024-03", 3, 800]] * 200
    path = _workbook(tmp_path, [("observations", rows, False)], active=0)
    from qiwidgets.store.imports import excel_files

    monkeypatch.setattr(excel_files, "MAX_EXCEL_CELL_BYTES", 5000)

    def not_read(*args, **kwargs):
        raise AssertionError("the rows were read")

    monkeypatch.setattr(excel_files, "_sheet_rows", not_read)
    (problem,) = refused(db, path)
    assert problem.rule.startswith("holds ")
    assert problem.rule.endswith(
        " bytes of cells (unpacked), more than the 5,000 bytes an Excel import reads: save the "
        "sheet as 'CSV UTF-8' and import the CSV file, which has a far higher limit"
    )


def test_a_formula_without_a_saved_value_is_named_as_such(db, tmp_path):
    """openpyxl (like other programs) writes formulas without calculating them: the cell used to
    be reported as 'is required', which sent the user looking for an empty cell."""
    path = _workbook(
        tmp_path,
        [("observations", [COLUMNS, ["W1", "RISK", "2024-03", 3, "=10+10"],
                           ["W1", "RISK", "2024-04", "=1+1", "=10+10"]], False)],
        active=0,
    )  # fmt: skip
    (problem,) = refused(db, path)
    assert problem.row == 2
    assert problem.rule == (
        "cells E2, D3, E3 hold a formula with no saved value (the program that wrote the file did "
        "not calculate it): open the file in Excel or LibreOffice and save it again, or type the "
        "values"
    )


@pytest.mark.parametrize("blank_first_row", [False, True])
def test_a_title_row_above_the_header_is_reported_once_with_where_the_header_is(
    db, tmp_path, blank_first_row
):
    """A title row used to give 11 header problems and no word of the header on row 2."""
    title = ",,,,,,\n" if blank_first_row else "Falls data export October 2024,,,,,,\n"
    text = title + HEADER + "W1,HARM,2024-01,3,800,,ok\n"
    (problem,) = refused(db, write(tmp_path, "o.csv", text))
    assert problem.row == 1
    assert problem.rule == (
        "does not hold the column names, but row 2 seems to (team, measure, period, "
        "numerator, denominator, value, data_quality): delete the row above it, so that the "
        "column names are in row 1"
    )


def test_an_excel_title_row_is_reported_the_same_way(db, tmp_path):
    path = _workbook(
        tmp_path,
        [("observations", [["Falls data export"], [], COLUMNS, ["W1", "RISK", "2024-03", 3, 800]],
          False)],
        active=0,
    )  # fmt: skip
    (problem,) = refused(db, path)
    assert problem.rule.startswith("does not hold the column names, but row 3 seems to")
    assert "delete the 2 rows above it" in problem.rule


# --- the property: what is stored is what a strict CSV reader reads ---------------------------------

FIXTURE_ROWS = [  # team, measure, numerator, denominator, value (True counts; else a value)
    ("W1", "HARM"), ("W2", "HARM"), ("W1", "RISK"), ("W2", "RISK"), ("W1", "BELL"),
]  # fmt: skip


@st.composite
def observation_files(draw):
    """An observations file as a spreadsheet in some locale would write it, with what it means.

    Returns (bytes, encoding, delimiter, meant) where ``meant`` maps each row's key to the
    values the writer meant; rows may be cut short or carry extra cells, numbers may carry
    thousands separators in the writer's locale, quoting varies.
    """
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    locale = draw(st.sampled_from(["en", "de"]))  # de: 1.234,5
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    n = draw(st.integers(1, 8))
    ragged = draw(st.integers(0, n - 1)) if draw(st.integers(0, 3)) == 0 else None  # 1 in 4
    records, meant = [], {}
    for i in range(n):
        team, measure = draw(st.sampled_from(FIXTURE_ROWS))
        period = dt.date(2020 + i // 12, i % 12 + 1, 1)
        if measure == "BELL":
            value = draw(st.sampled_from([0.5, 6.5, 12.25, 1234.5, 3.0]))
            cells = ["", "", _format(value, locale, draw)]
            meant[(team, measure, period)] = (None, None, value, "ok")
        else:
            den = draw(st.integers(1, 5000))
            num = draw(st.integers(0, den if measure == "RISK" else 50))
            cells = [_format(num, locale, draw), _format(den, locale, draw), ""]
            meant[(team, measure, period)] = (float(num), float(den), None, "ok")
        record = [team, measure, period.strftime("%Y-%m"), *cells, "ok"]
        if i == ragged:  # a line cut short (4-6 cells), or one with a cell too many
            cut = draw(st.sampled_from([4, 5, 6, 8]))
            record = record[:cut] if cut < len(record) else record + ["x"]
        records.append(record)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator="\n")
    writer.writerow(HEADER.strip().split(","))
    for record in records:
        writer.writerow(record)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return buffer.getvalue().encode(encoding), encoding, delimiter, meant


def _format(number, locale: str, draw) -> str:
    """``number`` as a spreadsheet in ``locale`` may write it (with thousands separators)."""
    whole = float(number).is_integer()
    text = f"{number:,.0f}" if whole else f"{number:,}"
    if not draw(st.booleans()):
        text = text.replace(",", "")
    if locale == "de":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def strict_rows(data: bytes, encoding: str, delimiter: str) -> list[list[str]]:
    """The rows a CSV reader with strict field counts reads (an error for a ragged row)."""
    text = data.decode(encoding).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    header, body = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
    for row in body:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells for {len(header)} columns")
    return [header, *body]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=observation_files())
def test_what_is_stored_is_what_a_strict_csv_reader_reads(db, tmp_path, case):
    """For every file the importer accepts, each stored row is the row a CSV reader with strict
    field counts reads from the file, with each number as its writer meant it."""
    data, encoding, delimiter, meant = case
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    engine_rows = len(observations(db))
    assert engine_rows == 0
    try:
        import_file("observations", path, db)
    except ImportValidationError:
        assert observations(db) == {}
        return
    try:
        header, *body = strict_rows(data, encoding, delimiter)
        stored = observations(db)
        read = {}
        for row in body:
            cells = dict(zip(header, row, strict=True))
            key = (cells["team"], cells["measure"],
                   dt.date.fromisoformat(cells["period"] + "-01"))  # fmt: skip
            read[key] = meant[key]
        assert stored == read
    finally:
        _empty_observations(db)


def _empty_observations(url) -> None:
    from sqlalchemy import delete

    from qiwidgets.store import models as m
    from qiwidgets.store.db import get_engine

    with get_engine(url).begin() as conn:
        conn.execute(delete(m.ObservationEdit))
        conn.execute(delete(m.Observation))
