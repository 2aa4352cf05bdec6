"""A whole programme to a folder of files, and back.

:func:`export_programme` writes one file per table (CSV or Parquet) holding the programme's
rows, plus ``manifest.json`` (format, schema revision, row counts). :func:`import_programme`
reads such a folder into a database in one transaction: all of it or nothing. Into an empty
database the round trip gives identical data, ids and versions included; into a database that
already holds other programmes, ids are shifted past the ones in use.

CSV files are UTF-8 with a header row. ``\\N`` stands for a missing value (NULL), so that an
empty text stays distinct from no text; a text that itself starts with a backslash gets one more
(the convention of PostgreSQL's COPY). Booleans are ``true``/``false``, dates and timestamps ISO
8601 (timestamps in UTC), numbers as Python writes them, so floats round-trip exactly.

A text that a spreadsheet would take for a formula -- one starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (:mod:`qiwidgets.csv_cells`) -- also gets a backslash in front, so
that opening an export in Excel or LibreOffice shows the text instead of running it (CSV
injection); reading the export back removes it, as for any text starting with a backslash.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Table,
    false,
    func,
    insert,
    select,
    union,
)
from sqlalchemy.orm import Session

from qiwidgets.csv_cells import neutralise_formula
from qiwidgets.errors import StoreError
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader
from qiwidgets.store.db import StoreLike, get_engine, head_revision, init_db, run_in_transaction
from qiwidgets.store.lookup import ProgrammeRef
from qiwidgets.store.lookup import programme as find_programme

#: Version of the export folder layout (``manifest.json`` key ``qiwidgets_export``).
EXPORT_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FORMATS = ("csv", "parquet")
#: How a missing value is written in CSV files.
CSV_NULL = "\\N"

Format = Literal["csv", "parquet"]


@dataclass
class TransferSummary:
    """What an export or an import did: the folder, the programme, rows per table."""

    folder: Path
    programme: str
    format: str
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _tables() -> list[Table]:
    """Every table of the model, parents before children."""
    return list(m.Base.metadata.sorted_tables)


def _programme_filter(table: Table, programme_id: int):
    """The WHERE clause choosing ``table``'s rows that belong to the programme."""
    t = m.Base.metadata.tables
    team_ids = select(t["teams"].c.id).where(t["teams"].c.programme_id == programme_id)
    c = table.c
    if table.name == "programmes":
        return c.id == programme_id
    if table.name == "access_links":  # secrets, even hashed, never leave the server
        return false()
    if table.name == "pulse_responses":  # who answered the safety pulse stays in the store
        return false()
    if table.name == "people":  # the people the programme's records name
        return c.id.in_(union(*(
            select(other.c[col]).where(_programme_filter(other, programme_id))
            for other in _tables() if other.name not in ("people", "access_links")
            for col in _PERSON_COLUMNS if col in other.c
        )))  # fmt: skip
    if "programme_id" in c:
        return c.programme_id == programme_id
    if "team_id" in c:
        return c.team_id.in_(team_ids)
    parents = {
        "aim_measures": ("aim_id", "aims"),
        "pdsa_measures": ("pdsa_id", "pdsa_cycles"),
        "observation_edits": ("observation_id", "observations"),
        "reflection_disciplines": ("reflection_id", "reflections"),
        "skill_ratings": ("profile_id", "skill_profiles"),
    }
    if table.name not in parents:  # a new table must say how it belongs to a programme
        raise StoreError(
            f"The export does not know how table {table.name!r} belongs to a programme."
        )
    column, parent = parents[table.name]
    parent_ids = select(t[parent].c.id).where(t[parent].c.team_id.in_(team_ids))
    return c[column].in_(parent_ids)


#: Columns that name a person (their people are exported with the programme).
_PERSON_COLUMNS = ("person_id", "updated_by_id", "changed_by_id", "raised_by_id",
                   "responded_by_id", "author_id")  # fmt: skip


def _order(table: Table) -> list:
    return list(table.primary_key.columns)


# --- value encoding -------------------------------------------------------------------------------


def _kind(column) -> str:
    type_ = column.type
    if isinstance(type_, Boolean):
        return "bool"
    if isinstance(type_, Integer):
        return "int"
    if isinstance(type_, Float):
        return "float"
    if isinstance(type_, DateTime):
        return "datetime"
    if isinstance(type_, Date):
        return "date"
    return "str"


def _to_csv(value: Any) -> str:
    if value is None:
        return CSV_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise_formula(value)
    return str(value)


def _from_csv(text: str, kind: str) -> Any:
    if text == CSV_NULL:
        return None
    if kind == "str":
        return text.removeprefix("\\")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError("must be true or false")
        return text == "true"
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    raise AssertionError(kind)  # pragma: no cover


def _arrow_type(kind: str):
    import pyarrow as pa

    return {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us"),
        "str": pa.string(),
    }[kind]


# --- export ---------------------------------------------------------------------------------------


def export_programme(
    db: StoreLike,
    folder: str | os.PathLike,
    programme: ProgrammeRef = None,
    *,
    format: Format = "csv",
) -> TransferSummary:
    """Write a programme (None: the only one in the database) to ``folder``.

    One file per table (``teams.csv``, ``observations.csv``, ... or ``.parquet``) and
    ``manifest.json``. The folder is created if needed; existing export files are replaced.

    Examples
    --------
    >>> export_programme("qiwidgets.db", "falls-export", format="parquet")  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise StoreError(f"`format` must be one of 'csv', 'parquet', got {format!r}.")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the export folder {folder}: {exc.strerror}.") from exc
    engine = get_engine(db)
    with Reader(engine) as session:
        prog = find_programme(session, programme)
        summary = TransferSummary(folder, prog.code, format)
        manifest: dict[str, Any] = {
            "qiwidgets_export": EXPORT_FORMAT_VERSION,
            "schema_revision": head_revision(),
            "programme": prog.code,
            "format": format,
            "tables": {},
        }
        # One read transaction, so the files are a consistent snapshot.
        for table in _tables():
            columns = list(table.columns)
            stmt = (
                select(*columns).where(_programme_filter(table, prog.id)).order_by(*_order(table))
            )
            rows = session.execute(stmt).all()
            filename = f"{table.name}.{format}"
            if format == "csv":
                _write_csv(folder / filename, columns, rows)
            else:
                _write_parquet(folder / filename, columns, rows)
            summary.rows[table.name] = len(rows)
            manifest["tables"][table.name] = {
                "file": filename,
                "rows": len(rows),
                "columns": [c.name for c in columns],
            }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary


def _write_csv(path: Path, columns, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([c.name for c in columns])
        for row in rows:
            writer.writerow([_to_csv(v) for v in row])


def _write_parquet(path: Path, columns, rows) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, _arrow_type(_kind(c))) for c in columns])
    data = {c.name: [row[i] for row in rows] for i, c in enumerate(columns)}
    pq.write_table(pa.Table.from_pydict(data, schema=schema), path)


# --- import ---------------------------------------------------------------------------------------


def read_export(folder: str | os.PathLike) -> tuple[dict, dict[str, list[dict]]]:
    """The manifest and the rows of an export folder (checked, typed, nothing written)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise StoreError(f"{folder} is not a qiwidgets export: it has no {MANIFEST}.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{manifest_path} cannot be read: {exc}.") from exc
    if manifest.get("qiwidgets_export") != EXPORT_FORMAT_VERSION:
        raise StoreError(
            f"{manifest_path} is an export format this version of qiwidgets does not read "
            f"(format {manifest.get('qiwidgets_export')!r}, expected {EXPORT_FORMAT_VERSION})."
        )
    known = {t.name: t for t in _tables()}
    unknown = sorted(set(manifest.get("tables", {})) - set(known))
    if unknown:
        raise StoreError(
            f"The export holds tables this version of qiwidgets does not know: "
            f"{', '.join(unknown)}. Upgrade qiwidgets to import it."
        )
    data: dict[str, list[dict]] = {}
    for name, info in manifest["tables"].items():
        table = known[name]
        path = folder / info["file"]
        if not path.is_file():
            raise StoreError(f"The export is incomplete: {path} is missing.")
        extra = sorted(set(info["columns"]) - set(table.c.keys()))
        if extra:
            raise StoreError(
                f"{path} has columns this version of qiwidgets does not know: {', '.join(extra)}."
            )
        if path.suffix == ".csv":
            rows = _read_csv(path, table)
        else:
            rows = _read_parquet(path)
        if len(rows) != info["rows"]:
            raise StoreError(
                f"{path} holds {len(rows)} rows but the manifest says {info['rows']}: the export "
                "is damaged."
            )
        data[name] = rows
    return manifest, data


def _read_csv(path: Path, table: Table) -> list[dict]:
    kinds = {c.name: _kind(c) for c in table.columns}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise StoreError(f"{path} is empty: it should start with a header row.")
        out = []
        for line_no, values in enumerate(reader, start=2):
            if len(values) != len(header):
                raise StoreError(
                    f"{path}, row {line_no}: {len(values)} values for {len(header)} columns."
                )
            row = {}
            for name, text in zip(header, values, strict=True):
                try:
                    row[name] = _from_csv(text, kinds[name])
                except ValueError as exc:
                    raise StoreError(
                        f"{path}, row {line_no}, column {name}: {text!r} is not a valid "
                        f"{kinds[name]} ({exc})."
                    ) from exc
            out.append(row)
    return out


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise StoreError(f"{path} cannot be read as Parquet: {exc}.") from exc


def import_programme(db: StoreLike, folder: str | os.PathLike) -> TransferSummary:
    """Load an export folder into ``db`` (created or upgraded first) in one transaction.

    Refused, with nothing written, if the database already holds a programme with the same code
    or the folder is damaged. Ids are kept when they are free (always in an empty database) and
    shifted past the ids in use otherwise; links between records follow.
    """
    manifest, data = read_export(folder)
    engine = init_db(db)
    tables = [t for t in _tables() if t.name in data]

    def work(session: Session) -> TransferSummary:
        code = manifest["programme"]
        if session.scalar(select(m.Programme.id).where(m.Programme.code == code)) is not None:
            raise StoreError(
                f"The database already holds a programme {code!r}; nothing was imported."
            )
        offsets = {
            t.name: (session.scalar(select(func.coalesce(func.max(t.c.id), 0))) if "id" in t.c
                     else 0)
            for t in _tables()
        }  # fmt: skip
        summary = TransferSummary(Path(folder), code, manifest["format"])
        for table in tables:
            rows = [_shift(table, row, offsets) for row in data[table.name]]
            if table.name in ("driver_nodes", "fishbone_causes"):  # each refers to its own
                rows = _parents_first(rows)
            if rows:
                session.execute(insert(table), rows)
            summary.rows[table.name] = len(rows)
        if session.bind.dialect.name == "postgresql":
            _reset_sequences(session, tables)
        return summary

    return run_in_transaction(work, engine)


def _shift(table: Table, row: dict, offsets: dict[str, int]) -> dict:
    out = dict(row)
    if "id" in table.c and out.get("id") is not None:
        out["id"] += offsets[table.name]
    for column in table.columns:
        for fk in column.foreign_keys:
            value = out.get(column.name)
            if value is not None:
                out[column.name] = value + offsets[fk.column.table.name]
    return out


def _parents_first(rows: list[dict]) -> list[dict]:
    """Driver-diagram nodes (or fishbone causes) ordered so that a parent is inserted before
    its children."""
    by_id = {r["id"]: r for r in rows}
    done: set[int] = set()
    out: list[dict] = []

    def visit(row: dict, path: Iterable[int] = ()) -> None:
        if row["id"] in done:
            return
        parent = row.get("parent_id")
        if parent in by_id and parent not in path:
            visit(by_id[parent], (*path, row["id"]))
        done.add(row["id"])
        out.append(row)

    for row in rows:
        visit(row)
    return out


def _reset_sequences(session: Session, tables: list[Table]) -> None:
    """After inserting explicit ids, move PostgreSQL's id sequences past them."""
    for table in tables:
        if "id" not in table.c:
            continue
        next_id = select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()
        seq = func.pg_get_serial_sequence(table.name, "id")
        session.execute(select(func.setval(seq, next_id, False)))


def dump_tables(db: StoreLike, programme: ProgrammeRef = None) -> dict[str, list[tuple]]:
    """Every row of a programme, table by table, ordered by primary key (for comparisons)."""
    with Reader(db) as session:
        prog = find_programme(session, programme)
        return {
            t.name: [
                tuple(r)
                for r in session.execute(
                    select(*t.columns).where(_programme_filter(t, prog.id)).order_by(*_order(t))
                )
            ]
            for t in _tables()
        }


__all__ = [
    "FORMATS",
    "TransferSummary",
    "dump_tables",
    "export_programme",
    "import_programme",
    "read_export",
]
