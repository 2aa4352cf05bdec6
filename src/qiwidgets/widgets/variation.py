"""Variation explorer: a team's measure over time, read with a rule set the team chooses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary, views
from qiwidgets import workbook as wb
from qiwidgets.errors import NotFoundError
from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, multiline, safe, table_html, term_html, wide
from qiwidgets.widgets.purpose import resolve_team
from qiwidgets.workbook.story import tell

#: The rule sets the explorer offers: (button label, key).
RULE_SET_OPTIONS = (("Anhøj", "anhoej"), ("IHI", "ihi"), ("Making Data Count", "mdc"))
#: What the team can record at a point: (label, annotation kind).
ACTIONS = (
    ("Add a note (an event)", "event"),
    ("The baseline ends here", "baseline"),
    ("A new phase starts here", "phase"),
    ("Leave this point out", "exclude"),
)
_DEFAULT_TEXT = {"baseline": "Baseline ends", "phase": "New phase", "exclude": "Point left out"}


def _empty(text: str) -> str:
    """What the explorer shows where a chart would be, when there is none yet."""
    return f'<p class="qi-empty" role="status"><em>{esc(text)}</em></p>'


def chart_svg(view: wb.ChartView, annotations: list[dict], width: int = 640) -> str:
    """The chart of a computed view as inline SVG (drawn by :mod:`qiwidgets.charts`)."""
    from qiwidgets import charts

    spec = charts.spc_chart_spec(view.result, annotations=annotations or None, width=width)
    return charts.to_svg(spec)


class VariationExplorer(Panel):
    """Pick a team and a measure; see the chart and its reading; record baselines, phases,
    exclusions (each with a reason) and notes; switch rule set and see what changes; get a
    prompt when a signal begins soon after a PDSA cycle started.

    Parameters
    ----------
    db:
        The store.
    team, measure:
        What to show first (code, id or record; default: the first team and its first measure).
    programme:
        The programme, when several share the database.
    rule_set:
        ``"anhoej"``, ``"ihi"`` or ``"mdc"``; default: the measure's own rule set, the one its
        verdict uses everywhere. Another rule set is for exploring: the page says so.
    show_team_picker:
        Show the team dropdown (``TeamWorkbook`` picks the team itself).
    prompt_within:
        How many periods after a PDSA start a new signal prompts "record what you learned?".
    width:
        The chart's width in pixels.

    Attributes
    ----------
    team, measure:
        The records shown.
    frame:
        The observations (tidy DataFrame) behind the chart.
    measure_status:
        The measure's :class:`qiwidgets.workbook.MeasureStatus` (its verdict, as every screen
        shows it).
    view:
        The :class:`qiwidgets.workbook.ChartView` shown (``view.result`` is the SPC result):
        the status's chart under the measure's own rule set, another when exploring.
    result:
        The SPC result (``None`` before there are data).
    events:
        The signals on the chart (:class:`qiwidgets.workbook.SignalEvent`).
    prompts:
        PDSA prompts (:class:`qiwidgets.workbook.PDSAPrompt`).
    comparison:
        What changed at the last switch of rule set (a sentence, or ``""``).
    annotations:
        The annotations shown (store records).
    svg:
        The chart's SVG.
    saved:
        The annotation last recorded from this widget.
    on_record_learning:
        Optional callable ``f(prompt)`` run when the team clicks "Record what we learned".
    """

    def __init__(self, db: Any, team: Any = None, measure: Any = None, *, programme: Any = None,
                 rule_set: str | None = None, show_team_picker: bool = True,
                 prompt_within: int = wb.PDSA_PROMPT_WITHIN, width: int = 640,
                 chart_renderer: Callable[[wb.ChartView, list, int], str] | None = None):  # fmt: skip
        super().__init__(db)
        # how a chart becomes HTML: static SVG by default; the dashboards pass a renderer
        # that sends the spec for the browser to draw
        self.chart_renderer = chart_renderer or chart_svg
        self.programme = programme
        self.prompt_within = int(prompt_within)
        self.width = int(width)
        self.saved = None
        self.result = None
        self.measure_status: wb.MeasureStatus | None = None
        self.view: wb.ChartView | None = None
        self.frame = None
        self.events: list[wb.SignalEvent] = []
        self.prompts: list[wb.PDSAPrompt] = []
        self.comparison = ""
        self.annotations: list = []
        self.cycles: list = []
        self.svg = ""
        self.on_record_learning: Callable[[wb.PDSAPrompt], Any] | None = None
        self._busy = False

        self.team_select = widgets.Dropdown(description="Team", layout=wide())
        self.measure_select = widgets.Dropdown(description="Measure", layout=wide())
        self._asked_rule_set = (
            None if rule_set is None else wb.clean_choice(rule_set, "rule_set", glossary.RULE_SETS)
        )
        self.rule_set = widgets.ToggleButtons(
            options=RULE_SET_OPTIONS, value=self._asked_rule_set or "anhoej", description="Rules",
        )  # fmt: skip
        self.rule_help = widgets.HTML()
        self.chart_html = widgets.HTML()
        self.verdict_html = widgets.HTML()
        self.reading_html = widgets.HTML()
        self.rebase_html = widgets.HTML()
        self.rebase_button = widgets.Button(description="Recalculate the limits",
                                            layout=widgets.Layout(display="none"))  # fmt: skip
        self.notes_html = widgets.HTML()
        self.changes_html = widgets.HTML()
        self.prompts_html = widgets.HTML()
        self.learn_button = widgets.Button(description="Record what we learned",
                                           layout=widgets.Layout(display="none"))  # fmt: skip
        self.action = widgets.Dropdown(options=ACTIONS, value="event", description="Record")
        self.action_help = widgets.HTML()
        self.period = widgets.Dropdown(description="At")
        self.note_text = widgets.Text(description="What", layout=wide())
        self.reason = widgets.Textarea(
            description="Why",
            layout=wide(),
            placeholder="The reason (required to change the limits)",
        )
        self.this_measure_only = widgets.Checkbox(value=True, description="This measure only")
        self.record_button = widgets.Button(description="Record", button_style="primary")
        self.annotations_html = widgets.HTML()
        self.remove_select = widgets.Dropdown(description="Remove", layout=wide())
        self.remove_button = widgets.Button(description="Remove note")

        self.team_select.observe(self._on_team, names="value")
        self.measure_select.observe(self._on_measure, names="value")
        self.rule_set.observe(self._on_rule_set, names="value")
        self.action.observe(self._on_action, names="value")
        self.record_button.on_click(self._on_record)
        self.remove_button.on_click(self._on_remove)
        self.learn_button.on_click(self._on_learn)
        self.rebase_button.on_click(self._on_rebase)

        pickers = [self.team_select] if show_team_picker else []
        # what can be recorded on a chart: shown only once the chart has points to record at
        self.record_box = widgets.VBox([
            widgets.HTML("<h3>Record on the chart</h3>"), self.action, self.action_help,
            self.period, self.note_text, self.reason, self.this_measure_only, self.record_button,
            widgets.HTML("<h3>On this chart</h3>"), self.annotations_html, self.remove_select,
            self.remove_button,
        ])  # fmt: skip
        self.children = [
            *pickers,
            self.measure_select,
            self.rule_set,
            self.rule_help,
            self.verdict_html,
            self.chart_html,
            self.reading_html,
            self.rebase_html,
            self.rebase_button,
            self.notes_html,
            self.changes_html,
            self.prompts_html,
            self.learn_button,
            self.record_box,
            self.status,
        ]
        self._rule_help()
        self._action_help()
        teams = repo.list_teams(db, programme)
        self._busy = True
        try:
            self.team_select.options = [(t.name, t.id) for t in teams]
        finally:
            self._busy = False
        first = resolve_team(db, team, programme)
        self.load(first, measure)

    # --- loading ----------------------------------------------------------------------------

    def load(self, team: Any, measure: Any = None) -> None:
        """Show ``team`` (record, id or code) and ``measure`` (default: its first measure)."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        measures = repo.list_measures(self.db, self.team.id)
        self._busy = True
        try:
            if self.team.id in {v for _, v in self.team_select.options}:
                self.team_select.value = self.team.id
            self.measure_select.options = [(f"{x.name} ({glossary.label(x.measure_type)})", x.id)
                                           for x in measures]  # fmt: skip
            chosen, missing = None, None
            if measure is not None:
                try:
                    chosen = repo.get_measure(self.db, measure, self.team.id)
                except NotFoundError:  # e.g. a notebook written for another team's measures
                    missing = measure
            if chosen is None and measures:
                chosen = measures[0]
            self.measure_select.value = chosen.id if chosen else None
        finally:
            self._busy = False
        self.measure = chosen
        self.comparison = ""
        self.changes_html.value = ""
        self._governing_rule_set()
        self.refresh()
        if missing is not None and chosen is not None:
            self.say(f"{self.team.name} has no measure {missing!r}: showing {chosen.name}.",
                     "warning")  # fmt: skip

    def _governing_rule_set(self) -> None:
        """Show the measure under its own rule set unless another was asked for."""
        wanted = self._asked_rule_set or (
            wb.rule_set_for(self.measure) if self.measure is not None else "anhoej")  # fmt: skip
        if self.rule_set.value != wanted:
            self._busy = True
            try:
                self.rule_set.value = wanted
            finally:
                self._busy = False
            self._rule_help()

    def refresh(self) -> None:
        """Read the data and annotations again and redraw the chart.

        Every output widget is set once, when the new values are ready (clearing them first
        would send each one to the browser twice); if anything fails, they are emptied.
        """
        self.result = self.view = self.measure_status = None
        self.events, self.prompts, self.svg = [], [], ""
        try:
            shown = self._compute_outputs()
        except Exception:
            self._show_outputs({})
            raise
        self._show_outputs(shown)

    def _show_outputs(self, shown: dict[str, str]) -> None:
        self.verdict_html.value = shown.get("verdict", "")
        self.record_box.layout.display = None if self.period.options else "none"
        self.chart_html.value = shown.get("chart", "")
        self.reading_html.value = shown.get("reading", "")
        self.rebase_html.value = shown.get("rebase", "")
        self.rebase_button.layout.display = None if shown.get("rebase") else "none"
        self.notes_html.value = shown.get("notes", "")
        self.prompts_html.value = shown.get("prompts", "")
        self.learn_button.layout.display = None if shown.get("prompts") else "none"

    def _compute_outputs(self) -> dict[str, str]:
        if self.measure is None:
            self.annotations = []
            self.period.options = []
            self._render_annotations()
            self.say("", "info")
            return {"verdict": _empty(f"{self.team.name} has no measures yet: define its family "
                                      "of measures (Measures), then enter its data.")}  # fmt: skip
        self.frame = repo.observations(self.db, self.team.id, self.measure.id)
        self.annotations = repo.list_annotations(self.db, self.team.id, self.measure.id)
        self.cycles = wb.cycles_for_measure(
            repo.list_pdsa_cycles(self.db, self.team.id), self.measure.id
        )
        periods = [p.date() for p in self.frame["period"]]
        self.period.options = [(f"{p:%d %b %Y}", p.isoformat()) for p in periods]
        if periods:
            self.period.value = periods[-1].isoformat()
        self._render_annotations()
        if not len(self.frame):
            self.say("", "info")
            return {"verdict": _empty(f"There are no data points for {self.measure.name} yet: "
                                      "enter this month's value (“Our data”), then its chart, "
                                      "reading and notes appear here.")}  # fmt: skip
        self.measure_status = wb.measure_status(self.frame, self.measure, team=self.team,
                                        annotations=self.annotations, cycles=self.cycles)  # fmt: skip
        chosen = self.rule_set.value
        exploring = chosen != self.measure_status.rule_set
        if not exploring and self.measure_status.view is None:
            self.say(self.measure_status.reading, "info")
            return {"verdict": views.verdict_html(self.measure_status)}
        self.view = (wb.compute_chart(self.frame, self.measure, chosen, self.annotations)
                     if exploring else self.measure_status.view)  # fmt: skip
        self.result = self.view.result
        self.events = wb.signal_events(self.result)
        self.prompts = wb.pdsa_signal_prompts(
            self.events, self.cycles, periods, frequency=self.measure.frequency,
            within=self.prompt_within,
        )  # fmt: skip
        if exploring:
            reading = tell(self.view, self.measure, self.result.latest(), self.annotations)[0]
            verdict = (
                f'<p class="qi-exploring" role="note">Exploring with '
                f"{esc(glossary.label(chosen))}. This measure's verdict — on its card, in the "
                f"reports and on the programme's page — uses {esc(self.measure_status.rule_set_name)}: "
                f"{esc(views.VARIATION_WORDS.get(self.measure_status.variation, ''))}.</p>"
            )
        else:
            reading, verdict = self.measure_status.reading, views.verdict_html(self.measure_status)
        rows = list(self.measure_status.chart_rows)
        self.svg = self.chart_renderer(self.view, rows, self.width)
        shown = {
            "verdict": verdict,
            "chart": f'<div class="qi-chart">{self.svg}</div>',
            "reading": (
                f'<p class="qi-reading"><strong>Reading ({esc(glossary.label(chosen))}):'
                f"</strong> {multiline(reading)}</p>"
            ),
        }
        if self.measure_status.rebase is not None:
            since = self.measure_status.rebase.since
            shown["rebase"] = (
                f'<p class="qi-rebase" role="note" style="border-left:4px solid #005eb8;'
                f'padding:4px 8px">{esc(self.measure_status.rebase.text)} Write the reason under '
                f"“Why” below, then press “Recalculate the limits” to start new limits from "
                f"{since:%b %Y}.</p>"
            )
            self.rebase_button.description = f"Recalculate the limits from {since:%b %Y}"
        if self.view.notes:
            items = "".join(f"<li>{esc(n)}</li>" for n in self.view.notes)
            shown["notes"] = f'<ul class="qi-notes" style="color:{views.NOTE}">{items}</ul>'
        if self.prompts:
            items = "".join(f"<li>{esc(p.text)}</li>" for p in self.prompts)
            shown["prompts"] = (
                f'<div class="qi-prompts" style="border-left:4px solid #00703c;padding-left:8px">'
                f"<ul>{items}</ul></div>"
            )
        self.say("", "info")
        return shown

    def _render_annotations(self) -> None:
        rows = [
            [a.date.isoformat(), glossary.label(a.kind), a.text, a.reason or "",
             "this measure" if a.measure_id else "every measure"]
            for a in self.annotations
        ]  # fmt: skip
        self.annotations_html.value = table_html(
            ["Date", "Kind", "Text", "Reason", "Applies to"], rows, empty="No notes yet."
        )
        self.remove_select.options = [("(pick a note to remove)", None)] + [
            (f"{a.date.isoformat()} {glossary.label(a.kind)}: {a.text[:50]}", a.id)
            for a in self.annotations
        ]
        self.remove_select.value = None

    def _rule_help(self) -> None:
        self.rule_help.value = f'<div style="font-size:90%">{term_html(self.rule_set.value)}</div>'

    def _action_help(self) -> None:
        kind = self.action.value
        self.action_help.value = (
            f'<div style="font-size:90%;color:#425563">{esc(glossary.explain(kind))}'
            + (" A reason is required." if kind in wb.LIMIT_CHANGING_KINDS else "")
            + "</div>"
        )

    # --- callbacks ----------------------------------------------------------------------------

    @safe("choosing the team")
    def _on_team(self, change: dict) -> None:
        if self._busy:
            return
        team_id = wb.clean_choice(change["new"], "team", [v for _, v in self.team_select.options])
        self.load(team_id)

    @safe("choosing the measure")
    def _on_measure(self, change: dict) -> None:
        if self._busy:
            return
        mid = wb.clean_choice(change["new"], "measure", [v for _, v in self.measure_select.options])
        self.measure = repo.get_measure(self.db, mid, self.team.id)
        self.comparison = ""
        self.changes_html.value = ""
        self._governing_rule_set()
        self.refresh()

    @safe("switching the rule set")
    def _on_rule_set(self, change: dict) -> None:
        if self._busy:
            return
        new = wb.clean_choice(change["new"], "rule set", glossary.RULE_SETS)
        old = change["old"] if change["old"] in glossary.RULE_SETS else None
        before = list(self.events)
        had_chart = self.result is not None
        self._rule_help()
        self.refresh()
        if had_chart and old is not None and self.result is not None:
            self.comparison = wb.compare_signals(
                before, self.events, glossary.label(old), glossary.label(new)
            )
            self.changes_html.value = (
                f'<p class="qi-changes"><strong>What changed:</strong> {esc(self.comparison)}</p>'
            )

    @safe("choosing what to record")
    def _on_action(self, change: dict) -> None:
        wb.clean_choice(change["new"], "record", [k for _, k in ACTIONS])
        self._action_help()

    @safe("recording on the chart")
    def _on_record(self, _button: Any = None) -> None:
        if self.measure is None:
            raise wb.WorkbookInputError("Pick a measure first.")
        kind = wb.clean_choice(self.action.value, "record", [k for _, k in ACTIONS])
        when = wb.clean_choice(self.period.value, "date", [v for _, v in self.period.options])
        if when is None:
            raise wb.WorkbookInputError("Pick the point (date) first.")
        reason = wb.clean_text(self.reason.value, "why")
        text = wb.clean_text(self.note_text.value, "what", max_length=500)
        if kind in wb.LIMIT_CHANGING_KINDS and not reason:
            raise wb.WorkbookInputError(
                f"Say why ({glossary.label(kind).lower()}): changing how the limits are worked "
                "out needs a recorded reason, so others can follow the chart."
            )
        if kind == "event" and not text:
            raise wb.WorkbookInputError("Write what happened (the note's text).")
        only_here = self.this_measure_only.value is True or kind in wb.LIMIT_CHANGING_KINDS
        self.saved = repo.add_annotation(
            self.db,
            {
                "team_id": self.team.id,
                "measure_id": self.measure.id if only_here else None,
                "date": dt.date.fromisoformat(when),
                "text": text or _DEFAULT_TEXT[kind],
                "kind": kind,
                "reason": reason,
            },
        )
        self.note_text.value = ""
        self.reason.value = ""
        self.refresh()
        self.say(f"Recorded: {glossary.label(kind).lower()} on {when}.", "ok")

    @safe("removing a note")
    def _on_remove(self, _button: Any = None) -> None:
        aid = wb.clean_choice(self.remove_select.value, "note",
                              [v for _, v in self.remove_select.options])  # fmt: skip
        if aid is None:
            raise wb.WorkbookInputError("Pick the note to remove first.")
        record = next(a for a in self.annotations if a.id == aid)
        repo.delete_record(self.db, m.Annotation, aid, version=record.version)
        self.refresh()
        self.say("Removed the note.", "ok")

    @safe("recalculating the limits")
    def _on_rebase(self, _button: Any = None) -> None:
        """Record the rebase the status suggests, with the reason typed under "Why"."""
        if self.measure_status is None or self.measure_status.rebase is None:
            raise wb.WorkbookInputError("There is no change to recalculate the limits from now.")
        reason = wb.clean_text(self.reason.value, "why")
        if not reason:
            raise wb.WorkbookInputError(
                "Say why the limits should be recalculated (what changed, and that it held): "
                "write it under “Why”, then press the button again."
            )
        since = self.measure_status.rebase.since
        self.saved = repo.add_annotation(self.db, {
            "team_id": self.team.id, "measure_id": self.measure.id, "date": since,
            "text": "New limits after the change", "kind": "rebase", "reason": reason,
        })  # fmt: skip
        self.reason.value = ""
        self.refresh()
        self.say(f"Recorded: the limits are recalculated from {since:%b %Y}.", "ok")

    @safe("opening the reflection")
    def _on_learn(self, _button: Any = None) -> None:
        if not self.prompts:
            raise wb.WorkbookInputError("There is no prompt to answer right now.")
        if self.on_record_learning is None:
            self.say("Open the reflection journal to record what you learned.", "info")
            return
        self.on_record_learning(self.prompts[-1])


__all__ = ["ACTIONS", "RULE_SET_OPTIONS", "VariationExplorer", "chart_svg"]
