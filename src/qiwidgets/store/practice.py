"""Learning practice inside the loop (issue M): who does what on a team, help and connection,
the safety pulse, and the systems lenses of a test of change.

Every function takes ``db`` first, as :mod:`qiwidgets.store.repo` does, and checks who acts
(:class:`~qiwidgets.store.people.ActingDB`) before it reads or writes. The rules here are the
store's, so they hold whatever a page sends:

* **Roles on a team** (:func:`team_members`, :func:`set_team_role`): a person's part in the
  team's work (team lead, team member, patient or family partner, sponsor, coach), beside their
  access role. The team's lead (access role ``lead``) or the programme lead sets it.
* **Help** (:func:`ask_for_help`, :func:`answer_help_request`, :func:`close_help_request`,
  :func:`list_help_requests`): a team asks; the request reaches the programme lead, who (or the
  team's coach) answers; the team closes it.
* **Comments** (:func:`add_comment`, :func:`shared_items`): only on a PDSA cycle or a story its
  team shared with the programme, only by a member (or lead) of a team of the same programme,
  or the programme lead, and always signed with their name. Anyone with a role in a team of the
  programme reads the shared records and their comments; nothing a team kept is listed.
* **The safety pulse** (:func:`answer_pulse`, :func:`team_pulse`, :func:`programme_pulse`):
  anonymous and for the team. An answer is added to counts (team x month x item x score) and
  is never stored on its own; the store keeps apart *that* a person answered this month (so
  they answer once), never *what*, and never when. The team's own members read its months that
  have at least :data:`MIN_TEAM_PULSE_RESPONSES` answers; the programme reads only counts pooled
  across teams, and only for a month with at least :data:`MIN_PROGRAMME_PULSE_RESPONSES`
  answers from :data:`MIN_PROGRAMME_PULSE_TEAMS` teams. Nobody, in any role, reads one person's
  answers or one team's pulse from the programme's side.
* **Systems lenses** (:func:`save_pdsa_lens`, :func:`pdsa_lenses`,
  :func:`set_reflection_disciplines`, :func:`reflection_disciplines`, :func:`share_pdsa`): a
  PDSA plan through Engineering Better Care's four perspectives with a risk assessment, and
  Senge's five disciplines as tags on a reflection.

What someone with the database file itself can see is another matter (docs/security.md): the
pulse's counts are kept without time stamps, so that only copies of the file taken before and
after one answer could tell it apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from qiwidgets.errors import AccessDenied, InvalidRecordError, NotFoundError, StoreError
from qiwidgets.store import access, lookup, people, records, schemas
from qiwidgets.store import models as m
from qiwidgets.store.db import StoreLike, run_in_transaction

# The store's common machinery (qiwidgets.store.access, lookup, records, schemas).
_reader, _actor, _may, _may_programme = (
    access.Reader,
    access.actor,
    access.may,
    access.may_programme,
)
_signed, _lock_teams = access.signed, access.lock_teams
_team, _find_team, _programme, _team_name = (lookup.team, lookup.find_team, lookup.programme,
                                             lookup.team_name)  # fmt: skip
_Kind, KINDS, _save = records.Kind, records.KINDS, records.save
_load_for_update, _flush, _stale, _need = (records.load_for_update, records.flush, records.stale,
                                           records.need)  # fmt: skip
_Record, validate, _invalid = schemas.Record, schemas.validate, schemas.invalid
Text, Required = schemas.Text, schemas.Required
TeamRef, ProgrammeRef = lookup.TeamRef, lookup.ProgrammeRef

# --- rules, stated once ---------------------------------------------------------------------

#: A team sees a month of its pulse only with at least this many answers: with two, each of
#: the two could read the other's answers from the results and their own; with three, no one
#: can (each learns only the sum of the other two).
MIN_TEAM_PULSE_RESPONSES = 3
#: The programme sees a month's pulse, pooled across teams, only with at least this many
#: answers: the NHS Staff Survey does not report results for a group with fewer than 11
#: responses (NHS Staff Survey Coordination Centre, technical guidance on reporting).
MIN_PROGRAMME_PULSE_RESPONSES = 11
#: ... and only from at least this many teams, each with enough answers to be shown to its own
#: members: with two teams, a member of one could subtract their team's results and read the
#: other team's.
MIN_PROGRAMME_PULSE_TEAMS = 3
#: The longest comment or request for help, in characters.
MAX_TEXT = 2000

PULSE_ACCESS = (
    "The safety pulse is the team's own: only its members see its results, and the programme "
    "sees only what is pooled across teams."
)


class PulseError(StoreError):
    """A pulse answer that cannot be taken (answered already this month, not a member, ...)."""


class CommentError(StoreError):
    """A comment that cannot be added (the record is not shared, ...)."""


# --- who acts ---------------------------------------------------------------------------------


def _live(session: Session, actor: people.Actor, what: str) -> None:
    if actor.link_id is not None and not people.link_is_live_in(session, actor.link_id):
        raise AccessDenied(f"Your access link no longer works (revoked or expired): {what}. "
                           "Ask your programme lead for a new one.")  # fmt: skip


def _person(session: Session, what: str) -> people.Actor:
    """Whoever acts, who must be a person (a comment or a pulse answer is theirs)."""
    actor = _actor(session)
    if actor is None or actor.person_id is None:
        raise AccessDenied(f"{what[:1].upper()}{what[1:]} needs a person: open the dashboards "
                           "with your personal access link.")  # fmt: skip
    _live(session, actor, f"{what} was not saved")
    return actor


def _team_role_of(session: Session, person_id: int, team_id: int) -> str | None:
    return session.scalar(select(m.Membership.team_role).where(
        m.Membership.person_id == person_id, m.Membership.team_id == team_id))  # fmt: skip


def _may_lead(session: Session, team: m.Team, what: str) -> None:
    """The team's lead (access role ``lead``) or the programme lead, or nobody in particular."""
    actor = _actor(session)
    if actor is None or actor.operator:
        return
    _may(session, team, write=True)
    if actor.programmes.get(team.programme_id) in people.WRITING_PROGRAMME_ROLES:
        return
    if actor.teams.get(team.id) == "lead":
        return
    raise AccessDenied(f"Only {team.name}'s lead or the programme lead may {what}.")


def _may_answer(session: Session, team: m.Team) -> None:
    """The programme lead, or the team's coach (a member with the team role ``coach``)."""
    actor = _actor(session)
    if actor is None or actor.operator:
        return
    _live(session, actor, "nothing was saved")
    if actor.programmes.get(team.programme_id) in people.WRITING_PROGRAMME_ROLES:
        return
    if actor.person_id is not None and _team_role_of(session, actor.person_id, team.id) == "coach":
        return
    raise AccessDenied(f"{actor.name} may not answer {team.name}'s requests for help: that is "
                       "for the programme lead and the team's coach.")  # fmt: skip


def _may_read_shared(session: Session, programme_id: int) -> None:
    """Anyone with a role in the programme or in one of its teams reads what teams shared."""
    actor = _actor(session)
    if actor is None or actor.operator or programme_id in actor.programmes:
        return
    team_ids = [t for t in actor.teams]
    if team_ids and session.scalar(select(m.Team.id).where(
            m.Team.id.in_(team_ids), m.Team.programme_id == programme_id).limit(1)) is not None:  # fmt: skip
        return
    raise AccessDenied(f"{actor.name} may not see what the programme's teams shared: that is "
                       "for the people of its teams.")  # fmt: skip


# --- roles on a team ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamMember:
    """A person of a team: their access role (member, lead, viewer) and their part in the
    team's work (``team_role``, one of :data:`~qiwidgets.store.models.TEAM_MEMBER_ROLES`, or
    None when not said yet)."""

    person_id: int
    key: str
    name: str
    access: str
    team_role: str | None
    version: int


def _members(session: Session, team_id: int) -> list[TeamMember]:
    rows = session.execute(
        select(m.Membership, m.Person).join(m.Person, m.Person.id == m.Membership.person_id)
        .where(m.Membership.team_id == team_id)
    ).all()  # fmt: skip
    order = {r: i for i, r in enumerate(m.TEAM_MEMBER_ROLES)}
    members = [TeamMember(p.id, p.identity_key, p.display_name, mem.role, mem.team_role,
                          mem.version) for mem, p in rows]  # fmt: skip
    return sorted(members, key=lambda x: (order.get(x.team_role, len(order)), x.name.casefold()))


def team_members(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
                 ) -> list[TeamMember]:  # fmt: skip
    """A team's people by their part in its work (team lead first), then by name."""
    with _reader(db) as session:
        return _members(session, _team(session, team, programme).id)


def set_team_role(db: StoreLike, key: str, team: TeamRef, team_role: str | None, *,
                  programme: ProgrammeRef = None) -> TeamMember:  # fmt: skip
    """Say what part ``key`` plays in ``team``'s work (None: not said). The person must have
    access to the team already (``qiwidgets access grant``)."""
    if team_role is not None and team_role not in m.TEAM_MEMBER_ROLES:
        raise InvalidRecordError(
            f"`team_role` must be one of {', '.join(map(repr, m.TEAM_MEMBER_ROLES))}, got "
            f"{team_role!r}.", [("team_role", "is not a role on a team")])  # fmt: skip

    def work(session: Session) -> TeamMember:
        t = _find_team(session, team, programme)
        _may_lead(session, t, "say who plays which part on the team")
        person = session.scalar(select(m.Person).where(
            m.Person.identity_key == people.normalise_key(key)))  # fmt: skip
        if person is None:
            raise NotFoundError(f"There is no person {key!r}: add them with "
                                "`qiwidgets people add`.")  # fmt: skip
        row = session.scalar(select(m.Membership).where(
            m.Membership.person_id == person.id, m.Membership.team_id == t.id))  # fmt: skip
        if row is None:
            raise NotFoundError(f"{person.display_name} has no access to {t.name} yet: give it "
                                "first (`qiwidgets access grant`), then their role on the team.")  # fmt: skip
        if row.team_role != team_role:
            row.team_role = team_role
            session.flush()
        return next(x for x in _members(session, t.id) if x.person_id == person.id)

    return run_in_transaction(work, db)


def coaches(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
            ) -> list[TeamMember]:  # fmt: skip
    """The team's coach (or coaches)."""
    return [x for x in team_members(db, team, programme) if x.team_role == "coach"]


def programme_members(db: StoreLike, programme: ProgrammeRef = None
                      ) -> dict[int, list[TeamMember]]:  # fmt: skip
    """Every team's people (team id -> :class:`TeamMember` list), for the programme lead."""
    with _reader(db) as session:
        p = _programme(session, programme)
        _may_programme(session, p.id, write=False)
        ids = list(session.scalars(select(m.Team.id).where(m.Team.programme_id == p.id)))
        return {tid: _members(session, tid) for tid in ids}


# --- help -------------------------------------------------------------------------------------


class HelpRequestIn(_Record):
    """A request for help: what the team needs (``request``), asked on ``raised_on``."""

    team_id: int
    raised_on: dt.date
    request: Annotated[Required, Field(max_length=MAX_TEXT)]


KINDS[m.HelpRequest] = _Kind("request for help", True,
                             lambda s, r: f"{_team_name(s, r.team_id)}, {r.raised_on}")  # fmt: skip
KINDS[m.Comment] = _Kind("comment", True, lambda s, r: _team_name(s, r.team_id))
KINDS[m.PDSALens] = _Kind("systems view of a PDSA plan", True,
                          lambda s, r: _team_name(s, r.team_id))  # fmt: skip


def ask_for_help(db: StoreLike, data: Mapping[str, Any], *, id: int | None = None,
                 version: int | None = None) -> m.HelpRequest:  # fmt: skip
    """Ask for help (``HelpRequestIn`` fields), or change the words of a request (``id`` and
    the ``version`` read). Whoever asks is recorded with it."""

    def check(session, values, record):
        _need(session, m.Team, values.team_id, "request for help", "team_id")
        if record is not None and record.status != "open":
            raise _invalid("request for help", "request", "This request has been answered or "
                           "closed already: ask again with a new request.")  # fmt: skip

    def links(session, record, values):
        actor = _actor(session)
        if record.raised_by_id is None and actor is not None:
            record.raised_by_id = actor.person_id

    return _save(db, m.HelpRequest, HelpRequestIn, data, id, version, check, links)


def _change_request(db: StoreLike, id: int, version: int, change) -> m.HelpRequest:
    def work(session: Session) -> m.HelpRequest:
        record = _load_for_update(session, m.HelpRequest, id, version)
        change(session, record, session.get(m.Team, record.team_id))
        _signed(session, record)
        _flush(session, record)
        return record

    return run_in_transaction(work, db)


def answer_help_request(db: StoreLike, id: int, *, version: int, response: str,
                        today: dt.date | None = None) -> m.HelpRequest:  # fmt: skip
    """The programme lead's (or the team's coach's) answer to a request for help."""
    text = (response or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise _invalid("answer", "response", f"Write an answer of 1 to {MAX_TEXT} characters.")

    def change(session, record, team):
        _may_answer(session, team)
        actor = _actor(session)
        record.response, record.status = text, "answered"
        record.responded_on = today or dt.date.today()
        record.responded_by_id = actor.person_id if actor is not None else None

    return _change_request(db, id, version, change)


def close_help_request(db: StoreLike, id: int, *, version: int) -> m.HelpRequest:
    """The team closes its request (it has the help it needed, or no longer needs it)."""

    def change(session, record, team):
        _may(session, team, write=True)
        record.status = "closed"

    return _change_request(db, id, version, change)


def list_help_requests(db: StoreLike, team: TeamRef | None = None,
                       programme: ProgrammeRef = None, *,
                       status: Iterable[str] | None = None) -> list[m.HelpRequest]:  # fmt: skip
    """A team's requests for help (``team``), or every team's of the programme (for the
    programme lead), newest first; ``status`` keeps only those (e.g. ``("open",)``)."""
    with _reader(db) as session:
        stmt = select(m.HelpRequest).options(selectinload(m.HelpRequest.team))
        if team is not None:
            stmt = stmt.where(m.HelpRequest.team_id == _team(session, team, programme).id)
        else:
            p = _programme(session, programme)
            _may_programme(session, p.id, write=False)
            stmt = stmt.join(m.Team, m.Team.id == m.HelpRequest.team_id).where(
                m.Team.programme_id == p.id)  # fmt: skip
        if status is not None:
            stmt = stmt.where(m.HelpRequest.status.in_(list(status)))
        stmt = stmt.order_by(m.HelpRequest.raised_on.desc(), m.HelpRequest.id.desc())
        return list(session.scalars(stmt))


def person_names(db: StoreLike, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of people by id (who asked, answered, commented)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    with _reader(db) as session:
        return dict(session.execute(select(m.Person.id, m.Person.display_name).where(
            m.Person.id.in_(wanted))).all())  # fmt: skip


# --- comments on what teams shared --------------------------------------------------------------


class CommentIn(_Record):
    """A comment on a shared PDSA cycle (``pdsa_id``) or a shared story (``reflection_id``);
    ``author_team_id``: the commenter's team (empty for the programme lead)."""

    pdsa_id: int | None = None
    reflection_id: int | None = None
    author_team_id: int | None = None
    text: Annotated[Required, Field(max_length=MAX_TEXT)]

    @model_validator(mode="after")
    def _one_target(self):
        if (self.pdsa_id is None) == (self.reflection_id is None):
            raise ValueError("A comment is on one PDSA cycle (`pdsa_id`) or one story "
                             "(`reflection_id`).")  # fmt: skip
        return self


def _target(session: Session, values: CommentIn) -> Any:
    model, id = ((m.PDSACycle, values.pdsa_id) if values.pdsa_id is not None
                 else (m.Reflection, values.reflection_id))  # fmt: skip
    record = session.get(model, id)
    what = "PDSA cycle" if model is m.PDSACycle else "story"
    if record is None:
        raise NotFoundError(f"There is no {what} with id {id}.")
    if not record.shared or (model is m.Reflection and not (record.story or "").strip()):
        raise CommentError(f"This {what} has not been shared with the programme: only what a "
                           "team shares can be commented on.")  # fmt: skip
    return record


def _author_team(session: Session, actor: people.Actor, programme_id: int,
                 wanted: int | None) -> int | None:  # fmt: skip
    """The team the commenter comments from: one of theirs in the programme where they save
    (member or lead); None for the programme lead commenting as such."""
    mine = list(session.scalars(select(m.Team.id).where(
        m.Team.programme_id == programme_id,
        m.Team.id.in_([t for t, role in actor.teams.items()
                       if role in people.WRITING_TEAM_ROLES]))))  # fmt: skip
    lead = actor.programmes.get(programme_id) in people.WRITING_PROGRAMME_ROLES
    if wanted is not None and wanted in mine:
        return wanted
    if wanted is None and len(mine) == 1:
        return mine[0]
    if lead:  # the programme lead comments as such
        return None
    if not mine:
        raise AccessDenied(f"{actor.name} may not comment here: comments are for the members "
                           "of the programme's teams and its lead.")  # fmt: skip
    if wanted is not None:
        raise AccessDenied(f"{actor.name} comments as a member of their own team, and team "
                           f"{wanted} is not one of theirs.")  # fmt: skip
    raise _invalid("comment", "author_team_id", "Say which of your teams you comment from.")


def add_comment(db: StoreLike, data: Mapping[str, Any]) -> m.Comment:
    """Comment on a shared PDSA cycle or story (``CommentIn`` fields), as whoever acts.

    Refused unless the record is shared with the programme and the commenter is a member (or
    lead) of a team of the same programme, or its programme lead."""
    values = validate(CommentIn, data, "comment")

    def work(session: Session) -> m.Comment:
        actor = _person(session, "a comment")
        target = _target(session, values)
        team = session.get(m.Team, target.team_id)
        author_team = _author_team(session, actor, team.programme_id, values.author_team_id)
        comment = m.Comment(team_id=team.id, pdsa_id=values.pdsa_id,
                            reflection_id=values.reflection_id, author_id=actor.person_id,
                            author_team_id=author_team, text=values.text)  # fmt: skip
        session.add(comment)
        _signed(session, comment)
        session.flush()
        return comment

    return run_in_transaction(work, db)


def remove_comment(db: StoreLike, id: int, *, version: int) -> None:
    """Remove a comment at the ``version`` read. Its author may, and the programme lead, who
    looks after what the programme shares (or nobody in particular, a command); nobody else,
    the team commented on included."""

    def work(session: Session) -> None:
        record = records.load_for_update(session, m.Comment, id, version)
        actor = _actor(session)
        if actor is not None and not actor.operator:
            actor = _person(session, "removing a comment")
            team = session.get(m.Team, record.team_id)
            lead = actor.programmes.get(team.programme_id) in people.WRITING_PROGRAMME_ROLES
            if record.author_id != actor.person_id and not lead:
                raise AccessDenied(f"{actor.name} may remove only their own comments: ask "
                                   "whoever wrote this one, or the programme lead.")  # fmt: skip
        session.delete(record)
        records.flush(session, record)

    run_in_transaction(work, db)


@dataclass(frozen=True)
class SharedItem:
    """A PDSA cycle or a story a team shared with the programme, with its comments (oldest
    first). ``kind`` is ``pdsa`` or ``story``; ``record`` the store's record."""

    kind: str
    record: Any
    team_id: int
    team_name: str
    comments: tuple = ()

    @property
    def key(self) -> str:
        """``pdsa:<id>`` or ``story:<id>``: how a page names the item."""
        return f"{self.kind}:{self.record.id}"


@dataclass(frozen=True)
class SharedItems:
    """What the programme's teams shared, for a reader of the programme (:func:`shared_items`).

    ``names``: team id -> name; ``people``: person id -> name (the commenters)."""

    items: tuple[SharedItem, ...]
    names: Mapping[int, str] = field(default_factory=dict)
    people: Mapping[int, str] = field(default_factory=dict)

    def find(self, key: str) -> SharedItem | None:
        return next((i for i in self.items if i.key == key), None)


def shared_items(db: StoreLike, programme: ProgrammeRef = None, *,
                 team: TeamRef | None = None) -> SharedItems:  # fmt: skip
    """The PDSA cycles and stories the programme's teams shared, each with its comments;
    ``team``: that team's shared records only (their comments from other teams). Readable by
    anyone with a role in the programme or one of its teams; nothing a team kept is listed."""
    with _reader(db) as session:
        if team is not None:
            t = _find_team(session, team, programme)
            p = session.get(m.Programme, t.programme_id)
        else:
            t, p = None, _programme(session, programme)
        _may_read_shared(session, p.id)
        names = dict(session.execute(select(m.Team.id, m.Team.name).where(
            m.Team.programme_id == p.id)).all())  # fmt: skip
        team_ids = [t.id] if t is not None else list(names)
        cycles = list(session.scalars(
            select(m.PDSACycle).where(m.PDSACycle.team_id.in_(team_ids), m.PDSACycle.shared)
            .options(selectinload(m.PDSACycle.change_idea), selectinload(m.PDSACycle.measures))
            .order_by(m.PDSACycle.do_start.desc(), m.PDSACycle.id.desc())))  # fmt: skip
        stories = [r for r in session.scalars(
            select(m.Reflection).where(m.Reflection.team_id.in_(team_ids), m.Reflection.shared)
            .order_by(m.Reflection.date.desc(), m.Reflection.id.desc())) if (r.story or "").strip()]  # fmt: skip
        comments = list(session.scalars(select(m.Comment).where(m.Comment.team_id.in_(team_ids))
                                        .order_by(m.Comment.created_at, m.Comment.id)))  # fmt: skip
        authors = dict(session.execute(select(m.Person.id, m.Person.display_name).where(
            m.Person.id.in_({c.author_id for c in comments if c.author_id}))).all())  # fmt: skip
    on_pdsa: dict[int, list] = {}
    on_story: dict[int, list] = {}
    for c in comments:
        (on_pdsa if c.pdsa_id is not None else on_story).setdefault(
            c.pdsa_id if c.pdsa_id is not None else c.reflection_id, []).append(c)  # fmt: skip
    items = [SharedItem("pdsa", c, c.team_id, names[c.team_id], tuple(on_pdsa.get(c.id, [])))
             for c in cycles]  # fmt: skip
    items += [SharedItem("story", r, r.team_id, names[r.team_id], tuple(on_story.get(r.id, [])))
              for r in stories]  # fmt: skip
    return SharedItems(tuple(items), names, authors)


def share_pdsa(db: StoreLike, pdsa_id: int, shared: bool, *, version: int) -> m.PDSACycle:
    """Share a PDSA cycle with the programme (``shared=True``: other teams may read it and
    comment), or keep it with the team again; ``version``: the cycle's version read."""
    if not isinstance(shared, bool):
        raise _invalid("PDSA cycle", "shared", f"`shared` must be true or false, got {shared!r}.")

    def work(session: Session) -> m.PDSACycle:
        cycle = _load_for_update(session, m.PDSACycle, pdsa_id, version)
        _may(session, cycle, write=True)
        if cycle.shared != shared:
            cycle.shared = shared
            _signed(session, cycle)
            _flush(session, cycle)
        return cycle

    return run_in_transaction(work, db)


# --- the safety pulse ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PulseMonth:
    """A month of the pulse: how many answered (``responses``; ``teams`` pooled for the
    programme) and, when enough did, the counts per item and score (``counts[item][score]``);
    ``counts`` is None when the month has too few answers to be shown."""

    month: dt.date
    responses: int
    teams: int = 1
    counts: Mapping[str, Mapping[int, int]] | None = None

    @property
    def shown(self) -> bool:
        return self.counts is not None


def _month(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value.strip()[:7] + "-01")
    if not isinstance(value, dt.date):
        raise _invalid("pulse answer", "month", f"`month` must be a date, got {value!r}.")
    return value.replace(day=1)


def _clean_answers(answers: Mapping[str, Any]) -> dict[str, int]:
    if not isinstance(answers, Mapping):
        raise _invalid("pulse answer", "answers", "Answer every statement of the pulse.")
    return schemas.whole_scores(
        answers, m.PULSE_ITEMS, m.PULSE_SCORE_MIN, m.PULSE_SCORE_MAX,
        refused=f"The pulse answer was not saved: answer every statement, 1 to {m.PULSE_SCORE_MAX}",
        noun="a statement of the pulse")  # fmt: skip


def answer_pulse(db: StoreLike, team: TeamRef, answers: Mapping[str, Any], *,
                 month: Any = None, programme: ProgrammeRef = None) -> int:  # fmt: skip
    """Add one person's answers to a team's pulse for ``month`` (default: this month); returns
    how many have answered that month. Only a member (or lead) of the team answers, once a
    month; the answers are only added to the counts."""
    clean = _clean_answers(answers)
    when = _month(month if month is not None else dt.date.today())
    if when > dt.date.today().replace(day=1):
        raise _invalid("pulse answer", "month", "The pulse is answered for this month or an "
                       f"earlier one, not for {when:%B %Y}.")  # fmt: skip

    def work(session: Session) -> int:
        actor = _person(session, "a pulse answer")
        t = _find_team(session, team, programme)
        if actor.teams.get(t.id) not in people.WRITING_TEAM_ROLES:
            raise AccessDenied(f"The safety pulse of {t.name} is answered by its members only.")
        _lock_teams(session, [t.id])
        done = session.scalar(select(m.PulseResponse.id).where(
            m.PulseResponse.team_id == t.id, m.PulseResponse.month == when,
            m.PulseResponse.person_id == actor.person_id))  # fmt: skip
        if done is not None:
            raise PulseError(f"You have answered {t.name}'s pulse for {when:%B %Y} already: "
                             "thank you. The next one opens next month.")  # fmt: skip
        session.execute(insert(m.PulseResponse).values(team_id=t.id, month=when,
                                                       person_id=actor.person_id))  # fmt: skip
        _add_counts(session, t.id, when, clean)
        return session.scalar(select(func.count()).select_from(m.PulseResponse).where(
            m.PulseResponse.team_id == t.id, m.PulseResponse.month == when))  # fmt: skip

    return run_in_transaction(work, db)


def _add_counts(session: Session, team_id: int, month: dt.date, answers: Mapping[str, int],
                n: int = 1) -> None:  # fmt: skip
    """Add ``n`` answers of these scores to the counts (the only place answers are kept)."""
    for item, score in answers.items():
        key = (m.PulseCount.team_id == team_id, m.PulseCount.month == month,
               m.PulseCount.item == item, m.PulseCount.score == score)  # fmt: skip
        changed = session.execute(update(m.PulseCount).where(*key).values(
            count=m.PulseCount.count + n)).rowcount  # fmt: skip
        if not changed:
            session.execute(insert(m.PulseCount).values(team_id=team_id, month=month, item=item,
                                                        score=score, count=n))  # fmt: skip


def _counts(session: Session, team_ids: list[int]) -> dict[tuple[int, dt.date], dict]:
    out: dict[tuple[int, dt.date], dict] = {}
    for tid, month, item, score, count in session.execute(
        select(m.PulseCount.team_id, m.PulseCount.month, m.PulseCount.item, m.PulseCount.score,
               m.PulseCount.count).where(m.PulseCount.team_id.in_(team_ids))):  # fmt: skip
        out.setdefault((tid, month), {}).setdefault(item, {})[score] = count
    return out


def _responses(counts: Mapping[str, Mapping[int, int]]) -> int:
    """How many answered: every answer covers every item, so any item's total (the least,
    should a count have been edited by hand)."""
    totals = [sum(counts.get(item, {}).values()) for item in m.PULSE_ITEMS]
    return min(totals) if totals else 0


def team_pulse(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
               ) -> list[PulseMonth]:  # fmt: skip
    """A team's pulse month by month, for the team's own people (any role on the team): the
    counts of a month with fewer than :data:`MIN_TEAM_PULSE_RESPONSES` answers are withheld.
    Refused to anyone else, the programme lead included (:data:`PULSE_ACCESS`)."""
    with _reader(db) as session:
        t = _find_team(session, team, programme)
        actor = _actor(session)
        if actor is not None and t.id not in actor.teams:
            raise AccessDenied(PULSE_ACCESS)
        found = _counts(session, [t.id])
    out = []
    for (_, month), counts in sorted(found.items()):
        n = _responses(counts)
        out.append(PulseMonth(month, n, 1, counts if n >= MIN_TEAM_PULSE_RESPONSES else None))
    return out


def programme_pulse(db: StoreLike, programme: ProgrammeRef = None) -> list[PulseMonth]:
    """The pulse pooled across the programme's teams, month by month, for whoever may see the
    whole programme. A team's month counts only when its own members could see it
    (:data:`MIN_TEAM_PULSE_RESPONSES`); a month is shown only with at least
    :data:`MIN_PROGRAMME_PULSE_RESPONSES` answers from :data:`MIN_PROGRAMME_PULSE_TEAMS`
    teams, and otherwise gives no count at all. No team's own counts leave this function."""
    with _reader(db) as session:
        p = _programme(session, programme)
        _may_programme(session, p.id, write=False)
        ids = list(session.scalars(select(m.Team.id).where(m.Team.programme_id == p.id)))
        found = _counts(session, ids)
    pooled: dict[dt.date, dict] = {}
    for (_, month), counts in found.items():
        n = _responses(counts)
        entry = pooled.setdefault(month, {"n": 0, "teams": 0, "counts": {}})
        if n < MIN_TEAM_PULSE_RESPONSES:
            continue
        entry["n"] += n
        entry["teams"] += 1
        for item, scores in counts.items():
            for score, c in scores.items():
                slot = entry["counts"].setdefault(item, {})
                slot[score] = slot.get(score, 0) + c
    out = []
    for month in sorted(pooled):
        e = pooled[month]
        enough = (e["n"] >= MIN_PROGRAMME_PULSE_RESPONSES
                  and e["teams"] >= MIN_PROGRAMME_PULSE_TEAMS)  # fmt: skip
        # under the minimum: not even how many answered, which would tell a small team's size
        out.append(PulseMonth(month, e["n"] if enough else 0, e["teams"] if enough else 0,
                              e["counts"] if enough else None))  # fmt: skip
    return out


def pulse_answered(db: StoreLike, team: TeamRef, month: Any = None,
                   programme: ProgrammeRef = None) -> bool:  # fmt: skip
    """Whether whoever acts has answered ``team``'s pulse for ``month`` (default: this one)."""
    when = _month(month if month is not None else dt.date.today())
    with _reader(db) as session:
        actor = _actor(session)
        if actor is None or actor.person_id is None:
            return False
        t = _find_team(session, team, programme)
        return session.scalar(select(m.PulseResponse.id).where(
            m.PulseResponse.team_id == t.id, m.PulseResponse.month == when,
            m.PulseResponse.person_id == actor.person_id)) is not None  # fmt: skip


# --- systems lenses -------------------------------------------------------------------------------


def _risk_rating(v: int | None) -> int | None:
    if v is not None and not m.RISK_RATING_MIN <= v <= m.RISK_RATING_MAX:
        raise ValueError(f"must be from {m.RISK_RATING_MIN} to {m.RISK_RATING_MAX}")
    return v


RiskRating = Annotated[int | None, AfterValidator(_risk_rating)]


class PDSALensIn(_Record):
    """A PDSA plan through Engineering Better Care's four perspectives (``people``,
    ``systems``, ``design``, ``risk``) and a risk assessment of the change: ``risk_likelihood``
    and ``risk_consequence`` rated 1-5, ``risk_controls`` what will keep it down."""

    team_id: int
    pdsa_id: int
    people: Text = None
    systems: Text = None
    design: Text = None
    risk: Text = None
    risk_likelihood: RiskRating = None
    risk_consequence: RiskRating = None
    risk_controls: Text = None

    @model_validator(mode="after")
    def _both_ratings(self):
        if (self.risk_likelihood is None) != (self.risk_consequence is None):
            raise ValueError("Rate the risk's likelihood and its consequence together (1 to 5 "
                             "each), or neither.")  # fmt: skip
        return self


def save_pdsa_lens(db: StoreLike, data: Mapping[str, Any], *, id: int | None = None,
                   version: int | None = None) -> m.PDSALens:  # fmt: skip
    """Create or change a systems view of a PDSA plan (``PDSALensIn`` fields); one per cycle (a
    second new one for the same cycle is refused as a stale edit)."""

    def check(session, values, record):
        cycle = _need(session, m.PDSACycle, values.pdsa_id, "systems view of a PDSA plan",
                      "pdsa_id")  # fmt: skip
        if cycle.team_id != values.team_id:
            raise _invalid("systems view of a PDSA plan", "pdsa_id",
                           "`pdsa_id` must be a PDSA cycle of the same team.")  # fmt: skip
        other = session.scalar(select(m.PDSALens).where(m.PDSALens.pdsa_id == values.pdsa_id))
        if other is not None and (record is None or other.id != record.id):
            raise _stale(session, other)

    return _save(db, m.PDSALens, PDSALensIn, data, id, version, check)


def pdsa_lenses(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
                ) -> dict[int, m.PDSALens]:  # fmt: skip
    """A team's systems lenses by PDSA cycle id."""
    with _reader(db) as session:
        t = _team(session, team, programme)
        return {x.pdsa_id: x for x in session.scalars(
            select(m.PDSALens).where(m.PDSALens.team_id == t.id))}  # fmt: skip


def set_reflection_disciplines(db: StoreLike, reflection_id: int, disciplines: Iterable[str], *,
                               version: int) -> m.Reflection:  # fmt: skip
    """Tag a reflection with the Senge disciplines it speaks to (replacing its tags); the
    reflection's ``version`` read is checked and moves on, as for any edit of it."""
    wanted = sorted(set(disciplines))
    wrong = [d for d in wanted if d not in m.SENGE_DISCIPLINES]
    if wrong:
        raise _invalid("reflection", "disciplines", f"`disciplines` must be among "
                       f"{', '.join(map(repr, m.SENGE_DISCIPLINES))}, got {wrong[0]!r}.")  # fmt: skip
    table = m.reflection_disciplines

    def work(session: Session) -> m.Reflection:
        record = _load_for_update(session, m.Reflection, reflection_id, version)
        _may(session, record, write=True)
        have = sorted(session.scalars(select(table.c.discipline).where(
            table.c.reflection_id == record.id)))  # fmt: skip
        if have != wanted:
            session.execute(delete(table).where(table.c.reflection_id == record.id))
            if wanted:
                session.execute(insert(table), [{"reflection_id": record.id, "discipline": d}
                                                for d in wanted])  # fmt: skip
            record.updated_at = m.utcnow()  # an UPDATE of the row, so the version moves on
            _signed(session, record)
            _flush(session, record)
        return record

    return run_in_transaction(work, db)


def reflection_disciplines(db: StoreLike, team: TeamRef | None = None,
                           programme: ProgrammeRef = None) -> dict[int, tuple[str, ...]]:  # fmt: skip
    """The Senge tags of a team's reflections (or, without ``team``, of every team's, for the
    programme): reflection id -> disciplines in the order of the five."""
    table = m.reflection_disciplines
    with _reader(db) as session:
        stmt = select(table.c.reflection_id, table.c.discipline).join(
            m.Reflection, m.Reflection.id == table.c.reflection_id)  # fmt: skip
        if team is not None:
            stmt = stmt.where(m.Reflection.team_id == _team(session, team, programme).id)
        else:
            p = _programme(session, programme)
            _may_programme(session, p.id, write=False)
            stmt = stmt.join(m.Team, m.Team.id == m.Reflection.team_id).where(
                m.Team.programme_id == p.id)  # fmt: skip
        out: dict[int, list[str]] = {}
        for rid, d in session.execute(stmt):
            out.setdefault(rid, []).append(d)
    order = {d: i for i, d in enumerate(m.SENGE_DISCIPLINES)}
    return {rid: tuple(sorted(ds, key=order.__getitem__)) for rid, ds in out.items()}


__all__ = [
    "MAX_TEXT", "MIN_PROGRAMME_PULSE_RESPONSES", "MIN_PROGRAMME_PULSE_TEAMS",
    "MIN_TEAM_PULSE_RESPONSES", "PULSE_ACCESS", "CommentError", "CommentIn", "HelpRequestIn",
    "PDSALensIn", "PulseError", "PulseMonth", "SharedItem", "SharedItems", "TeamMember",
    "add_comment", "answer_help_request", "answer_pulse", "ask_for_help", "close_help_request",
    "coaches", "list_help_requests", "pdsa_lenses", "person_names", "programme_members",
    "programme_pulse", "pulse_answered", "reflection_disciplines", "remove_comment",
    "save_pdsa_lens", "set_reflection_disciplines", "set_team_role", "share_pdsa", "shared_items",
    "team_members", "team_pulse",
]  # fmt: skip
