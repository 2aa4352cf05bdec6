"""Plain-language readings of chart results: one sentence a ward sister understands.

The wording is shared with the reports and dashboards (the *shared language* of a learning
system): say which rule set found what, since when, in the measure's own words, and never rank
teams.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.errors import SPCDataError
from qiwidgets.spc.constants import IHI_SHIFT, IHI_TREND
from qiwidgets.spc.result import NO_POINTS_MESSAGE

#: How each chart's centre line is named in a reading.
CENTRE_NAME = {"run": "median", "g": "median"}


def format_x(value: Any) -> str:
    """A period as people say it: 'Aug 2026' for dates, the number otherwise."""
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "strftime"):
        ts = pd.Timestamp(value)
        if ts.day == 1:
            return ts.strftime("%b %Y")
        return ts.strftime("%d %b %Y").lstrip("0")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def format_number(value: float) -> str:
    """A number with sensible precision and thousands separators."""
    if value is None or not np.isfinite(value):
        return "n/a"
    a = abs(value)
    if a >= 100:
        return f"{value:,.0f}"
    if a >= 10:
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    if a >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _direction_word(side: float, improvement: str | None) -> str:
    if side and improvement in ("increase", "decrease"):
        good = (side > 0) == (improvement == "increase")
        return "special cause improvement" if good else "special cause concern"
    return "special cause variation"


def _series_sentence(pts: pd.DataFrame, summ: pd.DataFrame, options: dict) -> str:
    if len(pts) == 0:
        raise SPCDataError(NO_POINTS_MESSAGE)
    label = options.get("label") or options.get("y") or "The measure"
    improvement = options.get("improvement")
    chart = options["chart"]
    rule = "IHI rules" if options.get("rule_set") == "ihi" else "Anhøj rules"
    last_part = pts[pts["part"] == pts["part"].max()]
    s_last = summ[summ["part"] == summ["part"].max()].iloc[0]
    centre = CENTRE_NAME.get(chart, "mean")
    found: list[str] = []
    side = 0.0

    # a run/shift that is still going on matters most: find the latest unusually long run
    y = last_part["y"].to_numpy(dtype=float)
    cl = last_part["cl"].to_numpy(dtype=float)
    xs = last_part["x"].to_numpy()
    with np.errstate(invalid="ignore"):
        sides = np.sign(y - cl)
    useful = np.flatnonzero(np.isfinite(sides) & (sides != 0) & last_part["include"].to_numpy())
    if options.get("rule_set") == "ihi":
        run = _latest_long_run(sides[useful], IHI_SHIFT - 1)
        if run is not None:
            start, end = run
            side = float(sides[useful[end]])
            found.append(
                f"a shift: {end - start + 1} points in a row {'above' if side > 0 else 'below'} "
                f"the median {_span(xs, useful, start, end)}"
            )
        if last_part["trend"].any():
            in_trend = np.flatnonzero(last_part["trend"].to_numpy())
            way = float(np.sign(y[in_trend[-1]] - y[in_trend[-2]]))  # the latest trend's way
            if not side:  # judged the way the engine's point types judge it
                side = way
            found.append(
                f"a trend of {IHI_TREND} or more points going {'up' if way > 0 else 'down'}"
            )
    elif bool(s_last["runs_signal"]) and chart != "mr":
        run = _latest_long_run(sides[useful], s_last["longest_run_max"])
        if run is not None:
            start, end = run
            side = float(sides[useful[end]])
            found.append(
                f"{end - start + 1} points in a row {'above' if side > 0 else 'below'} the "
                f"{centre} {_span(xs, useful, start, end)}"
            )
        else:
            found.append(
                f"only {int(s_last['n_crossings'])} crossings of the {centre} "
                f"(fewer than {int(s_last['n_crossings_min'])} would be expected by chance)"
            )
    n_out = int(last_part["sigma_signal"].sum())
    if n_out:
        last_out = np.flatnonzero(last_part["sigma_signal"].to_numpy())[-1]
        above = y[last_out] > cl[last_out]
        if not side:
            side = 1.0 if above else -1.0
        found.append(
            f"{n_out} point{'s' if n_out > 1 else ''} outside the control limits, the latest in "
            f"{format_x(xs[last_out])} ({'above' if above else 'below'})"
        )
    if found:
        sentence = f"{label}: {_direction_word(side, improvement)} ({rule}) — " + "; ".join(found)
    else:
        what = "run chart" if chart == "run" else "chart"
        sentence = (
            f"{label}: common cause variation only ({rule}) — no signal on this {what}; "
            f"the {centre} is {format_number(float(cl[-1]) if len(cl) else np.nan)}"
        )
    target = options.get("target")
    if target is not None and len(y):
        latest = y[np.isfinite(y)][-1] if np.isfinite(y).any() else np.nan
        sentence += f"; latest value {format_number(latest)} against a target of {format_number(target)}"
    return sentence + "."


def _span(xs, useful: np.ndarray, start: int, end: int) -> str:
    """'since Aug 2026' for a run still going on at the latest point, else 'from .. to ..'."""
    first = format_x(xs[useful[start]])
    if end == len(useful) - 1:
        return f"since {first}"
    return f"from {first} to {format_x(xs[useful[end]])}"


def _latest_long_run(sides: np.ndarray, limit: float) -> tuple[int, int] | None:
    """(start, end) of the most recent run of equal sides longer than ``limit``, or None."""
    if not len(sides):
        return None
    change = np.flatnonzero(sides[1:] != sides[:-1]) + 1
    starts = np.r_[0, change]
    ends = np.r_[change - 1, len(sides) - 1]
    long = np.flatnonzero(ends - starts + 1 > limit)
    if not long.size:
        return None
    return int(starts[long[-1]]), int(ends[long[-1]])


def control_chart_readings(points, summary, facet_cols, options):
    """One sentence per facet for a :func:`qiwidgets.spc.control_chart` result, built lazily.

    ``points`` and ``summary`` are functions returning the result's tables (they are built
    only when a reading is first asked for).
    """
    from qiwidgets.spc.result import LazyReadings

    if not facet_cols:
        return LazyReadings([None], lambda _key: _series_sentence(points(), summary(), options))
    cols = list(facet_cols)
    spans: dict = {}

    def keys() -> list:
        pts, summ = points(), summary()
        codes = pts.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
        first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        keyframe = pts[cols].iloc[first]
        found = [k[0] if len(cols) == 1 else tuple(k) for k in keyframe.itertuples(index=False)]
        scodes = summ.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
        sfirst = np.flatnonzero(np.r_[True, scodes[1:] != scodes[:-1]])
        for key, a, b, sa, sb in zip(found, first, np.r_[first[1:], len(pts)], sfirst,
                                     np.r_[sfirst[1:], len(summ)]):  # fmt: skip
            spans[key] = (a, b, sa, sb)
        return found

    def build(key):
        a, b, sa, sb = spans[key]
        return _series_sentence(points().iloc[a:b], summary().iloc[sa:sb], options)

    return LazyReadings(keys, build)
