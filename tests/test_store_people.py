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
