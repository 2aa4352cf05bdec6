"""The team dashboard: one team's aim and progress, its measures, PDSA log and reflections.

Built from the workbook widgets (:mod:`qiwidgets.widgets`); what a team enters is saved to the
store by those widgets at once. The page opens on the family of measures (each with its Making
Data Count icons, its chart and a one-sentence reading); every other section is a tab that is
built the first time it is opened, so the first render stays small.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary, views
from qiwidgets import workbook as wb
from qiwidgets.dashboards import fastchart
from qiwidgets.store import people, repo
from qiwidgets.widgets._base import Panel, esc, safe
from qiwidgets.widgets.purpose import aim_text
from qiwidgets.workbook.practice import deeper_learning_prompts


def practice_sections(db: Any, team: Any, today: Any) -> dict[str, Callable[[], Any]]:
    """The team's people, help, safety pulse and skills, and what other teams shared (issue
    M)."""
    from qiwidgets.widgets.practice import (
        HelpRequests,
        MySkills,
        SafetyPulse,
        SharedLearning,
        TeamRoster,
    )

    return {
        "Our team": lambda: (TeamRoster(db, team), HelpRequests(db, team, today=today),
                             SafetyPulse(db, team, today=today), MySkills(db, team)),
        "Other teams": lambda: SharedLearning(db, team),
    }  # fmt: skip

log = logging.getLogger("qiwidgets.dashboards")

#: Width of each measure's chart in the family (pixels of the plotting area).
CARD_CHART_WIDTH = 560

#: The tabs, in the order a team reads them.
TABS = ("Measures", "Our data", "Explore a chart", "PDSA cycles", "Reflections",
        "Progress score", "Aim and drivers", "Our team", "Other teams")  # fmt: skip


@dataclass(frozen=True)
class MeasureCard:
    """A measure's card: its ``status`` (the core's verdict) and the ``html`` rendering it."""

    status: Any
    html: str

    @property
    def measure_id(self) -> Any:
        return self.status.measure_id

    @property
    def code(self) -> str:
        return self.status.measure_code

    @property
    def name(self) -> str:
        return self.status.measure_name

    @property
    def variation(self) -> str:
        return self.status.variation

    @property
    def assurance(self) -> str:
        return self.status.assurance

    @property
    def reading(self) -> str:
        return self.status.reading


def measure_card(status: Any, width: int = CARD_CHART_WIDTH, *,
                 heading: str = "h3") -> MeasureCard:  # fmt: skip
    """A measure's card, drawn from its status: the chart is drawn by the browser; the
    measure's name is a ``heading`` (one level below what the card sits under)."""
    chart = ""
    if status.result is not None and status.view is not None and len(status.result.points) >= 2:
        spec = fastchart.spc_spec(status.result, list(status.chart_rows), width,
                                  reading=status.reading)  # fmt: skip
        chart = fastchart.chart_html(spec)
    return MeasureCard(status, views.measure_card(status, chart, heading=heading))


def team_cards(db: Any, team: Any, month: Any = None) -> list[MeasureCard]:
    """The cards of a team's whole family of measures (one read of the store)."""
    status = wb.team_status(db, team, month)
    return [measure_card(s) for s in status.measures]


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


def learning_system_html(db: Any, team: Any) -> str:
    """The team's own learning-system check, folded under the header: the latest rating of each
    component, what changed since the check before and the component that most needs
    attention (:func:`qiwidgets.workbook.team_health`). Checks are entered in the workbook."""
    view = wb.team_health(db, team)
    said = (f"latest {view.latest_period:%B %Y}; most needs attention: {view.attention_words()}"
            if view.has_data else "no check yet")  # fmt: skip
    return (f'<details class="qi-team-health"><summary>Our learning-system check '
            f"({esc(said)})</summary>{views.health_view(view)}</details>")  # fmt: skip


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
        self.health = widgets.HTML()  # the team's learning-system check (learning_system_html)
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
        self.children = [self.team_select, self.status, self.header, self.health, self.tabs]
        self.add_class("qi-team-dashboard")
        if prebuild:
            for title in TABS[1:]:
                self._build(title)
        self.show_team(self.team)

    # --- sections ---------------------------------------------------------------------------

    def _factories(self) -> dict[str, Callable[[], widgets.Widget]]:
        from qiwidgets.widgets import (
            AimBuilder,
            DataEntryGrid,
            DriverDiagramEditor,
            PDSALog,
            ProgressScoreWidget,
            ReflectionJournal,
            VariationExplorer,
        )
        from qiwidgets.widgets.practice import FishboneEditor

        db, team, today = self.db, self.team, self.today
        return {
            "Our data": lambda: DataEntryGrid(db, team, today=today, on_saved=self._data_saved),
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
                FishboneEditor(db, team),
            ),
            **practice_sections(db, team, today),
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
        if title == "Aim and drivers":
            _aim, drivers, fishbone = section
            drivers.on_saved = lambda _node: fishbone.refresh_drivers(drivers.nodes)
        if title == "Reflections":
            self._show_prompts(section)
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
            if title == "Reflections":
                self._show_prompts(self.sections[title])

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
        self.health.value = learning_system_html(self.db, self.team)
        index = self.tabs.selected_index or 0
        self._ensure(TABS[index])
        actor = people.actor_of(self.db)
        if actor is not None and not actor.can_write(self.team.id, self.team.programme_id):
            self.say(f"You can read {self.team.name}'s records; saving them is for the team's "
                     "members and lead.", "info")  # fmt: skip

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

    def _show_prompts(self, journal: Any) -> None:
        """The suggestions to question the team's theory, from the core (issue M)."""
        statuses = [c.status for c in self.cards if c.status.team_code == self.team.code]
        prompts = deeper_learning_prompts(repo.list_pdsa_cycles(self.db, self.team.id), statuses,
                                          repo.list_reflections(self.db, self.team.id))  # fmt: skip
        journal.deeper.show(prompts)

    def _data_saved(self, _summary: Any) -> None:
        """New data: the family's charts and an open chart are drawn again from the store."""
        self._render_cards()
        self._pdsa_saved(None)

    def _pdsa_saved(self, _cycle: Any) -> None:
        explorer = self.sections.get("Explore a chart")
        if explorer is not None and self._loaded_for.get("Explore a chart") == self.team.id:
            explorer._guard("redrawing the chart", explorer.refresh)


__all__ = ["TABS", "MeasureCard", "TeamDashboard", "header_html", "learning_system_html",
           "measure_card", "team_cards"]
