"""The programme dashboard: every team at a glance, the shared outcome across teams, and the
learning worth spreading.

A learning tool, not performance management: teams are listed by name (never ranked), with
their progress scores and the verdict of each shared measure; the shared outcome measure is
read across teams with a funnel plot and small multiples; bright spots, changes taking hold,
teams that may need support and the reflections teams flagged as "may generalise" are listed;
each team name links to that team's dashboard. The page only reads the store, and renders the
core's :class:`~qiwidgets.workbook.status.ProgrammeStatus`: the verdicts, the bright spots and
the teams that may need support are the same as in the programme report.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

import ipywidgets as widgets
import pandas as pd

from qiwidgets import glossary, views
from qiwidgets import workbook as wb
from qiwidgets.dashboards import fastchart
from qiwidgets.errors import QIError
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, multiline

log = logging.getLogger("qiwidgets.dashboards")

#: Reflections listed under "learning to share" (the most recent first).
MAX_REFLECTIONS = 15
#: The team dashboard, relative to the programme dashboard's URL.
TEAM_PAGE = "team.ipynb"


def team_link(code: str, name: str) -> str:
    """A link to a team's dashboard (the login cookie carries the token)."""
    query = urllib.parse.urlencode({"team": code})
    return f'<a class="qi-team-link" href="{esc(TEAM_PAGE)}?{esc(query)}">{esc(name)}</a>'


def _team_cell(team_status: Any) -> str:
    return team_link(team_status.code, team_status.name)


def outcome_charts(outcome: Any, obs: pd.DataFrame, names: dict[str, str]) -> tuple[str, str]:
    """The funnel plot (the last :data:`~qiwidgets.workbook.FUNNEL_MONTHS` months pooled) and
    the small multiples of the shared outcome measure, as chart ``div``\\ s the browser draws."""
    data = obs[obs["measure_id"] == outcome.id]
    if data.empty:
        return "<p><em>No data for the shared outcome measure yet.</em></p>", ""
    recent = data[data["period"] > data["period"].max() - pd.DateOffset(months=wb.FUNNEL_MONTHS)]
    try:
        result = wb.outcome_funnel(recent, outcome, names)
    except QIError as exc:
        funnel_html = f"<p><em>No funnel plot: {esc(exc)}</em></p>"
    else:
        funnel_html = (
            "<p><em>A funnel plot needs a numerator and a denominator per team.</em></p>"
            if result is None
            else fastchart.chart_html(fastchart.funnel_spec(result), css_class="qi-funnel")
        )
    result = wb.outcome_small_multiples(data, outcome, names)
    sm = fastchart.chart_html(fastchart.small_multiples_spec(result, columns=4),
                              css_class="qi-small-multiples")  # fmt: skip
    return funnel_html, sm


def learning_html(reflections: list, names: dict[int, str]) -> str:
    """The reflections teams flagged as a bright spot or as may-generalise."""
    out = []
    items = []
    for r in list(reversed(reflections))[:MAX_REFLECTIONS]:
        flags = [w for w, on in (("bright spot", r.bright_spot), ("may generalise",
                                 r.generalisable)) if on]  # fmt: skip
        texts = "".join(
            f"<div>{multiline(getattr(r, f))}</div>"
            for f in ("what_happened", "what_worked", "what_should_change", "story")
            if getattr(r, f)
        )  # fmt: skip
        level = f", {esc(glossary.label(r.learning_level))}" if r.learning_level else ""
        items.append(
            f'<li style="margin-bottom:6px"><strong>{esc(names.get(r.team_id, ""))}</strong>, '
            f"{esc(r.date.isoformat())} [{esc(', '.join(flags))}{level}]{texts}</li>"
        )
    out.append("<h3>Reflections flagged by teams</h3>")
    out.append(f'<ul class="qi-shared-learning">{"".join(items)}</ul>' if items
               else "<p><em>No team has flagged a reflection yet.</em></p>")  # fmt: skip
    return "".join(out)


class ProgrammeDashboard(Panel):
    """The programme lead's page (read-only): teams at a glance, the shared outcome across
    teams, bright spots and learning to share, a link to each team's dashboard.

    Attributes
    ----------
    programme_status:
        The core's :class:`~qiwidgets.workbook.status.ProgrammeStatus` the page renders.
    outcome:
        The shared outcome measure drawn across teams (None when the programme has none).
    """

    def __init__(self, db: Any, programme: Any = None, month: Any = None):
        super().__init__(db)
        self.add_class("qi-programme-dashboard")
        self.programme_status = wb.programme_status(db, programme, month)
        self.prog = self.programme_status.programme
        teams = [t.team for t in self.programme_status.teams]
        shared = self.programme_status.shared
        self.outcome = self.programme_status.outcome
        obs = (
            pd.concat([repo.observations(db, measure=m.id, programme=self.prog.id) for m in shared])
            if shared
            else pd.DataFrame(columns=["team", "team_id", "measure_id", "period"])
        )
        code_names = {t.code: t.name for t in teams}
        id_names = {t.id: t.name for t in teams}
        reflections = [
            r
            for r in repo.list_reflections(db, programme=self.prog.id)
            if r.bright_spot or r.generalisable
        ]
        month = f"{self.programme_status.month:%B %Y}"
        head = widgets.HTML(
            f'<h2 style="margin:0.2em 0">{esc(self.prog.name)}</h2>'
            f'<p style="color:{views.MUTED}">{len(teams)} teams, as of {esc(month)}. This page is '
            "for learning across teams, not for ranking them: teams are listed by name. Click a "
            "team to open its dashboard.</p>"
        )
        table = widgets.HTML(
            "<h3>Teams at a glance</h3>"
            f'<p style="font-size:90%;color:{views.MUTED}">'
            f"{esc(glossary.explain('progress_score'))} Each shared measure shows its verdict at "
            "the team's latest point, under the measure's own rule set and with the team's own "
            "phases and baselines: the same verdict as on the team's dashboard.</p>"
            + views.glance_table(self.programme_status, _team_cell)
        )
        parts = [head, self.status, table]
        if self.outcome is not None:
            funnel_html, sm_html = outcome_charts(self.outcome, obs, code_names)
            parts.append(widgets.HTML(
                f"<h3>{esc(self.outcome.name)}: all teams, last {wb.FUNNEL_MONTHS} months</h3>"
                f'<p style="font-size:90%;color:{views.MUTED}">A funnel plot: each dot is a team; '
                "teams inside the funnel differ only by common-cause variation.</p>" + funnel_html
            ))  # fmt: skip
            parts.append(widgets.HTML(
                f"<h3>{esc(self.outcome.name)}: each team over time</h3>" + sm_html
            ))  # fmt: skip
        parts.append(widgets.HTML(
            "<h3>Bright spots and learning to share</h3>"
            + views.bright_spots(self.programme_status, _team_cell)
            + learning_html(reflections, id_names)
        ))  # fmt: skip
        parts.append(widgets.HTML(
            "<h3>Teams that may need support</h3>" + views.support(self.programme_status, _team_cell)
        ))  # fmt: skip
        self.children = parts

    @property
    def rows(self) -> list:
        """The teams' statuses, by name (never ranked)."""
        return self.programme_status.teams


__all__ = ["ProgrammeDashboard", "team_link"]
