"""Where a team's measures, a team and a programme stand at a month: the one verdict every
channel renders.

:class:`MeasureStatus` answers "how is this team's measure doing?" once: the series as charted
(every annotation applied the same way), the SPC result, variation and assurance (from the
measure's one governing rule set), the reading, the latest value against the target, the
signals new this month, sustained improvement, a suggestion to recalculate limits, and the
notes. :class:`TeamStatus` holds a team's family of measures and its month (progress scores,
PDSA activity, reflections); :class:`ProgrammeStatus` holds every team and the programme's two
rules: who is a **bright spot** and who **may need support** (both in ``docs/glossary``
terms: :data:`BRIGHT_SPOT_RULE`, :data:`SUPPORT_RULE`).

Notebook views, widgets, the dashboards, the reports and the CLI render these objects and work
nothing out again. Every element that shows a verdict carries :meth:`MeasureStatus.data_attributes`
(``data-qi-team``, ``data-qi-measure``, ``data-qi-month``, ``data-qi-variation``,
``data-qi-assurance``, ``data-qi-rule-set``), so what each channel shows can be read back and
compared.

>>> status = team_status("qiwidgets.db", "W07", month=dt.date(2026, 10, 1))  # doctest: +SKIP
>>> status.measures[0].variation, status.measures[0].reading               # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qiwidgets import glossary
from qiwidgets.errors import QIError
from qiwidgets.workbook.inputs import _as_date, _get
from qiwidgets.workbook.measures import rule_set_for, unit_for
from qiwidgets.workbook.pdsa import chart_annotations
from qiwidgets.workbook.story import Change, RebaseSuggestion, rebase_suggestion, tell
from qiwidgets.workbook.variation import ChartView, SignalEvent, compute_chart, signal_events

#: ``data-qi-variation`` values: the engine's ``variation_type``, or ``none`` without a chart.
VARIATIONS = ("common_cause", "special_cause_improvement", "special_cause_concern",
              "special_cause_neutral", "none")  # fmt: skip
#: ``data-qi-assurance`` values, from the engine's ``assurance_type``.
ASSURANCES = {"consistent_pass": "pass", "consistent_fail": "fail", "inconsistent": "hit_and_miss"}

#: The programme's bright-spot rule, as the glossary and every channel state it.
BRIGHT_SPOT_RULE = (
    "A team is a bright spot when a shared outcome measure shows special cause improvement at "
    "the latest point, or a sustained improvement (a later phase better than the first), with "
    "the team's own phases applied. Improvement on a process measure shows a change taking "
    "hold; it is listed under that name, not as a bright spot."
)
#: When a change is taking hold (:meth:`ProgrammeStatus.changes_taking_hold`), as every channel
#: states it.
TAKING_HOLD_RULE = (
    "A change is taking hold when a process measure shows special cause improvement at the "
    "latest point, or a sustained improvement, with the team's own phases applied; it is listed "
    "under that name, not as a bright spot."
)
#: The programme's "may need support" rule.
SUPPORT_RULE = (
    "A team may need support (a prompt for a conversation, not a rating) when a measure shows "
    "special cause concern, the team asked for help, measures have no value this month, no "
    "PDSA cycle was started, finished or planned and nothing has improved yet, or the team's "
    "and the lead's progress scores differ by a whole point or more."
)
#: A gap this large between the team's and the lead's progress score is worth a conversation.
SCORE_GAP = 1.0


def month_start(value: Any) -> dt.date:
    """The first day of the month of ``value`` (a date, a timestamp or ``YYYY-MM``)."""
    if isinstance(value, str) and len(value) == 7:
        value = value + "-01"
    d = _as_date(value)
    return d.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    """The last day of ``month``."""
    nxt = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def previous_month(month: dt.date) -> dt.date:
    return (month - dt.timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class MeasureStatus:
    """One team's measure at a month. See the module docstring.

    ``variation`` is one of :data:`VARIATIONS`; ``assurance`` one of ``pass``, ``fail``,
    ``hit_and_miss``, ``none``. ``latest_value`` and ``target`` are in the chart's units.
    """

    team_code: str
    team_name: str
    measure_id: Any
    measure_code: str
    measure_name: str
    measure_type: str
    shared: bool
    unit: str
    direction: str | None
    target: float | None
    month: dt.date
    rule_set: str
    view: ChartView | None = None
    variation: str = "none"
    assurance: str = "none"
    variation_icon: str | None = None
    assurance_icon: str | None = None
    assurance_caveat: str | None = None
    reading: str = ""
    latest_period: dt.date | None = None
    latest_value: float | None = None
    has_month_value: bool = False
    new_signals: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    sustained: str | None = None
    rebase: RebaseSuggestion | None = None
    notes: tuple[str, ...] = ()
    chart_rows: tuple[dict, ...] = ()

    @property
    def result(self) -> Any:
        """The SPC result as charted (None without enough data)."""
        return None if self.view is None else self.view.result

    @property
    def rule_set_name(self) -> str:
        """The governing rule set as a team reads it (``Anhøj rules``, ``Making Data Count``)."""
        return glossary.label(self.rule_set)

    @property
    def improvement_at_latest(self) -> bool:
        """Special cause improvement at the latest point."""
        return self.variation == "special_cause_improvement"

    @property
    def improving(self) -> bool:
        """Special cause improvement at the latest point, or a sustained improvement."""
        return self.variation == "special_cause_improvement" or self.sustained is not None

    @property
    def concern(self) -> bool:
        return self.variation == "special_cause_concern"

    def data_attributes(self) -> dict[str, str]:
        """The machine-readable verdict every element showing it carries (``data-qi-*``)."""
        return {
            "data-qi-team": self.team_code,
            "data-qi-measure": self.measure_code,
            "data-qi-month": f"{self.month:%Y-%m}",
            "data-qi-variation": self.variation,
            "data-qi-assurance": self.assurance,
            "data-qi-rule-set": self.rule_set,
        }

    def to_json(self) -> dict:
        """The JSON-safe verdict (the team report's summary)."""
        return {
            "code": self.measure_code,
            "name": self.measure_name,
            "measure_type": self.measure_type,
            "shared": self.shared,
            "rule_set": self.rule_set,
            "month": f"{self.month:%Y-%m}",
            "variation": self.variation,
            "assurance": self.assurance,
            "variation_icon": self.variation_icon,
            "assurance_icon": self.assurance_icon,
            "assurance_caveat": self.assurance_caveat,
            "latest_period": None if self.latest_period is None else f"{self.latest_period:%Y-%m}",
            "latest_value": _json_number(self.latest_value),
            "target": _json_number(self.target),
            "unit": self.unit,
            "has_month_value": self.has_month_value,
            "new_signals": list(self.new_signals),
            "sustained": self.sustained,
            "rebase_from": None if self.rebase is None else f"{self.rebase.since:%Y-%m}",
            "reading": self.reading,
        }


def _json_number(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if not math.isfinite(f) else f


def _event_words(ev: SignalEvent, centre: str) -> str:
    side = {"up": "above", "down": "below"}.get(ev.direction or "", "")
    if ev.kind == "outside":
        return f"a point outside the limits ({side}) in {ev.end:%b %Y}"
    if ev.kind == "trend":
        way = {"up": "up", "down": "down"}.get(ev.direction or "", "one way")
        return f"a trend going {way} since {ev.start:%b %Y}"
    what = f"points in a row {side} the {centre}" if side else "a run"
    return f"{what} since {ev.start:%b %Y}"


def _new_signals(now: ChartView, before: ChartView | None) -> list[str]:
    """Signals on the chart up to the month that the chart up to the month before did not show."""
    from qiwidgets.spc.reading import CENTRE_NAME

    centre = CENTRE_NAME.get(now.chart, "mean" if now.rule_set == "mdc" else "centre line")
    old = set() if before is None else {
        (e.kind, e.start, e.direction) for e in signal_events(before.result)}  # fmt: skip
    return [_event_words(e, centre) for e in signal_events(now.result)
            if (e.kind, e.start, e.direction) not in old]  # fmt: skip


def _sustained(changes: Sequence[Change], variation: str, unit: str) -> str | None:
    """Improvement that held: a later phase better than the first, the latest not a concern."""
    phases = [c for c in changes if c.phase]
    if not phases or variation == "special_cause_concern":
        return None
    first, last = phases[0].before, phases[-1].after
    direction_better = [c.better for c in phases]
    if None in direction_better or not all(direction_better):
        return None
    from qiwidgets.spc.reading import format_number

    shown = f" {unit}" if unit and unit != "%" else unit
    return (f"sustained improvement: new limits since {phases[-1].since:%b %Y}, the centre line "
            f"moved from {format_number(first)}{shown} to {format_number(last)}{shown}")  # fmt: skip


def _quality_notes(obs: Any, month: dt.date, measure: Any) -> list[str]:
    import pandas as pd

    notes = []
    if "data_quality" in obs:
        flagged = obs[obs["data_quality"].notna() & obs["data_quality"].ne("ok")]
        for _, r in flagged.iterrows():
            notes.append(f"{pd.Timestamp(r['period']):%b %Y} is marked {r['data_quality']}.")
    if (_get(measure, "frequency") or "monthly") == "monthly" and len(obs):
        have = set(pd.to_datetime(obs["period"]).dt.to_period("M"))
        start = min(have)
        end = pd.Period(f"{month:%Y-%m}", freq="M")
        missing = [p for p in pd.period_range(start, end, freq="M") if p not in have and p != end]
        if missing:
            shown = ", ".join(p.strftime("%b %Y") for p in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            notes.append(f"Missing months: {shown}{more}.")
    return notes


def measure_status(
    obs: Any,
    measure: Any,
    *,
    team: Any = None,
    annotations: Iterable[Any] = (),
    cycles: Iterable[Any] = (),
    month: Any = None,
) -> MeasureStatus:
    """The status of ``measure`` for ``team`` as of ``month``.

    ``obs`` holds the team's observations of the measure (``period``, ``numerator``,
    ``denominator``, ``value``, ``data_quality``); ``annotations`` the team's annotations for
    this measure or for all its charts; ``cycles`` its PDSA cycles. Only what existed by the
    end of ``month`` counts (default: the month of the latest observation). The chart is
    computed under the measure's governing rule set with every annotation applied by
    :func:`~qiwidgets.workbook.variation.compute_chart`, the one chart path.
    """
    import pandas as pd

    obs = obs if obs is not None else pd.DataFrame(columns=["period"])
    periods = pd.to_datetime(obs["period"]) if len(obs) else pd.Series([], dtype="datetime64[ns]")
    if month is None:
        month = month_start(periods.max()) if len(obs) else dt.date.today().replace(day=1)
    month = month_start(month)
    end = month_end(month)
    upto = obs[periods <= pd.Timestamp(end)] if len(obs) else obs
    ann = [a for a in annotations if _as_date(_get(a, "date")) <= end]
    mid = _get(measure, "id")
    rows = [r for r in chart_annotations(ann, cycles, mid) if r["date"] <= end]
    base = {
        "team_code": _get(team, "code") or "", "team_name": _get(team, "name") or "",
        "measure_id": mid, "measure_code": _get(measure, "code"), "measure_name": _get(measure, "name"),
        "measure_type": _get(measure, "measure_type") or "", "shared": _get(measure, "team_id") is None,
        "unit": unit_for(measure), "direction": _get(measure, "improvement_direction"),
        "target": _get(measure, "target"), "month": month, "rule_set": rule_set_for(measure),
        "chart_rows": tuple(rows),
    }  # fmt: skip
    name = base["measure_name"]
    in_month = (
        (pd.to_datetime(upto["period"]) >= pd.Timestamp(month)).to_numpy()
        if len(upto) else []
    )  # fmt: skip
    notes = _quality_notes(upto, month, measure)
    if not len(upto):
        return MeasureStatus(**base, reading=f"{name}: no data yet — enter this month's value "
                             "to start the chart.", notes=tuple(notes))  # fmt: skip
    try:
        view = compute_chart(upto, measure, base["rule_set"], ann)
    except QIError as exc:
        return MeasureStatus(**base, reading=f"{name}: {exc}", notes=(*notes, str(exc)))
    result = view.result
    pts = result.points
    plotted = pts[pts["y"].notna()]
    has_month = bool(len(plotted)) and _as_date(plotted["x"].iloc[-1]) >= month
    if not len(upto[in_month]):
        notes.insert(0, f"No value for {month:%B %Y} yet.")
    latest_period = _as_date(plotted["x"].iloc[-1]) if len(plotted) else None
    latest_value = float(plotted["y"].iloc[-1]) if len(plotted) else None
    if len(plotted) < 2:
        shown = "" if latest_value is None else f" ({_value_words(latest_value, base['unit'])}" \
            f" in {latest_period:%b %Y})"  # fmt: skip
        return MeasureStatus(
            **base, view=view, reading=f"{name}: one value so far{shown}; the chart and its "
            "signals need more points.", latest_period=latest_period, latest_value=latest_value,
            has_month_value=has_month, notes=(*notes, *view.notes),
        )  # fmt: skip
    verdict = result.latest()
    reading, changes = tell(view, measure, verdict, ann)
    suggestion = rebase_suggestion(view, changes[-1] if changes else None)
    variation = verdict.variation_type or "common_cause"
    assurance = ASSURANCES.get(verdict.assurance_type or "", "none")
    caveat = None
    if suggestion is not None and assurance != "none":
        caveat = "limits from before the change"
    before = None
    earlier = upto[pd.to_datetime(upto["period"]) < pd.Timestamp(month)]
    if len(earlier) >= 2:
        try:
            before = compute_chart(earlier, measure, base["rule_set"],
                                   [a for a in ann if _as_date(_get(a, "date")) < month])  # fmt: skip
        except QIError:
            before = None
    all_notes = [*notes, *view.notes]
    if suggestion is not None:
        all_notes.append(suggestion.text)
    return MeasureStatus(
        **base, view=view, variation=variation, assurance=assurance,
        variation_icon=verdict.variation_icon, assurance_icon=verdict.assurance_icon,
        assurance_caveat=caveat, reading=reading, latest_period=latest_period,
        latest_value=latest_value, has_month_value=has_month,
        new_signals=tuple(_new_signals(view, before)), changes=tuple(changes),
        sustained=_sustained(changes, variation, base["unit"]), rebase=suggestion,
        notes=tuple(dict.fromkeys(all_notes)),
    )  # fmt: skip


def _value_words(value: float, unit: str) -> str:
    from qiwidgets.spc.reading import format_number

    if not unit:
        return format_number(value)
    return f"{format_number(value)}{'' if unit == '%' else ' '}{unit}"


# --- a team ---------------------------------------------------------------------------------


@dataclass
class TeamRecords:
    """A team's records from the store (detached model objects), everything up to now."""

    programme: Any
    team: Any
    measures: list
    observations: Any
    annotations: list
    cycles: list
    reflections: list
    scores: list
    aim: Any


def team_records(db: Any, team: Any, programme: Any = None) -> TeamRecords:
    """Read a team's records from the store ``db`` once."""
    from qiwidgets.store import repo

    t = team if hasattr(team, "programme_id") else repo.get_team(db, team, programme)
    return TeamRecords(
        programme=repo.get_programme(db, t.programme_id), team=t,
        measures=repo.list_measures(db, t.id), observations=repo.observations(db, t.id),
        annotations=repo.list_annotations(db, t.id), cycles=repo.list_pdsa_cycles(db, t.id),
        reflections=repo.list_reflections(db, t.id), scores=repo.list_progress_scores(db, t.id),
        aim=repo.get_aim(db, t.id),
    )  # fmt: skip


def _in(d: Any, start: dt.date, end: dt.date) -> bool:
    return d is not None and start <= _as_date(d) <= end


@dataclass
class TeamStatus:
    """A team at a month: its family of measures and what the team did that month."""

    records: TeamRecords
    month: dt.date
    measures: list[MeasureStatus]
    pdsa_started: list = field(default_factory=list)
    pdsa_finished: list = field(default_factory=list)
    pdsa_planned: list = field(default_factory=list)
    month_reflections: list = field(default_factory=list)

    @property
    def team(self) -> Any:
        return self.records.team

    @property
    def code(self) -> str:
        return self.records.team.code

    @property
    def name(self) -> str:
        return self.records.team.name

    @property
    def score(self) -> Any:
        """This month's progress score, or None."""
        return next((s for s in self.records.scores if _as_date(s.month) == self.month), None)

    @property
    def latest_score(self) -> Any:
        scores = [s for s in self.records.scores if _as_date(s.month) <= month_end(self.month)]
        return max(scores, key=lambda s: s.month) if scores else None

    @property
    def help_needed(self) -> list[str]:
        return [r.what_did_not for r in self.month_reflections if r.what_did_not]

    def completeness(self) -> dict:
        with_value = [m.measure_code for m in self.measures if m.has_month_value]
        missing = [m.measure_code for m in self.measures if not m.has_month_value]
        n = len(self.measures)
        return {"measures": n, "with_value": len(with_value), "missing": missing,
                "percent": round(100 * len(with_value) / n) if n else 0}  # fmt: skip

    def measure(self, code: str) -> MeasureStatus | None:
        return next((m for m in self.measures if m.measure_code == code), None)


def team_status_from(records: TeamRecords, month: Any = None) -> TeamStatus:
    """A :class:`TeamStatus` from records already read (see :func:`team_status`)."""
    import pandas as pd

    obs = records.observations
    if month is None:
        month = (month_start(pd.to_datetime(obs["period"]).max()) if len(obs)
                 else dt.date.today().replace(day=1))  # fmt: skip
    month = month_start(month)
    end = month_end(month)
    statuses = []
    for measure in records.measures:
        own = obs[obs["measure_id"] == measure.id] if len(obs) else obs
        notes = [a for a in records.annotations if a.measure_id in (None, measure.id)]
        statuses.append(measure_status(own, measure, team=records.team, annotations=notes,
                                       cycles=records.cycles, month=month))  # fmt: skip
    cycles = records.cycles
    return TeamStatus(
        records=records, month=month, measures=statuses,
        pdsa_started=[c for c in cycles if _in(c.do_start, month, end)],
        pdsa_finished=[c for c in cycles if _in(c.act_date, month, end)
                       or (c.act_date is None and _in(c.study_date, month, end))],
        pdsa_planned=[c for c in cycles
                      if (c.do_start is None or _as_date(c.do_start) > end) and c.act is None],
        month_reflections=[r for r in records.reflections if _in(r.date, month, end)],
    )  # fmt: skip


def team_status(db: Any, team: Any, month: Any = None, *, programme: Any = None) -> TeamStatus:
    """Where ``team`` stands at ``month`` (default: the month of its latest observation)."""
    return team_status_from(team_records(db, team, programme), month)


# --- the programme ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrightSpot:
    """A bright spot: the team, and the shared outcome measures that show its improvement."""

    team_code: str
    team_name: str
    measures: tuple[MeasureStatus, ...]

    def why(self) -> str:
        out = []
        for m in self.measures:
            if m.variation == "special_cause_improvement":
                out.append(f"{m.measure_name}: special cause improvement")
            else:
                out.append(f"{m.measure_name}: {m.sustained}")
        return "; ".join(out)


@dataclass
class ProgrammeStatus:
    """Every team of a programme at a month, and the programme's bright spots and teams that
    may need support (one rule each: :data:`BRIGHT_SPOT_RULE`, :data:`SUPPORT_RULE`)."""

    programme: Any
    month: dt.date
    teams: list[TeamStatus]
    shared: list
    #: Teams whose records could not be read, by code: (name, what went wrong).
    unreadable: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def outcome(self) -> Any:
        """The shared outcome measure read across teams (the first one), or None."""
        return next((m for m in self.shared if m.measure_type == "outcome"), None)

    def bright_spots(self) -> list[BrightSpot]:
        out = []
        for t in self.teams:
            hits = tuple(m for m in t.measures
                         if m.shared and m.measure_type == "outcome" and m.improving)  # fmt: skip
            if hits:
                out.append(BrightSpot(t.code, t.name, hits))
        return out

    def changes_taking_hold(self) -> list[tuple[TeamStatus, list[MeasureStatus]]]:
        """Teams whose process measures show improvement: a change taking hold (not a bright
        spot)."""
        out = []
        for t in self.teams:
            hits = [m for m in t.measures if m.measure_type == "process" and m.improving]
            if hits:
                out.append((t, hits))
        return out

    def support(self) -> list[tuple[TeamStatus, list[str]]]:
        """Teams that may need support, with the reasons in plain words."""
        out = []
        for t in self.teams:
            reasons = support_reasons(t)
            if reasons:
                out.append((t, reasons))
        return out

    def team(self, code: str) -> TeamStatus | None:
        return next((t for t in self.teams if t.code == code), None)


def support_reasons(t: TeamStatus) -> list[str]:
    """Why ``t`` may need support this month (:data:`SUPPORT_RULE`), in plain words; empty
    when no reason applies. The programme's list and a team's month summary both use it."""
    reasons = []
    concern = [m.measure_name for m in t.measures if m.concern]
    if concern:
        reasons.append("special cause concern on " + ", ".join(concern))
    if t.help_needed:
        reasons.append("asked for help: " + " / ".join(t.help_needed))
    c = t.completeness()
    if c["with_value"] < c["measures"]:
        n = c["measures"] - c["with_value"]
        reasons.append(f"{n} measure{'s' if n != 1 else ''} without data this month")
    improving = any(m.improving for m in t.measures)
    if not improving and not (t.pdsa_started or t.pdsa_finished or t.pdsa_planned):
        reasons.append("no PDSA cycle started, finished or planned, and no improvement yet")
    s = t.score
    if s is not None and s.team_score is not None and s.lead_score is not None and (
            abs(s.team_score - s.lead_score) >= SCORE_GAP):  # fmt: skip
        reasons.append(f"the team ({s.team_score:.1f}) and the lead ({s.lead_score:.1f}) "
                       "see progress differently")  # fmt: skip
    return reasons


def programme_status(db: Any, programme: Any = None, month: Any = None, *,
                     teams: Sequence[str] | None = None) -> ProgrammeStatus:  # fmt: skip
    """Every team of the programme at ``month`` (default: the month of the programme's latest
    observation); ``teams`` limits it to some team codes."""
    import logging

    import pandas as pd

    from qiwidgets.store import repo

    prog = repo.get_programme(db, programme)
    chosen = [t for t in repo.list_teams(db, prog.id) if teams is None or t.code in teams]
    records, unreadable = [], {}
    for t in chosen:  # one team's unreadable record never hides the others
        try:
            records.append(team_records(db, t))
        except Exception as exc:
            logging.getLogger("qiwidgets.workbook").warning(
                "Could not read the records of team %s", t.code, exc_info=True)  # fmt: skip
            unreadable[t.code] = (t.name, str(exc) if isinstance(exc, QIError) else
                                  f"a record could not be read ({type(exc).__name__})")  # fmt: skip
    if month is None:
        latest = [pd.to_datetime(r.observations["period"]).max() for r in records
                  if len(r.observations)]  # fmt: skip
        month = month_start(max(latest)) if latest else dt.date.today().replace(day=1)
    statuses = [team_status_from(r, month) for r in records]
    shared = repo.list_measures(db, None, prog.id)
    return ProgrammeStatus(prog, month_start(month), statuses, shared, unreadable)


__all__ = [
    "ASSURANCES",
    "BRIGHT_SPOT_RULE",
    "SCORE_GAP",
    "SUPPORT_RULE",
    "VARIATIONS",
    "BrightSpot",
    "MeasureStatus",
    "ProgrammeStatus",
    "TeamRecords",
    "TeamStatus",
    "measure_status",
    "month_end",
    "month_start",
    "programme_status",
    "support_reasons",
    "team_records",
    "team_status",
    "team_status_from",
]
