"""A team's family of measures: list, find and save measure definitions."""

from __future__ import annotations

from sqlalchemy import or_, select

from qiwidgets.store import lookup
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader
from qiwidgets.store.db import StoreLike
from qiwidgets.store.lookup import MeasureRef, ProgrammeRef, TeamRef
from qiwidgets.store.records import check_team_in_programme, save
from qiwidgets.store.schemas import MeasureIn, invalid


def list_measures(
    db: StoreLike, team: TeamRef | None = None, programme: ProgrammeRef = None
) -> list[m.Measure]:
    """A team's family of measures: the programme's shared measures plus the team's own.

    Without ``team``: the programme's shared measures only. Ordered outcome, process,
    balancing, then by code.
    """
    with Reader(db) as session:
        if team is not None:
            t = lookup.team(session, team, programme)
            stmt = select(m.Measure).where(
                m.Measure.programme_id == t.programme_id,
                or_(m.Measure.team_id.is_(None), m.Measure.team_id == t.id),
            )
        else:
            p = lookup.programme(session, programme)
            stmt = select(m.Measure).where(
                m.Measure.programme_id == p.id, m.Measure.team_id.is_(None)
            )
        measures = list(session.scalars(stmt))
    order = {k: i for i, k in enumerate(m.MEASURE_TYPES)}
    return sorted(measures, key=lambda x: (order[x.measure_type], x.code))


def get_measure(
    db: StoreLike, measure: MeasureRef, team: TeamRef | None = None, programme: ProgrammeRef = None
) -> m.Measure:
    """A measure by id, or by code within a team's family (or the programme's shared ones)."""
    with Reader(db) as session:
        return lookup.measure(session, measure, team, programme)


def save_measure(db, data, *, id=None, version=None) -> m.Measure:
    """Create or change a measure definition (``MeasureIn`` fields)."""

    def check(session, values, record):
        check_team_in_programme(session, "measure definition", values.programme_id, values.team_id)
        same_code = select(m.Measure.id).where(
            m.Measure.programme_id == values.programme_id, m.Measure.code == values.code
        )
        if values.team_id is not None:  # clashes with a shared code or the team's own
            same_code = same_code.where(
                or_(m.Measure.team_id.is_(None), m.Measure.team_id == values.team_id)
            )
        clash = [i for i in session.scalars(same_code) if record is None or i != record.id]
        if clash:
            raise invalid(
                "measure definition",
                "code",
                f"a measure with code {values.code!r} is already in this family of measures.",
            )

    return save(db, m.Measure, MeasureIn, data, id, version, check)


__all__ = ["get_measure", "list_measures", "save_measure"]
