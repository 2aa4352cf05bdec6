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
* **Row 1 is the header** (column names). Names are matched ignoring case, surrounding spaces,
  and spaces or hyphens instead of underscores (``Data quality`` is ``data_quality``).
* **Unknown columns are an error**, not a warning: a misspelt optional column (``denominater``,
  ``notes``) would otherwise be dropped without a word. Remove or rename them.
* **Rows are numbered as a spreadsheet shows them**: the header is row 1, the first data row is
  row 2. Blank rows (all cells empty) are skipped wherever they are.
* **Every problem is reported at once** -- file, row, column, value and the rule broken -- as an
  :class:`~qiwidgets.errors.ImportValidationError` whose ``problems`` list holds
  :class:`Problem` objects. To keep a badly broken file readable, at most
  ``max_problems_per_rule`` cells (200 by default) are listed for one rule in one column, followed
  by one line counting the rest; pass ``max_problems_per_rule=None`` to list every cell.
* **All or nothing**: the whole file is written in one transaction, only when it has no problem
  at all. Importing the same file again changes nothing.
* **Text files**: UTF-8 (with or without the byte-order mark Excel writes), UTF-16 with a BOM, or
  Windows-1252 (tried when the file is not UTF-8); the delimiter is found from the header (``,``,
  ``;``, tab or ``|``). Cells are stripped of surrounding spaces.
* **Excel files** (``.xlsx``): the sheet named after the kind (``observations``) if there is one,
  otherwise the first sheet.
* **Numbers**: ``1234``, ``1,234`` and ``1 234`` (thousands separators in groups of three),
  ``12.5``, ``1.5e3``. A comma used as a decimal point (``12,5``) is an error, as it cannot be told
  from a thousands separator. Numbers larger than 10^12 in size are refused.
* **Dates**: ``YYYY-MM-DD``, ``YYYY-MM`` (the first day of the month) or an Excel date (a date cell,
  or an Excel serial day number such as ``45383``). ``DD/MM/YYYY`` and ``MM/DD/YYYY`` are refused
  because they cannot be told apart. Dates must fall between 1950 and 2100.
* **Choices** are matched ignoring case, with spaces or hyphens for underscores (``Single loop``).

Observations
------------
A row is a team's value of a measure for one period; the key is team x measure x period.
``team`` is a team's code (or its name), ``measure`` a measure's code (or its name): one of the
team's own measures, or a shared measure of the team's programme (a team's own measure wins when
both have the code). A *counted* measure -- chart type ``p``, ``pp``, ``u`` or ``up``, or any
measure with a denominator definition -- needs ``numerator`` and ``denominator``; ``value`` may
hold the rate and must then agree with numerator / denominator x multiplier to the decimals
written. Any other measure needs ``value`` and leaves numerator and denominator empty. For a
*proportion* (chart type ``p`` or ``pp``, or unit ``%``) the numerator may not exceed the
denominator and both are whole numbers. Monthly measures take the first day of the month
(``2024-03`` or ``2024-03-01``); quarterly ones the first day of January, April, July or October.

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

import contextlib
import datetime as dt
import difflib
import io
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
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

# Lengths of the database's string columns (qiwidgets.store.models).
_CODE_LEN = 64
_NAME_LEN = 200
_MEASURE_NAME_LEN = 300
_PDSA_TITLE_LEN = 300
_UNIT_LEN = 100
_COLLECTOR_LEN = 200
_SOURCE_LEN = 500

#: Chart types whose observations are counted as numerator / denominator.
COUNTED_CHART_TYPES = ("p", "pp", "u", "up")
#: Chart types whose numerator is part of its denominator (a proportion).
PROPORTION_CHART_TYPES = ("p", "pp")


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
        _col("programme", "yes", "text", "programme code; a new code creates the programme"),
        _col("programme_name", "no", "text", "the programme's name when it is created"),
        _col("code", "yes", "text", f"short code, unique in the programme (<= {_CODE_LEN})"),
        _col("name", "yes", "text", "the team's name"),
        _col("organisation", "no", "text", "the organisation the team belongs to"),
    ),
    "measures": (
        _col("programme", "yes", "text", "programme code"),
        _col("team", "no", "text", "a team's code for the team's own measure; empty = shared"),
        _col("code", "yes", "text", f"short code (<= {_CODE_LEN})"),
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


def parse_number(text: str) -> float | None:
    """A number from a cell (None for an empty cell).

    >>> parse_number("1,234.5"), parse_number(" 12 "), parse_number("")
    (1234.5, 12.0, None)
    """
    s = text.strip()
    if not s:
        return None
    if not _PLAIN_NUMBER.match(s):
        if _COMMA_THOUSANDS.match(s):
            s = s.replace(",", "")
        elif _SPACE_THOUSANDS.match(s):
            s = re.sub(r"[ \u00a0\u202f\u2009]", "", s)
        elif s.endswith("%") and _PLAIN_NUMBER.match(s[:-1].strip()):
            raise _Rule("must be a number without a % sign")
        elif "," in s and _PLAIN_NUMBER.match(s.replace(",", ".", 1)):
            raise _Rule("must be a number with a point for decimals (12.5, not 12,5)")
        else:
            raise _Rule("must be a number")
    number = float(s)
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise _Rule(f"must be at most {MAX_NUMBER:,.0f} in size")
    return number


def parse_count(text: str) -> float | None:
    """A count: a number that is zero or more (None for an empty cell)."""
    number = parse_number(text)
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


Number = Annotated[float | None, _rule(parse_number)]
Date = Annotated[dt.date | None, _rule(parse_date)]
Text = Annotated[str | None, _text()]


def _model_config() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True)


class TeamRow(BaseModel):
    model_config = _model_config()
    programme: Annotated[str, _required(_CODE_LEN)]
    programme_name: Annotated[str | None, _text(_NAME_LEN)] = None
    code: Annotated[str, _required(_CODE_LEN)]
    name: Annotated[str, _required(_NAME_LEN)]
    organisation: Annotated[str | None, _text(_NAME_LEN)] = None


class MeasureRow(BaseModel):
    model_config = _model_config()
    programme: Annotated[str, _required(_CODE_LEN)]
    team: Annotated[str | None, _text(_NAME_LEN)] = None
    code: Annotated[str, _required(_CODE_LEN)]
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
    programme: Annotated[str | None, _text(_CODE_LEN)] = None


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
    what makes a million rows quick to check); ``rows`` holds the spreadsheet row numbers.
    """

    file: str
    columns: list[str]
    rows: np.ndarray
    codes: dict[str, np.ndarray]
    uniques: dict[str, np.ndarray]

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


def _decode(data: bytes, file: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8", data[3:])]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", data)]
    else:
        candidates = [("utf-8", data), ("cp1252", data)]
    for encoding, payload in candidates:
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        if "\x00" in text:
            raise ImportValidationError(
                f"{file} is not a text file; nothing was imported.",
                [
                    Problem(
                        file,
                        None,
                        None,
                        None,
                        "is not a CSV text file (it holds NUL bytes): save it as CSV UTF-8 or "
                        "as an Excel .xlsx workbook",
                    )
                ],
            )
        return text
    raise ImportValidationError(
        f"{file} cannot be read as text; nothing was imported.",
        [
            Problem(
                file,
                None,
                None,
                None,
                f"cannot be read as text (byte 0x{last.object[last.start]:02x} at position "
                f"{last.start} is neither UTF-8 nor Windows-1252): save it as CSV UTF-8",
            )
        ],
    )


def _pick_delimiter(header_line: str, known: set[str]) -> str:
    best, best_score = ",", (-1, -1)
    for delim in DELIMITERS:
        names = [_normalise_header(n.strip('"')) for n in header_line.split(delim)]
        score = (sum(n in known for n in names), header_line.count(delim))
        if score > best_score:
            best, best_score = delim, score
    return best


def _fatal(file: str, rule: str, row: int | None = None) -> ImportValidationError:
    return ImportValidationError(
        f"{file} cannot be imported; nothing was imported.", [Problem(file, row, None, None, rule)]
    )


def _read_csv_text(text: str, file: str, known: set[str]) -> pd.DataFrame:
    """Parse CSV text into a frame of strings; row i of the frame is spreadsheet row i + 1."""
    body = text.rstrip("\r\n\t ")
    first_line = body.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise _fatal(file, "row 1 must hold the column names (the header), but it is empty", 1)
    delim = _pick_delimiter(first_line, known)
    common = {"header": None, "sep": delim, "dtype": str, "keep_default_na": False}
    # Fast path (pyarrow) when line numbers and records agree: no blank lines inside, no quoted
    # line breaks. Otherwise the C parser, which keeps blank rows so numbering stays exact.
    if "\n\n" not in body and "\n\r\n" not in body and "\r" not in body.replace("\r\n", ""):
        try:
            frame = pd.read_csv(io.BytesIO(body.encode("utf-8")), engine="pyarrow", **common)
            if len(frame) == body.count("\n") + 1:
                return frame
        except Exception as exc:  # noqa: BLE001 - let the C parser give the precise error
            log.debug("fast CSV parser gave up on %s (%s); using the C parser", file, exc)
    try:
        return pd.read_csv(io.StringIO(body), skip_blank_lines=False, **common)
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            expected, line, saw = (int(g) for g in m.groups())
            raise _fatal(
                file, f"has {saw} cells but the header has {expected} columns", line
            ) from None
        raise _fatal(file, f"is not a well-formed CSV file ({str(exc).strip()})") from None


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


def _read_excel(path: Path, file: str, kind: str | None) -> tuple[pd.DataFrame, str]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _fatal(file, f"is not a readable Excel .xlsx workbook ({exc})") from None
    try:
        names = book.sheetnames
        wanted = [n for n in names if kind and n.strip().casefold() == kind]
        sheet = book[wanted[0]] if wanted else book[names[0]]
        data = [[_excel_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        title = sheet.title
    finally:
        book.close()
    width = max((len(r) for r in data), default=0)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in data], dtype=object)
    if width == 0:
        frame = pd.DataFrame()
    return frame, f"{file} (sheet '{title}')" if len(names) > 1 else file


def read_table(
    path: str | os.PathLike,
    kind: str | None = None,
    *,
    file: str | None = None,
    cap: int | None = DEFAULT_MAX_PROBLEMS_PER_RULE,
) -> tuple[Table, _Problems]:
    """Read a CSV or .xlsx file into a :class:`Table`, with the header's problems.

    Problems of the whole file (empty, unreadable, ragged rows) raise
    :class:`~qiwidgets.errors.ImportValidationError` at once; header problems (missing, unknown
    or repeated columns) are returned so they are reported with the cells' problems.
    """
    path = Path(path)
    file = file or path.name
    if not path.is_file():
        raise _fatal(file, f"does not exist or is not a file ({path})")
    data = path.read_bytes()
    known = {c.name for c in FORMATS[kind]} if kind else set()
    if not data.strip(b" \t\r\n\x00"):
        raise _fatal(file, "the file is empty")
    if data.startswith(b"PK\x03\x04"):
        frame, file = _read_excel(path, file, kind)
    else:
        text = _decode(data, file)
        if not text.strip(" \t\r\n\ufeff"):
            raise _fatal(file, "the file is empty")
        frame = _read_csv_text(text, file, known)
    problems = _Problems(file, cap)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise _fatal(file, "the file is empty")
    frame = frame.fillna("")
    header = [str(v).strip() for v in frame.iloc[0].tolist()]
    body = frame.iloc[1:]
    rows_all = np.arange(2, len(frame) + 1, dtype=np.int64)

    codes: dict[str, np.ndarray] = {}
    uniques: dict[str, np.ndarray] = {}
    blank = np.ones(len(body), dtype=bool)
    columns: list[str] = []
    seen: dict[str, int] = {}
    for position, raw_name in enumerate(header):
        col_codes, col_uniques = pd.factorize(body.iloc[:, position], use_na_sentinel=False)
        stripped = np.array([str(u).strip() for u in col_uniques] or [""], dtype=object)
        nonempty = (stripped != "")[col_codes] if len(col_codes) else np.zeros(0, dtype=bool)
        name = _normalise_header(raw_name)
        if not name:
            if nonempty.any():
                problems.add(1, f"column {position + 1}", None, "has values but no name")
            continue
        blank &= ~nonempty
        if name in seen:
            problems.add(1, raw_name, None, "appears more than once in the header")
            continue
        seen[name] = position
        columns.append(name)
        codes[name] = np.asarray(col_codes, dtype=np.int64)
        uniques[name] = stripped
    keep = ~blank
    rows = rows_all[keep]
    if not keep.all():
        for name in columns:
            codes[name] = codes[name][keep]
    if kind:
        allowed = [c.name for c in FORMATS[kind]]
        for name in columns:
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
            if name not in columns:
                problems.add(1, name, None, "is a required column but the header does not have it")
    if len(rows) == 0:
        problems.add(None, None, None, "has a header row but no data rows")
    return Table(file, columns, rows, codes, uniques), problems


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

    def summary(self) -> str:
        """One line for people, e.g. ``observations.csv: 432 rows; 12 new, 3 changed ...``."""
        text = (
            f"{self.file}: {self.rows:,} rows; {self.inserted:,} new, {self.updated:,} changed, "
            f"{self.unchanged:,} unchanged"
        )
        if self.edits:
            text += f"; {self.edits:,} changed values kept in the edit history"
        for what, n in self.created.items():
            text += f"; {n:,} new {what if n != 1 else what.rstrip('s')}"
        return text + "."


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
    return run_in_transaction(
        lambda session: apply(session, table, prepared, problems.copy(), source), db
    )


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
    resolve: Callable[[str], Any],
    problems: _Problems,
    group: np.ndarray | None = None,
    group_values: Sequence[Any] | None = None,
) -> np.ndarray:
    """Resolve each distinct cell of a column (per group, e.g. per team) to a database object.

    Returns the objects' ids per row (-1 where the cell is blank or did not resolve).
    """
    codes = table.codes[name]
    uniques = table.uniques[name]
    if group is None:
        pair = codes
        n_unique = len(uniques)
    else:
        n_unique = len(uniques)
        pair = group.astype(np.int64) * n_unique + codes
    pair_codes, pair_uniques = pd.factorize(pair)
    resolved = np.empty(len(pair_uniques), dtype=object)
    broken: dict[str, list[int]] = {}
    for i, p in enumerate(pair_uniques.tolist()):
        text = uniques[p % n_unique] if group is not None else uniques[p]
        context = group_values[p // n_unique] if group is not None else None
        if not text or context is _SKIP:
            resolved[i] = None
            continue
        try:
            resolved[i] = resolve(text) if group is None else resolve(text, context)
        except _Rule as exc:
            resolved[i] = None
            broken.setdefault(str(exc), []).append(i)
    for rule, bad in broken.items():
        mask = np.isin(pair_codes, np.asarray(bad))
        problems.add_cells(table.rows[mask], uniques[codes[mask]].tolist(), name, rule)
    ids = np.array([-1 if obj is None else obj.id for obj in resolved.tolist()], np.int64)
    return ids[pair_codes] if len(pair_codes) else np.empty(0, dtype=np.int64)


# --- observations ------------------------------------------------------------------------------------

_OBS_NUMBERS = ("numerator", "denominator", "value")


@dataclass
class _ObsPrepared:
    period: np.ndarray  # int64 ordinal per row, 0 where missing or broken
    numbers: dict[str, np.ndarray]  # float64 per row, NaN where empty or broken
    number_ok: dict[str, np.ndarray]  # bool per row
    decimals: np.ndarray | None  # decimals written in `value`, per row
    quality: np.ndarray | None  # object per row
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
        ordinals = np.array([v.toordinal() if v is not None else 0 for v in values], np.int64)
        period = ordinals[table.codes["period"]]
    else:
        period = np.zeros(n, np.int64)
    numbers: dict[str, np.ndarray] = {}
    number_ok: dict[str, np.ndarray] = {}
    for name in _OBS_NUMBERS:
        if name not in table.columns:
            continue
        parser = parse_number if name == "value" else parse_count
        values, ok, _ = _parse_column(table, name, parser, problems)
        as_float = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        numbers[name] = as_float[table.codes[name]]
        number_ok[name] = ok[table.codes[name]]
    decimals = None
    if "value" in table.columns:
        dec = np.array(
            [
                len(u.split(".", 1)[1]) if "." in u and "e" not in u.lower() else 0
                for u in table.uniques["value"].tolist()
            ],
            dtype=np.int64,
        )
        decimals = dec[table.codes["value"]]
    quality = None
    if "data_quality" in table.columns:
        values, _, _ = _parse_column(
            table, "data_quality", lambda s: parse_choice(s, DATA_QUALITY_FLAGS, "ok"), problems
        )
        values = np.array([v if v is not None else "ok" for v in values], dtype=object)
        quality = values[table.codes["data_quality"]]
    return _ObsPrepared(period, numbers, number_ok, decimals, quality, present)


def _apply_observations(session, table: Table, prep: _ObsPrepared, problems: _Problems, source):
    from sqlalchemy import bindparam

    from qiwidgets.store.models import ObservationEdit, utcnow

    directory = _Directory(session)
    n = len(table)
    rows = table.rows

    # programme (optional) -> team -> measure
    programme_ids = None
    if "programme" in table.columns:
        programme_ids = _resolve_cells(table, "programme", directory.programme, problems)
        programme_ids[programme_ids < 0] = -2
        programme_ids[(table.uniques["programme"] == "")[table.codes["programme"]]] = -1
    if "team" in table.columns:
        if programme_ids is None:
            team_ids = _resolve_cells(table, "team", directory.team, problems)
        else:
            group_codes, group_uniques = pd.factorize(programme_ids)
            contexts = [
                None if g == -1 else _SKIP if g == -2 else g for g in group_uniques.tolist()
            ]
            team_ids = _resolve_cells(
                table, "team", directory.team, problems, group_codes, contexts
            )
    else:
        team_ids = np.full(n, -1, dtype=np.int64)
    if "measure" in table.columns:
        group_codes, group_uniques = pd.factorize(team_ids)
        contexts = [directory.teams.get(g, _SKIP) for g in group_uniques.tolist()]
        measure_ids = _resolve_cells(
            table, "measure", directory.measure, problems, group_codes, contexts
        )
    else:
        measure_ids = np.full(n, -1, dtype=np.int64)

    # rules that depend on the measure
    known = measure_ids >= 0
    ids_u, inverse = np.unique(measure_ids, return_inverse=True)
    props = {mid: _measure_props(directory.measures.get(mid)) for mid in ids_u.tolist()}
    counted = np.array([props[m]["counted"] for m in ids_u.tolist()], bool)[inverse] & known
    proportion = np.array([props[m]["proportion"] for m in ids_u.tolist()], bool)[inverse] & known
    multiplier = np.array([props[m]["multiplier"] for m in ids_u.tolist()], float)[inverse]
    frequency = np.array([props[m]["frequency"] or "" for m in ids_u.tolist()], object)[inverse]
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

    num, den, val = (prep.numbers.get(c, np.full(n, np.nan)) for c in _OBS_NUMBERS)
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
    with np.errstate(invalid="ignore"):
        whole_num = np.isclose(num, np.round(num))
        whole_den = np.isclose(den, np.round(den))
        add(counted & has_num & ~whole_num, "numerator", "must be a whole number")
        add(proportion & has_den & ~whole_den, "denominator", "must be a whole number")
        both = counted & has_num & has_den
        add(proportion & both & (num > den), "numerator", "must not be more than the denominator")
        add(
            counted & ~proportion & both & (den == 0) & (num > 0),
            "denominator",
            "must be more than zero when the numerator is more than zero",
        )
        rate = np.where(both & (den > 0), num / np.where(den > 0, den, 1.0) * multiplier, np.nan)
        if prep.decimals is not None:
            tolerance = 0.5 * 10.0 ** (-prep.decimals.astype(float)) + 1e-9 * np.abs(rate)
            disagree = counted & both & has_val & (den > 0) & (np.abs(val - rate) > tolerance)
            add(
                disagree,
                "value",
                "must equal numerator / denominator x multiplier, to the decimals written "
                "(or be left empty)",
            )
            add(
                counted & both & has_val & (den == 0),
                "value",
                "must be empty when the denominator is zero",
            )

    period_ok = prep.period > 0
    if period_ok.any() and (frequency != "").any():
        ordinals, inverse = np.unique(prep.period, return_inverse=True)
        days = [dt.date.fromordinal(int(o)) if o > 0 else dt.date(2000, 1, 1) for o in ordinals]
        day1 = np.array([d.day == 1 for d in days], bool)[inverse]
        month = np.array([d.month for d in days], np.int64)[inverse]
        add(
            period_ok & (frequency == "monthly") & ~day1,
            "period",
            "must be the first day of a month for a monthly measure (write YYYY-MM)",
        )
        add(
            period_ok & (frequency == "quarterly") & ~(day1 & np.isin(month, (1, 4, 7, 10))),
            "period",
            "must be the first day of January, April, July or October for a quarterly measure",
        )

    # duplicates within the file (same team x measure x period)
    keyed = known & (team_ids >= 0) & period_ok
    if keyed.any():
        key = pd.DataFrame(
            {
                "t": team_ids[keyed],
                "m": measure_ids[keyed],
                "p": prep.period[keyed],
                "row": rows[keyed],
            }
        )
        dup = key.duplicated(["t", "m", "p"], keep=False).to_numpy()
        if dup.any():
            d = key[dup]
            first = d.groupby(["t", "m", "p"])["row"].transform("min").to_numpy()
            later = d["row"].to_numpy() != first
            d_rows = d["row"].to_numpy()[later]
            firsts = first[later]
            labels = _row_labels(table, rows, d_rows)
            for row, label, f in zip(d_rows.tolist(), labels, firsts.tolist()):
                problems.add(row, None, label, f"same team, measure and period as row {f}")

    problems.raise_if_any()

    # ------- write: upsert new and changed rows, keep the history of changed values -------
    present = prep.present
    frame = pd.DataFrame({"team_id": team_ids, "measure_id": measure_ids, "period": prep.period})
    for name in _OBS_NUMBERS:
        if name in present:
            frame[name] = prep.numbers[name]
    if "data_quality" in present:
        frame["data_quality"] = prep.quality
    existing = _existing_observations(session, np.unique(team_ids), np.unique(measure_ids))
    fields = [c for c in _OBS_NUMBERS + ("data_quality",) if c in present]
    if len(existing):
        merged = frame.merge(
            existing, on=["team_id", "measure_id", "period"], how="left", suffixes=("", "_old")
        )
        is_new = merged["id"].isna().to_numpy()
        changed_any = np.zeros(len(merged), bool)
        changes = {}
        for name in fields:
            new, old = merged[name], merged[f"{name}_old"]
            if name == "data_quality":
                differs = (new != old).to_numpy()
            else:
                a, b = new.to_numpy(float), old.to_numpy(float)
                differs = ~((a == b) | (np.isnan(a) & np.isnan(b)))
            differs = differs & ~is_new
            changes[name] = differs
            changed_any |= differs
    else:
        merged = frame
        is_new = np.ones(len(frame), bool)
        changed_any = np.zeros(len(frame), bool)
        changes = {}
    write = is_new | changed_any
    now = utcnow()
    _upsert_observations(session, merged[write], fields, source, now)
    conn = session.connection()
    n_edits = 0
    if changed_any.any():
        edits = []
        for name, differs in changes.items():
            if not differs.any():
                continue
            part = merged[differs]
            olds = part[f"{name}_old"].tolist()
            news = part[name].tolist()
            for oid, old, new in zip(part["id"].astype(np.int64).tolist(), olds, news):
                edits.append(
                    {
                        "observation_id": oid,
                        "field": name,
                        "old_value": _edit_text(old),
                        "new_value": _edit_text(new),
                        "changed_at": now,
                        "source": source,
                    }
                )
        from sqlalchemy import insert

        edit_table = ObservationEdit.__table__
        columns = list(edits[0])
        stmt = insert(edit_table).values({c: bindparam(c) for c in columns})
        _executemany(conn, stmt, edit_table, {c: [e[c] for e in edits] for c in columns})
        n_edits = len(edits)
    return ImportResult(
        "observations",
        table.file,
        n,
        inserted=int(is_new.sum()),
        updated=int(changed_any.sum()),
        unchanged=int(n - is_new.sum() - changed_any.sum()),
        edits=n_edits,
    )


def _row_labels(table: Table, rows: np.ndarray, which: np.ndarray) -> list[str]:
    index = np.searchsorted(rows, which)
    parts = []
    for name in ("team", "measure", "period"):
        parts.append(table.uniques[name][table.codes[name][index]])
    return [f"{t} / {m} / {p}" for t, m, p in zip(*(p.tolist() for p in parts))]


def _measure_props(measure) -> dict:
    if measure is None:
        return {"counted": False, "proportion": False, "multiplier": 1.0, "frequency": None}
    chart = measure.chart_type
    counted = chart in COUNTED_CHART_TYPES or bool((measure.denominator_definition or "").strip())
    proportion = counted and (
        chart in PROPORTION_CHART_TYPES or (measure.unit or "").strip() == "%"
    )
    return {
        "counted": counted,
        "proportion": proportion,
        "multiplier": float(measure.multiplier or 1.0),
        "frequency": measure.frequency,
    }


def _edit_text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return repr(value)  # as qiwidgets.store.repo writes it, so the history reads alike
    return str(value)[:100]


def _existing_observations(session, team_ids: np.ndarray, measure_ids: np.ndarray) -> pd.DataFrame:
    from sqlalchemy import select

    from qiwidgets.store.models import Observation

    t = Observation.__table__
    team_ids = [int(x) for x in team_ids if x >= 0]
    measure_ids = [int(x) for x in measure_ids if x >= 0]
    columns = ["id", "team_id", "measure_id", "period", *_OBS_NUMBERS, "data_quality"]
    if not team_ids or not measure_ids:
        return pd.DataFrame(columns=columns)
    conn = session.connection()
    chunks = []
    # Keep each IN list well below the databases' limits on bound parameters.
    for start in range(0, len(team_ids), 500):
        stmt = select(*(t.c[c] for c in columns)).where(
            t.c.team_id.in_(team_ids[start : start + 500]), t.c.measure_id.in_(measure_ids)
        )
        if conn.dialect.name == "sqlite":
            # Rows straight from the driver: periods stay ISO strings, converted once each below
            # (SQLAlchemy's per-row date conversion would dominate a million-row re-import).
            compiled = stmt.compile(
                dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
            )
            params = tuple(compiled.params[name] for name in compiled.positiontup)
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(str(compiled), params)
                chunks.extend(cursor.fetchall())
            finally:
                cursor.close()
        else:
            chunks.extend(tuple(row) for row in conn.execute(stmt))
    frame = pd.DataFrame(chunks, columns=columns)
    if len(frame):
        codes, uniques = pd.factorize(frame["period"])
        ordinals = np.array([_as_date(d).toordinal() for d in uniques], np.int64)
        frame["period"] = ordinals[codes]
        for name in _OBS_NUMBERS:
            frame[name] = frame[name].astype(float)
    return frame


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _upsert_observations(session, frame: pd.DataFrame, fields, source, now) -> None:
    """INSERT ... ON CONFLICT (team, measure, period) DO UPDATE for new and changed rows."""
    if not len(frame):
        return
    from qiwidgets.store.models import Observation

    table = Observation.__table__
    conn = session.connection()
    dialect = conn.dialect
    frame = frame.sort_values(["team_id", "measure_id", "period"], kind="stable")
    n = len(frame)
    ordinals, inverse = np.unique(frame["period"].to_numpy(), return_inverse=True)
    dates = [dt.date.fromordinal(int(o)) for o in ordinals.tolist()]
    date_values = np.array(dates, dtype=object)[inverse].tolist()

    def floats(name):
        if name not in fields:
            return [None] * n
        a = frame[name].to_numpy(float)
        out = a.astype(object)
        out[np.isnan(a)] = None
        return out.tolist()

    data = {
        "team_id": frame["team_id"].astype(np.int64).tolist(),
        "measure_id": frame["measure_id"].astype(np.int64).tolist(),
        "period": date_values,
        "numerator": floats("numerator"),
        "denominator": floats("denominator"),
        "value": floats("value"),
        "data_quality": (
            frame["data_quality"].tolist() if "data_quality" in fields else ["ok"] * n
        ),
        "source": [source] * n,
        "version": [1] * n,
        "created_at": [now] * n,
        "updated_at": [now] * n,
    }
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    from sqlalchemy import bindparam, literal_column

    stmt = dialect_insert(table).values({name: bindparam(name) for name in data})
    updates = {name: stmt.excluded[name] for name in fields}
    updates.update(
        source=stmt.excluded.source,
        updated_at=stmt.excluded.updated_at,
        version=table.c.version + literal_column("1"),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.team_id, table.c.measure_id, table.c.period], set_=updates
    )
    with _bulk_load(conn, table, n):
        _executemany(conn, stmt, table, data)


#: From this many rows on, a SQLite import rebuilds the observations' secondary indexes once
#: instead of updating them row by row (twice as fast for a million rows), and checks the table's
#: CHECK constraints once over the table instead of once per row.
BULK_REBUILD_ROWS = 100_000
#: SQLite page cache for a large import, in KiB (the connection's own is restored afterwards).
BULK_CACHE_KIB = 256 * 1024


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
    batch = 50_000
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
        for row, record in zip(table.rows.tolist(), table.records()):
            data = {k: v for k, v in record.items() if k in fields}
            try:
                out.append((row, model(**data)))
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
