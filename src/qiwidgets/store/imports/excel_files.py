"""Reading an Excel ``.xlsx`` workbook: the visible sheet to read, its header, and its rows
(hidden sheets are never read; a formula without a saved value is refused)."""

from __future__ import annotations

import datetime as dt
import itertools
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qiwidgets.errors import ImportValidationError
from qiwidgets.errors import logger as _root_logger
from qiwidgets.store.imports.problems import Problem, ProblemList, fatal
from qiwidgets.store.imports.table import (
    Table,
    TableBuilder,
    header_elsewhere,
    megabytes,
)
from qiwidgets.store.imports.text_files import HEADER_SEARCH_ROWS, READ_CHUNK_ROWS

log = _root_logger.getChild("store.imports")

#: An Excel sheet whose cells take more than this, unpacked (the sheet's XML plus the workbook's
#: shared text), is refused before a row is read: openpyxl reads ~3 MB of sheet XML a second
#: (measured on the benchmark machine: the benchmark's rows, 100,000 of them, are 29.6 MB of XML
#: and import in 10.5 s), so 100 MB is ~340,000 rows and ~35 s. Larger data go faster as CSV.
MAX_EXCEL_CELL_BYTES = 100 * 1000 * 1000


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


def read_excel(
    path: Path, file: str, kind: str | None, cap: int | None
) -> tuple[Table, ProblemList]:
    import openpyxl

    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename.lstrip("/"): info.file_size for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise fatal(file, f"is not a readable Excel .xlsx workbook ({exc})") from None
    text_bytes = sum(n for name, n in sizes.items() if name.endswith("sharedStrings.xml"))

    def too_big(label: str, what: int) -> ImportValidationError:
        return fatal(
            label,
            f"holds {megabytes(what)} of cells (unpacked), more than the "
            f"{megabytes(MAX_EXCEL_CELL_BYTES)} an Excel import reads: save the sheet as "
            "'CSV UTF-8' and import the CSV file, which has a far higher limit",
        )

    if text_bytes > MAX_EXCEL_CELL_BYTES:
        raise too_big(file, text_bytes)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise fatal(file, f"is not a readable Excel .xlsx workbook ({exc})") from None
    try:
        sheet, hidden = _choose_sheet(book, kind)
        if sheet is None:
            raise fatal(file, "has no visible sheet: unhide the sheet to import")
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
        problems = ProblemList(label, cap)
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
            raise fatal(label, "the sheet is empty" if label != file else "the file is empty")
        header_elsewhere(label, kind, top)
        header = [t.strip() for t in top[0][1]]
        width = len(header)
        builder = TableBuilder(label, header, problems)
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


__all__ = ["MAX_EXCEL_CELL_BYTES", "read_excel"]
