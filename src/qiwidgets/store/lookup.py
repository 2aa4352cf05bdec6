"""Finding a programme, a team or a measure by record, id or code, as a repository call names it.

Each function takes an open session; a team (and what it leads to) is found only when whoever
acts may read it (:mod:`qiwidgets.store.access`). The names are also what messages say.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qiwidgets.errors import NotFoundError, StoreError
from qiwidgets.store import models as m
from qiwidgets.store.access import may

TeamRef = m.Team | int | str
MeasureRef = m.Measure | int | str
ProgrammeRef = m.Programme | int | str | None


def programme(session: Session, programme: ProgrammeRef) -> m.Programme:
    """A programme by record, id or code; None: the only programme in the database."""
    if isinstance(programme, m.Programme):
        return programme
    if isinstance(programme, int):
        found = session.get(m.Programme, programme)
    elif isinstance(programme, str):
        found = session.scalar(select(m.Programme).where(m.Programme.code == programme))
    else:
        found_all = list(session.scalars(select(m.Programme).limit(2)))
        if len(found_all) == 1:
            return found_all[0]
        if not found_all:
            raise NotFoundError(
                "The database holds no programme yet: import one or run `qiwidgets load-sample`."
            )
        raise StoreError("The database holds several programmes: say which one (`programme`).")
    if found is None:
        raise NotFoundError(f"There is no programme {programme!r}.")
    return found


def team(session: Session, team: TeamRef, programme_ref: ProgrammeRef = None) -> m.Team:
    """A team by record, id or code; whoever acts must be allowed to read it."""
    found = find_team(session, team, programme_ref)
    may(session, found, write=False)
    return found


def find_team(session: Session, team: TeamRef, programme_ref: ProgrammeRef = None) -> m.Team:
    """A team by record, id or code (within ``programme_ref`` if several programmes use it),
    whoever acts."""
    if isinstance(team, m.Team):
        return team
    if isinstance(team, int):
        found = session.get(m.Team, team)
        if found is None:
            raise NotFoundError(f"There is no team with id {team}.")
        return found
    stmt = select(m.Team).where(m.Team.code == team)
    if programme_ref is not None:
        stmt = stmt.where(m.Team.programme_id == programme(session, programme_ref).id)
    found_all = list(session.scalars(stmt.limit(2)))
    if not found_all:
        raise NotFoundError(f"There is no team {team!r}.")
    if len(found_all) > 1:
        raise StoreError(f"Several programmes have a team {team!r}: say which `programme`.")
    return found_all[0]


def measure(
    session: Session,
    measure: MeasureRef,
    team_ref: TeamRef | None = None,
    programme_ref: ProgrammeRef = None,
) -> m.Measure:
    """A measure by record or id, or by code within a team's family of measures (or among the
    programme's shared ones)."""
    if isinstance(measure, m.Measure):
        return measure
    if isinstance(measure, int):
        found = session.get(m.Measure, measure)
        if found is None:
            raise NotFoundError(f"There is no measure with id {measure}.")
        return found
    if team_ref is not None:
        t = team(session, team_ref, programme_ref)
        stmt = select(m.Measure).where(
            m.Measure.programme_id == t.programme_id,
            or_(m.Measure.team_id.is_(None), m.Measure.team_id == t.id),
            m.Measure.code == measure,
        )
        where = f"in {t.name}'s family of measures"
    else:
        p = programme(session, programme_ref)
        stmt = select(m.Measure).where(
            m.Measure.programme_id == p.id,
            m.Measure.team_id.is_(None),
            m.Measure.code == measure,
        )
        where = f"among the shared measures of {p.name}"
    found = session.scalar(stmt)
    if found is None:
        raise NotFoundError(f"There is no measure {measure!r} {where}.")
    return found


def team_name(session: Session, team_id: int | None) -> str:
    """A team's name for a message ("programme" for None)."""
    if team_id is None:
        return "programme"
    found = session.get(m.Team, team_id)
    return found.name if found is not None else f"team {team_id}"


def measure_name(session: Session, measure_id: int) -> str:
    """A measure's name for a message."""
    found = session.get(m.Measure, measure_id)
    return found.name if found is not None else f"measure {measure_id}"


def short(text: str | None, n: int = 40) -> str:
    """``text`` cut to ``n`` characters (with an ellipsis) for a message."""
    text = (text or "").strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def family_filter(t: m.Team) -> Any:
    """The SQL condition "a measure of ``t``'s family" (its own and its programme's shared)."""
    return (m.Measure.programme_id == t.programme_id) & or_(
        m.Measure.team_id.is_(None), m.Measure.team_id == t.id
    )


__all__ = ["MeasureRef", "ProgrammeRef", "TeamRef", "family_filter", "find_team", "measure",
           "measure_name", "programme", "short", "team", "team_name"]  # fmt: skip
