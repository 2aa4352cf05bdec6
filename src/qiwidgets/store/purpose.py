"""A team's shared purpose: its aim statement and its driver diagram."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from qiwidgets.store import lookup
from qiwidgets.store import models as m
from qiwidgets.store.access import Reader
from qiwidgets.store.db import StoreLike
from qiwidgets.store.lookup import ProgrammeRef, TeamRef
from qiwidgets.store.records import check_in_family, need, save, set_links
from qiwidgets.store.schemas import AimIn, DriverNodeIn, invalid


def list_aims(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> list[m.Aim]:
    """A team's aims (oldest first), with ``outcome_measures`` loaded."""
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = (
            select(m.Aim)
            .where(m.Aim.team_id == t.id)
            .options(selectinload(m.Aim.outcome_measures))
            .order_by(m.Aim.id)
        )
        return list(session.scalars(stmt))


def get_aim(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> m.Aim | None:
    """A team's current aim (the newest), or None."""
    aims = list_aims(db, team, programme)
    return aims[-1] if aims else None


def save_aim(db, data, *, id=None, version=None) -> m.Aim:
    """Create or change an aim statement (``AimIn`` fields, with ``outcome_measure_ids``)."""

    def check(session, values, record):
        team = need(session, m.Team, values.team_id, "aim", "team_id")
        check_in_family(
            session, "aim", team, values.outcome_measure_ids, "outcome_measure_ids", "outcome"
        )

    def links(session, record, values):
        set_links(session, record, "outcome_measures", values.outcome_measure_ids)

    return save(db, m.Aim, AimIn, data, id, version, check, links, load=("outcome_measures",))


def driver_diagram(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> pd.DataFrame:
    """A team's driver diagram as a tidy table: one row per node, parents before children.

    Columns: ``id``, ``kind``, ``parent_id``, ``text``, ``order``, ``version``, ``depth``.
    """
    nodes = list_driver_nodes(db, team, programme)
    by_parent: dict[int | None, list[m.DriverNode]] = {}
    for node in nodes:
        by_parent.setdefault(node.parent_id, []).append(node)
    rows: list[dict] = []

    def walk(parent_id, depth):
        for node in sorted(by_parent.get(parent_id, []), key=lambda n: (n.order, n.id)):
            rows.append(
                {
                    "id": node.id,
                    "kind": node.kind,
                    "parent_id": node.parent_id,
                    "text": node.text,
                    "order": node.order,
                    "version": node.version,
                    "depth": depth,
                }
            )
            walk(node.id, depth + 1)

    walk(None, 0)
    return pd.DataFrame(
        rows, columns=["id", "kind", "parent_id", "text", "order", "version", "depth"]
    )


def list_driver_nodes(
    db: StoreLike, team: TeamRef, programme: ProgrammeRef = None, kind: str | None = None
) -> list[m.DriverNode]:
    """A team's driver-diagram nodes (optionally of one ``kind``), by order."""
    with Reader(db) as session:
        t = lookup.team(session, team, programme)
        stmt = select(m.DriverNode).where(m.DriverNode.team_id == t.id)
        if kind is not None:
            stmt = stmt.where(m.DriverNode.kind == kind)
        return list(session.scalars(stmt.order_by(m.DriverNode.order, m.DriverNode.id)))


#: Which kind of node may sit under which (None: at the top, under the aim).
DRIVER_PARENTS = {
    "primary": (None,),
    "secondary": ("primary",),
    "change_idea": ("primary", "secondary"),
}


def save_driver_node(db, data, *, id=None, version=None) -> m.DriverNode:
    """Create or change a driver-diagram node (``DriverNodeIn`` fields)."""

    def check(session, values, record):
        need(session, m.Team, values.team_id, "driver diagram entry", "team_id")
        parent = None
        if values.parent_id is not None:
            parent = need(
                session, m.DriverNode, values.parent_id, "driver diagram entry", "parent_id"
            )
            if parent.team_id != values.team_id:
                raise invalid(
                    "driver diagram entry",
                    "parent_id",
                    "the parent belongs to another team's driver diagram.",
                )
        allowed = DRIVER_PARENTS[values.kind]
        if (parent.kind if parent else None) not in allowed:
            where = " or ".join("the aim" if a is None else f"a {a} driver" for a in allowed)
            raise invalid(
                "driver diagram entry",
                "parent_id",
                f"a {values.kind.replace('_', ' ')} must sit under {where}.",
            )

    return save(db, m.DriverNode, DriverNodeIn, data, id, version, check)


__all__ = ["DRIVER_PARENTS", "driver_diagram", "get_aim", "list_aims", "list_driver_nodes",
           "save_aim", "save_driver_node"]  # fmt: skip
