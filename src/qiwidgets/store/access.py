"""Who may read and change what, checked where the store reads and writes.

Every read of the repository opens a :class:`Reader`, and every write runs in
:func:`~qiwidgets.store.db.run_in_transaction`; both put whoever acts
(:class:`~qiwidgets.store.people.Actor`, carried by an :class:`~qiwidgets.store.people.ActingDB`)
into ``session.info["actor"]``. The functions below read it from there: :func:`may` refuses a
record of a team the actor may not read (or change), :func:`may_programme` a programme-wide
one, and :func:`signed` writes the person onto what they save. Nobody in particular acting (a
command, an analyst's own notebook): nothing is checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiwidgets.errors import AccessDenied
from qiwidgets.store import models as m
from qiwidgets.store import people
from qiwidgets.store.db import StoreLike, get_engine, translate_error


class Reader:
    """A read-only session (no write lock) whose objects stay usable after it closes; it
    carries who acts (:class:`~qiwidgets.store.people.ActingDB`), for the access checks."""

    def __init__(self, db: StoreLike):
        self.engine = get_engine(db)
        self.actor = people.actor_of(db)

    def __enter__(self) -> Session:
        self.session = Session(self.engine, expire_on_commit=False)
        self.session.info["actor"] = self.actor
        return self.session

    def __exit__(self, exc_type, exc, tb) -> None:
        self.session.close()  # detaches the objects without expiring them
        if exc is not None:
            translated = translate_error(exc, self.engine)
            if translated is not exc:
                raise translated from exc


def actor(session: Session) -> people.Actor | None:
    """Who acts in ``session`` (None: nobody in particular)."""
    return session.info.get("actor")


def person_id(session: Session) -> int | None:
    """The id of the person acting in ``session``, if someone in particular acts."""
    return getattr(actor(session), "person_id", None)


def may(session: Session, record: Any, *, write: bool) -> None:
    """Refuse (AccessDenied) unless whoever acts may read (or change) ``record``: a team, a
    record of a team, or a programme-wide record (a shared measure, a programme health check,
    a programme, a team's own row). Nobody in particular acting (a command, an analyst's own
    notebook): nothing to check."""
    who = actor(session)
    if who is None or who.operator:
        return
    if write and who.link_id is not None and not people.link_is_live_in(session, who.link_id):
        raise AccessDenied("Your access link no longer works (revoked or expired): nothing was "
                           "saved. Ask your programme lead for a new one.")  # fmt: skip
    if isinstance(record, m.Team):
        who.check(record, write=write)
        return
    team_id = getattr(record, "team_id", None)
    if team_id is not None:
        who.check(session.get(m.Team, team_id), write=write)
        return
    programme_id = record.id if isinstance(record, m.Programme) else getattr(
        record, "programme_id", None)  # fmt: skip
    may_programme(session, programme_id, write=write)


def may_programme(session: Session, programme_id: int | None, *, write: bool) -> None:
    """Refuse unless whoever acts may read (or change) the whole programme."""
    who = actor(session)
    if who is None or who.operator:
        return
    role = who.programmes.get(programme_id)
    if role is None or (write and role not in people.WRITING_PROGRAMME_ROLES):
        what = "change the programme's own records" if write else "see the whole programme"
        raise AccessDenied(f"{who.name} may not {what}: that is for the programme lead.")


def may_write_teams(session: Session, team_ids: Iterable[int]) -> None:
    """Refuse unless whoever acts may change every team of ``team_ids``."""
    who = actor(session)
    if who is None or who.operator:
        return
    for team_id in sorted(set(team_ids)):
        team = session.get(m.Team, team_id)
        if team is not None:
            may(session, team, write=True)


def signed(session: Session, record: Any) -> None:
    """The person saving, on the record (``updated_by_id``), when someone in particular acts."""
    who = actor(session)
    if who is not None and who.person_id is not None and hasattr(record, "updated_by_id"):
        record.updated_by_id = who.person_id


def lock_teams(session: Session, team_ids: Iterable[int]) -> None:
    """Hold the teams' rows until the transaction ends, so that two writes to the same team's
    records run one after the other and the second sees what the first wrote (PostgreSQL, in
    id order so that two writers never wait for each other; SQLite's writes are one at a time
    already, and SQLite has no FOR UPDATE). ``FOR NO KEY UPDATE`` leaves inserts that refer to
    the team free."""
    if session.get_bind().dialect.name == "sqlite":
        return
    ids = sorted({int(i) for i in team_ids})
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        session.execute(select(m.Team.id).where(m.Team.id.in_(part)).order_by(m.Team.id)
                        .with_for_update(key_share=True))  # fmt: skip


__all__ = ["Reader", "actor", "lock_teams", "may", "may_programme", "may_write_teams",
           "person_id", "signed"]  # fmt: skip
