"""Imports of CSV and Excel files into the learning-system store.

Four kinds of file can be imported (``qiwidgets import KIND FILE`` or :func:`import_file`):

``observations``
    the data: one row per team x measure x period;
``measures``
    measure definitions (the operational definition of each measure);
``teams``
    the teams of a programme;
``pdsa``
    PDSA cycles.

The columns of each kind are listed in :data:`FORMATS` (and printed by :func:`format_help`).

Rules every file follows
------------------------
The importer stores exactly what a person reading the file sees, or refuses the file with a
message naming the file, row, column, value and what is wrong.

* **Row 1 is the header** (column names). Names are matched ignoring case, surrounding spaces,
  and spaces or hyphens instead of underscores (``Data quality`` is ``data_quality``). When the
  names are on a later row (a title row above them), the file is refused with one message saying
  on which row they seem to be.
* **Unknown columns are an error**, not a warning: a misspelt optional column (``denominater``,
  ``notes``) would otherwise be dropped without a word. Remove or rename them.
* **Rows are numbered as a spreadsheet shows them**: the header is row 1, the first data row is
  row 2. Blank rows (all cells empty) are skipped wherever they are.
* **Every row of a text file has exactly one cell per column.** A row with fewer cells (a line
  cut short) or more cells is refused, naming the row and how many cells it has: filling in the
  missing cells as empty would clear those fields without a word.
* **Every problem is reported at once** -- file, row, column, value and the rule broken -- as an
  :class:`~qiwidgets.errors.ImportValidationError` whose ``problems`` list holds
  :class:`Problem` objects. To keep a badly broken file readable, at most
  ``max_problems_per_rule`` cells (200 by default) are listed for one rule in one column, followed
  by one line counting the rest; pass ``max_problems_per_rule=None`` to list every cell.
* **All or nothing**: the whole file is written in one transaction, only when it has no problem
  at all. Importing the same file again changes nothing.
* **Size**: a text file larger than :data:`MAX_TEXT_FILE_BYTES` (256 MiB) and an Excel sheet whose
  cells take more than :data:`MAX_EXCEL_CELL_BYTES` (100 MB unpacked) are refused before they
  are read. Files are read in chunks and held as compact codes, so an import needs memory of
  about 1-4 times the file's size.
* **Text files**: UTF-8 (with or without the byte-order mark Excel writes), UTF-16 with a BOM, or
  Windows-1252 (tried when the file is not UTF-8); the delimiter is found from the header (``,``,
  ``;``, tab or ``|``). Cells are stripped of surrounding spaces. Quotes follow RFC 4180: a
  quoted cell ends with a quote, and a quote inside it is doubled; anything else is refused.
* **Excel files** (``.xlsx``): hidden sheets are never read. The visible sheet named after the
  kind (``observations``) is read if there is one, otherwise the active sheet (the one Excel
  opens on); the summary says which hidden sheets were left out, and whether hidden rows were
  read. A formula cell with no saved value (a file written by a program that does not
  calculate) is refused as such.
* **Numbers**: ``1234``, ``1,234`` and ``1 234`` (thousands separators in groups of three),
  ``12.5``, ``1.5e3``. A comma used as a decimal point (``12,5``) is an error, as it cannot be told
  from a thousands separator; so are European forms such as ``1.234.567`` and ``1.234,5``. In a
  text file separated by ``;``, tabs or ``|`` -- what spreadsheets write where the comma is the
  decimal mark -- a number whose reading depends on that locale is refused: ``1.234`` (1234 with a
  point for thousands, 1.234 with a decimal point) and ``1,234`` (the other way round). Write
  ``1234``. Numbers larger than 10^12 in size are refused.
* **Dates**: ``YYYY-MM-DD``, ``YYYY-MM`` (the first day of the month) or an Excel date (a date cell,
  or an Excel serial day number such as ``45383``). ``DD/MM/YYYY`` and ``MM/DD/YYYY`` are refused
  because they cannot be told apart. Dates must fall between 1950 and 2100.
* **Choices** are matched ignoring case, with spaces or hyphens for underscores (``Single loop``).
* **Codes** of teams and measures (and of a programme a teams file creates) follow the same rule
  as everywhere in qiwidgets (:data:`qiwidgets.store.repo.CODE_PATTERN`): letters, digits,
  ``_``, ``.`` and ``-``, at most 64 characters.

Observations
------------
A row is a team's value of a measure for one period; the key is team x measure x period.
``team`` is a team's code (or its name), ``measure`` a measure's code (or its name): one of the
team's own measures, or a shared measure of the team's programme (a team's own measure wins when
both have the code). A *counted* measure -- chart type ``p``, ``pp``, ``u`` or ``up``, or any
measure with a denominator definition -- needs ``numerator`` and ``denominator``, both whole
numbers (they are counts: falls, bed days, patients), the denominator more than zero (0 means
there were no cases: leave that period out); ``value`` may hold the rate and must then agree with
numerator / denominator x multiplier to the decimals written. Any other measure needs ``value``
and leaves numerator and denominator empty. For a *proportion* (chart type ``p`` or ``pp``, or
unit ``%``) the numerator may not exceed the denominator. Monthly measures take the first day of
the month (``2024-03`` or ``2024-03-01``); quarterly ones the first day of January, April, July or
October.

Re-importing a row that exists: cells that changed are written, the observation's ``version``
goes up, and each changed field is kept in the edit history (``observation_edits``: old value,
new value, when, and the file name as the source). A column that is absent from the file leaves
that field as it was; an empty cell in a present column clears it (and the clearing is recorded).
Rows of the database that are not in the file are left alone: an import never deletes.

Measures, teams, PDSA cycles
----------------------------
Each row is checked by a pydantic model (one per kind); the row is matched to the database by
its natural key -- a team by programme + code, a measure by programme + team + code, a PDSA cycle
by team + title -- and inserted, updated (``version`` goes up) or left alone when nothing changed.
A teams file creates a programme that does not exist yet (named by ``programme_name``).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import difflib
import gc
import itertools
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from qiwidgets.errors import ImportValidationError
from qiwidgets.errors import logger as _root_logger
from qiwidgets.store.models import (
    CHART_TYPES,
    DATA_QUALITY_FLAGS,
    FREQUENCIES,
    IMPROVEMENT_DIRECTIONS,
    MEASURE_TYPES,
    PDSA_ACTS,
    RULE_SETS,
)
from qiwidgets.store.repo import (
    CODE_MAX_LENGTH,
    COUNTED_CHART_TYPES,
    ZERO_DENOMINATOR_RULE,
    check_code,
    is_counted,
    is_proportion,
    zero_denominator,
)

log = _root_logger.getChild("store.imports")

#: The kinds of file :func:`import_file` reads.
KINDS = ("observations", "measures", "teams", "pdsa")

#: Numbers larger than this in size are refused (a typo, or a cell that is not a count).
MAX_NUMBER = 1e12
#: Dates before this are refused as implausible for improvement data.
MIN_DATE = dt.date(1950, 1, 1)
#: Dates after this are refused as implausible.
MAX_DATE = dt.date(2100, 12, 31)
#: Excel counts days from 1899-12-30 (its 1900 leap-year bug makes this the usual epoch).
EXCEL_EPOCH = dt.date(1899, 12, 30)
#: Free text longer than this is refused (a pasted document, or a broken file).
MAX_TEXT = 20_000
#: How many cells one rule in one column lists before the rest are counted in one line.
DEFAULT_MAX_PROBLEMS_PER_RULE = 200
#: Delimiters a text file may use (found from the header row).
DELIMITERS = (",", ";", "\t", "|")
#: The one delimiter that says the writer's decimal mark is the point: where the comma separates
#: cells it cannot be the decimal mark. Spreadsheets whose locale writes 12,5 use ';' instead.
DECIMAL_POINT_DELIMITER = ","

#: A text file larger than this is refused before it is read: 256 MiB holds about five million
#: observation rows (the benchmark's 1,000,000 rows of 200 teams x 50 measures x 100 months take
#: 27.5 MB; benchmarks/store_bench.py); a larger programme imports a year or a team at a time.
MAX_TEXT_FILE_BYTES = 256 * 1024 * 1024
#: An Excel sheet whose cells take more than this, unpacked (the sheet's XML plus the workbook's
#: shared text), is refused before a row is read: openpyxl reads ~3 MB of sheet XML a second
#: (measured on the benchmark machine: the benchmark's rows, 100,000 of them, are 29.6 MB of XML
#: and import in 10.5 s), so 100 MB is ~340,000 rows and ~35 s. Larger data go faster as CSV.
MAX_EXCEL_CELL_BYTES = 100 * 1000 * 1000
#: How many rows at the top of a file are searched for the column names when row 1 does not hold
#: them (a title row, or a blank first row), to say where they are.
HEADER_SEARCH_ROWS = 10
#: Rows parsed at a time. With cells kept as codes, memory grows by ~4 bytes a cell, not by the
#: text of the rows (a chunk of 20,000 rows of Python strings is ~8 MB).
READ_CHUNK_ROWS = 20_000
#: Observation rows written per INSERT batch, and existing rows read per fetch (bounds memory).
WRITE_BATCH_ROWS = 20_000

# Lengths of the database's string columns (qiwidgets.store.models).
_NAME_LEN = 200
_MEASURE_NAME_LEN = 300
_PDSA_TITLE_LEN = 300
_UNIT_LEN = 100
_COLLECTOR_LEN = 200
_SOURCE_LEN = 500


# --- problems -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem found in an import file.

    ``row`` is the row number a spreadsheet shows (the header is row 1); ``row`` and ``column``
    are None for a problem of the whole file, ``value`` is None when there is no cell to show.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        if self.value is not None:
            parts.append(f"value '{_shorten(self.value)}'")
        return ", ".join(parts) + ": " + self.rule


def _shorten(text: str, limit: int = 60) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Problems:
    """Collects problems, listing at most ``cap`` cells per (column, rule)."""

    def __init__(self, file: str, cap: int | None):
        self.file = file
        self.cap = cap
        self.items: list[Problem] = []
        self._counts: dict[tuple, int] = {}
        self._rows_left: dict[tuple, list[int]] = {}

    def add(self, row, column, value, rule) -> None:
        key = (column, rule)
        n = self._counts.get(key, 0)
        self._counts[key] = n + 1
        if self.cap is None or n < self.cap:
            self.items.append(Problem(self.file, row, column, value, rule))
        else:
            self._rows_left.setdefault(key, []).append(row)

    def add_cells(self, rows: np.ndarray, values: Iterable, column: str, rule: str) -> None:
        for row, value in zip(rows.tolist(), values):
            self.add(int(row), column, value, rule)

    def __bool__(self) -> bool:
        return bool(self._counts)

    def copy(self) -> _Problems:
        other = _Problems(self.file, self.cap)
        other.items = list(self.items)
        other._counts = dict(self._counts)
        other._rows_left = {k: list(v) for k, v in self._rows_left.items()}
        return other

    def __len__(self) -> int:
        return sum(self._counts.values())

    def finish(self) -> list[Problem]:
        out = list(self.items)
        for (column, rule), rows in self._rows_left.items():
            out.append(
                Problem(
                    self.file,
                    None,
                    column,
                    None,
                    f"{len(rows):,} more rows break the rule '{rule}' "
                    f"(rows {rows[0]} to {rows[-1]})",
                )
            )
        return out

    def raise_if_any(self) -> None:
        if self._counts:
            total = len(self)
            noun = "problem" if total == 1 else "problems"
            raise ImportValidationError(
                f"{self.file} has {total:,} {noun}; nothing was imported.", self.finish()
            )


class _Rule(ValueError):
    """A cell breaks a rule; the message is the rule, e.g. 'must be zero or more'."""


# --- file formats ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import format."""

    name: str
    required: str  # "yes", "no", or a condition in words
    type: str
    description: str


def _col(name, required, type_, description) -> Column:
    return Column(name, required, type_, description)


#: The columns of each kind of import file, in the order the sample files use.
FORMATS: dict[str, tuple[Column, ...]] = {
    "observations": (
        _col("team", "yes", "text", "the team's code (or name)"),
        _col("measure", "yes", "text", "the measure's code (or name)"),
        _col("period", "yes", "date", "YYYY-MM, YYYY-MM-DD or an Excel date"),
        _col("numerator", "counted measures", "number", "zero or more; whole number"),
        _col("denominator", "counted measures", "number", "zero or more"),
        _col("value", "other measures", "number", "the value (or the rate of a counted one)"),
        _col(
            "data_quality",
            "no",
            "choice",
            "ok (the default), provisional, estimated, incomplete or suspect",
        ),
        _col("programme", "no", "text", "programme code, needed only if team codes repeat"),
    ),
    "teams": (
        _col("programme", "yes", "code", "programme code; a new code creates the programme"),
        _col("programme_name", "no", "text", "the programme's name when it is created"),
        _col(
            "code",
            "yes",
            "code",
            f"letters, digits, _ . - (<= {CODE_MAX_LENGTH}); unique in the programme",
        ),
        _col("name", "yes", "text", "the team's name"),
        _col("organisation", "no", "text", "the organisation the team belongs to"),
    ),
    "measures": (
        _col("programme", "yes", "text", "programme code"),
        _col("team", "no", "text", "a team's code for the team's own measure; empty = shared"),
        _col("code", "yes", "code", f"letters, digits, _ . - (<= {CODE_MAX_LENGTH})"),
        _col("name", "yes", "text", "the measure's name"),
        _col("measure_type", "yes", "choice", "outcome, process or balancing"),
        _col("numerator_definition", "p/pp/u/up charts", "text", "what is counted"),
        _col("denominator_definition", "p/pp/u/up charts", "text", "what it is counted out of"),
        _col("value_definition", "no", "text", "what the value is (measures without a count)"),
        _col("unit", "no", "text", "e.g. %, per 1,000 bed days, minutes"),
        _col("multiplier", "no", "number", "more than zero, e.g. 100 or 1000"),
        _col("population", "no", "text", "who is measured"),
        _col("inclusions", "no", "text", "who or what is included"),
        _col("exclusions", "no", "text", "who or what is excluded"),
        _col("data_source", "no", "text", "where the data come from"),
        _col("collector", "no", "text", "who collects them"),
        _col("frequency", "no", "choice", "daily, weekly, fortnightly, monthly or quarterly"),
        _col("sampling", "no", "text", "how cases are sampled"),
        _col("improvement_direction", "no", "choice", "increase, decrease or neutral"),
        _col("target", "no", "number", "the target value"),
        _col("target_date", "no", "date", "when the target should be reached"),
        _col("chart_type", "no", "choice", "run, i, mr, xbar, s, t, p, pp, c, u, up, g, xmr"),
        _col("rule_set", "no", "choice", "anhoej, ihi or mdc: the rule set of the measure's "
             "verdict on every screen (default: mdc for an xmr chart, anhoej otherwise)"),
        _col("baseline_start", "no", "date", "first period of the baseline"),
        _col("baseline_end", "no", "date", "last period of the baseline (not before the start)"),
    ),
    "pdsa": (
        _col("team", "yes", "text", "the team's code (or name)"),
        _col("title", "yes", "text", "the cycle's title, unique within the team"),
        _col("change_idea", "no", "text", "a change idea of the team's driver diagram"),
        _col("measures", "no", "text", "codes of the measures it watches, separated by ;"),
        _col("plan_question", "no", "text", "the question the cycle answers"),
        _col("prediction", "no", "text", "what the team expects to happen"),
        _col("plan_date", "no", "date", "when it was planned"),
        _col("do_start", "no", "date", "when the test started (not before plan_date)"),
        _col("do_notes", "no", "text", "what happened"),
        _col("study_date", "no", "date", "when the result was studied (not before do_start)"),
        _col("study_result", "no", "text", "the result against the prediction"),
        _col("act", "no", "choice", "adopt, adapt or abandon"),
        _col("act_date", "no", "date", "when it was decided (needs act; not before study_date)"),
        _col("programme", "no", "text", "programme code, needed only if team codes repeat"),
    ),
}


def _required_columns(kind: str) -> list[str]:
    return [c.name for c in FORMATS[kind] if c.required == "yes"]


def format_help(kind: str) -> str:
    """The columns of one kind of import file, as a plain-text table."""
    _check_kind(kind)
    rows = [("column", "required", "type", "meaning")]
    rows += [(c.name, c.required, c.type, c.description) for c in FORMATS[kind]]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows
    )


def format_markdown(kind: str) -> str:
    """The columns of one kind of import file, as a Markdown table (for the README)."""
    _check_kind(kind)
    lines = ["| column | required | type | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.required} | {c.type} | {c.description} |" for c in FORMATS[kind]]
    return "\n".join(lines)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ImportValidationError(
            f"`kind` must be one of {', '.join(repr(k) for k in KINDS)}, got {kind!r}.", []
        )


# --- cell parsers (one definition of each rule; used per unique value and by pydantic) ---------

_PLAIN_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_COMMA_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_SPACE_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?:\.\d*)?$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_EXCEL_SERIAL = re.compile(r"^\d+(?:\.0+)?$")
_HAS_TIME = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}")

_DATE_RULE = "must be a date written YYYY-MM-DD or YYYY-MM (e.g. 2024-03), or an Excel date"


#: 1.234: a point before one group of three digits, a decimal point in one locale and a
#: thousands separator in another (as spreadsheets set to German, Dutch, ... write it).
_POINT_GROUP = re.compile(r"^[-+]?[1-9]\d{0,2}\.\d{3}$")
#: 1,234: a comma before one group of three digits (thousands, or a decimal comma).
_COMMA_GROUP = re.compile(r"^[-+]?\d{1,3},\d{3}$")
#: 1.234.567 or 1.234,5: points between thousands, and a decimal comma if any (one locale only).
_EUROPEAN = re.compile(r"^[-+]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?$")


def _locale_rule(s: str) -> str:
    whole = ("-" if s.startswith("-") else "") + str(int(re.sub(r"\D", "", s)))
    decimal = s.replace(",", ".")
    unambiguous = decimal + "0" if _POINT_GROUP.match(decimal) else decimal
    mark = "point" if "." in s else "comma"
    return (
        f"is ambiguous in a file separated by semicolons, tabs or '|': {s} means {whole} where "
        f"the {mark} separates thousands, and {decimal} where it is the decimal mark "
        "(spreadsheets set to many European languages write 1.234,5 for 1234.5); write "
        f"{whole} without a separator, or {unambiguous} if the decimal is meant"
    )


def parse_number(text: str, *, decimal_point_known: bool = True) -> float | None:
    """A number from a cell (None for an empty cell).

    ``decimal_point_known`` is False for a file whose delimiter does not tell that the decimal
    mark is a point (see :data:`DECIMAL_POINT_DELIMITER`): there ``1.234`` and ``1,234`` are
    refused, since their reading depends on the locale that wrote them.

    >>> parse_number("1,234.5"), parse_number(" 12 "), parse_number("")
    (1234.5, 12.0, None)
    """
    s = text.strip()
    if not s:
        return None
    if not decimal_point_known and (_POINT_GROUP.match(s) or _COMMA_GROUP.match(s)):
        raise _Rule(_locale_rule(s))
    if not _PLAIN_NUMBER.match(s):
        if _COMMA_THOUSANDS.match(s):
            s = s.replace(",", "")
        elif _SPACE_THOUSANDS.match(s):
            s = re.sub(r"[ \u00a0\u202f\u2009]", "", s)
        elif s.endswith("%") and _PLAIN_NUMBER.match(s[:-1].strip()):
            raise _Rule("must be a number without a % sign")
        elif _EUROPEAN.match(s):
            plain = s.replace(".", "").replace(",", ".")
            raise _Rule(
                "must be written with a point for decimals and no point between thousands "
                f"(as spreadsheets set to many European languages write it): write {plain}"
            )
        elif "," in s and _PLAIN_NUMBER.match(s.replace(",", ".", 1)):
            raise _Rule("must be a number with a point for decimals (12.5, not 12,5)")
        else:
            raise _Rule("must be a number")
    number = float(s)
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise _Rule(f"must be at most {MAX_NUMBER:,.0f} in size")
    return number


def parse_count(text: str, *, decimal_point_known: bool = True) -> float | None:
    """A count: a number that is zero or more (None for an empty cell)."""
    number = parse_number(text, decimal_point_known=decimal_point_known)
    if number is not None and number < 0:
        raise _Rule("must be zero or more")
    return number


def parse_date(text: str) -> dt.date | None:
    """A date from a cell: YYYY-MM-DD, YYYY-MM (first of the month) or an Excel serial day.

    >>> parse_date("2024-03"), parse_date("45383")
    (datetime.date(2024, 3, 1), datetime.date(2024, 4, 1))
    """
    s = text.strip()
    if not s:
        return None
    m = _DATE.match(s)
    if m:
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        try:
            date = dt.date(year, month, day)
        except ValueError:
            raise _Rule("is not a real date") from None
    elif _EXCEL_SERIAL.match(s):
        serial = int(float(s))
        lowest = (MIN_DATE - EXCEL_EPOCH).days
        highest = (MAX_DATE - EXCEL_EPOCH).days
        if not lowest <= serial <= highest:
            raise _Rule(_DATE_RULE)
        date = EXCEL_EPOCH + dt.timedelta(days=serial)
    elif _HAS_TIME.match(s):
        raise _Rule("must be a date without a time of day")
    else:
        raise _Rule(_DATE_RULE)
    if not MIN_DATE <= date <= MAX_DATE:
        raise _Rule(f"must be between {MIN_DATE.year} and {MAX_DATE.year}")
    return date


def _normalise_choice(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().casefold())


def parse_choice(text: str, allowed: Sequence[str], default: str | None = None):
    """One of ``allowed`` (matched ignoring case; spaces or hyphens for underscores)."""
    s = text.strip()
    if not s:
        return default
    norm = _normalise_choice(s)
    if norm in allowed:
        return norm
    raise _Rule("must be one of " + ", ".join(allowed))


def parse_text(text: str, max_len: int = MAX_TEXT) -> str | None:
    """Text with surrounding spaces removed (None for an empty cell)."""
    s = text.strip()
    if not s:
        return None
    if len(s) > max_len:
        raise _Rule(f"must be at most {max_len:,} characters long")
    return s


def parse_required_text(text: str, max_len: int = MAX_TEXT) -> str:
    s = parse_text(text, max_len)
    if s is None:
        raise _Rule("is required")
    return s


# --- pydantic row types built from the same parsers ------------------------------------------------


def _rule(parser: Callable[[str], Any]) -> BeforeValidator:
    def validate(value: Any) -> Any:
        try:
            return parser("" if value is None else str(value))
        except _Rule as exc:
            raise PydanticCustomError("qi_rule", str(exc)) from None

    return BeforeValidator(validate)


def _choice(allowed: Sequence[str], default: str | None = None) -> BeforeValidator:
    return _rule(lambda s: parse_choice(s, allowed, default))


def _text(max_len: int = MAX_TEXT) -> BeforeValidator:
    return _rule(lambda s: parse_text(s, max_len))


def _required(max_len: int = MAX_TEXT) -> BeforeValidator:
    return _rule(lambda s: parse_required_text(s, max_len))


def parse_code(text: str) -> str:
    """A required code, checked by the repository's own rule (:func:`repo.check_code`)."""
    s = parse_required_text(text, CODE_MAX_LENGTH)
    try:
        return check_code(s)
    except ValueError as exc:
        raise _Rule(str(exc)) from None


def _number() -> BeforeValidator:
    """A number, read with the file's decimal mark (``decimal_point_known`` in the context)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        known = (info.context or {}).get("decimal_point_known", True)
        try:
            return parse_number("" if value is None else str(value), decimal_point_known=known)
        except _Rule as exc:
            raise PydanticCustomError("qi_rule", str(exc)) from None

    return BeforeValidator(validate)


Number = Annotated[float | None, _number()]
Date = Annotated[dt.date | None, _rule(parse_date)]
Code = Annotated[str, _rule(parse_code)]
Text = Annotated[str | None, _text()]


def _model_config() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True)


class TeamRow(BaseModel):
    model_config = _model_config()
    programme: Code
    programme_name: Annotated[str | None, _text(_NAME_LEN)] = None
    code: Code
    name: Annotated[str, _required(_NAME_LEN)]
    organisation: Annotated[str | None, _text(_NAME_LEN)] = None


class MeasureRow(BaseModel):
    model_config = _model_config()
    programme: Annotated[str, _required(CODE_MAX_LENGTH)]
    team: Annotated[str | None, _text(_NAME_LEN)] = None
    code: Code
    name: Annotated[str, _required(_MEASURE_NAME_LEN)]
    measure_type: Annotated[str, _rule(lambda s: _required_choice(s, MEASURE_TYPES))]
    numerator_definition: Text = None
    denominator_definition: Text = None
    value_definition: Text = None
    unit: Annotated[str | None, _text(_UNIT_LEN)] = None
    multiplier: Number = None
    population: Text = None
    inclusions: Text = None
    exclusions: Text = None
    data_source: Text = None
    collector: Annotated[str | None, _text(_COLLECTOR_LEN)] = None
    frequency: Annotated[str | None, _choice(FREQUENCIES)] = None
    sampling: Text = None
    improvement_direction: Annotated[str | None, _choice(IMPROVEMENT_DIRECTIONS)] = None
    target: Number = None
    target_date: Date = None
    chart_type: Annotated[str | None, _choice(CHART_TYPES)] = None
    rule_set: Annotated[str | None, _choice(RULE_SETS)] = None
    baseline_start: Date = None
    baseline_end: Date = None


class PDSARow(BaseModel):
    model_config = _model_config()
    team: Annotated[str, _required(_NAME_LEN)]
    title: Annotated[str, _required(_PDSA_TITLE_LEN)]
    change_idea: Text = None
    measures: Annotated[tuple[str, ...], _rule(_parse_code_list)] = ()
    plan_question: Text = None
    prediction: Text = None
    plan_date: Date = None
    do_start: Date = None
    do_notes: Text = None
    study_date: Date = None
    study_result: Text = None
    act: Annotated[str | None, _choice(PDSA_ACTS)] = None
    act_date: Date = None
    programme: Annotated[str | None, _text(CODE_MAX_LENGTH)] = None


ROW_MODELS = {"teams": TeamRow, "measures": MeasureRow, "pdsa": PDSARow}
"""The pydantic model that checks one row of each kind of file (observations are checked
in bulk instead)."""


def _required_choice(text: str, allowed: Sequence[str]) -> str:
    value = parse_choice(text, allowed)
    if value is None:
        raise _Rule("is required: one of " + ", ".join(allowed))
    return value


def _parse_code_list(text: str) -> tuple[str, ...]:
    parts = [p.strip() for p in re.split(r"[;,|]", text)]
    return tuple(p for p in parts if p)


# --- reading files -------------------------------------------------------------------------------


@dataclass
class Table:
    """A file read as text cells: stripped strings, the header normalised, blank rows dropped.

    ``codes[name]`` indexes ``uniques[name]`` for each row (cells are kept factorised, which is
    what makes a million rows quick to check and small to hold); ``rows`` holds the spreadsheet
    row numbers. ``decimal_point_known`` is False for a text file separated by ``;``, tabs or
    ``|``, where the reading of ``1.234`` depends on the locale that wrote it. ``notes`` are said
    in the import's summary (hidden sheets left out, hidden rows read).
    """

    file: str
    columns: list[str]
    rows: np.ndarray
    codes: dict[str, np.ndarray]
    uniques: dict[str, np.ndarray]
    decimal_point_known: bool = True
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def cells(self, name: str) -> np.ndarray:
        """The column as an array of strings (for small tables)."""
        return self.uniques[name][self.codes[name]]

    def records(self) -> list[dict[str, str]]:
        cols = {name: self.cells(name).tolist() for name in self.columns}
        return [{name: cols[name][i] for name in self.columns} for i in range(len(self))]


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().strip("\ufeff").strip().casefold())


def _fatal(file: str, rule: str, row: int | None = None) -> ImportValidationError:
    return ImportValidationError(
        f"{file} cannot be imported; nothing was imported.", [Problem(file, row, None, None, rule)]
    )


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


class _Growing:
    """An array that grows by doubling, in the smallest integer type its values need.

    A file's codes live in a few large blocks rather than one small array a chunk: small
    long-lived arrays between the parser's freed ones kept the process's heap from shrinking.
    """

    def __init__(self, dtype=np.uint8):
        self.data = np.empty(1 << 16, dtype)
        self.size = 0

    def extend(self, values: np.ndarray, largest: int) -> None:
        dtype = np.promote_types(self.data.dtype, np.min_scalar_type(largest))
        end = self.size + len(values)
        if end > len(self.data) or dtype != self.data.dtype:
            grown = np.empty(max(end, 2 * len(self.data)), dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end

    def array(self) -> np.ndarray:
        self.data.resize(self.size, refcheck=False)  # shrinks in place: no second copy
        return self.data


class _Builder:
    """A file's rows, arriving in chunks, kept as factorised columns (see :class:`Table`).

    Each cell is stripped and replaced by the code of its text within its column; blank rows
    (every named cell empty) are dropped as they arrive. Memory grows by 1-4 bytes a cell.
    """

    def __init__(self, file: str, header: Sequence[str], problems: _Problems):
        self.file = file
        self.problems = problems
        self.width = len(header)
        self.names: list[str | None] = []  # None: a column without a name, or a repeated one
        self.unnamed: list[int] = []  # positions without a name (their values are a problem)
        seen: set[str] = set()
        for position, raw in enumerate(header):
            name = _normalise_header(raw)
            if not name:
                self.unnamed.append(position)
                name = None
            elif name in seen:
                problems.add(1, raw.strip(), None, "appears more than once in the header")
                name = None
            else:
                seen.add(name)
            self.names.append(name)
        self._lookup: list[dict[str, int]] = [{"": 0} for _ in header]
        self._texts: list[list[str]] = [[""] for _ in header]
        self._codes = [_Growing() if name else None for name in self.names]
        self._rows = _Growing(np.int32)
        self._filled_without_name: set[int] = set()

    def _encode(self, position: int, column) -> np.ndarray:
        if hasattr(column, "dictionary_encode"):  # a pyarrow string array
            import pyarrow as pa
            import pyarrow.compute as pc

            encoded = pc.dictionary_encode(column, memory_pool=pa.system_memory_pool())
            indices = encoded.indices.to_numpy(zero_copy_only=False)
            values = encoded.dictionary.to_pylist()
        else:
            indices, uniques = pd.factorize(np.asarray(column, dtype=object))
            values = uniques.tolist()
        lookup, texts = self._lookup[position], self._texts[position]
        mapping = np.empty(len(values), np.int32)
        for i, value in enumerate(values):
            text = value.strip()
            code = lookup.get(text)
            if code is None:
                code = lookup[text] = len(texts)
                texts.append(text)
            mapping[i] = code
        return mapping[indices] if len(values) else np.zeros(len(indices), np.int32)

    def add(self, columns: Sequence, rows: np.ndarray) -> None:
        """One chunk: ``self.width`` columns of cells, for the rows numbered ``rows``."""
        nonblank = np.zeros(len(rows), bool)
        coded: list[np.ndarray | None] = []
        for position, column in enumerate(columns):
            if self.names[position] is None and position not in self.unnamed:
                coded.append(None)  # a repeated column: reported once, not read
                continue
            codes = self._encode(position, column)
            if self.names[position] is None:
                if codes.any():
                    self._filled_without_name.add(position)
                coded.append(None)
                continue
            nonblank |= codes != 0
            coded.append(codes)
        if not nonblank.any():
            return
        keep = None if nonblank.all() else nonblank
        self._rows.extend(rows if keep is None else rows[keep], int(rows[-1]))
        for position, codes in enumerate(coded):
            if codes is not None:
                largest = len(self._texts[position]) - 1
                self._codes[position].extend(codes if keep is None else codes[keep], largest)

    def filled_without_name(self, position: int) -> None:
        """Cells right of the header (an Excel row wider than row 1) hold a value."""
        self._filled_without_name.add(position)

    def finish(self, decimal_point_known: bool, notes: list[str]) -> Table:
        for position in sorted(self._filled_without_name):
            self.problems.add(1, f"column {position + 1}", None, "has values but no name")
        rows = self._rows.array().astype(np.int32, copy=False)
        columns, codes, uniques = [], {}, {}
        for position, name in enumerate(self.names):
            if name is None:
                continue
            codes[name] = self._codes[position].array()
            self._codes[position] = None
            uniques[name] = np.array(self._texts[position], dtype=object)
            columns.append(name)
        return Table(self.file, columns, rows, codes, uniques, decimal_point_known, notes)


def _header_elsewhere(file: str, kind: str | None, top: list[tuple[int, list[str]]]) -> None:
    """Refuse a file whose column names are not on row 1 but on a row below (a title row).

    ``top`` holds the first rows as (row number, cells). Row 1 is the header when it names every
    required column; otherwise the first row below it that does is said to be the header.
    """
    first = {_normalise_header(c) for c in top[0][1]} if top and top[0][0] == 1 else set()
    required = set(_required_columns(kind)) if kind else set()
    if kind and not required <= first:
        for number, cells in top:
            names = [_normalise_header(c) for c in cells]
            if number > 1 and required <= set(names):
                shown = ", ".join(n for n in names if n)
                above = "the row" if number == 2 else f"the {number - 1} rows"
                raise _fatal(
                    file,
                    f"does not hold the column names, but row {number} seems to ({shown}): "
                    f"delete {above} above it, so that the column names are in row 1",
                    1,
                )
    if not first - {""}:
        raise _fatal(file, "row 1 must hold the column names (the header), but it is empty", 1)


# --- text files


def _text_encoding(path: Path, file: str) -> tuple[str, bool]:
    """The file's encoding, checked over the whole file in blocks, and whether it holds a quote.

    UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252. Refuses a binary file, a
    file that is neither, and a file with nothing but spaces.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    failure = None
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        offset, blank, quote = 0, True, False
        try:
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    text = decoder.decode(block)
                    offset += len(block)
                    if "\x00" in text:
                        raise _fatal(
                            file,
                            "is not a CSV text file (it holds NUL bytes): save it as CSV UTF-8 or "
                            "as an Excel .xlsx workbook",
                        )
                    quote = quote or '"' in text
                    blank = blank and not text.strip(" \t\r\n\ufeff")
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            start = offset - len(block) + exc.start if offset else exc.start
            failure = (exc.object[exc.start], max(start, 0))
            continue
        if blank:
            raise _fatal(file, "the file is empty")
        return encoding, quote
    byte, position = failure
    raise ImportValidationError(
        f"{file} cannot be read as text; nothing was imported.",
        [
            Problem(
                file,
                None,
                None,
                None,
                f"cannot be read as text (byte 0x{byte:02x} at position {position} is neither "
                "UTF-8 nor Windows-1252): save it as CSV UTF-8",
            )
        ],
    )


def _top_records(path: Path, encoding: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The first :data:`HEADER_SEARCH_ROWS` records as (row number, cells), read leniently."""
    with open(path, encoding=encoding, newline="") as fh:
        lines = list(itertools.islice(fh, HEADER_SEARCH_ROWS))
    try:
        records = list(itertools.islice(csv.reader(lines, delimiter=delimiter), len(lines)))
    except csv.Error:
        records = [line.rstrip("\r\n").split(delimiter) for line in lines]
    return [(i, r) for i, r in enumerate(records, start=1)]


def _pick_delimiter(path: Path, encoding: str, known: set[str]) -> str:
    """The delimiter that makes the most known column names in one of the top rows (then the
    one found most often in row 1)."""
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        top = _top_records(path, encoding, delimiter)
        names = [sum(_normalise_header(c) in known for c in cells) for _, cells in top]
        first = top[0][1] if top else []
        score = (max(names, default=0), len(first))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _ragged_rule(cells: int, width: int) -> str:
    noun = "cell" if cells == 1 else "cells"
    return (
        f"has {cells} {noun} but the header has {width} columns: a row cut short or with an extra "
        "separator; every row needs one cell per column (an empty cell is nothing between two "
        "separators)"
    )


def _csv_error_rule(exc: csv.Error) -> str:
    message = str(exc)
    if "unexpected end of data" in message:
        return 'is not well-formed CSV: a quoted cell is never closed (a " is missing)'
    if "field larger than field limit" in message:
        return 'is not well-formed CSV: a cell is too long (perhaps a " that is never closed)'
    return (
        f"is not well-formed CSV ({message}): a quoted cell must end with a quote, and a quote "
        'inside a cell is written twice ("")'
    )


class _ArrowGaveUp(Exception):
    """The fast reader met something it does not handle exactly; the exact reader takes over."""


def _arrow_chunks(path: Path, delimiter: str, width: int) -> Iterator[tuple[list, np.ndarray]]:
    """Chunks of a UTF-8 file without quote characters, read by pyarrow (fast, little memory).

    Without quotes a CSV file is lines split at the delimiter, which pyarrow and the csv module
    read alike; a row with another number of cells (even a blank one) hands the file to
    :func:`_python_chunks`, which numbers and reports such rows exactly.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(width)]

    def give_up(row) -> str:
        return "error"

    try:
        # A Python file and the system allocator: with a path, pyarrow's own pool held a copy of
        # the whole file and kept the memory; malloc hands what is freed on to the next arrays.
        with open(path, "rb") as source:
            reader = pacsv.open_csv(
                source,
                memory_pool=pa.system_memory_pool(),
                read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, ignore_empty_lines=False, invalid_row_handler=give_up
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            number = 2
            for batch in reader:
                n = batch.num_rows
                yield list(batch.columns), np.arange(number, number + n, dtype=np.int32)
                number += n
    except (pa.ArrowException, OSError) as exc:
        raise _ArrowGaveUp(str(exc)) from None


def _python_chunks(
    path: Path, encoding: str, delimiter: str, width: int, file: str, ragged: _Problems
) -> Iterator[tuple[list, np.ndarray]]:
    """Chunks of any text file, read by the csv module with strict quoting; rows with another
    number of cells than the header are added to ``ragged`` (blank ones are skipped)."""
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        number = 1  # the header's
        try:
            next(reader, None)
            while chunk := list(itertools.islice(reader, READ_CHUNK_ROWS)):
                good = []
                for i, record in enumerate(chunk):
                    if len(record) == width:
                        good.append(i)
                    elif any(cell.strip() for cell in record):
                        ragged.add(number + 1 + i, None, None, _ragged_rule(len(record), width))
                rows = np.arange(number + 1, number + 1 + len(chunk), dtype=np.int32)
                number += len(chunk)
                if len(good) < len(chunk):
                    chunk = [chunk[i] for i in good]
                    rows = rows[good]
                if chunk:
                    yield list(zip(*chunk)), rows
        except csv.Error as exc:
            raise _fatal(file, _csv_error_rule(exc), _record_of_error(path, encoding, delimiter))


def _release_freed_memory() -> None:
    """Hand memory that is free again back to the system, where the C library can (glibc).

    glibc keeps what the parser and the checks free inside the process, for later allocations;
    numpy's large arrays do not reuse it, so a million-row import peaked ~30 MB higher without
    this (benchmarks/store_bench.py). Elsewhere (macOS, Windows, musl) it does nothing.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


@contextlib.contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector while a file is parsed.

    Parsing allocates a list per row and no reference cycles; each allocation counts towards a
    collection, and the full collections it triggers walk every object of the process: with the
    collector on, reading a million rows took 4.3 s instead of 2.0 s (measured with the
    benchmark's file). Chunks are freed by reference counting as before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _record_of_error(path: Path, encoding: str, delimiter: str) -> int:
    """The number of the record at which the csv module stops reading ``path``."""
    count = 0
    with open(path, encoding=encoding, newline="") as fh:
        try:
            for _ in csv.reader(fh, delimiter=delimiter, strict=True):
                count += 1
        except csv.Error:
            pass
    return count + 1


def _read_text(path: Path, file: str, kind: str | None, cap: int | None) -> tuple[Table, _Problems]:
    size = path.stat().st_size
    if size > MAX_TEXT_FILE_BYTES:
        raise _fatal(
            file,
            f"is {_megabytes(size)}, more than the {_megabytes(MAX_TEXT_FILE_BYTES)} an import "
            "reads: split it into smaller files (a year or a few teams each) and import each",
        )
    encoding, has_quote = _text_encoding(path, file)
    known = {c.name for c in FORMATS[kind]} if kind else set()
    delimiter = _pick_delimiter(path, encoding, known)
    top = _top_records(path, encoding, delimiter)
    _header_elsewhere(file, kind, top)
    header = top[0][1]
    decimal_point_known = delimiter == DECIMAL_POINT_DELIMITER
    if encoding in ("utf-8", "utf-8-sig") and not has_quote:
        problems = _Problems(file, cap)
        builder = _Builder(file, header, problems)
        try:
            for columns, rows in _arrow_chunks(path, delimiter, len(header)):
                builder.add(columns, rows)
        except _ArrowGaveUp as exc:
            log.debug("pyarrow gave %s to the csv module (%s)", file, exc)
        else:
            return builder.finish(decimal_point_known, []), problems
    problems = _Problems(file, cap)
    builder = _Builder(file, header, problems)
    ragged = _Problems(file, cap)
    with _gc_paused():
        for columns, rows in _python_chunks(path, encoding, delimiter, len(header), file, ragged):
            builder.add(columns, rows)
    if ragged:
        total = len(ragged)
        raise ImportValidationError(
            f"{file} has {total:,} row{'s' if total > 1 else ''} with another number of cells "
            "than the header; nothing was imported.",
            ragged.finish(),
        )
    return builder.finish(decimal_point_known, []), problems


# --- Excel workbooks

#: Value of a formula cell whose file holds no calculated result.
_NO_SAVED_VALUE = object()


def _excel_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _sheet_rows(book, sheet) -> Iterator[tuple[int, list[tuple[int, Any]], bool]]:
    """(row number, [(column, value)], hidden) for each row that the sheet's XML holds.

    openpyxl's own read-only parser, told to mark a formula cell that has no saved value
    (openpyxl gives None, as for an empty cell) and to pass on a row's ``hidden`` flag. These are
    openpyxl internals (3.1); should they change, its public rows are read without the marks.
    """
    try:
        from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

        open_source = sheet._get_source
        strings, dates = sheet._shared_strings, (book._date_formats, book._timedelta_formats)
    except (ImportError, AttributeError):
        log.warning("openpyxl's sheet parser has changed: formulas without values not marked")
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(enumerate(values, start=1)), False
        return

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                cell["value"] = _NO_SAVED_VALUE
            return cell

        def parse_row(self, row):
            hidden = row.get("hidden") in ("1", "true")
            number, cells = super().parse_row(row)
            return number, cells, hidden

    with open_source() as source:
        parser = Parser(
            source,
            strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=dates[0],
            timedelta_formats=dates[1],
        )
        for number, cells, hidden in parser.parse():
            yield number, [(c["column"], c["value"]) for c in cells], hidden


def _choose_sheet(book, kind: str | None):
    """The visible sheet named after ``kind``, else the active sheet, else the first visible one.

    Returns the sheet and the titles of the hidden sheets (never read).
    """
    sheets = book.worksheets
    visible = [s for s in sheets if s.sheet_state == "visible"]
    hidden = [s.title for s in sheets if s.sheet_state != "visible"]
    if not visible:
        return None, hidden
    named = [s for s in visible if kind and s.title.strip().casefold() == kind]
    if named:
        return named[0], hidden
    try:
        active = book.active
    except (IndexError, AttributeError):
        active = None
    return (active if active in visible else visible[0]), hidden


def _listed(items: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _read_excel(
    path: Path, file: str, kind: str | None, cap: int | None
) -> tuple[Table, _Problems]:
    import openpyxl

    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename.lstrip("/"): info.file_size for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _fatal(file, f"is not a readable Excel .xlsx workbook ({exc})") from None
    text_bytes = sum(n for name, n in sizes.items() if name.endswith("sharedStrings.xml"))

    def too_big(label: str, what: int) -> ImportValidationError:
        return _fatal(
            label,
            f"holds {_megabytes(what)} of cells (unpacked), more than the "
            f"{_megabytes(MAX_EXCEL_CELL_BYTES)} an Excel import reads: save the sheet as "
            "'CSV UTF-8' and import the CSV file, which has a far higher limit",
        )

    if text_bytes > MAX_EXCEL_CELL_BYTES:
        raise too_big(file, text_bytes)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _fatal(file, f"is not a readable Excel .xlsx workbook ({exc})") from None
    try:
        sheet, hidden = _choose_sheet(book, kind)
        if sheet is None:
            raise _fatal(file, "has no visible sheet: unhide the sheet to import")
        label = f"{file} (sheet '{sheet.title}')" if len(book.sheetnames) > 1 else file
        notes = []
        if hidden:
            names = ", ".join(f"'{h}'" for h in hidden)
            notes.append(
                f"the hidden sheet{'s' if len(hidden) > 1 else ''} {names} "
                f"{'were' if len(hidden) > 1 else 'was'} not read, only the visible sheet "
                f"'{sheet.title}'"
            )
        sheet_path = str(getattr(sheet, "_worksheet_path", "")).lstrip("/")
        cell_bytes = sizes.get(sheet_path, 0) + text_bytes
        if cell_bytes > MAX_EXCEL_CELL_BYTES:
            raise too_big(label, cell_bytes)
        problems = _Problems(label, cap)
        rows = _sheet_rows(book, sheet)
        top: list[tuple[int, list[str]]] = []
        pending: list[tuple[int, list[tuple[int, Any]], bool]] = []
        for item in rows:
            pending.append(item)
            if item[0] >= HEADER_SEARCH_ROWS:
                break
        for number, cells, _ in pending:
            if number <= HEADER_SEARCH_ROWS:
                width = max((c for c, _ in cells), default=0)
                texts = [""] * width
                for column, value in cells:
                    if value is not _NO_SAVED_VALUE:
                        texts[column - 1] = _excel_cell(value)
                top.append((number, texts))
        if not pending:
            raise _fatal(label, "the sheet is empty" if label != file else "the file is empty")
        _header_elsewhere(label, kind, top)
        header = [t.strip() for t in top[0][1]]
        width = len(header)
        builder = _Builder(label, header, problems)
        no_value: list[tuple[int, int]] = []
        hidden_rows: list[int] = []
        chunk: list[list[str]] = []
        numbers: list[int] = []

        def flush() -> None:
            if chunk:
                builder.add(list(zip(*chunk)), np.array(numbers, dtype=np.int32))
                chunk.clear()
                numbers.clear()

        for number, cells, row_hidden in itertools.chain(pending, rows):
            if number == 1:
                continue
            texts = [""] * width
            filled = False
            for column, value in cells:
                if value is _NO_SAVED_VALUE:
                    no_value.append((number, column))
                    continue
                text = _excel_cell(value)
                if column <= width:
                    texts[column - 1] = text
                elif text.strip():
                    builder.filled_without_name(column - 1)
                filled = filled or bool(text.strip())
            if row_hidden and filled:
                hidden_rows.append(number)
            chunk.append(texts)
            numbers.append(number)
            if len(chunk) >= READ_CHUNK_ROWS:
                flush()
        flush()
    finally:
        book.close()
    if no_value:
        from openpyxl.utils import get_column_letter

        cells = [f"{get_column_letter(c)}{r}" for r, c in no_value]
        raise ImportValidationError(
            f"{label} has formulas with no saved value; nothing was imported.",
            [
                Problem(
                    label,
                    no_value[0][0],
                    None,
                    None,
                    f"{'cells' if len(cells) > 1 else 'cell'} {_listed(cells)} "
                    f"{'hold' if len(cells) > 1 else 'holds'} a formula with no saved value (the "
                    "program that wrote the file did not calculate it): open the file in Excel "
                    "or LibreOffice and save it again, or type the values",
                )
            ],
        )
    if hidden_rows:
        many = len(hidden_rows) > 1
        notes.append(
            f"{len(hidden_rows):,} hidden {'rows were' if many else 'row was'} read too "
            f"({'rows' if many else 'row'} {_listed(hidden_rows)}): unhide "
            f"{'them' if many else 'it'} in Excel to see what was imported"
        )
    return builder.finish(True, notes), problems


def read_table(
    path: str | os.PathLike,
    kind: str | None = None,
    *,
    file: str | None = None,
    cap: int | None = DEFAULT_MAX_PROBLEMS_PER_RULE,
) -> tuple[Table, _Problems]:
    """Read a CSV or .xlsx file into a :class:`Table`, with the header's problems.

    Problems of the whole file (too large, empty, unreadable, rows with another number of cells
    than the header, column names below row 1, formulas without a saved value) raise
    :class:`~qiwidgets.errors.ImportValidationError` at once; header problems (missing, unknown
    or repeated columns) are returned so they are reported with the cells' problems.
    """
    path = Path(path)
    file = file or path.name
    if not path.is_file():
        raise _fatal(file, f"does not exist or is not a file ({path})")
    try:
        if path.stat().st_size == 0:
            raise _fatal(file, "the file is empty")
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK\x03\x04"):
            table, problems = _read_excel(path, file, kind, cap)
        else:
            table, problems = _read_text(path, file, kind, cap)
    except OSError as exc:
        raise _fatal(file, f"cannot be read ({exc.strerror or exc})") from None
    if kind:
        allowed = [c.name for c in FORMATS[kind]]
        for name in table.columns:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                problems.add(
                    1,
                    name,
                    None,
                    f"is not a column of {kind} files ({hint}the columns are: "
                    f"{', '.join(allowed)})",
                )
        for name in _required_columns(kind):
            if name not in table.columns:
                problems.add(1, name, None, "is a required column but the header does not have it")
    if len(table) == 0:
        problems.add(None, None, None, "has a header row but no data rows")
    _release_freed_memory()
    return table, problems


# --- results ---------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did."""

    kind: str
    file: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    edits: int = 0
    created: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people, e.g. ``observations.csv: 432 rows; 12 new, 3 changed ...``,
        followed by the notes (e.g. hidden sheets that were not read)."""
        text = (
            f"{self.file}: {self.rows:,} rows; {self.inserted:,} new, {self.updated:,} changed, "
            f"{self.unchanged:,} unchanged"
        )
        if self.edits:
            text += f"; {self.edits:,} changed values kept in the edit history"
        for what, n in self.created.items():
            text += f"; {n:,} new {what if n != 1 else what.rstrip('s')}"
        return text + "." + "".join(f" Note: {note}." for note in self.notes)


# --- the public entry point ------------------------------------------------------------------------


def import_file(
    kind: str,
    path: str | os.PathLike,
    db=None,
    *,
    source: str | None = None,
    max_problems_per_rule: int | None = DEFAULT_MAX_PROBLEMS_PER_RULE,
) -> ImportResult:
    """Import one file of ``kind`` into the store ``db``, all or nothing.

    Parameters
    ----------
    kind:
        ``"observations"``, ``"measures"``, ``"teams"`` or ``"pdsa"``.
    path:
        a CSV file (any extension) or an Excel ``.xlsx`` workbook.
    db:
        a database URL, a SQLite file path, an Engine, or None for the default database
        (see :func:`qiwidgets.store.db.resolve_url`).
    source:
        the name kept as the source of new values in the edit history; the file's name by
        default.
    max_problems_per_rule:
        how many cells one rule in one column lists before the rest are counted (None: all).

    Returns
    -------
    ImportResult
        counts of new, changed and unchanged rows.

    Raises
    ------
    ImportValidationError
        the file has problems; ``.problems`` lists every one. Nothing was written.
    """
    from qiwidgets.store.db import run_in_transaction

    _check_kind(kind)
    table, problems = read_table(path, kind, cap=max_problems_per_rule)
    source = (source or Path(path).name)[:_SOURCE_LEN]
    prepare, apply = _HANDLERS[kind]
    prepared = prepare(table, problems)
    result = run_in_transaction(
        lambda session: apply(session, table, prepared, problems.copy(), source), db
    )
    result.notes.extend(table.notes)
    return result


# --- shared helpers --------------------------------------------------------------------------------


def _parse_column(
    table: Table,
    name: str,
    parser: Callable[[str], Any],
    problems: _Problems,
    empty: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse each distinct cell of a column once.

    Returns ``(values, ok, filled)`` per unique value: the parsed values (``empty`` for blank or
    broken cells), whether each parsed cleanly, and whether it was not blank. Broken cells are
    added to ``problems``.
    """
    uniques = table.uniques[name]
    values = np.empty(len(uniques), dtype=object)
    ok = np.ones(len(uniques), dtype=bool)
    broken: dict[str, list[int]] = {}
    for i, text in enumerate(uniques.tolist()):
        try:
            parsed = parser(text)
        except _Rule as exc:
            ok[i] = False
            parsed = empty
            broken.setdefault(str(exc), []).append(i)
        values[i] = empty if parsed is None else parsed
    if broken:
        codes = table.codes[name]
        for rule, bad in broken.items():
            mask = np.isin(codes, np.asarray(bad))
            problems.add_cells(table.rows[mask], uniques[codes[mask]].tolist(), name, rule)
    filled = uniques != ""
    return values, ok, filled


def _casefold_index(items: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for key, item in items:
        if key is not None:
            out.setdefault(key.strip().casefold(), []).append(item)
    return out


def _listing(names: Iterable[str], limit: int = 12) -> str:
    names = sorted(set(names))
    if not names:
        return "none yet"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class _Directory:
    """Programmes, teams and measures of the database, for matching references in files."""

    def __init__(self, session):
        from sqlalchemy import select

        from qiwidgets.store.models import Measure, Programme, Team

        self.programmes = {p.id: p for p in session.scalars(select(Programme))}
        self.teams = {t.id: t for t in session.scalars(select(Team))}
        self.measures = {m.id: m for m in session.scalars(select(Measure))}
        self.programme_by_code = _casefold_index((p.code, p) for p in self.programmes.values())
        self.team_by_code = _casefold_index((t.code, t) for t in self.teams.values())
        self.team_by_name = _casefold_index((t.name, t) for t in self.teams.values())
        self._families: dict[int, tuple[list, dict]] = {}

    def programme(self, code: str):
        found = self.programme_by_code.get(code.casefold(), [])
        if not found:
            raise _Rule(
                "is not a programme in the database (programmes: "
                f"{_listing(p.code for p in self.programmes.values())})"
            )
        return found[0]

    def team(self, text: str, programme_id: int | None = None):
        key = text.casefold()
        for index in (self.team_by_code, self.team_by_name):
            found = [
                t
                for t in index.get(key, [])
                if programme_id is None or t.programme_id == programme_id
            ]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise _Rule("matches teams in more than one programme: add a 'programme' column")
        known = [t.code for t in self.teams.values() if programme_id in (None, t.programme_id)]
        raise _Rule(f"is not a team in the database (teams: {_listing(known)})")

    def family(self, team) -> list:
        """The team's family of measures: its own, then its programme's shared ones."""
        cached = self._families.get(team.id)
        if cached is None:
            own = [m for m in self.measures.values() if m.team_id == team.id]
            shared = [
                m
                for m in self.measures.values()
                if m.team_id is None and m.programme_id == team.programme_id
            ]
            family = own + shared
            by_key: dict[str, Any] = {}
            for attr in ("name", "code"):  # a code wins over a name; the team's own first
                for m in reversed(family):
                    by_key[getattr(m, attr).strip().casefold()] = m
            cached = self._families[team.id] = (family, by_key)
        return cached

    def measure(self, text: str, team):
        family, by_key = self.family(team)
        found = by_key.get(text.casefold())
        if found is not None:
            return found
        raise _Rule(
            f"is not a measure of team '{team.code}' (its measures: "
            f"{_listing(m.code for m in family)})"
        )


#: Group value meaning "a cell this one depends on is broken: do not check this one".
_SKIP = object()


def _resolve_cells(
    table: Table,
    name: str,
    resolve: Callable[..., Any],
    problems: _Problems,
    group: np.ndarray | None = None,
    context: Callable[[int], Any] | None = None,
) -> np.ndarray:
    """Resolve each distinct cell of a column (per group, e.g. per team) to a database object.

    ``group`` holds a number >= 0 a row, and ``context(number)`` the object passed to
    ``resolve`` with the cell's text (or :data:`_SKIP`: a cell the row depends on is broken).
    Returns the objects' ids per row (-1 where the cell is blank or did not resolve).
    """
    codes = table.codes[name]
    uniques = table.uniques[name]
    n_unique = len(uniques)
    # ``pair`` numbers each row's (group, cell); ``slots`` maps each pair that occurs to its
    # place in the lookup table ``found`` that ``pair`` indexes.
    if group is None:
        pair, n_pairs = codes, n_unique
    else:
        n_pairs = (int(group.max()) + 1 if len(group) else 1) * n_unique
        pair = group.astype(np.int32 if n_pairs < 2**31 else np.int64)
        pair *= n_unique
        pair += codes
    if n_pairs <= max(len(pair), 1 << 16):  # a lookup table no larger than the column
        present = np.zeros(n_pairs, bool)
        present[pair] = True
        pairs = np.flatnonzero(present)
        slots = pairs
    else:
        pair, pairs = pd.factorize(pair)
        pairs = np.asarray(pairs)
        slots = np.arange(len(pairs))
        n_pairs = len(pairs)
    found = np.full(n_pairs, -1, np.int64)
    broken: dict[str, list[int]] = {}
    for slot, p in zip(slots.tolist(), pairs.tolist()):
        text = uniques[p % n_unique]
        where = None if group is None else context(p // n_unique)
        if not text or where is _SKIP:
            continue
        try:
            found[slot] = (resolve(text) if group is None else resolve(text, where)).id
        except _Rule as exc:
            broken.setdefault(str(exc), []).append(slot)
    for rule, bad in broken.items():
        mask = np.isin(pair, np.asarray(bad))
        problems.add_cells(table.rows[mask], uniques[codes[mask]].tolist(), name, rule)
    if len(found) and found.max() < np.iinfo(np.int32).max:
        found = found.astype(np.int32)  # 4 bytes a row
    return found[pair] if len(pair) else np.empty(0, dtype=found.dtype)


# --- observations ------------------------------------------------------------------------------------

_OBS_NUMBERS = ("numerator", "denominator", "value")
#: Days from this date count the period in a row's key (every valid period is 0 to 2**16).
_PERIOD_BASE = MIN_DATE.toordinal()
_PERIOD_BITS = 17


@dataclass
class _ObsPrepared:
    period: np.ndarray  # int32 ordinal per row, 0 where missing or broken
    numbers: dict[str, np.ndarray]  # float64 per row, NaN where empty or broken
    number_ok: dict[str, np.ndarray]  # bool per row
    decimals: np.ndarray | None  # decimals written in `value`, per row (int8)
    quality: np.ndarray | None  # int8 per row: an index into DATA_QUALITY_FLAGS
    present: tuple[str, ...]


def _prepare_observations(table: Table, problems: _Problems) -> _ObsPrepared:
    present = tuple(c for c in _OBS_NUMBERS + ("data_quality",) if c in table.columns)
    if not any(c in table.columns for c in ("numerator", "value")):
        problems.add(
            1, None, None, "the header needs a 'value' column, or 'numerator' and 'denominator'"
        )
    for name in ("team", "measure", "period"):
        if name in table.columns:
            blank = (table.uniques[name] == "")[table.codes[name]]
            if blank.any():
                problems.add_cells(table.rows[blank], [""] * int(blank.sum()), name, "is required")
    n = len(table)
    if "period" in table.columns:
        values, _, _ = _parse_column(table, "period", parse_date, problems)
        ordinals = np.array([v.toordinal() if v is not None else 0 for v in values], np.int32)
        period = ordinals[table.codes["period"]]
    else:
        period = np.zeros(n, np.int32)
    numbers: dict[str, np.ndarray] = {}
    number_ok: dict[str, np.ndarray] = {}
    known = table.decimal_point_known
    for name in _OBS_NUMBERS:
        if name not in table.columns:
            continue
        parse = parse_number if name == "value" else parse_count

        def parser(text: str, parse=parse) -> float | None:
            return parse(text, decimal_point_known=known)

        values, ok, _ = _parse_column(table, name, parser, problems)
        as_float = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        numbers[name] = as_float[table.codes[name]]
        number_ok[name] = ok[table.codes[name]]
    decimals = None
    if "value" in table.columns:
        dec = np.array(
            [
                min(len(u.split(".", 1)[1]), 100) if "." in u and "e" not in u.lower() else 0
                for u in table.uniques["value"].tolist()
            ],
            dtype=np.int8,
        )
        decimals = dec[table.codes["value"]]
    quality = None
    if "data_quality" in table.columns:
        values, _, _ = _parse_column(
            table, "data_quality", lambda s: parse_choice(s, DATA_QUALITY_FLAGS, "ok"), problems
        )
        index = np.array(
            [DATA_QUALITY_FLAGS.index(v if v is not None else "ok") for v in values], np.int8
        )
        quality = index[table.codes["data_quality"]]
    return _ObsPrepared(period, numbers, number_ok, decimals, quality, present)


#: A count may differ from a whole number by this much relative to its size: float noise, as
#: in 3.0000000000000004 from an Excel formula, but not 73400.5.
WHOLE_TOLERANCE = 1e-9


def _whole(a: np.ndarray) -> np.ndarray:
    """Where ``a`` is a whole number, to :data:`WHOLE_TOLERANCE` (NaN counts as whole)."""
    gap = np.round(a)
    np.subtract(a, gap, out=gap)
    np.abs(gap, out=gap)
    with np.errstate(invalid="ignore"):
        return ~(gap > WHOLE_TOLERANCE * np.maximum(1.0, np.abs(a)))


def _apply_observations(session, table: Table, prep: _ObsPrepared, problems: _Problems, source):
    team_ids, measure_ids, keys = _check_observations(session, table, prep, problems)
    _release_freed_memory()
    return _write_observations(session, table, prep, keys, team_ids, measure_ids, source)


def _by_id(ids: np.ndarray, values: dict[int, Any], default: Any, dtype) -> np.ndarray:
    """``values[id]`` for each row's id (``default`` for -1 and for ids not in ``values``)."""
    top = int(ids.max()) if len(ids) else -1
    if top < max(len(ids), 1 << 16):  # a table indexed by id, no larger than the column
        lookup = np.full(top + 2, default, dtype)
        for key, value in values.items():
            if key <= top:
                lookup[key + 1] = value
        return lookup[ids + 1]
    codes, uniques = pd.factorize(ids)
    return np.array([values.get(u, default) for u in uniques.tolist()], dtype)[codes]


def _check_observations(session, table: Table, prep: _ObsPrepared, problems: _Problems):
    """Every rule of an observations file; returns the rows' team and measure ids and keys, or
    raises ImportValidationError listing every problem."""
    directory = _Directory(session)
    n = len(table)
    rows = table.rows

    # programme (optional) -> team -> measure
    if "team" in table.columns:
        if "programme" in table.columns:
            programme_ids = _resolve_cells(table, "programme", directory.programme, problems)
            blank = (table.uniques["programme"] == "")[table.codes["programme"]]
            programme_ids += 2  # 0: a programme that did not resolve, 1: none given
            programme_ids[blank] = 1
            team_ids = _resolve_cells(
                table,
                "team",
                directory.team,
                problems,
                programme_ids,
                lambda g: _SKIP if g == 0 else None if g == 1 else g - 2,
            )
            del programme_ids, blank
        else:
            team_ids = _resolve_cells(table, "team", directory.team, problems)
    else:
        team_ids = np.full(n, -1, dtype=np.int32)
    if "measure" in table.columns:
        measure_ids = _resolve_cells(
            table,
            "measure",
            directory.measure,
            problems,
            team_ids + 1,
            lambda g: directory.teams.get(g - 1, _SKIP),
        )
    else:
        measure_ids = np.full(n, -1, dtype=np.int32)

    # rules that depend on the measure (qiwidgets.store.repo holds the shared ones)
    known = measure_ids >= 0
    measures = {i: directory.measures[i] for i in np.unique(measure_ids).tolist() if i >= 0}

    def per_row(rule, dtype=bool, default=False):
        return _by_id(measure_ids, {i: rule(m) for i, m in measures.items()}, default, dtype)

    counted = per_row(is_counted)
    proportion = per_row(is_proportion)
    monthly = per_row(lambda m: m.frequency == "monthly")
    quarterly = per_row(lambda m: m.frequency == "quarterly")
    other = known & ~counted

    def filled(name):
        return ~np.isnan(prep.numbers[name]) if name in prep.numbers else np.zeros(n, bool)

    def broken(name):
        return ~prep.number_ok[name] if name in prep.number_ok else np.zeros(n, bool)

    def cells(name, mask):
        return table.uniques[name][table.codes[name][mask]].tolist()

    def add(mask, column, rule):
        if mask.any():
            values = cells(column, mask) if column in table.columns else [""] * int(mask.sum())
            problems.add_cells(rows[mask], values, column, rule)

    nan = np.full(n, np.nan) if len(prep.numbers) < 3 else None
    num, den, val = (prep.numbers.get(c, nan) for c in _OBS_NUMBERS)
    has_num, has_den, has_val = filled("numerator"), filled("denominator"), filled("value")
    for name, has in (("numerator", has_num), ("denominator", has_den)):
        add(
            counted & ~has & ~broken(name),
            name,
            "is required for a counted measure (chart p, pp, u or up, or with a denominator)",
        )
    add(other & ~has_val & ~broken("value"), "value", "is required for a measure without a count")
    for name, has in (("numerator", has_num), ("denominator", has_den)):
        add(
            other & has,
            name,
            "must be empty for a measure without a count: put the number in 'value'",
        )
    for name, count, has in (("numerator", num, has_num), ("denominator", den, has_den)):
        not_whole = counted & has & ~_whole(count)
        if not_whole.any():
            points = np.array([bool(_POINT_GROUP.match(u)) for u in table.uniques[name]])
            looks_thousands = points[table.codes[name]]
            add(not_whole & ~looks_thousands, name, "must be a whole number, as it is a count")
            add(
                not_whole & looks_thousands,
                name,
                "must be a whole number, as it is a count: if the point separates thousands, "
                "write the number without it (1234, not 1.234)",
            )
    with np.errstate(invalid="ignore"):
        both = counted & has_num & has_den
        add(counted & has_den & zero_denominator(den), "denominator", ZERO_DENOMINATOR_RULE)
        add(proportion & both & (num > den), "numerator", "must not be more than the denominator")
        if prep.decimals is not None:
            check = counted & both & has_val & (den > 0)
            multiplier = per_row(lambda m: float(m.multiplier or 1.0), float, 1.0)[check]
            rate = num[check] / den[check] * multiplier
            tolerance = 0.5 * 10.0 ** (-prep.decimals[check].astype(float)) + 1e-9 * np.abs(rate)
            disagree = np.zeros(n, bool)
            disagree[check] = np.abs(val[check] - rate) > tolerance
            add(
                disagree,
                "value",
                "must equal numerator / denominator x multiplier, to the decimals written "
                "(or be left empty)",
            )

    period_ok = prep.period > 0
    if period_ok.any() and (monthly | quarterly).any():
        ordinals, day_index = np.unique(prep.period, return_inverse=True)
        days = [dt.date.fromordinal(int(o)) if o > 0 else dt.date(2000, 1, 1) for o in ordinals]
        day1 = np.array([d.day == 1 for d in days], bool)[day_index]
        quarter = np.array([d.day == 1 and d.month in (1, 4, 7, 10) for d in days])[day_index]
        del day_index
        add(
            period_ok & monthly & ~day1,
            "period",
            "must be the first day of a month for a monthly measure (write YYYY-MM)",
        )
        add(
            period_ok & quarterly & ~quarter,
            "period",
            "must be the first day of January, April, July or October for a quarterly measure",
        )

    # duplicates within the file (same team x measure x period), found by sorting one key a row
    keyed = known & (team_ids >= 0) & period_ok
    everything = bool(keyed.all())
    keys = _Keys(
        team_ids if everything else team_ids[keyed],
        measure_ids if everything else measure_ids[keyed],
        prep.period if everything else prep.period[keyed],
    )
    if len(keys.sorted):
        same = keys.sorted[1:] == keys.sorted[:-1]
        if same.any():
            keyed_rows = rows if everything else rows[keyed]
            first = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(len(same) + 1), 0))
            later = np.flatnonzero(np.r_[False, same])
            d_rows = keyed_rows[keys.order[later]]
            firsts = keyed_rows[keys.order[first[later]]]
            in_order = np.argsort(d_rows, kind="stable")
            d_rows, firsts = d_rows[in_order], firsts[in_order]
            labels = _row_labels(table, rows, d_rows)
            for row, label, f in zip(d_rows.tolist(), labels, firsts.tolist()):
                problems.add(row, None, label, f"same team, measure and period as row {f}")

    problems.raise_if_any()
    return team_ids, measure_ids, keys


class _Keys:
    """One int64 key a row for team x measure x period, and the rows in key order.

    Teams and measures are numbered densely (their ids in order), so that a key holds them and
    the period in 63 bits; sorted keys find duplicates and existing rows without a hash table.
    """

    def __init__(self, team_ids: np.ndarray, measure_ids: np.ndarray, period: np.ndarray):
        self.teams = np.unique(team_ids)
        self.measures = np.unique(measure_ids)
        self.measure_bits = max(1, len(self.measures).bit_length())
        if len(self.teams).bit_length() + self.measure_bits + _PERIOD_BITS > 63:
            from qiwidgets.errors import StoreError

            raise StoreError("The file refers to too many teams and measures for one import.")
        keys = self._pack(
            np.searchsorted(self.teams, team_ids),
            np.searchsorted(self.measures, measure_ids),
            period,
        )
        order = np.argsort(keys, kind="stable")
        self.sorted = keys[order]
        del keys
        self.order = order.astype(np.int32) if len(order) < 2**31 else order

    def _pack(self, t: np.ndarray, m: np.ndarray, period: np.ndarray) -> np.ndarray:
        """The keys of rows with dense team and measure numbers ``t`` and ``m`` (both arrays are
        reused: the key is built in place, one array of 8 bytes a row)."""
        keys = t.astype(np.int64, copy=False)
        keys <<= self.measure_bits + _PERIOD_BITS
        m = m.astype(np.int64, copy=False)
        m <<= _PERIOD_BITS
        keys |= m
        del m
        keys += period  # the low bits are zero: adding is or-ing, and the offset comes off next
        keys -= _PERIOD_BASE
        return keys

    def find(self, team_ids, measure_ids, ordinals) -> tuple[np.ndarray, np.ndarray]:
        """For rows of the database: which of them are rows of the file, and which row each is."""
        t = np.searchsorted(self.teams, team_ids)
        m = np.searchsorted(self.measures, measure_ids)
        ok = (t < len(self.teams)) & (m < len(self.measures))
        t, m = np.minimum(t, len(self.teams) - 1), np.minimum(m, len(self.measures) - 1)
        ok &= (self.teams[t] == team_ids) & (self.measures[m] == measure_ids)
        keys = self._pack(t, m, ordinals)
        pos = np.minimum(np.searchsorted(self.sorted, keys), len(self.sorted) - 1)
        ok &= self.sorted[pos] == keys
        return ok, self.order[pos[ok]]


def _write_observations(session, table, prep: _ObsPrepared, keys: _Keys, team_ids, measure_ids,
                        source) -> ImportResult:  # fmt: skip
    """Upsert the new and changed rows in key order, and keep the history of changed values.

    Existing rows are read and written in batches of :data:`WRITE_BATCH_ROWS`, so memory holds
    the file's compact columns and one batch, not the table.
    """
    from sqlalchemy import bindparam, insert

    from qiwidgets.store.models import ObservationEdit, utcnow

    n = len(table)
    fields = [c for c in _OBS_NUMBERS + ("data_quality",) if c in prep.present]
    existing = np.full(n, -1, np.int64)
    changed = np.zeros(n, bool)
    edits: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    flags = np.array(DATA_QUALITY_FLAGS, dtype=object)
    for chunk in _existing_observations(session, keys.teams, keys.measures):
        ids, t_ids, m_ids, periods = (np.asarray(c) for c in chunk[:4])
        ordinals = _ordinals(periods)
        found, index = keys.find(t_ids.astype(np.int64), m_ids.astype(np.int64), ordinals)
        if not found.any():
            continue
        ids = ids[found].astype(np.int64)
        existing[index] = ids
        for name in fields:
            column = chunk[4 + ("numerator", "denominator", "value", "data_quality").index(name)]
            if name == "data_quality":
                old = np.asarray(column, dtype=object)[found]
                new = flags[prep.quality[index]]
                differs = old != new
            else:
                old = np.array(column, dtype=float)[found]  # None -> nan
                new = prep.numbers[name][index]
                differs = ~((old == new) | (np.isnan(old) & np.isnan(new)))
            if differs.any():
                changed[index[differs]] = True
                edits.append((name, ids[differs], old[differs], new[differs]))
    is_new = existing < 0
    write = is_new | changed
    now = utcnow()
    conn = session.connection()
    order = keys.order[write[keys.order]]  # the rows to write, in key order
    _upsert_observations(conn, prep, order, team_ids, measure_ids, fields, source, now)
    n_edits = 0
    if edits:
        table_ = ObservationEdit.__table__
        stmt = insert(table_).values(
            {c: bindparam(c) for c in ("observation_id", "field", "old_value", "new_value",
                                       "changed_at", "source")}
        )  # fmt: skip
        for name, ids, olds, news in edits:
            for start in range(0, len(ids), WRITE_BATCH_ROWS):
                part = slice(start, start + WRITE_BATCH_ROWS)
                k = len(ids[part])
                _executemany(conn, stmt, table_, {
                    "observation_id": ids[part].tolist(),
                    "field": [name] * k,
                    "old_value": [_edit_text(v) for v in olds[part].tolist()],
                    "new_value": [_edit_text(v) for v in news[part].tolist()],
                    "changed_at": [now] * k,
                    "source": [source] * k,
                })  # fmt: skip
                n_edits += k
    inserted, updated = int(is_new.sum()), int(changed.sum())
    return ImportResult(
        "observations",
        table.file,
        n,
        inserted=inserted,
        updated=updated,
        unchanged=n - inserted - updated,
        edits=n_edits,
    )


def _ordinals(periods: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(periods)
    return np.array([_as_date(d).toordinal() for d in uniques], np.int64)[codes]


def _row_labels(table: Table, rows: np.ndarray, which: np.ndarray) -> list[str]:
    index = np.searchsorted(rows, which)
    parts = []
    for name in ("team", "measure", "period"):
        parts.append(table.uniques[name][table.codes[name][index]])
    return [f"{t} / {m} / {p}" for t, m, p in zip(*(p.tolist() for p in parts))]


def _edit_text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return repr(value)  # as qiwidgets.store.repo writes it, so the history reads alike
    return str(value)[:100]


def _existing_observations(
    session, team_ids: np.ndarray, measure_ids: np.ndarray
) -> Iterator[list[tuple]]:
    """The stored observations of the file's teams and measures, in batches of columns:
    id, team_id, measure_id, period, numerator, denominator, value, data_quality."""
    from sqlalchemy import select

    from qiwidgets.store.models import Observation

    t = Observation.__table__
    columns = ["id", "team_id", "measure_id", "period", *_OBS_NUMBERS, "data_quality"]
    team_ids = [int(x) for x in team_ids if x >= 0]
    measure_ids = [int(x) for x in measure_ids if x >= 0]
    if not team_ids or not measure_ids:
        return
    conn = session.connection()
    # Keep each IN list well below the databases' limits on bound parameters.
    for start in range(0, len(team_ids), 500):
        stmt = select(*(t.c[c] for c in columns)).where(
            t.c.team_id.in_(team_ids[start : start + 500]), t.c.measure_id.in_(measure_ids)
        )
        if conn.dialect.name == "sqlite":
            # Rows straight from the driver: periods stay ISO strings, converted once each
            # (SQLAlchemy's per-row date conversion would dominate a million-row re-import).
            compiled = stmt.compile(
                dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
            )
            params = tuple(compiled.params[name] for name in compiled.positiontup)
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(str(compiled), params)
                while batch := cursor.fetchmany(WRITE_BATCH_ROWS):
                    yield list(zip(*batch))
            finally:
                cursor.close()
        else:
            result = conn.execute(stmt.execution_options(stream_results=True))
            for batch in result.partitions(WRITE_BATCH_ROWS):
                yield list(zip(*(tuple(row) for row in batch)))


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _upsert_observations(conn, prep: _ObsPrepared, order: np.ndarray, team_ids, measure_ids,
                         fields, source, now) -> None:  # fmt: skip
    """INSERT ... ON CONFLICT (team, measure, period) DO UPDATE for the rows ``order`` (new and
    changed ones, in key order), a batch at a time."""
    if not len(order):
        return
    from sqlalchemy import bindparam, literal_column

    from qiwidgets.store.models import Observation

    table = Observation.__table__
    dialect = conn.dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    names = ["team_id", "measure_id", "period", *_OBS_NUMBERS, "data_quality", "source",
             "version", "created_at", "updated_at"]  # fmt: skip
    stmt = dialect_insert(table).values({name: bindparam(name) for name in names})
    updates = {name: stmt.excluded[name] for name in fields}
    updates.update(
        source=stmt.excluded.source,
        updated_at=stmt.excluded.updated_at,
        version=table.c.version + literal_column("1"),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.team_id, table.c.measure_id, table.c.period], set_=updates
    )
    flags = np.array(DATA_QUALITY_FLAGS, dtype=object)

    def floats(name, index):
        if name not in fields:
            return [None] * len(index)
        a = prep.numbers[name][index]
        out = a.astype(object)
        out[np.isnan(a)] = None
        return out.tolist()

    with _bulk_load(conn, table, len(order)):
        for start in range(0, len(order), WRITE_BATCH_ROWS):
            index = order[start : start + WRITE_BATCH_ROWS]
            k = len(index)
            ordinals, inverse = np.unique(prep.period[index], return_inverse=True)
            dates = np.array([dt.date.fromordinal(int(o)) for o in ordinals.tolist()], object)
            data = {
                "team_id": team_ids[index].tolist(),
                "measure_id": measure_ids[index].tolist(),
                "period": dates[inverse].tolist(),
                "numerator": floats("numerator", index),
                "denominator": floats("denominator", index),
                "value": floats("value", index),
                "data_quality": (
                    flags[prep.quality[index]].tolist() if "data_quality" in fields else ["ok"] * k
                ),
                "source": [source] * k,
                "version": [1] * k,
                "created_at": [now] * k,
                "updated_at": [now] * k,
            }
            _executemany(conn, stmt, table, data)


#: From this many rows on, a SQLite import rebuilds the observations' secondary indexes once
#: instead of updating them row by row (twice as fast for a million rows), and checks the table's
#: CHECK constraints once over the table instead of once per row.
BULK_REBUILD_ROWS = 100_000
#: SQLite page cache for a large import, in KiB (the connection's own is restored afterwards).
#: Measured on the 1,000,000-row benchmark: 256 MiB made the import no faster (6.7 s of CPU
#: against 6.0-7.2 s with SQLite's default 2 MiB) and added ~180 MB to its peak memory.
BULK_CACHE_KIB = 8 * 1024


@contextlib.contextmanager
def _bulk_load(conn, table, n_rows: int):
    """On SQLite, for a large load: a bigger page cache; the table's non-unique indexes dropped
    and created again afterwards; and its CHECK constraints verified in one pass over the table
    after the rows are written, rather than row by row (SQLite spends ~7 µs per row on them, as
    long as the rest of the insert). All inside the import's transaction: a failure anywhere, a
    broken rule included, leaves the table and its indexes exactly as they were. Other
    databases: nothing changes."""
    if conn.dialect.name != "sqlite" or n_rows < BULK_REBUILD_ROWS:
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-int(BULK_CACHE_KIB)}")
    secondary = [ix for ix in table.indexes if not ix.unique]
    try:
        for index in secondary:
            index.drop(conn)
        conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
        _verify_checks(conn, table)
        for index in secondary:
            index.create(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def _verify_checks(conn, table) -> None:
    """Raise StoreError when a row of ``table`` breaks one of its CHECK constraints: one pass
    over the table, with the SQL of the model's own constraint definitions (what the database
    would have run per row)."""
    from sqlalchemy import Boolean, CheckConstraint, func, literal_column, not_, select

    from qiwidgets.errors import StoreError

    checks = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    if not checks:
        return
    rules = [literal_column(f"({c.sqltext})", Boolean) for c in checks]  # the model's own SQL
    counts = conn.execute(
        select(*(func.count().filter(not_(rule)) for rule in rules)).select_from(table)
    ).one()
    for check, broken in zip(checks, counts, strict=True):
        if broken:
            raise StoreError(
                f"{broken} row(s) would break the rule {check.name or str(check.sqltext)!r} of "
                f"the {table.name} table; nothing was imported."
            )


def _executemany(conn, stmt, table, data: dict[str, list]) -> None:
    """Run ``stmt`` once per row of ``data`` (column of ``table`` -> values), in batches.

    On SQLite the compiled statement goes straight to the driver's ``executemany`` with
    positional rows, each distinct date or timestamp converted once by its column's bind
    processor: SQLAlchemy's per-row parameter handling would triple the time of a
    million-row import. Elsewhere the normal SQLAlchemy executemany is used. The SQL comes from
    SQLAlchemy constructs, never from file contents.
    """
    n = len(next(iter(data.values())))
    batch = WRITE_BATCH_ROWS
    dialect = conn.dialect
    if dialect.name == "sqlite":
        compiled = stmt.compile(dialect=dialect)
        order = list(compiled.positiontup)
        sql = str(compiled)
        columns = []
        for name in order:
            values = data[name]
            process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                cache = {v: process(v) for v in set(values)}
                values = [cache[v] for v in values]
            columns.append(values)
        for start in range(0, n, batch):
            params = list(zip(*(c[start : start + batch] for c in columns)))
            conn.exec_driver_sql(sql, params)
        return
    names = list(data)
    for start in range(0, n, batch):
        params = [
            dict(zip(names, values))
            for values in zip(*(data[name][start : start + batch] for name in names))
        ]
        conn.execute(stmt, params)


# --- teams, measures, PDSA cycles (pydantic per row) ------------------------------------------------


def _prepare_rows(kind: str):
    def prepare(table: Table, problems: _Problems) -> list[tuple[int, Any]]:
        model = ROW_MODELS[kind]
        fields = set(model.model_fields)
        out = []
        context = {"decimal_point_known": table.decimal_point_known}
        for row, record in zip(table.rows.tolist(), table.records()):
            data = {k: v for k, v in record.items() if k in fields}
            try:
                out.append((row, model.model_validate(data, context=context)))
            except ValidationError as exc:
                for err in exc.errors():
                    if err["type"] == "missing":  # reported once, as a missing column
                        continue
                    column = str(err["loc"][0]) if err["loc"] else None
                    problems.add(row, column, record.get(column, None), err["msg"])
        _check_duplicates(table, out, problems, _NATURAL_KEYS[kind])
        return out

    return prepare


_NATURAL_KEYS = {
    "teams": ("programme", "code"),
    "measures": ("programme", "team", "code"),
    "pdsa": ("programme", "team", "title"),
}


def _check_duplicates(table: Table, items, problems: _Problems, key_fields) -> None:
    first: dict[tuple, int] = {}
    for row, item in items:
        key = tuple((getattr(item, k) or "").casefold() for k in key_fields)
        if key in first:
            label = " / ".join(getattr(item, k) for k in key_fields if getattr(item, k))
            names = " and ".join(k for k in key_fields if k != "programme")
            problems.add(row, None, label, f"same {names} as row {first[key]}")
        else:
            first[key] = row


def _check_dates_in_order(problems, row, item, names: Sequence[str]) -> None:
    last_name, last = None, None
    for name in names:
        value = getattr(item, name)
        if value is None:
            continue
        if last is not None and value < last:
            problems.add(row, name, value.isoformat(), f"must not be before {last_name}")
        last_name, last = name, value


def _set_if_changed(obj, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _apply_teams(session, table, items, problems: _Problems, source):
    from qiwidgets.store.models import Programme, Team

    directory = _Directory(session)
    new_programmes: dict[str, Programme] = {}
    names_seen: dict[str, tuple[int, str]] = {}
    plan = []
    for row, item in items:
        key = item.programme.casefold()
        found = directory.programme_by_code.get(key)
        if item.programme_name:
            earlier = names_seen.setdefault(key, (row, item.programme_name))
            if earlier[1] != item.programme_name:
                problems.add(
                    row,
                    "programme_name",
                    item.programme_name,
                    f"differs from the name given in row {earlier[0]}",
                )
            if found and found[0].name != item.programme_name:
                problems.add(
                    row,
                    "programme_name",
                    item.programme_name,
                    f"differs from the name of programme '{found[0].code}' in the "
                    f"database ('{found[0].name}'); leave it empty or use that name",
                )
        plan.append((row, item, found[0] if found else None))
    problems.raise_if_any()
    result = ImportResult("teams", table.file, len(items))
    for row, item, programme in plan:
        if programme is None:
            key = item.programme.casefold()
            programme = new_programmes.get(key)
            if programme is None:
                programme = Programme(
                    code=item.programme, name=item.programme_name or item.programme, version=1
                )
                session.add(programme)
                new_programmes[key] = programme
        existing = None
        if programme.id is not None:
            existing = next(
                (
                    t
                    for t in directory.teams.values()
                    if t.programme_id == programme.id and t.code.casefold() == item.code.casefold()
                ),
                None,
            )
        values = {"name": item.name, "organisation": item.organisation}
        if existing is None:
            session.add(Team(programme=programme, code=item.code, version=1, **values))
            result.inserted += 1
        elif _set_if_changed(existing, values):
            result.updated += 1
        else:
            result.unchanged += 1
    if new_programmes:
        result.created["programmes"] = len(new_programmes)
    session.flush()
    return result


_MEASURE_FIELDS = (
    "name",
    "measure_type",
    "numerator_definition",
    "denominator_definition",
    "value_definition",
    "unit",
    "multiplier",
    "population",
    "inclusions",
    "exclusions",
    "data_source",
    "collector",
    "frequency",
    "sampling",
    "improvement_direction",
    "target",
    "target_date",
    "chart_type",
    "rule_set",
    "baseline_start",
    "baseline_end",
)


def _apply_measures(session, table, items, problems: _Problems, source):
    from qiwidgets.store.models import Measure

    directory = _Directory(session)
    plan = []
    for row, item in items:
        programme = team = None
        try:
            programme = directory.programme(item.programme)
        except _Rule as exc:
            problems.add(row, "programme", item.programme, str(exc))
        if programme is not None and item.team:
            try:
                team = directory.team(item.team, programme.id)
            except _Rule as exc:
                problems.add(row, "team", item.team, str(exc))
        if item.multiplier is not None and item.multiplier <= 0:
            problems.add(row, "multiplier", _edit_text(item.multiplier), "must be more than zero")
        if item.chart_type in COUNTED_CHART_TYPES:
            for name in ("numerator_definition", "denominator_definition"):
                if not getattr(item, name):
                    problems.add(
                        row,
                        name,
                        "",
                        f"is required for a measure with chart type '{item.chart_type}'",
                    )
        _check_dates_in_order(problems, row, item, ("baseline_start", "baseline_end"))
        plan.append((row, item, programme, team))
    problems.raise_if_any()
    result = ImportResult("measures", table.file, len(items))
    for row, item, programme, team in plan:
        team_id = team.id if team is not None else None
        existing = next(
            (
                m
                for m in directory.measures.values()
                if m.programme_id == programme.id
                and m.team_id == team_id
                and m.code.casefold() == item.code.casefold()
            ),
            None,
        )
        values = {name: getattr(item, name) for name in _MEASURE_FIELDS}
        if existing is None:
            session.add(
                Measure(
                    programme_id=programme.id, team_id=team_id, code=item.code, version=1, **values
                )
            )
            result.inserted += 1
        elif _set_if_changed(existing, values):
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result


#: The PDSA fields of an import file beyond team, title, change idea and measures.
PDSA_FIELDS = (
    "plan_question",
    "prediction",
    "plan_date",
    "do_start",
    "do_notes",
    "study_date",
    "study_result",
    "act",
    "act_date",
)


def _apply_pdsa(session, table, items, problems: _Problems, source):
    from sqlalchemy import select

    from qiwidgets.store.models import DriverNode, PDSACycle

    directory = _Directory(session)
    ideas: dict[int, list] = {}
    for node in session.scalars(select(DriverNode).where(DriverNode.kind == "change_idea")):
        ideas.setdefault(node.team_id, []).append(node)
    plan = []
    for row, item in items:
        programme_id = None
        if item.programme:
            try:
                programme_id = directory.programme(item.programme).id
            except _Rule as exc:
                problems.add(row, "programme", item.programme, str(exc))
        team = idea = None
        measures = []
        try:
            team = directory.team(item.team, programme_id)
        except _Rule as exc:
            problems.add(row, "team", item.team, str(exc))
        if team is not None and item.change_idea:
            wanted = item.change_idea.casefold()
            idea = next(
                (n for n in ideas.get(team.id, []) if n.text.strip().casefold() == wanted), None
            )
            if idea is None:
                problems.add(
                    row,
                    "change_idea",
                    item.change_idea,
                    f"is not a change idea of team '{team.code}' (its change ideas: "
                    f"{_listing(n.text for n in ideas.get(team.id, []))})",
                )
        if team is not None:
            for code in item.measures:
                try:
                    measures.append(directory.measure(code, team))
                except _Rule as exc:
                    problems.add(row, "measures", code, str(exc))
        _check_dates_in_order(
            problems, row, item, ("plan_date", "do_start", "study_date", "act_date")
        )
        if item.act_date is not None and item.act is None:
            problems.add(row, "act", "", "is required when act_date is given")
        plan.append((row, item, team, idea, measures))
    problems.raise_if_any()
    result = ImportResult("pdsa", table.file, len(items))
    existing_cycles: dict[tuple[int, str], PDSACycle] = {}
    team_ids = {team.id for _, _, team, _, _ in plan}
    if team_ids:
        for cycle in session.scalars(select(PDSACycle).where(PDSACycle.team_id.in_(team_ids))):
            existing_cycles.setdefault((cycle.team_id, cycle.title.casefold()), cycle)
    for row, item, team, idea, measures in plan:
        values = {name: getattr(item, name) for name in PDSA_FIELDS}
        values["change_idea_id"] = idea.id if idea is not None else None
        cycle = existing_cycles.get((team.id, item.title.casefold()))
        if cycle is None:
            cycle = PDSACycle(team_id=team.id, title=item.title, version=1, **values)
            cycle.measures = list(measures)
            session.add(cycle)
            result.inserted += 1
            continue
        changed = _set_if_changed(cycle, values)
        if {m.id for m in cycle.measures} != {m.id for m in measures}:
            cycle.measures = list(measures)
            changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result


_HANDLERS: dict[str, tuple[Callable, Callable]] = {
    "observations": (_prepare_observations, _apply_observations),
    "teams": (_prepare_rows("teams"), _apply_teams),
    "measures": (_prepare_rows("measures"), _apply_measures),
    "pdsa": (_prepare_rows("pdsa"), _apply_pdsa),
}

__all__ = [
    "FORMATS",
    "KINDS",
    "Column",
    "ImportResult",
    "Problem",
    "Table",
    "format_help",
    "format_markdown",
    "import_file",
    "parse_choice",
    "parse_count",
    "parse_date",
    "parse_number",
    "parse_text",
    "read_table",
]
