"""Skills profiles (issue M, item 2): each person's short self-assessment on a team, the team's
coverage and gaps, and the gaps across the programme's teams.

The items (:data:`~qiwidgets.store.models.SKILL_ITEMS`) follow the three groups of the Health
Foundation's "Skilled for improvement?" (2014): technical, soft and learning skills; each is
rated 0 (not yet) to 3 (can teach others); the statements are in
:data:`qiwidgets.workbook.practice.SKILL_ITEMS`. The rules are the store's, so they hold
whatever a page sends:

* **A person saves only their own profile** (:func:`save_skills`, :func:`my_skills`): whoever
  acts, on a team they have a role on. A command (nobody in particular acting) names the person.
* **The team reads counts** (:func:`team_skills`): per item, how many people rated themselves at
  each level, and whether it is a *gap* (answers, but nobody at :data:`CONFIDENT_FROM` or
  more). Anyone who may read the team reads them; nobody reads another person's answers, so
  the counts are given only once :data:`MIN_PROFILES_SHOWN` people have filled in a profile.
* **The programme reads counts across teams** (:func:`programme_skill_gaps`): per item, how many
  teams have it as a gap, among the teams whose counts are shown; no team is named and no
  person, and nothing is ranked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from qiwidgets.errors import AccessDenied, InvalidRecordError, NotFoundError
from qiwidgets.store import access, lookup, people, records, schemas
from qiwidgets.store import models as m
from qiwidgets.store.db import StoreLike, run_in_transaction

TeamRef, ProgrammeRef = lookup.TeamRef, lookup.ProgrammeRef

#: A rating of this level or more is "confident": an item nobody on the team rates at this
#: level or more (among those who answered) is a gap. 2 is "confident" on the scale.
CONFIDENT_FROM = 2
#: A team's counts are given only once at least this many people have filled in a profile:
#: with one, the counts are that person's answers; with two, each could read the other's from
#: the counts and their own. The same reasoning as the safety pulse's
#: (``store.practice.MIN_TEAM_PULSE_RESPONSES``).
MIN_PROFILES_SHOWN = 3
#: The levels, lowest first.
LEVELS = tuple(range(m.SKILL_LEVEL_MIN, m.SKILL_LEVEL_MAX + 1))

OWN_ONLY = ("A skills profile is its person's own: you see and change only yours; the team "
            "sees only how many people rated themselves at each level.")  # fmt: skip

records.KINDS[m.SkillProfile] = records.Kind(
    "skills profile", False, lambda s, r: lookup.team_name(s, r.team_id))  # fmt: skip


# --- what the store gives back --------------------------------------------------------------------


@dataclass(frozen=True)
class SkillsProfile:
    """A person's own profile on a team: ``ratings`` item -> level; ``version`` for the next
    save (None: no profile yet)."""

    team_id: int
    person_id: int
    ratings: Mapping[str, int]
    version: int | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class ItemCoverage:
    """One item on a team: ``counts[level]`` people rated themselves at that level."""

    item: str
    counts: tuple[int, ...]

    @property
    def answered(self) -> int:
        return sum(self.counts)

    @property
    def confident(self) -> int:
        """How many rated themselves :data:`CONFIDENT_FROM` or more."""
        return sum(self.counts[CONFIDENT_FROM - m.SKILL_LEVEL_MIN:])

    @property
    def teachers(self) -> int:
        """How many could teach others (the top level)."""
        return self.counts[-1]

    @property
    def gap(self) -> bool:
        """Answers, and nobody confident."""
        return self.answered > 0 and self.confident == 0


@dataclass(frozen=True)
class SkillCoverage:
    """A team's skills as counts: ``people`` with a role on the team, ``answered`` of them
    with a profile, and one :class:`ItemCoverage` per item in the framework's order; no item
    while fewer than :data:`MIN_PROFILES_SHOWN` have answered (``withheld``)."""

    team_id: int
    people: int
    answered: int
    items: tuple[ItemCoverage, ...]

    #: Profiles needed before the counts are given (:data:`MIN_PROFILES_SHOWN`).
    minimum: ClassVar[int] = MIN_PROFILES_SHOWN

    @property
    def withheld(self) -> bool:
        """Some have answered, too few for counts that hide each person's answers."""
        return 0 < self.answered < self.minimum

    @property
    def gaps(self) -> list[str]:
        return [i.item for i in self.items if i.gap]

    def item(self, key: str) -> ItemCoverage:
        return next(i for i in self.items if i.item == key)


@dataclass(frozen=True)
class ItemGaps:
    """One item across the programme's teams that answered: ``teams_with_gap`` have nobody
    confident, ``teams_with_teacher`` have someone who could teach others."""

    item: str
    teams_with_gap: int
    teams_with_teacher: int


@dataclass(frozen=True)
class SkillGaps:
    """The programme's skills gaps, counts only: ``teams`` in the programme, ``teams_answered``
    with their counts shown (:data:`MIN_PROFILES_SHOWN` profiles or more), ``people_answered``
    on those teams, and :class:`ItemGaps` per item."""

    teams: int
    teams_answered: int
    people_answered: int
    items: tuple[ItemGaps, ...]
    #: Profiles a team needs before it is counted (:data:`MIN_PROFILES_SHOWN`).
    minimum: ClassVar[int] = MIN_PROFILES_SHOWN


# --- who acts ---------------------------------------------------------------------------------


def _whose(session: Session, team: m.Team, person: str | None, what: str) -> int:
    """The person whose profile this is: whoever acts (and only them), or, for a command,
    the person named. They must have a role on the team."""
    actor = access.actor(session)
    if actor is not None and not actor.operator:
        if actor.person_id is None:
            raise AccessDenied(f"{what[:1].upper()}{what[1:]} needs a person: open the "
                               "dashboards with your personal access link.")  # fmt: skip
        if person is not None and people.normalise_key(person) != _key_of(session,
                                                                           actor.person_id):  # fmt: skip
            raise AccessDenied(f"{actor.name} may not see or change someone else's skills "
                               f"profile. {OWN_ONLY}")  # fmt: skip
        if actor.link_id is not None and not people.link_is_live_in(session, actor.link_id):
            raise AccessDenied("Your access link no longer works (revoked or expired): nothing "
                               "was saved. Ask your programme lead for a new one.")  # fmt: skip
        if team.id not in actor.teams:
            raise AccessDenied(f"A skills profile on {team.name} is for the people of "
                               f"{team.name}; {actor.name} has no role there.")  # fmt: skip
        return actor.person_id
    if person is None:
        raise AccessDenied(f"{what[:1].upper()}{what[1:]} is a person's own: open the "
                           "dashboards with your personal access link to fill in yours (a "
                           "command names the person, `person`).")  # fmt: skip
    found = session.scalar(select(m.Person).where(
        m.Person.identity_key == people.normalise_key(person)))  # fmt: skip
    if found is None:
        raise NotFoundError(f"There is no person {person!r}: add them with "
                            "`qiwidgets people add`.")  # fmt: skip
    if session.scalar(select(m.Membership.id).where(
            m.Membership.person_id == found.id, m.Membership.team_id == team.id)) is None:  # fmt: skip
        raise NotFoundError(f"{found.display_name} has no role on {team.name}: give them "
                            "access first (`qiwidgets access grant`).")  # fmt: skip
    return found.id


def _key_of(session: Session, person_id: int) -> str | None:
    return session.scalar(select(m.Person.identity_key).where(m.Person.id == person_id))


# --- a person's own profile --------------------------------------------------------------------


def clean_ratings(ratings: Mapping[str, Any]) -> dict[str, int]:
    """Every item rated with a whole number from 0 to 3, and nothing else; else an
    InvalidRecordError naming each problem."""
    if not isinstance(ratings, Mapping):
        raise InvalidRecordError("The skills profile was not saved: rate every skill.",
                                 [("ratings", "must rate every skill")])  # fmt: skip
    return schemas.whole_scores(
        ratings, m.SKILL_ITEMS, m.SKILL_LEVEL_MIN, m.SKILL_LEVEL_MAX,
        refused=(f"The skills profile was not saved: rate every skill, from {m.SKILL_LEVEL_MIN} "
                 f"to {m.SKILL_LEVEL_MAX}"), noun="a skill of the profile")  # fmt: skip


def _ratings(session: Session, profile_id: int) -> dict[str, int]:
    t = m.skill_ratings
    return dict(session.execute(select(t.c.item, t.c.level).where(t.c.profile_id == profile_id)).all())


def _view(session: Session, profile: m.SkillProfile) -> SkillsProfile:
    order = {k: i for i, k in enumerate(m.SKILL_ITEMS)}
    found = _ratings(session, profile.id)
    return SkillsProfile(profile.team_id, profile.person_id,
                         dict(sorted(found.items(), key=lambda kv: order[kv[0]])),
                         profile.version, profile.updated_at)  # fmt: skip


def my_skills(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None, *,
              person: str | None = None) -> SkillsProfile | None:  # fmt: skip
    """Whoever acts: their own profile on ``team`` (None before they save one). ``person``: a
    command names whose it is; a person acting may name only themselves."""
    with access.Reader(db) as session:
        t = lookup.find_team(session, team, programme)
        pid = _whose(session, t, person, "a skills profile")
        found = session.scalar(select(m.SkillProfile).where(
            m.SkillProfile.person_id == pid, m.SkillProfile.team_id == t.id))  # fmt: skip
        return _view(session, found) if found is not None else None


def save_skills(db: StoreLike, team: TeamRef, ratings: Mapping[str, Any], *,
                version: int | None = None, person: str | None = None,
                programme: ProgrammeRef = None) -> SkillsProfile:  # fmt: skip
    """Save whoever acts' own profile on ``team``: ``ratings`` rates every item of
    :data:`~qiwidgets.store.models.SKILL_ITEMS` from 0 to 3. ``version``: the profile's
    version read (None for a first profile); a profile saved meanwhile (on another page) is
    refused as a stale edit, never saved over."""
    clean = clean_ratings(ratings)
    t_ratings = m.skill_ratings

    def work(session: Session) -> SkillsProfile:
        t = lookup.find_team(session, team, programme)
        pid = _whose(session, t, person, "a skills profile")
        access.lock_teams(session, [t.id])
        profile = session.scalar(select(m.SkillProfile).where(
            m.SkillProfile.person_id == pid, m.SkillProfile.team_id == t.id))  # fmt: skip
        if profile is None:
            profile = m.SkillProfile(person_id=pid, team_id=t.id)
            session.add(profile)
            access.signed(session, profile)
            session.flush()
            have: dict[str, int] = {}
        else:
            if version is None or profile.version != version:
                raise records.stale(session, profile)
            have = _ratings(session, profile.id)
        if have != clean:
            session.execute(delete(t_ratings).where(t_ratings.c.profile_id == profile.id))
            session.execute(insert(t_ratings), [{"profile_id": profile.id, "item": k, "level": v}
                                                for k, v in clean.items()])  # fmt: skip
            if have:
                profile.updated_at = m.utcnow()  # an UPDATE of the row, so the version moves on
                access.signed(session, profile)
                records.flush(session, profile)
        return _view(session, profile)

    return run_in_transaction(work, db)


# --- counts for the team and the programme -----------------------------------------------------


def _coverage(session: Session, team_ids: list[int]) -> dict[int, tuple[int, dict]]:
    """team id -> (profiles, {item: [count per level]})."""
    t = m.skill_ratings
    out: dict[int, tuple[int, dict]] = {tid: (0, {}) for tid in team_ids}
    profiles = dict(session.execute(
        select(m.SkillProfile.team_id, func.count()).where(m.SkillProfile.team_id.in_(team_ids))
        .group_by(m.SkillProfile.team_id)).all())  # fmt: skip
    rows = session.execute(
        select(m.SkillProfile.team_id, t.c.item, t.c.level, func.count())
        .join(m.SkillProfile, m.SkillProfile.id == t.c.profile_id)
        .where(m.SkillProfile.team_id.in_(team_ids))
        .group_by(m.SkillProfile.team_id, t.c.item, t.c.level))  # fmt: skip
    for tid in team_ids:
        out[tid] = (profiles.get(tid, 0), {k: [0] * len(LEVELS) for k in m.SKILL_ITEMS})
    for tid, item, level, n in rows:
        out[tid][1][item][level - m.SKILL_LEVEL_MIN] = n
    return out


def _team_coverage(tid: int, people_n: int, found: tuple[int, dict]) -> SkillCoverage:
    answered, counts = found
    if answered < MIN_PROFILES_SHOWN:  # too few to show counts that hide each one's answers
        return SkillCoverage(tid, people_n, answered, ())
    return SkillCoverage(tid, people_n, answered,
                         tuple(ItemCoverage(k, tuple(counts[k])) for k in m.SKILL_ITEMS))  # fmt: skip


def team_skills(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> SkillCoverage:
    """The team's skills as counts, for whoever may read the team: per item, how many rated
    themselves at each level, and whether it is a gap. No one's own answers: no count at all
    while fewer than :data:`MIN_PROFILES_SHOWN` people have answered."""
    with access.Reader(db) as session:
        t = lookup.team(session, team, programme)
        people_n = session.scalar(select(func.count()).select_from(m.Membership).where(
            m.Membership.team_id == t.id)) or 0  # fmt: skip
        return _team_coverage(t.id, people_n, _coverage(session, [t.id])[t.id])


def programme_skill_gaps(db: StoreLike, programme: ProgrammeRef = None) -> SkillGaps:
    """The gaps across the programme's teams, for whoever may see the whole programme: per
    item, how many teams (of those whose counts are shown) have nobody confident, and how many
    have someone who could teach others. Counts only: no team, no person, no ranking."""
    with access.Reader(db) as session:
        p = lookup.programme(session, programme)
        access.may_programme(session, p.id, write=False)
        ids = list(session.scalars(select(m.Team.id).where(m.Team.programme_id == p.id)))
        found = _coverage(session, ids)
    covered = [c for c in (_team_coverage(tid, 0, v) for tid, v in found.items()) if c.items]
    items = tuple(ItemGaps(k, sum(1 for c in covered if c.item(k).gap),
                           sum(1 for c in covered if c.item(k).teachers > 0))
                  for k in m.SKILL_ITEMS)  # fmt: skip
    return SkillGaps(len(ids), len(covered), sum(c.answered for c in covered), items)


__all__ = ["CONFIDENT_FROM", "LEVELS", "MIN_PROFILES_SHOWN", "OWN_ONLY", "ItemCoverage",
           "ItemGaps", "SkillCoverage", "SkillGaps", "SkillsProfile", "clean_ratings", "my_skills",
           "programme_skill_gaps", "save_skills", "team_skills"]  # fmt: skip
