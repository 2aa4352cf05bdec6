"""A team's data: read as tidy tables, with their edit history; entered or corrected through the
one observation write path (:mod:`qiwidgets.store.observation_writes`), checked by the record
rules (:mod:`qiwidgets.store.schemas`) and by whoever acts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError
from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from qiwidgets.errors import (
    InvalidDataPointsError,
    NotFoundError,
    StaleDataPointsError,
)
from qiwidgets.store import lookup
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader, may, may_programme
from qiwidgets.store.db import StoreLike, get_engine, run_in_transaction
from qiwidgets.store.lookup import MeasureRef, ProgrammeRef, TeamRef
from qiwidgets.store.observation_writes import (
    FIELDS,
    ObservationBatch,
    UpsertSummary,
    write_observations,
)
from qiwidgets.store.records import check_in_family, need, stale
from qiwidgets.store.schemas import (
    ObservationIn,
    check_observations,
    first_field,
    invalid,
    plain_problems,
    validate,
)

#: The ``source`` written into the edit history when a value is changed from the workbook.
WORKBOOK_SOURCE = "workbook"

#: Columns of the tidy observations table :func:`observations` returns.
OBSERVATION_COLUMNS = [
    "team", "measure", "period", "numerator", "denominator", "value", "data_quality",
    "source", "team_id", "measure_id", "id", "version",
]  # fmt: skip
#: Fields of an observation whose changes go into the edit history.
OBSERVATION_DATA_FIELDS = ("numerator", "denominator", "value", "data_quality")


def observations(
    db: StoreLike,
    team: TeamRef | None = None,
    measure: MeasureRef | None = None,
    programme: ProgrammeRef = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Observations as a tidy DataFrame, one row per team x measure x period, sorted.

    Give ``team`` for one team's data (every measure of its family, or one ``measure``), or
    ``measure`` alone for every team of the programme (funnel plots, small multiples).
    ``team`` and ``measure`` columns hold codes; ``period`` is a datetime64 column.
    """
    engine = get_engine(db)
    sqlite = engine.dialect.name == "sqlite"
    with Reader(db) as session:
        stmt = (
            select(
                m.Team.code,
                m.Measure.code,
                # SQLite keeps dates as ISO text: read it as text and convert the column at
                # once below, rather than through a date object per row
                type_coerce(m.Observation.period, String) if sqlite else m.Observation.period,
                m.Observation.numerator,
                m.Observation.denominator,
                m.Observation.value,
                m.Observation.data_quality,
                m.Observation.source,
                m.Observation.team_id,
                m.Observation.measure_id,
                m.Observation.id,
                m.Observation.version,
            )
            .join(m.Team, m.Team.id == m.Observation.team_id)
            .join(m.Measure, m.Measure.id == m.Observation.measure_id)
        )
        t = None
        if team is not None:
            t = lookup.team(session, team, programme)
            stmt = stmt.where(m.Observation.team_id == t.id)
        if measure is not None:
            stmt = stmt.where(
                m.Observation.measure_id == lookup.measure(session, measure, t, programme).id
            )
        elif team is None:
            p = lookup.programme(session, programme)
            may_programme(session, p.id, write=False)
            stmt = stmt.where(m.Team.programme_id == p.id)
        if team is None and measure is not None:  # every team's values of one measure
            may_programme(session, lookup.measure(session, measure, None, programme).programme_id,
                           write=False)  # fmt: skip
        if start is not None:
            stmt = stmt.where(m.Observation.period >= start)
        if end is not None:
            stmt = stmt.where(m.Observation.period <= end)
        stmt = stmt.order_by(m.Team.code, m.Measure.code, m.Observation.period)
        # plain rows through the Core connection, turned into columns at once: the ORM's row
        # objects and pandas' per-row record probing cost more than the query itself
        rows = session.connection().execute(stmt).fetchall()
    columns = list(zip(*rows)) if rows else [()] * len(OBSERVATION_COLUMNS)
    frame = pd.DataFrame({name: list(col) for name, col in zip(OBSERVATION_COLUMNS, columns)})
    if sqlite:  # ISO text -> the same second-resolution dates pandas makes from date objects
        frame["period"] = pd.to_datetime(frame["period"], format="%Y-%m-%d").astype("datetime64[s]")
    else:
        frame["period"] = pd.to_datetime(frame["period"])
    for col in ("numerator", "denominator", "value"):
        frame[col] = frame[col].astype("float64")
    return frame


def get_observation(db: StoreLike, id: int) -> m.Observation:
    """One observation by id."""
    with Reader(db) as session:
        record = session.get(m.Observation, id)
        if record is None:
            raise NotFoundError(f"There is no data point with id {id}.")
        may(session, record, write=False)
        return record


def observation_history(
    db: StoreLike, team: TeamRef, measure: MeasureRef | None = None, programme: ProgrammeRef = None
) -> pd.DataFrame:
    """The edit history of a team's data: every changed value, oldest first.

    Columns: ``measure``, ``period``, ``field``, ``old_value``, ``new_value``, ``changed_at``,
    ``source``, ``observation_id``.
    """
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = (
            select(
                m.Measure.code,
                m.Observation.period,
                m.ObservationEdit.field,
                m.ObservationEdit.old_value,
                m.ObservationEdit.new_value,
                m.ObservationEdit.changed_at,
                m.ObservationEdit.source,
                m.ObservationEdit.observation_id,
            )
            .join(m.Observation, m.Observation.id == m.ObservationEdit.observation_id)
            .join(m.Measure, m.Measure.id == m.Observation.measure_id)
            .where(m.Observation.team_id == t.id)
            .order_by(m.ObservationEdit.changed_at, m.ObservationEdit.id)
        )
        if measure is not None:
            stmt = stmt.where(m.Observation.measure_id == lookup.measure(session, measure, t).id)
        rows = session.execute(stmt).all()
    cols = [
        "measure",
        "period",
        "field",
        "old_value",
        "new_value",
        "changed_at",
        "source",
        "observation_id",
    ]
    return pd.DataFrame.from_records(rows, columns=cols)


def list_observations(
    db: StoreLike,
    team: TeamRef,
    programme: ProgrammeRef = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[m.Observation]:
    """A team's data points (every measure of its family) from ``start`` to ``end``, as records
    with their ``note`` and ``version`` (what the data entry grid shows and saves against)."""
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = select(m.Observation).where(m.Observation.team_id == t.id)
        if start is not None:
            stmt = stmt.where(m.Observation.period >= start)
        if end is not None:
            stmt = stmt.where(m.Observation.period <= end)
        return list(session.scalars(stmt.order_by(m.Observation.measure_id,
                                                  m.Observation.period)))  # fmt: skip


def upsert_observations(
    session: Session, rows: Iterable[Mapping[str, Any]], *, source: str | None
) -> UpsertSummary:
    """Insert or update observation rows inside the caller's transaction, through the one
    observation write path (:func:`~qiwidgets.store.observation_writes.write_observations`).

    ``rows`` hold ``team_id``, ``measure_id``, ``period`` (a date), ``numerator``,
    ``denominator``, ``value`` and optionally ``data_quality`` (default ``ok``); check them
    first (:class:`~qiwidgets.store.schemas.ObservationIn` and
    :func:`~qiwidgets.store.schemas.check_observations` state the rules). A new team x measure
    x period is inserted; an existing one whose values differ is updated, its version moves on,
    and each changed field is written to the edit history; an identical row changes nothing.
    Duplicate team x measure x period keys in ``rows`` are refused.
    """
    batch = ObservationBatch.from_records(rows, fields=FIELDS[:4])
    return write_observations(session, batch, source=source)


def record_observation(
    db: StoreLike,
    data: Mapping[str, Any] | ObservationIn,
    *,
    version: int | None = None,
) -> m.Observation:
    """Enter or correct one data point from the workbook (``ObservationIn`` fields).

    ``version`` is the version of the data point the user saw, or None if the cell was empty.
    If someone else entered or changed it since, StaleEditError is raised and nothing changes.
    A correction keeps the old values in the edit history. ``note`` is written when given.
    """
    given = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else dict(data)
    values = validate(ObservationIn, given, "data point")

    def work(session: Session):
        team = need(session, m.Team, values.team_id, "data point", "team_id")
        may(session, team, write=True)
        check_in_family(session, "data point", team, [values.measure_id], "measure_id")
        measure = session.get(m.Measure, values.measure_id)
        broken = check_observations([values], {measure.id: measure})
        if broken:
            _, field, message = broken[0]
            raise invalid("data point", field, message)
        fields = FIELDS if "note" in given else FIELDS[:4]
        batch = ObservationBatch.from_records([values.model_dump()], fields=fields,
                                              seen_versions=[version])  # fmt: skip
        try:
            write_observations(session, batch, source=values.source or WORKBOOK_SOURCE)
        except StaleDataPointsError:
            record = _stored(session, values)
            if record is None:
                raise NotFoundError(
                    "This data point no longer exists: someone may have deleted it. Reload to "
                    "see the current data."
                ) from None
            raise stale(session, record) from None
        return _stored(session, values)

    return run_in_transaction(work, db)


def _stored(session: Session, values: ObservationIn) -> m.Observation | None:
    return session.scalar(
        select(m.Observation)
        .where(
            m.Observation.team_id == values.team_id,
            m.Observation.measure_id == values.measure_id,
            m.Observation.period == values.period,
        )
        .execution_options(populate_existing=True)
    )


def period_label(measure: Any, period: dt.date) -> str:
    """A period as a person names it: ``March 2026`` for a monthly measure, else the date."""
    if (getattr(measure, "frequency", None) or "monthly") == "monthly" and period.day == 1:
        return f"{period:%B %Y}"
    return period.isoformat()


def save_observations(
    db: StoreLike,
    team: TeamRef,
    points: Sequence[Mapping[str, Any]],
    *,
    seen_versions: Sequence[int | None],
    source: str | None = None,
) -> UpsertSummary:
    """Save several data points of one team at once, all or nothing (the data entry grid).

    Each of ``points`` holds ``measure_id``, ``period`` and the fields of ``ObservationIn``
    (``numerator``, ``denominator``, ``value``, ``data_quality``, ``note``), as values or as
    the text typed (read as an import file's cells are); ``seen_versions[i]`` is the version of
    that data point the person saw (None: the cell was empty). Every point is checked by the
    record rules and its measure's rules, and whoever acts must be allowed to change the team.

    Raises
    ------
    InvalidDataPointsError
        some points break a rule; ``cells`` lists each (index, field, message), and the
        message names the measure, the month and the field. Nothing is saved.
    StaleDataPointsError
        someone else entered or changed one of them since it was read; nothing is saved.
    """
    if len(seen_versions) != len(points):
        raise ValueError("`seen_versions` must give one version for each of `points`.")

    def work(session: Session) -> UpsertSummary:
        t = lookup.team(session, team)
        may(session, t, write=True)
        family = {x.id: x for x in session.scalars(select(m.Measure).where(
            lookup.family_filter(t)))}  # fmt: skip
        problems: list[tuple[int, str, str]] = []
        records: list[tuple[int, ObservationIn]] = []
        for i, point in enumerate(points):
            data = {**point, "team_id": t.id}
            measure = family.get(data.get("measure_id"))
            if measure is None:
                said = f"`measure_id` {data.get('measure_id')!r} is not in {t.name}'s family"
                problems.append((i, "measure_id", f"{said} of measures."))
                continue
            try:
                records.append((i, ObservationIn.model_validate(data)))
            except ValidationError as exc:
                problems += [(i, field or first_field(message) or "", message)
                             for field, message in plain_problems(exc)]  # fmt: skip
        broken = check_observations([r for _, r in records], family)
        problems += [(records[j][0], field, message) for j, field, message in broken]
        if problems:
            problems.sort(key=lambda p: p[0])
            lines = [f"- {_label(points[i], family)}: {message}" for i, _, message in problems]
            raise InvalidDataPointsError(
                "The data were not saved (nothing was):\n" + "\n".join(lines), problems
            )
        batch = ObservationBatch.from_records(
            [r.model_dump() for _, r in records], fields=FIELDS,
            seen_versions=[seen_versions[i] for i, _ in records],
        )  # fmt: skip
        return write_observations(session, batch, source=source or WORKBOOK_SOURCE)

    return run_in_transaction(work, db)


def _label(point: Mapping[str, Any], family: Mapping[int, Any]) -> str:
    measure = family.get(point.get("measure_id"))
    name = measure.name if measure is not None else f"measure {point.get('measure_id')}"
    period = point.get("period")
    if isinstance(period, dt.date):
        return f"{name}, {period_label(measure, period)}"
    return f"{name}, {period}"


__all__ = ["OBSERVATION_COLUMNS", "OBSERVATION_DATA_FIELDS", "WORKBOOK_SOURCE", "UpsertSummary",
           "get_observation", "list_observations", "observation_history", "observations",
           "period_label", "record_observation", "save_observations",
           "upsert_observations"]  # fmt: skip
