"""A programme with people for the learning-practice tests (tests/test_store_practice.py,
tests/test_store_skills.py): FALLS with the given wards, OTHER with ward X, and a roster of
``(key, name, role, team)`` (team None: a programme role for FALLS; X is OTHER's)."""

from __future__ import annotations

from qiwidgets.store import people, repo


def programme_with_people(db: str, wards: str, roster) -> tuple:
    """``(db, FALLS programme, {code: team})`` after adding the wards and the people."""
    p = repo.save_programme(db, {"code": "FALLS", "name": "Falls"})
    q = repo.save_programme(db, {"code": "OTHER", "name": "Other"})
    teams = {c: repo.save_team(db, {"programme_id": p.id, "code": c, "name": f"Ward {c}"})
             for c in wards}  # fmt: skip
    teams["X"] = repo.save_team(db, {"programme_id": q.id, "code": "X", "name": "Ward X"})
    for key, name, role, team in roster:
        people.add_person(db, key, name)
        if team is None:
            people.grant(db, key, role, programme="FALLS")
        else:
            people.grant(db, key, role, team=team, programme="OTHER" if team == "X" else "FALLS")
    return db, p, teams


def as_(db: str, key: str) -> people.ActingDB:
    """The store as the person ``key`` sees it."""
    return people.ActingDB(db, people.actor_for(db, key))
