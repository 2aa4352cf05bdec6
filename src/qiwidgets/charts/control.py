"""Draw control charts, run charts and Making Data Count charts from an :class:`SPCResult`.

This module only draws: every number on the chart comes from ``result.points`` /
``result.summary``; the words in tooltips restate the flags the engine set (which rule fired and
why). One dataset feeds every layer (each layer filters its own rows on ``_layer``), so the same
layers draw one series or one panel per team.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qiwidgets.charts import _vl as vl
from qiwidgets.charts import palette as P
from qiwidgets.charts._common import (
    CHART_NAMES,
    ChartError,
    chart_title,
    check_positive_int,
    check_text,
    facet_label,
    inline_data,
    number,
    period,
    wrap,
    x_kind,
)
from qiwidgets.charts.icons import assurance_icon_svg, icon_data_uri, variation_icon_svg
from qiwidgets.spc import classify
from qiwidgets.spc.constants import IHI_SHIFT, IHI_TREND, MDC_RUN_LENGTH, MDC_SHORT_GROUP_THRESHOLD
from qiwidgets.spc.reading import CENTRE_NAME
from qiwidgets.spc.result import SPCResult

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "annotation_frame",
    "small_multiples",
    "small_multiples_spec",
    "spc_chart",
    "spc_chart_spec",
]

MDC_RULE_SET = "Making Data Count"
#: Annotation kinds with their legend wording; other kinds are shown with their own name.
ANNOTATION_KINDS = {
    "pdsa_start": "PDSA cycle starts",
    "pdsa_end": "PDSA cycle ends",
    "event": "Event",
    "rebase": "Limits recalculated",
}
SMALL_ICON = P.ICON_SIZE * 0.5  # px: icons above each small-multiple panel
#: A short prefix on annotation labels, so the kind reads without colour.
KIND_MARKS = {"pdsa_start": "▶ ", "pdsa_end": "■ ", "rebase": "↻ "}
_REQUIRED_QIC = ("x", "y", "cl", "lcl", "ucl", "part", "include", "baseline", "signal")
LABEL_GAP_PX = 12  # px: the least distance between two line labels at the right of a chart
BASELINE_LABEL_Y = 12  # px from the top of the plot: the "Baseline" label
_REQUIRED_MDC = ("x", "y", "cl", "lcl", "ucl", "rebase_group", "point_type")


# =============================================================================================
# Public functions
# =============================================================================================


def spc_chart_spec(
    result: SPCResult,
    *,
    facet: Any = None,
    annotations: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    title: str | None = None,
    show_inner: bool = False,
    show_icons: bool = True,
    limit_labels: bool = True,
    width: int = P.WIDTH,
    height: int = P.HEIGHT,
    reading: str | None = None,
) -> dict:
    """The Vega-Lite spec (a plain dict) of a control chart, run chart or Making Data Count
    chart: what :func:`spc_chart` draws, for rendering with :func:`qiwidgets.charts.to_svg` or
    in a browser without building Altair objects.

    Parameters
    ----------
    result:
        What :func:`qiwidgets.spc.control_chart` or :func:`qiwidgets.spc.mdc_chart` returned.
    facet:
        For a faceted result, the facet to draw (a value, or a tuple for two facet columns).
        Without it a faceted result with more than one facet is drawn as
        :func:`small_multiples`.
    annotations:
        A DataFrame or a list of dicts with ``date`` (or ``x``), ``text`` and optionally
        ``kind`` (``pdsa_start``, ``pdsa_end``, ``event``, ``rebase`` or your own word) and the
        facet column(s) (an annotation without them is shown on every panel). Drawn as labelled
        vertical rules.
    title:
        The chart title (default: the measure's label).
    show_inner:
        Also draw the 2-sigma lines (qicharts2 ``lcl_95``/``ucl_95``) or the Making Data Count
        "near" lines (2/3 of the way to the limits).
    show_icons:
        Making Data Count charts: draw the variation and assurance icons at the top right.
    limit_labels:
        Label the centre line and limits at the right end of the chart.
    width, height:
        Size of the plotting area in pixels.
    reading:
        The chart's text alternative and caption (default: the engine's reading of the
        result). The workbook passes its status's reading, so the chart says what the card says.

    Returns
    -------
    dict
        A layered spec (a faceted one when several facets are drawn). The reading is its
        ``description`` and is kept in ``usermeta["qiwidgets"]["caption"]`` for
        :func:`qiwidgets.charts.to_html`.
    """
    _check_result(result)
    show_inner, show_icons, limit_labels = (
        _flag("show_inner", show_inner),
        _flag("show_icons", show_icons),
        _flag("limit_labels", limit_labels),
    )
    width = check_positive_int("width", width, 60, 4000)
    height = check_positive_int("height", height, 40, 4000)
    title = check_text("title", title)
    keys = _facet_keys(result)
    if facet is None and len(keys) > 1:
        return small_multiples_spec(
            result,
            annotations=annotations,
            title=title,
            show_inner=show_inner,
            show_icons=show_icons,
        )
    if facet is not None:
        if not result.facets:
            raise ChartError("`facet` was given but the result has no facets.")
        if facet not in keys:
            shown = ", ".join(repr(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
            raise ChartError(f"`facet` must be one of {shown}, got {facet!r}.")
        key = facet
    else:
        key = keys[0] if keys else None
    pts = result.points
    if result.facets:
        pts = pts[_facet_mask(pts, result.facets, key)]
    if reading is None:
        reading = result.readings.get(key, result.reading)
    else:
        reading = check_text("reading", reading)
    rows = _rows(result, pts, annotations, show_icons, height, width)
    xk = x_kind(result.points["x"])
    layers = _layers(result, rows, xk, show_inner, limit_labels, width, small=False)
    heading = title or _label(result)
    if result.facets and key is not None:
        heading = f"{heading}: {facet_label(key)}"
    spec = vl.layered(inline_data(rows), layers, width, height)
    return _finish(spec, result, heading, reading, rows)


def spc_chart(result: SPCResult, **options: Any) -> alt.LayerChart | alt.FacetChart:
    """Draw a control chart, run chart or Making Data Count chart as an Altair chart.

    Takes the parameters of :func:`spc_chart_spec` (``facet``, ``annotations``, ``title``,
    ``show_inner``, ``show_icons``, ``limit_labels``, ``width``, ``height``).

    Returns
    -------
    altair.LayerChart
        (``altair.FacetChart`` when several facets are drawn.) The reading is the chart's
        ``description`` and is kept in ``usermeta["qiwidgets"]["caption"]`` for
        :func:`qiwidgets.charts.to_html`.

    Examples
    --------
    >>> import pandas as pd
    >>> from qiwidgets import spc
    >>> d = pd.DataFrame({"month": range(1, 21), "falls": [5, 7, 6, 4, 8, 6, 5, 7, 6, 5,
    ...                                                  3, 2, 3, 2, 1, 2, 3, 2, 2, 1]})
    >>> chart = spc_chart(spc.control_chart(d, x="month", y="falls", chart="c"))
    >>> chart.to_dict()["description"].startswith("falls")
    True
    """
    return vl.to_altair(spc_chart_spec(result, **options))


def small_multiples_spec(
    result: SPCResult,
    columns: int = 4,
    *,
    annotations: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    title: str | None = None,
    show_inner: bool = False,
    show_icons: bool = True,
    independent_y: bool = False,
    panel_width: int = P.PANEL_WIDTH,
    panel_height: int = P.PANEL_HEIGHT,
) -> dict:
    """The Vega-Lite spec (a plain dict) of one small panel per facet (team), with the same
    layers as :func:`spc_chart_spec`.

    Parameters
    ----------
    result:
        A faceted (or single) result of ``control_chart`` or ``mdc_chart``.
    columns:
        Panels per row.
    annotations, title, show_inner, show_icons:
        As for :func:`spc_chart`.
    independent_y:
        Give each panel its own y scale (default: one scale, so teams compare at a glance).
    panel_width, panel_height:
        Size of each panel in pixels.

    Returns
    -------
    dict
        A faceted spec; its ``description`` lists the reading of every facet.
    """
    _check_result(result)
    columns = check_positive_int("columns", columns, 1, 50)
    panel_width = check_positive_int("panel_width", panel_width, 40, 2000)
    panel_height = check_positive_int("panel_height", panel_height, 30, 2000)
    title = check_text("title", title)
    show_inner = _flag("show_inner", show_inner)
    show_icons = _flag("show_icons", show_icons)
    independent_y = _flag("independent_y", independent_y)
    rows = _rows(result, result.points, annotations, show_icons, panel_height, panel_width)
    xk = x_kind(result.points["x"])
    layers = _layers(result, rows, xk, show_inner, False, panel_width, small=True)
    order = [facet_label(k) for k in _facet_keys(result)] or [""]
    icons = bool((rows["_layer"] == "icon").any())
    # room on the right of each header for the icons, which sit above the panel
    label_room = panel_width - (2 * (SMALL_ICON + 4) + 6 if icons else 0)
    spec = {
        "$schema": vl.SCHEMA_URL,
        "data": inline_data(rows),
        "facet": vl.field(
            "_facet",
            "nominal",
            sort=order,
            header={
                "title": None,
                "labelFontSize": 11,
                "labelFontWeight": "bold",
                "labelLimit": max(label_room, 40),
                "labelFont": P.FONT,
                "labelAnchor": "start",
                "labelAlign": "left",
            },
        ),
        "spec": {
            "layer": layers,
            "width": panel_width,
            "height": panel_height,
            "view": {"stroke": None},
        },
        "columns": columns,
        "spacing": {"row": 28 if icons else 18, "column": 14},
    }
    if independent_y:
        spec["resolve"] = {"scale": {"y": "independent"}}
    return _finish(spec, result, title or _label(result), result.reading, rows)


def small_multiples(result: SPCResult, columns: int = 4, **options: Any) -> alt.FacetChart:
    """One small panel per facet (team) as an Altair chart, same layers as :func:`spc_chart`.

    Takes the parameters of :func:`small_multiples_spec` (``columns``, ``annotations``,
    ``title``, ``show_inner``, ``show_icons``, ``independent_y``, ``panel_width``,
    ``panel_height``). Its ``description`` lists the reading of every facet.
    """
    return vl.to_altair(small_multiples_spec(result, columns, **options))


def annotation_frame(
    annotations: pd.DataFrame | Sequence[Mapping[str, Any]] | None,
    facets: Sequence[str] = (),
) -> pd.DataFrame:
    """Annotations as a tidy frame: ``x``, ``text``, ``kind`` and the facet columns.

    Accepts a DataFrame or a list of dicts with ``date`` or ``x``, ``text`` and optionally
    ``kind``. Raises :class:`ChartError` naming the row and the problem.
    """
    cols = ["x", "text", "kind", *facets]
    if annotations is None:
        return pd.DataFrame(columns=cols)
    if isinstance(annotations, pd.DataFrame):
        items = annotations.to_dict("records")
    elif isinstance(annotations, (list, tuple)):
        items = list(annotations)
    else:
        raise ChartError(
            "`annotations` must be a DataFrame or a list of dicts with 'date' and 'text', "
            f"got {type(annotations).__name__}."
        )
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ChartError(f"`annotations` row {i} must be a dict, got {item!r}.")
        when = item.get("date", item.get("x"))
        if when is None or (not isinstance(when, str) and pd.isna(when)):
            raise ChartError(f"`annotations` row {i} needs a 'date' (or 'x'), got {item!r}.")
        text = item.get("text", "")
        if text is None or (not isinstance(text, str) and pd.isna(text)):
            text = ""
        kind = item.get("kind") or "event"
        if not isinstance(kind, str):
            raise ChartError(f"`annotations` row {i}: 'kind' must be a string, got {kind!r}.")
        row = {"x": when, "text": str(text), "kind": kind}
        for f in facets:
            row[f] = item.get(f)
        out.append(row)
    return pd.DataFrame(out, columns=cols)


# =============================================================================================
# Building the rows
# =============================================================================================


def _check_result(result: Any) -> None:
    if not isinstance(result, SPCResult) or result.chart_type == "funnel":
        raise ChartError(
            "`result` must be what spc.control_chart or spc.mdc_chart returned "
            f"(use funnel_chart for funnel plots), got {type(result).__name__}."
        )
    need = _REQUIRED_MDC if _is_mdc(result) else _REQUIRED_QIC
    missing = [c for c in need if c not in result.points.columns]
    if missing:
        raise ChartError(f"`result.points` lacks the column(s) {', '.join(missing)}.")


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ChartError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def _is_mdc(result: SPCResult) -> bool:
    return result.rule_set == MDC_RULE_SET


def _label(result: SPCResult) -> str:
    return result.options.get("label") or result.options.get("y") or "Measure"


def _facet_keys(result: SPCResult) -> list[Any]:
    if not result.facets:
        return []
    return list(result.readings.keys())


def _facet_mask(pts: pd.DataFrame, facets: Sequence[str], key: Any) -> np.ndarray:
    values = key if isinstance(key, tuple) else (key,)
    mask = np.ones(len(pts), dtype=bool)
    for col, val in zip(facets, values, strict=True):
        mask &= (pts[col] == val).to_numpy()
    return mask


def _facet_labels(pts: pd.DataFrame, facets: Sequence[str]) -> pd.Series:
    if not facets:
        return pd.Series("", index=pts.index)
    if len(facets) == 1:
        return pts[facets[0]].astype(str)
    return pts[facets[0]].astype(str) + " / " + pts[facets[1]].astype(str)


def _rows(
    result: SPCResult,
    pts: pd.DataFrame,
    annotations: Any,
    show_icons: bool,
    height: int,
    width: int = 560,
) -> pd.DataFrame:
    """Every row every layer needs, tagged with ``_layer``."""
    mdc = _is_mdc(result)
    f = _mdc_points(result, pts) if mdc else _qic_points(result, pts)
    parts = [f, _baseline_rows(f), _label_rows(f, result, height)]
    parts.append(_annotation_rows(result, pts, annotations, width))
    if mdc and show_icons:
        parts.append(_icon_rows(result, pts))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    return out


def _common_columns(result: SPCResult, pts: pd.DataFrame) -> pd.DataFrame:
    label = _facet_labels(pts, result.facets)
    y = pts["y"].astype(float)
    f = pd.DataFrame(
        {
            "_layer": "pt",
            "_facet": label.to_numpy(),
            "x": pts["x"].to_numpy(),
            "y": y.to_numpy(),
            "cl": pts["cl"].astype(float).to_numpy(),
            "lcl": pts["lcl"].astype(float).to_numpy(),
            "ucl": pts["ucl"].astype(float).to_numpy(),
            "target": pts["target"].astype(float).to_numpy()
            if "target" in pts
            else np.full(len(pts), np.nan),
        }
    )
    f["t_period"] = [period(v) for v in pts["x"]]
    f["t_value"] = [number(v) for v in f["y"]]
    f["t_cl"] = [number(v) for v in f["cl"]]
    f["t_lcl"] = [number(v) for v in f["lcl"]]
    f["t_ucl"] = [number(v) for v in f["ucl"]]
    f["t_target"] = [number(v) for v in f["target"]]
    return f


def _qic_points(result: SPCResult, pts: pd.DataFrame) -> pd.DataFrame:
    f = _common_columns(result, pts)
    opts = result.options
    ihi = result.rule_set == "IHI"
    centre = CENTRE_NAME.get(result.chart_type, "mean")
    f["seg"] = f["_facet"] + "|" + pts["part"].astype(str).to_numpy()
    f["lo_in"] = pts["lcl_95"].astype(float).to_numpy() if "lcl_95" in pts else np.nan
    f["hi_in"] = pts["ucl_95"].astype(float).to_numpy() if "ucl_95" in pts else np.nan
    f["hollow"] = ~pts["include"].astype(bool).to_numpy()
    sigma = pts["sigma_signal"].astype(bool).to_numpy() if "sigma_signal" in pts else False
    shift = (
        pts["shift"].astype(bool).to_numpy() if ihi and "shift" in pts else np.zeros(len(f), bool)
    )
    trend = (
        pts["trend"].astype(bool).to_numpy() if ihi and "trend" in pts else np.zeros(len(f), bool)
    )
    runs = (
        pts["runs_signal"].astype(bool).to_numpy()
        if not ihi and "runs_signal" in pts
        else np.zeros(len(f), bool)
    )
    f["runs"] = runs
    y, cl = f["y"].to_numpy(), f["cl"].to_numpy()
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    tdir = _trend_direction(y, trend, f["seg"].to_numpy())
    # each point's type as the engine classified it (the colours never decide anything)
    f["cat"] = pts["point_type"].astype(str).to_numpy()
    f["cat_label"] = f["cat"].map(P.POINT_LABELS_QIC)
    in_run = classify.is_special(f["cat"].to_numpy()) & runs & ~sigma

    why = []
    for i in range(len(f)):
        reasons = []
        if sigma[i]:
            reasons.append(
                "outside the control limits ("
                + ("above the upper" if side[i] > 0 else "below the lower")
                + " limit)"
            )
        if shift[i]:
            reasons.append(
                f"part of a shift ({IHI_SHIFT} or more points in a row on one side of the {centre})"
            )
        if trend[i]:
            reasons.append(
                f"part of a trend ({IHI_TREND} or more points in a row all going "
                + ("up" if tdir[i] > 0 else "down")
                + ")"
            )
        if in_run[i]:
            reasons.append(f"part of a non-random run ({'above' if side[i] > 0 else 'below'} "
                           f"the {centre}, Anhøj rules)")  # fmt: skip
        why.append("; ".join(reasons).capitalize() + "." if reasons else "None at this point.")
    f["t_signal"] = why
    f["t_runs"] = _qic_runs_text(pts, runs, centre)
    notes = []
    freeze = opts.get("freeze") is not None and opts.get("part") is None
    base = pts["baseline"].astype(bool).to_numpy()
    for i in range(len(f)):
        n = []
        if f["hollow"].iat[i]:
            n.append("left out of the centre line and limits (excluded)")
        if freeze and base[i]:
            n.append("in the baseline the limits are frozen on")
        notes.append("; ".join(n).capitalize() + "." if n else None)
    f["t_note"] = notes
    f["baseline"] = base if freeze else False
    return f


def _qic_runs_text(pts: pd.DataFrame, runs: np.ndarray, centre: str) -> list[str | None]:
    out: list[str | None] = []
    cols = ("longest_run", "longest_run_max", "n_crossings", "n_crossings_min")
    have = all(c in pts for c in cols)
    vals = {c: pts[c].to_numpy(dtype=float) for c in cols} if have else {}
    for i in range(len(pts)):
        if not runs[i]:
            out.append(None)
            continue
        if not have:
            out.append("This part has a runs signal (Anhøj rules).")
            continue
        bits = []
        lr, lrm = vals["longest_run"][i], vals["longest_run_max"][i]
        nc, ncm = vals["n_crossings"][i], vals["n_crossings_min"][i]
        if np.isfinite(lr) and np.isfinite(lrm) and lr > lrm:
            bits.append(
                f"an unusually long run: {int(lr)} points in a row on one side of the {centre} "
                f"(more than {int(lrm)} is unusual)"
            )
        if np.isfinite(nc) and np.isfinite(ncm) and nc < ncm:
            bits.append(
                f"too few crossings of the {centre}: {int(nc)} (fewer than {int(ncm)} is unusual)"
            )
        text = " and ".join(bits) if bits else "a runs signal"
        out.append(f"This part shows {text} (Anhøj rules).")
    return out


def _trend_direction(y: np.ndarray, trend: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """+1 / -1 for points in an upward / downward block of flagged trend points, 0 elsewhere."""
    out = np.zeros(len(y))
    i = 0
    while i < len(y):
        if not trend[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(y) and trend[j + 1] and seg[j + 1] == seg[i]:
            j += 1
        out[i : j + 1] = np.sign(y[j] - y[i])
        i = j + 1
    return out


def _mdc_why_words(run_length: int) -> dict[str, str]:
    from qiwidgets.spc.mdc import special_cause_types

    names = special_cause_types(run_length)
    words = (
        "None at this point.",
        "Above the upper process limit.",
        "Below the lower process limit.",
        f"Part of {run_length} points in a row all increasing.",
        f"Part of {run_length} points in a row all decreasing.",
        "2 of 3 points in a row close to the upper limit.",
        "2 of 3 points in a row close to the lower limit.",
        f"Part of {run_length} or more points in a row above the mean.",
        f"Part of {run_length} or more points in a row below the mean.",
    )
    return dict(zip(names, words, strict=True))


def _mdc_points(result: SPCResult, pts: pd.DataFrame) -> pd.DataFrame:
    f = _common_columns(result, pts)
    opts = result.options
    f["seg"] = f["_facet"] + "|" + pts["rebase_group"].astype(str).to_numpy()
    f["lo_in"] = pts["lcl_near"].astype(float).to_numpy() if "lcl_near" in pts else np.nan
    f["hi_in"] = pts["ucl_near"].astype(float).to_numpy() if "ucl_near" in pts else np.nan
    f["hollow"] = False
    f["runs"] = False
    cat = pts["point_type"].astype(str).to_numpy()
    cat = np.where(np.isin(cat, list(P.POINT_CATEGORIES)), cat, "common_cause")
    f["cat"] = cat
    f["cat_label"] = f["cat"].map(P.POINT_LABELS_MDC)
    words = _mdc_why_words(int(opts.get("run_length") or MDC_RUN_LENGTH))
    sct = pts["special_cause_type"].astype(str).to_numpy() if "special_cause_type" in pts else None
    special = classify.is_special(cat)
    why = []
    for i in range(len(f)):
        w = words.get(sct[i], sct[i]) if sct is not None else "None at this point."
        if special[i]:
            w = f"{P.POINT_LABELS_MDC[cat[i]]}: {w[0].lower()}{w[1:]}"
        why.append(w)
    f["t_signal"] = why
    f["t_runs"] = None
    short = (
        pts["short_group_warning"].astype(bool).to_numpy() if "short_group_warning" in pts else None
    )
    fix = opts.get("fix_after_n_points")
    if fix:
        pos = f.groupby("seg", sort=False).cumcount().to_numpy()
        base = pos < int(fix)
    else:
        base = np.zeros(len(f), dtype=bool)
    f["baseline"] = base
    notes = []
    for i in range(len(f)):
        n = []
        if short is not None and short[i]:
            n.append(
                f"limits provisional: fewer than {MDC_SHORT_GROUP_THRESHOLD} points in this group"
            )
        if base[i]:
            n.append("in the baseline the limits are fixed on")
        notes.append("; ".join(n).capitalize() + "." if n else None)
    f["t_note"] = notes
    return f


def _baseline_rows(f: pd.DataFrame) -> pd.DataFrame:
    """One band per facet x segment over the points the limits are frozen on."""
    if not f["baseline"].any():
        return pd.DataFrame()
    b = f[f["baseline"].astype(bool)]
    whole = f.groupby("seg", sort=False)["baseline"].all()
    b = b[~b["seg"].map(whole)]
    if b.empty:
        return pd.DataFrame()
    g = b.groupby("seg", sort=False)
    out = pd.DataFrame(
        {
            "_layer": "base",
            "_facet": g["_facet"].first().to_numpy(),
            "x": g["x"].min().to_numpy(),
            "x2": g["x"].max().to_numpy(),
            "text": "Baseline",
        }
    )
    return out


def _label_rows(f: pd.DataFrame, result: SPCResult, height: int) -> pd.DataFrame:
    """Labels for the centre line, limits and target at the right end of each facet.

    Labels closer than ``LABEL_GAP_PX`` on the page are moved apart (only the label; the text
    keeps the true value), so "Mean 4.6" and "Target 4.5" never print over each other.
    """
    centre = "Median" if result.chart_type in CENTRE_NAME else "Mean"
    names = [("cl", centre)]
    if _is_mdc(result) or result.chart_type != "run":
        names += [("ucl", "Upper limit"), ("lcl", "Lower limit")]
    names.append(("target", "Target"))
    cols = [c for c in ("y", "cl", "lcl", "ucl", "target") if c in f]
    span = f[cols].to_numpy(dtype=float)
    span = span[np.isfinite(span)]
    unit = (span.max() - span.min()) / max(height, 1) * LABEL_GAP_PX if span.size else 0.0
    rows = []
    for _, r in f.groupby("_facet", sort=False).tail(1).iterrows():
        found = []
        for col, name in names:
            v = r[col]
            if v is None or not np.isfinite(v):
                continue
            found.append((float(v), col, f"{name} {number(v)}"))
        found.sort()
        placed: list[float] = []
        for v, col, text in found:
            at = v if not placed or v - placed[-1] >= unit else placed[-1] + unit
            placed.append(at)
            rows.append(
                {
                    "_layer": "lbl",
                    "_facet": r["_facet"],
                    "x": r["x"],
                    "y": at,
                    "text": text,
                    "kind": col,
                }
            )
    return pd.DataFrame(rows)


def _place_labels(ann: pd.DataFrame, xs: pd.Series, width: int) -> tuple[list[int], list[str]]:
    """Stagger annotation labels into rows so that none overlaps another.

    Each label goes into the first row where it starts after the previous label of that row
    ends (positions estimated from the x range and an average character width); when no row
    has room, the label is cut to fit the room left in the emptiest row. A label longer than
    ``ANNOTATION_LABEL_LIMIT`` is cut here too: Vega's own ``limit`` measures the text over
    and over and took half of the time vl-convert spent drawing a chart.
    """
    if pd.api.types.is_numeric_dtype(xs) or pd.api.types.is_datetime64_any_dtype(xs):
        lo, hi = xs.min(), xs.max()

        def frac(v):
            return float((v - lo) / (hi - lo)) if hi != lo else 0.0
    else:  # text x: equally spaced categories in their order on the axis
        order = {v: i for i, v in enumerate(pd.unique(xs))}

        def frac(v):
            return order.get(v, 0) / max(len(order) - 1, 1)

    def px(v):
        return frac(v) * width

    rows, labels = [], []
    ends: dict[Any, list[float]] = {}
    longest = int(P.ANNOTATION_LABEL_LIMIT // P.ANNOTATION_CHAR_PX)
    for facet, x, label in zip(ann["_facet"], ann["x"], ann["label"], strict=True):
        row_ends = ends.setdefault(facet, [-1e9] * P.ANNOTATION_ROWS)
        start = px(x)
        if len(label) > longest:
            label = label[: longest - 1] + "…"
        need = len(label) * P.ANNOTATION_CHAR_PX
        free = [r for r, end in enumerate(row_ends) if end + P.ANNOTATION_GAP_PX <= start]
        if free:
            row = free[0]
        else:  # no room: the emptiest row, and a label cut to the room it has (the rule and
            # its tooltip still carry the whole text; with no room at all the label is left out)
            row = int(np.argmin(row_ends))
            room = start - row_ends[row] - P.ANNOTATION_GAP_PX
            keep = int(room // P.ANNOTATION_CHAR_PX) - 1
            if keep < 4:
                rows.append(row)
                labels.append("")
                continue
            label = label[:keep] + "…" if len(label) > keep else label
            need = len(label) * P.ANNOTATION_CHAR_PX
        row_ends[row] = start + need
        rows.append(row)
        labels.append(label)
    return rows, labels


def _annotation_rows(
    result: SPCResult, pts: pd.DataFrame, annotations: Any, width: int = 560
) -> pd.DataFrame:
    a = annotation_frame(annotations, result.facets)
    if a.empty:
        return pd.DataFrame()
    xk = x_kind(result.points["x"])
    if xk == "temporal":
        try:
            a["x"] = pd.to_datetime(a["x"])
        except (ValueError, TypeError) as exc:
            raise ChartError(f"`annotations` dates could not be read as dates: {exc}") from None
    elif xk == "quantitative":
        xs = pd.to_numeric(a["x"], errors="coerce")
        if xs.isna().any():
            raise ChartError("`annotations` 'date'/'x' must be numbers for this chart's x axis.")
        a["x"] = xs
    labels = sorted(set(_facet_labels(pts, result.facets))) if result.facets else [""]
    rows = []
    for _, r in a.iterrows():
        if result.facets and all(r[c] is not None and not pd.isna(r[c]) for c in result.facets):
            key = tuple(r[c] for c in result.facets)
            targets = [facet_label(key if len(key) > 1 else key[0])]
            targets = [t for t in targets if t in labels]
        else:
            targets = labels
        for t in targets:
            rows.append(
                {
                    "_layer": "ann",
                    "_facet": t,
                    "x": r["x"],
                    "text": r["text"],
                    "kind": r["kind"],
                    "kind_label": ANNOTATION_KINDS.get(r["kind"], r["kind"]),
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.sort_values(["_facet", "x"], kind="stable").reset_index(drop=True)
    out["label"] = [
        f"{KIND_MARKS.get(k, '')}{t}" for k, t in zip(out["kind"], out["text"], strict=True)
    ]
    out["row"], out["label"] = _place_labels(out, pts["x"], width)
    # label rows above the plot (negative pixels), the first row nearest the plot
    out["row_px"] = -(3 + out["row"] * P.ANNOTATION_ROW_HEIGHT)
    out["t_period"] = [period(v) for v in out["x"]]
    return out


def _icon_rows(result: SPCResult, pts: pd.DataFrame) -> pd.DataFrame:
    s = result.summary
    if "variation_icon" not in s:
        return pd.DataFrame()
    last = s.groupby(list(result.facets), sort=False).tail(1) if result.facets else s.tail(1)
    labels = _facet_labels(last, result.facets)
    shown = set(_facet_labels(pts, result.facets))
    rows = []
    for lab, (_, r) in zip(labels, last.iterrows(), strict=True):
        if lab not in shown:
            continue
        v, a = r.get("variation_icon"), r.get("assurance_icon")
        if isinstance(v, str):
            # slot counts from the right: the variation icon sits left of the assurance icon
            rows.append(
                {
                    "_layer": "icon",
                    "_facet": lab,
                    "slot": int(isinstance(a, str)),
                    "url": icon_data_uri(variation_icon_svg(v)),
                    "text": v,
                }
            )
        if isinstance(a, str):
            rows.append(
                {
                    "_layer": "icon",
                    "_facet": lab,
                    "slot": 0,
                    "url": icon_data_uri(assurance_icon_svg(a)),
                    "text": a,
                }
            )
    return pd.DataFrame(rows)


# =============================================================================================
# Layers
# =============================================================================================


def _axis_title(name: str | None) -> str | None:
    """A column name as an axis title: 'period' -> 'Period'; the generic 'x' -> 'Period'."""
    if not name or name == "x":
        return "Period"
    return name[:1].upper() + name[1:].replace("_", " ")


def _x(xk: str, title: str | None, *, small: bool) -> dict:
    axis: dict[str, Any] = {
        "title": None if small else _axis_title(title),
        "grid": False,
        "labelOverlap": "greedy",
        "labelSeparation": P.AXIS_LABEL_SEPARATION,
        "labelFlush": True,
        "tickCount": 4 if small else 8,
    }
    if xk == "temporal":
        axis["format"] = "%b %y" if small else "%b %Y"
    if xk == "quantitative":
        axis["tickMinStep"] = 1
        return vl.field("x", xk, axis=axis, scale={"zero": False, "nice": False})
    return vl.field("x", xk, axis=axis)


def _layers(
    result: SPCResult,
    rows: pd.DataFrame,
    xk: str,
    show_inner: bool,
    limit_labels: bool,
    width: int,
    *,
    small: bool,
) -> list[dict]:
    mdc = _is_mdc(result)
    x = _x(xk, result.options.get("x"), small=small)
    x_plain = vl.field("x", xk)  # rules and labels at a date: no axis of their own
    y_axis = {
        "title": None if small else _label(result),
        "grid": True,
        "gridColor": "#eeeeee",
        "tickCount": 4 if small else 6,
    }
    yscale = {"zero": False, "nice": True}

    def y(col: str) -> dict:
        return vl.field(col, "quantitative", scale=yscale, axis=y_axis)

    present = [c for c in P.POINT_CATEGORIES if c in set(rows.get("cat", pd.Series()).dropna())]
    labels = P.POINT_LABELS_MDC if mdc else P.POINT_LABELS_QIC
    dom = [labels[c] for c in present]
    # one legend for colour and shape (same field, same legend): it shows both
    legend = {
        "title": None,
        "orient": "bottom",
        "direction": "horizontal",
        "columns": 3,
        "symbolStrokeWidth": 1.5,
        "labelLimit": 260,
    }
    colour = vl.field(
        "cat_label",
        "nominal",
        scale={"domain": dom, "range": [P.POINT_CATEGORIES[c][0] for c in present]},
        legend=legend,
    )
    shape = vl.field(
        "cat_label",
        "nominal",
        scale={"domain": dom, "range": [P.POINT_CATEGORIES[c][1] for c in present]},
        legend=legend,
    )
    centre_word = "Median" if result.chart_type in CENTRE_NAME else "Mean"
    tips = [
        vl.tip("_facet", "Team"),
        vl.tip("t_period", "Period"),
        vl.tip("t_value", "Value"),
        vl.tip("t_cl", centre_word),
        vl.tip("t_lcl", "Lower limit"),
        vl.tip("t_ucl", "Upper limit"),
        vl.tip("t_target", "Target"),
        vl.tip("cat_label", "Point"),
        vl.tip("t_signal", "Rule fired"),
        vl.tip("t_runs", "Runs analysis"),
        vl.tip("t_note", "Note"),
    ]
    if not result.facets:
        tips = tips[1:]
    segment = vl.field("seg", "nominal")
    layers: list[dict] = []
    brk = "break-paths-show-domains"  # a missing value breaks the line (Vega-Lite 6 `invalid`)

    if (rows["_layer"] == "base").any():
        layers.append(
            vl.layer(
                "base",
                {"type": "rect", "color": P.BASELINE_FILL, "opacity": 0.9},
                {"x": x_plain, "x2": {"field": "x2"}, "tooltip": [vl.tip("text", "Shaded")]},
            )
        )
        if not small:
            layers.append(
                vl.layer(
                    "base",
                    {
                        "type": "text",
                        "align": "left",
                        "baseline": "bottom",
                        "dx": 3,
                        "dy": -3,
                        "fontSize": 10,
                        "color": "#425563",
                        "font": P.FONT,
                    },
                    {
                        "x": x_plain,
                        "y": {"value": BASELINE_LABEL_Y},
                        "text": vl.field("text", "nominal"),
                    },
                )
            )
    if show_inner:
        for col in ("lo_in", "hi_in"):
            layers.append(
                vl.layer(
                    "pt",
                    {
                        "type": "line",
                        "color": P.INNER_LINE,
                        "strokeWidth": 1,
                        "strokeDash": [2, 2],
                        "interpolate": "step",
                        "invalid": brk,
                    },
                    {"x": x, "y": y(col), "detail": segment},
                )
            )
    for col in ("lcl", "ucl"):
        layers.append(
            vl.layer(
                "pt",
                {
                    "type": "line",
                    "color": P.LIMIT_LINE,
                    "strokeWidth": P.LIMIT_WIDTH,
                    "strokeDash": [5, 3],
                    "interpolate": "step",
                    "invalid": brk,
                },
                {"x": x, "y": y(col), "detail": segment},
            )
        )
    layers.append(
        vl.layer(
            "pt",
            {"type": "line", "strokeWidth": P.LINE_WIDTH, "interpolate": "step", "invalid": brk},
            {
                "x": x,
                "y": y("cl"),
                "detail": segment,
                "color": vl.when("datum.runs", P.RUNS_SIGNAL_LINE, P.CENTRE_LINE),
                "strokeDash": vl.when("datum.runs", [7, 4], [1, 0]),
            },
        )
    )
    if rows.get("target") is not None and rows["target"].notna().any():
        layers.append(
            vl.layer(
                "pt",
                {
                    "type": "line",
                    "color": P.TARGET,
                    "strokeWidth": 1.5,
                    "strokeDash": [2, 3],
                    "invalid": brk,
                },
                {"x": x, "y": y("target"), "detail": vl.field("_facet", "nominal")},
            )
        )
    layers.append(
        vl.layer(
            "pt",
            {"type": "line", "color": P.DATA_LINE, "strokeWidth": 1.2, "invalid": brk},
            {"x": x, "y": y("y"), "detail": segment},
        )
    )
    size = P.POINT_SIZE_SMALL if small else P.POINT_SIZE
    # special-cause points are drawn larger than common-cause points, so they stand out
    point_size = vl.when(
        f"(datum.cat === {vl.string('common_cause')})", size, size * P.SPECIAL_SIZE_FACTOR
    )
    layers.append(
        vl.layer(
            "pt",
            {
                "type": "point",
                "filled": True,
                "opacity": 1,
                "stroke": P.POINT_STROKE,
                "strokeWidth": 0.6,
            },
            {
                "x": x,
                "y": y("y"),
                "color": colour,
                "shape": shape,
                "size": point_size,
                "tooltip": tips,
            },
            "isValid(datum.y) && !datum.hollow",
        )
    )
    if rows.get("hollow") is not None and rows["hollow"].fillna(False).astype(bool).any():
        layers.append(
            vl.layer(
                "pt",
                {
                    "type": "point",
                    "filled": False,
                    "size": size * 1.3,
                    "strokeWidth": 1.6,
                    "opacity": 1,
                    "fill": "white",
                },
                {"x": x, "y": y("y"), "color": colour, "shape": shape, "tooltip": tips},
                "isValid(datum.y) && datum.hollow",
            )
        )
    if (rows["_layer"] == "ann").any():
        # one layer of rules and one of labels for all kinds, coloured and dashed by kind (a
        # layer per kind cost vl-convert ~10 ms more per kind)
        atips = [vl.tip("t_period", "Date"), vl.tip("kind_label", "Kind"), vl.tip("text", "Note")]
        kinds = list(dict.fromkeys(rows.loc[rows["_layer"] == "ann", "kind"]))
        tests = [f"(datum.kind === {vl.string(kind)})" for kind in kinds]
        ink = vl.when_any(
            zip(tests, (P.ANNOTATION_COLOURS.get(k, P.ANNOTATION_DEFAULT_COLOUR) for k in kinds)),
            P.ANNOTATION_DEFAULT_COLOUR,
        )
        dash = vl.when_any(
            zip(tests, (P.ANNOTATION_DASHES.get(k, P.ANNOTATION_DEFAULT_DASH) for k in kinds)),
            P.ANNOTATION_DEFAULT_DASH,
        )
        layers.append(
            vl.layer(
                "ann",
                {"type": "rule", "strokeWidth": 1.3},
                {
                    "x": x_plain,
                    "color": ink,
                    "strokeDash": dash,
                    "tooltip": atips,
                },
            )
        )
        if not small:
            # labels sit above the plot, in staggered rows, so they never cover data
            layers.append(
                vl.layer(
                    "ann",
                    {"type": "text", "align": "left", "baseline": "bottom", "dx": -2,
                     "fontSize": 10, "font": P.FONT},
                    {"x": x_plain, "color": ink,
                     "y": vl.field("row_px", "quantitative", scale=None, axis=None),
                     "text": vl.field("label", "nominal"), "tooltip": atips},
                )
            )  # fmt: skip
    if limit_labels and (rows["_layer"] == "lbl").any():
        layers.append(
            vl.layer(
                "lbl",
                {
                    "type": "text",
                    "align": "left",
                    "baseline": "middle",
                    "dx": 8,
                    "fontSize": 10,
                    "font": P.FONT,
                },
                {
                    "x": x,
                    "y": y("y"),
                    "text": vl.field("text", "nominal"),
                    "color": vl.when(
                        f"(datum.kind === {vl.string('target')})", P.TARGET, P.LABEL_TEXT
                    ),
                },
            )
        )
    if (rows["_layer"] == "icon").any():
        icon = SMALL_ICON if small else P.ICON_SIZE * 0.8
        layers.append(
            vl.layer(
                "icon",
                {"type": "image", "width": icon, "height": icon, "aria": False},
                {
                    "x": vl.field("px", "quantitative", scale=None),
                    "y": {"value": -icon / 2 - (4 if not small else 2)},
                    "url": vl.field("url", "nominal"),
                    "tooltip": [vl.tip("text", "Icon")],
                },
                {"calculate": f"{width} - {icon / 2 + 2} - datum.slot * {icon + 4}", "as": "px"},
            )
        )
    return layers


# =============================================================================================
# Title, subtitle, description
# =============================================================================================


def _subtitle(result: SPCResult, rows: pd.DataFrame) -> list[str]:
    name = CHART_NAMES.get(result.chart_type, result.chart_type)
    lines = [f"{name} · Rule set: {result.rule_set}"]
    notes = []
    pt = rows[rows["_layer"] == "pt"]
    if "runs" in pt and pt["runs"].fillna(False).astype(bool).any():
        notes.append("dashed purple centre line: a runs signal in that part")
    if "hollow" in pt and pt["hollow"].fillna(False).astype(bool).any():
        notes.append("hollow points: excluded from the limits")
    if (rows["_layer"] == "base").any():
        notes.append("shaded: the baseline the limits are frozen on")
    if notes:
        lines.append(notes[0][0].upper() + "; ".join(notes)[1:] + ".")
    return lines


def _finish(spec: dict, result: SPCResult, heading: str, reading: str, rows: pd.DataFrame) -> dict:
    sub = _subtitle(result, rows)
    spec["title"] = chart_title(heading, sub, offset=10 if (rows["_layer"] == "icon").any() else 6)
    spec["description"] = f"{heading}. {' '.join(sub)} {reading}".strip()
    spec["usermeta"] = {
        "qiwidgets": {
            "title": heading,
            "caption": reading,
            "rule_set": result.rule_set,
            "chart": result.chart_type,
            "caption_lines": wrap(reading, 110),
        }
    }
    return spec
