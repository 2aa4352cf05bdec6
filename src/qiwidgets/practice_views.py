"""HTML pieces for learning practice (issue M), shared by the dashboards, the reports and the
notebooks: who plays which part on a team, requests for help, shared records with their
comments, the safety pulse, prompts that deepen learning, learning levels over time, and a PDSA
plan's systems view. They render :mod:`qiwidgets.workbook.practice` and work nothing out.

Every user text is escaped. Elements carry ``data-qi-*`` attributes so that what each channel
shows can be read back in tests (``data-qi-help``, ``data-qi-pulse-month``,
``data-qi-pulse-shown``, ``data-qi-shared``, ``data-qi-prompt``). No colours carry meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qiwidgets import glossary
from qiwidgets.views import MUTED, esc, table, term
from qiwidgets.workbook import practice as wp

#: The wording of a help request's status.
HELP_STATUS_WORDS = {"open": "waiting for an answer", "answered": "answered", "closed": "closed"}
#: Terms the practice pieces use (for a page's or a report's "words used" note).
PRACTICE_TERMS = ("team_role", "coach", "help_request", "shared_pdsa", "comment", "safety_pulse",
                  "pulse_agree", "ebc_people", "ebc_systems", "ebc_design", "ebc_risk",
                  "risk_rating", "deeper_learning_prompt", "double_loop", "skills_profile",
                  "skills_technical", "skills_soft", "skills_learning", "skill_gap", "fishbone",
                  "fishbone_effect")  # fmt: skip


def muted(text: str) -> str:
    """A quiet note (``text`` is HTML already)."""
    return f'<p style="color:{MUTED};font-size:90%;margin:2px 0">{text}</p>'


def _lines(text: Any) -> str:
    return esc(text).replace("\n", "<br>")


# --- a team's people --------------------------------------------------------------------------


def team_roster(members: Iterable[Any]) -> str:
    """The team's people and their parts (never a ranking: by part, then by name)."""
    members = list(members)
    if not members:
        return muted("No one is recorded on this team yet: the programme lead grants access "
                      "(<code>qiwidgets access grant</code>), then the team lead says who plays "
                      "which part.")  # fmt: skip
    rows = [[esc(x.name), term(x.team_role) if x.team_role else "<em>not said yet</em>"]
            for x in members]  # fmt: skip
    coaches = [x.name for x in members if x.team_role == "coach"]
    coach = (f"<p class='qi-coach'><strong>{term('coach')}:</strong> "
             f"{esc(', '.join(coaches))}</p>" if coaches else
             muted("No coach is recorded for this team."))  # fmt: skip
    return coach + table(["Name", glossary.label("team_role")], rows, css_class="qi-roster")


# --- help ---------------------------------------------------------------------------------------


def help_requests(requests: Iterable[Any], names: Mapping[int, str], *,
                  team_cell: Callable[[Any], str] | None = None, empty: str = "") -> str:  # fmt: skip
    """Requests for help, newest (or open) first: what was asked, by whom, and the answer."""
    items = []
    for r in requests:
        who = names.get(r.raised_by_id)
        team = f"<strong>{team_cell(r.team)}</strong>, " if team_cell is not None else ""
        answer = ""
        if r.response:
            by = names.get(r.responded_by_id)
            when = f" on {r.responded_on:%d %b %Y}" if r.responded_on else ""
            answer = (f'<div class="qi-help-answer" style="margin-left:1em"><em>Answer'
                      f"{' from ' + esc(by) if by else ''}{esc(when)}:</em> "
                      f"{_lines(r.response)}</div>")  # fmt: skip
        items.append(
            f'<li class="qi-help" data-qi-help="{esc(r.status)}" data-qi-help-id="{r.id}" '
            f'style="margin-bottom:6px">{team}{r.raised_on:%d %b %Y}'
            f"{' — ' + esc(who) if who else ''} "
            f"<span style='color:{MUTED}'>({esc(HELP_STATUS_WORDS.get(r.status, r.status))})"
            f"</span><div>{_lines(r.request)}</div>{answer}</li>"
        )  # fmt: skip
    if not items:
        return muted(esc(empty or "No request for help."))
    return f'<ul class="qi-help-requests">{"".join(items)}</ul>'


# --- what teams shared, and the comments on it -----------------------------------------------------


def _pdsa_words(c: Any) -> list[tuple[str, Any]]:
    idea = c.change_idea.text if getattr(c, "change_idea", None) is not None else None
    return [("Change idea", idea), ("Prediction", c.prediction), ("Result", c.study_result),
            ("Act", glossary.label(c.act) if c.act else None)]  # fmt: skip


def shared_item(item: Any, people: Mapping[int, str], names: Mapping[int, str], *,
                heading: str = "h4") -> str:  # fmt: skip
    """A PDSA cycle or a story a team shared, and the comments other teams left on it."""
    rec = item.record
    if item.kind == "pdsa":
        title = f"{term('shared_pdsa', 'PDSA')}: {esc(rec.title)}"
        body = "".join(f"<div><em>{esc(k)}:</em> {_lines(v)}</div>"
                       for k, v in _pdsa_words(rec) if v)  # fmt: skip
    else:
        title = f"Story, {rec.date:%d %b %Y}"
        body = f"<div>{_lines(rec.story)}</div>"
    comments = "".join(
        f'<li class="qi-comment"><strong>{esc(people.get(c.author_id, "someone"))}</strong>'
        f"{', ' + esc(names.get(c.author_team_id)) if names.get(c.author_team_id) else ''}"
        f" ({c.created_at:%d %b %Y}): {_lines(c.text)}</li>"
        for c in item.comments
    )  # fmt: skip
    comments_html = (f'<ul class="qi-comments">{comments}</ul>' if comments
                     else muted("No comment yet."))  # fmt: skip
    return (f'<section class="qi-shared" data-qi-shared="{esc(item.key)}" '
            f'style="border-left:3px solid #d6dde5;padding:2px 10px;margin:8px 0">'
            f"<{heading} style='margin:2px 0'>{esc(item.team_name)} — {title}</{heading}>"
            f"{body}<div style='margin-top:4px'><em>Comments:</em>{comments_html}</div>"
            "</section>")  # fmt: skip


def shared_items(shared: Any, *, heading: str = "h4", empty: str = "") -> str:
    """Every shared record of ``shared`` (:class:`~qiwidgets.store.practice.SharedItems`)."""
    if not shared.items:
        return muted(esc(empty or "Nothing shared yet."))
    return "".join(shared_item(i, shared.people, shared.names, heading=heading)
                   for i in shared.items)  # fmt: skip


# --- the safety pulse ------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "" if x is None else f"{round(100 * x)}%"


def pulse(view: Any) -> str:
    """The pulse over time: answers, the share agreeing (overall and per statement) and the
    mean; a month with too few answers says so and shows nothing else."""
    if view.refused:
        return muted(esc(view.refused))
    intro = muted(f"{esc(glossary.explain('safety_pulse'))} {esc(wp.PULSE_SOURCE)}")
    if not view.rows:
        return intro + muted("No answers yet.")
    keys = list(wp.PULSE_ITEMS)
    head = ["Month", "Answers", "Agree, all statements", "Mean (1-5)",
            *[f"{i + 1}" for i in range(len(keys))]]  # fmt: skip
    rows, attrs = [], []
    for r in view.rows:
        attrs.append(f' data-qi-pulse-month="{r.month:%Y-%m}" data-qi-pulse-shown='
                     f'"{"yes" if r.shown else "no"}"')  # fmt: skip
        if not r.shown:
            what = (f"{r.responses} answer{'s' if r.responses != 1 else ''}" if view.scope ==
                    "team" else "too few")  # fmt: skip
            rows.append([f"{r.month:%b %Y}", esc(what),
                         f"<em>not shown: fewer than {view.minimum} answers</em>",
                         "", *[""] * len(keys)])  # fmt: skip
            continue
        teams = f" from {r.teams} teams" if view.scope != "team" else ""
        rows.append([f"{r.month:%b %Y}", esc(f"{r.responses}{teams}"), _pct(r.agree),
                     f"{r.mean:.1f}", *[_pct(r.items.get(k)) for k in keys]])  # fmt: skip
    legend = "".join(f"<li>{esc(text)}</li>" for text in wp.PULSE_ITEMS.values())
    who = ("Only the team's own people see this; the programme sees only totals across teams."
           if view.scope == "team" else
           f"Pooled across teams; a month is shown only with at least {view.minimum} answers "
           "from three teams or more, and no team's own results are shown.")  # fmt: skip
    return (f'<div class="qi-pulse" data-qi-pulse-scope="{esc(view.scope)}">{intro}'
            f"<p>{esc(view.change_words())}</p>"
            + table(head, rows, css_class="qi-pulse-table", row_attrs=attrs)
            + f'<ol style="font-size:90%;color:{MUTED}">{legend}</ol>{muted(esc(who))}</div>')  # fmt: skip


# --- prompts and levels ------------------------------------------------------------------------


def learning_prompts(prompts: Iterable[Any], *, empty: str = "") -> str:
    """The suggestions to question the team's theory (double-loop)."""
    items = [f'<li class="qi-prompt" data-qi-prompt="{esc(p.kind)}">{esc(p.text)}</li>'
             for p in prompts]  # fmt: skip
    rule = muted(esc(wp.DEEPER_LEARNING_RULE))
    if not items:
        return muted(esc(empty or "No suggestion now.")) + rule
    return (f"<p><strong>{term('deeper_learning_prompt')}</strong></p>"
            f'<ul class="qi-prompts">{"".join(items)}</ul>{rule}')  # fmt: skip


def learning_levels(levels: Any) -> str:
    """Reflections per quarter by level of learning (counts only)."""
    if not levels.rows:
        return muted("No reflection yet.")
    head = ["Quarter", *[glossary.label(k) for k in levels.levels], "No level"]
    rows = [[esc(q), *[str(n) for n in counts]] for q, *counts in levels.rows]
    return (f"<p>{esc(levels.words())}</p>" + table(head, rows, css_class="qi-levels")
            + muted("Every reflection is counted, shared or not; no text is shown."))  # fmt: skip


def programme_practice(practice: Any) -> str:
    """The programme's learning practice (issue M): the safety pulse pooled across teams, how
    learning levels move, suggestions to question a theory, and who coaches each team
    (:func:`qiwidgets.workbook.practice.programme_practice`)."""
    names = practice.team_names
    rows = [(esc(names.get(tid, "")), esc(", ".join(c.name for c in cs)) or "<em>none</em>")
            for tid, cs in sorted(practice.coaches.items(), key=lambda x: names.get(x[0], ""))]  # fmt: skip
    prompts = "".join(f"<h5>{esc(names.get(tid, ''))}</h5>" + learning_prompts(ps)
                      for tid, ps in practice.prompts.items())  # fmt: skip
    none = learning_prompts([], empty="No team has a suggestion to question its theory now.")
    gaps = (f"<h3>{term('skills_profile', 'Skills')}: gaps across teams</h3>"
            + skill_gaps(practice.skill_gaps) if practice.skill_gaps is not None else "")  # fmt: skip
    return (f"<h3>{term('safety_pulse')} across teams</h3>" + pulse(practice.pulse) + gaps
            + "<h3>How learning levels move</h3>" + learning_levels(practice.levels)
            + f"<h4>{term('deeper_learning_prompt')}</h4>" + (prompts or none)
            + f"<h3>{term('coach')} of each team</h3>"
            + table(["Team", "Coach"], rows, css_class="qi-coaches"))  # fmt: skip


# --- skills: a team's coverage, the gaps across teams ---------------------------------------------


def _level_head() -> list[str]:
    return [f"{k} {v}" for k, v in wp.SKILL_SCALE.items()]


def skills_coverage(coverage: Any) -> str:
    """A team's skills as counts (:func:`qiwidgets.store.skills.team_skills`): per item, how
    many rated themselves at each level, and the gaps. No one's own answers."""
    said = (f"{coverage.answered} of {coverage.people} "
            f"{'person' if coverage.people == 1 else 'people'} on the team "
            f"{'has' if coverage.answered == 1 else 'have'} filled in a "
            f"{term('skills_profile', 'skills profile')}.")  # fmt: skip
    if not coverage.answered:
        return (f'<div class="qi-skills" data-qi-skills-answered="0"><p>{said}</p>'
                + muted("No one has rated their skills yet: each person fills in their own, "
                        "under 'My skills'.") + "</div>")  # fmt: skip
    if coverage.withheld:
        return (f'<div class="qi-skills" data-qi-skills-answered="{coverage.answered}" '
                f'data-qi-skills-withheld="yes"><p>{said}</p>'
                + muted(f"The team's counts show once {coverage.minimum} people have filled in "
                        "theirs: with fewer, one person's answers could be read from them.")
                + "</div>")  # fmt: skip
    rows, attrs = [], []
    by_item = {i.item: i for i in coverage.items}
    for group, items in wp.skill_groups():
        rows.append([f"<strong>{term(group)}</strong>", *[""] * (len(wp.SKILL_SCALE) + 1)])
        attrs.append("")
        for key, text in items:
            c = by_item[key]
            rows.append([esc(text), *[str(n) for n in c.counts],
                         f"<strong>{term('skill_gap')}</strong>" if c.gap else ""])  # fmt: skip
            attrs.append(f' data-qi-skill="{esc(key)}" data-qi-skill-gap="{"yes" if c.gap else "no"}"')
    gaps = len(coverage.gaps)
    words = (f"{gaps} {'skill is a gap' if gaps == 1 else 'skills are gaps'}: no one who rated "
             "themselves is confident in it (2 or more)." if gaps else
             "Every skill has someone confident in it (2 or more).")  # fmt: skip
    return (f'<div class="qi-skills" data-qi-skills-answered="{coverage.answered}"><p>{said} '
            f"{esc(words)}</p>"
            + table(["Skill", *_level_head(), glossary.label("skill_gap")], rows,
                    css_class="qi-skills-table",
                    row_attrs=attrs)
            + muted("How many people rated themselves at each level; no one's own answers are "
                    f"shown. {esc(wp.SKILLS_SOURCE)}") + "</div>")  # fmt: skip


def skill_gaps(gaps: Any) -> str:
    """The skills gaps across the programme's teams (:func:`qiwidgets.store.skills.
    programme_skill_gaps`): counts of teams per skill, in the framework's order. No team and no
    person is named, and nothing is ranked."""
    said = (f"{gaps.teams_answered} of {gaps.teams} teams have skills profiles from "
            f"{gaps.minimum} people or more ({gaps.people_answered} people), so their "
            "counts are shown.")  # fmt: skip
    if not gaps.teams_answered:
        return f'<div class="qi-skill-gaps"><p>{esc(said)}</p></div>'
    by_item = {i.item: i for i in gaps.items}
    rows, attrs = [], []
    for group, items in wp.skill_groups():
        rows.append([f"<strong>{term(group)}</strong>", "", ""])
        attrs.append("")
        for key, text in items:
            g = by_item[key]
            rows.append([esc(text), str(g.teams_with_gap), str(g.teams_with_teacher)])
            attrs.append(f' data-qi-skill="{esc(key)}" data-qi-skill-gap-teams="{g.teams_with_gap}"')
    return (f'<div class="qi-skill-gaps"><p>{esc(said)}</p>'
            + table(["Skill", f"Teams where it is a {glossary.label('skill_gap').lower()}",
                     "Teams with someone who can teach it"], rows,
                    css_class="qi-skill-gaps-table", row_attrs=attrs)
            + muted("Counts of teams only: no team or person is named, and skills are listed "
                    "in the framework's order, not ranked. A team with a gap may be put in "
                    "touch with one that can teach it.") + "</div>")  # fmt: skip


# --- the fishbone ------------------------------------------------------------------------------


def _driver_words(node: Any) -> str:
    if node is None:
        return ""
    return (f' <span class="qi-cause-driver" style="color:{MUTED}">→ '
            f"{esc(glossary.label(node.kind))}: {esc(node.text)}</span>")  # fmt: skip


def _cause_item(n: Any) -> str:
    subs = "".join(_cause_item(c) for c in n.children)
    subs = f"<ul>{subs}</ul>" if subs else ""
    return (f'<li class="qi-cause" data-qi-cause="{n.cause.id}">{esc(n.cause.text)}'
            f"{_driver_words(n.driver)}{subs}</li>")  # fmt: skip


def fishbone(tree: Any, *, heading: str = "h4", empty: str = "") -> str:
    """A team's fishbone as a list: the effect, then each category's causes with their
    sub-causes, and the driver-diagram entry each links to."""
    if tree is None or tree.fishbone is None:
        return muted(esc(empty or "No cause-and-effect diagram yet."))
    parts = []
    for category, nodes in tree.categories:
        items = "".join(_cause_item(n) for n in nodes) or "<li><em>nothing noted</em></li>"
        parts.append(f'<div class="qi-fishbone-category" data-qi-cause-category="{esc(category)}">'
                     f"<{heading} style='margin:4px 0'>{term('cause_' + category)}</{heading}>"
                     f"<ul>{items}</ul></div>")  # fmt: skip
    linked = (f"{tree.linked_count} of {tree.cause_count} causes link to the driver diagram."
              if tree.cause_count else "No cause noted yet.")  # fmt: skip
    return (f'<div class="qi-fishbone" data-qi-fishbone="{tree.team_id}">'
            f"<p><strong>{term('fishbone_effect')}:</strong> {_lines(tree.effect)}</p>"
            + "".join(parts) + muted(esc(linked)) + "</div>")  # fmt: skip


# --- a PDSA plan's systems view, and Senge's disciplines ------------------------------------------


def pdsa_lens(lens: Any) -> str:
    """A PDSA plan through the four perspectives, and its risk rating."""
    rows = [[term(f"ebc_{k}"), _lines(getattr(lens, k))] for k in wp.EBC_QUESTIONS
            if getattr(lens, k)]  # fmt: skip
    rows.append([term("risk_rating"), esc(wp.risk_words(lens))])
    if lens.risk_controls:
        rows.append(["Keeping the risk down", _lines(lens.risk_controls)])
    return table(["Perspective", "What the team wrote"], rows, css_class="qi-lens")


def disciplines(tags: Iterable[str]) -> str:
    """Senge's disciplines a reflection speaks to, as terms."""
    tags = list(tags)
    if not tags:
        return ""
    return (f'<span class="qi-disciplines">Disciplines: '
            f"{', '.join(term(t) for t in tags)}</span>")  # fmt: skip


__all__ = ["HELP_STATUS_WORDS", "PRACTICE_TERMS", "disciplines", "fishbone", "help_requests",
           "learning_levels", "learning_prompts", "muted", "pdsa_lens", "programme_practice", "pulse", "shared_item",
           "shared_items", "skill_gaps", "skills_coverage", "team_roster"]  # fmt: skip
