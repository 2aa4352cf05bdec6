"""A team's learning journal: notes on its charts (annotations), PDSA cycles and reflections.

A NEW reflection or PDSA cycle that is the same as one the team has already is not added a
second time (a page that lost its connection after the store committed a save, saved again):
the save returns the stored record, and ``already_saved(record)`` is True
(:mod:`qiwidgets.store.records`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from qiwidgets.store import lookup
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader, lock_teams, may_programme
from qiwidgets.store.db import StoreLike
from qiwidgets.store.lookup import MeasureRef, ProgrammeRef, TeamRef, team_name
from qiwidgets.store.records import (
    AlreadySaved,
    check_in_family,
    get,
    matches,
    need,
    save,
    set_links,
    stored_already,
)
from qiwidgets.store.schemas import AnnotationIn, PDSAIn, ReflectionIn, invalid


def list_annotations(
    db: StoreLike, team: TeamRef, measure: MeasureRef | None = None, programme: ProgrammeRef = None
) -> list[m.Annotation]:
    """A team's annotations by date; with ``measure``, those for that measure and for all."""
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = select(m.Annotation).where(m.Annotation.team_id == t.id)
        if measure is not None:
            mid = lookup.measure(session, measure, t).id
            stmt = stmt.where(
                or_(m.Annotation.measure_id.is_(None), m.Annotation.measure_id == mid)
            )
        return list(session.scalars(stmt.order_by(m.Annotation.date, m.Annotation.id)))


def save_annotation(db, data, *, id=None, version=None) -> m.Annotation:
    """Create or change an annotation (``AnnotationIn`` fields); a rebase needs its reason."""

    def check(session, values, record):
        team = need(session, m.Team, values.team_id, "annotation", "team_id")
        if values.measure_id is not None:
            check_in_family(session, "annotation", team, [values.measure_id], "measure_id")
        if values.pdsa_id is not None:
            cycle = need(session, m.PDSACycle, values.pdsa_id, "annotation", "pdsa_id")
            if cycle.team_id != team.id:
                raise invalid("annotation", "pdsa_id", "the PDSA cycle belongs to another team.")

    return save(db, m.Annotation, AnnotationIn, data, id, version, check)


def add_annotation(db, data) -> m.Annotation:
    """Add a new annotation (same as ``save_annotation(db, data)``)."""
    return save_annotation(db, data)


def list_pdsa_cycles(
    db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
) -> list[m.PDSACycle]:
    """A team's PDSA cycles by start date, with ``measures`` and ``change_idea`` loaded."""
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = (
            select(m.PDSACycle)
            .where(m.PDSACycle.team_id == t.id)
            .options(selectinload(m.PDSACycle.measures), selectinload(m.PDSACycle.change_idea))
            .order_by(
                m.PDSACycle.do_start.is_(None),
                m.PDSACycle.do_start,
                m.PDSACycle.plan_date,
                m.PDSACycle.id,
            )
        )
        return list(session.scalars(stmt))


#: A PDSA cycle's fields that must match (besides its title and measures) for a new cycle to be
#: one the team has already: every field of ``PDSAIn``, so that a field added later counts too.
_PDSA_SAME = tuple(f for f in PDSAIn.model_fields if f not in ("team_id", "title", "measure_ids"))


def _same_pdsa(session: Session, values: PDSAIn) -> None:
    """A team's PDSA cycles are told apart by their titles (as imports do): a new cycle titled
    like one of the team's is that cycle when everything else matches too, and is refused
    otherwise."""
    title = values.title.strip().casefold()
    stmt = select(m.PDSACycle).where(m.PDSACycle.team_id == values.team_id)
    stmt = stmt.options(selectinload(m.PDSACycle.measures)).order_by(m.PDSACycle.id)
    for cycle in session.scalars(stmt):
        if cycle.title.strip().casefold() != title:
            continue
        same = all(getattr(cycle, f) == getattr(values, f) for f in _PDSA_SAME)
        if same and {x.id for x in cycle.measures} == set(values.measure_ids):
            raise AlreadySaved(cycle.id)
        raise invalid(
            "PDSA cycle", "title",
            f"{team_name(session, values.team_id)} already has a PDSA cycle titled "
            f"{cycle.title!r}. Open that cycle to change it, or give this one another title.",
        )  # fmt: skip


def save_pdsa(db, data, *, id=None, version=None) -> m.PDSACycle:
    """Create or change a PDSA cycle (``PDSAIn`` fields, with ``measure_ids``).

    A new cycle titled like one of the team's cycles (case aside) is refused, unless everything
    else matches too: then that cycle is returned and nothing is written
    (``already_saved(cycle)`` is True).
    """

    def check(session, values, record):
        lock_teams(session, [values.team_id])
        team = need(session, m.Team, values.team_id, "PDSA cycle", "team_id")
        if values.change_idea_id is not None:
            idea = need(
                session, m.DriverNode, values.change_idea_id, "PDSA cycle", "change_idea_id"
            )
            if idea.team_id != team.id or idea.kind != "change_idea":
                raise invalid(
                    "PDSA cycle",
                    "change_idea_id",
                    f"`change_idea_id` must be a change idea in {team.name}'s driver diagram.",
                )
        check_in_family(session, "PDSA cycle", team, values.measure_ids, "measure_ids")
        if record is None:
            _same_pdsa(session, values)

    def links(session, record, values):
        set_links(session, record, "measures", values.measure_ids)

    load = ("measures", "change_idea")
    try:
        return save(db, m.PDSACycle, PDSAIn, data, id, version, check, links, load=load)
    except AlreadySaved as found:
        return stored_already(db, m.PDSACycle, found.record_id, load)


def list_reflections(
    db: StoreLike,
    team: TeamRef | None = None,
    programme: ProgrammeRef = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    generalisable: bool | None = None,
    bright_spot: bool | None = None,
    shared: bool | None = None,
) -> list[m.Reflection]:
    """Reflections by date: one team's, or (``team`` None) every team's in the programme.

    ``generalisable=True`` / ``bright_spot=True`` keep only those flagged; ``shared=True``
    only those the team shared with the programme (every programme channel asks for these).
    """
    with Reader(db) as session:
        stmt = select(m.Reflection)
        if team is not None:
            stmt = stmt.where(m.Reflection.team_id == lookup.team(session, team, programme).id)
        else:
            p = lookup.programme(session, programme)
            may_programme(session, p.id, write=False)
            stmt = stmt.join(m.Team, m.Team.id == m.Reflection.team_id).where(
                m.Team.programme_id == p.id
            )
        if shared is not None:
            stmt = stmt.where(m.Reflection.shared == shared)
        if start is not None:
            stmt = stmt.where(m.Reflection.date >= start)
        if end is not None:
            stmt = stmt.where(m.Reflection.date <= end)
        if generalisable is not None:
            stmt = stmt.where(m.Reflection.generalisable == generalisable)
        if bright_spot is not None:
            stmt = stmt.where(m.Reflection.bright_spot == bright_spot)
        return list(session.scalars(stmt.order_by(m.Reflection.date, m.Reflection.id)))


def get_reflection(db: StoreLike, id: int) -> m.Reflection:
    """One reflection by id."""
    return get(db, m.Reflection, id)


#: A reflection's words: a new reflection with the same words on the same date for the same team
#: is that reflection.
_REFLECTION_WORDS = ("authors", "what_happened", "what_worked", "what_did_not",
                     "what_should_change", "story")  # fmt: skip
#: The rest of a reflection (level of learning, flags: every other field of ``ReflectionIn``,
#: so that a field added later counts too), which must match for it to be already saved.
_REFLECTION_MARKS = tuple(f for f in ReflectionIn.model_fields
                          if f not in ("team_id", "date", *_REFLECTION_WORDS))  # fmt: skip


def _same_reflection(session: Session, values: ReflectionIn) -> None:
    if not any(getattr(values, f) for f in _REFLECTION_WORDS):
        return  # no words: nothing to be the same as
    stmt = select(m.Reflection).where(m.Reflection.team_id == values.team_id,
                                      m.Reflection.date == values.date)  # fmt: skip
    for f in _REFLECTION_WORDS:
        stmt = stmt.where(matches(getattr(m.Reflection, f), getattr(values, f)))
    same = session.scalars(stmt.order_by(m.Reflection.id)).first()
    if same is None:
        return
    if all(getattr(same, f) == getattr(values, f) for f in _REFLECTION_MARKS):
        raise AlreadySaved(same.id)
    raise invalid(
        "reflection", "date",
        f"{team_name(session, values.team_id)} already has a reflection of "
        f"{values.date.isoformat()} with these same words. Open that reflection to change its "
        "level of learning or its tick boxes, instead of adding the same words twice.",
    )  # fmt: skip


def save_reflection(db, data, *, id=None, version=None) -> m.Reflection:
    """Create or change a reflection (``ReflectionIn`` fields).

    A new reflection with the same words (who, the four answers, the story) on the same date
    as one of the team's is that reflection: it is returned and nothing is written
    (``already_saved(reflection)`` is True); refused if its level of learning or flags differ.
    """

    def check(session, values, record):
        lock_teams(session, [values.team_id])
        need(session, m.Team, values.team_id, "reflection", "team_id")
        if record is None:
            _same_reflection(session, values)

    try:
        return save(db, m.Reflection, ReflectionIn, data, id, version, check)
    except AlreadySaved as found:
        return stored_already(db, m.Reflection, found.record_id)


__all__ = ["add_annotation", "get_reflection", "list_annotations", "list_pdsa_cycles",
           "list_reflections", "save_annotation", "save_pdsa", "save_reflection"]  # fmt: skip
