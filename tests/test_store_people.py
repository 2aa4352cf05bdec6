"""People, roles and personal access links (qiwidgets.store.people), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from qiwidgets.errors import AccessDenied, StoreError
from qiwidgets.store import people, repo


@pytest.fixture
def prog(store_url):
    p = repo.save_programme(store_url, {"code": "FALLS", "name": "Falls"})
    a = repo.save_team(store_url, {"programme_id": p.id, "code": "A", "name": "Ward A"})
    b = repo.save_team(store_url, {"programme_id": p.id, "code": "B", "name": "Ward B"})
    return store_url, p, a, b


def test_roles_say_who_may_read_and_who_may_change(prog):
    db, p, a, b = prog
    people.add_person(db, "Sam@Trust.nhs.uk", "Sam")
    people.add_person(db, "viv", "Viv")
    people.add_person(db, "lee", "Lee")
    people.grant(db, "sam@trust.nhs.uk", "member", team="A")
    people.grant(db, "viv", "viewer", team="A")
    people.grant(db, "lee", "programme_lead")
    sam, viv, lee = (people.actor_for(db, k) for k in ("sam@trust.nhs.uk", "viv", "lee"))
    sam.check(a, write=True)
    with pytest.raises(AccessDenied, match="has no access to Ward B"):
        sam.check(b, write=False)
    viv.check(a, write=False)
    with pytest.raises(AccessDenied, match="but not change them"):
        viv.check(a, write=True)
    for team in (a, b):
        lee.check(team, write=True)
    assert lee.reads_programme(p.id) and not sam.reads_programme(p.id)
    people.grant(db, "sam@trust.nhs.uk", "viewer", team="A")  # a second grant replaces
    assert people.actor_for(db, "sam@trust.nhs.uk").role(a.id) == "viewer"
    assert people.revoke(db, "sam@trust.nhs.uk", team="A") == 1
    assert not people.actor_for(db, "sam@trust.nhs.uk").can_read(a.id)
    with pytest.raises(StoreError, match="team role must be one of"):
        people.grant(db, "viv", "owner", team="A")


def test_a_hub_user_is_a_person_with_the_roles_of_their_qi_groups(prog):
    """Behind JupyterHub: the Hub name is the identity key (the person is added on first
    visit); qi:<team>:<role> and qi:<programme>:<role> groups grant roles, the stronger of a
    group's and the store's wins, and any other group grants nothing."""
    db, p, a, b = prog
    actor = people.actor_for_hub(db, "Alice", ["qi:A:member", "qi:B:viewer", "staff",
                                               "qi:NOPE:lead", "qi:A:owner", "qi:A"])  # fmt: skip
    assert people.get_person(db, "alice").display_name == "Alice"
    assert actor.person_id == people.get_person(db, "alice").id
    assert (actor.role(a.id), actor.role(b.id)) == ("member", "viewer")
    assert not actor.reads_programme(p.id)
    people.grant(db, "alice", "lead", team="A")  # the store's lead beats the group's member
    people.grant(db, "alice", "member", team="B")  # and its member beats the group's viewer
    actor = people.actor_for_hub(db, "alice", ["qi:A:member", "qi:B:viewer"])
    assert (actor.role(a.id), actor.role(b.id)) == ("lead", "member")
    assert people.actor_for_hub(db, "bob", ["qi:FALLS:programme_lead"]).reads_programme(p.id)
    nobody = people.actor_for_hub(db, "carol", [])
    assert not nobody.can_read(a.id, p.id) and not nobody.can_read(b.id, p.id)
    assert len(people.list_people(db)) == 3  # added once each


def test_a_link_works_until_revoked_or_expired_and_its_secret_is_not_stored(prog):
    db, *_ = prog
    people.add_person(db, "sam")
    link, secret = people.create_link(db, "sam", label="ward PC")
    assert people.authenticate(db, secret).identity_key == "sam"
    assert link.secret_hash == people.secret_hash(secret) and secret not in link.secret_hash
    assert people.authenticate(db, secret[:-1]) is None and people.authenticate(db, "") is None
    assert people.revoke_links(db, "sam") == 1
    assert people.authenticate(db, secret) is None  # at once
    _, old = people.create_link(db, "sam", expires=dt.date(2020, 1, 31))
    assert people.authenticate(db, old) is None
    _, later = people.create_link(db, "sam", expires=dt.date.today() + dt.timedelta(days=1))
    assert people.authenticate(db, later).identity_key == "sam"


def test_a_person_needs_a_key_and_is_added_once(prog):
    db, *_ = prog
    for bad in ("", "two words", "x" * 201):
        with pytest.raises(StoreError, match="identity key"):
            people.add_person(db, bad)
    people.add_person(db, "sam")
    with pytest.raises(StoreError, match="already a person"):
        people.add_person(db, "SAM")
    people.remove_person(db, "sam")
    assert people.list_people(db) == []


def test_the_commands_grant_list_and_make_a_link(prog, capsys):
    from qiwidgets.cli import main

    db, *_ = prog
    assert main(["people", "add", "sam", "--name", "Sam Jones", "--db", db]) == 0
    assert main(["access", "grant", "sam", "member", "--team", "A", "--db", db]) == 0
    assert main(["access", "list", "--db", db]) == 0
    assert "sam\tSam Jones\tteam A\tmember" in capsys.readouterr().out
    assert main(["access", "link", "sam", "--server", "http://h:1/", "--db", db]) == 0
    url = next(w for w in capsys.readouterr().out.split() if w.startswith("http://h:1/"))
    assert people.authenticate(db, url.split("access=")[1]).identity_key == "sam"
    assert main(["access", "grant", "sam", "boss", "--db", db]) == 2
    assert "programme role must be one of" in capsys.readouterr().err


def test_the_commands_say_and_list_the_part_each_person_plays_on_a_team(prog, capsys):
    from qiwidgets.cli import main
    from qiwidgets.store import practice

    db, *_ = prog
    assert main(["people", "add", "tara", "--name", "Tara Okafor", "--db", db]) == 0
    # a part in the team's work needs access to the team first, and says how to give it
    assert main(["access", "team-role", "tara", "patient_partner", "--team", "A", "--db", db]) == 2
    assert "access grant" in capsys.readouterr().err
    assert main(["access", "grant", "tara", "member", "--team", "A", "--db", db]) == 0
    assert main(["access", "team-role", "tara", "patient_partner", "--team", "A", "--db", db]) == 0
    assert "Tara Okafor (tara) on team A: Patient or family partner." in capsys.readouterr().out
    assert [x.team_role for x in practice.team_members(db, "A")] == ["patient_partner"]
    assert main(["access", "team", "--team", "A", "--db", db]) == 0
    assert "tara\tTara Okafor\tmember\tPatient or family partner" in capsys.readouterr().out
    assert main(["access", "team-role", "tara", "boss", "--team", "A", "--db", db]) == 2
    assert "must be one of" in capsys.readouterr().err
    assert main(["access", "team-role", "tara", "none", "--team", "A", "--db", db]) == 0
    assert [x.team_role for x in practice.team_members(db, "A")] == [None]
    assert main(["access", "team", "--team", "B", "--db", db]) == 0
    assert "No one has access to team B yet" in capsys.readouterr().out


# --- the store checks every read and write ------------------------------------------------------


@pytest.fixture
def acting(prog):
    """The programme with a member of A, a viewer of A and a programme lead, each as an
    ActingDB (the store as that person sees it)."""
    db, p, a, b = prog
    m_ = repo.save_measure(db, {"programme_id": p.id, "code": "falls", "name": "Falls",
                                "measure_type": "outcome", "value_definition": "Falls"})  # fmt: skip
    for team in (a, b):
        repo.record_observation(db, {"team_id": team.id, "measure_id": m_.id,
                                     "period": "2026-10-01", "value": 3})  # fmt: skip
        repo.save_reflection(db, {"team_id": team.id, "date": "2026-10-02",
                                  "what_happened": f"Private to {team.code}"})  # fmt: skip
    for key, role, team in (("sam", "member", "A"), ("viv", "viewer", "A"),
                            ("lee", "programme_lead", None)):  # fmt: skip
        people.add_person(db, key, key.title())
        people.grant(db, key, role, team=team)
    as_ = {k: people.ActingDB(db, people.actor_for(db, k)) for k in ("sam", "viv", "lee")}
    return db, p, a, b, m_, as_


def test_a_member_reads_and_changes_their_team_only(acting):
    db, p, a, b, _falls, as_ = acting
    sam = as_["sam"]
    assert [t.code for t in repo.list_teams(sam)] == ["A"]
    assert repo.get_team(sam, "A").name == "Ward A"
    for read in (lambda: repo.get_team(sam, "B"), lambda: repo.observations(sam, "B"),
                 lambda: repo.list_reflections(sam, "B"), lambda: repo.list_annotations(sam, "B"),
                 lambda: repo.list_pdsa_cycles(sam, "B"), lambda: repo.get_aim(sam, "B")):  # fmt: skip
        with pytest.raises(AccessDenied, match="no access to Ward B"):
            read()
    for programme_wide in (lambda: repo.observations(sam, measure="falls"),
                           lambda: repo.list_reflections(sam, programme=p.id),
                           lambda: repo.progress_scores(sam, p.id)):  # fmt: skip
        with pytest.raises(AccessDenied, match="programme lead"):
            programme_wide()
    saved = repo.save_reflection(sam, {"team_id": a.id, "date": "2026-10-03",
                                       "what_happened": "Ours"})  # fmt: skip
    assert saved.updated_by_id == people.get_person(db, "sam").id  # signed
    with pytest.raises(AccessDenied, match="no access to Ward B"):
        repo.save_reflection(sam, {"team_id": b.id, "date": "2026-10-03", "what_happened": "X"})
    # moving one of A's records into B is refused too
    with pytest.raises(AccessDenied):
        repo.save_reflection(sam, {"team_id": b.id}, id=saved.id, version=saved.version)
    other = repo.list_reflections(db, "B")[0]
    with pytest.raises(AccessDenied):
        repo.delete_record(sam, type(other), other.id, version=other.version)
    assert len(repo.list_reflections(db, "B")) == 1  # nothing of B changed


def test_a_viewer_reads_and_cannot_save(acting):
    db, _p, a, _b, falls, as_ = acting
    viv = as_["viv"]
    assert len(repo.observations(viv, "A")) == 1
    with pytest.raises(AccessDenied, match="but not change them"):
        repo.record_observation(viv, {"team_id": a.id, "measure_id": falls.id,
                                      "period": "2026-11-01", "value": 2})  # fmt: skip
    assert len(repo.observations(db, "A")) == 1


def test_the_programme_lead_sees_every_team_and_edits_are_signed(acting, tmp_path):
    db, _p, _a, b, falls, as_ = acting
    lee = as_["lee"]
    assert [t.code for t in repo.list_teams(lee)] == ["A", "B"]
    assert len(repo.observations(lee, measure="falls")) == 2
    obs = repo.observations(db, "B").iloc[0]
    repo.record_observation(lee, {"team_id": b.id, "measure_id": falls.id, "period": "2026-10-01",
                                  "value": 5}, version=int(obs["version"]))  # fmt: skip
    history = repo.observation_history(db, "B")
    assert len(history) == 1
    from sqlalchemy import select

    from qiwidgets.store import models as mm
    from qiwidgets.store.db import session_scope

    with session_scope(db, write=False) as s:
        edit = s.scalar(select(mm.ObservationEdit))
        assert edit.changed_by_id == people.get_person(db, "lee").id
    # the edit history export names its author (a person of the export's people.csv), and no
    # personal link leaves the store
    import csv

    from qiwidgets.store.export import export_programme

    export_programme(db, tmp_path / "out")
    def rows(name: str) -> list[dict]:
        with open(tmp_path / "out" / name, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    (edit_row,) = rows("observation_edits.csv")
    author = {r["id"]: r["display_name"] for r in rows("people.csv")}[edit_row["changed_by_id"]]
    assert author == "Lee"
    assert not (tmp_path / "out" / "access_links.csv").exists() or not rows("access_links.csv")


def test_a_revoked_link_stops_saving_at_once(acting):
    db, _p, a, _b, _falls, _as = acting
    link, _ = people.create_link(db, "sam")
    sam = people.ActingDB(db, people.actor_for_link(db, link.id))
    repo.save_reflection(sam, {"team_id": a.id, "date": "2026-10-04", "what_happened": "One"})
    people.revoke_links(db, "sam")
    with pytest.raises(AccessDenied, match="no longer works"):
        repo.save_reflection(sam, {"team_id": a.id, "date": "2026-10-05", "what_happened": "Two"})
    with pytest.raises(AccessDenied, match="no longer works"):
        people.actor_for_link(db, link.id)
