"""The monthly programme learning report.

It opens with the month in one paragraph, then rolls the team reports up (``docs/domain.md``):
teams by progress score (the team's and the lead's, shown as a distribution, not a ranking), the
verdict of every shared measure per team, a funnel plot and small multiples of the shared
outcome measure, bright spots with their story next to the reflections teams shared with the
programme as may-generalise, what spread this month, the learning system's health, teams that
may need support, the change-idea library and the words it uses. A learning tool: no league
table, no red/amber/green. Teams are listed by name throughout.

Every verdict, the bright spots and the teams that may need support come from the core's
:class:`~qiwidgets.workbook.status.ProgrammeStatus`, the same as on the programme dashboard;
the team reports' JSON summaries only say which team reports were built this month.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from qiwidgets import __version__, glossary, practice_views, views
from qiwidgets import workbook as wb
from qiwidgets.errors import QIError
from qiwidgets.glossary import HEALTH_COMPONENTS
from qiwidgets.reports.html import Sections, esc, table
from qiwidgets.reports.params import Month, parse_month
from qiwidgets.reports.team import SUMMARY_FILE, write_json_atomic
from qiwidgets.store import repo
from qiwidgets.store.models import PROGRESS_SCORES
from qiwidgets.workbook import practice as wb_practice
from qiwidgets.workbook.learning import ChangeIdeaLibrary, ProgrammeHealth
from qiwidgets.workbook.status import ProgrammeStatus

__all__ = ["REPORT_TERMS", "SECTIONS", "ProgrammeReport", "build", "load_summaries"]

SECTIONS = ("header", "summary", "help", "scores", "icons", "outcome", "bright_spots", "spread",
            "health", "practice", "support", "library", "words")
#: Terms the programme report explains in its last section (beyond its measures' own).
REPORT_TERMS = ("progress_score", "rule_set", "common_cause", "special_cause_improvement",
                "special_cause_concern", "consistent_pass", "consistent_fail", "inconsistent",
                "funnel_plot", "programme_average", "observed_expected", "funnel_limits",
                "overdispersion", "outlier", "small_multiples", "bright_spot_team",
                "change_taking_hold", "may_need_support", "change_idea_library", "spread",
                "signal_after_test", "change_that_held", "prediction", "study_result", "adopt",
                "adapt", "abandon", "undecided", "generalisable", "learning_system_check",
                "health_rating", "needs_attention", *HEALTH_COMPONENTS,
                *practice_views.PRACTICE_TERMS)  # fmt: skip


def load_summaries(folder: str | os.PathLike, month: Month, programme: str | None) -> list[dict]:
    """The team summaries of ``month`` in ``folder`` (one JSON file per team)."""
    out = []
    folder = Path(folder)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("kind") != "team" or data.get("month") != str(month):
            continue
        if programme is not None and data.get("programme", {}).get("code") != programme:
            continue
        out.append(data)
    return sorted(out, key=lambda s: (natural_key(s["team"]["name"]), s["team"]["code"]))


def natural_key(text: str) -> tuple:
    """Sort 'Ward 2' before 'Ward 10' (names, never scores, order every list)."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", text))


def _name_cell(team_status: Any) -> str:
    return esc(team_status.name)


@dataclass
class ProgrammeReport(Sections):
    SECTIONS = SECTIONS

    programme: Any
    month: Month
    status: ProgrammeStatus  # the core's verdicts for every team of the programme
    summaries: list[dict]  # the team reports built this month
    teams: list = field(default_factory=list)  # every team of the programme, by name
    batch_teams: list[str] | None = None  # the team codes of this batch (None: every team)
    outcome_obs: pd.DataFrame | None = None
    errors: dict[str, str] = field(default_factory=dict)
    health: ProgrammeHealth | None = None  # the learning-system checks up to the month
    practice: Any = None  # help, coaches, the pulse across teams, learning levels (issue M)
    _library: ChangeIdeaLibrary | None = field(default=None, repr=False)

    @property
    def shared(self) -> list:
        return self.status.shared

    @property
    def outcome(self) -> Any:
        return self.status.outcome

    @property
    def library(self) -> ChangeIdeaLibrary:
        """The change-idea library as of the month (:func:`qiwidgets.workbook.library_from`)."""
        if self._library is None:
            self._library = wb.library_from(self.status)
        return self._library

    def month_summary(self):
        """The month in one paragraph (:func:`qiwidgets.workbook.programme_month_summary`)."""
        return wb.programme_month_summary(self.status, self.library, self.health)

    @property
    def missing_teams(self) -> list:
        """Teams of this batch whose report could not be built."""
        have = {s["team"]["code"] for s in self.summaries}
        return [t for t in self.teams if t.code not in have and self._in_batch(t)]

    @property
    def left_out(self) -> list:
        """Teams left out of this batch on purpose (``--team``), with no report this month."""
        have = {s["team"]["code"] for s in self.summaries}
        return [t for t in self.teams if t.code not in have and not self._in_batch(t)]

    def _in_batch(self, team: Any) -> bool:
        return self.batch_teams is None or team.code in self.batch_teams

    # --- sections -----------------------------------------------------------------------------

    def _section_header(self) -> str:
        p = self.programme
        n, total = len(self.summaries), len(self.teams)
        out = [
            f"<h1>{esc(p.name)}: programme learning report, {esc(self.month.label())}</h1>",
            f'<p class="qiw-meta">{n} of {total} team reports this month.</p>',
        ]
        if p.shared_aim:
            out.append(f'<p class="qiw-note"><strong>Programme aim:</strong> {esc(p.shared_aim)}</p>')
        if self.missing_teams:
            names = ", ".join(esc(t.name) for t in self.missing_teams)
            out.append(f"<p>No report could be built this month for: {names}.</p>")
        if self.left_out:
            names = ", ".join(esc(t.name) for t in self.left_out)
            out.append(f"<p>Not in this batch of team reports (left out on purpose): {names}. "
                       "Their measures are still shown below, from the store.</p>")  # fmt: skip
        out.append(
            '<p class="qiw-explain">A learning tool, not performance management: teams are listed '
            "by name, there is no league table and no red/amber/green rating. Differences between "
            "teams are read with the funnel plot, which separates common-cause from special-cause "
            "variation.</p>"
        )
        return "".join(out)

    def _section_summary(self) -> str:
        return views.month_summary(self.month_summary())

    def _section_scores(self) -> str:
        out = [
            "<h2>Teams by progress score</h2>",
            ('<p class="qiw-explain">How many teams are at each level of the IHI assessment scale '
            "this month, as scored by the teams and by their programme lead.</p>"),
        ]
        levels = sorted(PROGRESS_SCORES, reverse=True)
        rows = []
        scored = [(t.name, t.score) for t in self.status.teams]
        for level in levels:
            by_team = [n for n, sc in scored if sc is not None and sc.team_score == level]
            by_lead = [n for n, sc in scored if sc is not None and sc.lead_score == level]
            if by_team or by_lead:
                rows.append((f"{level:.1f} {PROGRESS_SCORES[level]}", "; ".join(by_team),
                             "; ".join(by_lead)))  # fmt: skip
        unscored = [n for n, sc in scored if sc is None
                    or (sc.team_score is None and sc.lead_score is None)]  # fmt: skip
        if rows:
            out.append(table(["Level", "Scored by the team", "Scored by the lead"], rows))
        if unscored:
            out.append(f"<p>Not scored this month: {esc('; '.join(unscored))}.</p>")
        return "".join(out)

    def _section_icons(self) -> str:
        out = [
            "<h2>Shared measures: variation and assurance</h2>",
            ('<p class="qiw-explain">Each shared measure\'s verdict at the team\'s latest point, '
            "under the measure's own rule set and with the team's own phases and baselines "
            "applied: variation (common cause, or special cause improvement / concern) and "
            "assurance (will the target be met?).</p>"),
            views.glance_table(self.status, _name_cell),
        ]
        return "".join(out)

    def _section_outcome(self) -> str:
        from qiwidgets import charts

        m = self.outcome
        out = ["<h2>Shared outcome measure across teams</h2>"]
        if m is None or self.outcome_obs is None or self.outcome_obs.empty:
            out.append("<p>The programme has no shared outcome measure with data yet.</p>")
            return "".join(out)
        obs = self.outcome_obs
        names = {t.code: t.name for t in self.teams}
        out.append(f"<h3>{esc(m.name)}: {views.term('funnel_plot', 'funnel plot')}, last "
                   f"{wb.FUNNEL_MONTHS} months</h3>")
        out.append(f'<p class="qiw-explain">{esc(glossary.explain("funnel_plot"))} '
                   f'{esc(glossary.explain("programme_average"))}</p>')  # fmt: skip
        result = self.outcome_funnel()
        if result is None:
            out.append("<p>A funnel plot needs a numerator and a denominator for every team.</p>")
        else:
            out.append('<div class="qiw-funnel">')
            out.append(charts.to_html(charts.funnel_chart_spec(result)))
            out.append("</div>")
        out.append(f"<h3>{esc(m.name)}: {views.term('small_multiples', 'small multiples')}</h3>")
        sm = charts.small_multiples_spec(wb.outcome_small_multiples(obs, m, names), columns=4)
        out.append('<div class="qiw-small-multiples">')
        out.append(charts.to_html(sm, caption=""))
        out.append("</div>")
        return "".join(out)

    def outcome_funnel(self) -> Any:
        """The funnel plot of the shared outcome measure over the last
        :data:`~qiwidgets.workbook.FUNNEL_MONTHS` months
        (:func:`qiwidgets.workbook.outcome_funnel`), or None without one (no outcome measure,
        no data, or no numerator and denominator). The report and its slides show this one."""
        m, obs = self.outcome, self.outcome_obs
        if m is None or obs is None or obs.empty:
            return None
        start = pd.Timestamp(self.month.first_day) - pd.DateOffset(months=wb.FUNNEL_MONTHS - 1)
        names = {t.code: t.name for t in self.teams}
        return wb.outcome_funnel(obs[obs["period"] >= start], m, names)

    def bright_spots(self) -> list:
        """The bright spots (:data:`~qiwidgets.workbook.status.BRIGHT_SPOT_RULE`)."""
        return self.status.bright_spots()

    def _section_bright_spots(self) -> str:
        from qiwidgets.reports.team import measure_chart_html

        out = [
            "<h2>Bright spots and learning to share</h2>",
            views.bright_spots(self.status, _name_cell),
            "<h3>Each bright spot's story</h3>",
            ('<p class="qiw-explain">The evidence (the chart, as the team\'s report shows it), the '
             "change ideas behind it and the reflections the team chose to share.</p>"),
            views.bright_spot_stories(wb.bright_spot_stories(self.status, self.library),
                                      chart=measure_chart_html, heading="h4"),
        ]
        learning = []
        end = self.month.last_day
        for t in self.status.teams:
            # what the team shared with the programme (its other reflections stay with it)
            flagged = wb.shared_learning(t.records.reflections, end, flags=("generalisable",))
            for r in reversed(flagged[:3]):
                text = f"{r.date:%d %b %Y}: {r.what_happened or ''}"
                if r.what_worked:
                    text += f" What worked: {r.what_worked}"
                learning.append((t.name, text))
        if learning:
            out.append("<h3>Learning teams shared as may-generalise</h3>")
            out.append(table(["Team", "What they learned"], learning))
        else:
            out.append("<p>No team has shared a reflection flagged as may-generalise yet.</p>")
        return "".join(out)

    def _section_spread(self) -> str:
        return ("<h2>What spread this month</h2>"
                '<p class="qiw-explain">Change ideas a team tested for the first time, tests '
                "started or decided, and signals or changes that held on a tested measure, in "
                f"{esc(self.month.label())}. The whole {views.term('change_idea_library')} is "
                "at the end of this report.</p>" + views.spread(self.library))  # fmt: skip

    def _section_library(self) -> str:
        return ("<h2>Change-idea library: what was tested, where, and what followed</h2>"
                '<p class="qiw-explain">Every change idea the teams tested, matched across teams '
                "by its name (case, spaces and punctuation aside): the teams, each PDSA cycle's "
                "prediction, result and decision, and what followed on the measures it watches."
                "</p>" + views.change_idea_library(self.library, heading="h3"))  # fmt: skip

    def _section_health(self) -> str:
        out = ["<h2>The learning system's health</h2>",
               (f'<p class="qiw-explain">{esc(glossary.explain("learning_system_check"))} '
                f'{esc(glossary.explain("health_rating"))}</p>')]  # fmt: skip
        if self.health is None:
            out.append("<p>The learning-system checks could not be read.</p>")
            return "".join(out)
        out.append("<h3>The programme's check</h3>")
        out.append(views.health_view(self.health.programme))
        out.append("<h3>The teams' checks</h3>")
        out.append(views.health_overview(self.health))
        for v in self.health.teams:
            out.append(f"<h4>{esc(v.name)}</h4>")
            out.append(views.health_view(v, history=False))
        return "".join(out)

    def _section_help(self) -> str:
        """The teams' requests for help: open ones first, then the month's answered ones."""
        p, month = self.practice, self.month
        shown = [r for r in p.help_requests if r.status == "open"
                 or month.first_day <= r.raised_on <= month.last_day]  # fmt: skip
        return (f"<h2>{views.term('help_request', 'Teams asking for help')}</h2>"
                + practice_views.help_requests(shown, p.names, team_cell=lambda t: esc(t.name),
                                               empty="No team is waiting for help, and none "
                                                     "asked this month."))  # fmt: skip

    def _section_practice(self) -> str:
        """The pulse across teams, how learning levels move, suggestions to question a theory,
        and who coaches each team."""
        return ("<h2>Learning practice across teams</h2>"
                + practice_views.programme_practice(self.practice))

    def terms(self) -> list[str]:
        """The glossary terms this report shows."""
        keys = [*REPORT_TERMS, *(m.rule_set for t in self.status.teams for m in t.measures)]
        return list(dict.fromkeys(keys))

    def _section_words(self) -> str:
        from qiwidgets.charts.icons import icon_key_html

        return (
            "<h2>Words used in this report</h2>"
            + views.terms_note(self.terms(), "")
            + icon_key_html()
        )

    def support(self) -> list[tuple[str, list[str]]]:
        """Teams that may need support (:data:`~qiwidgets.workbook.status.SUPPORT_RULE`),
        and teams whose report could not be built."""
        out = [(t.name, reasons) for t, reasons in self.status.support()]
        for t in self.missing_teams:
            out.append((t.name, ["no report could be built this month"]))
        return out

    def _section_support(self) -> str:
        out = ["<h2>Teams that may need support</h2>", views.support(self.status, _name_cell)]
        if self.missing_teams:
            names = ", ".join(esc(t.name) for t in self.missing_teams)
            out.append(f"<p>No report could be built this month for: {names}.</p>")
        return "".join(out)

    def summary(self) -> dict:
        return {
            "schema": 1,
            "kind": "programme",
            "month": str(self.month),
            "programme": {"code": self.programme.code, "name": self.programme.name},
            "teams": [s["team"]["code"] for s in self.summaries],
            "missing_teams": [t.code for t in self.missing_teams],
            "left_out": [t.code for t in self.left_out],
            "bright_spots": [b.team_code for b in self.bright_spots()],
            "support": [name for name, _ in self.support()],
            "month_summary": dict(self.month_summary().parts),
            "spread": [item.idea.name for item in self.library.spread()],
            "change_ideas": {i.name: {"teams": list(i.teams), **i.decision_counts()}
                             for i in self.library.ideas},
            "help_open": len(self.practice.open_requests) if self.practice else None,
            "pulse_months_shown": ([f"{r.month:%Y-%m}" for r in self.practice.pulse.shown_rows]
                                   if self.practice else []),
            "health_attention": (None if self.health is None or self.health.programme.attention
                                 is None else self.health.programme.attention.component),
            "errors": dict(self.errors),
            "build": {"qiwidgets": __version__, "python": sys.executable},
        }

    def write_summary(self, output_dir: str | os.PathLike) -> Path:
        return write_json_atomic(Path(output_dir) / SUMMARY_FILE, self.summary())


def build(
    database_url: str, month: str, summaries_dir: str, programme: str | None = None,
    batch_teams: list[str] | None = None,
) -> ProgrammeReport:
    """The programme's month from the store (:func:`qiwidgets.workbook.programme_status`) and
    the list of team reports built (``summaries_dir``)."""
    m = parse_month(month)
    prog = repo.get_programme(database_url, programme)
    summaries = load_summaries(summaries_dir, m, prog.code)
    status = wb.programme_status(database_url, prog.id, m.first_day)
    status.teams.sort(key=lambda t: (natural_key(t.name), t.code))
    teams = sorted(repo.list_teams(database_url, prog.id),
                   key=lambda t: (natural_key(t.name), t.code))  # fmt: skip
    report = ProgrammeReport(programme=prog, month=m, status=status, summaries=summaries,
                             teams=teams, batch_teams=batch_teams)  # fmt: skip
    try:
        report.health = wb.programme_health(repo.list_health_checks(database_url, prog.id),
                                            teams, m.first_day)  # fmt: skip
    except QIError as exc:
        report.errors["learning-system checks"] = str(exc)
    report.practice = wb_practice.programme_practice(database_url, month=m.first_day,
                                                     programme_status=status)
    if report.outcome is not None:
        try:
            report.outcome_obs = repo.observations(
                database_url, measure=report.outcome.id, programme=prog.id, end=m.last_day
            )
        except QIError as exc:
            report.errors[report.outcome.name] = str(exc)
    return report
