"""The team workbook: every section of the learning loop for one team, in tabs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from qiwidgets import workbook as wb
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, safe
from qiwidgets.widgets.measures import MeasureFamily
from qiwidgets.widgets.pdsa import PDSALog
from qiwidgets.widgets.progress import HealthCheckWidget, ProgressScoreWidget
from qiwidgets.widgets.purpose import AimBuilder, DriverDiagramEditor, resolve_team
from qiwidgets.widgets.reflection import ReflectionJournal
from qiwidgets.widgets.variation import VariationExplorer

#: The tabs, in the order of the learning loop.
SECTIONS = (
    "Purpose", "Measures", "Variation", "PDSA", "Reflection", "Progress", "Learning system",
)  # fmt: skip


class TeamWorkbook(Panel):
    """One team's workbook: purpose, measures, variation, PDSA, reflection, progress and the
    learning-system check, in tabs, with a team picker on top.

    Attributes
    ----------
    team:
        The team shown.
    aim, drivers, measures, variation, pdsa, journal, progress, health:
        The section widgets (:class:`AimBuilder`, :class:`DriverDiagramEditor`,
        :class:`MeasureFamily`, :class:`VariationExplorer`, :class:`PDSALog`,
        :class:`ReflectionJournal`, :class:`ProgressScoreWidget`, :class:`HealthCheckWidget`).
    tabs:
        The ``widgets.Tab`` holding them.
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.team = resolve_team(db, team, programme)
        teams = repo.list_teams(db, programme if programme is not None else self.team.programme_id)
        self.team_select = widgets.Dropdown(
            options=[(t.name, t.id) for t in teams], value=self.team.id, description="Team"
        )
        self.aim = AimBuilder(db, self.team, today=today)
        self.drivers = DriverDiagramEditor(db, self.team)
        self.measures = MeasureFamily(db, self.team)
        self.variation = VariationExplorer(db, self.team, show_team_picker=False)
        self.pdsa = PDSALog(db, self.team)
        self.journal = ReflectionJournal(db, self.team, today=today)
        self.progress = ProgressScoreWidget(db, self.team, today=today)
        self.health = HealthCheckWidget(db, self.team, today=today)
        self.tabs = widgets.Tab(children=[
            widgets.VBox([self.aim, self.drivers]), self.measures, self.variation, self.pdsa,
            self.journal, self.progress, self.health,
        ])  # fmt: skip
        self.tabs.titles = SECTIONS
        self.variation.on_record_learning = self._record_learning
        self.pdsa.on_saved = lambda _cycle: self.variation.refresh()
        self.team_select.observe(self._on_team, names="value")
        self.children = [self.team_select, self.status, self.tabs]

    @property
    def sections(self) -> list[Panel]:
        """Every section widget."""
        return [self.aim, self.drivers, self.measures, self.variation, self.pdsa, self.journal,
                self.progress, self.health]  # fmt: skip

    @safe("choosing the team")
    def _on_team(self, change: dict) -> None:
        team_id = wb.clean_choice(change["new"], "team", [v for _, v in self.team_select.options])
        self.team = repo.get_team(self.db, team_id)
        for section in self.sections:
            section._guard("loading the team", section.load, self.team)
        self.say(f"Showing {self.team.name}.", "info")

    def _record_learning(self, prompt: wb.PDSAPrompt) -> None:
        self.journal.prefill(prompt.text.replace(" — record what you learned?", "."))
        self.tabs.selected_index = SECTIONS.index("Reflection")
        self.journal.say("Write what the team learned from this signal, then save.", "info")


__all__ = ["SECTIONS", "TeamWorkbook"]
