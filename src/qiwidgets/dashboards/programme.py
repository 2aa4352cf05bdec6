"""The programme dashboard: every team at a glance, the shared outcome across teams, and the
learning worth spreading.

A learning tool, not performance management: teams are listed by name (never ranked), with
their progress scores and the Making Data Count icons of each shared measure; the shared
outcome measure is read across teams with a funnel plot and small multiples; bright spots and
the reflections teams flagged as "may generalise" are listed; each team name links to that
team's dashboard. The page only reads the store.
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import pandas as pd

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.dashboards import fastchart
from qiwidgets.dashboards.team import ICON_SIZE
from qiwidgets.errors import QIError
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, multiline

log = logging.getLogger("qiwidgets.dashboards")

#: Reflections listed under "learning to share" (the most recent first).
MAX_REFLECTIONS = 15
#: The team dashboard, relative to the programme dashboard's URL.
TEAM_PAGE = "team.ipynb"


@dataclass
class TeamGlance:
    """One team's row: scores and the icons of each shared measure."""

    code: str
    name: str
    team_score: float | None = None
    lead_score: float | None = None
    month: Any = None
    icons: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)


def team_link(code: str, name: str) -> str:
    """A link to a team's dashboard (the login cookie carries the token)."""
    query = urllib.parse.urlencode({"team": code})
    return f'<a class="qi-team-link" href="{esc(TEAM_PAGE)}?{esc(query)}">{esc(name)}</a>'


def glance(db: Any, programme: Any, teams: list, shared: list, obs: pd.DataFrame,
           scores: pd.DataFrame) -> list[TeamGlance]:  # fmt: skip
    """Every team's latest scores and, per shared measure, the MDC icons of its series."""
    rows = []
    for team in teams:
        g = TeamGlance(team.code, team.name)
        mine = scores[scores["team"] == team.code]
        if len(mine):
            last = mine.iloc[-1]
            g.month = last["month"]
            g.team_score = None if pd.isna(last["team_score"]) else float(last["team_score"])
            g.lead_score = None if pd.isna(last["lead_score"]) else float(last["lead_score"])
        for measure in shared:
            series = obs[(obs["team_id"] == team.id) & (obs["measure_id"] == measure.id)]
            if not len(series):
                g.icons[measure.code] = (None, None, None)
                continue
            try:
                summ = wb.compute_chart(series.reset_index(drop=True), measure, "mdc").result
                last = summ.summary.iloc[-1]
                g.icons[measure.code] = (last.get("variation_icon"), last.get("assurance_icon"),
                                         last.get("variation_type"))  # fmt: skip
            except Exception:
                log.warning("No icons for %s %s", team.code, measure.code, exc_info=True)
                g.icons[measure.code] = (None, None, None)
        rows.append(g)
    return rows


def glance_html(rows: list[TeamGlance], shared: list) -> str:
    """The teams-at-a-glance table (every cell escaped; icons are generated SVG)."""
    from qiwidgets import charts

    head = ["Team", "Progress score (team / lead)"] + [m.name for m in shared]
    th = "".join(f'<th style="text-align:left;padding:4px 8px;vertical-align:bottom">{esc(h)}'
                 "</th>" for h in head)  # fmt: skip
    body = []
    for g in rows:
        month = f" <small>({g.month:%b %Y})</small>" if g.month is not None else ""
        score = (
            f"{esc(_score(g.team_score))} / {esc(_score(g.lead_score))}{month}"
            if g.month is not None else "<em>not scored</em>"
        )  # fmt: skip
        cells = [team_link(g.code, g.name), score]
        for measure in shared:
            variation, assurance, vtype = g.icons.get(measure.code, (None, None, None))
            if not isinstance(variation, str):
                cells.append("<em>no data</em>")
                continue
            words = glossary.label(vtype) if isinstance(vtype, str) else ""
            cells.append(
                charts.icons_html(variation, assurance if isinstance(assurance, str) else None,
                                  size=ICON_SIZE - 8)
                + f'<div style="font-size:80%;color:#425563">{esc(words)}</div>'
            )  # fmt: skip
        tds = "".join(f'<td style="padding:4px 8px;vertical-align:top">{c}</td>' for c in cells)
        body.append(f'<tr data-team="{esc(g.code)}">{tds}</tr>')
    return (
        '<table class="qi-glance" style="border-collapse:collapse">'
        f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _score(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


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


def learning_html(rows: list[TeamGlance], reflections: list, outcome: Any,
                  names: dict[int, str]) -> str:  # fmt: skip
    """Bright spots (special-cause improvement on the shared outcome) and the reflections
    teams flagged as a bright spot or as may-generalise."""
    out = []
    if outcome is not None:
        bright = [
            g
            for g in rows
            if str(g.icons.get(outcome.code, (None,))[0] or "").startswith("improvement")
        ]
        if bright:
            items = "".join(f"<li>{team_link(g.code, g.name)}</li>" for g in bright)
            out.append(
                f"<p>Teams whose {esc(outcome.name.lower())} shows special-cause improvement "
                f'at the latest point:</p><ul class="qi-bright">{items}</ul>'
            )
        else:
            out.append(
                f"<p>No team's {esc(outcome.name.lower())} shows special-cause improvement at the "
                "latest point yet.</p>"
            )
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
    rows:
        A :class:`TeamGlance` per team, by team code.
    outcome:
        The shared outcome measure drawn across teams (None when the programme has none).
    """

    def __init__(self, db: Any, programme: Any = None):
        super().__init__(db)
        self.add_class("qi-programme-dashboard")
        self.prog = repo.get_programme(db, programme)
        teams = repo.list_teams(db, self.prog.id)
        shared = repo.list_measures(db, None, self.prog.id)
        self.outcome = next((m for m in shared if m.measure_type == "outcome"), None)
        obs = (
            pd.concat([repo.observations(db, measure=m.id, programme=self.prog.id) for m in shared])
            if shared
            else pd.DataFrame(columns=["team", "team_id", "measure_id", "period"])
        )
        scores = repo.progress_scores(db, self.prog.id)
        self.rows = glance(db, self.prog, teams, shared, obs, scores)
        code_names = {t.code: t.name for t in teams}
        id_names = {t.id: t.name for t in teams}
        reflections = [
            r
            for r in repo.list_reflections(db, programme=self.prog.id)
            if r.bright_spot or r.generalisable
        ]
        head = widgets.HTML(
            f'<h2 style="margin:0.2em 0">{esc(self.prog.name)}</h2>'
            f'<p style="color:#425563">{len(teams)} teams. This page is for learning across '
            "teams, not for ranking them: teams are listed by name. Click a team to open its "
            "dashboard.</p>"
        )
        table = widgets.HTML(
            "<h3>Teams at a glance</h3>"
            f'<p style="font-size:90%;color:#425563">{esc(glossary.explain("progress_score"))} '
            "The icons are the Making Data Count variation (and, with a target, assurance) "
            "icons of each shared measure at its latest point.</p>" + glance_html(self.rows, shared)
        )
        parts = [head, self.status, table]
        if self.outcome is not None:
            funnel_html, sm_html = outcome_charts(self.outcome, obs, code_names)
            parts.append(widgets.HTML(
                f"<h3>{esc(self.outcome.name)}: all teams, last {wb.FUNNEL_MONTHS} months</h3>"
                '<p style="font-size:90%;color:#425563">A funnel plot: each dot is a team; teams '
                "inside the funnel differ only by common-cause variation.</p>" + funnel_html
            ))  # fmt: skip
            parts.append(widgets.HTML(
                f"<h3>{esc(self.outcome.name)}: each team over time</h3>" + sm_html
            ))  # fmt: skip
        parts.append(widgets.HTML(
            "<h3>Bright spots and learning to share</h3>"
            + learning_html(self.rows, reflections, self.outcome, id_names)
        ))  # fmt: skip
        self.children = parts


__all__ = ["ProgrammeDashboard", "TeamGlance", "glance", "team_link"]
