"""A team's cause-and-effect (fishbone) diagram (issue M, item 3): the effect, the problem
the team wants to understand, and its causes under the categories of
:data:`~qiwidgets.store.models.FISHBONE_CATEGORIES`, each with sub-causes one level deep.
A cause may name the node of the team's own driver diagram that answers it, so the fishbone
and the driver diagram tell one theory.

Every save is checked as any record of a team is (:mod:`qiwidgets.store.records`: whoever
acts must be able to change the team; an edit names the ``version`` it read and a stale one is
refused, never saved over a colleague's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiwidgets.store import access, lookup, records, schemas
from qiwidgets.store import models as m
from qiwidgets.store.db import StoreLike, run_in_transaction

TeamRef, ProgrammeRef = lookup.TeamRef, lookup.ProgrammeRef
_invalid = schemas.invalid

records.KINDS[m.Fishbone] = records.Kind(
    "cause-and-effect diagram", True, lambda s, r: lookup.team_name(s, r.team_id))  # fmt: skip
records.KINDS[m.FishboneCause] = records.Kind(
    "cause", True, lambda s, r: f"{lookup.team_name(s, r.team_id)}, {lookup.short(r.text)}")  # fmt: skip


class FishboneIn(schemas.Record):
    """A team's fishbone: the ``effect`` (the problem) it explains."""

    team_id: int
    effect: schemas.Required


class CauseIn(schemas.Record):
    """A cause: its ``category`` (:data:`~qiwidgets.store.models.FISHBONE_CATEGORIES`), its
    ``text``, the cause it details (``parent_id``, one level deep: a sub-cause keeps its cause's
    category), the driver-diagram node that answers it (``driver_node_id``, same team) and its
    ``order`` among its siblings."""

    team_id: int
    category: Annotated[str, schemas.one_of(m.FISHBONE_CATEGORIES)]
    text: schemas.Required
    parent_id: int | None = None
    driver_node_id: int | None = None
    order: int = 0


def save_fishbone(db: StoreLike, data: Mapping[str, Any], *, id: int | None = None,
                  version: int | None = None) -> m.Fishbone:  # fmt: skip
    """State a team's effect (``FishboneIn`` fields), or change it (``id`` and the
    ``version`` read). One per team: a second new one is refused as a stale edit."""

    def check(session, values, record):
        records.need(session, m.Team, values.team_id, "cause-and-effect diagram", "team_id")
        other = session.scalar(select(m.Fishbone).where(m.Fishbone.team_id == values.team_id))
        if other is not None and (record is None or other.id != record.id):
            raise records.stale(session, other)

    return records.save(db, m.Fishbone, FishboneIn, data, id, version, check)


def _check_cause(session: Session, values: CauseIn, record: m.FishboneCause | None) -> None:
    what = "cause"
    team = records.need(session, m.Team, values.team_id, what, "team_id")
    if session.scalar(select(m.Fishbone.id).where(m.Fishbone.team_id == team.id)) is None:
        raise _invalid(what, "team_id", f"{team.name} has no cause-and-effect diagram yet: "
                       "state the effect (the problem) first, then add its causes.")  # fmt: skip
    if values.parent_id is not None:
        parent = records.need(session, m.FishboneCause, values.parent_id, what, "parent_id")
        if parent.team_id != team.id:
            raise _invalid(what, "parent_id", "`parent_id` must be a cause on the same team's "
                           "diagram.")  # fmt: skip
        if parent.parent_id is not None or (record is not None and parent.id == record.id):
            raise _invalid(what, "parent_id", "A sub-cause sits under a cause, one level deep: "
                           "choose a cause, not a sub-cause.")  # fmt: skip
        if record is not None and session.scalar(select(m.FishboneCause.id).where(
                m.FishboneCause.parent_id == record.id).limit(1)) is not None:  # fmt: skip
            raise _invalid(what, "parent_id", "This cause has sub-causes of its own, so it "
                           "cannot become a sub-cause (one level deep).")  # fmt: skip
        if parent.category != values.category:
            raise _invalid(what, "category", "A sub-cause keeps its cause's category "
                           f"({parent.category!r}), got {values.category!r}.")  # fmt: skip
    if values.driver_node_id is not None:
        node = records.need(session, m.DriverNode, values.driver_node_id, what,
                            "driver_node_id")  # fmt: skip
        if node.team_id != team.id:
            raise _invalid(what, "driver_node_id", f"`driver_node_id` {node.id} is not on "
                           f"{team.name}'s driver diagram: a cause links only to its own "
                           "team's drivers and change ideas.")  # fmt: skip


def _place(session: Session, record: m.FishboneCause, values: CauseIn) -> None:
    """The cause's diagram, and its sub-causes moved with it to a new category."""
    record.fishbone_id = session.scalar(select(m.Fishbone.id).where(
        m.Fishbone.team_id == values.team_id))  # fmt: skip
    if record.id is None:
        return
    for child in session.scalars(select(m.FishboneCause).where(
            m.FishboneCause.parent_id == record.id)):  # fmt: skip
        if child.category != values.category:
            child.category = values.category
            access.signed(session, child)


def save_cause(db: StoreLike, data: Mapping[str, Any], *, id: int | None = None,
               version: int | None = None) -> m.FishboneCause:  # fmt: skip
    """Add a cause (``CauseIn`` fields) to a team's fishbone, or change one (``id`` and the
    ``version`` read). A cause moved to another category takes its sub-causes with it."""
    return records.save(db, m.FishboneCause, CauseIn, data, id, version, _check_cause, _place)


def remove_cause(db: StoreLike, id: int, *, version: int) -> int:
    """Remove a cause at the ``version`` read, and its sub-causes with it; returns how many
    were removed."""

    def work(session: Session) -> int:
        record = records.load_for_update(session, m.FishboneCause, id, version)
        access.may(session, record, write=True)
        children = list(session.scalars(select(m.FishboneCause).where(
            m.FishboneCause.parent_id == record.id)))  # fmt: skip
        for child in children:
            session.delete(child)
        records.flush(session, record)
        session.delete(record)
        records.flush(session, record)
        return 1 + len(children)

    return run_in_transaction(work, db)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CauseNode:
    """A cause, its sub-causes, and the driver-diagram node it links to (or None)."""

    cause: Any
    children: tuple[CauseNode, ...] = ()
    driver: Any = None


@dataclass(frozen=True)
class FishboneTree:
    """A team's fishbone: the ``fishbone`` record (None before the effect is stated) and its
    causes grouped by category (``categories``: every category in order, with its causes)."""

    team_id: int
    fishbone: Any
    categories: tuple[tuple[str, tuple[CauseNode, ...]], ...]

    @property
    def effect(self) -> str | None:
        return self.fishbone.effect if self.fishbone is not None else None

    def causes(self) -> list[Any]:
        """Every cause, each followed by its sub-causes, category by category."""
        return [x for _, nodes in self.categories for n in nodes
                for x in (n.cause, *(c.cause for c in n.children))]  # fmt: skip

    @property
    def cause_count(self) -> int:
        return len(self.causes())

    @property
    def linked_count(self) -> int:
        return sum(1 for c in self.causes() if c.driver_node_id is not None)


def team_fishbone(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> FishboneTree:
    """A team's fishbone, for whoever may read the team."""
    with access.Reader(db) as session:
        t = lookup.team(session, team, programme)
        fishbone = session.scalar(select(m.Fishbone).where(m.Fishbone.team_id == t.id))
        causes = list(session.scalars(select(m.FishboneCause).where(
            m.FishboneCause.team_id == t.id).order_by(m.FishboneCause.order, m.FishboneCause.id)))  # fmt: skip
        ids = {c.driver_node_id for c in causes if c.driver_node_id is not None}
        nodes = {n.id: n for n in session.scalars(select(m.DriverNode).where(
            m.DriverNode.id.in_(ids)))} if ids else {}  # fmt: skip
    children: dict[int, list] = {}
    for c in causes:
        if c.parent_id is not None:
            children.setdefault(c.parent_id, []).append(c)

    def node(c: Any) -> CauseNode:
        return CauseNode(c, tuple(node(x) for x in children.get(c.id, [])),
                         nodes.get(c.driver_node_id))  # fmt: skip

    tops = [c for c in causes if c.parent_id is None]
    categories = tuple((k, tuple(node(c) for c in tops if c.category == k))
                       for k in m.FISHBONE_CATEGORIES)  # fmt: skip
    return FishboneTree(t.id, fishbone, categories)


__all__ = ["CauseIn", "CauseNode", "FishboneIn", "FishboneTree", "remove_cause", "save_cause",
           "save_fishbone", "team_fishbone"]
