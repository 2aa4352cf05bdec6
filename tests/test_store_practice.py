"""Learning practice in the store (issue M, qiwidgets.store.practice), on SQLite and PostgreSQL:
roles on a team, help, comments on what teams shared, the safety pulse and the systems lenses.
Every rule is the store's: each test acts as a person (an ActingDB), as a dashboard kernel does.
"""

from __future__ import annotations

import datetime as dt

import pytest
from practice_people import as_, programme_with_people
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from qiwidgets.errors import AccessDenied, InvalidRecordError, StaleEditError
from qiwidgets.store import db as store_db
from qiwidgets.store import models as m
from qiwidgets.store import people, practice, repo

ALL_AGREE = {item: 4 for item in m.PULSE_ITEMS}


@pytest.fixture
def prog(store_url):
    """Two programmes: FALLS with wards A, B, C, D; OTHER with ward X. People: Amy leads A,
    Ben is a member of A, Vic views A, Cat is a member of B, Col coaches A (viewer access), Lee
    leads the programme, Xan is a member of X (another programme)."""
    return programme_with_people(store_url, "ABCD", (
        ("amy", "Amy", "lead", "A"), ("ben", "Ben", "member", "A"),
        ("vic", "Vic", "viewer", "A"), ("cat", "Cat", "member", "B"),
        ("col", "Col", "viewer", "A"), ("xan", "Xan", "member", "X"),
        ("lee", "Lee", "programme_lead", None),
    ))


# --- roles on a team ---------------------------------------------------------------------------


def test_the_team_lead_says_who_plays_which_part(prog):
    db, *_ = prog
    practice.set_team_role(as_(db, "amy"), "amy", "A", "team_lead")
    practice.set_team_role(as_(db, "lee"), "col", "A", "coach")
    practice.set_team_role(db, "ben", "A", "patient_partner")  # a command: nobody in particular
    members = practice.team_members(as_(db, "vic"), "A")
    assert [(x.name, x.access, x.team_role) for x in members] == [
        ("Amy", "lead", "team_lead"), ("Ben", "member", "patient_partner"),
        ("Col", "viewer", "coach"), ("Vic", "viewer", None)]  # fmt: skip
    assert [c.name for c in practice.coaches(db, "A")] == ["Col"]
    with pytest.raises(AccessDenied, match="Only Ward A's lead or the programme lead"):
        practice.set_team_role(as_(db, "ben"), "ben", "A", "team_lead")
    with pytest.raises(AccessDenied, match="has no access to Ward A"):
        practice.team_members(as_(db, "cat"), "A")
    with pytest.raises(InvalidRecordError, match="`team_role` must be one of"):
        practice.set_team_role(db, "ben", "A", "boss")
    with pytest.raises(practice.NotFoundError, match="Cat has no access to Ward A yet"):
        practice.set_team_role(db, "cat", "A", "team_member")
    practice.set_team_role(db, "ben", "A", None)
    assert next(x for x in practice.team_members(db, "A") if x.name == "Ben").team_role is None


# --- help -------------------------------------------------------------------------------------


def test_a_request_for_help_reaches_the_programme_lead_and_the_coach_answers(prog):
    db, _, t = prog
    practice.set_team_role(db, "col", "A", "coach")
    asked = practice.ask_for_help(as_(db, "ben"), {"team_id": t["A"].id, "raised_on": "2026-10-02",
                                                   "request": "How do we audit at night?"})  # fmt: skip
    assert asked.status == "open" and asked.raised_by_id == people.get_person(db, "ben").id
    with pytest.raises(AccessDenied, match="but not change them"):
        practice.ask_for_help(as_(db, "vic"), {"team_id": t["A"].id, "raised_on": "2026-10-02",
                                               "request": "A viewer asks"})  # fmt: skip
    with pytest.raises(AccessDenied, match="has no access to Ward A"):
        practice.ask_for_help(as_(db, "cat"), {"team_id": t["A"].id, "raised_on": "2026-10-02",
                                               "request": "Another team asks for A"})  # fmt: skip
    lead_sees = practice.list_help_requests(as_(db, "lee"), programme="FALLS", status=("open",))
    assert [(r.team.code, r.request) for r in lead_sees] == [("A", "How do we audit at night?")]
    with pytest.raises(AccessDenied, match="may not see the whole programme"):
        practice.list_help_requests(as_(db, "ben"), programme="FALLS")
    with pytest.raises(AccessDenied, match="that is for the programme lead and the team's coach"):
        practice.answer_help_request(as_(db, "amy"), asked.id, version=asked.version,
                                     response="I will")  # fmt: skip
    answered = practice.answer_help_request(as_(db, "col"), asked.id, version=asked.version,
                                            response="Ward 2 audits at 2 am: call Kit.",
                                            today=dt.date(2026, 10, 5))  # fmt: skip
    assert (answered.status, answered.responded_by_id, answered.responded_on) == (
        "answered", people.get_person(db, "col").id, dt.date(2026, 10, 5))
    with pytest.raises(StaleEditError):
        practice.close_help_request(as_(db, "ben"), asked.id, version=asked.version)
    closed = practice.close_help_request(as_(db, "ben"), asked.id, version=answered.version)
    assert closed.status == "closed" and closed.updated_by_id == people.get_person(db, "ben").id
    assert practice.list_help_requests(db, programme="FALLS", status=("open",)) == []
    with pytest.raises(InvalidRecordError, match="`request` must not be empty"):
        practice.ask_for_help(db, {"team_id": t["A"].id, "raised_on": "2026-10-02", "request": " "})


# --- comments on what teams shared ------------------------------------------------------------------


def _cycle(db, team, title, **extra):
    return repo.save_pdsa(db, {"team_id": team.id, "title": title, "prediction": "fewer falls",
                               **extra})  # fmt: skip


def test_only_shared_records_take_comments_and_only_from_the_programme_s_teams(prog):
    db, _, t = prog
    kept = _cycle(db, t["A"], "Kept with the team")
    shared = _cycle(db, t["A"], "Night audit")
    shared = practice.share_pdsa(as_(db, "ben"), shared.id, True, version=shared.version)
    story = repo.save_reflection(db, {"team_id": t["A"].id, "date": "2026-10-01",
                                      "what_happened": "a fall avoided", "story": "Mrs K stayed",
                                      "shared": True})  # fmt: skip
    private = repo.save_reflection(db, {"team_id": t["A"].id, "date": "2026-10-02",
                                        "what_happened": "in confidence", "story": "private"})  # fmt: skip

    c = practice.add_comment(as_(db, "cat"), {"pdsa_id": shared.id, "text": "We tried this too."})
    assert (c.team_id, c.author_team_id, c.author_id) == (
        t["A"].id, t["B"].id, people.get_person(db, "cat").id)
    practice.add_comment(as_(db, "lee"), {"reflection_id": story.id, "text": "Thank you"})
    for target in ({"pdsa_id": kept.id}, {"reflection_id": private.id}):
        with pytest.raises(practice.CommentError, match="has not been shared"):
            practice.add_comment(as_(db, "cat"), {**target, "text": "peek"})
    with pytest.raises(AccessDenied, match="may not comment here"):
        practice.add_comment(as_(db, "xan"), {"pdsa_id": shared.id, "text": "another programme"})
    with pytest.raises(AccessDenied, match="may not comment here"):
        practice.add_comment(as_(db, "vic"), {"pdsa_id": shared.id, "text": "a viewer"})
    with pytest.raises(AccessDenied, match="needs a person"):
        practice.add_comment(db, {"pdsa_id": shared.id, "text": "nobody"})
    with pytest.raises(AccessDenied, match="needs a person"):
        practice.add_comment(people.ActingDB(db, people.OPERATOR), {"pdsa_id": shared.id,
                                                                    "text": "the operator"})  # fmt: skip
    with pytest.raises(AccessDenied, match="team 1 is not one of theirs|not one of theirs"):
        practice.add_comment(as_(db, "cat"), {"pdsa_id": shared.id, "text": "as A",
                                              "author_team_id": t["A"].id})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="one PDSA cycle"):
        practice.add_comment(as_(db, "cat"), {"pdsa_id": shared.id, "reflection_id": story.id,
                                              "text": "both"})  # fmt: skip

    seen = practice.shared_items(as_(db, "cat"), "FALLS")  # a member of another team of the programme
    assert {i.key for i in seen.items} == {f"pdsa:{shared.id}", f"story:{story.id}"}
    item = seen.find(f"pdsa:{shared.id}")
    assert [(x.text, seen.people[x.author_id]) for x in item.comments] == [
        ("We tried this too.", "Cat")]
    assert "Kept with the team" not in repr(seen) and "in confidence" not in repr(seen)
    with pytest.raises(AccessDenied, match="may not see what the programme's teams shared"):
        practice.shared_items(as_(db, "xan"), "FALLS")
    # unsharing takes it off the list, comments and all
    practice.share_pdsa(as_(db, "amy"), shared.id, False, version=shared.version)
    assert f"pdsa:{shared.id}" not in {i.key for i in practice.shared_items(as_(db, "cat"), "FALLS").items}


def test_a_comment_is_removed_by_its_author_or_the_programme_lead_only(prog):
    db, _, t = prog
    cycle = _cycle(db, t["A"], "Night audit")
    cycle = practice.share_pdsa(as_(db, "ben"), cycle.id, True, version=cycle.version)
    mine = practice.add_comment(as_(db, "cat"), {"pdsa_id": cycle.id, "text": "Wrong ward, sorry"})
    kept = practice.add_comment(as_(db, "cat"), {"pdsa_id": cycle.id, "text": "We tried this too"})
    other = practice.add_comment(as_(db, "lee"), {"pdsa_id": cycle.id, "text": "Lovely work"})
    for who in ("amy", "ben", "vic"):  # the team commented on does not silence a comment
        with pytest.raises(AccessDenied, match="may remove only their own comments"):
            practice.remove_comment(as_(db, who), mine.id, version=mine.version)
    with pytest.raises(StaleEditError):
        practice.remove_comment(as_(db, "cat"), mine.id, version=mine.version + 1)
    practice.remove_comment(as_(db, "cat"), mine.id, version=mine.version)
    practice.remove_comment(as_(db, "lee"), kept.id, version=kept.version)  # the lead moderates
    with pytest.raises(practice.NotFoundError, match="no longer exists"):
        practice.remove_comment(as_(db, "cat"), mine.id, version=mine.version)
    item = practice.shared_items(as_(db, "cat"), "FALLS").find(f"pdsa:{cycle.id}")
    assert [c.text for c in item.comments] == ["Lovely work"]
    practice.remove_comment(db, other.id, version=other.version)  # a command, nobody in particular
    assert practice.shared_items(db, "FALLS").find(f"pdsa:{cycle.id}").comments == ()


# --- the safety pulse -------------------------------------------------------------------------------


def _add_people(db, team: str, n: int, role: str = "member") -> list[str]:
    keys = []
    have = len([x for x in people.list_people(db) if x.identity_key.startswith(team.lower())])
    for i in range(have, have + n):
        key = f"{team.lower()}{i}@example.org"
        people.add_person(db, key, f"Person {team}{i}")
        people.grant(db, key, role, team=team, programme="FALLS")
        keys.append(key)
    return keys


def test_a_pulse_answer_is_anonymous_once_a_month_and_for_members_only(prog):
    db, *_ = prog
    month = dt.date(2026, 9, 1)
    assert practice.answer_pulse(as_(db, "ben"), "A", {**ALL_AGREE, "speak_up": 2},
                                 month=month) == 1  # fmt: skip
    assert practice.pulse_answered(as_(db, "ben"), "A", month)
    with pytest.raises(practice.PulseError, match="answered Ward A's pulse for September 2026"):
        practice.answer_pulse(as_(db, "ben"), "A", ALL_AGREE, month=month)
    for key, why in (("vic", "answered by its members only"), ("lee", "members only"),
                     ("cat", "members only")):  # fmt: skip
        with pytest.raises(AccessDenied, match=why):
            practice.answer_pulse(as_(db, key), "A", ALL_AGREE, month=month)
    with pytest.raises(AccessDenied, match="needs a person"):
        practice.answer_pulse(db, "A", ALL_AGREE, month=month)
    with pytest.raises(InvalidRecordError, match="`try_new` must be a whole number from 1 to 5"):
        practice.answer_pulse(as_(db, "amy"), "A", {**ALL_AGREE, "try_new": 6}, month=month)
    with pytest.raises(InvalidRecordError, match="`mood` is not a statement of the pulse"):
        practice.answer_pulse(as_(db, "amy"), "A", {**ALL_AGREE, "mood": 3}, month=month)
    with pytest.raises(InvalidRecordError, match="not for"):
        practice.answer_pulse(as_(db, "amy"), "A", ALL_AGREE, month=dt.date(2999, 1, 1))
    # what the store holds: counts with no person, and who answered with no answer
    engine = store_db.get_engine(db)
    assert {c["name"] for c in sa_inspect(engine).get_columns("pulse_counts")} == {
        "id", "team_id", "month", "item", "score", "count"}
    assert {c["name"] for c in sa_inspect(engine).get_columns("pulse_responses")} == {
        "id", "team_id", "month", "person_id"}
    with store_db.session_scope(db, write=False) as s:
        assert s.scalar(select(m.PulseCount.count).where(m.PulseCount.item == "speak_up",
                                                         m.PulseCount.score == 2)) == 1  # fmt: skip


def test_a_team_sees_its_pulse_only_with_enough_answers_and_never_one_person_s(prog):
    db, *_ = prog
    month = dt.date(2026, 9, 1)
    practice.answer_pulse(as_(db, "ben"), "A", {**ALL_AGREE, "mistakes": 1}, month=month)
    practice.answer_pulse(as_(db, "amy"), "A", ALL_AGREE, month=month)
    (shown,) = practice.team_pulse(as_(db, "vic"), "A")  # a viewer of the team reads it
    assert (shown.responses, shown.counts, shown.shown) == (2, None, False)  # two: withheld
    assert practice.MIN_TEAM_PULSE_RESPONSES == 3
    (key,) = _add_people(db, "A", 1)
    practice.answer_pulse(as_(db, key), "A", ALL_AGREE, month=month)
    (shown,) = practice.team_pulse(as_(db, "ben"), "A")
    assert shown.responses == 3 and shown.counts["mistakes"] == {1: 1, 4: 2}
    for key in ("lee", "cat"):  # the programme lead and another team: never a team's pulse
        with pytest.raises(AccessDenied, match="The safety pulse is the team's own"):
            practice.team_pulse(as_(db, key), "A")
    with pytest.raises(AccessDenied, match="The safety pulse is the team's own"):
        practice.team_pulse(people.ActingDB(db, people.OPERATOR), "A")


def test_the_programme_sees_only_a_pooled_pulse_above_its_minimum(prog):
    db, *_ = prog
    month = dt.date(2026, 9, 1)
    assert (practice.MIN_PROGRAMME_PULSE_RESPONSES, practice.MIN_PROGRAMME_PULSE_TEAMS) == (11, 3)
    for team, n in (("B", 4), ("C", 4)):  # two teams, 8 answers: not enough
        for key in _add_people(db, team, n):
            practice.answer_pulse(as_(db, key), team, {**ALL_AGREE, "differences": 5},
                                  month=month)  # fmt: skip
    d_keys = _add_people(db, "D", 2)
    practice.answer_pulse(as_(db, d_keys[0]), "D", {**ALL_AGREE, "differences": 1}, month=month)
    (hidden,) = practice.programme_pulse(as_(db, "lee"), "FALLS")
    assert (hidden.responses, hidden.teams, hidden.counts) == (0, 0, None)
    # a third team with only two answers still does not count (its own members cannot see it)
    practice.answer_pulse(as_(db, d_keys[1]), "D", ALL_AGREE, month=month)
    assert practice.programme_pulse(as_(db, "lee"), "FALLS")[0].counts is None
    (c_key,) = _add_people(db, "C", 1)
    practice.answer_pulse(as_(db, c_key), "C", ALL_AGREE, month=month)
    for key in ["ben", "amy", *_add_people(db, "A", 1)]:
        practice.answer_pulse(as_(db, key), "A", ALL_AGREE, month=month)
    (pooled,) = practice.programme_pulse(as_(db, "lee"), "FALLS")
    # B 4 + C 5 + A 3 = 12 answers from three teams; D (2 answers) is left out
    assert (pooled.responses, pooled.teams) == (12, 3)
    assert pooled.counts["differences"] == {5: 8, 4: 4}  # no score 1: D's one answer is not in
    with pytest.raises(AccessDenied, match="may not see the whole programme"):
        practice.programme_pulse(as_(db, "ben"), "FALLS")


def test_the_export_takes_the_pulse_counts_and_never_who_answered(prog, tmp_path):
    from qiwidgets.store import export

    db, *_ = prog
    practice.answer_pulse(as_(db, "ben"), "A", ALL_AGREE, month=dt.date(2026, 9, 1))
    dumped = export.dump_tables(db, "FALLS")
    assert dumped["pulse_responses"] == []
    assert sum(r[-1] for r in dumped["pulse_counts"]) == len(m.PULSE_ITEMS)
    summary = export.export_programme(db, tmp_path / "out", "FALLS")
    assert summary.rows["pulse_responses"] == 0
    text = (tmp_path / "out" / "pulse_counts.csv").read_text()
    assert "ben" not in text and "person" not in text


# --- systems lenses and Senge's disciplines -------------------------------------------------------------


def test_a_pdsa_plan_s_systems_lenses_and_risk(prog):
    db, _, t = prog
    cycle = _cycle(db, t["A"], "Rounding")
    lens = practice.save_pdsa_lens(as_(db, "ben"), {
        "team_id": t["A"].id, "pdsa_id": cycle.id, "people": "night HCAs", "systems": "bed flow",
        "design": "a card at the bedside", "risk": "patients kept in bed",
        "risk_likelihood": 3, "risk_consequence": 4, "risk_controls": "watch mobility loss"})  # fmt: skip
    assert lens.updated_by_id == people.get_person(db, "ben").id
    assert practice.pdsa_lenses(db, "A")[cycle.id].risk_consequence == 4
    with pytest.raises(StaleEditError):  # one per cycle: a second new one is someone else's
        practice.save_pdsa_lens(db, {"team_id": t["A"].id, "pdsa_id": cycle.id, "people": "x"})
    with pytest.raises(InvalidRecordError, match="likelihood and its consequence together"):
        practice.save_pdsa_lens(db, {"risk_consequence": None}, id=lens.id, version=lens.version)
    with pytest.raises(InvalidRecordError, match="`risk_consequence` must be from 1 to 5, got 9"):
        practice.save_pdsa_lens(db, {"risk_likelihood": 2, "risk_consequence": 9}, id=lens.id,
                                version=lens.version)  # fmt: skip
    with pytest.raises(InvalidRecordError, match="a PDSA cycle of the same team"):
        practice.save_pdsa_lens(db, {"team_id": t["B"].id, "pdsa_id": cycle.id})
    with pytest.raises(AccessDenied):
        practice.save_pdsa_lens(as_(db, "cat"), {"team_id": t["A"].id, "pdsa_id": cycle.id},
                                id=lens.id, version=lens.version)  # fmt: skip


def test_a_reflection_is_tagged_with_senge_s_disciplines(prog):
    db, _, t = prog
    r = repo.save_reflection(db, {"team_id": t["A"].id, "date": "2026-10-01",
                                  "what_happened": "we saw the ward as a system"})  # fmt: skip
    r2 = practice.set_reflection_disciplines(as_(db, "ben"), r.id,
                                             ["systems_thinking", "mental_models"],
                                             version=r.version)  # fmt: skip
    assert r2.version == r.version + 1
    assert practice.reflection_disciplines(db, "A") == {r.id: ("mental_models", "systems_thinking")}
    with pytest.raises(StaleEditError):
        practice.set_reflection_disciplines(db, r.id, ["team_learning"], version=r.version)
    with pytest.raises(InvalidRecordError, match="`disciplines` must be among"):
        practice.set_reflection_disciplines(db, r.id, ["mindfulness"], version=r2.version)
    with pytest.raises(AccessDenied):
        practice.set_reflection_disciplines(as_(db, "vic"), r.id, [], version=r2.version)
    assert practice.reflection_disciplines(as_(db, "lee"), programme="FALLS")[r.id]
    r3 = practice.set_reflection_disciplines(db, r.id, [], version=r2.version)
    assert practice.reflection_disciplines(db, "A") == {} and r3.version == r2.version + 1


# --- the migration ----------------------------------------------------------------------------------


def test_the_upgrade_to_0004_keeps_memberships_and_cycles(store_url):
    """Written at 0003, upgraded to head: a membership has no team role yet and a PDSA cycle
    stays with its team (it was never shown to other teams)."""
    store_db.downgrade_db(store_url, "0003_people_and_notes")
    p = repo.save_programme(store_url, {"code": "FALLS", "name": "Falls"})
    team = repo.save_team(store_url, {"programme_id": p.id, "code": "A", "name": "Ward A"})
    with store_db.session_scope(store_url) as s:
        s.execute(m.Person.__table__.insert().values(
            id=1, identity_key="amy", display_name="Amy", version=1, created_at=m.utcnow(),
            updated_at=m.utcnow()))  # fmt: skip
        s.execute(m.Membership.__table__.insert().values(
            person_id=1, team_id=team.id, role="lead", version=1, created_at=m.utcnow(),
            updated_at=m.utcnow()))  # fmt: skip
        s.execute(text("INSERT INTO pdsa_cycles (team_id, title, version, created_at, "
                       "updated_at) VALUES (:t, 'Old cycle', 1, :now, :now)"),
                  {"t": team.id, "now": m.utcnow()})  # fmt: skip
    store_db.dispose_engines()
    store_db.init_db(store_url)
    assert store_db.current_revision(store_url) == store_db.head_revision()
    assert [(x.name, x.access, x.team_role) for x in practice.team_members(store_url, "A")] == [
        ("Amy", "lead", None)]
    (cycle,) = repo.list_pdsa_cycles(store_url, "A")
    assert cycle.shared is False
    assert practice.shared_items(store_url, "FALLS").items == ()
