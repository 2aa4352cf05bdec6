"""Draw a funnel plot from :func:`qiwidgets.spc.funnel`'s result.

Units (teams) are points at their denominator; the target is a line; the 95 % and 99.8 % limit
curves come from ``result.limits`` (adjusted for overdispersion when the engine drew them so).
Units outside the limits the engine judged on are marked with a shape and named. There is no
ranking and no "best"/"worst": a funnel plot shows which units vary more than chance alone
would give, to learn from, not to grade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qiwidgets.charts import _vl as vl
from qiwidgets.charts import palette as P
from qiwidgets.charts._common import (
    ChartError,
    chart_title,
    check_positive_int,
    check_text,
    inline_data,
    number,
    wrap,
)
from qiwidgets.spc.funnel import FunnelResult

if TYPE_CHECKING:
    import altair as alt

__all__ = ["funnel_chart", "funnel_chart_spec"]

_POSITION_WORDS = {
    "within_limits": "within the limits: no more variation than chance alone would give",
    "above_limit": "above the {limit} limit: more variation than chance alone would give",
    "below_limit": "below the {limit} limit: more variation than chance alone would give",
    "not_judged": "not judged (no limits drawn)",
}
_LIMIT_SETS = {
    "adjusted": {95: ("od95_lcl", "od95_ucl"), 99.8: ("od998_lcl", "od998_ucl")},
    "unadjusted": {95: ("lcl95", "ucl95"), 99.8: ("lcl998", "ucl998")},
}
#: How the x axis is named for each data type (FunnelPlotR data types).
_DENOMINATOR_WORDS = {"SR": "Expected", "PR": "Cases", "RC": "Comparison count"}
#: At most this many vertices per limit curve are drawn (the engine's grid has 1,000 or more).
MAX_CURVE_POINTS = 300
_Y_PAD = 0.08  # share of the data range added above and below so points do not touch the edge


def _limit_text(level: float) -> str:
    return "95 %" if level == 95 else "99.8 %"


def funnel_chart_spec(
    result: FunnelResult,
    *,
    title: str | None = None,
    label_outliers: bool = True,
    width: int = P.WIDTH,
    height: int = 320,
) -> dict:
    """The Vega-Lite spec (a plain dict) of a funnel plot: what :func:`funnel_chart` draws.

    Parameters
    ----------
    result:
        What :func:`qiwidgets.spc.funnel` returned.
    title:
        Chart title (default: the measure's label).
    label_outliers:
        Write the name of each unit outside the limits beside its point.
    width, height:
        Size of the plotting area in pixels.

    Returns
    -------
    dict
        The reading is its ``description`` and ``usermeta["qiwidgets"]["caption"]``.
    """
    if not isinstance(result, FunnelResult):
        raise ChartError(f"`result` must be what spc.funnel returned, got {type(result).__name__}.")
    title = check_text("title", title)
    if not isinstance(label_outliers, (bool, np.bool_)):
        raise ChartError(f"`label_outliers` must be True or False, got {label_outliers!r}.")
    width = check_positive_int("width", width, 60, 4000)
    height = check_positive_int("height", height, 40, 4000)

    summ = result.summary.iloc[0]
    opts = result.options
    judged_level = float(summ.get("limit", opts.get("limit", 99.8)))
    noun = opts.get("unit_noun") or "team"
    label = opts.get("label") or f"{opts.get('numerator')} / {opts.get('denominator')}"

    pts = result.points
    pos = pts["position"].astype(str).where(pts["position"].notna(), "not_judged")
    pos = pos.where(pos.isin(list(P.FUNNEL_CATEGORIES)), "not_judged")
    cat_label = [
        P.FUNNEL_CATEGORIES[p][2].replace("the limit", f"the {_limit_text(judged_level)} limit")
        for p in pos
    ]
    u = pd.DataFrame(
        {
            "_layer": "pt",
            "unit": pts["group"].astype(str).to_numpy(),
            "den": pts["denominator"].astype(float).to_numpy(),
            "value": pts["value"].astype(float).to_numpy(),
            "cat": pos.to_numpy(),
            "cat_label": cat_label,
            "outside": pos.isin(["above_limit", "below_limit"]).to_numpy(),
        }
    )
    u["t_value"] = [number(v) for v in u["value"]]
    u["t_num"] = [number(v) for v in pts["numerator"]]
    u["t_den"] = [number(v) for v in u["den"]]
    u["t_lcl"] = [number(v) for v in pts["lcl"]] if "lcl" in pts else None
    u["t_ucl"] = [number(v) for v in pts["ucl"]] if "ucl" in pts else None
    u["t_position"] = [
        _POSITION_WORDS[p].format(limit=_limit_text(judged_level)).capitalize() for p in pos
    ]

    # the limit curves, long: one row per denominator x set x level x side
    lim = result.limits
    if len(lim) > MAX_CURVE_POINTS:
        # draw every k-th vertex of the engine's curve (first and last kept): same line, less JSON
        step = int(np.ceil(len(lim) / MAX_CURVE_POINTS))
        keep = np.zeros(len(lim), dtype=bool)
        keep[::step] = True
        keep[-1] = True
        lim = lim.sort_values("denominator", kind="stable")[keep]
    sets = [s for s in ("adjusted", "unadjusted") if bool(summ.get(f"draw_{s}", False))]
    curves = []
    for s in sets:
        for level, (lo, hi) in _LIMIT_SETS[s].items():
            name = f"{_limit_text(level)} limits" + (
                " (adjusted for overdispersion)" if s == "adjusted" else ""
            )
            for side, col in (("lower", lo), ("upper", hi)):
                curves.append(
                    pd.DataFrame(
                        {
                            "_layer": "lim",
                            "den": lim["denominator"].astype(float).to_numpy(),
                            "value": lim[col].astype(float).to_numpy(),
                            "curve": name,
                            "key": f"{s}|{level}|{side}",
                        }
                    )
                )
    target = float(summ.get("target", np.nan)) * float(summ.get("multiplier", 1) or 1)
    if "target" in pts and pts["target"].notna().any():
        target = float(pts["target"].iloc[0])
    parts = [u, *curves]
    rows = pd.concat(parts, ignore_index=True)

    # y domain: the units, their limits and the target, padded (the curves are clipped to it)
    ys = [u["value"].to_numpy()]
    for col in ("lcl", "ucl"):
        if col in pts:
            ys.append(pts[col].astype(float).to_numpy())
    ys.append(np.array([target]))
    allv = np.concatenate(ys)
    allv = allv[np.isfinite(allv)]
    lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
    pad = (hi - lo) * _Y_PAD or max(abs(hi), 1.0) * _Y_PAD
    ydom = [lo - pad if lo - pad > 0 or lo < 0 else 0.0, hi + pad]
    xmax = float(np.nanmax(u["den"])) * 1.05 if len(u) else 1.0

    den_word = _DENOMINATOR_WORDS.get(str(summ.get("data_type")), "Denominator")
    den_column = str(opts.get("denominator", "denominator"))
    x = vl.field(
        "den",
        "quantitative",
        # the kind of denominator, and the data's column when it says more ("Expected")
        title=den_word if den_column.lower() == den_word.lower() else f"{den_word} ({den_column})",
        scale={"domain": [0, xmax], "nice": False},
        axis={"grid": False},
    )
    yscale = {"domain": ydom, "nice": False, "zero": False}
    y = vl.field(
        "value",
        "quantitative",
        title=label,
        scale=yscale,
        axis={"grid": True, "gridColor": "#eeeeee"},
    )
    line_tip = [vl.tip("curve", "Line")]

    layers: list[dict] = []
    for name in dict.fromkeys(rows.loc[rows["_layer"] == "lim", "curve"]):
        adjusted_curve = name.endswith(")")
        layers.append(
            vl.layer(
                "lim",
                {
                    "type": "line",
                    "strokeWidth": P.LIMIT_WIDTH,
                    "clip": True,
                    "color": P.FUNNEL_LIMIT_COLOURS["adjusted" if adjusted_curve else "unadjusted"],
                    "strokeDash": P.FUNNEL_LIMIT_DASHES[95 if name.startswith("95") else 99.8],
                },
                {"x": x, "y": y, "detail": vl.field("key", "nominal"), "tooltip": line_tip},
                f"(datum.curve === {vl.string(name)})",
            )
        )
    if np.isfinite(target):
        target_row = {"values": [{"t": target, "text": f"Target {number(target)}"}]}
        target_y = vl.field("t", "quantitative", scale=yscale)
        layers.append(
            {
                "data": target_row,
                "mark": {"type": "rule", "color": P.TARGET, "strokeWidth": 1.5},
                "encoding": {"y": target_y, "tooltip": [vl.tip("text", "Line")]},
            }
        )
        layers.append(
            {
                "data": target_row,
                "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 6,
                         "fontSize": 10, "color": P.TARGET, "font": P.FONT},
                "encoding": {"y": target_y, "x": {"value": width},
                             "text": vl.field("text", "nominal")},
            }
        )  # fmt: skip
    present = [c for c in P.FUNNEL_CATEGORIES if c in set(u["cat"])]
    dom = list(dict.fromkeys(u["cat_label"]))
    order = [lab for c in present for lab in dom if u.loc[u["cat"] == c, "cat_label"].eq(lab).any()]
    cmap = {
        lab: P.FUNNEL_CATEGORIES[c][0] for c in present for lab in u.loc[u["cat"] == c, "cat_label"]
    }
    smap = {
        lab: P.FUNNEL_CATEGORIES[c][1] for c in present for lab in u.loc[u["cat"] == c, "cat_label"]
    }
    tips = [
        vl.tip("unit", noun.capitalize()),
        vl.tip("t_value", "Value"),
        vl.tip("t_num", str(opts.get("numerator", "Numerator"))),
        vl.tip("t_den", str(opts.get("denominator", "Denominator"))),
        vl.tip("t_lcl", "Lower limit here"),
        vl.tip("t_ucl", "Upper limit here"),
        vl.tip("t_position", "Position"),
    ]
    legend = {"title": None, "orient": "bottom"}
    layers.append(
        vl.layer(
            "pt",
            {
                "type": "point",
                "filled": True,
                "size": P.POINT_SIZE + 10,
                "opacity": 0.95,
                "stroke": P.POINT_STROKE,
                "strokeWidth": 0.6,
            },
            {
                "x": x,
                "y": y,
                "color": vl.field(
                    "cat_label",
                    "nominal",
                    scale={"domain": order, "range": [cmap[o] for o in order]},
                    legend=legend,
                ),
                "shape": vl.field(
                    "cat_label",
                    "nominal",
                    scale={"domain": order, "range": [smap[o] for o in order]},
                    legend=legend,
                ),
                "tooltip": tips,
            },
        )
    )
    if label_outliers and u["outside"].any():
        layers.append(
            vl.layer(
                "pt",
                {"type": "text", "align": "left", "dx": 7, "dy": -6, "fontSize": 10,
                 "color": "#3d3d3d", "limit": 140, "font": P.FONT},
                {"x": x, "y": y, "text": vl.field("unit", "nominal")},
                "datum.outside",
            )
        )  # fmt: skip

    adjusted = "adjusted" in sets
    phi = summ.get("phi")
    sub = [
        f"Funnel plot · Rule set: {result.rule_set}",
        f"{_limit_text(95)} and {_limit_text(99.8)} limits"
        + (f", adjusted for overdispersion (phi = {number(phi)})" if adjusted else "")
        + f"; {noun}s judged on the {_limit_text(judged_level)} limits"
        + (
            " (dashed: 95 %, solid: 99.8 %; darker lines adjusted)."
            if len(sets) > 1
            else " (dashed: 95 %, solid: 99.8 %)."
            if sets
            else "."
        ),
    ]
    heading = title or label
    reading = result.reading
    return {
        **vl.layered(inline_data(rows), layers, width, height),
        "title": chart_title(heading, sub),
        "description": f"{heading}. {' '.join(sub)} {reading}",
        "usermeta": {
            "qiwidgets": {
                "title": heading,
                "caption": reading,
                "chart": "funnel",
                "rule_set": result.rule_set,
                "caption_lines": wrap(reading, 110),
            }
        },
    }


def funnel_chart(result: FunnelResult, **options: Any) -> alt.LayerChart:
    """Draw a funnel plot as an Altair chart.

    Takes the parameters of :func:`funnel_chart_spec` (``title``, ``label_outliers``,
    ``width``, ``height``). The reading is the chart's ``description`` and
    ``usermeta["qiwidgets"]["caption"]``.
    """
    return vl.to_altair(funnel_chart_spec(result, **options))
