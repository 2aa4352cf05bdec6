"""The learning-practice forms (issue M), driven by setting trait values in plain pytest, each
acting as a person (an ActingDB, as a dashboard kernel does): the store changes, the widget
says what happened, refusals are messages and never tracebacks, hostile text stays text.
"""

from __future__ import annotations

import datetime as dt

import pytest
from practice_people import as_, programme_with_people

from qiwidgets.store import people, practice, repo
from qiwidgets.store.db import dispose_engines, init_db
from qiwidgets.widgets import PDSALog, ReflectionJournal
from qiwidgets.widgets.practice import (
    HelpInbox,
    HelpRequests,
    SafetyPulse,
    SharedLearning,
    TeamRoster,
)
from qiwidgets.workbook import practice as wp

TODAY = dt.date(2026, 10, 15)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def db(tmp_path):
    """Ward A (Amy leads, Ben and Bo are members, Col coaches as a viewer) and Ward B (Cat) of
    FALLS; Ward X (Xan) of another programme; Lee leads FALLS."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    init_db(url)
    programme_with_people(url, "AB", (
        ("amy", "Amy", "lead", "A"), ("ben", HOSTILE, "member", "A"),
        ("bo", "Bo", "member", "A"), ("col", "Col", "viewer", "A"),
        ("cat", "Cat", "member", "B"), ("xan", "Xan", "member", "X"),
        ("lee", "Lee", "programme_lead", None),
    ))
    practice.set_team_role(url, "col", "A", "coach")
    yield url
    dispose_engines()


def no_traceback(w) -> None:
    assert "Traceback" not in w.status.value and "Error" not in w.message[:6]


def test_the_team_lead_gives_roles_and_a_member_may_not(db):
    w = TeamRoster(as_(db, "amy"), "A")
    assert HOSTILE not in w.roster.value and "&lt;img src=x" in w.roster.value
    assert "Col" in w.roster.value and "Coach" in w.roster.value
    w.person.value = "ben"
    w.team_role.value = "patient_partner"
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    assert {x.key: x.team_role for x in practice.team_members(db, "A")}["ben"] == "patient_partner"
    m = TeamRoster(as_(db, "ben"), "A")
    m.person.value = "ben"
    m.team_role.value = "team_lead"
    m.save_button.click()
    assert m.message_kind == "problem" and "Only Ward A's lead" in m.message
    no_traceback(m)
    assert {x.key: x.team_role for x in practice.team_members(db, "A")}["ben"] == "patient_partner"


def test_a_request_for_help_goes_to_the_lead_who_answers_and_the_team_closes_it(db):
    team = HelpRequests(as_(db, "bo"), "A", today=TODAY)
    team.ask_button.click()
    assert team.message_kind == "problem" and "request" in team.message  # nothing written
    team.request.value = f"How do you audit at night? {HOSTILE}"
    team.ask_button.click()
    assert team.message_kind == "ok", team.message
    assert "&lt;img" in team.listing.value and HOSTILE not in team.listing.value
    (asked,) = practice.list_help_requests(db, "A")
    assert (asked.status, asked.raised_on) == ("open", TODAY)

    lead = HelpInbox(as_(db, "lee"), wp.programme_practice(as_(db, "lee"), "FALLS"), today=TODAY)
    assert 'data-qi-help="open"' in lead.listing.value and "Ward A" in lead.listing.value
    assert lead.pick.value == asked.id
    lead.answer.value = "Ward B times calls at 2 am: ask Cat."
    lead.send.click()
    assert lead.message_kind == "ok", lead.message
    assert practice.list_help_requests(db, "A")[0].status == "answered"
    assert 'data-qi-help="answered"' in lead.listing.value and lead.pick.options == ()

    # a member cannot answer, even by sending the widget's values
    intruder = HelpInbox(as_(db, "bo"), wp.programme_practice(db, "FALLS"), today=TODAY)
    team.load(team.team)
    intruder.requests = practice.list_help_requests(db, "A")
    intruder.render()
    team.request.value = "A second question"
    team.ask_button.click()
    intruder.requests = practice.list_help_requests(db, "A")
    intruder.render()
    intruder.answer.value = "I answer myself"
    intruder.send.click()
    assert intruder.message_kind == "problem" and "may not answer" in intruder.message
    no_traceback(intruder)

    team.load(team.team)
    assert "ask Cat" in team.listing.value
    team.open_pick.value = asked.id
    team.close_button.click()
    assert team.message_kind == "ok" and practice.list_help_requests(db, "A", status=("closed",))


def test_the_safety_pulse_keeps_no_one_s_answers_and_shows_the_team_only_enough_of_them(db):
    w = SafetyPulse(as_(db, "ben"), "A", today=TODAY)
    assert 'data-qi-pulse-shown="yes"' not in w.trend.value
    w.send.click()
    assert w.message_kind == "problem" and "Answer every statement" in w.message
    for k, dropdown in w.answers.items():
        dropdown.value = 1 if k == "mistakes" else 4
    w.send.click()
    assert w.message_kind == "ok" and "no one can see yours" in w.message, w.message
    assert w.answered and w.form.layout.display == "none"
    # one answer: the team sees that there is one, and nothing of what it says
    assert 'data-qi-pulse-month="2026-10" data-qi-pulse-shown="no"' in w.trend.value
    body = w.trend.value.split("<tbody>")[1].split("</tbody>")[0]
    assert "not shown: fewer than 3 answers" in body and "%" not in body and "1.0" not in body
    again = SafetyPulse(as_(db, "ben"), "A", today=TODAY)
    assert again.answered and "answered this month's pulse" in again.message
    for key in ("amy", "bo"):
        other = SafetyPulse(as_(db, key), "A", today=TODAY)
        for dropdown in other.answers.values():
            dropdown.value = 5
        other.send.click()
        assert other.message_kind == "ok", other.message
    shown = SafetyPulse(as_(db, "col"), "A", today=TODAY)  # a viewer of the team reads it
    assert 'data-qi-pulse-shown="yes"' in shown.trend.value
    assert shown.view.latest.responses == 3 and round(shown.view.latest.items["mistakes"], 2) == 0.67
    # the programme lead (and anyone outside the team) is told why, and sees nothing
    lead = SafetyPulse(as_(db, "lee"), "A", today=TODAY)
    assert "The safety pulse is the team&#x27;s own" in lead.trend.value
    assert "data-qi-pulse-month" not in lead.trend.value


def test_a_member_comments_on_another_team_s_shared_pdsa_only(db):
    kept = repo.save_pdsa(db, {"team_id": repo.get_team(db, "A").id, "title": "Kept cycle"})
    shared = repo.save_pdsa(db, {"team_id": repo.get_team(db, "A").id, "title": "Night audit",
                                 "prediction": "half the falls"})  # fmt: skip
    practice.share_pdsa(db, shared.id, True, version=shared.version)
    w = SharedLearning(as_(db, "cat"), "B")
    assert [v for _, v in w.pick.options] == [f"pdsa:{shared.id}"]
    assert "Kept cycle" not in w.shown.value and "Night audit" in w.shown.value
    w.post.click()
    assert w.message_kind == "problem"  # an empty comment
    w.comment.value = f"We tried this too {HOSTILE}"
    w.post.click()
    assert w.message_kind == "ok", w.message
    (c,) = practice.shared_items(db, "FALLS").find(f"pdsa:{shared.id}").comments
    assert c.author_id == people.get_person(db, "cat").id and c.author_team_id == repo.get_team(
        db, "B").id  # fmt: skip
    assert "&lt;img" in w.shown.value and HOSTILE not in w.shown.value
    # the page cannot be made to comment on the kept cycle: the choice is checked, and the store
    # refuses a record that was not shared
    with pytest.raises(Exception):  # noqa: B017 - a TraitError from the widget itself
        w.pick.value = f"pdsa:{kept.id}"
    w.shared = type(w.shared)(w.shared.items + (practice.SharedItem("pdsa", kept, kept.team_id,
                                                                    "Ward A"),))  # fmt: skip
    w.pick.options = [*w.pick.options, ("kept", f"pdsa:{kept.id}")]
    w.pick.value = f"pdsa:{kept.id}"
    w.comment.value = "peek"
    w.post.click()
    assert w.message_kind == "problem" and "has not been shared" in w.message
    # the team that shared it sees the comment on its own page
    mine = SharedLearning(as_(db, "ben"), "A")
    assert "We tried this too" in mine.mine.value and mine.pick.options == ()
    assert mine.taking_back.layout.display == "none"  # Ben wrote no comment to take back


def test_a_member_takes_back_a_comment_of_theirs_and_only_theirs(db):
    cycle = repo.save_pdsa(db, {"team_id": repo.get_team(db, "A").id, "title": "Night audit"})
    practice.share_pdsa(db, cycle.id, True, version=cycle.version)
    key = f"pdsa:{cycle.id}"
    lee = practice.add_comment(as_(db, "lee"), {"pdsa_id": cycle.id, "text": "Lovely work"})
    w = SharedLearning(as_(db, "cat"), "B")
    assert w.taking_back.layout.display == "none"  # nothing of Cat's yet
    w.comment.value = "Wrong ward, sorry"
    w.post.click()
    assert w.message_kind == "ok", w.message
    assert w.taking_back.layout.display is None
    assert [label for label, _ in w.my_pick.options[1:]] == ["Ward A: Wrong ward, sorry"]
    w.remove.click()  # nothing picked
    assert w.message_kind == "problem" and "Pick the comment" in w.message
    # a forged choice naming the lead's comment: the widget refuses it before the store would
    w.my_pick.options = [*w.my_pick.options, ("forged", lee.id)]
    w.my_pick.value = lee.id
    w.remove.click()
    assert w.message_kind == "problem"
    assert [c.text for c in practice.shared_items(db, "FALLS").find(key).comments] == [
        "Lovely work", "Wrong ward, sorry"]  # fmt: skip
    w.load(w.team)
    w.my_pick.value = w.my_pick.options[1][1]
    w.remove.click()
    assert w.message_kind == "ok" and "was removed" in w.message, w.message
    assert [c.text for c in practice.shared_items(db, "FALLS").find(key).comments] == [
        "Lovely work"]
    assert "Wrong ward" not in w.shown.value and w.taking_back.layout.display == "none"


def test_the_pdsa_log_asks_the_four_questions_rates_the_risk_and_shares(db):
    w = PDSALog(as_(db, "ben"), "A")
    w.title.value = "Hourly rounding"
    w.lens.fields["people"].value = "night HCAs"
    w.lens.fields["risk"].value = "patients kept in bed"
    w.lens.likelihood.value = 3
    w.shared.value = True
    w.save_button.click()
    assert w.message_kind == "problem" and "together" in w.message  # rated only one way
    w.lens.consequence.value = 4
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    (cycle,) = repo.list_pdsa_cycles(db, "A")
    lens = practice.pdsa_lenses(db, "A")[cycle.id]
    assert (cycle.shared, lens.people, wp.risk_words(lens)) == (
        True, "night HCAs", "likelihood 3 x consequence 4 = 12 (high)")
    w.pick.value = cycle.id  # reopened: the view and the share are shown as stored
    assert w.lens.fields["risk"].value == "patients kept in bed" and w.shared.value is True
    w.shared.value = False
    w.lens.fields["design"].value = "a card at the bedside"
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    assert repo.list_pdsa_cycles(db, "A")[0].shared is False
    assert practice.pdsa_lenses(db, "A")[cycle.id].design == "a card at the bedside"


def test_the_journal_tags_senge_s_disciplines_and_starts_a_double_loop_reflection(db):
    team = repo.get_team(db, "A")
    for n, act in enumerate(("adapt", "abandon"), 1):
        repo.save_pdsa(db, {"team_id": team.id, "title": f"Socks {n}", "study_result": "no",
                            "act": act, "act_date": f"2026-0{n + 5}-01"})  # fmt: skip
    cycles = repo.list_pdsa_cycles(db, "A")
    driver = repo.save_driver_node(db, {"team_id": team.id, "kind": "primary", "text": "Safe feet"})
    node = repo.save_driver_node(db, {"team_id": team.id, "kind": "change_idea",
                                      "parent_id": driver.id, "text": "Non-slip socks"})  # fmt: skip
    for c in cycles:
        repo.save_pdsa(db, {"change_idea_id": node.id}, id=c.id, version=c.version)
    prompts = wp.deeper_learning_prompts(repo.list_pdsa_cycles(db, "A"))
    assert [p.kind for p in prompts] == ["rework"]
    w = ReflectionJournal(as_(db, "ben"), "A", today=TODAY)
    w.deeper.show(prompts)
    assert 'data-qi-prompt="rework"' in w.deeper.shown.value
    w.deeper.start.click()
    assert w.learning_level.value == "double_loop"
    assert w.prompts["what_happened"].value.startswith("'Non-slip socks' has been")
    assert w.disciplines.chosen() == ["mental_models"]
    w.disciplines.boxes["systems_thinking"].value = True
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    (r,) = repo.list_reflections(db, "A")
    assert practice.reflection_disciplines(db, "A") == {r.id: ("mental_models",
                                                               "systems_thinking")}  # fmt: skip
    assert "Systems thinking" in w.history.value
    # the suggestion is answered by that double-loop reflection
    assert wp.deeper_learning_prompts(repo.list_pdsa_cycles(db, "A"), (),
                                      repo.list_reflections(db, "A")) == []  # fmt: skip
