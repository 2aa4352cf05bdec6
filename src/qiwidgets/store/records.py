"""Saving one record: create, or change at the version the user read; delete; check links.

``save`` creates a record when ``id`` is None, and otherwise changes the record ``id``, but
only if it is still at the ``version`` the user read. If someone else saved it in the meantime,
:class:`~qiwidgets.errors.StaleEditError` is raised and nothing is written: an edit is never
silently saved over a colleague's. On update only the fields given change. The record is
checked by its rules (:mod:`qiwidgets.store.schemas`), by whoever acts
(:mod:`qiwidgets.store.access`), and signed with the person saving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from qiwidgets.errors import InvalidRecordError, NotFoundError, StaleEditError, StoreError
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader, actor, may, may_programme, signed
from qiwidgets.store.db import StoreLike, run_in_transaction
from qiwidgets.store.lookup import measure_name, short, team_name
from qiwidgets.store.schemas import Record as RecordIn
from qiwidgets.store.schemas import invalid, validate

Record = TypeVar("Record", bound=m.Base)


# --- labels for messages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How messages name a kind of record."""

    noun: str  # "reflection"
    textual: bool  # "Your text" rather than "Your change"
    label: Callable[[Session, Any], str]  # the context in brackets


KINDS: dict[type, Kind] = {
    m.Programme: Kind("programme", False, lambda s, r: r.name),
    m.Team: Kind("team", False, lambda s, r: r.name),
    m.Measure: Kind(
        "measure definition",
        True,
        lambda s, r: f"{team_name(s, r.team_id) if r.team_id else 'shared'}, {r.name}",
    ),
    m.Aim: Kind("aim", True, lambda s, r: team_name(s, r.team_id)),
    m.DriverNode: Kind(
        "driver diagram entry", True, lambda s, r: f"{team_name(s, r.team_id)}, {short(r.text)}"
    ),
    m.PDSACycle: Kind(
        "PDSA cycle", True, lambda s, r: f"{team_name(s, r.team_id)}, {short(r.title)}"
    ),
    m.Annotation: Kind(
        "annotation", True, lambda s, r: f"{team_name(s, r.team_id)}, {r.date.isoformat()}"
    ),
    m.Reflection: Kind(
        "reflection", True, lambda s, r: f"{team_name(s, r.team_id)}, {r.date.isoformat()}"
    ),
    m.ProgressScore: Kind(
        "progress score", False, lambda s, r: f"{team_name(s, r.team_id)}, {r.month:%Y-%m}"
    ),
    m.HealthCheck: Kind(
        "health check",
        False,
        lambda s, r: (
            f"{team_name(s, r.team_id)}, {r.period.isoformat()}, {r.component.replace('_', ' ')}"
        ),
    ),
    m.Observation: Kind(
        "data point",
        False,
        lambda s, r: (
            f"{team_name(s, r.team_id)}, {measure_name(s, r.measure_id)}, {r.period.isoformat()}"
        ),
    ),
}


def stale_message(noun: str, context: str, textual: bool = True) -> str:
    """The message shown when an edit is refused because someone else saved first."""
    yours = "Your text has" if textual else "Your change has"
    return (
        f"Someone else changed this {noun} ({context}) since you opened it. {yours} not been "
        "saved over theirs: reload to see their version, then apply your change again."
    )


def stale(session: Session, record: Any) -> StaleEditError:
    """The StaleEditError for ``record``, naming it."""
    kind = KINDS[type(record)]
    return StaleEditError(stale_message(kind.noun, kind.label(session, record), kind.textual))


# --- generic create / update / delete -----------------------------------------------------------


def load_for_update(session: Session, model: type[Record], id: int, version: int | None) -> Record:
    """The record ``id``, if it is still at ``version``; else NotFoundError or StaleEditError."""
    kind = KINDS[model]
    record = session.get(model, id, populate_existing=True)
    if record is None:
        raise NotFoundError(
            f"This {kind.noun} (id {id}) no longer exists: someone may have deleted it. "
            "Reload to see the current records."
        )
    if version is None:
        raise InvalidRecordError(
            f"`version` is required to change an existing {kind.noun}: pass the version you "
            "read, so that a colleague's change is never overwritten.",
            [("version", "is required")],
        )
    if record.version != version:
        raise stale(session, record)
    return record


def flush(session: Session, record: Any) -> None:
    """Write what is pending; a version that moved on meanwhile is a StaleEditError."""
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise stale(session, record) from None


def _current_values(record: Any, schema: type[RecordIn]) -> dict[str, Any]:
    return {f: getattr(record, f) for f in schema.model_fields if hasattr(record, f)}


def save(
    db: StoreLike,
    model: type[Record],
    schema: type[RecordIn],
    data: Mapping[str, Any] | BaseModel,
    id: int | None,
    version: int | None,
    check: Callable[[Session, Any, Any | None], None] | None = None,
    links: Callable[[Session, Any, Any], None] | None = None,
    load: tuple = (),
) -> Record:
    """Create (``id`` None) or change a record of ``model`` from ``data``, checked by ``schema``
    and by ``check(session, values, record)``; ``links`` sets its many-to-many links; the
    relationships named in ``load`` are loaded for reading after the session closes."""
    what = KINDS[model].noun
    given = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else dict(data)

    def work(session: Session):
        if id is None:
            values = validate(schema, given, what)
            record = None
        else:
            record = load_for_update(session, model, id, version)
            may(session, record, write=True)  # where it was
            current = _current_values(record, schema)
            current.update(_link_ids(record))
            values = validate(schema, {**current, **given}, what)
        _may_save(session, model, values)  # where it goes
        if check is not None:
            check(session, values, record)
        columns = {k: v for k, v in values.model_dump().items() if k in model.__table__.c}
        if record is None:
            record = model(**columns)
            session.add(record)
        else:
            for key, value in columns.items():
                if getattr(record, key) != value:
                    setattr(record, key, value)
        if links is not None:
            with session.no_autoflush:
                links(session, record, values)
        signed(session, record)
        flush(session, record)
        for attr in load:  # make the links readable after the session closes
            getattr(record, attr)
        return record

    return run_in_transaction(work, db)


def _may_save(session: Session, model: type, values: BaseModel) -> None:
    """Refuse a save whoever acts may not make: into a team they may not change, or a
    programme-wide record without a programme lead's role."""
    if actor(session) is None:
        return
    if model is m.Programme:
        may_programme(session, getattr(values, "id", None), write=True)
        return
    if model is m.Team:
        may_programme(session, values.programme_id, write=True)
        return
    team_id = getattr(values, "team_id", None)
    if team_id is not None:
        team = session.get(m.Team, team_id)
        if team is not None:
            may(session, team, write=True)
        return
    may_programme(session, getattr(values, "programme_id", None), write=True)


def set_links(session: Session, record: Any, attr: str, ids: Iterable[int]) -> None:
    """Point ``record.<attr>`` at the measures ``ids``; a change counts as an edit."""
    wanted = sorted(set(ids))
    if sa_inspect(record).pending:
        setattr(record, attr, [session.get(m.Measure, i) for i in wanted])
        return
    if sorted(x.id for x in getattr(record, attr)) != wanted:
        setattr(record, attr, [session.get(m.Measure, i) for i in wanted])
        record.updated_at = m.utcnow()  # an UPDATE of the row, so the version moves on


def _link_ids(record: Any) -> dict[str, list[int]]:
    if isinstance(record, m.Aim):
        return {"outcome_measure_ids": [x.id for x in record.outcome_measures]}
    if isinstance(record, m.PDSACycle):
        return {"measure_ids": [x.id for x in record.measures]}
    return {}


def delete_record(db: StoreLike, model: type[m.Base], id: int, *, version: int) -> None:
    """Delete one record (an annotation, a reflection, ...) at the ``version`` the user read.

    Raises StaleEditError if it changed since, NotFoundError if it is gone, and StoreError if
    other records still refer to it (a driver with change ideas, a measure with data, ...).
    """
    if model not in KINDS:
        raise StoreError(f"`model` must be one of the store's record types, got {model!r}.")

    def work(session: Session):
        record = load_for_update(session, model, id, version)
        may(session, record, write=True)
        session.delete(record)
        try:
            flush(session, record)
        except IntegrityError as exc:
            raise StoreError(
                f"This {KINDS[model].noun} cannot be deleted: other records still refer to it "
                "(for example change ideas under a driver, or data for a measure)."
            ) from exc

    run_in_transaction(work, db)


def get(db: StoreLike, model: type[Record], id: int) -> Record:
    """One record by id, if whoever acts may read it."""
    with Reader(db) as session:
        record = session.get(model, id)
        if record is None:
            raise NotFoundError(f"There is no {KINDS[model].noun} with id {id}.")
        may(session, record, write=False)
        return record


# --- checks across records ----------------------------------------------------------------------


def need(session: Session, model: type[Record], id: int | None, what: str, field: str) -> Record:
    """The record ``id`` that a ``what`` refers to in ``field``; refused when it does not exist."""
    record = session.get(model, id) if id is not None else None
    if record is None:
        raise invalid(what, field, f"`{field}` {id!r} does not exist.")
    return record


def check_team_in_programme(session, what, programme_id, team_id) -> None:
    """The programme exists, and the team (if any) is one of its teams."""
    need(session, m.Programme, programme_id, what, "programme_id")
    if team_id is not None:
        team = need(session, m.Team, team_id, what, "team_id")
        if team.programme_id != programme_id:
            raise invalid(what, "team_id", f"team {team.code!r} belongs to another programme.")


def check_in_family(session, what, team: m.Team, measure_ids, field, measure_type=None):
    """Each measure of ``measure_ids`` is in ``team``'s family (of ``measure_type``, if given)."""
    for mid in measure_ids:
        measure = need(session, m.Measure, mid, what, field)
        if measure.programme_id != team.programme_id or measure.team_id not in (None, team.id):
            raise invalid(
                what, field, f"measure {measure.code!r} is not in {team.name}'s family of measures."
            )
        if measure_type and measure.measure_type != measure_type:
            raise invalid(
                what,
                field,
                f"measure {measure.code!r} is a {measure.measure_type} measure, "
                f"not an {measure_type} measure.",
            )


# --- the same record saved twice ---------------------------------------------------------------
# A page that lost its connection after the store committed a save never said "saved"; its
# visitor puts the text back after a reload and saves again. So a NEW reflection or PDSA cycle
# that is the same as one the team has already is not added a second time: the save returns the
# stored record (``already_saved(record)`` is then True) and writes nothing. The rule is here,
# in the store, so that it holds for every channel. (A progress score needs no such rule: a
# team has one per month, and a second new score for a month is refused as a stale edit.)

_ALREADY_SAVED = "_qi_already_saved"


class AlreadySaved(Exception):
    """Raised inside a save's transaction: the same record is stored already (nothing written).
    Caught by the save, which returns :func:`stored_already`."""

    def __init__(self, record_id: int):
        super().__init__(record_id)
        self.record_id = record_id


def already_saved(record: Any) -> bool:
    """True when ``save_reflection`` or ``save_pdsa`` returned a record the team had already,
    instead of adding the same one twice."""
    return bool(getattr(record, _ALREADY_SAVED, False))


def matches(column: Any, value: Any) -> Any:
    """``column`` holds ``value`` (a missing text matches NULL or an empty text)."""
    if value is None:
        return or_(column.is_(None), column == "")
    return column == value


def stored_already(db: StoreLike, model: type[Record], record_id: int,
                   load: tuple = ()) -> Record:  # fmt: skip
    """The stored record ``record_id``, marked as already saved."""
    with Reader(db) as session:
        stmt = select(model).where(model.id == record_id)
        for attr in load:
            stmt = stmt.options(selectinload(getattr(model, attr)))
        record = session.scalar(stmt)
    if record is None:  # deleted between the two transactions
        raise NotFoundError(
            f"This {KINDS[model].noun} was saved, then deleted by someone else at once. "
            "Reload to see the current records."
        )
    setattr(record, _ALREADY_SAVED, True)
    return record


__all__ = ["KINDS", "AlreadySaved", "Kind", "already_saved", "check_in_family",
           "check_team_in_programme", "delete_record", "flush", "get", "load_for_update",
           "matches", "need", "save", "set_links", "stale", "stale_message",
           "stored_already"]  # fmt: skip
