"""One measure of a team's family for one month: its chart, icons, new signals and data notes.

The statistics come from :mod:`qiwidgets.spc`; this module only decides which chart a measure
asks for, prepares the series from the store's tidy observations, and compares the chart up to
the report month with the chart up to the month before, so that a report can say which signals
are *new this month*.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.errors import QIError
from qiwidgets.reports.params import Month
from qiwidgets.spc import control_chart, mdc_chart
from qiwidgets.spc.constants import MDC_MIN_FIX_AFTER
from qiwidgets.spc.reading import format_number, format_x

__all__ = ["MeasureMonth", "analyse_measure", "chart_data"]

#: Charts whose value is numerator / denominator.
_RATIO_CHARTS = ("p", "pp", "u", "up")
#: Charts of counts (the numerator, or the value when there is no numerator).
_COUNT_CHARTS = ("c", "g", "t")
#: Annotation kinds that start new limits.
_REBASE_KINDS = ("rebase", "phase")


@dataclass
class MeasureMonth:
    """What a report shows for one measure."""

    code: str
    name: str
    measure_type: str
    chart_type: str
    unit: str | None
    direction: str | None
    target: float | None
    result: Any = None  # SPCResult up to the report month, None without data
    rule_set: str | None = None
    reading: str = ""
    latest_period: pd.Timestamp | None = None
    latest_value: float | None = None
    has_month_value: bool = False
    variation_icon: str | None = None
    assurance_icon: str | None = None
    new_signals: list[str] = field(default_factory=list)
    sustained: str | None = None  # a rebased phase better than the first one, in words
    annotations: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def improvement_signal(self) -> bool:
        """Special-cause improvement at the latest point (a bright spot on this measure)."""
        return bool(self.variation_icon and self.variation_icon.startswith("improvement"))

    @property
    def concern_signal(self) -> bool:
        return bool(self.variation_icon and self.variation_icon.startswith("concern"))

    def summary(self) -> dict:
        """The JSON-safe part the programme report is built from."""
        return {
            "code": self.code,
            "name": self.name,
            "measure_type": self.measure_type,
            "chart_type": self.chart_type,
            "rule_set": self.rule_set,
            "latest_period": None if self.latest_period is None else f"{self.latest_period:%Y-%m}",
            "latest_value": _json_number(self.latest_value),
            "target": _json_number(self.target),
            "has_month_value": self.has_month_value,
            "variation_icon": self.variation_icon,
            "assurance_icon": self.assurance_icon,
            "new_signals": list(self.new_signals),
            "sustained": self.sustained,
            "reading": self.reading,
        }


def _json_number(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def chart_data(measure: Any, obs: pd.DataFrame) -> tuple[pd.DataFrame, str, dict]:
    """``(data, chart, kwargs)``: the series to chart (columns ``period``, ``y``, maybe ``n``).

    The chart is the measure's ``chart_type`` (a run chart when none is set).
    """
    chart = measure.chart_type or "run"
    d = obs.sort_values("period")
    num, den, val = d["numerator"], d["denominator"], d["value"]
    kwargs: dict[str, Any] = {}
    if chart in _RATIO_CHARTS:
        frame = pd.DataFrame({"period": d["period"], "y": num, "n": den})
        kwargs["multiply"] = float(measure.multiplier or (100 if chart in ("p", "pp") else 1))
        kwargs["n"] = "n"
    elif chart in _COUNT_CHARTS:
        frame = pd.DataFrame({"period": d["period"], "y": num.where(num.notna(), val)})
    else:
        mult = float(measure.multiplier or 1)
        ratio = num / den * mult
        y = val.where(val.notna(), ratio.where(den.notna() & (den > 0), num))
        frame = pd.DataFrame({"period": d["period"], "y": y})
    return frame.reset_index(drop=True), chart, kwargs


def _compute(measure, frame: pd.DataFrame, chart: str, kwargs: dict, rebase: list, notes: list):
    """The SPC result for ``frame`` (warnings become data-quality notes)."""
    label = measure.name
    direction = measure.improvement_direction
    target = measure.target
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if chart == "xmr":
            fix = None
            if measure.baseline_end is not None:
                fix = int((frame["period"] <= pd.Timestamp(measure.baseline_end)).sum())
                if fix < MDC_MIN_FIX_AFTER:
                    notes.append(
                        f"The baseline holds {fix} points, fewer than {MDC_MIN_FIX_AFTER}: the "
                        "limits are computed on all points instead."
                    )
                    fix = None
            result = mdc_chart(
                frame, x="period", y="y", improvement=direction or "neutral", target=target,
                rebase=[pd.Timestamp(d) for d in rebase] or None, fix_after_n_points=fix,
                label=label,
            )  # fmt: skip
        else:
            parts = sorted({int((frame["period"] < pd.Timestamp(d)).sum()) for d in rebase})
            parts = [p for p in parts if 0 < p < len(frame)]
            freeze = None
            if measure.baseline_end is not None and not parts:
                freeze = int((frame["period"] <= pd.Timestamp(measure.baseline_end)).sum()) or None
                if freeze is not None and freeze >= len(frame):
                    freeze = None
            result = control_chart(
                frame, x="period", y="y", chart=chart, target=target, label=label,
                improvement=direction, part=parts or None, freeze=freeze, **kwargs,
            )  # fmt: skip
    for w in caught:
        text = str(w.message)
        if text not in notes:
            notes.append(text)
    return result


def _qic_icons(result, direction: str | None, target: float | None) -> tuple[str | None, str | None]:
    """Making Data Count icons read from a qicharts2-style result.

    Variation: the latest point is special cause when it is outside the limits or belongs to a
    part with a runs signal; high or low by its side of the centre line; improvement or concern
    by the measure's direction. Assurance: where the last part's limits lie against the target.
    """
    pts = result.points
    valid = pts[pts["y"].notna()]
    if valid.empty:
        return None, None
    last = valid.iloc[-1]
    part = pts[pts["part"] == last["part"]]
    special = bool(last.get("sigma_signal", False)) or bool(part["runs_signal"].any())
    side = "high" if last["y"] > last["cl"] else "low"
    if not special or last["y"] == last["cl"]:
        variation = "common_cause"
    elif direction in ("increase", "decrease"):
        good = (side == "high") == (direction == "increase")
        variation = f"{'improvement' if good else 'concern'}_{side}"
    else:
        variation = f"neutral_{side}"
    assurance = None
    lcl, ucl = last.get("lcl"), last.get("ucl")
    if (
        target is not None
        and direction in ("increase", "decrease")
        and lcl is not None
        and ucl is not None
        and np.isfinite(lcl)
        and np.isfinite(ucl)
    ):
        if direction == "increase":
            assurance = "pass" if lcl > target else "fail" if ucl < target else "hit_and_miss"
        else:
            assurance = "pass" if ucl < target else "fail" if lcl > target else "hit_and_miss"
    return variation, assurance


def _signal_points(result) -> dict[pd.Timestamp, str]:
    """Period -> why it is special cause, for every flagged point of a result."""
    pts = result.points
    out: dict[pd.Timestamp, str] = {}
    if "special_cause_flag" in pts:  # Making Data Count
        flagged = pts[pts["special_cause_flag"].astype(bool)]
        for _, r in flagged.iterrows():
            out[pd.Timestamp(r["x"])] = f"{r['special_cause_type']} ({str(r['point_type']).replace('_', ' ')})"
        return out
    for _, r in pts[pts["sigma_signal"].astype(bool)].iterrows():
        where = "above the upper limit" if r["y"] > r["ucl"] else "below the lower limit"
        out[pd.Timestamp(r["x"])] = f"a point {where}"
    return out


def _new_signals(now, before, month: Month) -> list[str]:
    """Signals in the chart up to ``month`` that the chart up to the month before did not show."""
    out = []
    now_pts = _signal_points(now)
    old_pts = _signal_points(before) if before is not None else {}
    for x, why in sorted(now_pts.items()):
        if old_pts.get(x) != why:
            out.append(f"{format_x(x)}: {why}")
    if "runs_signal" in now.summary:
        now_runs = bool(now.summary["runs_signal"].iloc[-1])
        old_runs = before is not None and bool(before.summary["runs_signal"].iloc[-1])
        if now_runs and not old_runs:
            centre = "median" if now.chart in ("run", "g") else "centre line"
            out.append(
                f"{month.first_day:%b %Y}: a non-random run ({now.rule_set} rules: an unusually "
                f"long run or too few crossings of the {centre})"
            )
    return out


def analyse_measure(
    measure: Any,
    obs: pd.DataFrame,
    month: Month,
    annotations: list[dict],
    pdsa_markers: list[dict],
) -> MeasureMonth:
    """Chart ``measure`` on ``obs`` (its observations up to the month) for a monthly report.

    ``annotations`` and ``pdsa_markers`` are dicts with ``date``, ``text``, ``kind`` (for this
    measure or the whole team). Raises QIError subclasses when the data cannot be charted.
    """
    mm = MeasureMonth(
        code=measure.code, name=measure.name, measure_type=measure.measure_type,
        chart_type=measure.chart_type or "run", unit=measure.unit,
        direction=measure.improvement_direction, target=measure.target,
    )  # fmt: skip
    mm.annotations = sorted(annotations + pdsa_markers, key=lambda a: (a["date"], a["text"]))
    frame, chart, kwargs = chart_data(measure, obs)
    frame = frame[frame["y"].notna()].reset_index(drop=True)
    month_ts = pd.Timestamp(month.first_day)
    month_end = pd.Timestamp(month.last_day)
    in_month = (frame["period"] >= month_ts) & (frame["period"] <= month_end)
    mm.has_month_value = bool(in_month.any())
    if frame.empty:
        mm.reading = f"{measure.name}: no data yet."
        mm.notes.append("No data have been entered for this measure yet.")
        return mm
    if not mm.has_month_value:
        mm.notes.append(f"No value for {month.label()} yet.")
    _missing_periods(frame, measure, month, mm.notes)
    quality = obs[obs["data_quality"].ne("ok")]
    for _, r in quality.iterrows():
        mm.notes.append(f"{format_x(r['period'])} is marked {r['data_quality']}.")
    rebase = [a["date"] for a in annotations if a["kind"] in _REBASE_KINDS]
    for a in annotations:
        if a["kind"] in _REBASE_KINDS:
            mm.notes.append(
                f"Limits recalculated from {format_x(pd.Timestamp(a['date']))} ({a['kind']}): "
                f"{a.get('reason') or a['text']}"
            )
    if len(frame) < 2:
        mm.notes.append("Only one value so far: the chart needs more points.")
        mm.latest_period = frame["period"].iloc[-1]
        mm.latest_value = float(frame["y"].iloc[-1]) * float(kwargs.get("multiply", 1)) / (
            float(frame["n"].iloc[-1]) if "n" in frame else 1.0
        )
        mm.reading = f"{measure.name}: one value so far, {format_number(mm.latest_value)}."
        return mm
    result = _compute(measure, frame, chart, kwargs, rebase, mm.notes)
    earlier = frame[frame["period"] < month_ts]
    before = None
    if len(earlier) >= 2:
        try:
            before = _compute(measure, earlier, chart, kwargs, rebase, [])
        except QIError:
            before = None
    mm.result = result
    mm.rule_set = result.rule_set
    mm.reading = result.reading
    pts = result.points[result.points["y"].notna()]
    mm.latest_period = pd.Timestamp(pts["x"].iloc[-1])
    mm.latest_value = float(pts["y"].iloc[-1])
    if "variation_icon" in result.summary:
        last = result.summary.iloc[-1]
        v, a = last.get("variation_icon"), last.get("assurance_icon")
        mm.variation_icon = v if isinstance(v, str) else None
        mm.assurance_icon = a if isinstance(a, str) else None
    else:
        mm.variation_icon, mm.assurance_icon = _qic_icons(result, mm.direction, mm.target)
    mm.new_signals = _new_signals(result, before, month)
    mm.sustained = _sustained(result, mm.direction)
    return mm


def _sustained(result, direction: str | None) -> str | None:
    """A later phase whose centre line is better than the first phase's (limits rebased after
    a change that held): improvement that no longer shows as a signal inside the last phase."""
    s = result.summary
    group = "part" if "part" in s else "rebase_group" if "rebase_group" in s else None
    if group is None or direction not in ("increase", "decrease") or s[group].nunique() < 2:
        return None
    first, last = float(s["cl"].iloc[0]), float(s["cl"].iloc[-1])
    better = last > first if direction == "increase" else last < first
    if not better or not (np.isfinite(first) and np.isfinite(last)):
        return None
    pts = result.points
    since = pts.loc[pts[group] == s[group].iloc[-1], "x"].min()
    return (
        f"sustained improvement: new limits since {format_x(since)}, the centre line moved from "
        f"{format_number(first)} to {format_number(last)}"
    )


def _missing_periods(frame: pd.DataFrame, measure: Any, month: Month, notes: list[str]) -> None:
    """Monthly measures: months between the first value and the report month without a value."""
    if (measure.frequency or "monthly") != "monthly":
        return
    have = set(frame["period"].dt.to_period("M"))
    start = frame["period"].min().to_period("M")
    end = pd.Period(str(month), freq="M")
    missing = [p for p in pd.period_range(start, end, freq="M") if p not in have]
    missing = [p for p in missing if p != end]  # the report month is noted on its own
    if missing:
        shown = ", ".join(p.strftime("%b %Y") for p in missing[:6])
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        notes.append(f"Missing months: {shown}{more}.")
