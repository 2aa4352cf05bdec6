"""Programmes and teams: list, find and save them (a new team needs the programme lead)."""

from __future__ import annotations

from sqlalchemy import select

from qiwidgets.store import lookup
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader, actor
from qiwidgets.store.db import StoreLike
from qiwidgets.store.lookup import ProgrammeRef, TeamRef
from qiwidgets.store.records import need, save
from qiwidgets.store.schemas import ProgrammeIn, TeamIn, invalid


def list_programmes(db: StoreLike) -> list[m.Programme]:
    """Every programme, by code."""
    with Reader(db) as session:
        return list(session.scalars(select(m.Programme).order_by(m.Programme.code)))


def get_programme(db: StoreLike, programme: ProgrammeRef = None) -> m.Programme:
    """A programme by code or id; None means the only programme in the database."""
    with Reader(db) as session:
        return lookup.programme(session, programme)


def save_programme(db, data, *, id=None, version=None) -> m.Programme:
    """Create or change a programme (``ProgrammeIn`` fields)."""

    def check(session, values, record):
        clash = session.scalar(select(m.Programme.id).where(m.Programme.code == values.code))
        if clash is not None and (record is None or clash != record.id):
            raise invalid("programme", "code", f"a programme with code {values.code!r} exists.")

    return save(db, m.Programme, ProgrammeIn, data, id, version, check)


def list_teams(db: StoreLike, programme: ProgrammeRef = None) -> list[m.Team]:
    """The teams of a programme (None: of every programme), by code."""
    with Reader(db) as session:
        stmt = select(m.Team).order_by(m.Team.programme_id, m.Team.code)
        if programme is not None:
            stmt = stmt.where(m.Team.programme_id == lookup.programme(session, programme).id)
        teams = list(session.scalars(stmt))
        who = actor(session)
        if who is not None:  # whoever acts sees the teams they may read, and only those
            teams = [t for t in teams if who.can_read(t.id, t.programme_id)]
        return teams


def get_team(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> m.Team:
    """A team by code (within ``programme`` if several programmes use it) or id."""
    with Reader(db) as session:
        return lookup.team(session, team, programme)


def save_team(db, data, *, id=None, version=None) -> m.Team:
    """Create or change a team (``TeamIn`` fields)."""

    def check(session, values, record):
        need(session, m.Programme, values.programme_id, "team", "programme_id")
        clash = session.scalar(
            select(m.Team.id).where(
                m.Team.programme_id == values.programme_id, m.Team.code == values.code
            )
        )
        if clash is not None and (record is None or clash != record.id):
            raise invalid("team", "code", f"the programme already has a team {values.code!r}.")

    return save(db, m.Team, TeamIn, data, id, version, check)


__all__ = ["get_programme", "get_team", "list_programmes", "list_teams", "save_programme",
           "save_team"]  # fmt: skip
