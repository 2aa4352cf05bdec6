"""The monthly team learning report: sections as HTML fragments, and the JSON summary.

What a report contains follows "The monthly team learning report" in ``docs/domain.md``:
header (data cut-off, completeness), aim, progress scores with history, every measure of the
family (chart with its rule set, latest value against target, icons, signals new this month,
annotations and PDSA markers, the reading), PDSA activity (predictions against results),
reflections and learning levels, help needed and next steps, and data-quality notes.

The report notebook (``pipelines/team_report.ipynb``) calls :func:`build` once and displays one
section per cell; :meth:`TeamReport.write_summary` writes the JSON the programme report is built
from. Every user text is escaped.

>>> report = build("qiwidgets.db", "T01", "2026-10")   # doctest: +SKIP
>>> html = report.section("measures")                  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from qiwidgets import __version__, practice_views, views
from qiwidgets.reports.data import TeamData, gather_team
from qiwidgets.reports.html import Sections, esc, table
from qiwidgets.reports.params import Month, parse_month
from qiwidgets.store.models import PROGRESS_SCORES
from qiwidgets.workbook.practice import team_practice
from qiwidgets.workbook.status import MeasureStatus, TeamRecords, TeamStatus, team_status_from

__all__ = ["SECTIONS", "SUMMARY_SCHEMA", "TeamReport", "build", "measure_chart_html",
           "measure_chart_spec", "write_json_atomic"]

#: Sections in the order a report shows them.
SECTIONS = ("header", "summary", "aim", "people", "progress", "measures", "pdsa", "reflections",
            "practice", "next", "quality", "words")
#: Version of the JSON summary layout.
SUMMARY_SCHEMA = 1
#: File name of a team's summary inside the notebook's output folder.
SUMMARY_FILE = "summary.json"

LEVELS = {
    "single_loop": ("Single-loop", "we corrected how we do the work"),
    "double_loop": ("Double-loop", "we questioned an assumption and changed our theory"),
    "deutero": ("Deutero-learning", "we learned about how we learn, and shared it"),
}
MEASURE_TYPE_LABEL = {"outcome": "Outcome", "process": "Process", "balancing": "Balancing"}
ANNOTATION_LABEL = {
    "pdsa_start": "PDSA start", "pdsa_end": "PDSA end", "event": "Event", "rebase": "Rebase",
    "baseline": "Baseline", "phase": "New phase", "exclude": "Excluded point",
}  # fmt: skip


def _score_text(score: float | None) -> str:
    if score is None:
        return "not scored"
    return f"{score:.1f} {PROGRESS_SCORES.get(float(score), '')}".strip()


def measure_chart_spec(status: MeasureStatus) -> dict | None:
    """A measure's chart as the report draws it (a Vega-Lite dict), or None when there are
    fewer than two points; the slides of ``--pptx`` draw the same spec."""
    from qiwidgets import charts  # vl-convert, only when charts are drawn

    if status.result is None or len(status.result.points) < 2:
        return None
    return charts.spc_chart_spec(status.result, annotations=list(status.chart_rows) or None,
                                 title=status.measure_name, reading=status.reading)  # fmt: skip


def measure_chart_html(status: MeasureStatus) -> str:
    """A measure's chart as the report prints it (inline SVG, the reading as its caption), or
    ``""`` when there are fewer than two points."""
    from qiwidgets import charts  # altair + vl-convert, only when charts are drawn

    spec = measure_chart_spec(status)
    return "" if spec is None else charts.to_html(spec, caption="")


#: Terms every team report uses (explained in its last section).
REPORT_TERMS = ("family_of_measures", "rule_set", "signal", "common_cause", "special_cause",
                "centre_line", "control_limits", "pdsa", "prediction", "adopt", "adapt",
                "abandon", "progress_score", "bright_spot", "generalisable")  # fmt: skip


def _in_month(d: dt.date | None, month: Month) -> bool:
    return d is not None and month.first_day <= d <= month.last_day


@dataclass
class TeamReport(Sections):
    """A team's month: the data, each measure's status, and the sections built from them."""

    SECTIONS = SECTIONS

    data: TeamData
    status: TeamStatus
    errors: dict[str, str] = field(default_factory=dict)
    #: the team's learning practice (issue M), never its safety pulse: a lead reads this report
    practice: Any = None

    @property
    def measures(self) -> list[MeasureStatus]:
        """Each measure's status at the report month (the core's verdict)."""
        return self.status.measures

    # --- helpers ----------------------------------------------------------------------------

    @property
    def month(self) -> Month:
        return self.data.month



    def completeness(self) -> dict:
        return self.status.completeness()

    def _month_reflections(self):
        return [r for r in self.data.reflections if _in_month(r.date, self.month)]

    def _pdsa_started(self):
        return [c for c in self.data.pdsa if _in_month(c.do_start, self.month)]

    def _pdsa_finished(self):
        return [
            c for c in self.data.pdsa
            if _in_month(c.act_date, self.month)
            or (c.act_date is None and _in_month(c.study_date, self.month))
        ]  # fmt: skip

    def _pdsa_next(self):
        end = self.month.last_day
        return [
            c for c in self.data.pdsa
            if (c.do_start is None or c.do_start > end) and c.act is None
        ]  # fmt: skip

    # --- sections -----------------------------------------------------------------------------

    def _section_header(self) -> str:
        d = self.data
        c = self.completeness()
        cutoff = f"{d.cutoff:%d %b %Y %H:%M} UTC" if d.cutoff else "no data recorded"
        missing = (
            " Missing this month: " + ", ".join(esc(self._name(code)) for code in c["missing"]) + "."
            if c["missing"]
            else ""
        )
        org = f", {esc(d.team.organisation)}" if d.team.organisation else ""
        return (
            '<header class="qiw-header">'
            f"<h1>{esc(d.team.name)}: monthly learning report, {esc(self.month.label())}</h1>"
            f'<p class="qiw-meta">Team {esc(d.team.code)}{org} · Programme: '
            f"{esc(d.programme.name)}</p>"
            '<table class="qiw"><tbody>'
            f"<tr><th>Month</th><td>{esc(self.month.label())}</td></tr>"
            f"<tr><th>Data cut-off</th><td>{esc(cutoff)} (the last change to this team's "
            f"records up to {esc(f'{self.month.last_day:%d %b %Y}')})</td></tr>"
            f"<tr><th>Data completeness</th><td>{c['with_value']} of {c['measures']} measures "
            f"have a value for {esc(self.month.label())} ({c['percent']}%).{missing}</td></tr>"
            "</tbody></table>"
            '<p class="qiw-explain">A learning report, not a performance rating: it shows what '
            "the team tested, what the data say and what the team learned.</p></header>"
        )

    def month_summary(self):
        """The month in one paragraph (:func:`qiwidgets.workbook.team_month_summary`)."""
        from qiwidgets.workbook.learning import team_month_summary

        return team_month_summary(self.status)

    def _section_summary(self) -> str:
        return views.month_summary(self.month_summary())

    def terms(self) -> list[str]:
        """The glossary terms this report shows: its measures' kinds, rule sets, chart types
        and verdicts, and the words every report uses."""
        keys = [*REPORT_TERMS]
        for mm in self.measures:
            keys += [mm.measure_type, mm.rule_set, mm.variation]
            if mm.view is not None:
                keys.append(mm.view.chart)
            if mm.sustained:
                keys.append("sustained_improvement")
            if mm.rebase is not None:
                keys.append("recalculate_limits")
        keys += [r.learning_level for r in self.data.reflections if r.learning_level]
        keys += ["team_role", "help_request", "shared_pdsa", "deeper_learning_prompt",
                 *(x.team_role for x in self.practice.members if x.team_role)]
        return [k for k in dict.fromkeys(keys) if k]

    def _section_words(self) -> str:
        from qiwidgets.charts.icons import icon_key_html

        return (
            "<h2>Words used in this report</h2>"
            + views.terms_note(self.terms(), "")
            + icon_key_html()
        )

    def _name(self, code: str) -> str:
        return next((mm.measure_name for mm in self.measures if mm.measure_code == code), code)

    def _section_aim(self) -> str:
        d = self.data
        out = ["<h2>Aim</h2>"]
        if d.aim is None:
            out.append("<p>No aim statement has been recorded yet.</p>")
        else:
            a = d.aim
            parts = [esc(a.what)]
            if a.for_whom:
                parts.append(f"for {esc(a.for_whom)}")
            if a.how_much:
                parts.append(esc(a.how_much))
            if a.by_when:
                parts.append(f"by {esc(f'{a.by_when:%d %B %Y}')}")
            out.append(f'<p class="qiw-note"><strong>{" ".join(parts)}</strong></p>')
            if a.outcome_measures:
                names = ", ".join(esc(x.name) for x in a.outcome_measures)
                out.append(f"<p>Outcome measures tied to the aim: {names}.</p>")
        if d.programme.shared_aim:
            out.append(f'<p class="qiw-meta">Programme aim: {esc(d.programme.shared_aim)}</p>')
        return "".join(out)

    def _section_progress(self) -> str:
        scores = sorted(self.data.scores, key=lambda s: s.month, reverse=True)
        out = [
            "<h2>Progress score</h2>",
            ('<p class="qiw-explain">The IHI assessment scale, 0.5 (intent to participate) to 5.0 '
            "(outstanding sustainable results), scored by the team and by its programme lead.</p>"),
        ]
        if not scores:
            out.append("<p>No progress score has been recorded yet.</p>")
            return "".join(out)
        latest = scores[0]
        if latest.month != self.month.first_day:
            out.append(
                f"<p>No score for {esc(self.month.label())} yet; the latest is from "
                f"{esc(f'{latest.month:%B %Y}')}.</p>"
            )
        rows = [
            (f"{s.month:%b %Y}", _score_text(s.team_score), _score_text(s.lead_score),
             s.justification or "")
            for s in scores[:12]
        ]  # fmt: skip
        out.append(table(["Month", "Team's score", "Lead's score", "Justification"], rows))
        return "".join(out)

    def _section_measures(self) -> str:
        out = [
            "<h2>Measures</h2>",
            ('<p class="qiw-explain">Each chart names its rule set. A signal (special-cause '
            "variation) says something changed; without one, the variation is common cause and "
            "single points should not be chased.</p>"),
        ]
        for mm in self.measures:
            chart = measure_chart_html(mm)
            rows = [(f"{r['date']:%d %b %Y}", ANNOTATION_LABEL.get(r["kind"], r["kind"]), r["text"])
                    for r in mm.chart_rows]  # fmt: skip
            extra = ("<p>Annotations and PDSA markers:</p>"
                     + table(["Date", "Kind", "Note"], rows)) if rows else ""  # fmt: skip
            out.append(views.measure_card(mm, chart, extra=extra, css_class="qiw-measure"))
        if not self.measures:
            out.append("<p>No measures are defined for this team yet.</p>")
        return "".join(out)

    def _section_pdsa(self) -> str:
        started, finished = self._pdsa_started(), self._pdsa_finished()
        out = ["<h2>PDSA activity</h2>"]
        out.append(
            f"<p>{len(started)} cycle{'s' if len(started) != 1 else ''} started and "
            f"{len(finished)} finished in {esc(self.month.label())}.</p>"
        )
        cycles = {c.id: c for c in started + finished}
        if cycles:
            rows = []
            for c in sorted(cycles.values(), key=lambda c: (self._idea(c), c.id)):
                status = []
                if c in started:
                    status.append(f"started {c.do_start:%d %b}")
                if c in finished:
                    status.append("finished")
                rows.append((
                    self._idea(c), c.title, "; ".join(status), c.prediction or "—",
                    c.study_result or "not studied yet", (c.act or "—").capitalize(),
                ))  # fmt: skip
            out.append(
                table(
                    ["Change idea", "Cycle", "This month", "Prediction", "Result", "Act"], rows
                )
            )
            learned = [c for c in finished if c.study_result]
            if learned:
                items = "".join(
                    f"<li><strong>{esc(c.title)}</strong>: predicted “{esc(c.prediction or '—')}”, "
                    f"found “{esc(c.study_result)}” → {esc(c.act or 'no decision yet')}</li>"
                    for c in learned
                )
                out.append(f"<p>Predictions against results:</p><ul>{items}</ul>")
        ongoing = [
            c for c in self.data.pdsa
            if c.do_start is not None and c.do_start < self.month.first_day and c.act is None
        ]  # fmt: skip
        if ongoing:
            names = ", ".join(esc(c.title) for c in ongoing)
            out.append(f"<p>Still running from earlier months: {names}.</p>")
        return "".join(out)

    def _idea(self, cycle) -> str:
        return cycle.change_idea.text if cycle.change_idea is not None else "(no change idea)"

    def _section_reflections(self) -> str:
        refl = self._month_reflections()
        out = ["<h2>Reflections</h2>"]
        if not refl:
            if self.data.reflections:
                latest = self.data.reflections[-1]
                out.append(
                    f"<p>No reflection recorded in {esc(self.month.label())}. The latest, from "
                    f"{esc(f'{latest.date:%d %b %Y}')}:</p>"
                )
                refl = [latest]
            else:
                out.append("<p>No reflection has been recorded yet.</p>")
                return "".join(out)
        for r in refl:
            out.append('<div class="qiw-reflection">')
            head = f"{r.date:%d %b %Y}"
            if r.authors:
                head += f" — {r.authors}"
            out.append(f"<h3>{esc(head)}</h3>")
            for label, value in (
                ("What happened", r.what_happened),
                ("What worked well", r.what_worked),
                ("What worked less well", r.what_did_not),
                ("What should be different", r.what_should_change),
                ("Story", r.story),
            ):
                if value:
                    out.append(f"<p><strong>{label}:</strong> {esc(value)}</p>")
            tags = []
            if r.learning_level in LEVELS:
                name, meaning = LEVELS[r.learning_level]
                tags.append(f"Level of learning: {name} ({meaning})")
            if r.bright_spot:
                tags.append("Bright spot")
            if r.generalisable:
                tags.append("May be generalisable to other teams")
            if tags:
                out.append(f'<p class="qiw-meta">{esc(" · ".join(tags))}</p>')
            out.append("</div>")
        return "".join(out)

    def _section_people(self) -> str:
        return "<h2>The team</h2>" + practice_views.team_roster(self.practice.members)

    def _section_practice(self) -> str:
        """Suggestions to question the theory, the systems view of this month's plans, the
        team's skills (counts and gaps, as they stand now), its cause-and-effect diagram, and
        what the team shared with the programme with the comments of other teams."""
        p, month = self.practice, self.month
        out = ["<h2>Learning practice</h2>", practice_views.learning_prompts(p.prompts)]
        cycles = [c for c in self.data.pdsa if c.id in p.lenses and (
            _in_month(c.plan_date, month) or _in_month(c.do_start, month))]  # fmt: skip
        if cycles:
            out.append("<h3>Systems view of this month's plans</h3>")
            for c in cycles:
                out.append(f"<h4>{esc(c.title)}</h4>" + practice_views.pdsa_lens(p.lenses[c.id]))
        tags = [(r, p.disciplines.get(r.id, ())) for r in self._month_reflections()]
        if any(t for _, t in tags):
            out.append("<p>Senge's disciplines in this month's reflections: " + "; ".join(
                f"{r.date:%d %b}: {practice_views.disciplines(t)}" for r, t in tags if t) + "</p>")  # fmt: skip
        out.append(f"<h3>{views.term('skills_profile', 'Skills')}: coverage and gaps</h3>"
                   + practice_views.skills_coverage(p.skills))  # fmt: skip
        out.append(f"<h3>{views.term('fishbone')}</h3>"
                   + practice_views.fishbone(p.fishbone, heading="h4", empty="The team has not "
                                             "drawn a cause-and-effect diagram yet."))  # fmt: skip
        out.append("<h3>Shared with the programme, and what other teams said</h3>")
        out.append(practice_views.shared_items(p.shared, empty="The team has shared no PDSA "
                                               "cycle or story with the programme yet."))  # fmt: skip
        out.append('<p class="qiw-explain">The team\'s safety pulse is not in this report: it '
                   "is the team's own (the programme sees only totals across teams).</p>")  # fmt: skip
        return "".join(out)

    def _month_help(self) -> list:
        month = self.month
        return [r for r in self.practice.help_requests
                if _in_month(r.raised_on, month) or r.status == "open"]  # fmt: skip

    def _section_next(self) -> str:
        refl = self._month_reflections()
        out = ["<h2>Help needed, barriers and next steps</h2>"]
        asked = self._month_help()
        if asked:
            out.append("<p>Requests for help (raised this month, or still open):</p>"
                       + practice_views.help_requests(asked, self.practice.names))  # fmt: skip
        barriers = [r.what_did_not for r in refl if r.what_did_not]
        plans = [r.what_should_change for r in refl if r.what_should_change]
        if barriers:
            items = "".join(f"<li>{esc(b)}</li>" for b in barriers)
            out.append(f"<p>Barriers and help needed (from the team's reflections):</p><ul>{items}</ul>")
        else:
            out.append("<p>No barriers or requests for help were recorded this month.</p>")
        nxt = self._pdsa_next()
        if plans or nxt:
            items = "".join(f"<li>{esc(p)}</li>" for p in plans)
            items += "".join(
                f"<li>PDSA planned: {esc(c.title)}"
                + (f" (from {c.do_start:%d %b %Y})" if c.do_start else "")
                + (f" — prediction: {esc(c.prediction)}" if c.prediction else "")
                + "</li>"
                for c in nxt
            )
            out.append(f"<p>Plans for next month:</p><ul>{items}</ul>")
        else:
            out.append("<p>No plans for next month were recorded.</p>")
        return "".join(out)

    def _section_quality(self) -> str:
        out = ["<h2>Data quality</h2>"]
        items = []
        for mm in self.measures:
            for n in mm.notes:
                items.append(f"{mm.measure_name}: {n}")
        month = self.month
        d = self.data
        for meas in d.measures:
            if meas.version > 1 and meas.updated_at and _in_month(meas.updated_at.date(), month):
                items.append(f"{meas.name}: the definition was changed this month.")
        if not d.edits.empty:
            changed = d.edits[
                (pd.to_datetime(d.edits["changed_at"]) >= pd.Timestamp(month.first_day))
                & (pd.to_datetime(d.edits["changed_at"]) < pd.Timestamp(month.next().first_day))
            ]
            if len(changed):
                items.append(f"{len(changed)} earlier values were corrected this month.")
        for name, why in self.errors.items():
            items.append(f"{name}: could not be charted ({why}).")
        if items:
            out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")
        else:
            out.append("<p>No missing periods, flagged values, corrections or rebaselines.</p>")
        return "".join(out)

    # --- summary ------------------------------------------------------------------------------

    def summary(self) -> dict:
        """The JSON summary (icons, signals, scores) the programme report is built from."""
        d = self.data
        scores = sorted(d.scores, key=lambda s: s.month)
        latest = scores[-1] if scores else None
        this_month = latest if latest is not None and latest.month == self.month.first_day else None
        month_refl = self._month_reflections()
        return {
            "schema": SUMMARY_SCHEMA,
            "kind": "team",
            "month": str(self.month),
            "programme": {"code": d.programme.code, "name": d.programme.name},
            "team": {"code": d.team.code, "name": d.team.name,
                     "organisation": d.team.organisation},
            "data_cutoff": d.cutoff.isoformat() if d.cutoff else None,
            "completeness": self.completeness(),
            "progress": {
                "team_score": this_month.team_score if this_month else None,
                "lead_score": this_month.lead_score if this_month else None,
                "justification": this_month.justification if this_month else None,
                "history": [
                    {"month": f"{s.month:%Y-%m}", "team_score": s.team_score,
                     "lead_score": s.lead_score}
                    for s in scores
                ],
            },
            "measures": [mm.to_json() for mm in self.measures],
            "new_signals": sum(len(mm.new_signals) for mm in self.measures),
            "improvement": [mm.measure_code for mm in self.measures if mm.improvement_at_latest],
            "sustained": {mm.measure_code: mm.sustained for mm in self.measures if mm.sustained},
            "concern": [mm.measure_code for mm in self.measures if mm.concern],
            "pdsa": {"started": len(self._pdsa_started()), "finished": len(self._pdsa_finished()),
                     "planned": len(self._pdsa_next())},
            "reflections": [
                {
                    "date": r.date.isoformat(), "what_happened": r.what_happened,
                    "what_worked": r.what_worked, "story": r.story,
                    "learning_level": r.learning_level, "bright_spot": bool(r.bright_spot),
                    "generalisable": bool(r.generalisable),
                }
                for r in month_refl
            ],
            "generalisable": [
                {"date": r.date.isoformat(), "what_happened": r.what_happened,
                 "what_worked": r.what_worked, "story": r.story}
                for r in [r for r in d.reflections if r.generalisable][-3:]
            ],
            "help_needed": [r.what_did_not for r in month_refl if r.what_did_not],
            "help_requests": [{"raised_on": r.raised_on.isoformat(), "status": r.status}
                              for r in self._month_help()],
            "coaches": [x.name for x in self.practice.coaches],
            "month_summary": dict(self.month_summary().parts),
            "errors": dict(self.errors),
            "build": {"qiwidgets": __version__, "python": sys.executable},
        }

    def write_summary(self, output_dir: str | os.PathLike) -> Path:
        """Write :meth:`summary` to ``output_dir/summary.json`` (atomically)."""
        return write_json_atomic(Path(output_dir) / SUMMARY_FILE, self.summary())


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build(database_url: str, team: str, month: str, programme: str | None = None) -> TeamReport:
    """Read a team's month from the store; every measure's status comes from the core
    (:func:`qiwidgets.workbook.status.team_status_from`), the same as on the dashboards.

    A measure whose data cannot be charted says why in its reading and in the data-quality
    section; the others are still charted.
    """
    m = parse_month(month)
    data = gather_team(database_url, team, m, programme)
    records = TeamRecords(
        programme=data.programme, team=data.team, measures=data.measures,
        observations=data.observations, annotations=data.annotations, cycles=data.pdsa,
        reflections=data.reflections, scores=data.scores, aim=data.aim,
    )  # fmt: skip
    status = team_status_from(records, m.first_day)
    practice = team_practice(database_url, data.team, status, month=m.first_day, pulse=False)
    return TeamReport(data=data, status=status, practice=practice)
