"""The one way data points are written: a bulk upsert with edit history.

Every write of observations goes through :func:`write_observations`: a file import (a million
rows), the data entry grid (a few months of a team's measures), one data point saved from the
workbook (:func:`qiwidgets.store.repo.record_observation`) and the sample loader. It takes the
rows as columns (:class:`ObservationBatch`), already checked by the record rules
(:mod:`qiwidgets.store.schemas`), inside the caller's transaction, and

* inserts a new team x measure x period, and updates an existing one whose given fields differ
  (its ``version`` moves on); identical rows change nothing, so writing the same rows twice is
  a no-op;
* keeps each changed field in the edit history (old value, new value, when, the source, and
  who acts);
* writes only the fields the rows give (an import file without a ``data_quality`` column
  leaves each stored flag as it was);
* with ``seen_version`` (the version of each data point the person saw; 0: they saw none),
  refuses the whole write when any of them was entered or changed since
  (:class:`~qiwidgets.errors.StaleDataPointsError`);
* holds the teams' rows while it reads and writes (PostgreSQL; SQLite writes one transaction at
  a time), so that two writers to the same team run one after the other and the second sees
  the first one's versions.

It is built for a million rows: one int64 key a row finds duplicates and stored rows without a
hash table, stored rows are read and new ones written in batches of :data:`WRITE_BATCH_ROWS`,
and SQLite gets its rows straight through the driver (benchmarks/store_bench.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    bindparam,
    func,
    insert,
    literal_column,
    not_,
    select,
)
from sqlalchemy.orm import Session

from qiwidgets.errors import InvalidRecordError, StaleDataPointsError, StoreError
from qiwidgets.store import models as m
from qiwidgets.store.access import lock_teams, person_id
from qiwidgets.store.cells import MIN_DATE
from qiwidgets.store.lookup import measure_name, team_name
from qiwidgets.store.schemas import OBSERVATION_NUMBERS

#: Observation rows written per INSERT batch, and existing rows read per fetch (bounds memory).
WRITE_BATCH_ROWS = 20_000
#: From this many rows on, a SQLite write rebuilds the observations' secondary indexes once
#: instead of updating them row by row (twice as fast for a million rows), and checks the table's
#: CHECK constraints once over the table instead of once per row.
BULK_REBUILD_ROWS = 100_000
#: SQLite page cache for a large write, in KiB (the connection's own is restored afterwards).
#: Measured on the 1,000,000-row benchmark: 256 MiB made the import no faster (6.7 s of CPU
#: against 6.0-7.2 s with SQLite's default 2 MiB) and added ~180 MB to its peak memory.
BULK_CACHE_KIB = 8 * 1024
#: The fields of a data point a write may give, in the order of the edit history.
FIELDS = (*OBSERVATION_NUMBERS, "data_quality", "note")
#: Size of the edit history's old and new value columns (``observation_edits``).
EDIT_TEXT_LENGTH = m.ObservationEdit.__table__.c.old_value.type.length
#: Days from this date count the period in a row's key (every valid period is 0 to 2**16).
PERIOD_BASE = MIN_DATE.toordinal()
PERIOD_BITS = 17
_FLAGS = np.array(m.DATA_QUALITY_FLAGS, dtype=object)


@dataclass
class ObservationBatch:
    """Data points as columns, one entry a row, checked by the record rules.

    ``period`` holds day ordinals; ``numbers`` the given number fields (float64, NaN where
    empty); ``quality`` an index into :data:`~qiwidgets.store.models.DATA_QUALITY_FLAGS` per
    row; ``note`` text or None per row; ``seen_version`` the version of each data point the
    person saw (0: they saw none). A field left None (or out of ``numbers``) is not written.
    """

    team_id: np.ndarray
    measure_id: np.ndarray
    period: np.ndarray
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    quality: np.ndarray | None = None
    note: np.ndarray | None = None
    seen_version: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.period)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the rows give (written), in :data:`FIELDS` order."""
        given = set(self.numbers)
        if self.quality is not None:
            given.add("data_quality")
        if self.note is not None:
            given.add("note")
        return tuple(f for f in FIELDS if f in given)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        fields: Sequence[str] = FIELDS[:4],
        seen_versions: Sequence[int | None] | None = None,
    ) -> ObservationBatch:
        """A batch from dicts with ``team_id``, ``measure_id``, ``period`` (a date) and the
        ``fields`` (a missing or None number is empty; a missing ``data_quality`` is ``ok``).
        ``seen_versions``: the version each one's person saw (None: they saw no data point)."""
        rows = list(records)
        numbers = {
            f: np.array([_float(r.get(f)) for r in rows], np.float64)
            for f in OBSERVATION_NUMBERS if f in fields
        }  # fmt: skip
        quality = None
        if "data_quality" in fields:
            quality = np.array([m.DATA_QUALITY_FLAGS.index(r.get("data_quality") or "ok")
                                for r in rows], np.int8)  # fmt: skip
        note = None
        if "note" in fields:
            note = np.array([r.get("note") or None for r in rows] or [], dtype=object)
        seen = None
        if seen_versions is not None:
            seen = np.array([int(v or 0) for v in seen_versions], np.int64)
        return cls(
            team_id=np.array([int(r["team_id"]) for r in rows], np.int64),
            measure_id=np.array([int(r["measure_id"]) for r in rows], np.int64),
            period=np.array([_as_date(r["period"]).toordinal() for r in rows], np.int32),
            numbers=numbers,
            quality=quality,
            note=note,
            seen_version=seen,
        )


def _float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        if pd.isna(v):
            return math.nan
    except (TypeError, ValueError):
        pass
    return float(v)


@dataclass(frozen=True)
class UpsertSummary:
    """What a write did: rows ``inserted``, ``updated`` and ``unchanged``, and how many changed
    values went into the edit history (``edits``)."""

    inserted: int
    updated: int
    unchanged: int
    edits: int = field(default=0, compare=False)

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


class ObservationKeys:
    """One int64 key a row for team x measure x period, and the rows in key order.

    Teams and measures are numbered densely (their ids in order), so that a key holds them and
    the period in 63 bits; sorted keys find duplicates and existing rows without a hash table.
    """

    def __init__(self, team_ids: np.ndarray, measure_ids: np.ndarray, period: np.ndarray):
        self.teams = np.unique(team_ids)
        self.measures = np.unique(measure_ids)
        self.measure_bits = max(1, len(self.measures).bit_length())
        if len(self.teams).bit_length() + self.measure_bits + PERIOD_BITS > 63:
            raise StoreError("The data refer to too many teams and measures to be written at once.")
        keys = self._pack(
            np.searchsorted(self.teams, team_ids),
            np.searchsorted(self.measures, measure_ids),
            period,
        )
        order = np.argsort(keys, kind="stable")
        self.sorted = keys[order]
        del keys
        self.order = order.astype(np.int32) if len(order) < 2**31 else order

    def _pack(self, t: np.ndarray, m_: np.ndarray, period: np.ndarray) -> np.ndarray:
        """The keys of rows with dense team and measure numbers ``t`` and ``m_`` (both arrays
        are reused: the key is built in place, one array of 8 bytes a row)."""
        keys = t.astype(np.int64, copy=False)
        keys <<= self.measure_bits + PERIOD_BITS
        m_ = m_.astype(np.int64, copy=False)
        m_ <<= PERIOD_BITS
        keys |= m_
        del m_
        keys += period  # the low bits are zero: adding is or-ing, and the offset comes off next
        keys -= PERIOD_BASE
        return keys

    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose key an earlier row has (by position), and that earlier row for each."""
        if not len(self.sorted):
            empty = np.empty(0, np.int64)
            return empty, empty
        same = self.sorted[1:] == self.sorted[:-1]
        if not same.any():
            empty = np.empty(0, np.int64)
            return empty, empty
        first = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(len(same) + 1), 0))
        later = np.flatnonzero(np.r_[False, same])
        return self.order[later], self.order[first[later]]

    def find(self, team_ids, measure_ids, ordinals) -> tuple[np.ndarray, np.ndarray]:
        """For rows of the database: which of them are rows of the batch, and which row each is."""
        t = np.searchsorted(self.teams, team_ids)
        m_ = np.searchsorted(self.measures, measure_ids)
        ok = (t < len(self.teams)) & (m_ < len(self.measures))
        t, m_ = np.minimum(t, len(self.teams) - 1), np.minimum(m_, len(self.measures) - 1)
        ok &= (self.teams[t] == team_ids) & (self.measures[m_] == measure_ids)
        keys = self._pack(t, m_, ordinals)
        pos = np.minimum(np.searchsorted(self.sorted, keys), len(self.sorted) - 1)
        ok &= self.sorted[pos] == keys
        return ok, self.order[pos[ok]]


# --- the write --------------------------------------------------------------------------------------


def write_observations(
    session: Session,
    batch: ObservationBatch,
    *,
    source: str | None,
    keys: ObservationKeys | None = None,
) -> UpsertSummary:
    """Insert or update the rows of ``batch`` inside the caller's transaction (see the module).

    ``keys``: the batch's keys, when the caller has built them already (an import, to report
    duplicates by row). Duplicate team x measure x period keys are refused; a row whose
    ``seen_version`` is out of date refuses the whole write.
    """
    n = len(batch)
    if n == 0:
        return UpsertSummary(0, 0, 0)
    keys = keys or ObservationKeys(batch.team_id, batch.measure_id, batch.period)
    later, _ = keys.duplicates()
    if len(later):
        row = int(later[0])
        raise InvalidRecordError(
            f"The data were not saved: team {int(batch.team_id[row])}, measure "
            f"{int(batch.measure_id[row])}, period {dt.date.fromordinal(int(batch.period[row]))} "
            "appears twice.",
            [("period", "duplicate team x measure x period")],
        )
    lock_teams(session, keys.teams.tolist())
    fields = batch.fields
    existing = np.full(n, -1, np.int64)
    version = np.zeros(n, np.int64) if batch.seen_version is not None else None
    changed = np.zeros(n, bool)
    edits: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    columns = ["id", "team_id", "measure_id", "period", *fields]
    if version is not None:
        columns.append("version")
    for chunk in _stored(session, keys.teams, keys.measures, columns):
        ids, t_ids, m_ids, periods = (np.asarray(c) for c in chunk[:4])
        found, index = keys.find(t_ids.astype(np.int64), m_ids.astype(np.int64),
                                 _ordinals(periods))  # fmt: skip
        if not found.any():
            continue
        ids = ids[found].astype(np.int64)
        existing[index] = ids
        if version is not None:
            version[index] = np.asarray(chunk[-1], np.int64)[found]
        for position, name in enumerate(fields, start=4):
            old, new, differs = _compare(name, chunk[position], found, batch, index)
            if differs.any():
                changed[index[differs]] = True
                edits.append((name, ids[differs], old[differs], new[differs]))
    is_new = existing < 0
    if batch.seen_version is not None:
        _refuse_stale(session, batch, is_new, version)
    now = m.utcnow()
    who = person_id(session)
    conn = session.connection()
    write = is_new | changed
    order = keys.order[write[keys.order]]  # the rows to write, in key order
    _upsert(conn, batch, order, fields, source, now, who)
    n_edits = _write_edits(conn, edits, source, now, who)
    inserted, updated = int(is_new.sum()), int(changed.sum())
    return UpsertSummary(inserted, updated, n - inserted - updated, n_edits)


def _compare(name, column, found, batch: ObservationBatch, index):
    """Stored and new values of field ``name`` for the rows found, and where they differ."""
    if name == "data_quality":
        old = np.asarray(column, dtype=object)[found]
        new = _FLAGS[batch.quality[index]]
        return old, new, old != new
    if name == "note":
        old = np.asarray(column, dtype=object)[found]
        new = batch.note[index]
        return old, new, old != new
    old = np.array(column, dtype=float)[found]  # None -> nan
    new = batch.numbers[name][index]
    return old, new, ~((old == new) | (np.isnan(old) & np.isnan(new)))


def _refuse_stale(session: Session, batch: ObservationBatch, is_new, version) -> None:
    """Refuse the write when a data point was entered or changed since the person saw it."""
    seen = batch.seen_version
    stale = np.where(is_new, seen != 0, version != seen)
    if not stale.any():
        return
    rows = np.flatnonzero(stale).tolist()
    points = [(int(batch.team_id[i]), int(batch.measure_id[i]),
               dt.date.fromordinal(int(batch.period[i]))) for i in rows]  # fmt: skip
    names = [f"{team_name(session, t)}, {measure_name(session, mid)}, {p.isoformat()}"
             for t, mid, p in points]  # fmt: skip
    gone = [i for i in rows if is_new[i]]
    if len(points) == 1:
        what = f"this data point ({names[0]})"
    else:
        what = f"these {len(points)} data points ({'; '.join(names[:5])}"
        what += f" and {len(points) - 5} more)" if len(points) > 5 else ")"
    verb = "removed" if len(gone) == len(rows) else "changed"
    raise StaleDataPointsError(
        f"Someone else {verb} {what} since you opened it. Nothing was saved, so nothing of "
        "theirs was overwritten: reload to see their values, then apply your change again.",
        points,
    )


def _text(value: Any) -> str | None:
    """How a value is written into the edit history."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if len(text) <= EDIT_TEXT_LENGTH else text[: EDIT_TEXT_LENGTH - 1] + "…"


def _write_edits(conn, edits, source, now, who) -> int:
    if not edits:
        return 0
    table = m.ObservationEdit.__table__
    names = ["observation_id", "field", "old_value", "new_value", "changed_at", "source"]
    if who is not None:
        names.append("changed_by_id")
    stmt = insert(table).values({c: bindparam(c) for c in names})
    n_edits = 0
    for name, ids, olds, news in edits:
        for start in range(0, len(ids), WRITE_BATCH_ROWS):
            part = slice(start, start + WRITE_BATCH_ROWS)
            k = len(ids[part])
            data = {
                "observation_id": ids[part].tolist(),
                "field": [name] * k,
                "old_value": [_text(v) for v in olds[part].tolist()],
                "new_value": [_text(v) for v in news[part].tolist()],
                "changed_at": [now] * k,
                "source": [source] * k,
            }
            if who is not None:
                data["changed_by_id"] = [who] * k
            executemany(conn, stmt, table, data)
            n_edits += k
    return n_edits


def _ordinals(periods: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(periods)
    return np.array([_as_date(d).toordinal() for d in uniques], np.int64)[codes]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _stored(session, team_ids: np.ndarray, measure_ids: np.ndarray,
            columns: list[str]) -> Iterator[list[tuple]]:  # fmt: skip
    """The stored observations of these teams and measures, in batches of ``columns``."""
    t = m.Observation.__table__
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


def _upsert(conn, batch: ObservationBatch, order: np.ndarray, fields, source, now,
            who) -> None:  # fmt: skip
    """INSERT ... ON CONFLICT (team, measure, period) DO UPDATE for the rows ``order`` (new and
    changed ones, in key order), a batch at a time."""
    if not len(order):
        return
    table = m.Observation.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    names = ["team_id", "measure_id", "period", *OBSERVATION_NUMBERS, "data_quality", "source",
             "version", "created_at", "updated_at"]  # fmt: skip
    if "note" in fields:
        names.append("note")
    if who is not None:
        names.append("updated_by_id")
    stmt = dialect_insert(table).values({name: bindparam(name) for name in names})
    updates = {name: stmt.excluded[name] for name in fields}
    updates.update(
        source=stmt.excluded.source,
        updated_at=stmt.excluded.updated_at,
        version=table.c.version + literal_column("1"),
    )
    if who is not None:
        updates["updated_by_id"] = stmt.excluded.updated_by_id
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.team_id, table.c.measure_id, table.c.period], set_=updates
    )

    def floats(name, index):
        if name not in fields:
            return [None] * len(index)
        a = batch.numbers[name][index]
        out = a.astype(object)
        out[np.isnan(a)] = None
        return out.tolist()

    with bulk_load(conn, table, len(order)):
        for start in range(0, len(order), WRITE_BATCH_ROWS):
            index = order[start : start + WRITE_BATCH_ROWS]
            k = len(index)
            ordinals, inverse = np.unique(batch.period[index], return_inverse=True)
            dates = np.array([dt.date.fromordinal(int(o)) for o in ordinals.tolist()], object)
            data = {
                "team_id": batch.team_id[index].tolist(),
                "measure_id": batch.measure_id[index].tolist(),
                "period": dates[inverse].tolist(),
                "numerator": floats("numerator", index),
                "denominator": floats("denominator", index),
                "value": floats("value", index),
                "data_quality": (
                    _FLAGS[batch.quality[index]].tolist()
                    if "data_quality" in fields
                    else ["ok"] * k
                ),
                "source": [source] * k,
                "version": [1] * k,
                "created_at": [now] * k,
                "updated_at": [now] * k,
            }
            if "note" in fields:
                data["note"] = batch.note[index].tolist()
            if who is not None:
                data["updated_by_id"] = [who] * k
            executemany(conn, stmt, table, data)


@contextlib.contextmanager
def bulk_load(conn, table, n_rows: int):
    """On SQLite, for a large load: a bigger page cache; the table's non-unique indexes dropped
    and created again afterwards; and its CHECK constraints verified in one pass over the table
    after the rows are written, rather than row by row (SQLite spends ~7 µs per row on them, as
    long as the rest of the insert). All inside the caller's transaction: a failure anywhere, a
    broken rule included, leaves the table and its indexes exactly as they were. Other
    databases, and fewer than :data:`BULK_REBUILD_ROWS` rows: nothing changes."""
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
        verify_checks(conn, table)
        for index in secondary:
            index.create(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def verify_checks(conn, table) -> None:
    """Raise StoreError when a row of ``table`` breaks one of its CHECK constraints: one pass
    over the table, with the SQL of the model's own constraint definitions (what the database
    would have run per row)."""
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


def executemany(conn, stmt, table, data: dict[str, list]) -> None:
    """Run ``stmt`` once per row of ``data`` (column of ``table`` -> values), in batches.

    On SQLite the compiled statement goes straight to the driver's ``executemany`` with
    positional rows, each distinct date or timestamp converted once by its column's bind
    processor: SQLAlchemy's per-row parameter handling would triple the time of a
    million-row import. Elsewhere the normal SQLAlchemy executemany is used. The SQL comes from
    SQLAlchemy constructs, never from what was typed.
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


__all__ = ["BULK_CACHE_KIB", "BULK_REBUILD_ROWS", "FIELDS", "WRITE_BATCH_ROWS",
           "ObservationBatch", "ObservationKeys", "UpsertSummary", "bulk_load", "executemany",
           "verify_checks", "write_observations"]  # fmt: skip
