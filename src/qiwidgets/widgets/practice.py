"""Learning practice forms (issue M): the team's people and their parts, asking for help (and
the programme lead's answers), the safety pulse, comments on what other teams shared, a PDSA
plan's systems view, Senge's disciplines on a reflection, my skills (with the team's coverage)
and the team's cause-and-effect (fishbone) diagram.

Each form checks what it receives (a visitor can send any trait value), saves through
:mod:`qiwidgets.store.practice` — where who may do what is decided — and renders with
:mod:`qiwidgets.practice_views`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import practice_views as pv
from qiwidgets import workbook as wb
from qiwidgets.store import fishbone as fb
from qiwidgets.store import models as m
from qiwidgets.store import people, repo
from qiwidgets.store import practice as sp
from qiwidgets.store import skills as sk
from qiwidgets.widgets._base import Panel, esc, help_line, named_beside, safe, term_html, wide
from qiwidgets.widgets.purpose import driver_node_label, resolve_team
from qiwidgets.workbook import practice as wp

_STYLE = {"description_width": "140px"}
#: "Not said yet" and the roles on a team, as a dropdown offers them.
ROLE_OPTIONS = (("(not said yet)", ""),) + tuple((glossary.label(r), r) for r in
                                                  m.TEAM_MEMBER_ROLES)  # fmt: skip
#: The answers to a pulse statement, as a dropdown offers them ("" = not answered yet).
PULSE_OPTIONS = (("(choose)", 0),) + tuple((f"{k} {v}", k) for k, v in wp.PULSE_SCALE.items())
#: A risk rating's choices ("" = not rated).
RATING_OPTIONS = (("(not rated)", 0),) + tuple(
    (str(i), i) for i in range(m.RISK_RATING_MIN, m.RISK_RATING_MAX + 1))  # fmt: skip

#: A skill's levels, as a dropdown offers them (-1 = not rated yet).
SKILL_OPTIONS = (("(choose)", -1),) + tuple((f"{k} {v}", k) for k, v in wp.SKILL_SCALE.items())
#: The fishbone's categories, as a dropdown offers them.
CATEGORY_OPTIONS = tuple((glossary.label(f"cause_{c}"), c) for c in m.FISHBONE_CATEGORIES)


def _team(db: Any, team: Any) -> Any:
    return team if hasattr(team, "programme_id") else repo.get_team(db, team)


class TeamRoster(Panel):
    """The team's people and their part in its work; the team's lead (or the programme lead)
    says who plays which part. ``members``: the :class:`~qiwidgets.store.practice.TeamMember`
    list shown."""

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self.add_class("qi-team-roster")
        self.members: list = []
        self.roster = widgets.HTML()
        self.person = widgets.Dropdown(description="Person", layout=wide(), style=_STYLE)
        self.team_role = widgets.Dropdown(description="Role on the team", options=ROLE_OPTIONS,
                                          value="", style=_STYLE)  # fmt: skip
        self.save_button = widgets.Button(description="Save role")
        self.save_button.on_click(self._on_save)
        self.children = [widgets.HTML(term_html("team_role")), self.roster, self.person,
                         self.team_role, self.save_button, self.status]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any) -> None:
        self.team = _team(self.db, team)
        self.members = sp.team_members(self.db, self.team.id)
        self.roster.value = pv.team_roster(self.members)
        self.person.options = [(x.name, x.key) for x in self.members]
        self.person.value = self.members[0].key if self.members else None

    @safe("saving the role on the team")
    def _on_save(self, _button: Any = None) -> None:
        key = wb.clean_choice(self.person.value, "person", [k for _, k in self.person.options])
        role = wb.clean_choice(self.team_role.value, "role on the team",
                               [v for _, v in ROLE_OPTIONS])  # fmt: skip
        if key is None:
            raise wb.WorkbookInputError("Choose a person first.")
        saved = sp.set_team_role(self.db, key, self.team.id, role or None)
        self.confirm_saved(f"Saved: {saved.name}, "
                           f"{glossary.label(saved.team_role) if saved.team_role else 'no role'}.",
                           lambda: self.load(self.team))  # fmt: skip


class HelpRequests(Panel):
    """Ask the programme lead for help, see the answers, and close a request once it is done.
    ``saved``: the request last saved."""

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.add_class("qi-help-form")
        self.today = today
        self.saved = None
        self.requests: list = []
        self.request = widgets.Textarea(placeholder="What help does the team need, and from "
                                        "whom? (the programme lead and your coach see it)",
                                        layout=wide())  # fmt: skip
        self.ask_button = widgets.Button(description="Ask for help", button_style="primary")
        self.open_pick = widgets.Dropdown(description="Request", layout=wide(), style=_STYLE)
        self.close_button = widgets.Button(description="Close this request")
        self.listing = widgets.HTML()
        self.ask_button.on_click(self._on_ask)
        self.close_button.on_click(self._on_close)
        self.children = [widgets.HTML(term_html("help_request")), self.request, self.ask_button,
                         self.status, widgets.HTML("<h3>Our requests</h3>"), self.listing,
                         self.open_pick, self.close_button]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any) -> None:
        self.team = _team(self.db, team)
        self.requests = sp.list_help_requests(self.db, self.team.id)
        names = sp.person_names(self.db, [x for r in self.requests
                                          for x in (r.raised_by_id, r.responded_by_id)])  # fmt: skip
        self.listing.value = pv.help_requests(self.requests, names,
                                              empty="The team has not asked for help yet.")  # fmt: skip
        still = [r for r in self.requests if r.status != "closed"]
        self.open_pick.options = [(f"{r.raised_on:%d %b}: {r.request[:60]}", r.id) for r in still]
        self.open_pick.value = still[0].id if still else None

    @safe("asking for help")
    def _on_ask(self, _button: Any = None) -> None:
        text = wb.clean_text(self.request.value, "request", required=True, max_length=sp.MAX_TEXT)
        self.saved = sp.ask_for_help(self.db, {"team_id": self.team.id, "request": text,
                                               "raised_on": self.today or dt.date.today()})  # fmt: skip
        self.request.value = ""
        self.confirm_saved("Your request was sent to the programme lead and your coach.",
                           lambda: self.load(self.team))  # fmt: skip

    @safe("closing the request")
    def _on_close(self, _button: Any = None) -> None:
        rid = wb.clean_choice(self.open_pick.value, "request",
                              [v for _, v in self.open_pick.options])  # fmt: skip
        found = next((r for r in self.requests if r.id == rid), None)
        if found is None:
            raise wb.WorkbookInputError("Choose one of the team's requests first.")
        self.saved = sp.close_help_request(self.db, found.id, version=found.version)
        self.confirm_saved("The request is closed.", lambda: self.load(self.team))


class HelpInbox(Panel):
    """The programme lead's requests from every team: answer one (the team sees the answer on
    its page). ``requests``: what is shown; ``saved``: the request last answered."""

    def __init__(self, db: Any, practice: Any, *, team_cell: Callable[[Any], str] | None = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.add_class("qi-help-inbox")
        self.today = today
        self.saved = None
        self.team_cell = team_cell or (lambda t: esc(t.name))
        self.requests = list(practice.help_requests)
        self.names = dict(practice.names)
        self.listing = widgets.HTML()
        self.pick = widgets.Dropdown(description="Answer", layout=wide(), style=_STYLE)
        self.answer = widgets.Textarea(placeholder="Your answer (the team sees it on its page)",
                                       layout=wide())  # fmt: skip
        self.send = widgets.Button(description="Send answer", button_style="primary")
        self.send.on_click(self._on_send)
        self.children = [self.listing, self.pick, self.answer, self.send, self.status]
        self.render()

    def render(self) -> None:
        self.listing.value = pv.help_requests(self.requests, self.names, team_cell=self.team_cell,
                                              empty="No team has asked for help.")  # fmt: skip
        waiting = [r for r in self.requests if r.status == "open"]
        self.pick.options = [(f"{r.team.name}, {r.raised_on:%d %b}: {r.request[:50]}", r.id)
                             for r in waiting]  # fmt: skip
        self.pick.value = waiting[0].id if waiting else None

    def reload(self) -> None:
        practice = wp.programme_practice(self.db, self.requests[0].team.programme_id
                                         if self.requests else None)  # fmt: skip
        self.requests, self.names = list(practice.help_requests), dict(practice.names)
        self.render()

    @safe("answering the request")
    def _on_send(self, _button: Any = None) -> None:
        rid = wb.clean_choice(self.pick.value, "request", [v for _, v in self.pick.options])
        found = next((r for r in self.requests if r.id == rid), None)
        if found is None:
            raise wb.WorkbookInputError("Choose a request waiting for an answer first.")
        text = wb.clean_text(self.answer.value, "answer", required=True, max_length=sp.MAX_TEXT)
        self.saved = sp.answer_help_request(self.db, found.id, version=found.version,
                                            response=text, today=self.today)  # fmt: skip
        self.answer.value = ""
        self.confirm_saved(f"Your answer was sent to {found.team.name}.", self.reload)


class SafetyPulse(Panel):
    """The team's safety pulse: answer the five statements once a month (anonymously: only the
    team's totals are kept) and see the team's trend. ``view``: the
    :class:`~qiwidgets.workbook.practice.PulseView` shown; ``answered``: answered this month."""

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.add_class("qi-safety-pulse")
        self.today = today
        self.view = None
        self.answered = False
        statements = list(enumerate(wp.pulse_statements(), 1))
        self.answers = {k: widgets.Dropdown(options=PULSE_OPTIONS, value=0,
                                            layout=widgets.Layout(width="260px"),
                                            **named_beside(f"{n}. {text}"))
                        for n, (k, text) in statements}  # fmt: skip
        rows = []
        for n, (k, text) in statements:
            rows += [widgets.HTML(f"<div>{n}. {esc(text)}</div>"), self.answers[k]]
        self.send = widgets.Button(description="Send my answers", button_style="primary")
        self.send.on_click(self._on_send)
        self.trend = widgets.HTML()
        self.form = widgets.VBox([*rows, self.send])
        self.children = [widgets.HTML(term_html("safety_pulse")), self.form, self.status,
                         widgets.HTML("<h3>Our pulse over time</h3>"), self.trend]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any, *, announce: bool = True) -> None:
        from qiwidgets.errors import AccessDenied

        self.team = _team(self.db, team)
        month = (self.today or dt.date.today()).replace(day=1)
        self.answered = sp.pulse_answered(self.db, self.team.id, month)
        self.form.layout.display = "none" if self.answered else None
        try:
            self.view = wp.pulse_view(sp.team_pulse(self.db, self.team.id), "team")
        except AccessDenied as exc:
            self.view = wp.pulse_view([], "team", refused=str(exc))
        self.trend.value = pv.pulse(self.view)
        if self.answered and announce:
            self.say(f"You have answered this month's pulse ({month:%B %Y}): thank you.", "info")

    @safe("sending the pulse")
    def _on_send(self, _button: Any = None) -> None:
        answers = {}
        for k, w in self.answers.items():
            value = wb.clean_choice(w.value, "answer", [v for _, v in PULSE_OPTIONS])
            if not value:
                raise wb.WorkbookInputError("Answer every statement (1 to 5) before sending.")
            answers[k] = value
        month = (self.today or dt.date.today()).replace(day=1)
        n = sp.answer_pulse(self.db, self.team.id, answers, month=month)
        for w in self.answers.values():
            w.value = 0
        shown = ("" if n >= sp.MIN_TEAM_PULSE_RESPONSES else
                 f" The team's results show once {sp.MIN_TEAM_PULSE_RESPONSES} people have "
                 "answered this month.")  # fmt: skip
        self.confirm_saved("Thank you: your answers were added to the team's totals (no one "
                           f"can see yours).{shown}",
                           lambda: self.load(self.team, announce=False))  # fmt: skip


class SharedLearning(Panel):
    """What the programme's other teams shared (PDSA cycles and stories) and their comments;
    a member comments as their team, and can take back a comment of theirs. ``shared``: the
    :class:`~qiwidgets.store.practice.SharedItems` shown; ``saved``: the comment last added;
    ``my_comments``: the acting person's comments, as ``(shared item, comment record)``."""

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self.add_class("qi-shared-learning")
        self.saved = None
        self.shared = None
        self.pick = widgets.Dropdown(description="Shared", layout=wide(), style=_STYLE)
        self.shown = widgets.HTML()
        self.comment = widgets.Textarea(placeholder="Your comment (signed with your name and "
                                        "team)", layout=wide())  # fmt: skip
        self.post = widgets.Button(description="Post comment", button_style="primary")
        self.my_comments: list = []
        self.my_pick = widgets.Dropdown(description="My comment", layout=wide(), style=_STYLE)
        self.remove = widgets.Button(description="Remove my comment", button_style="danger")
        self.mine = widgets.HTML()
        self.pick.observe(self._on_pick, names="value")
        self.post.on_click(self._on_post)
        self.remove.on_click(self._on_remove)
        self.taking_back = widgets.VBox([
            widgets.HTML("<h3>Take back a comment of mine</h3>"), self.my_pick, self.remove])
        self.children = [widgets.HTML(term_html("shared_pdsa")), self.pick, self.shown,
                         self.comment, self.post, self.taking_back, self.status,
                         widgets.HTML("<h3>What our team shared, and the comments on it</h3>"),
                         self.mine]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any, keep: str | None = None) -> None:
        self.team = _team(self.db, team)
        self.shared = sp.shared_items(self.db, self.team.programme_id)
        others = [i for i in self.shared.items if i.team_id != self.team.id]
        self.pick.options = [(f"{i.team_name}: " + (i.record.title if i.kind == "pdsa" else
                              f"story of {i.record.date:%d %b %Y}"), i.key) for i in others]  # fmt: skip
        keys = [k for _, k in self.pick.options]
        self.pick.value = keep if keep in keys else (keys[0] if keys else None)
        self._show()
        actor = people.actor_of(self.db)
        me = actor.person_id if actor is not None else None
        self.my_comments = [(i, c) for i in self.shared.items for c in i.comments
                            if me is not None and c.author_id == me]  # fmt: skip
        self.my_pick.options = [("(pick one of your comments)", None)] + [
            (f"{i.team_name}: {c.text[:60]}", c.id) for i, c in self.my_comments]  # fmt: skip
        self.my_pick.value = None
        self.taking_back.layout.display = None if self.my_comments else "none"
        own = [i for i in self.shared.items if i.team_id == self.team.id]
        self.mine.value = "".join(pv.shared_item(i, self.shared.people, self.shared.names)
                                  for i in own) or pv.muted(
            "The team has shared nothing yet: tick 'Share with the programme' on a PDSA cycle "
            "or a reflection with a story.")  # fmt: skip

    def _show(self) -> None:
        item = self.shared.find(self.pick.value) if self.pick.value else None
        self.shown.value = (pv.shared_item(item, self.shared.people, self.shared.names,
                                           heading="h3")
                            if item else pv.muted("No other team has shared anything yet."))  # fmt: skip

    @safe("choosing what to read")
    def _on_pick(self, change: dict) -> None:
        wb.clean_choice(change["new"], "shared record", [v for _, v in self.pick.options])
        self._show()

    @safe("posting the comment")
    def _on_post(self, _button: Any = None) -> None:
        key = wb.clean_choice(self.pick.value, "shared record", [v for _, v in self.pick.options])
        item = self.shared.find(key) if key else None
        if item is None:
            raise wb.WorkbookInputError("Choose what to comment on first.")
        text = wb.clean_text(self.comment.value, "comment", required=True, max_length=sp.MAX_TEXT)
        target = "pdsa_id" if item.kind == "pdsa" else "reflection_id"
        self.saved = sp.add_comment(self.db, {target: item.record.id, "text": text,
                                              "author_team_id": self.team.id})  # fmt: skip
        self.comment.value = ""
        self.confirm_saved(f"Your comment was added for {item.team_name}.",
                           lambda: self.load(self.team, keep=key))  # fmt: skip

    @safe("removing your comment")
    def _on_remove(self, _button: Any = None) -> None:
        chosen = wb.clean_choice(self.my_pick.value, "comment",
                                 [v for _, v in self.my_pick.options])  # fmt: skip
        found = next(((i, c) for i, c in self.my_comments if c.id == chosen), None)
        if found is None:
            raise wb.WorkbookInputError("Pick the comment to remove first.")
        item, comment = found
        sp.remove_comment(self.db, comment.id, version=comment.version)
        self.confirm_saved(f"Your comment on {item.team_name}'s record was removed.",
                           lambda: self.load(self.team, keep=self.pick.value))  # fmt: skip


class PDSALensForm(Panel):
    """A PDSA plan's systems view: Engineering Better Care's four questions and a risk rating.
    Part of :class:`~qiwidgets.widgets.PDSALog`; ``lens`` is the stored view (or None)."""

    def __init__(self, db: Any):
        super().__init__(db)
        self.add_class("qi-pdsa-lens")
        self.lens = None
        self.fields = {k: widgets.Textarea(placeholder=q, layout=wide())
                       for k, q in wp.EBC_QUESTIONS.items()}  # fmt: skip
        self.likelihood = widgets.Dropdown(description="Likelihood", options=RATING_OPTIONS,
                                           value=0, style=_STYLE)  # fmt: skip
        self.consequence = widgets.Dropdown(description="Consequence", options=RATING_OPTIONS,
                                            value=0, style=_STYLE)  # fmt: skip
        self.controls = widgets.Textarea(placeholder="What will keep the risk down, and how "
                                         "will you notice?", layout=wide())  # fmt: skip
        rows = []
        for k in wp.EBC_QUESTIONS:
            rows += [widgets.HTML(f"<strong>{esc(glossary.label('ebc_' + k))}</strong>"),
                     self.fields[k]]  # fmt: skip
        self.children = [
            widgets.HTML("<h3>Systems view (Engineering Better Care)</h3>"
                         f'<div style="font-size:90%;color:#425563">{esc(wp.EBC_SOURCE)}</div>'),
            *rows, help_line("risk_rating"), self.likelihood, self.consequence, self.controls,
        ]  # fmt: skip

    def show(self, lens: Any) -> None:
        self.lens = lens
        for k, w in self.fields.items():
            w.value = (getattr(lens, k) if lens else None) or ""
        self.likelihood.value = (lens.risk_likelihood if lens else None) or 0
        self.consequence.value = (lens.risk_consequence if lens else None) or 0
        self.controls.value = (lens.risk_controls if lens else None) or ""

    def values(self) -> dict[str, Any]:
        ratings = [v for _, v in RATING_OPTIONS]
        data = {k: wb.clean_text(w.value, k) for k, w in self.fields.items()}
        data["risk_likelihood"] = (
            wb.clean_choice(self.likelihood.value, "likelihood", ratings) or None
        )
        data["risk_consequence"] = wb.clean_choice(self.consequence.value, "consequence",
                                                   ratings) or None  # fmt: skip
        data["risk_controls"] = wb.clean_text(self.controls.value, "keeping the risk down")
        return data

    def save_for(self, cycle: Any) -> Any:
        """Save the view for ``cycle`` (nothing when it is empty and none is stored)."""
        data = self.values()
        if self.lens is None and not any(data.values()):
            return None
        if self.lens is not None and self.lens.pdsa_id == cycle.id:
            self.lens = sp.save_pdsa_lens(self.db, data, id=self.lens.id,
                                          version=self.lens.version)  # fmt: skip
        else:
            self.lens = sp.save_pdsa_lens(self.db, {**data, "team_id": cycle.team_id,
                                                    "pdsa_id": cycle.id})  # fmt: skip
        return self.lens


class LearningPrompts(Panel):
    """The suggestions to question the team's theory (:func:`~qiwidgets.workbook.practice.
    deeper_learning_prompts`), each with a button to start a double-loop reflection from it.
    ``on_start(prompt)`` is called with the prompt chosen; ``prompts``: those shown."""

    def __init__(self, db: Any):
        super().__init__(db)
        self.add_class("qi-learning-prompts")
        self.prompts: list = []
        self.on_start: Callable[[Any], Any] | None = None
        self.shown = widgets.HTML()
        self.pick = widgets.Dropdown(description="Suggestion", layout=wide(), style=_STYLE)
        self.start = widgets.Button(description="Start a double-loop reflection")
        self.start.on_click(self._on_start)
        self.children = [self.shown, self.pick, self.start, self.status]
        self.show([])

    def show(self, prompts: Any) -> None:
        self.prompts = list(prompts)
        self.shown.value = pv.learning_prompts(self.prompts)
        self.pick.options = [(p.subject[:70], i) for i, p in enumerate(self.prompts)]
        self.pick.value = 0 if self.prompts else None
        self.pick.layout.display = self.start.layout.display = None if self.prompts else "none"

    @safe("starting a double-loop reflection")
    def _on_start(self, _button: Any = None) -> None:
        i = wb.clean_choice(self.pick.value, "suggestion", [v for _, v in self.pick.options])
        if i is None:
            raise wb.WorkbookInputError("There is no suggestion to start from.")
        if self.on_start is not None:
            self.on_start(self.prompts[i])


class DisciplinesForm(Panel):
    """Senge's five disciplines as prompts, a tick box each (the tags of a reflection). Part of
    :class:`~qiwidgets.widgets.ReflectionJournal`."""

    def __init__(self, db: Any):
        super().__init__(db)
        self.add_class("qi-disciplines-form")
        self.boxes = {d: widgets.Checkbox(description=glossary.label(d), value=False,
                                          indent=False) for d in wp.SENGE_PROMPTS}  # fmt: skip
        rows = []
        for d, prompt in wp.SENGE_PROMPTS.items():
            rows += [self.boxes[d], widgets.HTML(f'<div style="font-size:90%;color:#425563;'
                                                 f'margin:0 0 4px 1.5em">{esc(prompt)}</div>')]  # fmt: skip
        self.children = [widgets.HTML("<strong>Which disciplines does this speak to?</strong> "
                                      f'<span style="font-size:90%;color:#425563">'
                                      f"({esc(wp.SENGE_SOURCE)})</span>"), *rows]  # fmt: skip

    def show(self, tags: Any) -> None:
        for d, box in self.boxes.items():
            box.value = d in set(tags or ())

    def chosen(self) -> list[str]:
        return [d for d, box in self.boxes.items()
                if wb.clean_choice(box.value, glossary.label(d), (True, False))]  # fmt: skip


class MySkills(Panel):
    """My skills: the acting person rates their own skills (0 not yet to 3 can teach others)
    and sees the team's coverage and gaps as counts. ``profile``: their stored
    :class:`~qiwidgets.store.skills.SkillsProfile` (None before the first save); ``coverage``:
    the team's :class:`~qiwidgets.store.skills.SkillCoverage` shown; ``saved``: the profile
    last saved from here."""

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self.add_class("qi-my-skills")
        self.profile = None
        self.coverage = None
        self.saved = None
        self.ratings = {k: widgets.Dropdown(options=SKILL_OPTIONS, value=-1,
                                            layout=widgets.Layout(width="220px"),
                                            **named_beside(text))
                        for k, text in wp.SKILL_ITEMS.items()}  # fmt: skip
        rows = []
        for group, items in wp.skill_groups():
            rows.append(widgets.HTML(f"<h4 style='margin:6px 0 2px'>{term_html(group)}</h4>"))
            for k, text in items:
                rows.append(widgets.HBox([self.ratings[k], widgets.HTML(esc(text))]))
        self.save_button = widgets.Button(description="Save my skills", button_style="primary")
        self.save_button.on_click(self._on_save)
        self.form = widgets.VBox([
            widgets.HTML("<h3>My skills</h3><div style='font-size:90%;color:#425563'>Only you "
                         "see and change your own ratings; the team sees how many people rated "
                         "themselves at each level.</div>"), *rows, self.save_button])  # fmt: skip
        self.team_view = widgets.HTML()
        self.children = [widgets.HTML(term_html("skills_profile")), self.form, self.status,
                         widgets.HTML("<h3>Our team's skills</h3>"), self.team_view]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any) -> None:
        from qiwidgets.errors import AccessDenied

        self.team = _team(self.db, team)
        try:
            self.profile = sk.my_skills(self.db, self.team.id)
        except AccessDenied as exc:  # not a person of the team: the counts only
            self.profile = None
            self.form.layout.display = "none"
            self.say(str(exc), "info")
        else:
            self.form.layout.display = None
            for k, w in self.ratings.items():
                w.value = self.profile.ratings.get(k, -1) if self.profile else -1
        self.coverage = sk.team_skills(self.db, self.team.id)
        self.team_view.value = pv.skills_coverage(self.coverage)

    @safe("saving your skills")
    def _on_save(self, _button: Any = None) -> None:
        allowed = [v for _, v in SKILL_OPTIONS]
        ratings = {k: wb.clean_choice(w.value, "rating", allowed) for k, w in self.ratings.items()}
        if any(v < m.SKILL_LEVEL_MIN for v in ratings.values()):
            raise wb.WorkbookInputError("Rate every skill (0 not yet to 3 can teach others) "
                                        "before saving.")  # fmt: skip
        self.saved = sk.save_skills(self.db, self.team.id, ratings,
                                    version=self.profile.version if self.profile else None)  # fmt: skip
        self.confirm_saved("Your skills are saved. The team sees only the counts.",
                           lambda: self.load(self.team))  # fmt: skip


class FishboneEditor(Panel):
    """A team's cause-and-effect (fishbone) diagram: state the effect, then add, change or
    remove causes under a category (sub-causes one level deep), each optionally linked to an
    entry of the team's driver diagram.

    Attributes
    ----------
    tree:
        The :class:`~qiwidgets.store.fishbone.FishboneTree` shown.
    diagram:
        ``widgets.HTML`` with the fishbone as a list by category.
    saved:
        The record last saved from this widget (the effect or a cause).
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self.add_class("qi-fishbone-editor")
        self.saved = None
        self.tree = None
        self.nodes: list = []
        self._edit_version: int | None = None
        self.diagram = widgets.HTML()
        self.effect = widgets.Textarea(placeholder="The problem to explain, e.g. 'Falls at night "
                                       "in the bays furthest from the station'", layout=wide())  # fmt: skip
        self.effect_button = widgets.Button(description="Save the effect")
        self.category = widgets.Dropdown(description="Category", options=CATEGORY_OPTIONS,
                                         value=m.FISHBONE_CATEGORIES[0], style=_STYLE)  # fmt: skip
        self.parent = widgets.Dropdown(description="Under", layout=wide(), style=_STYLE)
        self.text = widgets.Text(description="Cause", layout=wide(), style=_STYLE)
        self.driver = widgets.Dropdown(description="Driver diagram", layout=wide(), style=_STYLE)
        self.add_button = widgets.Button(description="Add cause", button_style="primary")
        self.cause = widgets.Dropdown(description="Change", layout=wide(), style=_STYLE)
        self.edit_text = widgets.Text(description="New text", layout=wide(), style=_STYLE)
        self.edit_driver = widgets.Dropdown(description="Driver diagram", layout=wide(),
                                            style=_STYLE)  # fmt: skip
        self.edit_button = widgets.Button(description="Save change")
        self.remove_button = widgets.Button(description="Remove cause", button_style="danger")
        self.category.observe(self._on_category, names="value")
        self.cause.observe(self._on_cause, names="value")
        self.effect_button.on_click(self._on_effect)
        self.add_button.on_click(self._on_add)
        self.edit_button.on_click(self._on_edit)
        self.remove_button.on_click(self._on_remove)
        self.children = [
            widgets.HTML(term_html("fishbone")),
            widgets.HTML(f'<div style="font-size:90%;color:#425563">{esc(wp.FISHBONE_SOURCE)}'
                         "</div>"),
            self.diagram, widgets.HTML(f"<h3>{esc(glossary.label('fishbone_effect'))}</h3>"),
            self.effect, self.effect_button, widgets.HTML("<h3>Add a cause</h3>"), self.category,
            self.parent, self.text, self.driver, self.add_button,
            widgets.HTML("<h3>Change or remove a cause</h3>"), self.cause, self.edit_text,
            self.edit_driver, self.edit_button, self.remove_button, self.changed, self.status,
        ]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any) -> None:
        """Show ``team``'s fishbone."""
        self.team = _team(self.db, team)
        self.tree = fb.team_fishbone(self.db, self.team.id)
        self.diagram.value = pv.fishbone(self.tree, empty="No cause-and-effect diagram yet: "
                                         "state the effect (the problem) first.")  # fmt: skip
        self.effect.value = self.tree.effect or ""
        self.refresh_drivers()
        self.driver.value = None
        self.cause.options = [("(pick a cause)", None)] + [
            (self._cause_label(c), c.id) for c in self.tree.causes()]  # fmt: skip
        self.cause.value = None
        self._show_cause(None)
        self._parent_options()

    def _driver_options(self) -> list[tuple[str, Any]]:
        return [("(no link)", None)] + [(driver_node_label(n), n.id) for n in self.nodes]

    def refresh_drivers(self, nodes: list | None = None) -> None:
        """Offer the team's driver diagram as it is now, keeping what is picked and typed:
        ``nodes`` as the editor beside this one has just read them (parents first), or read
        from the store."""
        if nodes is None:
            nodes = [n for n, _ in wb.driver_tree(repo.list_driver_nodes(self.db, self.team.id))]
        self.nodes = list(nodes)
        options = self._driver_options()
        for box in (self.driver, self.edit_driver):
            keep = box.value if box.value in {v for _, v in options} else None
            box.options = options
            box.value = keep

    @staticmethod
    def _cause_label(c: Any) -> str:
        sub = "  - " if c.parent_id else ""
        return f"{glossary.label('cause_' + c.category)}: {sub}{c.text[:60]}"

    def _parent_options(self) -> None:
        tops = [c for c in self.tree.causes() if c.parent_id is None
                and c.category == self.category.value]  # fmt: skip
        self.parent.options = [("(a main cause)", None)] + [(c.text[:60], c.id) for c in tops]
        self.parent.value = None

    def _find(self, cause_id: Any) -> Any:
        return next((c for c in self.tree.causes() if c.id == cause_id), None)

    def _show_cause(self, cause: Any) -> None:
        self._edit_version = cause.version if cause is not None else None
        self.edit_text.value = cause.text if cause is not None else ""
        self.edit_driver.value = cause.driver_node_id if cause is not None else None
        self.show_changed(cause)

    @safe("choosing the category")
    def _on_category(self, change: dict) -> None:
        wb.clean_choice(change["new"], "category", m.FISHBONE_CATEGORIES)
        self._parent_options()

    @safe("choosing a cause")
    def _on_cause(self, change: dict) -> None:
        cause = self._find(change["new"])
        if cause is None and change["new"] is not None:
            raise wb.WorkbookInputError("That cause is not on this diagram.")
        self._show_cause(cause)

    @safe("saving the effect")
    def _on_effect(self, _button: Any = None) -> None:
        text = wb.clean_text(self.effect.value, "effect", required=True)
        current = self.tree.fishbone
        if current is None:
            self.saved = fb.save_fishbone(self.db, {"team_id": self.team.id, "effect": text})
        else:
            self.saved = fb.save_fishbone(self.db, {"effect": text}, id=current.id,
                                          version=current.version)  # fmt: skip
        self.confirm_saved("Saved the effect.", lambda: self.load(self.team))

    @safe("adding the cause")
    def _on_add(self, _button: Any = None) -> None:
        category = wb.clean_choice(self.category.value, "category", m.FISHBONE_CATEGORIES)
        parent = wb.clean_choice(self.parent.value, "under", [v for _, v in self.parent.options])
        driver = wb.clean_choice(self.driver.value, "driver", [v for _, v in self.driver.options])
        text = wb.clean_text(self.text.value, "cause", required=True)
        order = sum(1 for c in self.tree.causes() if c.parent_id == parent
                    and c.category == category) + 1  # fmt: skip
        self.saved = fb.save_cause(self.db, {"team_id": self.team.id, "category": category,
                                             "parent_id": parent, "text": text,
                                             "driver_node_id": driver, "order": order})  # fmt: skip

        def refresh() -> None:
            self.text.value = ""
            self.load(self.team)

        self.confirm_saved(f"Added the cause under {glossary.label('cause_' + category)}.",
                           refresh)  # fmt: skip

    def _picked(self) -> Any:
        cause = self._find(wb.clean_choice(self.cause.value, "cause",
                                           [v for _, v in self.cause.options]))  # fmt: skip
        if cause is None or self._edit_version is None:
            raise wb.WorkbookInputError("Pick the cause first.")
        return cause

    @safe("changing the cause")
    def _on_edit(self, _button: Any = None) -> None:
        cause = self._picked()
        text = wb.clean_text(self.edit_text.value, "new text", required=True)
        driver = wb.clean_choice(self.edit_driver.value, "driver",
                                 [v for _, v in self.edit_driver.options])  # fmt: skip
        self.saved = fb.save_cause(self.db, {"text": text, "driver_node_id": driver},
                                   id=cause.id, version=self._edit_version)  # fmt: skip
        self.confirm_saved("Saved the change.", lambda: self.load(self.team))

    @safe("removing the cause")
    def _on_remove(self, _button: Any = None) -> None:
        cause = self._picked()
        n = fb.remove_cause(self.db, cause.id, version=self._edit_version)
        also = f" with its {n - 1} sub-cause{'s' if n > 2 else ''}" if n > 1 else ""
        self.confirm_saved(f"Removed the cause{also}.", lambda: self.load(self.team))


__all__ = ["CATEGORY_OPTIONS", "PULSE_OPTIONS", "RATING_OPTIONS", "ROLE_OPTIONS", "SKILL_OPTIONS",
           "DisciplinesForm", "FishboneEditor", "HelpInbox", "HelpRequests", "LearningPrompts",
           "MySkills", "PDSALensForm", "SafetyPulse", "SharedLearning", "TeamRoster"]  # fmt: skip
