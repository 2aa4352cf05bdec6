"""A file read as a table of text cells, kept compact (:class:`Table`), and how it is built from
the rows a reader hands over in chunks (:class:`TableBuilder`)."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.store.imports.formats import required_columns
from qiwidgets.store.imports.problems import ProblemList, fatal


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


def normalise_header(name: str) -> str:
    """A column name as matched: lower case, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().strip("\ufeff").strip().casefold())


def megabytes(n: int) -> str:
    """A size for a message: ``27.5 MB`` (or a number of bytes, when small)."""
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


class TableBuilder:
    """A file's rows, arriving in chunks, kept as factorised columns (see :class:`Table`).

    Each cell is stripped and replaced by the code of its text within its column; blank rows
    (every named cell empty) are dropped as they arrive. Memory grows by 1-4 bytes a cell.
    """

    def __init__(self, file: str, header: Sequence[str], problems: ProblemList):
        self.file = file
        self.problems = problems
        self.width = len(header)
        self.names: list[str | None] = []  # None: a column without a name, or a repeated one
        self.unnamed: list[int] = []  # positions without a name (their values are a problem)
        seen: set[str] = set()
        for position, raw in enumerate(header):
            name = normalise_header(raw)
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


def header_elsewhere(file: str, kind: str | None, top: list[tuple[int, list[str]]]) -> None:
    """Refuse a file whose column names are not on row 1 but on a row below (a title row).

    ``top`` holds the first rows as (row number, cells). Row 1 is the header when it names every
    required column; otherwise the first row below it that does is said to be the header.
    """
    first = {normalise_header(c) for c in top[0][1]} if top and top[0][0] == 1 else set()
    required = set(required_columns(kind)) if kind else set()
    if kind and not required <= first:
        for number, cells in top:
            names = [normalise_header(c) for c in cells]
            if number > 1 and required <= set(names):
                shown = ", ".join(n for n in names if n)
                above = "the row" if number == 2 else f"the {number - 1} rows"
                raise fatal(
                    file,
                    f"does not hold the column names, but row {number} seems to ({shown}): "
                    f"delete {above} above it, so that the column names are in row 1",
                    1,
                )
    if not first - {""}:
        raise fatal(file, "row 1 must hold the column names (the header), but it is empty", 1)


def release_freed_memory() -> None:
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
def gc_paused():
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


__all__ = ["Table", "TableBuilder", "gc_paused", "header_elsewhere", "megabytes",
           "normalise_header", "release_freed_memory"]  # fmt: skip
