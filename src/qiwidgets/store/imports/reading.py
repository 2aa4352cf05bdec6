"""Reading any import file: a CSV text file or an Excel workbook, into a :class:`Table`, with
the problems of its header (columns missing, unknown or repeated)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from qiwidgets.store.imports.excel_files import read_excel
from qiwidgets.store.imports.formats import FORMATS, required_columns
from qiwidgets.store.imports.problems import DEFAULT_MAX_PROBLEMS_PER_RULE, ProblemList, fatal
from qiwidgets.store.imports.table import Table, release_freed_memory
from qiwidgets.store.imports.text_files import read_text


def read_table(
    path: str | os.PathLike,
    kind: str | None = None,
    *,
    file: str | None = None,
    cap: int | None = DEFAULT_MAX_PROBLEMS_PER_RULE,
) -> tuple[Table, ProblemList]:
    """Read a CSV or .xlsx file into a :class:`Table`, with the header's problems.

    Problems of the whole file (too large, empty, unreadable, rows with another number of cells
    than the header, column names below row 1, formulas without a saved value) raise
    :class:`~qiwidgets.errors.ImportValidationError` at once; header problems (missing, unknown
    or repeated columns) are returned so they are reported with the cells' problems.
    """
    path = Path(path)
    file = file or path.name
    if not path.is_file():
        raise fatal(file, f"does not exist or is not a file ({path})")
    try:
        if path.stat().st_size == 0:
            raise fatal(file, "the file is empty")
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK\x03\x04"):
            table, problems = read_excel(path, file, kind, cap)
        else:
            table, problems = read_text(path, file, kind, cap)
    except OSError as exc:
        raise fatal(file, f"cannot be read ({exc.strerror or exc})") from None
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
        for name in required_columns(kind):
            if name not in table.columns:
                problems.add(1, name, None, "is a required column but the header does not have it")
    if len(table) == 0:
        problems.add(None, None, None, "has a header row but no data rows")
    release_freed_memory()
    return table, problems


__all__ = ["read_table"]
