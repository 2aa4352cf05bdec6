"""The monthly programme learning report, built from the teams' JSON summaries.

It rolls the team reports up (``docs/domain.md``): teams by progress score (the team's and the
lead's, shown as a distribution, not a ranking), the variation and assurance icons of every
shared measure per team, a funnel plot and small multiples of the shared outcome measure, bright
spots (teams with special-cause improvement) next to the reflections teams flagged as
generalisable, and teams that may need support. A learning tool: no league table, no
red/amber/green. Teams are listed by name throughout.

The team part comes from the JSON summaries the team reports wrote (never from their notebooks);
the funnel plot and small multiples read the shared outcome measure from the store.
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

from qiwidgets import __version__
from qiwidgets import workbook as wb
from qiwidgets.errors import ParameterError, QIError
from qiwidgets.reports.html import Raw, esc, table
from qiwidgets.reports.params import Month, parse_month
from qiwidgets.reports.team import SUMMARY_FILE, write_json_atomic
from qiwidgets.store import repo
from qiwidgets.store.models import PROGRESS_SCORES

__all__ = ["SECTIONS", "ProgrammeReport", "build", "load_summaries"]

SECTIONS = ("header", "scores", "icons", "outcome", "bright_spots", "support")
#: A gap this large between the team's and the lead's score is worth a conversation.
SCORE_GAP = 1.0


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


@dataclass
class ProgrammeReport:
    programme: Any
    month: Month
    teams: list  # store teams of the programme
    summaries: list[dict]
    shared: list  # shared measures
    outcome: Any = None  # the shared outcome measure charted across teams
    outcome_obs: pd.DataFrame | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def section(self, name: str) -> str:
        if name not in SECTIONS:
            raise ParameterError(f"`name` must be one of {', '.join(SECTIONS)}, got {name!r}.")
        return getattr(self, f"_section_{name}")()

    def html(self) -> str:
        return "\n".join(self.section(s) for s in SECTIONS)

    @property
    def missing_teams(self) -> list:
        have = {s["team"]["code"] for s in self.summaries}
        return [t for t in self.teams if t.code not in have]

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
        out.append(
            '<p class="qiw-explain">A learning tool, not performance management: teams are listed '
            "by name, there is no league table and no red/amber/green rating. Differences between "
            "teams are read with the funnel plot, which separates common-cause from special-cause "
            "variation.</p>"
        )
        return "".join(out)

    def _section_scores(self) -> str:
        out = [
            "<h2>Teams by progress score</h2>",
            ('<p class="qiw-explain">How many teams are at each level of the IHI assessment scale '
            "this month, as scored by the teams and by their programme lead.</p>"),
        ]
        levels = sorted(PROGRESS_SCORES, reverse=True)
        rows = []
        for level in levels:
            by_team = [s["team"]["name"] for s in self.summaries
                       if s["progress"]["team_score"] == level]  # fmt: skip
            by_lead = [s["team"]["name"] for s in self.summaries
                       if s["progress"]["lead_score"] == level]  # fmt: skip
            if by_team or by_lead:
                rows.append((f"{level:.1f} {PROGRESS_SCORES[level]}", "; ".join(by_team),
                             "; ".join(by_lead)))  # fmt: skip
        unscored = [s["team"]["name"] for s in self.summaries
                    if s["progress"]["team_score"] is None and s["progress"]["lead_score"] is None]  # fmt: skip
        if rows:
            out.append(table(["Level", "Scored by the team", "Scored by the lead"], rows))
        if unscored:
            out.append(f"<p>Not scored this month: {esc('; '.join(unscored))}.</p>")
        return "".join(out)

    def _section_icons(self) -> str:
        from qiwidgets import charts

        out = [
            "<h2>Shared measures: variation and assurance</h2>",
            ('<p class="qiw-explain">Making Data Count icons at each team\'s latest point: '
            "variation (common cause, or special cause improvement / concern) and assurance "
            "(will the target be met?).</p>"),
        ]
        codes = [m.code for m in self.shared]
        rows = []
        for s in self.summaries:
            by_code = {mm["code"]: mm for mm in s["measures"]}
            cells: list[Any] = [s["team"]["name"]]
            for code in codes:
                mm = by_code.get(code)
                if mm is None or not mm.get("variation_icon"):
                    cells.append("no chart")
                    continue
                icons = charts.variation_icon_svg(mm["variation_icon"], size=28)
                if mm.get("assurance_icon"):
                    icons += charts.assurance_icon_svg(mm["assurance_icon"], size=28)
                cells.append(Raw(f'<span class="qiw-icons">{icons}</span>'))
            rows.append(cells)
        out.append(table(["Team", *[m.name for m in self.shared]], rows))
        return "".join(out)

    def _section_outcome(self) -> str:
        from qiwidgets import charts

        m = self.outcome
        out = ["<h2>Shared outcome measure across teams</h2>"]
        if m is None or self.outcome_obs is None or self.outcome_obs.empty:
            out.append("<p>The programme has no shared outcome measure with data yet.</p>")
            return "".join(out)
        obs = self.outcome_obs
        start = pd.Timestamp(self.month.first_day) - pd.DateOffset(months=wb.FUNNEL_MONTHS - 1)
        names = {t.code: t.name for t in self.teams}
        out.append(f"<h3>{esc(m.name)}: funnel plot, last {wb.FUNNEL_MONTHS} months</h3>")
        result = wb.outcome_funnel(obs[obs["period"] >= start], m, names)
        if result is None:
            out.append("<p>A funnel plot needs a numerator and a denominator for every team.</p>")
        else:
            out.append('<div class="qiw-funnel">')
            out.append(charts.to_html(charts.funnel_chart_spec(result)))
            out.append("</div>")
        out.append(f"<h3>{esc(m.name)}: small multiples</h3>")
        sm = charts.small_multiples_spec(wb.outcome_small_multiples(obs, m, names), columns=4)
        out.append('<div class="qiw-small-multiples">')
        out.append(charts.to_html(sm, caption=""))
        out.append("</div>")
        return "".join(out)

    def bright_spots(self) -> list[dict]:
        """Teams with special-cause improvement at their latest point, or a sustained one."""
        return [s for s in self.summaries if s.get("improvement") or s.get("sustained")]

    def _section_bright_spots(self) -> str:
        out = [
            "<h2>Bright spots and learning to share</h2>",
            ('<p class="qiw-explain">Bright spots are teams whose charts show special-cause '
            "improvement; their learning may generalise. Shown next to the reflections teams "
            "flagged as generalisable.</p>"),
        ]
        names = {m.code: m.name for m in self.shared}
        rows = []
        spots = self.bright_spots()
        for s in spots:
            own = {mm["code"]: mm["name"] for mm in s["measures"]}
            measures = [names.get(c) or own.get(c, c) for c in s["improvement"]]
            measures += [
                f"{names.get(c) or own.get(c, c)} ({why})"
                for c, why in s.get("sustained", {}).items() if c not in s["improvement"]
            ]  # fmt: skip
            learning = s.get("generalisable") or [
                r for r in s["reflections"] if r.get("generalisable")
            ]
            text = "".join(
                f"<p>{esc(r.get('date', ''))}: {esc(r.get('what_happened'))}"
                + (f" <em>What worked:</em> {esc(r['what_worked'])}" if r.get("what_worked") else "")
                + "</p>"
                for r in learning
            ) or "<p>No reflection flagged as generalisable yet.</p>"
            rows.append((s["team"]["name"], "; ".join(measures), Raw(text)))
        if rows:
            out.append(table(["Team", "Special-cause improvement on", "Generalisable learning"],
                             rows))  # fmt: skip
        else:
            out.append("<p>No team shows special-cause improvement this month.</p>")
        others = [
            (s["team"]["name"], r) for s in self.summaries if s not in spots
            for r in s["reflections"] if r.get("generalisable")
        ]  # fmt: skip
        if others:
            out.append("<p>More learning flagged as generalisable:</p><ul>")
            out.extend(f"<li>{esc(name)}: {esc(r.get('what_happened'))}</li>" for name, r in others)
            out.append("</ul>")
        return "".join(out)

    def support(self) -> list[tuple[str, list[str]]]:
        """Teams that may need support, with the reasons (plain sentences)."""
        out = []
        for s in self.summaries:
            reasons = []
            if s.get("concern"):
                names = [mm["name"] for mm in s["measures"] if mm["code"] in s["concern"]]
                reasons.append("special-cause concern on " + ", ".join(names))
            if s.get("help_needed"):
                reasons.append("asked for help: " + " / ".join(s["help_needed"]))
            c = s["completeness"]
            if c["with_value"] < c["measures"]:
                reasons.append(f"{c['measures'] - c['with_value']} measures without data this month")
            pdsa = s["pdsa"]
            improving = s.get("improvement") or s.get("sustained")
            if not improving and pdsa["started"] == pdsa["finished"] == pdsa["planned"] == 0:
                reasons.append("no PDSA cycle started, finished or planned, and no improvement yet")
            ts, ls = s["progress"]["team_score"], s["progress"]["lead_score"]
            if ts is not None and ls is not None and abs(ts - ls) >= SCORE_GAP:
                reasons.append(f"the team ({ts:.1f}) and the lead ({ls:.1f}) see progress differently")
            if reasons:
                out.append((s["team"]["name"], reasons))
        for t in self.missing_teams:
            out.append((t.name, ["no report could be built this month"]))
        return out

    def _section_support(self) -> str:
        out = [
            "<h2>Teams that may need support</h2>",
            '<p class="qiw-explain">Prompts for a conversation, not ratings.</p>',
        ]
        rows = self.support()
        if rows:
            out.append(table(["Team", "Why a conversation may help"],
                             [(name, "; ".join(r)) for name, r in rows]))  # fmt: skip
        else:
            out.append("<p>No team shows a reason for extra support this month.</p>")
        return "".join(out)

    def summary(self) -> dict:
        return {
            "schema": 1,
            "kind": "programme",
            "month": str(self.month),
            "programme": {"code": self.programme.code, "name": self.programme.name},
            "teams": [s["team"]["code"] for s in self.summaries],
            "missing_teams": [t.code for t in self.missing_teams],
            "bright_spots": [s["team"]["code"] for s in self.bright_spots()],
            "support": [name for name, _ in self.support()],
            "errors": dict(self.errors),
            "build": {"qiwidgets": __version__, "python": sys.executable},
        }

    def write_summary(self, output_dir: str | os.PathLike) -> Path:
        return write_json_atomic(Path(output_dir) / SUMMARY_FILE, self.summary())


def build(
    database_url: str, month: str, summaries_dir: str, programme: str | None = None
) -> ProgrammeReport:
    """Read the team summaries and the shared outcome measure for the programme report."""
    m = parse_month(month)
    prog = repo.get_programme(database_url, programme)
    teams = sorted(repo.list_teams(database_url, prog.id), key=lambda t: (natural_key(t.name), t.code))
    summaries = load_summaries(summaries_dir, m, prog.code)
    shared = repo.list_measures(database_url, None, prog.id)
    report = ProgrammeReport(programme=prog, month=m, teams=teams, summaries=summaries,
                             shared=shared)  # fmt: skip
    outcomes = [x for x in shared if x.measure_type == "outcome"]
    if outcomes:
        report.outcome = outcomes[0]
        try:
            report.outcome_obs = repo.observations(
                database_url, measure=outcomes[0].id, programme=prog.id, end=m.last_day
            )
        except QIError as exc:
            report.errors[outcomes[0].name] = str(exc)
    return report
