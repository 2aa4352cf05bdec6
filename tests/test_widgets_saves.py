"""Saves that are confirmed only once stored, and never stored twice (issue K 9), without a
browser: the store's rule for the same record saved again (on SQLite and PostgreSQL), and the
widgets' confirmations around it.

A page that lost its kernel after the store committed a save never said "saved"; its visitor
saves the same text again after a reload. That second save returns the stored record and adds
nothing (``repo.already_saved``), and the widget says it was already saved.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from qiwidgets.errors import InvalidRecordError, StaleEditError, StoreError
from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.widgets import PDSALog, ProgressScoreWidget, ReflectionJournal
from qiwidgets.widgets._base import status_html

TODAY = dt.date(2026, 10, 3)


@pytest.fixture
def rec(store_url):
    """A programme with Ward 7 (a measure, a change idea) and Ward 9."""
    p = repo.save_programme(store_url, {"code": "FALLS", "name": "Falls"})
    w7 = repo.save_team(store_url, {"programme_id": p.id, "code": "W7", "name": "Ward 7"})
    w9 = repo.save_team(store_url, {"programme_id": p.id, "code": "W9", "name": "Ward 9"})
    falls = repo.save_measure(store_url, {"programme_id": p.id, "code": "F", "name": "Falls",
                                          "measure_type": "outcome",
                                          "numerator_definition": "falls"})  # fmt: skip
    driver = repo.save_driver_node(store_url, {"team_id": w7.id, "kind": "primary",
                                               "text": "Checks"})  # fmt: skip
    idea = repo.save_driver_node(store_url, {"team_id": w7.id, "kind": "change_idea",
                                             "parent_id": driver.id, "text": "Socks"})  # fmt: skip
    return {"db": store_url, "w7": w7, "w9": w9, "falls": falls, "idea": idea}


def count(db: str, model: type) -> int:
    from sqlalchemy import func, select

    from qiwidgets.store.db import session_scope

    with session_scope(db, write=False) as s:
        return s.scalar(select(func.count()).select_from(model))


# --- the store: the same new record is not added twice --------------------------------------------


def test_a_new_reflection_with_the_same_words_is_the_stored_one(rec):
    db, w7 = rec["db"], rec["w7"]
    data = {"team_id": w7.id, "date": "2026-10-03", "what_happened": "Huddles started",
            "what_worked": "Everyone came", "authors": "Ann", "bright_spot": True}  # fmt: skip
    first = repo.save_reflection(db, data)
    assert not repo.already_saved(first)
    again = repo.save_reflection(db, {**data, "what_happened": "  Huddles started "})
    assert again.id == first.id and again.version == first.version
    assert repo.already_saved(again)
    assert count(db, m.Reflection) == 1
    # another date, other words, another team: other reflections
    assert not repo.already_saved(repo.save_reflection(db, {**data, "date": "2026-10-04"}))
    assert not repo.already_saved(repo.save_reflection(db, {**data, "what_worked": "Most came"}))
    assert not repo.already_saved(repo.save_reflection(db, {**data, "team_id": rec["w9"].id}))
    assert count(db, m.Reflection) == 4
    # the same words with other marks: refused, saying which reflection holds them
    with pytest.raises(InvalidRecordError, match="Ward 7 already has a reflection of 2026-10-03 "
                                                 "with these same words"):  # fmt: skip
        repo.save_reflection(db, {**data, "bright_spot": False})
    assert count(db, m.Reflection) == 4
    # changing a stored reflection is untouched by the rule
    changed = repo.save_reflection(db, {"story": "Mrs B"}, id=first.id, version=first.version)
    assert changed.version == first.version + 1 and not repo.already_saved(changed)
    # a reflection without words is nothing to be the same as
    blank = {"team_id": w7.id, "date": "2027-01-01"}
    assert repo.save_reflection(db, blank).id != repo.save_reflection(db, blank).id


def test_a_new_pdsa_cycle_titled_like_one_of_the_team_s(rec):
    db, w7 = rec["db"], rec["w7"]
    data = {"team_id": w7.id, "title": "Yellow socks", "change_idea_id": rec["idea"].id,
            "measure_ids": [rec["falls"].id], "prediction": "Fewer falls",
            "plan_date": "2026-09-01"}  # fmt: skip
    first = repo.save_pdsa(db, data)
    again = repo.save_pdsa(db, {**data, "title": "yellow SOCKS"})
    assert again.id == first.id and repo.already_saved(again)
    assert [x.id for x in again.measures] == [rec["falls"].id]  # links readable, as from a save
    assert again.change_idea.text == "Socks"
    with pytest.raises(InvalidRecordError, match="Ward 7 already has a PDSA cycle titled "
                                                 "'Yellow socks'"):  # fmt: skip
        repo.save_pdsa(db, {**data, "prediction": "No change"})
    with pytest.raises(InvalidRecordError, match="already has a PDSA cycle"):
        repo.save_pdsa(db, {**data, "measure_ids": []})
    assert count(db, m.PDSACycle) == 1
    other = repo.save_pdsa(db, {"team_id": rec["w9"].id, "title": "Yellow socks"})
    assert not repo.already_saved(other) and count(db, m.PDSACycle) == 2


def test_a_progress_score_is_one_per_month_already(rec):
    """No rule was needed: a second new score for a month is refused (someone scored it
    first), and a reloaded page reads the month's score and changes it."""
    db, w7 = rec["db"], rec["w7"]
    data = {"team_id": w7.id, "month": "2026-10", "team_score": 3.0, "justification": "Better"}
    first = repo.save_progress_score(db, data)
    with pytest.raises(StaleEditError):
        repo.save_progress_score(db, data)
    again = repo.save_progress_score(db, data, id=first.id, version=first.version)
    assert again.id == first.id and again.version == first.version  # nothing changed
    assert count(db, m.ProgressScore) == 1


def test_the_same_reflection_saved_at_once_from_two_places_is_stored_once(rec):
    """Two pages (threads, own connections) save the same new reflection at the same moment:
    the team's row is held while a save looks for its twin, so one row results."""
    db, w7 = rec["db"], rec["w7"]
    data = {"team_id": w7.id, "date": "2026-10-03", "what_happened": "At once"}
    barrier = threading.Barrier(4)
    results, errors = [], []

    def save():
        barrier.wait()
        try:
            results.append(repo.save_reflection(db, data))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len({r.id for r in results}) == 1
    assert sum(not repo.already_saved(r) for r in results) == 1
    assert count(db, m.Reflection) == 1


# --- the widgets: confirmed after the commit, in words, never twice -------------------------------


@pytest.fixture
def db(rec):
    return rec["db"]


def type_reflection(w: ReflectionJournal) -> None:
    w.prompts["what_happened"].value = "Night huddles started"
    w.prompts["what_worked"].value = "Everyone knew who was at risk"


def test_a_reflection_saved_again_after_a_reload_says_it_was_already_saved(db):
    lost = ReflectionJournal(db, "W7", today=TODAY)
    type_reflection(lost)
    lost.save_button.click()  # stored; suppose the page never heard of it
    assert lost.message == "Reflection saved." and lost.message_kind == "ok"
    reloaded = ReflectionJournal(db, "W7", today=TODAY)
    type_reflection(reloaded)  # the kept text put back
    reloaded.save_button.click()
    assert reloaded.message_kind == "ok"
    assert "already saved" in reloaded.message and "not added a second time" in reloaded.message
    assert reloaded.saved.id == lost.saved.id
    assert [r.what_happened for r in repo.list_reflections(db, "W7")] == ["Night huddles started"]
    assert "data-qi-saved" in reloaded.status.value


def test_a_pdsa_cycle_saved_again_says_already_saved(db):
    pages = PDSALog(db, "W7"), PDSALog(db, "W7")
    for w in pages:
        w.title.value = "Yellow socks"
        w.prediction.value = "Fewer falls"
        w.save_button.click()
    assert pages[0].message == "Saved the PDSA cycle 'Yellow socks'."
    assert "already saved" in pages[1].message and pages[1].message_kind == "ok"
    assert pages[1].pick.value == pages[0].saved.id  # the stored cycle is the one shown
    assert len(repo.list_pdsa_cycles(db, "W7")) == 1
    # the same title with other words: refused in words, the words kept in the form
    w = PDSALog(db, "W7")
    w.title.value = "Yellow socks"
    w.prediction.value = "No change"
    w.save_button.click()
    assert w.message_kind == "problem" and "already has a PDSA cycle titled" in w.message
    assert w.prediction.value == "No change"
    assert len(repo.list_pdsa_cycles(db, "W7")) == 1


def test_a_progress_score_saved_again_after_a_reload_changes_the_month_s_score(db):
    lost = ProgressScoreWidget(db, "W7", today=TODAY)
    lost.team_score.value = 3.0
    lost.justification.value = "Falls down"
    lost.save_button.click()
    assert lost.message == "Saved the progress score for October 2026."
    reloaded = ProgressScoreWidget(db, "W7", today=TODAY)  # reads the month's score
    reloaded.justification.value = "Falls down"  # the kept text put back
    reloaded.save_button.click()
    assert reloaded.message_kind == "ok" and "data-qi-saved" in reloaded.status.value
    assert len(repo.list_progress_scores(db, "W7")) == 1


def test_saved_is_said_only_after_the_store_returned_and_before_anything_else(db, monkeypatch):
    w = ReflectionJournal(db, "W7", today=TODAY)
    type_reflection(w)
    seen = []
    real_save, real_load = repo.save_reflection, w.load

    def save(*args, **kwargs):
        seen.append(("store", w.message))
        return real_save(*args, **kwargs)

    def load(team):
        seen.append(("refresh", w.message))  # what the page has been told by then
        return real_load(team)

    monkeypatch.setattr(repo, "save_reflection", save)
    monkeypatch.setattr(w, "load", load)
    w.save_button.click()
    # nothing says "saved" while the store works; "saved" goes out before the form is reset,
    # so a page that loses its kernel in between has it already
    assert seen == [("store", ""), ("refresh", "Reflection saved.")]


def test_a_failed_save_says_so_and_keeps_the_text(db, monkeypatch):
    w = ReflectionJournal(db, "W7", today=TODAY)
    type_reflection(w)

    def fail(*args, **kwargs):
        raise StoreError("The database could not be reached; nothing was saved. Try again.")

    monkeypatch.setattr(repo, "save_reflection", fail)
    w.save_button.click()
    assert w.message_kind == "problem" and "nothing was saved" in w.message
    assert "data-qi-saved" not in w.status.value
    assert w.prompts["what_happened"].value == "Night huddles started"
    assert repo.list_reflections(db, "W7") == []


def test_a_save_whose_page_cannot_be_refreshed_still_says_saved(db, monkeypatch, caplog):
    """The store committed: a failure while redrawing must not read "nothing was changed"."""
    w = ReflectionJournal(db, "W7", today=TODAY)
    type_reflection(w)

    def broken(_team):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(w, "load", broken)
    w.save_button.click()
    assert w.message_kind == "warning"
    assert w.message.startswith("Reflection saved.") and "reload the page" in w.message
    assert "Nothing more was changed" not in w.message and "data-qi-saved" in w.status.value
    assert len(repo.list_reflections(db, "W7")) == 1
    assert "drawing failed" in caplog.text


def test_every_confirmation_is_a_new_status_line():
    """The page's script forgets its copy of a panel's text on a confirmation: saving the same
    panel twice must change the status line even when the words are the same."""
    assert 'data-qi-saved="1"' in status_html("Reflection saved.", "ok", saved=1)
    assert status_html("Reflection saved.", "ok", saved=1) != status_html(
        "Reflection saved.", "ok", saved=2
    )
    assert "data-qi-saved" not in status_html("Reflection saved.", "ok")
    assert status_html("<b>x</b>", "ok", saved=3).count("<b>") == 0


# --- learning in confidence: a reflection stays with its team until the team shares it ----------


def test_a_reflection_stays_with_its_team_until_it_is_shared(rec):
    """The journal saves a reflection for the team only unless "Share with the programme" is
    ticked; its list says which; the programme page shows only shared ones and counts the rest
    (never their words)."""
    from qiwidgets.dashboards.programme import learning_html
    from qiwidgets.workbook import shared_learning

    db, w7 = rec["db"], rec["w7"]
    journal = ReflectionJournal(db, w7, today=TODAY)
    assert journal.shared.value is False  # the team chooses to share; nothing is shared for it
    for words, share in (("Kept on the ward", False), ("Shared with everyone", True)):
        journal.prompts["what_happened"].value = words
        journal.generalisable.value = True
        journal.shared.value = share
        journal.save_button.click()
        assert journal.message_kind == "ok", journal.message
    stored = {r.what_happened: r.shared for r in repo.list_reflections(db, w7.id)}
    assert stored == {"Kept on the ward": False, "Shared with everyone": True}
    assert "[may generalise, team only]" in journal.history.value
    assert "[may generalise, shared with the programme]" in journal.history.value

    every = repo.list_reflections(db, programme=w7.programme_id)
    html = learning_html(shared_learning(every), {w7.id: w7.name}, kept=1)
    assert "Shared with everyone" in html and "Kept on the ward" not in html
    assert "1 more flagged reflection stays with its team" in html
    # opening a saved one shows its choice; un-sharing it is a change like any other
    journal.pick.value = next(r.id for r in journal.reflections if r.shared)
    assert journal.shared.value is True
    journal.shared.value = False
    journal.save_button.click()
    assert not any(r.shared for r in repo.list_reflections(db, w7.id))


def test_each_form_says_who_last_changed_the_record(rec):
    """Reflections, PDSA cycles, progress scores and the aim say "Last changed by <person> on
    <date>" once saved by someone in particular, and say so plainly when nobody signed."""
    from qiwidgets.store import people
    from qiwidgets.widgets import AimBuilder

    db, w7 = rec["db"], rec["w7"]
    people.add_person(db, "sam@trust.nhs.uk", "Sam Jones")
    people.grant(db, "sam@trust.nhs.uk", "member", team=w7.id)
    sam = people.ActingDB(db, people.actor_for(db, "sam@trust.nhs.uk"))

    journal = ReflectionJournal(sam, w7, today=TODAY)
    assert journal.changed.value == ""  # a new reflection: nobody yet
    journal.prompts["what_happened"].value = "Huddles"
    journal.save_button.click()
    journal.pick.value = journal.reflections[-1].id
    assert "Last changed by Sam Jones on " in journal.changed.value
    assert " UTC." in journal.changed.value

    log = PDSALog(sam, w7)
    log.title.value = "Socks on admission"
    log.save_button.click()
    assert log.message_kind == "ok", log.message
    log.pick.value = log.cycles[-1].id
    assert "Last changed by Sam Jones" in log.changed.value

    scores = ProgressScoreWidget(sam, w7, today=TODAY)
    scores.team_score.value = 2.0
    scores.save_button.click()
    assert "Last changed by Sam Jones" in scores.changed.value

    aim = AimBuilder(db, w7, today=TODAY)  # the store as a command: nobody signs
    aim.what.value, aim.for_whom.value = "Fewer falls", "our patients"
    aim.save_button.click()
    assert "by a command, a notebook or the dashboards' operator" in aim.changed.value
    # the person's name is shown as text
    people.add_person(db, "x@trust.nhs.uk", "<b>X</b>")
    people.grant(db, "x@trust.nhs.uk", "lead", team=w7.id)
    x = people.ActingDB(db, people.actor_for(db, "x@trust.nhs.uk"))
    journal = ReflectionJournal(x, w7, today=TODAY)
    journal.pick.value = journal.reflections[-1].id
    journal.prompts["what_worked"].value = "Everyone came"
    journal.save_button.click()
    journal.pick.value = journal.reflections[-1].id
    assert "Last changed by &lt;b&gt;X&lt;/b&gt;" in journal.changed.value
