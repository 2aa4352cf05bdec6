"""My skills and the fishbone editor (issue M, items 2 and 3), driven by setting trait values in
plain pytest, each acting as a person (an ActingDB, as a dashboard kernel does): the store
changes, the widget says what happened, refusals are messages and never tracebacks, hostile
text stays text.
"""

from __future__ import annotations

import pytest
from practice_people import as_, programme_with_people

from qiwidgets import practice_views as pv
from qiwidgets.store import fishbone, repo, skills
from qiwidgets.store import models as m
from qiwidgets.store.db import dispose_engines, init_db
from qiwidgets.widgets.practice import FishboneEditor, MySkills
from qiwidgets.workbook import practice as wp

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def db(tmp_path):
    """Ward A (Amy leads, Ben and Bo are members, Vic views) and Ward B (Cat) of FALLS; Lee
    leads FALLS. Ward A and Ward B each have a driver diagram."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    init_db(url)
    _, _, teams = programme_with_people(url, "AB", (
        ("amy", "Amy", "lead", "A"), ("ben", "Ben", "member", "A"),
        ("bo", "Bo", "member", "A"), ("vic", "Vic", "viewer", "A"),
        ("cat", "Cat", "member", "B"), ("lee", "Lee", "programme_lead", None),
    ))
    for code in "AB":
        t = teams[code]
        primary = repo.save_driver_node(url, {"team_id": t.id, "kind": "primary",
                                              "text": f"Safe environment {code}"})  # fmt: skip
        repo.save_driver_node(url, {"team_id": t.id, "kind": "change_idea", "parent_id": primary.id,
                                    "text": f"Socks in every bay {code}"})  # fmt: skip
    yield url
    dispose_engines()


def no_traceback(w) -> None:
    assert "Traceback" not in w.status.value and "Error" not in w.message[:6]


def rate(w: MySkills, level: int, **levels: int) -> None:
    for k, dropdown in w.ratings.items():
        dropdown.value = levels.get(k, level)


# --- my skills -------------------------------------------------------------------------------------


def test_my_skills_saves_my_own_ratings_and_shows_the_team_counts(db):
    w = MySkills(as_(db, "ben"), "A")
    assert w.profile is None and w.form.layout.display is None
    assert 'data-qi-skills-answered="0"' in w.team_view.value
    assert list(w.ratings) == list(m.SKILL_ITEMS)
    w.save_button.click()  # nothing rated yet: nothing written
    assert w.message_kind == "problem" and "Rate every skill" in w.message
    assert skills.my_skills(as_(db, "ben"), "A") is None
    rate(w, 1, tech_pdsa=3)
    w.save_button.click()
    assert w.message_kind == "ok", w.message
    assert skills.my_skills(as_(db, "ben"), "A").ratings["tech_pdsa"] == 3
    assert w.profile.version == 1 and w.coverage.answered == 1
    # one profile: the counts would be Ben's answers, so none is shown yet
    assert 'data-qi-skills-withheld="yes"' in w.team_view.value
    assert "data-qi-skill=" not in w.team_view.value
    assert "show once 3 people have filled in theirs" in w.team_view.value

    # Bo's form starts empty; with two profiles each could read the other's: still none
    bo = MySkills(as_(db, "bo"), "A")
    assert all(d.value == -1 for d in bo.ratings.values()) and bo.coverage.answered == 1
    rate(bo, 2)
    bo.save_button.click()
    assert bo.message_kind == "ok" and bo.coverage.withheld and bo.coverage.items == ()
    assert "data-qi-skill=" not in bo.team_view.value

    # the third profile: counts, no one named
    amy = MySkills(as_(db, "amy"), "A")
    rate(amy, 0, soft_influence=1)
    amy.save_button.click()
    assert amy.message_kind == "ok" and amy.coverage.item("soft_influence").counts == (0, 2, 1, 0)
    assert 'data-qi-skill="soft_influence" data-qi-skill-gap="no"' in amy.team_view.value
    assert 'data-qi-skill="learn_share" data-qi-skill-gap="no"' in amy.team_view.value
    for name in ("Ben", "Bo", "Amy"):
        assert name not in amy.team_view.value

    # Ben's page reopened shows his own ratings; a change is saved at the version read
    again = MySkills(as_(db, "ben"), "A")
    assert again.ratings["tech_pdsa"].value == 3 and again.ratings["tech_measures"].value == 1
    again.ratings["tech_measures"].value = 2
    again.save_button.click()
    assert again.message_kind == "ok" and again.profile.version == 2


def test_a_stale_page_and_a_forged_value_are_refused(db):
    first = MySkills(as_(db, "ben"), "A")
    second = MySkills(as_(db, "ben"), "A")  # the same person, another tab
    rate(first, 1)
    first.save_button.click()
    rate(second, 3)
    second.save_button.click()
    assert second.message_kind == "conflict" and "Someone else changed this skills profile" in (
        second.message)
    assert skills.my_skills(as_(db, "ben"), "A").ratings["tech_pdsa"] == 1
    first.ratings["tech_pdsa"].value = 2
    first.ratings["tech_pdsa"].set_state({"index": None})  # what a forged message could leave
    first.save_button.click()
    assert first.message_kind == "problem"
    no_traceback(first)


def test_someone_off_the_team_sees_the_counts_without_a_form(db):
    lead = MySkills(as_(db, "lee"), "A")  # the programme lead reads the counts only
    assert lead.form.layout.display == "none" and "Lee has no role there" in lead.message
    assert 'data-qi-skills-answered="0"' in lead.team_view.value
    command = MySkills(db, "A")  # an analyst's notebook: no person, no form
    assert command.form.layout.display == "none"
    no_traceback(command)


def test_the_views_render_counts_in_the_framework_s_order():
    cov = skills.SkillCoverage(1, 5, 3, tuple(skills.ItemCoverage(k, (0, 3, 0, 0) if k ==
                               "learn_share" else (0, 1, 1, 1)) for k in m.SKILL_ITEMS))  # fmt: skip
    html = pv.skills_coverage(cov)
    assert "3 of 5 people on the team have filled in" in html and "1 skill is a gap" in html
    order = [html.index(f'data-qi-skill="{k}"') for k in m.SKILL_ITEMS]
    assert order == sorted(order)
    for group in wp.SKILL_GROUPS:
        assert f'data-qi-term="{group}"' in html
    gaps = skills.SkillGaps(12, 4, 20, tuple(skills.ItemGaps(k, 1, 2) for k in m.SKILL_ITEMS))
    text = pv.skill_gaps(gaps)
    assert "4 of 12 teams have skills profiles from 3 people or more (20 people)" in text
    assert text.count('data-qi-skill-gap-teams="1"') == len(m.SKILL_ITEMS)


def test_the_items_are_defined_once_and_grouped_in_three():
    assert [k for keys in wp.SKILL_GROUPS.values() for k in keys] == list(m.SKILL_ITEMS)
    assert set(wp.SKILL_ITEMS) == set(m.SKILL_ITEMS)
    assert list(wp.SKILL_SCALE) == list(skills.LEVELS)
    assert "Skilled for improvement" in wp.SKILLS_SOURCE


# --- the fishbone editor ---------------------------------------------------------------------------


def _node(db, text):
    return next(n for n in repo.list_driver_nodes(db, "A") if n.text == text)


def test_the_fishbone_editor_adds_changes_and_removes_causes(db):
    w = FishboneEditor(as_(db, "ben"), "A")
    assert "No cause-and-effect diagram yet" in w.diagram.value
    w.text.value = "Night staffing"
    w.add_button.click()  # no effect yet: the store says what to do first
    assert w.message_kind == "problem" and "state the effect" in w.message
    no_traceback(w)
    w.effect.value = f"Falls at night {HOSTILE}"
    w.effect_button.click()
    assert w.message_kind == "ok", w.message
    assert "&lt;img" in w.diagram.value and HOSTILE not in w.diagram.value

    w.category.value = "people"
    w.text.value = "Night staffing"
    w.add_button.click()
    assert w.message_kind == "ok", w.message
    w.category.value = "people"
    staff = next(c for c in w.tree.causes() if c.text == "Night staffing")
    w.parent.value = staff.id
    w.text.value = "Agency staff new to the ward"
    w.add_button.click()
    w.category.value = "materials"
    w.text.value = "Socks run out"
    w.driver.value = _node(db, "Socks in every bay A").id
    w.add_button.click()
    assert w.message_kind == "ok", w.message
    tree = fishbone.team_fishbone(db, "A")
    assert tree.cause_count == 3 and tree.linked_count == 1
    assert 'data-qi-cause-category="materials"' in w.diagram.value
    assert "→ Change idea: Socks in every bay A" in w.diagram.value
    people_html = w.diagram.value.split('data-qi-cause-category="people"')[1].split("</div>")[0]
    assert people_html.index("Night staffing") < people_html.index("Agency staff")

    # change a cause's text and link
    socks = next(c for c in w.tree.causes() if c.text == "Socks run out")
    w.cause.value = socks.id
    assert w.edit_driver.value == socks.driver_node_id
    w.edit_text.value = "Socks run out at weekends"
    w.edit_driver.value = None
    w.edit_button.click()
    assert w.message_kind == "ok", w.message
    assert [(c.text, c.driver_node_id) for c in fishbone.team_fishbone(db, "A").causes()
            if c.category == "materials"] == [("Socks run out at weekends", None)]

    # remove a cause with its sub-cause
    w.cause.value = next(c for c in w.tree.causes() if c.text == "Night staffing").id
    w.remove_button.click()
    assert w.message_kind == "ok" and "with its 1 sub-cause" in w.message
    assert [c.text for c in fishbone.team_fishbone(db, "A").causes()] == [
        "Socks run out at weekends"]


def test_the_fishbone_editor_refuses_a_stale_edit_and_another_team_s_driver(db):
    fishbone.save_fishbone(db, {"team_id": repo.get_team(db, "A").id, "effect": "Falls"})
    w = FishboneEditor(as_(db, "ben"), "A")
    assert "Socks in every bay B" not in str(w.driver.options)  # only the team's own drivers
    w.text.value = "Socks run out"
    w.driver.value = _node(db, "Socks in every bay A").id
    # a forged message naming Ward B's node is refused by the widget's own choices
    other = next(n for n in repo.list_driver_nodes(db, "B") if n.kind == "change_idea")
    w.driver.options = [*w.driver.options, ("forged", other.id)]
    w.driver.value = other.id
    w.add_button.click()
    assert w.message_kind == "problem" and "is not on Ward A's driver diagram" in w.message
    no_traceback(w)
    w.driver.value = None
    w.add_button.click()
    assert w.message_kind == "ok", w.message
    cause = w.tree.causes()[0]
    other_page = FishboneEditor(as_(db, "amy"), "A")
    w.cause.value = cause.id
    other_page.cause.value = cause.id
    other_page.edit_text.value = "Socks run out at night"
    other_page.edit_button.click()
    w.edit_text.value = "Socks run out by day"
    w.edit_button.click()
    assert w.message_kind == "conflict" and "Someone else changed this cause" in w.message
    assert fishbone.team_fishbone(db, "A").causes()[0].text == "Socks run out at night"
    viewer = FishboneEditor(as_(db, "vic"), "A")
    viewer.text.value = "A viewer's cause"
    viewer.add_button.click()
    assert viewer.message_kind == "problem" and "but not change them" in viewer.message
