"""What an import reports: each problem of a file (:class:`Problem`), collected at most a few
hundred per rule (:class:`ProblemList`), and what a successful import did (:class:`ImportResult`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from qiwidgets.errors import ImportValidationError

#: How many cells one rule in one column lists before the rest are counted in one line.
DEFAULT_MAX_PROBLEMS_PER_RULE = 200


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
            parts.append(f"value '{shorten(self.value)}'")
        return ", ".join(parts) + ": " + self.rule


def shorten(text: str, limit: int = 60) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ProblemList:
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

    def copy(self) -> ProblemList:
        other = ProblemList(self.file, self.cap)
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


def fatal(file: str, rule: str, row: int | None = None) -> ImportValidationError:
    """The error for a problem of the whole file (nothing else of it is checked)."""
    return ImportValidationError(
        f"{file} cannot be imported; nothing was imported.", [Problem(file, row, None, None, rule)]
    )


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


__all__ = ["DEFAULT_MAX_PROBLEMS_PER_RULE", "ImportResult", "Problem", "ProblemList", "fatal",
           "shorten"]  # fmt: skip
