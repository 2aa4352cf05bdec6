"""Reflection journal: prompts, the level of learning, bright spots, stories, generalisable."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.store import practice, repo
from qiwidgets.widgets._base import Panel, esc, help_line, multiline, safe, term_html, wide
from qiwidgets.widgets.purpose import resolve_team

#: The reflection prompts: (field, question).
PROMPTS = (
    ("what_happened", "What happened?"),
    ("what_worked", "What worked well?"),
    ("what_did_not", "What did not work so well?"),
    ("what_should_change", "What should be different next time?"),
)
#: What the journal says once the store has the reflection.
SAVED = "Reflection saved."
#: ... when the store had the same reflection already (e.g. saved again after a lost connection).
ALREADY_SAVED = "This reflection was already saved, so it was not added a second time."
#: Learning levels as radio options: "Single-loop learning — we corrected how ...".
LEVEL_OPTIONS = (("Not tagged", ""),) + tuple(
    (f"{glossary.label(k)} — {glossary.explain(k)}", k) for k in glossary.LEARNING_LEVELS
)


class ReflectionJournal(Panel):
    """A team's reflections: the four prompts, the level of learning (single-loop,
    double-loop, deutero, each explained in one line), bright spots and stories, and a
    "may generalise to other teams" flag.

    Attributes
    ----------
    team:
        The team record.
    reflections:
        The team's reflections (store records, oldest first).
    saved:
        The reflection last saved from this widget.
    """

    NEW = "__new__"

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.today = today
        self.saved = None
        self.reflections: list = []
        self._editing = None
        self.history = widgets.HTML()
        self.pick = widgets.Dropdown(description="Reflection", layout=wide())
        self.pick.add_class("qi-record-pick")  # the page puts kept text back into this record
        self.date = widgets.DatePicker(description="Date")
        self.authors = widgets.Text(description="Who", layout=wide())
        self.prompts = {f: widgets.Textarea(placeholder=q, layout=wide()) for f, q in PROMPTS}
        self.learning_level = widgets.RadioButtons(options=LEVEL_OPTIONS, value="",
                                                   layout=wide())  # fmt: skip
        self.bright_spot = widgets.Checkbox(description="This is a bright spot", value=False)
        self.story = widgets.Textarea(placeholder="A story worth telling", layout=wide())
        self.generalisable = widgets.Checkbox(description="May generalise to other teams",
                                              value=False)  # fmt: skip
        # learning in confidence: a reflection stays with the team unless it chooses to share
        self.shared = widgets.Checkbox(description=glossary.label("shared_reflection"),
                                       value=False)  # fmt: skip
        self.save_button = widgets.Button(description="Save reflection", button_style="primary")
        self.pick.observe(self._on_pick, names="value")
        self.save_button.on_click(self._on_save)
        prompt_rows = []
        for f, q in PROMPTS:
            prompt_rows += [widgets.HTML(f"<strong>{esc(q)}</strong>"), self.prompts[f]]
        self._practice(db)
        self.children = [
            widgets.HTML(term_html("reflection")), self.deeper,
            self.pick, self.date, self.authors, *prompt_rows,
            widgets.HTML("<strong>Level of learning</strong>"), self.learning_level,
            self.disciplines,
            self.bright_spot, help_line("bright_spot"),
            widgets.HTML(f"<strong>{esc(glossary.label('story'))}</strong>"), self.story,
            self.generalisable, help_line("generalisable"),
            self.shared, help_line("shared_reflection"),
            self.changed, self.save_button, self.status,
            widgets.HTML("<h3>Earlier reflections</h3>"), self.history,
        ]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def _practice(self, db: Any) -> None:
        """Senge's disciplines as prompts and tags, and the suggestions to question the
        team's theory (issue M; the page gives them: ``deeper.show(prompts)``)."""
        from qiwidgets.widgets.practice import DisciplinesForm, LearningPrompts

        self.disciplines = DisciplinesForm(db)
        self.deeper = LearningPrompts(db)
        self.deeper.on_start = self.start_double_loop
        self._tags: dict = {}

    def start_double_loop(self, prompt: Any) -> None:
        """Start a new double-loop reflection from a suggestion (its words, the level, and
        mental models ticked)."""
        self.prefill(prompt.starter)
        self.learning_level.value = "double_loop"
        self.disciplines.show(("mental_models",))
        self.say("Write what the team now thinks of its theory, then save.", "info")

    def load(self, team: Any) -> None:
        """Show ``team``'s reflections."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        self.reflections = repo.list_reflections(self.db, self.team.id)
        self._tags = practice.reflection_disciplines(self.db, self.team.id)
        self.pick.options = [("(a new reflection)", self.NEW)] + [
            (f"{r.date.isoformat()}: {(r.what_happened or '')[:50]}", r.id)
            for r in reversed(self.reflections)
        ]
        self.pick.value = self.NEW
        self._fill(None)
        self._render_history()

    def prefill(self, text: str) -> None:
        """Start a new reflection with ``text`` under "What happened?" (e.g. a PDSA prompt)."""
        self.pick.value = self.NEW
        self._fill(None)
        self.prompts["what_happened"].value = wb.clean_text(text, "what happened") or ""

    def _fill(self, r: Any) -> None:
        self._editing = r
        self.date.value = r.date if r else (self.today or dt.date.today())
        self.authors.value = (r.authors if r else "") or ""
        for f, w in self.prompts.items():
            w.value = (getattr(r, f) if r else "") or ""
        self.learning_level.value = (r.learning_level if r else "") or ""
        self.bright_spot.value = bool(r.bright_spot) if r else False
        self.story.value = (r.story if r else "") or ""
        self.generalisable.value = bool(r.generalisable) if r else False
        self.shared.value = bool(r.shared) if r else False
        self.disciplines.show(self._tags.get(r.id, ()) if r else ())
        self.show_changed(r)

    def _render_history(self) -> None:
        items = []
        for r in reversed(self.reflections):
            flags = []
            if r.learning_level:
                flags.append(glossary.label(r.learning_level))
            flags += [glossary.label(d) for d in self._tags.get(r.id, ())]
            if r.bright_spot:
                flags.append("bright spot")
            if r.generalisable:
                flags.append("may generalise")
            flags.append("shared with the programme" if r.shared else "team only")
            answers = "".join(
                f"<div><em>{esc(q)}</em> {multiline(getattr(r, f))}</div>"
                for f, q in PROMPTS if getattr(r, f)
            )  # fmt: skip
            story = f"<div><em>Story:</em> {multiline(r.story)}</div>" if r.story else ""
            items.append(
                f'<li style="margin-bottom:6px"><strong>{esc(r.date.isoformat())}</strong>'
                f"{' — ' + esc(r.authors) if r.authors else ''}"
                f"{' [' + esc(', '.join(flags)) + ']' if flags else ''}{answers}{story}</li>"
            )
        self.history.value = (
            f'<ul class="qi-reflections">{"".join(items)}</ul>' if items
            else "<p><em>No reflections yet.</em></p>"
        )  # fmt: skip

    @safe("choosing a reflection")
    def _on_pick(self, change: dict) -> None:
        value = change["new"]
        if value == self.NEW:
            self._fill(None)
            return
        r = next((x for x in self.reflections if x.id == value), None)
        if r is None:
            raise wb.WorkbookInputError("That reflection is not one of this team's.")
        self._fill(r)

    @safe("saving the reflection")
    def _on_save(self, _button: Any = None) -> None:
        data: dict[str, Any] = {
            "team_id": self.team.id,
            "date": wb.clean_date(self.date.value, "date", required=True),
            "authors": wb.clean_text(self.authors.value, "who", max_length=500),
            "learning_level": wb.clean_choice(
                self.learning_level.value, "level of learning", [v for _, v in LEVEL_OPTIONS]
            )
            or None,
            "bright_spot": wb.clean_choice(self.bright_spot.value, "bright spot", (True, False)),
            "story": wb.clean_text(self.story.value, "story"),
            "generalisable": wb.clean_choice(
                self.generalisable.value, "may generalise", (True, False)
            ),
            "shared": wb.clean_choice(self.shared.value, "share with the programme", (True, False)),
        }
        for f, w in self.prompts.items():
            data[f] = wb.clean_text(w.value, f.replace("_", " "))
        if not any(data[f] for f, _ in PROMPTS) and not data["story"]:
            raise wb.WorkbookInputError("Answer at least one of the prompts before saving.")
        if self._editing is None:
            saved = repo.save_reflection(self.db, data)
        else:
            saved = repo.save_reflection(self.db, data, id=self._editing.id,
                                         version=self._editing.version)  # fmt: skip
        already = repo.already_saved(saved)
        tags = self.disciplines.chosen()
        if set(tags) != set(self._tags.get(saved.id, ())):
            saved = practice.set_reflection_disciplines(self.db, saved.id, tags,
                                                        version=saved.version)  # fmt: skip
        self.saved = saved
        self.confirm_saved(ALREADY_SAVED if already else SAVED,
                           lambda: self.load(self.team))  # fmt: skip


__all__ = ["ALREADY_SAVED", "LEVEL_OPTIONS", "PROMPTS", "SAVED", "ReflectionJournal"]
