"""A chart's reading as a story: what changed and when, judged against the better direction.

The engine's verdict (:meth:`qiwidgets.spc.SPCResult.latest`) says where the latest point
stands; :func:`tell` puts it into words and adds what led there (docs/domain.md, "Telling the
story"):

* across phases (limits recalculated after a change that held) the reading names each change:
  *"fell from 7.56 to 3.93 per 1,000 bed days after the change in Nov 2024"*, then how the
  latest phase behaves (*"stable since"*, or its signal);
* on a chart of one phase, a shift is one change: the points before it on one side of the
  centre line, the points since on the other. Its direction is judged against the measure's
  better direction; a long run before the change does not make the chart a concern;
* a baseline that a sustained shift has left behind is said, with the month to recalculate
  the limits from (:func:`rebase_suggestion`).

Words only: the signals and the verdict come from :mod:`qiwidgets.spc`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from typing import Any

from qiwidgets import glossary
from qiwidgets.spc.reading import CENTRE_NAME, format_number
from qiwidgets.workbook.inputs import _as_date, _get
from qiwidgets.workbook.measures import unit_for
from qiwidgets.workbook.variation import MIN_PHASE_POINTS, ChartView, SignalEvent, signal_events

#: The verdict in words, by ``variation_type`` (the domain's terms).
VERDICT_WORDS = {
    "common_cause": "common cause variation only",
    "special_cause_improvement": "special cause improvement",
    "special_cause_concern": "special cause concern",
    "special_cause_neutral": "special cause variation",
}


@dataclass(frozen=True)
class Change:
    """A change the chart shows: the level ``before`` and ``after`` (centre lines, or the
    means either side of a shift), the first period ``since`` the change, and whether it is
    ``better`` (None when the measure has no better direction)."""

    before: float
    after: float
    since: dt.date
    better: bool | None
    phase: bool  # limits were recalculated at the change (a new phase)
    reason: str | None = None

    def words(self, unit: str) -> str:
        verb = "rose" if self.after > self.before else "fell" if self.after < self.before else (
            "stayed")  # fmt: skip
        what = f"{verb} from {format_number(self.before)} to {format_number(self.after)}"
        what += f" {unit}" if unit and unit != "%" else unit
        when = f"after the change in {self.since:%b %Y}" if self.phase else (
            f"from {self.since:%b %Y}")  # fmt: skip
        judged = {True: " (better)", False: " (worse)"}.get(self.better, "")
        reason = f": {self.reason}" if self.reason else ""
        return f"{what} {when}{judged}{reason}"


@dataclass(frozen=True)
class RebaseSuggestion:
    """A sustained shift that the limits do not describe: the limits are from before it."""

    since: dt.date
    points: int
    text: str


def _better(after: float, before: float, direction: str | None) -> bool | None:
    if direction not in ("increase", "decrease") or after == before:
        return None
    return (after > before) == (direction == "increase")


def _group_column(pts) -> str | None:
    if "part" in pts:
        return "part"
    if "rebase_group" in pts:
        return "rebase_group"
    return None


def _centre_column(pts) -> str:
    return "cl" if "cl" in pts else "mean_col"


def phase_changes(view: ChartView, measure: Any, annotations: Any = ()) -> list[Change]:
    """The change at each new phase: the centre line before and after it."""
    pts = view.result.points
    group = _group_column(pts)
    if group is None:
        return []
    cl = _centre_column(pts)
    reasons = {
        _as_date(_get(a, "date")): (_get(a, "reason") or "").strip() or None
        for a in annotations if _get(a, "kind") in ("phase", "rebase")
    }  # fmt: skip
    out = []
    groups = list(dict.fromkeys(pts[group].tolist()))
    for prev, nxt in itertools.pairwise(groups):
        a = pts[pts[group] == prev]
        b = pts[pts[group] == nxt]
        before, after = float(a[cl].iloc[-1]), float(b[cl].iloc[0])
        since = _as_date(b["x"].iloc[0])
        reason = next((r for d, r in sorted(reasons.items()) if d <= since and r), None)
        direction = _get(measure, "improvement_direction")
        out.append(Change(before, after, since, _better(after, before, direction), True, reason))
    return out


def _sides(pts) -> list[int]:
    cl = _centre_column(pts)
    out = []
    for y, c in zip(pts["y"].astype(float), pts[cl].astype(float), strict=True):
        out.append(0 if not (math.isfinite(y) and math.isfinite(c)) or y == c else (1 if y > c
                                                                                    else -1))  # fmt: skip
    return out


def shift_change(view: ChartView, measure: Any) -> tuple[Change | None, str | None]:
    """On the latest phase, what its most recent shift (an unusually long run) says:
    ``(change, episode)``.

    * The run goes on to the latest point: a change where it began.
    * The points after the run went to the other side of the centre line: a change where they
      went (the long run was the process before the change).
    * The points after the run are on both sides: no change, an ``episode`` in words (the
      level was higher or lower for a while, then came back).

    A change's levels are the means of the points before and since it.
    """
    events = [e for e in signal_events(view.result) if e.kind in ("shift", "special cause")]
    pts = view.result.points.reset_index(drop=True)
    group = _group_column(pts)
    if group is not None:
        last_group = pts[group].iloc[-1]
        first_x = _as_date(pts.loc[pts[group] == last_group, "x"].iloc[0])
        events = [e for e in events if e.start >= first_x]
        pts = pts[pts[group] == last_group].reset_index(drop=True)
    runs = [e for e in events if e.direction is not None and _run_length(pts, e) >= 2]
    if not runs:
        return None, None
    ev = runs[-1]
    xs = [_as_date(x) for x in pts["x"]]
    sides = _sides(pts)
    end = xs.index(ev.end)
    after_side = [s for s in sides[end + 1 :] if s]
    run_side = 1 if ev.direction == "up" else -1
    if after_side and sum(1 for s in after_side if s == -run_side) <= len(after_side) / 2:
        centre = CENTRE_NAME.get(view.chart, "mean")
        where = "higher" if run_side > 0 else "lower"
        n = _run_length(pts, ev)
        return None, (f"{where} for a while: {n} points in a row {'above' if run_side > 0 else 'below'}"
                      f" the {centre} from {ev.start:%b %Y} to {ev.end:%b %Y}; on both sides of the "
                      f"{centre} since")  # fmt: skip
    since = xs[end + 1] if after_side else ev.start
    i = xs.index(since)
    y = pts["y"].astype(float)
    before, after = y.iloc[:i], y.iloc[i:]
    if before.dropna().empty or after.dropna().empty:
        return None, None
    b, a = float(before.mean()), float(after.mean())
    change = Change(b, a, since, _better(a, b, _get(measure, "improvement_direction")), False)
    return change, None


def _run_length(pts, ev: SignalEvent) -> int:
    xs = [_as_date(x) for x in pts["x"]]
    if ev.start not in xs or ev.end not in xs:
        return 0
    return xs.index(ev.end) - xs.index(ev.start) + 1


def rebase_suggestion(view: ChartView, change: Change | None) -> RebaseSuggestion | None:
    """When a sustained shift has left the limits behind: the limits are frozen on a baseline
    before it (or span it), and the shift has held for :data:`MIN_PHASE_POINTS` points or more
    up to the latest point. Making Data Count advises recalculating them from the shift's
    start, with the reason (docs/domain.md, "Recalculating limits")."""
    if change is None or change.phase:
        return None
    pts = view.result.points
    xs = [_as_date(x) for x in pts["x"]]
    n = sum(1 for x in xs if x >= change.since)
    if n < MIN_PHASE_POINTS:
        return None
    sides = _sides(pts.reset_index(drop=True))
    i = xs.index(change.since)
    held = [s for s in sides[i:] if s]
    if not held or len(set(held)) != 1:  # the shift must still hold at every point since
        return None
    frozen = view.options.freeze or view.options.fix_after_n_points
    where = (
        f"the baseline they are frozen on (to {xs[frozen - 1]:%b %Y}) is from before the change"
        if frozen and frozen <= i
        else "they are calculated across the change"
    )
    text = (
        f"The limits no longer describe the process: {where}. The shift has held for {n} points "
        f"since {change.since:%b %Y}; consider recalculating the limits from {change.since:%b %Y},"
        " with the reason for the change."
    )
    return RebaseSuggestion(change.since, n, text)


def tell(view: ChartView, measure: Any, verdict: Any, annotations: Any = ()) -> tuple[
        str, list[Change]]:  # fmt: skip
    """The reading of a chart, and the changes it names.

    ``verdict`` is the engine's :meth:`~qiwidgets.spc.SPCResult.latest` for the chart: the
    reading starts with it, so the words and the icons come from the same rule set.
    """
    name = _get(measure, "name") or _get(measure, "code") or "The measure"
    unit = unit_for(measure)
    rule = glossary.label(view.rule_set)
    head = f"{name}: {VERDICT_WORDS.get(verdict.variation_type, 'no verdict')} ({rule})"
    changes = phase_changes(view, measure, annotations)
    shift, episode = shift_change(view, measure)
    pieces = [c.words(unit) for c in changes]
    pts = view.result.points
    if episode is not None:
        pieces.append(episode)
    if changes and shift is None:
        since = changes[-1].since
        pieces.append(f"no signal within the new limits since {since:%b %Y}" if
                      verdict.variation_type == "common_cause" else _signals_words(view, since))  # fmt: skip
    elif shift is not None:
        pieces.append(shift.words(unit))
        changes = [*changes, shift]
    else:
        signals = _signals_words(view, None)
        if signals:
            pieces.append(signals)
        elif episode is None:
            centre = CENTRE_NAME.get(view.chart, "mean")
            cl = _centre_column(pts)
            last = pts[cl].astype(float)
            level = float(last.iloc[-1]) if len(last) else float("nan")
            what = "run chart" if view.chart == "run" else "chart"
            pieces.append(f"no signal on this {what}; the {centre} is {format_number(level)}"
                          + (f" {unit}" if unit and unit != "%" else unit))  # fmt: skip
    sentence = head + " — " + "; ".join(pieces)
    latest = pts[pts["y"].notna()]
    target = _get(measure, "target")
    if len(latest):
        y = float(latest["y"].iloc[-1])
        when = _as_date(latest["x"].iloc[-1])
        tail = f"latest {format_number(y)}{'' if unit in ('', '%') else ' '}{unit} ({when:%b %Y})"
        if target is not None:
            tail += f" against a target of {format_number(float(target))}"
        sentence += f"; {tail}"
    return sentence + ".", changes


def _signals_words(view: ChartView, since: dt.date | None) -> str:
    """The signals of the latest phase that are not shifts: points outside the limits, trends."""
    words = []
    events = [e for e in signal_events(view.result) if since is None or e.start >= since]
    outside = [e for e in events if e.kind == "outside"]
    if outside:
        last = outside[-1]
        side = {"up": "above", "down": "below"}.get(last.direction or "", "outside")
        n = len(outside)
        words.append(f"{n} point{'s' if n > 1 else ''} outside the limits, the latest in "
                     f"{last.end:%b %Y} ({side})")  # fmt: skip
    trends = [e for e in events if e.kind == "trend"]
    if trends:
        way = "up" if trends[-1].direction == "up" else "down"
        words.append(f"a trend going {way} since {trends[-1].start:%b %Y}")
    return "; ".join(words)


__all__ = ["VERDICT_WORDS", "Change", "RebaseSuggestion", "phase_changes", "rebase_suggestion",
           "shift_change", "tell"]  # fmt: skip
