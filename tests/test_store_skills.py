"""Skills profiles and fishbones in the store (issue M, items 2 and 3; qiwidgets.store.skills
and qiwidgets.store.fishbone), on SQLite and PostgreSQL. Each test acts as a person (an
ActingDB), as a dashboard kernel does: the rules are the store's.
"""

from __future__ import annotations

import pytest
from practice_people import as_, programme_with_people

from qiwidgets.errors import AccessDenied, InvalidRecordError, NotFoundError, StaleEditError
from qiwidgets.store import fishbone, people, repo, skills
from qiwidgets.store import models as m


@pytest.fixture
def prog(store_url):
    """FALLS with wards A, B, C; OTHER with ward X. Amy leads A, Ben and Bea are members of A,
    Vic views A, Cat is a member of B, Lee leads the programme, Xan is a member of X."""
    return programme_with_people(store_url, "ABC", (
        ("amy", "Amy", "lead", "A"), ("ben", "Ben", "member", "A"),
        ("bea", "Bea", "member", "A"), ("vic", "Vic", "viewer", "A"),
        ("cat", "Cat", "member", "B"), ("xan", "Xan", "member", "X"),
        ("lee", "Lee", "programme_lead", None),
    ))


def rated(level: int = 1, **levels: int) -> dict[str, int]:
    return {k: levels.get(k, level) for k in m.SKILL_ITEMS}


# --- skills profiles ---------------------------------------------------------------------------


def test_a_person_saves_and_reads_their_own_profile(prog):
    db, *_ = prog
    assert skills.my_skills(as_(db, "ben"), "A") is None
    saved = skills.save_skills(as_(db, "ben"), "A", rated(2, tech_pdsa=3, soft_influence=0))
    assert saved.version == 1 and saved.person_id == people.get_person(db, "ben").id
    mine = skills.my_skills(as_(db, "ben"), "A")
    assert mine.ratings == rated(2, tech_pdsa=3, soft_influence=0)
    assert list(mine.ratings) == list(m.SKILL_ITEMS)  # in the framework's order
    again = skills.save_skills(as_(db, "ben"), "A", rated(3), version=mine.version)
    assert again.version == 2 and skills.my_skills(as_(db, "ben"), "A").ratings == rated(3)
    # saving the same answers again changes nothing, not even the version
    assert skills.save_skills(as_(db, "ben"), "A", rated(3), version=2).version == 2
    # a viewer of the team (a sponsor, a coach) has a profile of their own too
    assert skills.save_skills(as_(db, "vic"), "A", rated(0)).version == 1


def test_only_the_person_edits_their_profile(prog):
    db, *_ = prog
    skills.save_skills(as_(db, "ben"), "A", rated(1))
    with pytest.raises(AccessDenied, match="may not see or change someone else's skills profile"):
        skills.save_skills(as_(db, "amy"), "A", rated(3), person="ben", version=1)
    with pytest.raises(AccessDenied, match="may not see or change someone else's"):
        skills.my_skills(as_(db, "lee"), "A", person="ben")
    with pytest.raises(AccessDenied, match="Cat has no role there"):
        skills.save_skills(as_(db, "cat"), "A", rated(1))
    with pytest.raises(AccessDenied, match="Lee has no role there"):
        skills.my_skills(as_(db, "lee"), "A")  # the programme lead has no profile on a ward
    with pytest.raises(AccessDenied, match="is a person's own: open the dashboards with your personal"):
        skills.save_skills(db, "A", rated(1))  # a command names whose profile it is
    with pytest.raises(AccessDenied, match="needs a person"):
        skills.save_skills(people.ActingDB(db, people.Actor(None, "a token", {1: "member"})),
                           "A", rated(1))  # fmt: skip
    assert skills.my_skills(as_(db, "ben"), "A").ratings == rated(1)  # untouched
    # a command names the person, who must be on the team
    assert skills.save_skills(db, "A", rated(2), person="bea").person_id == people.get_person(
        db, "bea").id  # fmt: skip
    with pytest.raises(NotFoundError, match="Cat has no role on Ward A"):
        skills.save_skills(db, "A", rated(2), person="cat")


def test_every_skill_is_rated_0_to_3(prog):
    db, *_ = prog
    with pytest.raises(InvalidRecordError, match="`tech_pdsa` must be a whole number from 0 to 3, "
                       "got 4") as exc:  # fmt: skip
        skills.save_skills(as_(db, "ben"), "A", rated(1, tech_pdsa=4))
    assert [f for f, _ in exc.value.problems] == ["tech_pdsa"]
    missing = rated(1)
    del missing["learn_share"]
    with pytest.raises(InvalidRecordError, match="`learn_share` must be a whole number"):
        skills.save_skills(as_(db, "ben"), "A", missing)
    with pytest.raises(InvalidRecordError, match="`charm` is not a skill"):
        skills.save_skills(as_(db, "ben"), "A", {**rated(1), "charm": 3})
    with pytest.raises(InvalidRecordError, match="got True"):
        skills.save_skills(as_(db, "ben"), "A", rated(1, tech_pdsa=True))
    assert skills.my_skills(as_(db, "ben"), "A") is None


def test_a_stale_profile_is_refused_not_saved_over(prog):
    db, *_ = prog
    first = skills.save_skills(as_(db, "ben"), "A", rated(1))
    skills.save_skills(as_(db, "ben"), "A", rated(2), version=first.version)  # another page
    with pytest.raises(StaleEditError, match="Someone else changed this skills profile"):
        skills.save_skills(as_(db, "ben"), "A", rated(0), version=first.version)
    with pytest.raises(StaleEditError):  # a second "first" profile is stale too
        skills.save_skills(as_(db, "ben"), "A", rated(0))
    assert skills.my_skills(as_(db, "ben"), "A").ratings == rated(2)


def test_the_team_sees_counts_and_gaps_never_answers(prog):
    db, *_ = prog
    empty = skills.team_skills(as_(db, "ben"), "A")
    assert (empty.people, empty.answered, empty.gaps) == (4, 0, [])  # nothing known: no gap
    skills.save_skills(as_(db, "amy"), "A", rated(2, soft_influence=1, learn_share=0))
    one = skills.team_skills(as_(db, "ben"), "A")  # Amy's answers would be the counts
    assert (one.answered, one.withheld, one.items, one.gaps) == (1, True, (), [])
    skills.save_skills(as_(db, "ben"), "A", rated(1, tech_pdsa=3, learn_share=1))
    two = skills.team_skills(as_(db, "ben"), "A")  # Ben would read Amy's from his own
    assert (two.answered, two.withheld, two.items) == (2, True, ())
    assert skills.MIN_PROFILES_SHOWN == 3
    skills.save_skills(as_(db, "bea"), "A", rated(0, tech_pdsa=2))
    skills.save_skills(as_(db, "cat"), "B", rated(3))  # another team: not counted for A
    cov = skills.team_skills(as_(db, "vic"), "A")
    assert (cov.people, cov.answered, cov.withheld) == (4, 3, False)
    assert cov.item("tech_pdsa").counts == (0, 0, 2, 1)
    assert cov.item("tech_pdsa").confident == 3 and cov.item("tech_pdsa").teachers == 1
    assert cov.item("soft_influence").counts == (1, 2, 0, 0)
    assert cov.item("learn_share").counts == (2, 1, 0, 0)
    assert cov.gaps == ["soft_influence", "learn_share"]  # in the framework's order
    assert [i.item for i in cov.items] == list(m.SKILL_ITEMS)
    assert all(not hasattr(i, "people") for i in cov.items)  # counts, no one named
    assert skills.team_skills(as_(db, "lee"), "A") == cov  # the programme lead reads counts
    with pytest.raises(AccessDenied, match="has no access to Ward A"):
        skills.team_skills(as_(db, "cat"), "A")


def test_the_programme_sees_gaps_across_teams_as_counts_only(prog):
    db, *_ = prog
    skills.save_skills(as_(db, "amy"), "A", rated(2, soft_influence=1))
    skills.save_skills(as_(db, "ben"), "A", rated(1, tech_pdsa=3))
    skills.save_skills(as_(db, "bea"), "A", rated(0, soft_influence=0))
    # Ward B's one profile is not counted: "1 team where it is a gap" would be Cat's answers
    skills.save_skills(as_(db, "cat"), "B", rated(1, tech_pdsa=2))
    skills.save_skills(as_(db, "xan"), "X", rated(0))  # another programme
    gaps = skills.programme_skill_gaps(as_(db, "lee"), "FALLS")
    assert (gaps.teams, gaps.teams_answered, gaps.people_answered) == (3, 1, 3)
    by = {g.item: g for g in gaps.items}
    assert [g.item for g in gaps.items] == list(m.SKILL_ITEMS)  # framework order, not ranked
    assert (by["soft_influence"].teams_with_gap, by["soft_influence"].teams_with_teacher) == (1, 0)
    assert (by["tech_pdsa"].teams_with_gap, by["tech_pdsa"].teams_with_teacher) == (0, 1)
    assert (by["tech_measures"].teams_with_gap, by["tech_measures"].teams_with_teacher) == (0, 0)
    text = repr(gaps)
    for name in ("Amy", "Ben", "Cat", "amy", "Ward A", "Ward B"):
        assert name not in text  # no person and no team is named
    with pytest.raises(AccessDenied, match="may not see the whole programme"):
        skills.programme_skill_gaps(as_(db, "amy"), "FALLS")


# --- fishbones -----------------------------------------------------------------------------------


def _nodes(db, team):
    primary = repo.save_driver_node(db, {"team_id": team.id, "kind": "primary",
                                         "text": "The ward environment is safe"})  # fmt: skip
    idea = repo.save_driver_node(db, {"team_id": team.id, "kind": "change_idea",
                                      "parent_id": primary.id, "text": "Socks in every bay"})  # fmt: skip
    return primary, idea


def test_a_fishbone_s_causes_are_added_changed_and_removed(prog):
    db, _, t = prog
    a = t["A"].id
    _, idea = _nodes(db, t["A"])
    with pytest.raises(InvalidRecordError, match="has no cause-and-effect diagram yet: state the "
                       "effect"):  # fmt: skip
        fishbone.save_cause(as_(db, "ben"), {"team_id": a, "category": "people", "text": "x"})
    bone = fishbone.save_fishbone(as_(db, "ben"), {"team_id": a, "effect": "Falls at night"})
    assert bone.updated_by_id == people.get_person(db, "ben").id
    with pytest.raises(StaleEditError):  # one fishbone per team
        fishbone.save_fishbone(as_(db, "amy"), {"team_id": a, "effect": "Another"})
    staff = fishbone.save_cause(as_(db, "ben"), {"team_id": a, "category": "people",
                                                 "text": "Two nurses at night"})  # fmt: skip
    agency = fishbone.save_cause(as_(db, "ben"), {"team_id": a, "category": "people",
                                                  "parent_id": staff.id,
                                                  "text": "Agency staff new to the ward"})  # fmt: skip
    socks = fishbone.save_cause(as_(db, "amy"), {"team_id": a, "category": "materials",
                                                 "text": "Socks run out", "driver_node_id": idea.id})  # fmt: skip
    tree = fishbone.team_fishbone(as_(db, "vic"), "A")
    assert tree.effect == "Falls at night" and tree.cause_count == 3 and tree.linked_count == 1
    cats = dict(tree.categories)
    assert list(cats) == list(m.FISHBONE_CATEGORIES)
    assert [(n.cause.text, [c.cause.text for c in n.children]) for n in cats["people"]] == [
        ("Two nurses at night", ["Agency staff new to the ward"])]
    assert cats["materials"][0].driver.text == "Socks in every bay"
    # a sub-cause is one level deep and keeps its cause's category
    with pytest.raises(InvalidRecordError, match="one level deep: choose a cause, not a "
                       "sub-cause"):  # fmt: skip
        fishbone.save_cause(db, {"team_id": a, "category": "people", "parent_id": agency.id,
                                 "text": "too deep"})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="keeps its cause's category"):
        fishbone.save_cause(db, {"team_id": a, "category": "equipment", "parent_id": staff.id,
                                 "text": "elsewhere"})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="`category` must be one of"):
        fishbone.save_cause(db, {"team_id": a, "category": "weather", "text": "rain"})
    # moving a cause to another category takes its sub-causes with it
    moved = fishbone.save_cause(as_(db, "amy"), {"category": "management"}, id=staff.id,
                                version=staff.version)  # fmt: skip
    assert moved.version == staff.version + 1
    cats = dict(fishbone.team_fishbone(db, "A").categories)
    assert cats["people"] == () and [c.cause.category for c in cats["management"][0].children] == [
        "management"]
    # removing a cause removes its sub-causes
    assert fishbone.remove_cause(as_(db, "ben"), staff.id, version=moved.version) == 2
    assert [c.text for c in fishbone.team_fishbone(db, "A").causes()] == ["Socks run out"]
    with pytest.raises(AccessDenied, match="but not change them"):
        fishbone.remove_cause(as_(db, "vic"), socks.id, version=socks.version)
    with pytest.raises(AccessDenied, match="has no access to Ward A"):
        fishbone.save_cause(as_(db, "cat"), {"team_id": a, "category": "people", "text": "peek"})


def test_a_cause_links_only_to_its_own_team_s_driver_diagram(prog):
    db, _, t = prog
    _, theirs = _nodes(db, t["B"])
    fishbone.save_fishbone(db, {"team_id": t["A"].id, "effect": "Falls at night"})
    with pytest.raises(InvalidRecordError, match=f"`driver_node_id` {theirs.id} is not on Ward A's "
                       "driver diagram: a cause links only to its own team's drivers") as exc:  # fmt: skip
        fishbone.save_cause(as_(db, "ben"), {"team_id": t["A"].id, "category": "materials",
                                             "text": "Socks", "driver_node_id": theirs.id})  # fmt: skip
    assert "Socks in every bay" not in str(exc.value)  # the other team's words stay theirs
    cause = fishbone.save_cause(as_(db, "ben"), {"team_id": t["A"].id, "category": "materials",
                                                 "text": "Socks"})  # fmt: skip
    with pytest.raises(InvalidRecordError, match="is not on Ward A's driver diagram"):
        fishbone.save_cause(as_(db, "ben"), {"driver_node_id": theirs.id}, id=cause.id,
                            version=cause.version)  # fmt: skip
    with pytest.raises(InvalidRecordError, match="`driver_node_id` 999 does not exist"):
        fishbone.save_cause(db, {"team_id": t["A"].id, "category": "people", "text": "x",
                                 "driver_node_id": 999})  # fmt: skip


def test_a_stale_cause_or_effect_is_refused(prog):
    db, _, t = prog
    bone = fishbone.save_fishbone(db, {"team_id": t["A"].id, "effect": "Falls"})
    fishbone.save_fishbone(as_(db, "amy"), {"effect": "Falls at night"}, id=bone.id,
                           version=bone.version)  # fmt: skip
    with pytest.raises(StaleEditError, match="Someone else changed this cause-and-effect "
                       "diagram"):  # fmt: skip
        fishbone.save_fishbone(as_(db, "ben"), {"effect": "Falls by day"}, id=bone.id,
                               version=bone.version)  # fmt: skip
    cause = fishbone.save_cause(db, {"team_id": t["A"].id, "category": "people", "text": "Staff"})
    fishbone.save_cause(as_(db, "amy"), {"text": "Night staff"}, id=cause.id, version=cause.version)
    with pytest.raises(StaleEditError, match="Someone else changed this cause"):
        fishbone.save_cause(as_(db, "ben"), {"text": "Day staff"}, id=cause.id,
                            version=cause.version)  # fmt: skip
    with pytest.raises(StaleEditError):
        fishbone.remove_cause(as_(db, "ben"), cause.id, version=cause.version)
    assert [c.text for c in fishbone.team_fishbone(db, "A").causes()] == ["Night staff"]
    assert fishbone.team_fishbone(db, "B").fishbone is None  # no diagram yet


def test_deleting_a_driver_unlinks_its_causes(prog):
    db, _, t = prog
    _, idea = _nodes(db, t["A"])
    fishbone.save_fishbone(db, {"team_id": t["A"].id, "effect": "Falls"})
    cause = fishbone.save_cause(db, {"team_id": t["A"].id, "category": "materials",
                                     "text": "Socks", "driver_node_id": idea.id})  # fmt: skip
    repo.delete_record(db, m.DriverNode, idea.id, version=idea.version)
    tree = fishbone.team_fishbone(db, "A")
    assert [(c.id, c.driver_node_id) for c in tree.causes()] == [(cause.id, None)]
