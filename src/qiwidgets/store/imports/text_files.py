"""Reading a CSV text file: its encoding, its delimiter, its header, and its rows in chunks
(pyarrow for a plain UTF-8 file, the csv module with strict quoting for every other)."""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from qiwidgets.errors import ImportValidationError
from qiwidgets.errors import logger as _root_logger
from qiwidgets.store.imports.formats import FORMATS
from qiwidgets.store.imports.problems import Problem, ProblemList, fatal
from qiwidgets.store.imports.table import (
    Table,
    TableBuilder,
    gc_paused,
    header_elsewhere,
    megabytes,
    normalise_header,
)

log = _root_logger.getChild("store.imports")

#: Delimiters a text file may use (found from the header row).
DELIMITERS = (",", ";", "\t", "|")
#: The one delimiter that says the writer's decimal mark is the point: where the comma separates
#: cells it cannot be the decimal mark. Spreadsheets whose locale writes 12,5 use ';' instead.
DECIMAL_POINT_DELIMITER = ","
#: A text file larger than this is refused before it is read: 256 MiB holds about five million
#: observation rows (the benchmark's 1,000,000 rows of 200 teams x 50 measures x 100 months take
#: 27.5 MB; benchmarks/store_bench.py); a larger programme imports a year or a team at a time.
MAX_TEXT_FILE_BYTES = 256 * 1024 * 1024
#: How many rows at the top of a file are searched for the column names when row 1 does not hold
#: them (a title row, or a blank first row), to say where they are.
HEADER_SEARCH_ROWS = 10
#: Rows parsed at a time. With cells kept as codes, memory grows by ~4 bytes a cell, not by the
#: text of the rows (a chunk of 20,000 rows of Python strings is ~8 MB).
READ_CHUNK_ROWS = 20_000


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
                        raise fatal(
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
            raise fatal(file, "the file is empty")
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


def top_records(path: Path, encoding: str, delimiter: str) -> list[tuple[int, list[str]]]:
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
        top = top_records(path, encoding, delimiter)
        names = [sum(normalise_header(c) in known for c in cells) for _, cells in top]
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
    path: Path, encoding: str, delimiter: str, width: int, file: str, ragged: ProblemList
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
            raise fatal(file, _csv_error_rule(exc), _record_of_error(path, encoding, delimiter))


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


def read_text(
    path: Path, file: str, kind: str | None, cap: int | None
) -> tuple[Table, ProblemList]:
    size = path.stat().st_size
    if size > MAX_TEXT_FILE_BYTES:
        raise fatal(
            file,
            f"is {megabytes(size)}, more than the {megabytes(MAX_TEXT_FILE_BYTES)} an import "
            "reads: split it into smaller files (a year or a few teams each) and import each",
        )
    encoding, has_quote = _text_encoding(path, file)
    known = {c.name for c in FORMATS[kind]} if kind else set()
    delimiter = _pick_delimiter(path, encoding, known)
    top = top_records(path, encoding, delimiter)
    header_elsewhere(file, kind, top)
    header = top[0][1]
    decimal_point_known = delimiter == DECIMAL_POINT_DELIMITER
    if encoding in ("utf-8", "utf-8-sig") and not has_quote:
        problems = ProblemList(file, cap)
        builder = TableBuilder(file, header, problems)
        try:
            for columns, rows in _arrow_chunks(path, delimiter, len(header)):
                builder.add(columns, rows)
        except _ArrowGaveUp as exc:
            log.debug("pyarrow gave %s to the csv module (%s)", file, exc)
        else:
            return builder.finish(decimal_point_known, []), problems
    problems = ProblemList(file, cap)
    builder = TableBuilder(file, header, problems)
    ragged = ProblemList(file, cap)
    with gc_paused():
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


__all__ = ["DECIMAL_POINT_DELIMITER", "DELIMITERS", "HEADER_SEARCH_ROWS", "MAX_TEXT_FILE_BYTES",
           "READ_CHUNK_ROWS", "read_text", "top_records"]  # fmt: skip
