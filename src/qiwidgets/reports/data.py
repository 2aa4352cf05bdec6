"""Gather a team's month from the store, and fingerprint it.

:func:`gather_team` reads everything a team report shows, as the store held it, up to the end of
the report month. :func:`fingerprints` hashes, for many teams at once, the ids and versions of
every record a report depends on: the runner rebuilds a report only when that hash (or the
notebook, or the package version) changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, or_, select

from qiwidgets.reports.params import Month
from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.store.db import session_scope

__all__ = ["TeamData", "fingerprints", "gather_team", "programme_fingerprint"]


@dataclass
class TeamData:
    """A team's records up to the end of the report month (detached model objects)."""

    programme: m.Programme
    team: m.Team
    month: Month
    measures: list[m.Measure]
    observations: pd.DataFrame
    aim: m.Aim | None
    scores: list[m.ProgressScore]
    annotations: list[m.Annotation]
    pdsa: list[m.PDSACycle]
    reflections: list[m.Reflection]
    edits: pd.DataFrame
    cutoff: dt.datetime | None
    extra: dict[str, Any] = field(default_factory=dict)


def gather_team(db: Any, team: str, month: Month, programme: str | None = None) -> TeamData:
    """Everything the team report shows, read from the store ``db``."""
    end = month.last_day
    t = repo.get_team(db, team, programme)
    prog = repo.get_programme(db, t.programme_id)
    measures = repo.list_measures(db, t.id)
    obs = repo.observations(db, t.id, end=end)
    aims = [a for a in repo.list_aims(db, t.id)]
    scores = [s for s in repo.list_progress_scores(db, t.id) if s.month <= end]
    annotations = [a for a in repo.list_annotations(db, t.id) if a.date <= end]
    pdsa = repo.list_pdsa_cycles(db, t.id)
    reflections = repo.list_reflections(db, t.id, end=end)
    edits = repo.observation_history(db, t.id)
    return TeamData(
        programme=prog, team=t, month=month, measures=measures, observations=obs,
        aim=aims[-1] if aims else None, scores=scores, annotations=annotations, pdsa=pdsa,
        reflections=reflections, edits=edits, cutoff=_cutoff(db, t.id, end),
    )  # fmt: skip


def _cutoff(db: Any, team_id: int, end: dt.date) -> dt.datetime | None:
    """The last time any record this report reads was changed (the data cut-off)."""
    queries = [
        select(func.max(m.Observation.updated_at)).where(
            m.Observation.team_id == team_id, m.Observation.period <= end
        ),
        select(func.max(m.Reflection.updated_at)).where(
            m.Reflection.team_id == team_id, m.Reflection.date <= end
        ),
        select(func.max(m.ProgressScore.updated_at)).where(
            m.ProgressScore.team_id == team_id, m.ProgressScore.month <= end
        ),
        select(func.max(m.PDSACycle.updated_at)).where(m.PDSACycle.team_id == team_id),
        select(func.max(m.Annotation.updated_at)).where(m.Annotation.team_id == team_id),
    ]
    with session_scope(db, write=False) as session:
        stamps = [session.scalar(q) for q in queries]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


# Tables a team report depends on: (model, date column limiting it to the month or None).
_TEAM_TABLES = (
    (m.Observation, "period"),
    (m.Reflection, "date"),
    (m.ProgressScore, "month"),
    (m.Annotation, "date"),
    (m.PDSACycle, None),
    (m.Aim, None),
    (m.DriverNode, None),
    (m.HealthCheck, "period"),  # the team's own learning-system checks
    (m.HelpRequest, "raised_on"),  # learning practice (issue M): help, comments, roles, plans
    (m.Comment, None),
    (m.Membership, None),
    (m.PDSALens, None),
)


def programme_fingerprint(db: Any, programme_id: int, month: Month) -> str:
    """A hash of the programme-level records a programme report reads beyond its teams' (the
    programme's own learning-system checks up to the end of the month: ids and versions)."""
    with session_scope(db, write=False) as session:
        rows = session.execute(
            select(m.HealthCheck.id, m.HealthCheck.version)
            .where(m.HealthCheck.programme_id == programme_id, m.HealthCheck.team_id.is_(None),
                   m.HealthCheck.period <= month.last_day)
            .order_by(m.HealthCheck.id)
        ).all()
        # the safety pulse pooled across teams (counts carry no version: the counts themselves)
        pulse = session.execute(
            select(m.PulseCount.team_id, m.PulseCount.month, m.PulseCount.item,
                   m.PulseCount.score, m.PulseCount.count)
            .join(m.Team, m.Team.id == m.PulseCount.team_id)
            .where(m.Team.programme_id == programme_id, m.PulseCount.month <= month.last_day)
            .order_by(m.PulseCount.id)
        ).all()  # fmt: skip
    return hashlib.sha256(f"month={month}|health={list(map(tuple, rows))}"
                          f"|pulse={list(map(tuple, pulse))}".encode()).hexdigest()  # fmt: skip


def fingerprints(db: Any, team_ids: Iterable[int], month: Month) -> dict[int, str]:
    """A hash per team of every record its report for ``month`` reads (ids and versions).

    The programme, the team, the family of measures (shared and own) and the team's records up
    to the end of the month; a correction bumps a version and so changes the hash.
    """
    ids = sorted(set(team_ids))
    end = month.last_day
    hashes = {tid: hashlib.sha256(f"month={month}".encode()) for tid in ids}
    with session_scope(db, write=False) as session:
        teams = session.execute(
            select(m.Team.id, m.Team.version, m.Team.programme_id).where(m.Team.id.in_(ids))
        ).all()
        programmes = {t.programme_id for t in teams}
        prog_rows = session.execute(
            select(m.Programme.id, m.Programme.version).where(m.Programme.id.in_(programmes))
        ).all()
        shared = session.execute(
            select(m.Measure.programme_id, m.Measure.id, m.Measure.version)
            .where(m.Measure.programme_id.in_(programmes), m.Measure.team_id.is_(None))
            .order_by(m.Measure.id)
        ).all()
        own = session.execute(
            select(m.Measure.team_id, m.Measure.id, m.Measure.version)
            .where(m.Measure.team_id.in_(ids))
            .order_by(m.Measure.id)
        ).all()
        per_table = []
        for model, date_col in _TEAM_TABLES:
            stmt = select(model.team_id, model.id, model.version).where(model.team_id.in_(ids))
            if date_col is not None:
                stmt = stmt.where(getattr(model, date_col) <= end)
            per_table.append((model.__tablename__, session.execute(stmt.order_by(model.id)).all()))
        scores_edits = session.execute(
            select(m.Observation.team_id, m.ObservationEdit.id)
            .join(m.Observation, m.Observation.id == m.ObservationEdit.observation_id)
            .where(m.Observation.team_id.in_(ids), or_(m.Observation.period <= end))
            .order_by(m.ObservationEdit.id)
        ).all()
    prog_version = dict(prog_rows)
    shared_by_prog: dict[int, list] = {}
    for pid, mid, ver in shared:
        shared_by_prog.setdefault(pid, []).append((mid, ver))
    for tid, ver, pid in teams:
        h = hashes[tid]
        h.update(f"|team={tid}:{ver}|programme={pid}:{prog_version.get(pid)}".encode())
        h.update(f"|shared={shared_by_prog.get(pid, [])}".encode())
    for tid, mid, ver in own:
        hashes[tid].update(f"|measure={mid}:{ver}".encode())
    for name, rows in per_table:
        for tid, rid, ver in rows:
            hashes[tid].update(f"|{name}={rid}:{ver}".encode())
    for tid, eid in scores_edits:
        hashes[tid].update(f"|edit={eid}".encode())
    return {tid: h.hexdigest() for tid, h in hashes.items()}
