"""PDSA log: plan (question, prediction) → do → study against the prediction → act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.store import models as m
from qiwidgets.store import practice, repo
from qiwidgets.widgets._base import (
    Panel,
    esc,
    help_line,
    multiline,
    safe,
    table_html,
    term_html,
    wide,
)
from qiwidgets.widgets.purpose import resolve_team

_STYLE = {"description_width": "120px"}
#: The Act choices: (label, value); "" means not decided yet.
ACT_OPTIONS = (("Not decided", ""), ("Adopt", "adopt"), ("Adapt", "adapt"), ("Abandon", "abandon"))


class PDSALog(Panel):
    """A team's PDSA cycles: plan with a question and a prediction, do, study the result
    against the prediction, act (adopt / adapt / abandon); each linked to a change idea and to
    the measures it watches. Cycles show on the variation explorer's charts.

    Attributes
    ----------
    team:
        The team record.
    cycles:
        The team's cycles (store records, by start date).
    stage:
        The stage of the cycle in the editor (``plan``, ``do``, ``act``, ``done``).
    saved:
        The cycle last saved from this widget.
    on_saved:
        Optional callable ``f(cycle)`` run after a save (the workbook redraws the charts).
    """

    NEW = "__new__"

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self._practice(db)
        self.saved = None
        self.cycles: list = []
        self.stage = "plan"
        self.on_saved: Callable[[Any], Any] | None = None
        self._editing = None
        self.table = widgets.HTML()
        self.pick = widgets.Dropdown(description="Cycle", layout=wide(), style=_STYLE)
        self.stage_html = widgets.HTML()
        self.title = widgets.Text(description="Title", layout=wide(), style=_STYLE)
        self.change_idea = widgets.Dropdown(description="Change idea", layout=wide(), style=_STYLE)
        self.measures = widgets.SelectMultiple(description="Measures", rows=4, layout=wide(),
                                               style=_STYLE)  # fmt: skip
        self.plan_question = widgets.Textarea(description="Question", layout=wide(), style=_STYLE)
        self.prediction = widgets.Textarea(description="Prediction", layout=wide(), style=_STYLE)
        self.plan_date = widgets.DatePicker(description="Planned on", style=_STYLE)
        self.do_start = widgets.DatePicker(description="Started on", style=_STYLE)
        self.do_notes = widgets.Textarea(description="What happened", layout=wide(), style=_STYLE)
        self.prediction_echo = widgets.HTML()
        self.study_date = widgets.DatePicker(description="Studied on", style=_STYLE)
        self.study_result = widgets.Textarea(description="Result vs prediction", layout=wide(),
                                             style=_STYLE)  # fmt: skip
        self.act = widgets.ToggleButtons(options=ACT_OPTIONS, value="", description="Act",
                                         style=_STYLE)  # fmt: skip
        self.act_help = widgets.HTML()
        self.act_date = widgets.DatePicker(description="Decided on", style=_STYLE)
        self.save_button = widgets.Button(description="Save cycle", button_style="primary")
        # the page keeps these choices with the text typed (qiwidgets.js), and puts them back
        self.pick.add_class("qi-record-pick")
        for control in (self.change_idea, self.measures, self.act):
            control.add_class("qi-keep")
        self.pick.observe(self._on_pick, names="value")
        self.prediction.observe(self._on_prediction, names="value")
        self.act.observe(self._on_act, names="value")
        self.save_button.on_click(self._on_save)
        self.children = [
            widgets.HTML(term_html("pdsa")),
            self.table,
            self.pick,
            self.stage_html,
            widgets.HTML("<h3>Plan</h3>" + term_html("plan")),
            self.title, self.change_idea, self.measures, self.plan_question, self.prediction,
            help_line("prediction"), self.plan_date, self.lens,
            widgets.HTML("<h3>Do</h3>" + term_html("do")),
            self.do_start, self.do_notes,
            widgets.HTML("<h3>Study</h3>" + term_html("study")),
            self.prediction_echo, self.study_date, self.study_result,
            widgets.HTML("<h3>Act</h3>" + term_html("act")),
            self.act, self.act_help, self.act_date,
            self.shared, help_line("shared_pdsa"),
            self.changed,
            self.save_button,
            self.status,
        ]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def _practice(self, db: Any) -> None:
        """The plan's systems view and sharing with the programme (issue M)."""
        from qiwidgets.widgets.practice import PDSALensForm

        self.lens = PDSALensForm(db)
        self.shared = widgets.Checkbox(description="Share with the programme", value=False)
        self._lenses: dict = {}

    # --- loading ----------------------------------------------------------------------------

    def load(self, team: Any) -> None:
        """Show ``team``'s PDSA cycles."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        self.cycles = repo.list_pdsa_cycles(self.db, self.team.id)
        self._lenses = practice.pdsa_lenses(self.db, self.team.id)
        ideas = repo.list_driver_nodes(self.db, self.team.id, kind="change_idea")
        self.change_idea.options = [("(none)", None)] + [(n.text[:80], n.id) for n in ideas]
        family = repo.list_measures(self.db, self.team.id)
        self.measures.options = [(f"{x.name} ({x.code})", x.id) for x in family]
        self.pick.options = [("(a new cycle)", self.NEW)] + [
            (f"{c.title[:60]} ({wb.pdsa_stage(c)})", c.id) for c in self.cycles
        ]
        self.pick.value = self.NEW
        self._fill(None)
        rows = []
        for c in self.cycles:
            rows.append([
                c.title,
                c.change_idea.text if c.change_idea else "",
                wb.pdsa_stage(c),
                c.prediction or "",
                c.study_result or "",
                glossary.label(c.act) if c.act else "",
                c.do_start.isoformat() if c.do_start else "",
            ])  # fmt: skip
        self.table.value = table_html(
            ["Cycle", "Change idea", "Stage", "Prediction", "Result", "Act", "Started"],
            rows, empty="No PDSA cycles yet.",
        )  # fmt: skip

    def _fill(self, cycle: Any) -> None:
        self._editing = cycle
        c = cycle
        self.title.value = c.title if c else ""
        ideas = {v for _, v in self.change_idea.options}
        self.change_idea.value = c.change_idea_id if c and c.change_idea_id in ideas else None
        allowed = {v for _, v in self.measures.options}
        self.measures.value = tuple(x.id for x in (c.measures if c else []) if x.id in allowed)
        for name in ("plan_question", "prediction", "do_notes", "study_result"):
            getattr(self, name).value = (getattr(c, name) if c else None) or ""
        for name in ("plan_date", "do_start", "study_date", "act_date"):
            getattr(self, name).value = getattr(c, name) if c else None
        self.act.value = (c.act if c else None) or ""
        self.shared.value = bool(c.shared) if c else False
        self.lens.show(self._lenses.get(c.id) if c else None)
        self.show_changed(c)
        self._show_stage()
        self._echo_prediction()

    def _show_stage(self) -> None:
        self.stage = wb.pdsa_stage(self._editing) if self._editing else "plan"
        labels = {"plan": "Planning", "do": "Testing (Do): study the result when it is done",
                  "act": "Studied: decide whether to adopt, adapt or abandon",
                  "done": "Decided"}  # fmt: skip
        self.stage_html.value = f"<p><strong>Stage:</strong> {esc(labels[self.stage])}</p>"

    def _echo_prediction(self) -> None:
        text = self.prediction.value.strip() if isinstance(self.prediction.value, str) else ""
        self.prediction_echo.value = (
            f'<div style="background:#f4f6f8;padding:4px 8px"><em>Your prediction was:</em> '
            f"{multiline(text[: wb.MAX_TEXT_LENGTH]) if text else '(no prediction written)'}</div>"
        )

    # --- callbacks ----------------------------------------------------------------------------

    @safe("choosing a cycle")
    def _on_pick(self, change: dict) -> None:
        value = change["new"]
        if value == self.NEW:
            self._fill(None)
            return
        cycle = next((c for c in self.cycles if c.id == value), None)
        if cycle is None:
            raise wb.WorkbookInputError("That PDSA cycle is not one of this team's.")
        self._fill(cycle)

    @safe("showing the prediction")
    def _on_prediction(self, change: dict) -> None:
        wb.clean_text(change["new"], "prediction")
        self._echo_prediction()

    @safe("choosing the act")
    def _on_act(self, change: dict) -> None:
        value = wb.clean_choice(change["new"], "act", [v for _, v in ACT_OPTIONS])
        self.act_help.value = (
            f'<div style="font-size:90%;color:#425563">{esc(glossary.explain(value))}</div>'
            if value
            else ""
        )

    @safe("saving the PDSA cycle")
    def _on_save(self, _button: Any = None) -> None:
        ideas = [v for _, v in self.change_idea.options]
        allowed = {v for _, v in self.measures.options}
        data = {
            "team_id": self.team.id,
            "title": wb.clean_text(self.title.value, "title", required=True, max_length=300),
            "change_idea_id": wb.clean_choice(self.change_idea.value, "change idea", ideas),
            "measure_ids": [wb.clean_choice(i, "measures", allowed) for i in self.measures.value],
            "plan_question": wb.clean_text(self.plan_question.value, "question"),
            "prediction": wb.clean_text(self.prediction.value, "prediction"),
            "plan_date": wb.clean_date(self.plan_date.value, "planned on"),
            "do_start": wb.clean_date(self.do_start.value, "started on"),
            "do_notes": wb.clean_text(self.do_notes.value, "what happened"),
            "study_date": wb.clean_date(self.study_date.value, "studied on"),
            "study_result": wb.clean_text(self.study_result.value, "result"),
            "act": wb.clean_choice(self.act.value, "act", [v for _, v in ACT_OPTIONS]) or None,
            "act_date": wb.clean_date(self.act_date.value, "decided on"),
        }
        if data["act"] and not data["study_result"]:
            raise wb.WorkbookInputError(
                "Study before you act: write the result against your prediction first."
            )
        if data["act"] and data["act"] not in m.PDSA_ACTS:  # pragma: no cover - options guard
            raise wb.WorkbookInputError("Act must be adopt, adapt or abandon.")
        if self._editing is None:
            saved = repo.save_pdsa(self.db, data)
        else:
            saved = repo.save_pdsa(self.db, data, id=self._editing.id,
                                   version=self._editing.version)  # fmt: skip
        already = repo.already_saved(saved)
        self.lens.save_for(saved)
        share = wb.clean_choice(self.shared.value, "share with the programme", (True, False))
        if bool(saved.shared) != share:
            saved = practice.share_pdsa(self.db, saved.id, share, version=saved.version)
        self.saved = saved

        def refresh() -> None:
            self.load(self.team)
            self.pick.value = saved.id
            if self.on_saved is not None:
                self.on_saved(saved)

        if already:
            text = f"The PDSA cycle '{saved.title}' was already saved, so it was not added twice."
        else:
            text = f"Saved the PDSA cycle '{saved.title}'."
        self.confirm_saved(text, refresh)


__all__ = ["ACT_OPTIONS", "PDSALog"]
