"""The programme dashboard: every team at a glance, the shared outcome across teams, and the
learning worth spreading.

A learning tool, not performance management: the page opens with the month in one paragraph;
teams are listed by name (never ranked), with their progress scores and the verdict of each
shared measure; the shared outcome measure is read across teams with a funnel plot and small
multiples; bright spots with their story (the evidence, the change ideas behind them, the
reflections the team shared), changes taking hold, teams that may need support and the
reflections teams shared with the programme are listed (those their teams kept are only
counted); the change-idea library can be searched and filtered by measure and decision
(:class:`ChangeIdeaBrowser`); the learning system's health is shown for the programme and
each team (:class:`HealthBrowser`); each team name links to that team's dashboard. The page
only reads the store, and renders the core's
:class:`~qiwidgets.workbook.status.ProgrammeStatus` and :mod:`qiwidgets.workbook.learning`:
the verdicts, the bright spots, the library and the teams that may need support are the same
as in the programme report.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

import ipywidgets as widgets
import pandas as pd

from qiwidgets import glossary, practice_views, views
from qiwidgets import workbook as wb
from qiwidgets.dashboards import fastchart
from qiwidgets.errors import QIError
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, multiline, safe
from qiwidgets.workbook.practice import programme_practice

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


#: The decision filter's choices: (label, value); "" is every decision.
DECISION_OPTIONS = (("Any decision", ""), ("Adopted", "adopt"), ("Adapted", "adapt"),
                    ("Abandoned", "abandon"), ("No decision yet", "undecided"))  # fmt: skip
#: The longest search a visitor can send (characters).
MAX_SEARCH = 200


class ChangeIdeaBrowser(Panel):
    """The change-idea library, searchable and filtered by measure and decision.

    The controls drive :meth:`qiwidgets.workbook.ChangeIdeaLibrary.filter` (a pure function,
    which checks every value it is given: a visitor can send any trait value); the outcome is
    kept on :attr:`result` and rendered with :func:`qiwidgets.views.change_idea_library`.

    Attributes
    ----------
    library:
        The whole library (:func:`qiwidgets.workbook.library_from`).
    result:
        The library as filtered now.
    """

    def __init__(self, db: Any, library: Any):
        super().__init__(db)
        self.add_class("qi-library-browser")
        self.library = library
        self.result = library
        narrow = widgets.Layout(width="min(100%, 330px)")
        self.search = widgets.Text(description="Search", placeholder="a word of an idea, a team…",
                                   continuous_update=False, layout=narrow)  # fmt: skip
        self.measure = widgets.Dropdown(
            description="Measure", options=[("All measures", ""), *[(name, code) for code, name
                                                                   in library.measure_options]],
            value="", layout=narrow)  # fmt: skip
        self.decision = widgets.Dropdown(description="Decision", options=list(DECISION_OPTIONS),
                                         value="", layout=narrow)  # fmt: skip
        for control in (self.search, self.measure, self.decision):
            control.add_class("qi-keep")
            control.observe(self._on_filter, names="value")
        self.output = widgets.HTML()
        self.children = [widgets.HBox([self.search, self.measure, self.decision],
                                      layout=widgets.Layout(flex_flow="row wrap")),
                         self.status, self.output]  # fmt: skip
        self.render()

    def render(self) -> None:
        self.output.value = views.change_idea_library(self.result, team_cell=team_link)

    def apply(self, search: Any = "", measure: Any = "", decision: Any = "") -> Any:
        """Filter the library (each value checked) and show the result."""
        if isinstance(search, str) and len(search) > MAX_SEARCH:
            raise wb.WorkbookInputError(f"`search` is too long; keep it under {MAX_SEARCH} "
                                        "characters.")  # fmt: skip
        self.result = self.library.filter(search, measure, decision)
        self.render()
        n = len(self.result.ideas)
        self.say(f"{n} change idea{'s' if n != 1 else ''} shown.", "info")
        return self.result

    @safe("filtering the change ideas")
    def _on_filter(self, _change: dict) -> None:
        self.apply(self.search.value, self.measure.value, self.decision.value)


class HealthBrowser(Panel):
    """The learning system's health: the programme's check or a team's, chosen from a list
    (:func:`qiwidgets.views.health_view`), and every team's latest check at a glance.

    Attributes
    ----------
    health:
        The :class:`~qiwidgets.workbook.ProgrammeHealth` shown.
    shown:
        The :class:`~qiwidgets.workbook.HealthView` shown now.
    """

    def __init__(self, db: Any, health: Any):
        super().__init__(db)
        self.add_class("qi-health-browser")
        self.health = health
        self.shown = health.programme
        self.scope = widgets.Dropdown(
            description="Whose check",
            options=[("The programme", "programme"), *[(v.name, v.scope) for v in health.teams]],
            value="programme", layout=widgets.Layout(width="min(100%, 480px)"),
            style={"description_width": "initial"},
        )  # fmt: skip
        self.scope.observe(self._on_scope, names="value")
        self.output = widgets.HTML(views.health_view(self.shown))
        overview = widgets.HTML("<h4>Every team's latest check</h4>"
                                + views.health_overview(health, team_link))  # fmt: skip
        self.children = [self.scope, self.status, self.output, overview]

    def show(self, scope: Any) -> Any:
        """Show the programme's check (``"programme"``) or a team's (its code)."""
        scope = wb.clean_choice(scope, "scope", [v for _, v in self.scope.options])
        self.shown = self.health.programme if scope == "programme" else self.health.team(scope)
        self.output.value = views.health_view(self.shown)
        self.say(f"Showing the learning-system check of {self.shown.name}.", "info")
        return self.shown

    @safe("choosing whose check to show")
    def _on_scope(self, change: dict) -> None:
        self.show(change["new"])


def _evidence_card(status: Any) -> str:
    """A bright spot's evidence: the measure's card as the team's dashboard shows it, its
    heading under the story's (h5)."""
    from qiwidgets.dashboards.team import measure_card

    card = measure_card(status, heading="h6").html
    return (f"<details><summary>The evidence: {esc(status.measure_name)} on "
            f"{esc(status.team_name)}'s chart</summary>{card}</details>")


#: Terms the programme page explains at its foot (beyond its measures' rule sets).
PAGE_TERMS = ("progress_score", "rule_set", "funnel_plot", "programme_average",
              "observed_expected", "funnel_limits", "overdispersion", "outlier",
              "small_multiples", "bright_spot_team", "change_taking_hold", "may_need_support",
              "change_idea_library", "spread", "signal_after_test", "change_that_held",
              "undecided", "learning_system_check", "health_rating", "needs_attention",
              *practice_views.PRACTICE_TERMS)  # fmt: skip


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


def learning_html(reflections: list, names: dict[int, str], kept: int = 0) -> str:
    """The reflections teams shared with the programme and flagged as a bright spot or as
    may-generalise (newest first, as :func:`~qiwidgets.workbook.shared_learning` gives them);
    ``kept``: how many flagged reflections their teams have not shared (counted, never shown)."""
    out = []
    items = []
    for r in reflections[:MAX_REFLECTIONS]:
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
    out.append("<h3>Reflections teams shared</h3>")
    out.append(f'<ul class="qi-shared-learning">{"".join(items)}</ul>' if items
               else "<p><em>No team has shared a reflection flagged as a bright spot or as "
                    "may-generalise yet.</em></p>")  # fmt: skip
    if kept:
        out.append(f'<p style="color:{views.MUTED}">{kept} more flagged '
                   f"{'reflection stays' if kept == 1 else 'reflections stay'} with "
                   f"{'its team' if kept == 1 else 'their teams'}: a team shares a reflection "
                   "when it is ready (learning in confidence).</p>")  # fmt: skip
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
        # learning in confidence: the page shows what teams shared; the rest is only counted
        every = repo.list_reflections(db, programme=self.prog.id)
        reflections = wb.shared_learning(every)
        kept = sum(1 for r in every if (r.bright_spot or r.generalisable) and not r.shared)
        month = f"{self.programme_status.month:%B %Y}"
        self.library = wb.library_from(self.programme_status)
        self.health = wb.programme_health(repo.list_health_checks(db, self.prog.id), teams,
                                          self.programme_status.month)  # fmt: skip
        self.summary = wb.programme_month_summary(self.programme_status, self.library,
                                                  self.health)  # fmt: skip
        head = widgets.HTML(
            f'<h2 style="margin:0.2em 0">{esc(self.prog.name)}</h2>'
            f'<p style="color:{views.MUTED}">{len(teams)} teams, as of {esc(month)}. This page is '
            "for learning across teams, not for ranking them: teams are listed by name. Click a "
            "team to open its dashboard.</p>" + views.month_summary(self.summary)
        )
        table = widgets.HTML(
            "<h3>Teams at a glance</h3>"
            f'<p style="font-size:90%;color:{views.MUTED}">'
            f"{esc(glossary.explain('progress_score'))} Each shared measure shows its verdict at "
            "the team's latest point, under the measure's own rule set and with the team's own "
            "phases and baselines: the same verdict as on the team's dashboard.</p>"
            + views.glance_table(self.programme_status, _team_cell)
        )
        parts = [head, self.status, *self._help(db), table]
        if self.outcome is not None:
            funnel_html, sm_html = outcome_charts(self.outcome, obs, code_names)
            parts.append(widgets.HTML(
                f"<h3>{esc(self.outcome.name)}: all teams, last {wb.FUNNEL_MONTHS} months</h3>"
                f'<p style="font-size:90%;color:{views.MUTED}">A {views.term("funnel_plot", "funnel plot")}: '
                "each dot is a team, named beside it; teams inside the funnel differ only by "
                f"common-cause variation. The line across is the "
                f"{views.term('programme_average', 'programme average')}.</p>" + funnel_html
            ))  # fmt: skip
            parts.append(widgets.HTML(
                f"<h3>{esc(self.outcome.name)}: each team over time "
                f"({views.term('small_multiples', 'small multiples')})</h3>" + sm_html
            ))  # fmt: skip
        self.stories = wb.bright_spot_stories(self.programme_status, self.library)
        parts.append(widgets.HTML(
            "<h3>Bright spots and learning to share</h3>"
            + views.bright_spots(self.programme_status, _team_cell)
            + "<h4>Each bright spot's story</h4>"
            + views.bright_spot_stories(self.stories, team_link, _evidence_card, heading="h5")
            + learning_html(reflections, id_names, kept)
        ))  # fmt: skip
        self.library_browser = ChangeIdeaBrowser(db, self.library)
        parts.append(widgets.HTML(
            f"<h3>{views.term('change_idea_library')}: what was tested, where, and what "
            "followed</h3><h4>What spread this month</h4>" + views.spread(self.library)
            + "<h4>Every change idea</h4>"
        ))  # fmt: skip
        parts.append(self.library_browser)
        self.health_browser = HealthBrowser(db, self.health)
        parts.append(widgets.HTML(
            "<h3>The learning system's health</h3>"
            f"<p style='font-size:90%;color:{views.MUTED}'>"
            f"{esc(glossary.explain('learning_system_check'))} "
            f"{esc(glossary.explain('health_rating'))} Checks are entered in the workbook "
            "(notebook 04).</p>"
        ))  # fmt: skip
        parts.append(self.health_browser)
        parts.append(widgets.HTML(practice_views.programme_practice(self.practice)))
        parts.append(widgets.HTML(
            "<h3>Teams that may need support</h3>" + views.support(self.programme_status, _team_cell)
        ))  # fmt: skip
        rule_sets = [m.rule_set for t in self.programme_status.teams for m in t.measures]
        parts.append(widgets.HTML("<h3>Words used on this page</h3>"
                                  + views.terms_note([*PAGE_TERMS, *rule_sets], "")))  # fmt: skip
        self.children = parts

    def _help(self, db: Any) -> list:
        """The teams' requests for help, open first, with a form to answer (issue M)."""
        from qiwidgets.widgets.practice import HelpInbox

        self.practice = programme_practice(db, programme_status=self.programme_status)
        self.help_inbox = HelpInbox(db, self.practice,
                                    team_cell=lambda t: team_link(t.code, t.name))  # fmt: skip
        n = len(self.practice.open_requests)
        waiting = f"{n} waiting for an answer" if n else "none waiting for an answer"
        title = views.term("help_request", "Teams asking for help")
        head = widgets.HTML(f'<h3 class="qi-help-heading">{title} ({esc(waiting)})</h3>')
        return [head, self.help_inbox]

    @property
    def rows(self) -> list:
        """The teams' statuses, by name (never ranked)."""
        return self.programme_status.teams


__all__ = ["ChangeIdeaBrowser", "HealthBrowser", "ProgrammeDashboard", "team_link"]
