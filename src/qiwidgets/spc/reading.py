"""Plain-language readings of chart results: one sentence a ward sister understands.

The wording is shared with the reports and dashboards (the *shared language* of a learning
system): say which rule set found what, since when, in the measure's own words, and never rank
teams.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    if improvement in ("increase", "decrease"):
        good = (side > 0) == (improvement == "increase")
        return "special cause improvement" if good else "special cause concern"
    return "special cause variation"


def _series_sentence(pts: pd.DataFrame, summ: pd.DataFrame, options: dict) -> str:
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
        if last_part["shift"].any():
            idx = np.flatnonzero(last_part["shift"].to_numpy())
            side = float(sides[idx[-1]])
            found.append(
                f"a shift of points {'above' if side > 0 else 'below'} the median since "
                f"{format_x(_run_start(xs, sides, useful, idx[-1]))}"
            )
        if last_part["trend"].any():
            found.append("a trend of 5 or more points going one way")
    elif bool(s_last["runs_signal"]) and chart != "mr":
        lr = int(s_last["longest_run"])
        if useful.size and lr > s_last["longest_run_max"]:
            end = _end_of_longest(sides[useful])
            i_end = useful[end]
            side = float(sides[i_end])
            found.append(
                f"{lr} points in a row {'above' if side > 0 else 'below'} the {centre} since "
                f"{format_x(_run_start(xs, sides, useful, i_end))}"
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


def _end_of_longest(sides: np.ndarray) -> int:
    """Index (into the useful points) of the last point of the latest longest run."""
    best_len, best_end, run = 0, 0, 0
    for i in range(len(sides)):
        run = run + 1 if i and sides[i] == sides[i - 1] else 1
        if run >= best_len:
            best_len, best_end = run, i
    return best_end


def _run_start(xs, sides, useful, i_end) -> Any:
    """x of the first point of the run of equal sides ending at row ``i_end``."""
    pos = int(np.searchsorted(useful, i_end))
    while pos > 0 and sides[useful[pos - 1]] == sides[i_end]:
        pos -= 1
    return xs[useful[pos]]


def control_chart_readings(points, summary, facet_cols, options):
    """One sentence per facet for a :func:`qiwidgets.spc.control_chart` result, built lazily."""
    if not facet_cols:
        from qiwidgets.spc.result import LazyReadings

        return LazyReadings([None], lambda _key: _series_sentence(points, summary, options))
    return facet_readings(points, summary, facet_cols, lambda p, s: _series_sentence(p, s, options))


def facet_readings(points, summary, facet_cols, sentence):
    """A lazy mapping facet key -> ``sentence(points_of_facet, summary_of_facet)``.

    Keys are the facet value (one facet column) or a tuple of values (two columns), in the
    order the facets appear in ``points``.
    """
    from qiwidgets.spc.result import LazyReadings

    cols = list(facet_cols)
    codes = points.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    keyframe = points[cols].iloc[first]
    keys = [k[0] if len(cols) == 1 else tuple(k) for k in keyframe.itertuples(index=False)]
    bounds = dict(zip(keys, zip(first, np.r_[first[1:], len(points)])))
    scodes = summary.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    sfirst = np.flatnonzero(np.r_[True, scodes[1:] != scodes[:-1]])
    sbounds = dict(zip(keys, zip(sfirst, np.r_[sfirst[1:], len(summary)])))

    def build(key):
        a, b = bounds[key]
        sa, sb = sbounds[key]
        return sentence(points.iloc[a:b], summary.iloc[sa:sb])

    return LazyReadings(keys, build)
