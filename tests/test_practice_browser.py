"""Learning practice on ``qiwidgets serve`` (issue M), in Chromium with personal links: a
team's request for help reaches the programme lead's page and the answer comes back; a member
comments on another team's shared PDSA cycle (and cannot reach one a team kept); the safety pulse
shows a team only its months with enough answers and the programme only totals across teams.

The sample's own people (``qiwidgets.store.practice_sample``) get links, as the operator would
give them; every check of what was saved reads the store itself.
"""

from __future__ import annotations

import uuid

import pytest
from browser import PAGE_TIMEOUT, assert_no_violation, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 60_000  # ms
MEMBER = "cal.roberts@riverside.example"  # Ward 5, member
SMALL_TEAM_MEMBER = "liam.smith@eastgate.example"  # Ward 12, member
LEAD = "rosa.mendes@falls-collaborative.example"  # the programme lead


@pytest.fixture(scope="module")
def links(store):
    from qiwidgets.store import people
    from qiwidgets.store.db import dispose_engines

    db = f"sqlite:///{store}"
    made = {key: people.create_link(db, key)[1] for key in (MEMBER, SMALL_TEAM_MEMBER, LEAD)}
    dispose_engines()
    return made


def link(server, secret: str, page: str = "team.ipynb") -> str:
    return server.url(page, token=False, access=secret)


def open_tab(page, title: str):
    page.locator(".lm-TabBar-tab", has_text=title).first.click()
    return page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")


def said(panel) -> str:
    found = panel.locator(".qi-status-ok[data-qi-saved], .qi-status-problem").first
    found.wait_for(timeout=WAIT)
    return found.inner_text()


def test_a_request_for_help_reaches_the_programme_lead_and_the_answer_comes_back(
        served, links, visit, store):  # fmt: skip
    from qiwidgets.store import practice

    db = f"sqlite:///{store}"
    words = f"Could someone show us how Ward 1 audits at night? ({uuid.uuid4().hex[:8]})"
    member = visit()
    page = member.open(link(served, links[MEMBER]), charts=1)
    assert page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"
    panel = open_tab(page, "Our team")
    form = panel.locator(".qi-help-form")
    form.locator("textarea").wait_for(timeout=PAGE_TIMEOUT)
    form.locator("textarea").first.fill(words)
    form.get_by_role("button", name="Ask for help").click()
    assert said(form) == "✓ Your request was sent to the programme lead and your coach."
    (asked,) = [r for r in practice.list_help_requests(db, "W05") if r.request == words]
    assert asked.status == "open"
    panel.locator(".qi-my-skills select").first.wait_for(timeout=WAIT)  # a member rates hers
    assert_no_violation(page, "a member's 'Our team' tab (her skills and the pulse to answer)")

    lead = visit()
    page = lead.open(link(served, links[LEAD], "programme.ipynb"), charts=1)
    inbox = page.locator(".qi-help-inbox")
    item = inbox.locator(f"li.qi-help[data-qi-help-id='{asked.id}']")
    item.wait_for(timeout=WAIT)
    assert item.get_attribute("data-qi-help") == "open"
    assert "Ward 5 (Respiratory)" in item.inner_text() and words in item.inner_text()
    assert "Cal Roberts" in item.inner_text()  # who asked
    assert_no_violation(page, "the programme lead's page with a request to answer")
    heading = page.locator(".qi-help-heading").inner_text()
    assert "waiting for an answer" in heading
    screenshot(page, "practice-help-lead.png")
    # the programme sees the pulse only as totals across teams
    html = page.content()
    assert 'data-qi-pulse-scope="programme"' in html and 'data-qi-pulse-scope="team"' not in html

    chosen = inbox.locator("select").first.evaluate(
        "s => s.options[s.selectedIndex].text").replace("\xa0", " ")  # fmt: skip
    assert chosen.startswith("Ward 5 (Respiratory)"), chosen  # the newest open request
    inbox.locator("textarea").fill("Yes: Ward 1's falls champion will join your huddle.")
    inbox.get_by_role("button", name="Send answer").click()
    assert said(inbox) == "✓ Your answer was sent to Ward 5 (Respiratory)."
    (answered,) = [r for r in practice.list_help_requests(db, "W05") if r.id == asked.id]
    assert answered.status == "answered" and "falls champion" in answered.response

    page = member.open(link(served, links[MEMBER]), charts=1)
    panel = open_tab(page, "Our team")
    mine = panel.locator(f"li.qi-help[data-qi-help-id='{asked.id}']")
    mine.wait_for(timeout=WAIT)
    assert mine.get_attribute("data-qi-help") == "answered"
    assert "falls champion will join your huddle" in mine.inner_text()
    assert "Rosa Mendes" in mine.inner_text()
    assert not member.errors and not lead.errors, member.errors + lead.errors


def test_a_member_comments_on_another_team_s_shared_pdsa_and_not_on_a_kept_one(
        served, links, visit, store):  # fmt: skip
    from qiwidgets.store import people, practice, repo

    db = f"sqlite:///{store}"
    shared = practice.shared_items(db, "FALLS")
    target = next(i for i in shared.items if i.kind == "pdsa" and i.team_name.startswith("Ward 1 "))
    kept = [c for c in repo.list_pdsa_cycles(db, "W03") if not c.shared]
    assert kept, "the sample keeps Ward 3's cycles with the team"
    words = f"How long did the night version take to bed in? ({uuid.uuid4().hex[:8]})"

    v = visit()
    page = v.open(link(served, links[MEMBER]), charts=1)
    panel = open_tab(page, "Other teams")
    box = panel.locator(".qi-shared-learning")
    pick = box.locator("select").first
    pick.wait_for(timeout=PAGE_TIMEOUT)
    options = pick.locator("option").all_inner_texts()
    assert all("Ward 5 " not in o.split(":")[0] for o in options)  # not its own
    for cycle in kept:  # a cycle a team kept is not offered, nor is its title anywhere
        assert all(cycle.title not in o for o in options)
        assert cycle.title not in page.content()
    pick.select_option(label=f"{target.team_name}: {target.record.title}")
    box.locator(f"[data-qi-shared='{target.key}']").first.wait_for(timeout=WAIT)
    box.locator("textarea").fill(words)
    box.get_by_role("button", name="Post comment").click()
    assert said(box) == f"✓ Your comment was added for {target.team_name}."
    box.locator(".qi-comment", has_text=words).first.wait_for(timeout=WAIT)
    after = practice.shared_items(db, "FALLS").find(target.key)
    (c,) = [c for c in after.comments if c.text == words]
    assert c.author_id == people.get_person(db, MEMBER).id
    assert c.author_team_id == repo.get_team(db, "W05").id and c.team_id == target.team_id
    assert_no_violation(page, "a member's 'Other teams' tab, with a comment to take back")

    # she takes it back
    mine = box.locator("select").nth(1)
    mine.select_option(label=f"{target.team_name}: {words[:60]}")
    box.get_by_role("button", name="Remove my comment").click()
    box.locator(".qi-status-ok", has_text="was removed").first.wait_for(timeout=WAIT)
    assert said(box) == f"✓ Your comment on {target.team_name}'s record was removed."
    assert box.locator(".qi-comment", has_text=words).count() == 0
    assert words not in [c.text for c in practice.shared_items(db, "FALLS").find(
        target.key).comments]  # fmt: skip
    assert not v.errors, v.errors


def test_a_team_sees_its_pulse_only_for_months_with_enough_answers(served, links, visit):
    """Ward 12's May 2026 had two answers: its row says so and shows no result; its later
    months show the team's totals, and no individual answer is anywhere."""
    v = visit()
    page = v.open(link(served, links[SMALL_TEAM_MEMBER]), charts=1)
    panel = open_tab(page, "Our team")
    pulse = panel.locator(".qi-pulse[data-qi-pulse-scope='team']")
    pulse.wait_for(timeout=PAGE_TIMEOUT)
    may = pulse.locator("tr[data-qi-pulse-month='2026-05']")
    assert may.get_attribute("data-qi-pulse-shown") == "no"
    assert "not shown: fewer than 3 answers" in may.inner_text() and "%" not in may.inner_text()
    october = pulse.locator("tr[data-qi-pulse-month='2026-10']")
    assert october.get_attribute("data-qi-pulse-shown") == "yes" and "%" in october.inner_text()
    # the form is there to answer this month (the sample's people have not answered for today)
    assert panel.locator(".qi-safety-pulse select").count() == 5
    assert not v.errors, v.errors
