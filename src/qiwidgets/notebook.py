"""Small helpers the guided notebooks call, so that a notebook stays guidance text plus a few calls.

* :func:`open_workbook_db` — find (or create) the workbook's database and fill an empty one with
  the sample programme;
* :func:`words` — the one-line explanations of the terms a notebook uses (shared language);
* :func:`team_overview` — where a team stands: aim, progress score, each measure's reading;
* :func:`aim_check`, :func:`driver_diagram` — purpose;
* :func:`measure_family` — the family of measures with its operational definitions and warnings;
* :func:`measure_chart`, :func:`compare_rule_sets` — one measure over time, as the variation
  explorer shows it, without a browser;
* :func:`pdsa_table`, :func:`reflections_table`, :func:`progress_chart`, :func:`health_table`
  — reflection;
* :func:`icons_table` — Making Data Count icons for many teams at once;
* :func:`learning_practice` — learning together: who plays which part, skills, the fishbone,
  the safety pulse, suggestions to question the theory, requests for help.

Every helper returns an object that shows itself in a notebook as static HTML (charts as inline
SVG rendered here by vl-convert): nothing is fetched from the network, no widget is needed, and
the same cell gives the same output in JupyterLab, papermill, nbval and Voilà. The statistics
come from :mod:`qiwidgets.spc`, the checks from :mod:`qiwidgets.workbook`, the words from
:mod:`qiwidgets.glossary`.

>>> from qiwidgets import notebook as qn                     # doctest: +SKIP
>>> db = qn.open_workbook_db()                              # doctest: +SKIP
>>> qn.team_overview(db, "W07")                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiwidgets import config, glossary, views
from qiwidgets import workbook as wb
from qiwidgets.spc.reading import format_number

__all__ = [
    "HTMLBlock",
    "MeasureView",
    "PracticeView",
    "aim_check",
    "chart_guide",
    "compare_rule_sets",
    "database_location",
    "draft_aim",
    "driver_diagram",
    "health_table",
    "icons_table",
    "learning_practice",
    "measure_chart",
    "measure_family",
    "open_workbook_db",
    "pdsa_table",
    "progress_chart",
    "progress_scale",
    "project_root",
    "reflections_table",
    "show",
    "team_overview",
    "teams",
    "words",
]

#: The environment variable that names the database, and the file used without it: the same
#: as for the command line, the dashboards and the reports (:mod:`qiwidgets.config`).
ENV_VAR = config.env_name("database_url")
DEFAULT_DB_FILENAME = config.DEFAULT_DB_FILENAME

_TABLE = 'style="border-collapse:collapse;font-size:0.95em"'
_TH = 'style="text-align:left;padding:3px 8px;border-bottom:1px solid #999;vertical-align:bottom"'
_TD = 'style="padding:3px 8px;vertical-align:top;border-bottom:1px solid #e3e3e3"'


def _esc(value: Any) -> str:
    if value is None:
        return ""
    try:
        import pandas as pd

        if not isinstance(value, (list, tuple, dict)) and pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True)


def _table(columns: list[str], rows: list[list[str]], *, empty: str = "Nothing yet.") -> str:
    """An HTML table; cells are given as HTML (escape text with :func:`_esc` first)."""
    if not rows:
        return f"<p><em>{_esc(empty)}</em></p>"
    head = "".join(f"<th {_TH}>{_esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td {_TD}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class HTMLBlock:
    """A piece of static HTML that shows itself in a notebook (``text`` is the plain version)."""

    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or "<HTML>"


def show(*items: Any) -> None:
    """Display charts (as an SVG figure with its reading), HTML blocks or anything else."""
    from IPython.display import HTML, display

    for item in items:
        if _is_altair(item):
            from qiwidgets import charts

            display(HTML(charts.to_html(item)))
        elif isinstance(item, str):
            display(HTML(item))
        else:
            display(item)


def _is_altair(item: Any) -> bool:
    mod = type(item).__module__ or ""
    return mod.startswith("altair")


# =============================================================================================
# The database
# =============================================================================================


def project_root(start: str | os.PathLike | None = None) -> Path | None:
    """The workbook folder that holds ``start`` (default: the current folder): see
    :func:`qiwidgets.config.workbook_folder`; None outside one."""
    return config.workbook_folder(start)


def database_location(db: str | os.PathLike | None = None) -> str:
    """Which database the workbook uses, without opening it: the one rule of
    :func:`qiwidgets.config.database`, the same as the command line, the dashboards and the
    reports (``db`` when given; ``QI_DATABASE_URL``; ``qiwidgets.db`` in the workbook folder,
    e.g. the repository's root; ``qiwidgets.db`` in the current folder)."""
    return config.database(db)


def open_workbook_db(
    db: str | os.PathLike | None = None, *, sample: bool = True, quiet: bool = False
) -> str:
    """Open the workbook's database, creating it (and loading the sample programme) if needed.

    Parameters
    ----------
    db:
        A database URL or SQLite file path (default: see :func:`database_location`).
    sample:
        When the database holds no programme yet, load the synthetic falls collaborative (12
        wards x 36 months) so that every notebook has something to show.
    quiet:
        Do not print which database is used.

    Returns
    -------
    str
        The database URL, to pass to every other call (``repo.list_teams(db)``, widgets ...).
    """
    from qiwidgets.store import repo
    from qiwidgets.store.db import current_revision, describe, head_revision, init_db, resolve_url

    url = resolve_url(database_location(db))
    if sample:  # the sample's files first: nothing is created when they cannot be found
        from qiwidgets.store.sample import check_folder

        sample_folder = check_folder()
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    if current_revision(url) != head_revision():
        init_db(url)
    loaded = False
    if sample and not repo.list_programmes(url):
        from qiwidgets.store.sample import load_sample

        load_sample(url, sample_folder)
        loaded = True
    if not quiet:
        programmes = repo.list_programmes(url)
        names = ", ".join(f'"{p.name}"' for p in programmes) or "no programme yet"
        teams = sum(len(repo.list_teams(url, p.id)) for p in programmes)
        print(
            f"Database: {describe(url)}"
            + (" (the sample programme was loaded into it just now)" if loaded else "")
            + f"\nProgramme: {names}; {teams} team{'s' if teams != 1 else ''}."
        )
    return url


# =============================================================================================
# Shared language
# =============================================================================================


def words(*keys: str) -> HTMLBlock:
    """The terms ``keys`` with their one-line explanations (the glossary's wording)."""
    items = "".join(
        f"<li><strong>{_esc(glossary.label(k))}</strong>: {_esc(glossary.explain(k))}</li>"
        for k in keys
    )
    text = "\n".join(f"{glossary.label(k)}: {glossary.explain(k)}" for k in keys)
    return HTMLBlock(
        f'<div class="qi-words" style="border-left:4px solid #005eb8;padding:2px 10px;'
        f'margin:4px 0"><ul style="margin:4px 0">{items}</ul></div>',
        text,
    )


# =============================================================================================
# Where a team stands
# =============================================================================================


def _team(db: Any, team: Any, programme: Any = None):
    from qiwidgets.store import repo

    return team if hasattr(team, "programme_id") else repo.get_team(db, team, programme)


def teams(db: Any, programme: Any = None) -> HTMLBlock:
    """The programme's teams: code, name and organisation."""
    from qiwidgets.store import repo

    found = repo.list_teams(db, programme)
    rows = [[f"<code>{_esc(t.code)}</code>", _esc(t.name), _esc(t.organisation)] for t in found]
    text = "\n".join(f"{t.code}  {t.name}" for t in found)
    return HTMLBlock(_table(["Code", "Team", "Organisation"], rows, empty="No teams yet."), text)


def _reading(view: wb.ChartView, measure: Any, annotations: Any = ()) -> str:
    """The chart's reading (the workbook's story) without the measure's name in front (the
    table already shows it)."""
    from qiwidgets.workbook.story import tell

    text = tell(view, measure, view.result.latest(), annotations)[0]
    name = measure.name
    return text[len(name) + 2 :] if text.startswith(f"{name}: ") else text


def _aim_text(aim: Any) -> str:
    if aim is None:
        return ""
    return wb.aim_statement(aim.what, aim.for_whom, aim.how_much, aim.by_when)


def team_overview(db: Any, team: Any, *, programme: Any = None) -> HTMLBlock:
    """Where a team stands: its aim, latest progress score, and each measure in one line.

    For each measure of the family: its kind, latest value and target, its verdict (icons and
    words, under the measure's own rule set) and the reading of its chart: the core's
    :class:`~qiwidgets.workbook.MeasureStatus`, the same as on the dashboard and in the report.
    """
    from qiwidgets import views
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    prog = repo.get_programme(db, t.programme_id)
    status = wb.team_status(db, t)
    score = status.latest_score
    score_text = (
        f"{score.month:%B %Y}: team {glossary.progress_description(score.team_score)}; "
        f"lead {glossary.progress_description(score.lead_score)}"
        if score is not None else "not scored yet"
    )  # fmt: skip
    aim_s = _aim_text(status.records.aim) or "No aim yet: write one in 01_purpose."
    body = (
        f'<div class="qi-overview"><h3 style="margin:0.2em 0">{_esc(t.name)}</h3>'
        f"<p><strong>Programme aim:</strong> {_esc(prog.shared_aim or prog.name)}<br>"
        f"<strong>Team aim:</strong> {_esc(aim_s)}<br>"
        f"<strong>{_esc(glossary.label('progress_score'))}:</strong> {_esc(score_text)}<br>"
        f"<strong>As of:</strong> {status.month:%B %Y}</p>"
        + views.overview_table(status)
        + "</div>"
    )
    lines = [f"- {m.reading}" for m in status.measures]
    text = f"{t.name}\nAim: {aim_s}\nProgress score: {score_text}\n" + "\n".join(lines)
    return HTMLBlock(body, text)


# =============================================================================================
# Purpose
# =============================================================================================


def _aim_block(check: wb.AimCheck, outcome: str = "") -> HTMLBlock:
    rows = [
        [
            ("✓ " if ok else "✗ ") + _esc(glossary.label(k)),
            _esc(msg),
            f'<span style="color:#425563">{_esc(glossary.explain(k))}</span>',
        ]
        for k, ok, msg in check.checks
    ]
    body = (
        f"<p><strong>{_esc(glossary.label('aim'))}:</strong> {_esc(check.statement)}</p>"
        + _table(["Check", "Result", "What it means"], rows)
        + (f"<p>Outcome measure linked to the aim: {_esc(outcome)}</p>" if outcome else "")
    )
    text = (
        check.statement
        + "\n"
        + "\n".join(f"{'ok ' if ok else 'fix'} {k}: {msg}" for k, ok, msg in check.checks)
    )
    return HTMLBlock(body, text)


def aim_check(db: Any, team: Any, *, programme: Any = None, today: dt.date | None = None):
    """The team's aim statement checked: specific, measurable, time-bound (with what to fix)."""
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    aim = repo.get_aim(db, t.id)
    if aim is None:
        return HTMLBlock("<p><em>No aim yet.</em></p>", "No aim yet.")
    check = wb.check_aim(aim.what, aim.for_whom, aim.how_much, aim.by_when, today=today)
    outcome = ", ".join(x.name for x in getattr(aim, "outcome_measures", []) or [])
    return _aim_block(check, outcome)


def draft_aim(
    what: str,
    for_whom: str | None = None,
    how_much: str | None = None,
    by_when: dt.date | None = None,
    *,
    today: dt.date | None = None,
) -> HTMLBlock:
    """Check a draft aim without saving it (the same check as the aim builder)."""
    return _aim_block(wb.check_aim(what, for_whom, how_much, by_when, today=today))


def progress_scale() -> HTMLBlock:
    """The IHI progress scale, 0.5 to 5.0, with what each score means."""
    rows = [
        [f"<strong>{score:.1f}</strong>", _esc(text)]
        for score, text in glossary.PROGRESS_SCALE.items()
    ]
    text = "\n".join(glossary.progress_description(score) for score in glossary.PROGRESS_SCALE)
    return HTMLBlock(_table(["Score", "Meaning"], rows), text)


def driver_diagram(db: Any, team: Any, *, programme: Any = None) -> HTMLBlock:
    """The team's driver diagram: aim → primary drivers → secondary drivers → change ideas."""
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    nodes = repo.list_driver_nodes(db, t.id)
    aim = _aim_text(repo.get_aim(db, t.id))
    tree = wb.driver_tree(nodes)
    text = "\n".join("  " * depth + f"{n.kind}: {n.text}" for n, depth in tree)
    return HTMLBlock(wb.driver_diagram_html(aim, nodes), text)


# =============================================================================================
# Measures
# =============================================================================================


def measure_family(db: Any, team: Any, *, programme: Any = None) -> HTMLBlock:
    """The team's family of measures: operational definitions, suggested chart and warnings."""
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    measures = repo.list_measures(db, t.id)
    aim = repo.get_aim(db, t.id)
    rows = []
    for m in measures:
        counted = m.numerator_definition or m.value_definition or ""
        if m.denominator_definition:
            counted += f" / {m.denominator_definition}"
        direction = {
            "increase": "higher is better",
            "decrease": "lower is better",
            "neutral": "neither",
        }.get(m.improvement_direction or "", "not set")
        chart = wb.chart_type_for(m)
        rows.append(
            [
                f"<strong>{_esc(m.name)}</strong>",
                _esc(glossary.label(m.measure_type)),
                _esc(counted),
                _esc(m.unit),
                _esc(direction),
                _esc(views.value_text(m.target, wb.unit_for(m)) if m.target is not None
                     else "none"),
                _esc(f"{m.data_source or '?'}; {m.collector or '?'}; {m.frequency or '?'}"),
                f'<span title="{_esc(glossary.explain(chart))}">{_esc(glossary.label(chart))}</span>',
            ]
        )
    warnings_ = wb.family_warnings(measures, aim)
    for m in measures:
        warnings_ += wb.definition_gaps(m)
    warn = (
        '<ul style="color:#8a4b00">' + "".join(f"<li>{_esc(w)}</li>" for w in warnings_) + "</ul>"
        if warnings_
        else "<p>✓ The family has an outcome measure linked to the aim, a process measure and a "
        "balancing measure, and every definition says what, where from, how often and which way "
        "is better.</p>"
    )
    body = (
        _table(
            [
                "Measure",
                "Kind",
                "What is counted",
                "Unit",
                "Direction",
                "Target",
                "Source; who; how often",
                "Chart",
            ],
            rows,
            empty="No measures yet.",
        )
        + warn
    )
    text = "\n".join(f"{m.name} ({m.measure_type}, {wb.chart_type_for(m)})" for m in measures)
    return HTMLBlock(body, text + ("\n" + "\n".join(warnings_) if warnings_ else ""))


def chart_guide() -> HTMLBlock:
    """Which chart suits which kind of data (proportion → P, rate → U, count → C ...)."""
    rows = [
        [
            _esc(wb.DATA_KIND_LABELS.get(kind, kind)),
            f"<strong>{_esc(glossary.label(chart))}</strong>",
            _esc(glossary.explain(chart)),
        ]
        for kind, chart in wb.DATA_KINDS.items()
    ]
    text = "\n".join(f"{kind}: {glossary.label(chart)}" for kind, chart in wb.DATA_KINDS.items())
    return HTMLBlock(_table(["Your data", "Chart", "What it is"], rows), text)


# =============================================================================================
# Variation
# =============================================================================================


@dataclass
class MeasureView:
    """One team's measure under one rule set: what the variation explorer shows, as static HTML.

    Attributes: ``team``, ``measure``, ``view`` (:class:`qiwidgets.workbook.ChartView`, with the
    SPC ``result``), ``chart`` (the Altair chart), ``events`` (signals), ``prompts`` (signals
    soon after a PDSA start), ``annotations`` (what is drawn on the chart), ``message`` (why
    there is no chart yet, and what to do: a team with no measure, or no data for it yet).
    """

    team: Any
    measure: Any
    view: wb.ChartView | None
    chart: Any
    events: list = field(default_factory=list)
    prompts: list = field(default_factory=list)
    annotations: list = field(default_factory=list)
    message: str = ""

    @property
    def result(self) -> Any:
        return None if self.view is None else self.view.result

    @property
    def reading(self) -> str:
        """The workbook's reading of the chart (the story, under this view's rule set)."""
        from qiwidgets.workbook.story import tell

        if self.view is None:
            return self.message
        return tell(self.view, self.measure, self.view.result.latest(), self.annotations)[0]

    def svg(self) -> str:
        """The chart as SVG (rendered here, no network)."""
        from qiwidgets import charts

        return charts.to_svg(self.chart)

    def _repr_html_(self) -> str:
        from qiwidgets import charts

        if self.view is None:
            return f'<p class="qi-empty"><em>{_esc(self.message)}</em></p>'
        parts = [charts.to_html(self.chart), _notes_list(self.annotations)]
        if self.view.notes:
            parts.append(
                '<ul style="color:#6b3a00">'
                + "".join(f"<li>{_esc(n)}</li>" for n in self.view.notes)
                + "</ul>"
            )
        if self.prompts:
            parts.append(
                '<div style="border-left:4px solid #00703c;padding-left:8px"><ul>'
                + "".join(f"<li>{_esc(p.text)}</li>" for p in self.prompts)
                + "</ul></div>"
            )
        return "".join(parts)

    def __repr__(self) -> str:
        if self.view is None:
            return self.message
        return f"{self.measure.name} ({self.team.name}, {self.view.rule_set}): {self.reading}"


#: What to do when a team has no measure yet, or no data for one (a new team is a normal team).
NO_MEASURES = ("{team} has no measures yet: define its family of measures in 02_measures (or "
               "import a measures file), then enter its data.")  # fmt: skip
NO_DATA = ("There are no data points for {measure} yet: enter this month's value on the team "
           "dashboard's \u201cOur data\u201d tab (or import a file), then come back.")  # fmt: skip


def _measure(db: Any, team: Any, measure: Any) -> tuple[Any, str]:
    """``(measure, "")``, or ``(None, why)`` when the team has no such measure (yet)."""
    from qiwidgets.errors import NotFoundError
    from qiwidgets.store import repo

    measures = repo.list_measures(db, team.id)
    if not measures:
        return None, NO_MEASURES.format(team=team.name)
    if measure is None:
        return measures[0], ""
    if hasattr(measure, "measure_type"):
        return measure, ""
    try:
        return repo.get_measure(db, measure, team.id), ""
    except NotFoundError:
        names = ", ".join(f"{m.name} ({m.code})" for m in measures)
        return None, f"{team.name} has no measure {measure!r}: its measures are {names}."


def measure_chart(
    db: Any,
    team: Any,
    measure: Any = None,
    rule_set: str | None = None,
    *,
    programme: Any = None,
    width: int = 640,
) -> MeasureView:
    """One measure of a team over time, with its baseline/phases, notes and PDSA starts.

    ``rule_set``: ``"anhoej"`` (the measure's own chart with Anhøj rules), ``"ihi"`` (a run
    chart with IHI rules) or ``"mdc"`` (a Making Data Count XmR chart); by default the
    measure's own rule set, the one its verdict uses everywhere. The same computation as the
    variation explorer, so the notebook and the widget agree.
    """
    from qiwidgets import charts
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    m, why = _measure(db, t, measure)
    if m is None:
        return MeasureView(t, None, None, None, message=why)
    obs = repo.observations(db, t.id, m.id)
    ann = repo.list_annotations(db, t.id, m.id)
    cycles = wb.cycles_for_measure(repo.list_pdsa_cycles(db, t.id), m.id)
    if not len(obs):
        return MeasureView(t, m, None, None, message=NO_DATA.format(measure=m.name))
    view = wb.compute_chart(obs, m, rule_set, ann)
    events = wb.signal_events(view.result)
    periods = [p.date() for p in obs["period"]]
    prompts = wb.pdsa_signal_prompts(events, cycles, periods, frequency=m.frequency)
    rows = wb.chart_annotations(ann, cycles, m.id)
    # The chart labels each note with its number only (long labels close together overlap);
    # the numbered list under the chart gives the full text.
    numbered = [{**r, "text": str(i)} for i, r in enumerate(rows, 1)]
    # Name the time axis for readers (compute_chart's series has a column called "x").
    drawn = dataclasses.replace(view.result, options={**view.result.options, "x": _x_title(m)})
    chart = charts.spc_chart(drawn, annotations=numbered or None, width=width)
    return MeasureView(t, m, view, chart, events, prompts, rows)


def _x_title(measure: Any) -> str:
    return {
        "daily": "Day",
        "weekly": "Week",
        "fortnightly": "Fortnight",
        "monthly": "Month",
        "quarterly": "Quarter",
    }.get(measure.frequency or "", "Period")


#: How the kinds of note are named in the list under a chart.
_NOTE_KINDS = {"pdsa_start": "PDSA start", "pdsa_end": "PDSA decision"}


def _notes_list(rows: list[dict]) -> str:
    if not rows:
        return ""
    items = "".join(
        f"<li>{_esc(format(r['date'], '%d %b %Y'))} — "
        f"{_esc(_NOTE_KINDS.get(r['kind']) or glossary.label(r['kind']))}: {_esc(r['text'])}</li>"
        for r in rows
    )
    return (
        "<details open><summary>Notes on the chart (by number)</summary>"
        f'<ol style="margin:2px 0;font-size:0.9em">{items}</ol></details>'
    )


def compare_rule_sets(
    db: Any, team: Any, measure: Any = None, *, programme: Any = None
) -> HTMLBlock:
    """The same measure read with each rule set: which signals each finds, and its reading."""
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    m, why = _measure(db, t, measure)
    if m is None:
        return HTMLBlock(f"<p><em>{_esc(why)}</em></p>", why)
    obs = repo.observations(db, t.id, m.id)
    ann = repo.list_annotations(db, t.id, m.id)
    if not len(obs):
        text = NO_DATA.format(measure=m.name)
        return HTMLBlock(f"<p><em>{_esc(text)}</em></p>", text)
    rows, lines = [], []
    for key in glossary.RULE_SETS:
        view = wb.compute_chart(obs, m, key, ann)
        events = wb.signal_events(view.result)
        found = (
            "; ".join(
                f"{e.label} from {e.start:%b %Y}" + (f" ({e.direction})" if e.direction else "")
                for e in events
            )
            or "no signal"
        )
        rows.append(
            [
                f"<strong>{_esc(glossary.label(key))}</strong>",
                _esc(glossary.explain(key)),
                _esc(found),
                _esc(_reading(view, m, ann)),
            ]
        )
        lines.append(f"{glossary.label(key)}: {found}")
    return HTMLBlock(
        f"<p><strong>{_esc(m.name)}</strong>, {_esc(t.name)}</p>"
        + _table(["Rule set", "Its rules", "Signals found", "Reading"], rows),
        "\n".join(lines),
    )


def icons_table(result: Any, names: dict | None = None, facet: str = "team") -> HTMLBlock:
    """Making Data Count icons for many teams: one row per team, with its reading.

    ``result`` is a faceted :func:`qiwidgets.spc.mdc_chart` result; ``names`` maps facet values
    (team codes) to display names.
    """
    from qiwidgets import charts

    names = names or {}
    verdicts = result.verdicts()
    rows, lines = [], []
    for _, r in verdicts.sort_values(facet).iterrows():
        key = r[facet]
        reading = result.readings.get(key, "") if hasattr(result, "readings") else ""
        variation, assurance = r.get("variation_type"), r.get("assurance_type")
        rows.append(
            [
                _esc(names.get(key, key)),
                charts.icons_html(r.get("variation_icon"), r.get("assurance_icon"), size=32),
                _esc(glossary.label(variation) if isinstance(variation, str) else ""),
                _esc(glossary.label(assurance) if isinstance(assurance, str) else ""),
                _esc(reading),
            ]
        )
        lines.append(f"{names.get(key, key)}: {variation} / {assurance}")
    return HTMLBlock(
        _table(["Team", "Icons", "Variation", "Assurance", "Reading"], rows), "\n".join(lines)
    )


# =============================================================================================
# Reflection
# =============================================================================================


def pdsa_table(db: Any, team: Any, *, programme: Any = None) -> HTMLBlock:
    """The team's PDSA cycles: question and prediction, what happened, and the decision."""
    from qiwidgets.store import repo

    t = _team(db, team, programme)
    rows = []
    for c in repo.list_pdsa_cycles(db, t.id):
        act = c.act or ""
        rows.append(
            [
                f"<strong>{_esc(c.title)}</strong>",
                _esc(f"{c.do_start:%d %b %Y}" if c.do_start else "not started"),
                _esc(c.prediction),
                _esc(c.study_result),
                _esc(
                    f"{glossary.label(act)}: {glossary.explain(act)}"
                    if act
                    else glossary.label(wb.pdsa_stage(c))
                ),
            ]
        )
    return HTMLBlock(
        _table(
            ["Cycle", "Started", "Prediction", "What happened", "Decision"],
            rows,
            empty="No PDSA cycles yet.",
        ),
        f"{len(rows)} PDSA cycles",
    )


def reflections_table(
    db: Any, team: Any = None, *, programme: Any = None, generalisable: bool | None = None
) -> HTMLBlock:
    """Reflections (one team's, or every team's), with the learning level explained."""
    from qiwidgets.store import repo

    t = _team(db, team, programme) if team is not None else None
    found = repo.list_reflections(
        db, t.id if t else None, programme=programme, generalisable=generalisable
    )
    teams = {x.id: x.name for x in repo.list_teams(db, t.programme_id if t else programme)}
    rows = []
    for r in found:
        level = r.learning_level
        flags = " ".join(
            f
            for f, on in (("★ bright spot", r.bright_spot), ("↗ may generalise", r.generalisable))
            if on
        )
        rows.append(
            [
                _esc(f"{r.date:%d %b %Y}") + ("" if t else "<br>" + _esc(teams.get(r.team_id))),
                _esc(r.what_happened),
                _esc(r.what_worked),
                _esc(r.what_did_not),
                _esc(r.what_should_change),
                (
                    f'<span title="{_esc(glossary.explain(level))}">{_esc(glossary.label(level))}'
                    "</span>"
                    if level
                    else ""
                )
                + (f"<br>{_esc(flags)}" if flags else ""),
            ]
        )
    return HTMLBlock(
        _table(
            ["Date", "What happened", "What worked", "What did not", "What to change", "Learning"],
            rows,
            empty="No reflections yet.",
        ),
        f"{len(rows)} reflections",
    )


def progress_chart(db: Any, team: Any, *, programme: Any = None):
    """The team's and the lead's monthly progress scores (IHI 0.5–5.0) as a step chart."""
    import altair as alt
    import pandas as pd

    from qiwidgets.store import repo

    t = _team(db, team, programme)
    s = repo.progress_scores(db, t.programme_id)
    s = s[s["team_id"] == t.id]
    tidy = pd.concat(
        [
            pd.DataFrame({"month": s["month"], "score": s["team_score"], "by": "Team"}),
            pd.DataFrame({"month": s["month"], "score": s["lead_score"], "by": "Programme lead"}),
        ]
    ).dropna(subset=["score"])
    tidy["meaning"] = [glossary.progress_description(v) for v in tidy["score"]]
    latest = tidy.sort_values("month").groupby("by")["meaning"].last()
    caption = (
        "Latest score: " + "; ".join(f"{who.lower()} {latest[who]}" for who in latest.index)
        if len(tidy)
        else "Not scored yet."
    )
    chart = (
        alt.Chart(tidy, title=f"{glossary.label('progress_score')}: {t.name}", description=caption)
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("month:T", title=None, axis=alt.Axis(format="%b %Y")),
            y=alt.Y("score:Q", title="Score (0.5–5.0)", scale=alt.Scale(domain=[0, 5])),
            color=alt.Color("by:N", title=None, scale=alt.Scale(range=["#005eb8", "#ed8b00"])),
            strokeDash=alt.StrokeDash("by:N", title=None),
            tooltip=["month:T", "by:N", "meaning:N"],
        )
        .properties(width=560, height=200)
    )
    return chart


def health_table(db: Any, team: Any = None, *, programme: Any = None) -> HTMLBlock:
    """Learning-system check ratings (1–5) over time: one row per component, one column per date."""
    from qiwidgets.store import repo

    t = _team(db, team, programme) if team is not None else None
    frame = repo.list_health_checks(
        db,
        programme if t is None else t.programme_id,
        t.id if t else None,
        level="programme" if t is None else "all",
    )
    wide = wb.health_history(frame)
    if not len(wide):
        return HTMLBlock("<p><em>No learning-system check yet.</em></p>", "none")
    periods = [f"{p:%b %Y}" for p in wide["period"]]
    rows = []
    for comp in glossary.HEALTH_COMPONENTS:
        cells = ["" if v is None or math.isnan(v) else _esc(format_number(float(v))) for v in wide[comp]]
        rows.append(
            [
                f'<span title="{_esc(glossary.explain(comp))}">{_esc(glossary.label(comp))}</span>',
                *cells,
            ]
        )
    return HTMLBlock(_table(["Component", *periods], rows), wide.to_string())


# =============================================================================================
# Learning together
# =============================================================================================


@dataclass
class PracticeView:
    """A team's learning practice, read once (:func:`learning_practice`); each attribute shows
    one part as its dashboard page and report show it."""

    practice: Any  # qiwidgets.workbook.practice.TeamPractice
    reflections: list = field(default_factory=list)  # the team's, for its learning levels

    @property
    def people(self) -> HTMLBlock:
        """Who is on the team and the part each plays (team lead, patient partner, coach...)."""
        from qiwidgets import practice_views as pv

        members = self.practice.members
        return HTMLBlock(pv.team_roster(members), f"{len(members)} people")

    @property
    def skills(self) -> HTMLBlock:
        """How many people stand at each level of each skill, and the gaps (counts only)."""
        from qiwidgets import practice_views as pv

        return HTMLBlock(pv.skills_coverage(self.practice.skills), "skills: counts and gaps")

    @property
    def fishbone(self) -> HTMLBlock:
        """The team's cause-and-effect diagram, causes by category with the drivers they link to."""
        from qiwidgets import practice_views as pv

        return HTMLBlock(pv.fishbone(self.practice.fishbone, empty="The team has not drawn a "
                                     "cause-and-effect diagram yet."), "fishbone")  # fmt: skip

    @property
    def pulse(self) -> HTMLBlock:
        """The team's safety pulse over time (totals only; months with too few answers hidden)."""
        from qiwidgets import practice_views as pv

        view = self.practice.pulse
        return HTMLBlock(pv.pulse(view), view.change_words() if view is not None else "")

    @property
    def prompts(self) -> HTMLBlock:
        """Suggestions to question the theory (double-loop), and learning levels over time."""
        from qiwidgets import practice_views as pv
        from qiwidgets.workbook.practice import learning_levels

        p = self.practice
        levels = learning_levels(self.reflections)
        return HTMLBlock(
            pv.learning_prompts(p.prompts, empty="Nothing to question yet: no change idea has "
                                "been abandoned or adapted twice, and no measure is waiting "
                                "for a signal after several tests.")
            + f"<p>{_esc(levels.words())}</p>" + pv.learning_levels(levels),
            f"{len(p.prompts)} suggestions",
        )  # fmt: skip

    @property
    def help(self) -> HTMLBlock:
        """The team's requests for help and the answers."""
        from qiwidgets import practice_views as pv

        p = self.practice
        return HTMLBlock(pv.help_requests(p.help_requests, p.names, empty="The team has not "
                                          "asked for help yet."),
                         f"{len(p.open_requests)} open requests")  # fmt: skip


def learning_practice(db: Any, team: Any, *, programme: Any = None) -> PracticeView:
    """A team's learning practice (issue M), read from the store once: show its parts with
    ``.people``, ``.skills``, ``.fishbone``, ``.pulse``, ``.prompts`` and ``.help``."""
    from qiwidgets.store import repo
    from qiwidgets.workbook.practice import team_practice

    t = _team(db, team, programme)
    return PracticeView(team_practice(db, t), reflections=repo.list_reflections(db, t.id))
