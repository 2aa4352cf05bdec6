"""Draw a funnel plot from :func:`qiwidgets.spc.funnel`'s result.

Units (teams) are points at their denominator, each named beside its point; the centre line is
the programme average (every unit pooled), named as such; the 95 % and 99.8 % limit curves come
from ``result.limits`` (adjusted for overdispersion when the engine drew them so). Units outside
the limits the engine judged on are marked with a shape and always named. There is no ranking
and no "best"/"worst": a funnel plot shows which units vary more than chance alone would give,
to learn from, not to grade.
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

__all__ = ["PHI_WORDS", "centre_line_text", "funnel_chart", "funnel_chart_spec", "short_name"]

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


#: Font size of a unit's name beside its point: (a unit within the limits, one outside them).
_LABEL_FONT = {False: 9, True: 10}
#: Average width of a character of those fonts, in pixels (DejaVu Sans), to keep names apart.
_CHAR_WIDTH = {False: 5.4, True: 6.4}
_LABEL_GAP = 6  # pixels between a point and its name


def short_name(name: str) -> str:
    """A unit's name as written beside its point: what comes before a bracket (``"Ward 7 (Care
    of Older People)"`` -> ``"Ward 7"``); the tooltip gives the whole name."""
    head = str(name).split(" (", 1)[0].strip()
    return head or str(name)


def _overlap(a: tuple, b: tuple) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(units: pd.DataFrame, xdom: tuple, ydom: list, width: int, height: int, *,
                  centre: tuple | None, outliers_bold: bool) -> pd.DataFrame:  # fmt: skip
    """Where each unit's name goes: beside its point, on the first side (right, left, above or
    below on either) that overlaps no other name, point or the centre line's label (else where
    it overlaps least). Positions come back in data units (``lx``, ``ly``) with ``align``."""

    def px(d: float, v: float) -> tuple[float, float]:
        return ((d - xdom[0]) / ((xdom[1] - xdom[0]) or 1) * width,
                (ydom[1] - v) / ((ydom[1] - ydom[0]) or 1) * height)  # fmt: skip

    points = [px(d, v) for d, v in zip(units["den"], units["value"], strict=True)]
    taken = [(x - 5, y - 5, x + 5, y + 5) for x, y in points if np.isfinite(x) and np.isfinite(y)]
    if centre is not None:
        _, cy = px(0.0, centre[0])
        cw = len(centre[1]) * _CHAR_WIDTH[False] + 4
        taken.append((0, cy - 16, cw + 4, cy - 1))
        taken.append((0, cy - 1.5, width, cy + 1.5))  # the line itself: names above or below
    order = sorted(range(len(units)), key=lambda i: (not bool(units["outside"].iat[i]),
                                                      points[i][1], points[i][0]))  # fmt: skip
    out = []
    for i in order:
        x, y = points[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        bold = bool(units["outside"].iat[i]) and outliers_bold
        text = short_name(units["unit"].iat[i])
        w, h = len(text) * _CHAR_WIDTH[bold] + 2, _LABEL_FONT[bold] + 3
        best = None
        for dx, dy, align in ((_LABEL_GAP, 0, "left"), (-_LABEL_GAP, 0, "right"),
                              (_LABEL_GAP, -h + 2, "left"), (_LABEL_GAP, h - 2, "left"),
                              (-_LABEL_GAP, -h + 2, "right"), (-_LABEL_GAP, h - 2, "right")):  # fmt: skip
            left = x + dx if align == "left" else x + dx - w
            box = (left, y + dy - h / 2, left + w, y + dy + h / 2)
            cost = sum(_overlap(box, t) for t in taken)
            cost += 1e4 * (box[0] < 0 or box[2] > width + 40)  # keep names on the plot
            if best is None or cost < best[0]:
                best = (cost, dx, dy, align, box)
            if cost == 0:
                break
        _, dx, dy, align, box = best
        taken.append(box)
        lx = xdom[0] + (x + dx) / width * (xdom[1] - xdom[0])
        ly = ydom[1] - (y + dy) / height * (ydom[1] - ydom[0])
        out.append({"_layer": "lbl", "lx": lx, "ly": ly, "align": align, "bold": bold,
                    "text": text, "unit": units["unit"].iat[i]})  # fmt: skip
    return pd.DataFrame(out, columns=["_layer", "lx", "ly", "align", "bold", "text", "unit"])


def _limit_text(level: float) -> str:
    return "95 %" if level == 95 else "99.8 %"


def centre_line_text(result: FunnelResult) -> str:
    """What the funnel's centre line is, in words: the programme average (every unit pooled).

    A standardised ratio's average is 1 (observed = expected at the overall rate); a proportion's
    or a ratio of counts' is the pooled value, shown with it.
    """
    summ = result.summary.iloc[0]
    noun = result.options.get("unit_noun") or "team"
    where = "Programme average" if noun == "team" else f"Average of all {noun}s"
    value = float(summ.get("target_plotted", summ.get("target", np.nan)))
    if str(summ.get("data_type")) == "SR":
        return f"{where}: {number(value)} (observed = expected)"
    return f"{where}: {number(value)}"


#: What phi is, said beside its value (glossary: ``overdispersion``).
PHI_WORDS = "phi: how many times more than chance alone the units differ; 1 is as chance gives"


def funnel_chart_spec(
    result: FunnelResult,
    *,
    title: str | None = None,
    label_outliers: bool = True,
    label_units: bool = True,
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
        Write the name of each unit outside the limits beside its point (in bold).
    label_units:
        Write every unit's name beside its point (a unit outside the limits is named whenever
        ``label_outliers`` is set, whatever this says).
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
    for name, flag in (("label_outliers", label_outliers), ("label_units", label_units)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ChartError(f"`{name}` must be True or False, got {flag!r}.")
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
    centre_text = centre_line_text(result)
    if (label_units or label_outliers) and len(u):
        chosen = u if label_units else u[u["outside"]]
        placed = _place_labels(chosen, (0.0, xmax), ydom, width, height,
                               centre=(target, centre_text) if np.isfinite(target) else None,
                               outliers_bold=label_outliers)  # fmt: skip
        rows = pd.concat([rows, placed], ignore_index=True)

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
        target_row = {"values": [{"t": target, "text": centre_text}]}
        target_y = vl.field("t", "quantitative", scale=yscale)
        layers.append(
            {
                "data": target_row,
                "mark": {"type": "rule", "color": P.CENTRE_LINE, "strokeWidth": 1.5},
                "encoding": {"y": target_y, "tooltip": [vl.tip("text", "Line")]},
            }
        )
        layers.append(
            {
                "data": target_row,
                "mark": {"type": "text", "align": "left", "baseline": "bottom", "dy": -3,
                         "dx": 4, "fontSize": 10, "color": P.CENTRE_LINE, "font": P.FONT},
                "encoding": {"y": target_y, "x": {"value": 0},
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
    lx, ly = {**x, "field": "lx"}, {**y, "field": "ly"}
    for side, bold in ((s, b) for s in ("left", "right") for b in (False, True)):
        test = f"datum.align === {vl.string(side)} && datum.bold === {'true' if bold else 'false'}"
        if not ((rows["_layer"] == "lbl") & (rows.get("align") == side)
                & (rows.get("bold") == bold)).any():  # fmt: skip
            continue
        layers.append(vl.layer(
            "lbl",
            {"type": "text", "align": side, "baseline": "middle", "font": P.FONT,
             "fontSize": _LABEL_FONT[bold], "fontWeight": "bold" if bold else "normal",
             "color": "#3d3d3d" if bold else P.ANNOTATION_DEFAULT_COLOUR},
            {"x": lx, "y": ly, "text": vl.field("text", "nominal"),
             "tooltip": [vl.tip("unit", noun.capitalize())]},
            test,
        ))  # fmt: skip

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
    if adjusted:
        sub.append(f"{PHI_WORDS[:1].upper()}{PHI_WORDS[1:]}; the limits are widened to allow "
                   "for it.")  # fmt: skip
    heading = title or label
    reading = result.reading
    if "phi" in reading and not adjusted:  # the engine's reading names phi: say what it is
        reading = f"{reading} ({PHI_WORDS}.)"
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
