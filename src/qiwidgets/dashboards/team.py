"""The team dashboard: one team's aim and progress, its measures, PDSA log and reflections.

Built from the workbook widgets (:mod:`qiwidgets.widgets`); what a team enters is saved to the
store by those widgets at once. The page opens on the family of measures (each with its Making
Data Count icons, its chart and a one-sentence reading); every other section is a tab that is
built the first time it is opened, so the first render stays small.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.dashboards import fastchart
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, multiline, safe
from qiwidgets.widgets.purpose import aim_text

log = logging.getLogger("qiwidgets.dashboards")

#: Width of each measure's chart in the family (pixels of the plotting area).
CARD_CHART_WIDTH = 560
#: Size of the Making Data Count icons on a card.
ICON_SIZE = 44

#: The tabs, in the order a team reads them.
TABS = ("Measures", "Explore a chart", "PDSA cycles", "Reflections", "Progress score",
        "Aim and drivers")  # fmt: skip


@dataclass(frozen=True)
class MeasureCard:
    """What a measure's card shows: ``html`` plus the facts tests and reports read."""

    measure_id: int
    code: str
    name: str
    html: str
    variation: str | None = None
    assurance: str | None = None
    reading: str = ""


def _number(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    if math.isnan(f):
        return ""
    return f"{f:,.1f}".rstrip("0").rstrip(".") if abs(f) < 1e6 else f"{f:,.0f}"


def icons_and_words(variation: str | None, assurance: str | None, variation_type: str | None,
                    assurance_type: str | None) -> str:  # fmt: skip
    """The Making Data Count icons with their meaning in words beside them."""
    from qiwidgets import charts

    icons = charts.icons_html(variation, assurance, size=ICON_SIZE)
    words = []
    if isinstance(variation_type, str):
        text = glossary.label(variation_type)
        explain = glossary.explain(variation_type)
        words.append(f"{text}" + (f" — {explain}" if explain else ""))
    if isinstance(assurance_type, str):
        words.append(f"Target: {glossary.label(assurance_type).lower()}")
    return (
        f'<div class="qi-icons" style="display:flex;gap:10px;align-items:center">{icons}'
        f'<div style="font-size:90%;color:#425563">{"<br>".join(esc(w) for w in words)}'
        "</div></div>"
    )


def measure_card(db: Any, team: Any, measure: Any, obs: Any, annotations: list, cycles: list,
                 width: int = CARD_CHART_WIDTH) -> MeasureCard:  # fmt: skip
    """A measure's card: name and kind, icons, the chart (drawn by the browser), the reading."""
    kind = glossary.label(measure.measure_type)
    head = (
        f'<h3 style="margin:0.6em 0 0.2em 0">{esc(measure.name)} '
        f'<span style="font-weight:normal;font-size:80%;color:#425563">({esc(kind)}'
        f"{', shared by the programme' if measure.is_shared else ''})</span></h3>"
    )
    if obs is None or not len(obs):
        body = f"<p><em>No data for {esc(measure.name)} yet.</em></p>"
        return MeasureCard(measure.id, measure.code, measure.name,
                           f'<div class="qi-card">{head}{body}</div>')  # fmt: skip
    view = wb.compute_chart(obs, measure, "anhoej", annotations)
    rows = wb.chart_annotations(annotations, cycles, measure.id)
    spec = fastchart.spc_spec(view.result, rows, width)
    variation = assurance = vtype = atype = None
    try:
        mdc = wb.compute_chart(obs, measure, "mdc", annotations).result.summary.iloc[-1]
        variation, assurance = mdc.get("variation_icon"), mdc.get("assurance_icon")
        vtype, atype = mdc.get("variation_type"), mdc.get("assurance_type")
    except Exception:  # icons are a help, the chart is the content: never fail a card on them
        log.warning("No Making Data Count icons for %s", measure.code, exc_info=True)
    pts = view.result.points
    latest = pts[pts["y"].notna()].iloc[-1] if pts["y"].notna().any() else None
    facts = []
    if latest is not None:
        when = latest["x"]
        when_text = f"{when:%b %Y}" if hasattr(when, "strftime") else esc(when)
        facts.append(f"Latest: <strong>{esc(_number(latest['y']))}</strong> ({when_text})")
    if measure.target is not None:
        facts.append(f"target {esc(_number(measure.target))}")
    if measure.unit:
        facts.append(esc(measure.unit))
    better = {"increase": "higher is better", "decrease": "lower is better"}.get(
        measure.improvement_direction or ""
    )
    if better:
        facts.append(better)
    body = (
        icons_and_words(variation, assurance, vtype, atype)
        + f'<div class="qi-facts" style="margin:4px 0">{" · ".join(facts)}</div>'
        + fastchart.chart_html(spec)
        + f'<p class="qi-reading"><strong>Reading ({esc(view.result.rule_set)}):</strong> '
        f"{multiline(view.result.reading)}</p>"
    )
    if view.notes:
        body += '<ul class="qi-notes" style="color:#8a4b00">' + "".join(
            f"<li>{esc(n)}</li>" for n in view.notes) + "</ul>"  # fmt: skip
    return MeasureCard(
        measure.id, measure.code, measure.name,
        f'<div class="qi-card" data-measure="{esc(measure.code)}" style="border-top:1px solid '
        f'#d8dde0;padding-top:4px">{head}{body}</div>',
        variation if isinstance(variation, str) else None,
        assurance if isinstance(assurance, str) else None,
        view.result.reading,
    )  # fmt: skip


def team_cards(db: Any, team: Any) -> list[MeasureCard]:
    """The cards of a team's whole family of measures (one read of the observations)."""
    measures = repo.list_measures(db, team.id)
    obs = repo.observations(db, team.id)
    annotations = repo.list_annotations(db, team.id)
    cycles = repo.list_pdsa_cycles(db, team.id)
    cards = []
    for measure in measures:
        own_obs = obs[obs["measure_id"] == measure.id].reset_index(drop=True)
        own_notes = [a for a in annotations if a.measure_id in (None, measure.id)]
        own_cycles = wb.cycles_for_measure(cycles, measure.id)
        cards.append(measure_card(db, team, measure, own_obs, own_notes, own_cycles))
    return cards


def header_html(db: Any, team: Any) -> str:
    """The team's name, its aim and its latest progress score (team's and lead's)."""
    aim = aim_text(repo.get_aim(db, team.id))
    scores = repo.list_progress_scores(db, team.id)
    latest = scores[-1] if scores else None
    parts = [f'<h2 class="qi-team-name" style="margin:0.2em 0">{esc(team.name)}</h2>']
    parts.append(
        f'<p class="qi-aim"><strong>Our aim:</strong> {esc(aim)}</p>' if aim else
        '<p class="qi-aim"><em>No aim yet: write it under "Aim and drivers".</em></p>'
    )  # fmt: skip
    if latest is not None:
        parts.append(
            f'<p class="qi-progress"><strong>Progress score, {latest.month:%B %Y}:</strong> '
            f"team {esc(glossary.progress_description(latest.team_score))}; "
            f"lead {esc(glossary.progress_description(latest.lead_score))}.</p>"
        )
    else:
        parts.append('<p class="qi-progress"><em>No progress score yet.</em></p>')
    return "".join(parts)


class TeamDashboard(Panel):
    """One team's dashboard: a team picker, the aim and progress, and tabs for the measures,
    a chart to explore (baselines, phases, notes — each with a reason), PDSA cycles,
    reflections, the progress score, and the aim with its driver diagram.

    Parameters
    ----------
    db:
        The store.
    team:
        The team to show (code, id or record); default: the programme's first team.
    programme:
        The programme, when several share the store.
    prebuild:
        Build every tab now (a preheated kernel does this before its visitor arrives);
        otherwise a tab is built when it is first opened.

    Attributes
    ----------
    team:
        The team shown.
    cards:
        The :class:`MeasureCard` of each measure in the family.
    sections:
        The section widgets built so far, by tab title.
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 prebuild: bool = False, today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.programme = programme
        self.today = today
        self.cards: list[MeasureCard] = []
        self.sections: dict[str, Panel | widgets.Widget] = {}
        self._loaded_for: dict[str, int] = {}
        self._busy = False
        teams = repo.list_teams(db, programme)
        if not teams:
            raise wb.WorkbookInputError("The store holds no team yet: load or import a programme.")
        self.team = teams[0] if team is None else repo.get_team(db, team, programme)
        self.team_select = widgets.Dropdown(
            options=[(t.name, t.id) for t in teams], value=self.team.id,
            description="Team", layout=widgets.Layout(width="min(100%, 480px)"),
        )  # fmt: skip
        self.header = widgets.HTML()
        self.cards_html = widgets.HTML()
        self.family_note = widgets.HTML(
            f'<p style="color:#425563">{esc(glossary.explain("family_of_measures"))} '
            "Each chart's icons and reading say whether anything has changed. "
            'To set a baseline or note what happened on a chart, open "Explore a chart".</p>'
        )
        self.pages = [widgets.VBox([self.family_note, self.cards_html])] + [
            widgets.VBox([widgets.HTML('<p class="qi-wait">Opening…</p>')]) for _ in TABS[1:]
        ]
        self.tabs = widgets.Tab(children=self.pages)
        self.tabs.titles = TABS
        self.team_select.observe(self._on_team, names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.children = [self.team_select, self.status, self.header, self.tabs]
        self.add_class("qi-team-dashboard")
        if prebuild:
            for title in TABS[1:]:
                self._build(title)
        self.show_team(self.team)

    # --- sections ---------------------------------------------------------------------------

    def _factories(self) -> dict[str, Callable[[], widgets.Widget]]:
        from qiwidgets.widgets import (
            AimBuilder,
            DriverDiagramEditor,
            PDSALog,
            ProgressScoreWidget,
            ReflectionJournal,
            VariationExplorer,
        )

        db, team, today = self.db, self.team, self.today
        return {
            "Explore a chart": lambda: VariationExplorer(
                db, team, show_team_picker=False, width=CARD_CHART_WIDTH,
                chart_renderer=fastchart.browser_chart_svg,
            ),
            "PDSA cycles": lambda: PDSALog(db, team),
            "Reflections": lambda: ReflectionJournal(db, team, today=today),
            "Progress score": lambda: ProgressScoreWidget(db, team, today=today),
            "Aim and drivers": lambda: (
                AimBuilder(db, team, today=today),
                DriverDiagramEditor(db, team),
            ),
        }

    def _panels(self, title: str) -> list[Panel]:
        section = self.sections.get(title)
        if section is None:
            return []
        return list(section) if isinstance(section, tuple) else [section]

    def _build(self, title: str) -> None:
        if title in self.sections:
            return
        section = self._factories()[title]()
        self.sections[title] = section
        self._loaded_for[title] = self.team.id
        if title == "Explore a chart":
            section.on_record_learning = self._record_learning
        if title == "PDSA cycles":
            section.on_saved = self._pdsa_saved
        self.pages[TABS.index(title)].children = self._panels(title)

    def _ensure(self, title: str) -> None:
        """Build ``title``'s section, or load the current team into it when it shows another."""
        if title == TABS[0]:
            self._render_cards()
            return
        if title not in self.sections:
            self._build(title)
            return
        if self._loaded_for.get(title) != self.team.id:
            for panel in self._panels(title):
                panel._guard("loading the team", panel.load, self.team)
            self._loaded_for[title] = self.team.id

    def _render_cards(self) -> None:
        self.cards = team_cards(self.db, self.team)
        self.cards_html.value = "".join(c.html for c in self.cards) or (
            "<p><em>This team has no measures yet.</em></p>")  # fmt: skip

    # --- showing a team -----------------------------------------------------------------------

    def show_team(self, team: Any) -> None:
        """Show ``team`` (code, id or record): header, the open tab; other tabs on opening."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(
            self.db, team, self.programme)  # fmt: skip
        if self.team_select.value != self.team.id:
            self._busy = True
            try:
                self.team_select.value = self.team.id
            finally:
                self._busy = False
        self.header.value = header_html(self.db, self.team)
        index = self.tabs.selected_index or 0
        self._ensure(TABS[index])

    @safe("choosing the team")
    def _on_team(self, change: dict) -> None:
        if self._busy:
            return
        team_id = wb.clean_choice(change["new"], "team", [v for _, v in self.team_select.options])
        self.show_team(team_id)
        self.say(f"Showing {self.team.name}.", "info")

    @safe("opening the tab")
    def _on_tab(self, change: dict) -> None:
        index = change["new"]
        if not isinstance(index, int) or not 0 <= index < len(TABS):
            return
        self._ensure(TABS[index])

    def _record_learning(self, prompt: wb.PDSAPrompt) -> None:
        self._ensure("Reflections")
        journal = self.sections["Reflections"]
        journal.prefill(prompt.text.replace(" — record what you learned?", "."))
        self.tabs.selected_index = TABS.index("Reflections")
        journal.say("Write what the team learned from this signal, then save.", "info")

    def _pdsa_saved(self, _cycle: Any) -> None:
        explorer = self.sections.get("Explore a chart")
        if explorer is not None and self._loaded_for.get("Explore a chart") == self.team.id:
            explorer._guard("redrawing the chart", explorer.refresh)


__all__ = ["TABS", "MeasureCard", "TeamDashboard", "header_html", "measure_card", "team_cards"]
