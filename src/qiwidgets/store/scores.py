"""Progress scores (the IHI scale, month by month) and learning-system health checks."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from sqlalchemy import select

from qiwidgets.store import lookup
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader, may_programme
from qiwidgets.store.db import StoreLike
from qiwidgets.store.lookup import ProgrammeRef, TeamRef
from qiwidgets.store.records import check_team_in_programme, need, save, stale
from qiwidgets.store.schemas import HealthCheckIn, ProgressScoreIn


def list_progress_scores(
    db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
) -> list[m.ProgressScore]:
    """A team's progress scores, month by month."""
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = select(m.ProgressScore).where(m.ProgressScore.team_id == t.id)
        return list(session.scalars(stmt.order_by(m.ProgressScore.month)))


def progress_scores(db: StoreLike, programme: ProgrammeRef = None) -> pd.DataFrame:
    """Every team's progress scores in a programme as a tidy table.

    Columns: ``team``, ``month`` (datetime64), ``team_score``, ``lead_score``,
    ``justification``, ``team_id``, ``id``, ``version``.
    """
    with Reader(db) as session:
        p = lookup.programme(session, programme)
        may_programme(session, p.id, write=False)
        rows = session.execute(
            select(
                m.Team.code,
                m.ProgressScore.month,
                m.ProgressScore.team_score,
                m.ProgressScore.lead_score,
                m.ProgressScore.justification,
                m.ProgressScore.team_id,
                m.ProgressScore.id,
                m.ProgressScore.version,
            )
            .join(m.Team, m.Team.id == m.ProgressScore.team_id)
            .where(m.Team.programme_id == p.id)
            .order_by(m.Team.code, m.ProgressScore.month)
        ).all()
    frame = pd.DataFrame.from_records(rows, columns=[
        "team", "month", "team_score", "lead_score", "justification", "team_id", "id", "version",
    ])  # fmt: skip
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def save_progress_score(db, data, *, id=None, version=None) -> m.ProgressScore:
    """Create or change a month's progress score (``ProgressScoreIn`` fields).

    A second score for the same team and month is refused as a stale edit: someone else
    scored that month first.
    """

    def check(session, values, record):
        need(session, m.Team, values.team_id, "progress score", "team_id")
        other = session.scalar(
            select(m.ProgressScore).where(
                m.ProgressScore.team_id == values.team_id,
                m.ProgressScore.month == values.month,
            )
        )
        if other is not None and (record is None or other.id != record.id):
            raise stale(session, other)

    return save(db, m.ProgressScore, ProgressScoreIn, data, id, version, check)


def list_health_checks(
    db: StoreLike,
    programme: ProgrammeRef = None,
    team: TeamRef | None = None,
    level: Literal["programme", "team", "all"] = "all",
) -> pd.DataFrame:
    """Learning-system health checks as a tidy table, by period and component.

    ``team`` gives one team's; otherwise ``level`` chooses programme-level rows, team rows or
    all. Columns: ``team`` (code, or None for the programme), ``period``, ``component``,
    ``rating``, ``comment``, ``programme_id``, ``team_id``, ``id``, ``version``, ``rated_by``
    (the name of the person who saved the rating; None when nobody in particular did).
    """
    with Reader(db) as session:
        p = lookup.programme(session, programme)
        stmt = (
            select(
                m.Team.code,
                m.HealthCheck.period,
                m.HealthCheck.component,
                m.HealthCheck.rating,
                m.HealthCheck.comment,
                m.HealthCheck.programme_id,
                m.HealthCheck.team_id,
                m.HealthCheck.id,
                m.HealthCheck.version,
                m.Person.display_name,
            )
            .outerjoin(m.Team, m.Team.id == m.HealthCheck.team_id)
            .outerjoin(m.Person, m.Person.id == m.HealthCheck.updated_by_id)
            .where(m.HealthCheck.programme_id == p.id)
        )
        if team is not None:
            stmt = stmt.where(m.HealthCheck.team_id == lookup.team(session, team, p).id)
        else:
            may_programme(session, p.id, write=False)
            if level == "programme":
                stmt = stmt.where(m.HealthCheck.team_id.is_(None))
            elif level == "team":
                stmt = stmt.where(m.HealthCheck.team_id.is_not(None))
        rows = session.execute(
            stmt.order_by(m.HealthCheck.period, m.Team.code, m.HealthCheck.component)
        ).all()
    frame = pd.DataFrame.from_records(rows, columns=[
        "team", "period", "component", "rating", "comment", "programme_id", "team_id", "id",
        "version", "rated_by",
    ])  # fmt: skip
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def save_health_check(db, data, *, id=None, version=None) -> m.HealthCheck:
    """Create or change one health-check rating (``HealthCheckIn`` fields)."""

    def check(session, values, record):
        check_team_in_programme(session, "health check", values.programme_id, values.team_id)
        team_match = (
            m.HealthCheck.team_id.is_(None)
            if values.team_id is None
            else m.HealthCheck.team_id == values.team_id
        )
        other = session.scalar(
            select(m.HealthCheck).where(
                m.HealthCheck.programme_id == values.programme_id,
                team_match,
                m.HealthCheck.period == values.period,
                m.HealthCheck.component == values.component,
            )
        )
        if other is not None and (record is None or other.id != record.id):
            raise stale(session, other)

    return save(db, m.HealthCheck, HealthCheckIn, data, id, version, check)


__all__ = ["list_health_checks", "list_progress_scores", "progress_scores", "save_health_check",
           "save_progress_score"]  # fmt: skip
