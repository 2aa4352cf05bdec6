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
  as everywhere in qiwidgets (:data:`qiwidgets.store.schemas.CODE_PATTERN`): letters, digits,
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
Each row's cells are read by a pydantic model (one per kind); the row is matched to the database
by its natural key -- a team by programme + code, a measure by programme + team + code, a PDSA
cycle by team + title --, checked by the store's record rules (:mod:`qiwidgets.store.schemas`:
the same as a save from the workbook), and inserted, updated (``version`` goes up) or left alone
when nothing changed. A teams file creates a programme that does not exist yet (named by
``programme_name``).

The package, one module per step: :mod:`.formats` (the columns), :mod:`.reading` with
:mod:`.text_files` and :mod:`.excel_files` (a file into a :mod:`.table`), :mod:`.directory`
(names to records), :mod:`.observations` and :mod:`.rows` (the kinds of file), :mod:`.problems`
(what is reported). Observations are written by the store's one observation write path
(:mod:`qiwidgets.store.observation_writes`).
"""

from __future__ import annotations

import os
from pathlib import Path

from qiwidgets.store.cells import (
    MAX_DATE,
    MAX_NUMBER,
    MAX_TEXT,
    MIN_DATE,
    parse_choice,
    parse_count,
    parse_date,
    parse_number,
    parse_text,
)
from qiwidgets.store.db import run_in_transaction
from qiwidgets.store.imports.excel_files import MAX_EXCEL_CELL_BYTES
from qiwidgets.store.imports.formats import (
    FORMATS,
    KINDS,
    Column,
    check_kind,
    format_help,
    format_markdown,
)
from qiwidgets.store.imports.observations import import_observations, read_observation_cells
from qiwidgets.store.imports.problems import (
    DEFAULT_MAX_PROBLEMS_PER_RULE,
    ImportResult,
    Problem,
)
from qiwidgets.store.imports.reading import read_table
from qiwidgets.store.imports.rows import (
    PDSA_FIELDS,
    import_measures,
    import_pdsa,
    import_teams,
    read_rows,
)
from qiwidgets.store.imports.table import Table
from qiwidgets.store.imports.text_files import MAX_TEXT_FILE_BYTES
from qiwidgets.store.models import Observation
from qiwidgets.store.schemas import column_length

#: The longest source name kept in the edit history (the ``source`` columns' size).
SOURCE_LENGTH = column_length(Observation, "source")


def import_file(
    kind: str,
    path: str | os.PathLike,
    db=None,
    *,
    source: str | None = None,
    max_problems_per_rule: int | None = DEFAULT_MAX_PROBLEMS_PER_RULE,
    file: str | None = None,
    team: int | None = None,
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
        (see :func:`qiwidgets.config.database_url`). An
        :class:`~qiwidgets.store.people.ActingDB` imports as its person: observations of the
        teams they may change only, and no other kind of file.
    source:
        the name kept as the source of new values in the edit history; the file's name by
        default.
    max_problems_per_rule:
        how many cells one rule in one column lists before the rest are counted (None: all).
    file:
        the file's name in messages (an upload's name, when ``path`` is a temporary copy).
    team:
        the id of the only team an observations file may hold data for (a team's own page).

    Returns
    -------
    ImportResult
        counts of new, changed and unchanged rows.

    Raises
    ------
    ImportValidationError
        the file has problems; ``.problems`` lists every one. Nothing was written.
    AccessDenied
        whoever acts may not import this file.
    """
    check_kind(kind)
    _may_import(db, kind)
    table, problems = read_table(path, kind, file=file, cap=max_problems_per_rule)
    source = (source or file or Path(path).name)[:SOURCE_LENGTH]
    if kind == "observations":
        read = read_observation_cells(table, problems)
        result = run_in_transaction(
            lambda session: import_observations(session, table, read, problems.copy(), source,
                                                only_team=team), db)  # fmt: skip
    else:
        items = read_rows(kind, table, problems)
        write = _WRITERS[kind]
        result = run_in_transaction(
            lambda session: write(session, table, items, problems.copy(), source), db
        )
    result.notes.extend(table.notes)
    return result


def import_table(session, kind: str, table: Table, problems, source: str) -> ImportResult:
    """Check and write a file already read (:func:`read_table`) inside the caller's
    transaction: the file is written with the rest of that transaction, or not at all."""
    check_kind(kind)
    if kind == "observations":
        read = read_observation_cells(table, problems)
        return import_observations(session, table, read, problems, source)
    items = read_rows(kind, table, problems)
    return _WRITERS[kind](session, table, items, problems, source)


_WRITERS = {"teams": import_teams, "measures": import_measures, "pdsa": import_pdsa}


def _may_import(db, kind: str) -> None:
    """A person acting (not the operator) may import observations only (of their teams, which
    the import checks); teams, measures and PDSA files are for a command or the operator."""
    from qiwidgets.errors import AccessDenied
    from qiwidgets.store.people import actor_of

    who = actor_of(db)
    if who is not None and not who.operator and kind != "observations":
        raise AccessDenied(f"{who.name} may import data (observations) only: a {kind} file is "
                           "imported by the programme's analyst with `qiwidgets import`.")  # fmt: skip


__all__ = [
    "DEFAULT_MAX_PROBLEMS_PER_RULE", "FORMATS", "KINDS", "MAX_DATE", "MAX_EXCEL_CELL_BYTES",
    "MAX_NUMBER", "MAX_TEXT", "MAX_TEXT_FILE_BYTES", "MIN_DATE", "PDSA_FIELDS", "Column",
    "ImportResult", "Problem", "Table", "format_help", "format_markdown", "import_file",
    "import_table",
    "parse_choice", "parse_count", "parse_date", "parse_number", "parse_text", "read_table",
]  # fmt: skip
