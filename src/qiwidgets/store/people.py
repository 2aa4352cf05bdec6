"""People, their roles, personal access links, and who may read or change what.

A **person** is someone who opens the dashboards. They have a role on a team (``member`` and
``lead`` read and save the team's records; ``viewer`` only reads) and may have a role for the
whole programme (``programme_lead`` reads every team and saves; ``analyst`` reads every team).

A **personal access link** carries a secret made once by :func:`create_link`; the store keeps
only its SHA-256, so a leaked database does not leak working links. A link can expire and be
revoked at once; it survives a restart of the server.

An :class:`Actor` is who is acting, with what they may do. The store checks it where data are
read and written (:class:`ActingDB`): a dashboard kernel opens the store as its visitor, and
every repository call refuses what the visitor may not do, whatever the page sends. Without an
actor (the commands, an analyst's notebook on their own machine) nothing is checked: whoever can
open the database file or its server can read it anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from sqlalchemy import select

from qiwidgets.errors import AccessDenied, NotFoundError, StoreError
from qiwidgets.store import models as m
from qiwidgets.store.db import StoreLike, session_scope

#: Team roles that may save the team's records (a viewer only reads).
WRITING_TEAM_ROLES = ("member", "lead")
#: Programme roles that may save any team's records (an analyst only reads).
WRITING_PROGRAMME_ROLES = ("programme_lead",)
#: Longest identity key and display name (the columns' sizes).
MAX_KEY, MAX_NAME = 200, 200


def secret_hash(secret: str) -> str:
    """The SHA-256 (hex) the store keeps of a link's secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_key(key: str) -> str:
    """An identity key as stored: stripped, lower case; refused when empty or too long."""
    text = str(key or "").strip().lower()
    if not text or len(text) > MAX_KEY or any(c.isspace() for c in text):
        raise StoreError(f"A person's identity key must be 1 to {MAX_KEY} characters without "
                         f"spaces (a user name or an e-mail address), got {key!r:.60}.")  # fmt: skip
    return text


# --- who is acting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is acting and what they may do.

    ``teams`` maps team ids to the person's role; ``programmes`` programme ids to theirs.
    ``operator`` is the holder of the server's own token (or the Hub's admin): every team.
    """

    person_id: int | None
    name: str
    teams: Mapping[int, str] = field(default_factory=dict)
    programmes: Mapping[int, str] = field(default_factory=dict)
    operator: bool = False
    link_id: int | None = None  # the personal link the person came with

    def role(self, team_id: int, programme_id: int | None = None) -> str | None:
        """The person's role for a team (a programme role counts for its every team)."""
        if self.operator:
            return "operator"
        if programme_id is not None and programme_id in self.programmes:
            return self.programmes[programme_id]
        return self.teams.get(team_id)

    def can_read(self, team_id: int, programme_id: int | None = None) -> bool:
        return self.role(team_id, programme_id) is not None

    def can_write(self, team_id: int, programme_id: int | None = None) -> bool:
        role = self.role(team_id, programme_id)
        return role in ("operator", *WRITING_TEAM_ROLES, *WRITING_PROGRAMME_ROLES)

    def reads_programme(self, programme_id: int) -> bool:
        """May see the whole programme (its page and every team)."""
        return self.operator or programme_id in self.programmes

    def check(self, team: Any, *, write: bool) -> None:
        """Refuse (:class:`AccessDenied`) unless the person may read (or change) ``team``."""
        team_id, programme_id = team.id, team.programme_id
        allowed = self.can_write(team_id, programme_id) if write else self.can_read(
            team_id, programme_id)  # fmt: skip
        if not allowed:
            if write and self.can_read(team_id, programme_id):
                raise AccessDenied(f"{self.name} may look at {team.name}'s records but not "
                                   "change them (a viewer). Ask the team's lead for access.")  # fmt: skip
            raise AccessDenied(f"{self.name} has no access to {team.name}. Ask the programme "
                               "lead for access if you work with this team.")  # fmt: skip


#: The operator: the server's own token, before people were given links.
OPERATOR = Actor(None, "The dashboards' operator", operator=True)


class ActingDB(str):
    """A database URL that carries who is acting: pass it wherever ``db`` is expected and the
    repository checks every read and write against ``actor``. ``str(acting)`` is the URL."""

    actor: Actor

    def __new__(cls, url: str, actor: Actor) -> Self:
        obj = super().__new__(cls, url)
        obj.actor = actor
        return obj


def actor_of(db: Any) -> Actor | None:
    """Who acts through ``db`` (None: nobody in particular; nothing is checked)."""
    return getattr(db, "actor", None)


def check_team(db: Any, team: Any, *, write: bool) -> None:
    """Refuse unless the actor of ``db`` (if any) may read (or change) ``team``."""
    actor = actor_of(db)
    if actor is not None:
        actor.check(team, write=write)


# --- people -----------------------------------------------------------------------------------


def _person(session, key: str) -> m.Person:
    found = session.scalar(select(m.Person).where(m.Person.identity_key == normalise_key(key)))
    if found is None:
        raise NotFoundError(f"There is no person {key!r}: add them with `qiwidgets people add`.")
    return found


def add_person(db: StoreLike, key: str, name: str | None = None) -> m.Person:
    """Add a person (their identity key, e.g. a JupyterHub user name or an e-mail address)."""
    key = normalise_key(key)
    name = (name or key).strip()[:MAX_NAME]
    with session_scope(db) as session:
        if session.scalar(select(m.Person.id).where(m.Person.identity_key == key)) is not None:
            raise StoreError(f"There is already a person {key!r}.")
        person = m.Person(identity_key=key, display_name=name)
        session.add(person)
        session.flush()
        return person


def list_people(db: StoreLike) -> list[m.Person]:
    with session_scope(db, write=False) as session:
        return list(session.scalars(select(m.Person).order_by(m.Person.display_name)))


def get_person(db: StoreLike, key: str) -> m.Person:
    with session_scope(db, write=False) as session:
        return _person(session, key)


def display_name(db: StoreLike, person_id: int | None) -> str | None:
    """The name of the person with ``person_id`` (None: no such person, or no id)."""
    if person_id is None:
        return None
    with session_scope(db, write=False) as session:
        return session.scalar(select(m.Person.display_name).where(m.Person.id == person_id))


def remove_person(db: StoreLike, key: str) -> None:
    """Remove a person, their roles and links (what they saved stays, unsigned)."""
    with session_scope(db) as session:
        person = _person(session, key)
        for model in (m.Membership, m.ProgrammeRole, m.AccessLink):
            for row in session.scalars(select(model).where(model.person_id == person.id)):
                session.delete(row)
        session.delete(person)


# --- roles ------------------------------------------------------------------------------------


def grant(db: StoreLike, key: str, role: str, *, team: Any = None,
          programme: Any = None) -> None:  # fmt: skip
    """Give a person ``role`` on ``team`` (member, lead, viewer) or for ``programme``
    (programme_lead, analyst); a second grant replaces the first."""
    from qiwidgets.store import repo

    if team is not None and role not in m.TEAM_ROLES:
        raise StoreError(f"A team role must be one of {', '.join(m.TEAM_ROLES)}, got {role!r}.")
    if team is None and role not in m.PROGRAMME_ROLES:
        raise StoreError(f"A programme role must be one of {', '.join(m.PROGRAMME_ROLES)}, "
                         f"got {role!r}; give a team for a team role.")  # fmt: skip
    t = repo.get_team(db, team, programme) if team is not None else None
    p = repo.get_programme(db, programme) if team is None else None
    with session_scope(db) as session:
        person = _person(session, key)
        if t is not None:
            row = session.scalar(select(m.Membership).where(
                m.Membership.person_id == person.id, m.Membership.team_id == t.id))  # fmt: skip
            if row is None:
                session.add(m.Membership(person_id=person.id, team_id=t.id, role=role))
            else:
                row.role = role
            return
        row = session.scalar(select(m.ProgrammeRole).where(
            m.ProgrammeRole.person_id == person.id, m.ProgrammeRole.programme_id == p.id))  # fmt: skip
        if row is None:
            session.add(m.ProgrammeRole(person_id=person.id, programme_id=p.id, role=role))
        else:
            row.role = role


def revoke(db: StoreLike, key: str, *, team: Any = None, programme: Any = None) -> int:
    """Take away a person's role on ``team`` or for ``programme``; returns how many went."""
    from qiwidgets.store import repo

    t = repo.get_team(db, team, programme) if team is not None else None
    p = repo.get_programme(db, programme) if team is None else None
    with session_scope(db) as session:
        person = _person(session, key)
        if t is not None:
            rows = list(session.scalars(select(m.Membership).where(
                m.Membership.person_id == person.id, m.Membership.team_id == t.id)))  # fmt: skip
        else:
            rows = list(session.scalars(select(m.ProgrammeRole).where(
                m.ProgrammeRole.person_id == person.id,
                m.ProgrammeRole.programme_id == p.id)))  # fmt: skip
        for row in rows:
            session.delete(row)
        return len(rows)


def access_rows(db: StoreLike) -> list[tuple[str, str, str, str]]:
    """``(identity key, name, where, role)`` for every role held, for listing."""
    with session_scope(db, write=False) as session:
        rows = []
        for mem, person, team in session.execute(
            select(m.Membership, m.Person, m.Team)
            .join(m.Person, m.Person.id == m.Membership.person_id)
            .join(m.Team, m.Team.id == m.Membership.team_id)
        ).all():
            rows.append((person.identity_key, person.display_name, f"team {team.code}", mem.role))
        for role, person, prog in session.execute(
            select(m.ProgrammeRole, m.Person, m.Programme)
            .join(m.Person, m.Person.id == m.ProgrammeRole.person_id)
            .join(m.Programme, m.Programme.id == m.ProgrammeRole.programme_id)
        ).all():
            rows.append((person.identity_key, person.display_name, f"programme {prog.code}",
                         role.role))  # fmt: skip
        return sorted(rows)


def actor_for(db: StoreLike, key: str) -> Actor:
    """The :class:`Actor` of the person ``key`` (their roles as the store holds them now)."""
    with session_scope(db, write=False) as session:
        person = _person(session, key)
        teams = dict(session.execute(select(m.Membership.team_id, m.Membership.role).where(
            m.Membership.person_id == person.id)).all())  # fmt: skip
        programmes = dict(session.execute(select(
            m.ProgrammeRole.programme_id, m.ProgrammeRole.role).where(
            m.ProgrammeRole.person_id == person.id)).all())  # fmt: skip
        return Actor(person.id, person.display_name, teams, programmes)


# --- people from JupyterHub ------------------------------------------------------------------

#: A JupyterHub group grants a role when it is named ``qi:<team code>:<member|lead|viewer>`` or
#: ``qi:<programme code>:<programme_lead|analyst>`` (docs/deployment.md); other groups are
#: not ours and are left alone.
HUB_GROUP_PREFIX = "qi:"
#: The stronger role wins when the store and a Hub group both give one (a lead also reads).
_RANK = {"viewer": 0, "member": 1, "lead": 2, "analyst": 0, "programme_lead": 1}


def roles_from_hub_groups(db: StoreLike, groups: Iterable[str]) -> tuple[dict, dict]:
    """``(team roles, programme roles)`` (ids -> role) the Hub groups grant. A group naming a
    team code used by several programmes grants it in each; unknown codes grant nothing."""
    teams: dict[int, str] = {}
    programmes: dict[int, str] = {}
    wanted = []
    for group in groups:
        parts = str(group).split(":")
        if len(parts) == 3 and group.startswith(HUB_GROUP_PREFIX) and (
                parts[2] in m.TEAM_ROLES or parts[2] in m.PROGRAMME_ROLES):  # fmt: skip
            wanted.append((parts[1], parts[2]))
    if not wanted:
        return teams, programmes
    with session_scope(db, write=False) as session:
        for code, role in wanted:
            if role in m.TEAM_ROLES:
                ids = session.scalars(select(m.Team.id).where(m.Team.code == code))
                target = teams
            else:
                ids = session.scalars(select(m.Programme.id).where(m.Programme.code == code))
                target = programmes
            for i in ids:
                if i not in target or _RANK[role] > _RANK[target[i]]:
                    target[i] = role
    return teams, programmes


def actor_for_hub(db: StoreLike, name: str, groups: Iterable[str] = ()) -> Actor:
    """The :class:`Actor` of a JupyterHub user: the person whose identity key is their Hub
    name (added on their first visit, so that what they save is signed), with the roles the
    store gives them and those their ``qi:`` Hub groups grant (the stronger of the two)."""
    key = normalise_key(name)
    with session_scope(db) as session:
        if session.scalar(select(m.Person.id).where(m.Person.identity_key == key)) is None:
            session.add(m.Person(identity_key=key, display_name=str(name)[:MAX_NAME]))
    actor = actor_for(db, key)
    teams, programmes = dict(actor.teams), dict(actor.programmes)
    hub_teams, hub_programmes = roles_from_hub_groups(db, groups)
    for mine, granted in ((teams, hub_teams), (programmes, hub_programmes)):
        for i, role in granted.items():
            if i not in mine or _RANK[role] > _RANK[mine[i]]:
                mine[i] = role
    return Actor(actor.person_id, actor.name, teams, programmes)


# --- personal access links --------------------------------------------------------------------


def create_link(db: StoreLike, key: str, *, label: str | None = None,
                expires: dt.datetime | dt.date | None = None) -> tuple[m.AccessLink, str]:  # fmt: skip
    """A new personal access link for a person: ``(link, secret)``. The secret is shown this
    once; the store keeps its SHA-256 only."""
    secret = secrets.token_urlsafe(24)
    if isinstance(expires, dt.date) and not isinstance(expires, dt.datetime):
        expires = dt.datetime.combine(expires, dt.time.max)
    with session_scope(db) as session:
        person = _person(session, key)
        link = m.AccessLink(person_id=person.id, secret_hash=secret_hash(secret),
                            label=(label or "")[:200] or None, expires_at=expires)  # fmt: skip
        session.add(link)
        session.flush()
        return link, secret


def list_links(db: StoreLike, key: str | None = None) -> list[tuple[m.AccessLink, m.Person]]:
    with session_scope(db, write=False) as session:
        stmt = select(m.AccessLink, m.Person).join(m.Person, m.Person.id == m.AccessLink.person_id)
        if key is not None:
            stmt = stmt.where(m.Person.identity_key == normalise_key(key))
        return [tuple(r) for r in session.execute(stmt.order_by(m.AccessLink.id)).all()]


def revoke_links(db: StoreLike, key: str, link_ids: Iterable[int] | None = None) -> int:
    """Revoke a person's links (all of them, or the ones given); they stop working at once."""
    wanted = None if link_ids is None else set(link_ids)
    now = m.utcnow()
    with session_scope(db) as session:
        person = _person(session, key)
        n = 0
        for link in session.scalars(select(m.AccessLink).where(
                m.AccessLink.person_id == person.id, m.AccessLink.revoked_at.is_(None))):  # fmt: skip
            if wanted is None or link.id in wanted:
                link.revoked_at = now
                n += 1
        return n


def _live(link: m.AccessLink) -> bool:
    return link.revoked_at is None and (link.expires_at is None or link.expires_at >= m.utcnow())


def authenticate_link(db: StoreLike, secret: str) -> tuple[int, m.Person] | None:
    """``(link id, person)`` of the live link carrying ``secret`` (None: unknown, revoked or
    expired)."""
    if not secret or len(secret) > 200:
        return None
    with session_scope(db, write=False) as session:
        row = session.execute(
            select(m.AccessLink, m.Person).join(m.Person, m.Person.id == m.AccessLink.person_id)
            .where(m.AccessLink.secret_hash == secret_hash(secret))
        ).first()  # fmt: skip
        if row is None or not _live(row[0]):
            return None
        return row[0].id, row[1]


def authenticate(db: StoreLike, secret: str) -> m.Person | None:
    """The person whose live link carries ``secret`` (None: unknown, revoked or expired)."""
    found = authenticate_link(db, secret)
    return None if found is None else found[1]


def link_is_live(db: StoreLike, link_id: int) -> bool:
    """The link still opens the dashboards (not revoked, not expired, its person there)."""
    with session_scope(db, write=False) as session:
        return link_is_live_in(session, link_id)


def link_is_live_in(session, link_id: int) -> bool:
    """:func:`link_is_live`, inside a transaction already open."""
    link = session.get(m.AccessLink, link_id)
    return link is not None and _live(link)


def actor_for_link(db: StoreLike, link_id: int) -> Actor:
    """The :class:`Actor` of the person of a live link (refused when it is not live)."""
    with session_scope(db, write=False) as session:
        link = session.get(m.AccessLink, link_id)
        if link is None or not _live(link):
            raise AccessDenied("This access link no longer works (revoked or expired): ask "
                               "your programme lead for a new one.")  # fmt: skip
        key = session.get(m.Person, link.person_id).identity_key
    actor = actor_for(db, key)
    return Actor(actor.person_id, actor.name, actor.teams, actor.programmes, link_id=link_id)


__all__ = [
    "OPERATOR",
    "AccessDenied",
    "ActingDB",
    "Actor",
    "access_rows",
    "actor_for",
    "actor_for_hub",
    "actor_for_link",
    "actor_of",
    "add_person",
    "authenticate",
    "authenticate_link",
    "check_team",
    "create_link",
    "display_name",
    "get_person",
    "grant",
    "link_is_live",
    "list_links",
    "list_people",
    "normalise_key",
    "remove_person",
    "revoke",
    "revoke_links",
    "secret_hash",
]
