"""Tests for qiwidgets.charts: specs, offline rendering, escaping, icons, artefact PNGs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from itertools import pairwise
from pathlib import Path
from xml.etree import ElementTree as ET

import altair as alt
import numpy as np
import pandas as pd
import pytest

from qiwidgets import charts, spc
from qiwidgets.charts import palette as P
from qiwidgets.charts.render import RENDERER_NAME

HOSTILE = "</script><img src=x onerror=alert(1)>"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "charts"
# a network reference anywhere a browser would fetch it
NETWORK = re.compile(
    r"<\s*script|<\s*link\b|@import|(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE
)


# ---------------------------------------------------------------------------------------------
# data and results
# ---------------------------------------------------------------------------------------------


def _months(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="MS")


def _series() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    y = np.r_[rng.normal(20, 2, 14), rng.normal(14, 2, 14)]
    y[5] = 34.0  # a point far outside the limits
    n = rng.integers(80, 120, 28)
    return pd.DataFrame(
        {
            "month": _months(28),
            "los": y,
            "n": n,
            "events": rng.binomial(n, 0.2),
            "count": rng.poisson(6, 28),
        }
    )


def _subgroups() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    return pd.DataFrame(
        {"month": np.repeat(_months(20), 5), "wait": rng.normal(30, 5, 100).round(1)}
    )


def _make(kind: str) -> spc.SPCResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = _series()
        if kind == "run":
            return spc.control_chart(d, x="month", y="los", chart="run", label="Length of stay")
        if kind == "run_ihi":
            return spc.control_chart(d, x="month", y="los", chart="run", rule_set="ihi")
        if kind == "i":
            return spc.control_chart(
                d,
                x="month",
                y="los",
                chart="i",
                part=[14],
                exclude=[3],
                target=16,
                improvement="decrease",
                label="Length of stay",
            )
        if kind == "i_freeze":
            return spc.control_chart(d, x="month", y="los", chart="i", freeze=12, exclude=[3])
        if kind == "p":
            return spc.control_chart(
                d, x="month", y="events", n="n", chart="p", multiply=100, label="Readmissions %"
            )
        if kind == "u":
            return spc.control_chart(
                d,
                x="month",
                y="events",
                n="n",
                chart="u",
                multiply=1000,
                label="Falls per 1,000 bed days",
            )
        if kind == "c":
            return spc.control_chart(d, x="month", y="count", chart="c")
        if kind == "xbar":
            return spc.control_chart(_subgroups(), x="month", y="wait", chart="xbar")
        if kind == "s":
            return spc.control_chart(_subgroups(), x="month", y="wait", chart="s")
        if kind == "g":
            g = pd.DataFrame(
                {"event": range(1, 31), "between": np.random.default_rng(9).geometric(0.05, 30)}
            )
            return spc.control_chart(g, x="event", y="between", chart="g")
        if kind == "t":
            t = pd.DataFrame(
                {
                    "event": range(1, 26),
                    "days": np.random.default_rng(10).exponential(12, 25).round(1) + 1,
                }
            )
            return spc.control_chart(t, x="event", y="days", chart="t")
        if kind == "mdc":
            return spc.mdc_chart(
                d,
                x="month",
                y="los",
                improvement="decrease",
                target=15,
                rebase=[str(d["month"].iloc[14].date())],
                label="Length of stay",
            )
        if kind == "mdc_fix":
            return spc.mdc_chart(d, x="month", y="los", fix_after_n_points=12)
        if kind == "faceted":
            return _faceted()
    raise AssertionError(kind)


def _faceted() -> spc.SPCResult:
    rng = np.random.default_rng(11)
    teams = ["Ward 1", "Ward 2", HOSTILE, "Ward 4"]
    d = pd.DataFrame(
        {
            "team": np.repeat(teams, 24),
            "month": list(_months(24)) * len(teams),
            "v": rng.normal(50, 4, 24 * len(teams)),
        }
    )
    d.loc[(d["team"] == "Ward 4") & (d["month"] >= _months(24)[16]), "v"] += 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return spc.mdc_chart(
            d,
            x="month",
            y="v",
            facets="team",
            improvement="increase",
            target={"Ward 1": 45, "Ward 4": 75},
            label="Discharges before noon (%)",
        )


def _funnel() -> spc.FunnelResult:
    rng = np.random.default_rng(12)
    exp = rng.integers(40, 400, 30).astype(float)
    obs = rng.poisson(exp)
    obs[4] = int(exp[4] * 1.9)  # one unit far above
    d = pd.DataFrame({"unit": [f"Team {i:02d}" for i in range(30)], "obs": obs, "exp": exp})
    d.loc[7, "unit"] = HOSTILE
    obs[7] = int(exp[7] * 0.3)
    d.loc[7, "obs"] = obs[7]
    return spc.funnel(d, numerator="obs", denominator="exp", group="unit", label="Falls O/E")


QIC_KINDS = ["run", "run_ihi", "i", "p", "u", "c", "xbar", "s", "g", "t"]
ALL_KINDS = [*QIC_KINDS, "mdc"]


@pytest.fixture(scope="module")
def results() -> dict[str, spc.SPCResult]:
    out = {k: _make(k) for k in [*ALL_KINDS, "i_freeze", "mdc_fix", "faceted"]}
    out["funnel"] = _funnel()
    return out


# ---------------------------------------------------------------------------------------------
# spec helpers
# ---------------------------------------------------------------------------------------------


def _layers(spec: dict) -> list[dict]:
    if "spec" in spec:  # facet
        spec = spec["spec"]
    return spec["layer"]


def _mark(layer: dict) -> str:
    m = layer["mark"]
    return m["type"] if isinstance(m, dict) else m


def _mark_prop(layer: dict, prop: str):
    m = layer["mark"]
    return m.get(prop) if isinstance(m, dict) else None


def _filters(layer: dict) -> str:
    return json.dumps(layer.get("transform", []))


def _find(spec: dict, mark: str, *, y: str | None = None, data_layer: str | None = None):
    out = []
    for lay in _layers(spec):
        if _mark(lay) != mark:
            continue
        enc = lay.get("encoding", {})
        if y is not None and enc.get("y", {}).get("field") != y:
            continue
        if data_layer is not None and f"_layer === '{data_layer}'" not in _filters(lay):
            continue
        out.append(lay)
    return out


def _rows(spec: dict, layer: str) -> list[dict]:
    """The rows of the chart's dataset that feed ``layer`` (inline JSON strings are parsed)."""
    sources = list(spec.get("datasets", {}).values())
    if isinstance(spec.get("data"), dict) and "values" in spec["data"]:
        sources.append(spec["data"]["values"])
    rows = []
    for values in sources:
        if isinstance(values, str):
            values = json.loads(values)
        rows.extend(r for r in values if isinstance(r, dict) and r.get("_layer") == layer)
    return rows


def _title(spec: dict) -> dict:
    return spec["title"]


def _assert_offline(text: str) -> None:
    assert not NETWORK.search(text), NETWORK.search(text).group(0)


# ---------------------------------------------------------------------------------------------
# spc_chart: layers and encodings per chart type
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_spec_has_expected_layers(results, kind):
    r = results[kind]
    spec = charts.spc_chart(r).to_dict()
    # the data line and the centre line, split by part / rebase group
    data_line = _find(spec, "line", y="y")
    assert len(data_line) == 1 and data_line[0]["encoding"]["detail"]["field"] == "seg"
    centre = _find(spec, "line", y="cl")
    assert len(centre) == 1 and centre[0]["encoding"]["detail"]["field"] == "seg"
    limits = [f for f in ("lcl", "ucl") if _find(spec, "line", y=f)]
    assert limits == ["lcl", "ucl"]
    # points: colour and shape both carry the category
    pts = [lay for lay in _find(spec, "point", y="y") if _mark_prop(lay, "filled")]
    assert len(pts) == 1
    enc = pts[0]["encoding"]
    assert enc["color"]["field"] == enc["shape"]["field"] == "cat_label"
    assert len(enc["color"]["scale"]["domain"]) == len(enc["shape"]["scale"]["range"])
    tips = {t["field"] for t in enc["tooltip"]}
    assert {"t_period", "t_value", "t_cl", "t_lcl", "t_ucl", "t_signal"} <= tips
    # the rule set on the chart, the reading as description and caption
    assert r.rule_set in " ".join(_title(spec)["subtitle"])
    assert r.reading in spec["description"]
    assert spec["usermeta"]["qiwidgets"]["caption"] == r.reading
    # every layer reads its own rows of the one dataset
    assert all("_layer" in _filters(lay) for lay in _layers(spec) if "data" not in lay)


@pytest.mark.parametrize("kind", [*ALL_KINDS, "faceted"])
def test_every_chart_renders_to_svg_offline(results, kind):
    r = results[kind]
    chart = charts.spc_chart(r)
    svg = charts.to_svg(chart)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and root.get("role") == "img"
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title") is not None
    desc = root.find(f"{ns}desc").text
    first_reading = next(iter(r.readings.values()))
    assert first_reading in desc
    _assert_offline(svg)
    html = charts.to_html(chart)
    _assert_offline(html)
    assert "<figcaption" in html


def test_svg_is_deterministic(results):
    chart = charts.spc_chart(results["i"])
    assert charts.to_svg(chart) == charts.to_svg(charts.spc_chart(results["i"]))


def test_every_point_shows_its_tooltip_on_hover_in_the_static_svg(results):
    # no script runs in an offline page, so each point carries its tooltip as an SVG <title>,
    # which browsers show when the pointer rests on it (JupyterLab, Voila, reports)
    r = results["i"]
    chart = charts.spc_chart(r)
    rows = _rows(chart.to_dict(), "pt")
    root = ET.fromstring(charts.to_svg(chart))
    ns = "{http://www.w3.org/2000/svg}"
    hovers = [
        el.find(f"{ns}title").text
        for el in root.iter()
        if el.get("aria-roledescription") == "point" and el.find(f"{ns}title") is not None
    ]
    shown = [row for row in rows if row["y"] is not None]
    assert len(hovers) == len(shown)
    big = max(shown, key=lambda row: row["y"])
    hover = next(h for h in hovers if f"Value: {big['t_value']}" in h.splitlines())
    assert f"Period: {big['t_period']}" in hover.splitlines()
    assert big["t_signal"] in hover  # the rule that fired, in the engine's words
    assert "undefined" not in " ".join(hovers)  # a missing value is left out, not "undefined"
    # marks without a tooltip (limits, centre line) carry no hover text of their own
    assert all(el.get("aria-label") is None for el in root.iter()
               if el.get("aria-roledescription") == "line mark")  # fmt: skip


def test_a_hover_title_keeps_a_name_with_markup_and_semicolons_as_text():
    names = ["Smith & Jones; east", '<b>"Ward 7"</b></title><script>x</script>', "W3", "W4"]
    data = pd.DataFrame({"unit": names, "num": [5, 7, 9, 4], "den": [100, 120, 90, 80]})
    result = spc.funnel(data, numerator="num", denominator="den", group="unit")
    root = ET.fromstring(charts.to_svg(charts.funnel_chart(result)))  # well-formed
    ns = "{http://www.w3.org/2000/svg}"
    hovers = "\n".join(t.text or "" for t in root.iter(f"{ns}title"))
    assert "Smith & Jones" in hovers and '<b>"Ward 7"</b></title><script>x</script>' in hovers
    assert not [el for el in root.iter() if el.tag == f"{ns}script"]


def test_control_chart_points_and_signals(results):
    r = results["i"]
    spec = charts.spc_chart(r).to_dict()
    rows = _rows(spec, "pt")
    assert len(rows) == len(r.points)
    # the astronomical point is a special cause with its reason in words, and is a concern
    # because lower is better
    big = max(rows, key=lambda row: row["y"])
    assert big["cat"] == "special_cause_concern"
    assert "outside the control limits" in big["t_signal"].lower()
    assert big["cat_label"] == P.POINT_LABELS_QIC["special_cause_concern"]
    # parts are separate segments: one segment id per part, no line joins them
    assert len({row["seg"] for row in rows}) == r.points["part"].nunique() == 2
    # target line drawn
    assert _find(spec, "line", y="target")


def test_excluded_points_are_hollow(results):
    r = results["i"]
    spec = charts.spc_chart(r).to_dict()
    hollow_layers = [
        lay for lay in _find(spec, "point", y="y") if _mark_prop(lay, "filled") is False
    ]
    assert len(hollow_layers) == 1
    assert "datum.hollow" in _filters(hollow_layers[0])
    rows = _rows(spec, "pt")
    excluded = [row for row in rows if row["hollow"]]
    assert len(excluded) == int((~r.points["include"]).sum()) == 1
    assert "excluded" in excluded[0]["t_note"]
    assert "hollow" in " ".join(_title(spec)["subtitle"]).lower()


def test_frozen_baseline_is_shaded(results):
    r = results["i_freeze"]
    spec = charts.spc_chart(r).to_dict()
    assert _find(spec, "rect", data_layer="base")
    (band,) = _rows(spec, "base")
    base_x = r.points.loc[r.points["baseline"], "x"]
    assert band["x"].startswith(str(base_x.min().date()))
    assert band["x2"].startswith(str(base_x.max().date()))
    # MDC: fix_after_n_points shades the first n points
    spec = charts.spc_chart(results["mdc_fix"]).to_dict()
    (band,) = _rows(spec, "base")
    assert band["x2"].startswith(str(results["mdc_fix"].points["x"].iloc[11].date()))


def test_inner_lines_optional(results):
    for kind, r in (("i", results["i"]), ("mdc", results["mdc"])):
        off = charts.spc_chart(r).to_dict()
        on = charts.spc_chart(r, show_inner=True).to_dict()
        assert not _find(off, "line", y="hi_in"), kind
        assert _find(on, "line", y="hi_in") and _find(on, "line", y="lo_in"), kind


def test_runs_signal_marks_centre_line(results):
    r = results["run"]
    assert bool(r.points["runs_signal"].any())
    spec = charts.spc_chart(r).to_dict()
    (centre,) = _find(spec, "line", y="cl")
    assert "runs" in json.dumps(centre["encoding"]["strokeDash"])
    rows = _rows(spec, "pt")
    assert all("Anhøj" in row["t_runs"] for row in rows if row["runs"])


def test_ihi_shift_and_trend_words(results):
    r = results["run_ihi"]
    rows = _rows(charts.spc_chart(r).to_dict(), "pt")
    flagged = [row for row in rows if row["cat"] != "common_cause"]
    n_flagged = int((r.points["shift"] | r.points["trend"]).sum())
    assert len(flagged) == n_flagged > 0
    assert all(("shift" in row["t_signal"]) or ("trend" in row["t_signal"]) for row in flagged)


def test_mdc_colours_shapes_and_rebase(results):
    r = results["mdc"]
    spec = charts.spc_chart(r).to_dict()
    (pts,) = [lay for lay in _find(spec, "point", y="y") if _mark_prop(lay, "filled")]
    dom = pts["encoding"]["color"]["scale"]["domain"]
    colours = pts["encoding"]["color"]["scale"]["range"]
    shapes = pts["encoding"]["shape"]["scale"]["range"]
    present = [c for c in P.POINT_CATEGORIES if c in set(r.points["point_type"].astype(str))]
    assert dom == [P.POINT_LABELS_MDC[c] for c in present]
    assert colours == [P.POINT_CATEGORIES[c][0] for c in present]
    assert shapes == [P.POINT_CATEGORIES[c][1] for c in present]
    assert len(set(shapes)) == len(shapes)  # a shape per category, not only a colour
    rows = _rows(spec, "pt")
    assert len({row["seg"] for row in rows}) == 2  # two rebase groups, two segments
    assert [row["cat"] for row in rows] == list(r.points["point_type"].astype(str))
    # the variation and assurance icons are drawn (as data URIs, never network URLs)
    icons = _rows(spec, "icon")
    assert {i["text"] for i in icons} == {
        r.summary["variation_icon"].iloc[-1],
        r.summary["assurance_icon"].iloc[-1],
    }
    assert all(i["url"].startswith("data:image/svg+xml;base64,") for i in icons)


def test_palette_has_one_colour_and_shape_per_category():
    shapes = [s for _, s in P.POINT_CATEGORIES.values()]
    assert len(set(shapes)) == len(shapes)
    assert set(P.POINT_LABELS_MDC) == set(P.POINT_CATEGORIES) == set(P.POINT_LABELS_QIC)


# ---------------------------------------------------------------------------------------------
# annotations and escaping
# ---------------------------------------------------------------------------------------------


ANNOTATIONS = [
    {"date": "2024-04-01", "text": "PDSA 1: huddles", "kind": "pdsa_start"},
    {"date": "2024-05-01", "text": "New sensors", "kind": "event"},
    {"date": "2024-05-01", "text": HOSTILE, "kind": "pdsa_start"},
    {"date": "2025-02-01", "text": "Limits recalculated", "kind": "rebase"},
]


def test_annotations_drawn_as_labelled_rules(results):
    r = results["i"]
    chart = charts.spc_chart(r, annotations=pd.DataFrame(ANNOTATIONS))
    spec = chart.to_dict()
    rules = _find(spec, "rule", data_layer="ann")
    texts = _find(spec, "text", data_layer="ann")
    assert len(rules) == len(texts) == 1  # one layer of rules and one of labels for all kinds
    # each kind keeps its own colour and dash
    colours = {c["test"]: c["value"] for c in rules[0]["encoding"]["color"]["condition"]}
    dashes = {c["test"]: c["value"] for c in rules[0]["encoding"]["strokeDash"]["condition"]}
    for kind in ("pdsa_start", "event", "rebase"):
        test = f"(datum.kind === '{kind}')"
        assert colours[test] == P.ANNOTATION_COLOURS[kind]
        assert dashes[test] == P.ANNOTATION_DASHES[kind]
    assert texts[0]["encoding"]["color"] == rules[0]["encoding"]["color"]
    rows = _rows(spec, "ann")
    assert sorted(row["text"] for row in rows) == sorted(a["text"] for a in ANNOTATIONS)
    assert len({row["row"] for row in rows}) > 1  # labels staggered
    svg = charts.to_svg(chart)
    assert "PDSA 1: huddles" in svg and "New sensors" in svg


def test_hostile_text_is_escaped_everywhere(results):
    facet = results["faceted"]
    chart = charts.spc_chart(results["i"], annotations=ANNOTATIONS, title=HOSTILE)
    for c in (chart, charts.small_multiples(facet), charts.funnel_chart(results["funnel"])):
        svg = charts.to_svg(c)
        html = charts.to_html(c, caption=f"caption {HOSTILE}")
        for out in (svg, html):
            assert "<img" not in out and "<script" not in out.lower()
            assert "onerror=alert(1)&gt;" in out or "&lt;/script&gt;" in out
            ET.fromstring(out if out.startswith("<svg") else out.replace("<br>", "<br/>"))
            _assert_offline(out)
    # one hostile facet drawn alone: in the title, the description and the caption
    single = charts.spc_chart(facet, facet=HOSTILE)
    html = charts.to_html(single)
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html


def test_a_long_annotation_label_is_cut_and_its_tooltip_keeps_the_whole_text(results):
    long_text = "Huddle at every shift change with the falls champion and the ward sister"
    spec = charts.spc_chart_spec(
        results["i"], annotations=[{"date": "2024-06-01", "text": long_text}]
    )
    (row,) = _rows(spec, "ann")
    most = int(P.ANNOTATION_LABEL_LIMIT // P.ANNOTATION_CHAR_PX)
    assert row["label"].endswith("…") and len(row["label"]) == most
    assert long_text.startswith(row["label"][:-1])
    assert row["text"] == long_text  # the rule's tooltip shows all of it


def test_bad_annotations_are_refused(results):
    with pytest.raises(charts.ChartError, match="`annotations` row 0 needs a 'date'"):
        charts.spc_chart(results["i"], annotations=[{"text": "no date"}])
    with pytest.raises(charts.ChartError, match="`annotations` must be"):
        charts.spc_chart(results["i"], annotations="PDSA")
    with pytest.raises(charts.ChartError, match="must be numbers"):
        charts.spc_chart(results["g"], annotations=[{"x": "soon", "text": "t"}])


def test_annotations_on_one_facet_only(results):
    r = results["faceted"]
    notes = [
        {"date": "2024-06-01", "text": "PDSA on Ward 1", "kind": "pdsa_start", "team": "Ward 1"},
        {"date": "2024-07-01", "text": "Everyone", "kind": "event"},
    ]
    spec = charts.small_multiples(r, annotations=notes).to_dict()
    rows = _rows(spec, "ann")
    assert [row["_facet"] for row in rows if row["text"] == "PDSA on Ward 1"] == ["Ward 1"]
    assert len([row for row in rows if row["text"] == "Everyone"]) == 4


# ---------------------------------------------------------------------------------------------
# facets and small multiples
# ---------------------------------------------------------------------------------------------


def test_small_multiples_one_panel_per_facet(results):
    r = results["faceted"]
    chart = charts.small_multiples(r, columns=2)
    spec = chart.to_dict()
    assert spec["facet"]["field"] == "_facet" and spec["columns"] == 2
    assert spec["facet"]["sort"] == [str(k) for k in r.readings]
    for reading in r.readings.values():
        assert reading in spec["description"]
    assert r.rule_set in " ".join(_title(spec)["subtitle"])
    # spc_chart on a faceted result without `facet` gives the same small multiples
    assert isinstance(charts.spc_chart(r), alt.FacetChart)
    svg = charts.to_svg(chart)
    assert svg.count("Ward 1") >= 1 and "Ward 4" in svg


def test_spc_chart_one_facet(results):
    r = results["faceted"]
    spec = charts.spc_chart(r, facet="Ward 4").to_dict()
    rows = _rows(spec, "pt")
    assert {row["_facet"] for row in rows} == {"Ward 4"}
    assert spec["usermeta"]["qiwidgets"]["caption"] == r.readings["Ward 4"]
    assert any(row["cat"] == "special_cause_improvement" for row in rows)
    with pytest.raises(charts.ChartError, match="`facet` must be one of"):
        charts.spc_chart(r, facet="Ward 99")


def test_inputs_not_mutated(results):
    r = results["i"]
    before = r.points.copy()
    charts.spc_chart(r, annotations=ANNOTATIONS)
    pd.testing.assert_frame_equal(r.points, before)


# ---------------------------------------------------------------------------------------------
# funnel
# ---------------------------------------------------------------------------------------------


def _inline(spec: dict) -> dict:
    """``spec`` with Altair's named datasets put back where they are used, parsed."""
    spec = json.loads(json.dumps(spec))
    spec.pop("$schema")  # Altair writes its own version (v6.4.1); the dicts vl-convert's (v6.4)
    named = spec.pop("datasets", {})
    spec.pop("config", None)  # Altair's default view size, overridden by every chart

    def walk(o):
        if isinstance(o, dict):
            if o.get("name") in named:
                o = {**{k: v for k, v in o.items() if k != "name"}, "values": named[o["name"]]}
            if isinstance(o.get("values"), str):
                o = {**o, "values": json.loads(o["values"])}
            return {k: walk(v) for k, v in o.items()}
        return [walk(v) for v in o] if isinstance(o, list) else o

    return walk(spec)


def test_the_altair_chart_and_the_plain_spec_are_the_same_chart(results):
    """Reports and dashboards render the dicts; analysts get Altair charts: one drawing."""
    cases = [
        (charts.spc_chart, charts.spc_chart_spec, results["i"], {"annotations": ANNOTATIONS}),
        (charts.spc_chart, charts.spc_chart_spec, results["mdc"], {"show_inner": True}),
        (charts.small_multiples, charts.small_multiples_spec, results["faceted"], {}),
        (charts.funnel_chart, charts.funnel_chart_spec, results["funnel"], {}),
    ]
    for draw, spec_of, result, options in cases:
        chart = draw(result, **options)
        assert isinstance(chart, alt.TopLevelMixin)
        validated = chart.to_dict()  # validated against the Vega-Lite schema
        assert _inline(validated) == _inline(spec_of(result, **options))
    composed = charts.spc_chart(results["c"]) + alt.Chart().mark_rule().encode(y=alt.datum(4))
    assert len(composed.to_dict()["layer"]) == len(charts.spc_chart_spec(results["c"])["layer"]) + 1


def test_funnel_x_axis_names_the_denominator_once(results):
    def x_title(result):
        return charts.funnel_chart_spec(result)["layer"][0]["encoding"]["x"]["title"]

    assert x_title(results["funnel"]) == "Expected (exp)"  # the data's column says more
    d = results["funnel"].points.rename(columns={"numerator": "obs", "denominator": "expected"})
    same = spc.funnel(d, numerator="obs", denominator="expected", group="group")
    assert x_title(same) == "Expected"  # not "Expected (expected)"


def test_funnel_chart_layers(results):
    r = results["funnel"]
    chart = charts.funnel_chart(r)
    spec = chart.to_dict()
    curves = _find(spec, "line", data_layer="lim")
    names = {row["curve"] for row in _rows(spec, "lim")}
    assert len(curves) == len(names) == 2  # 95 % and 99.8 %: one layer each (lower + upper)
    assert all(c["encoding"]["detail"]["field"] == "key" for c in curves)
    drawn = "adjusted" if bool(r.summary["draw_adjusted"].iloc[0]) else "unadjusted"
    assert any("95 %" in n for n in names) and any("99.8 %" in n for n in names)
    assert all(("adjusted for overdispersion" in n) == (drawn == "adjusted") for n in names)
    pts = _find(spec, "point", data_layer="pt")
    assert pts and pts[0]["encoding"]["shape"]["field"] == "cat_label"
    assert pts[0]["encoding"]["shape"]["legend"] is not None  # the legend shows the shapes
    assert any(_mark(lay) == "rule" for lay in _layers(spec))  # target
    rows = _rows(spec, "pt")
    outliers = r.points.loc[r.points["outlier"].astype(bool), "group"].astype(str)
    assert len(outliers) >= 1
    assert {row["unit"] for row in rows if row["outside"]} == set(outliers)
    assert _find(spec, "text", data_layer="lbl")  # every team named beside its point
    labels = _rows(spec, "lbl")
    assert {row["unit"] for row in labels} == set(r.points["group"].astype(str))
    assert {row["unit"] for row in labels if row["bold"]} == set(outliers)  # outliers stand out
    plain = charts.funnel_chart_spec(r)
    centre = [lay for lay in _layers(plain) if _mark(lay) == "text" and "data" in lay]
    assert centre and centre[0]["data"]["values"][0]["text"].startswith("Programme average")
    text = json.dumps(spec).lower()
    for word in ("rank", "league", "best", "worst"):
        assert word not in text.replace("rank_", "")
    assert r.reading in spec["description"]
    svg = charts.to_svg(chart)
    _assert_offline(svg)


# ---------------------------------------------------------------------------------------------
# icons
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,name",
    [(charts.variation_icon_svg, n) for n in charts.VARIATION_ICON_NAMES]
    + [(charts.assurance_icon_svg, n) for n in charts.ASSURANCE_ICON_NAMES],
)
def test_icons_are_self_contained_svg(make, name):
    svg = make(name, size=32)
    root = ET.fromstring(svg)
    assert root.get("width") == "32" and root.get("role") == "img"
    assert root.find("{http://www.w3.org/2000/svg}title").text
    assert " id=" not in svg and "href" not in svg
    _assert_offline(svg)
    assert charts.icon_data_uri(svg).startswith("data:image/svg+xml;base64,")


def test_icon_colours_follow_mdc():
    assert P.IMPROVEMENT in charts.variation_icon_svg("improvement_low")
    assert P.CONCERN in charts.variation_icon_svg("concern_high")
    assert P.NEUTRAL in charts.variation_icon_svg("neutral_high")
    assert P.IMPROVEMENT not in charts.variation_icon_svg("common_cause")
    assert ">H<" in charts.variation_icon_svg("improvement_high")
    assert ">L<" in charts.variation_icon_svg("concern_low")
    assert ">P<" in charts.assurance_icon_svg("pass")
    assert ">F<" in charts.assurance_icon_svg("fail")


def test_icon_errors_and_html(results):
    with pytest.raises(charts.ChartError, match="`name` must be one of"):
        charts.variation_icon_svg("improvement")
    with pytest.raises(charts.ChartError, match="`size`"):
        charts.assurance_icon_svg("pass", size=0)
    summ = results["faceted"].summary
    s = summ[summ["team"] == "Ward 1"].iloc[-1]
    html = charts.icons_html(s["variation_icon"], s["assurance_icon"])
    assert html.count("<svg") == 2
    assert charts.icons_html("common_cause", float("nan")).count("<svg") == 1
    title = charts.variation_icon_svg("common_cause", title=HOSTILE)
    assert "<img" not in title and "&lt;img" in title


# ---------------------------------------------------------------------------------------------
# rendering helpers
# ---------------------------------------------------------------------------------------------


def test_to_png(results):
    png = charts.to_png(charts.spc_chart(results["c"]), scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(charts.ChartError, match="`scale`"):
        charts.to_png(charts.spc_chart(results["c"]), scale=0)


def test_to_html_from_svg_and_refusals(results):
    svg = charts.to_svg(charts.spc_chart(results["c"]))
    html = charts.to_html(svg, caption="Counts <b>steady</b>")
    assert html.startswith('<figure class="qiw-chart"')
    assert "Counts &lt;b&gt;steady&lt;/b&gt;" in html
    for bad in (
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="x()"/></svg>',
        (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            '<image xlink:href="https://example.org/a.png"/></svg>'
        ),
        "<div>not svg</div>",
    ):
        with pytest.raises(charts.ChartError):
            charts.to_html(bad)
    with pytest.raises(charts.ChartError, match="`css_class`"):
        charts.to_html(svg, css_class='x" onload="y')


def test_enable_offline_renderer(results):
    previous = charts.enable_offline()
    try:
        assert alt.renderers.active == RENDERER_NAME
        bundle = alt.renderers.get()(charts.spc_chart(results["mdc"]).to_dict())
        assert set(bundle) >= {"text/html", "image/svg+xml"}
        _assert_offline(bundle["text/html"])
        assert results["mdc"].reading in bundle["text/html"]
        charts.enable_offline("svg")
        assert alt.renderers.active == "svg"
        with pytest.raises(charts.ChartError, match="`mode`"):
            charts.enable_offline("cdn")
    finally:
        alt.renderers.enable(previous)


def test_bad_options_name_the_argument(results):
    with pytest.raises(charts.ChartError, match="`result`"):
        charts.spc_chart(results["funnel"])
    with pytest.raises(charts.ChartError, match="`result`"):
        charts.funnel_chart(results["i"])
    with pytest.raises(charts.ChartError, match="`width`"):
        charts.spc_chart(results["i"], width=0)
    with pytest.raises(charts.ChartError, match="`show_inner`"):
        charts.spc_chart(results["i"], show_inner="yes")
    with pytest.raises(charts.ChartError, match="`facet` was given"):
        charts.spc_chart(results["i"], facet="Ward 1")
    with pytest.raises(charts.ChartError, match="`columns`"):
        charts.small_multiples(results["faceted"], columns=0)


def test_layering_of_imports():
    code = (
        "import sys; import qiwidgets.spc; assert 'altair' not in sys.modules; "
        "assert 'scipy' not in sys.modules; "
        "import qiwidgets.charts; assert 'ipywidgets' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_many_rows_do_not_hit_altair_row_limit():
    rng = np.random.default_rng(1)
    n_teams = 150  # 150 x 36 = 5,400 points: over Altair's default limit of 5,000 rows
    teams = [f"Team {i}" for i in range(n_teams)]
    d = pd.DataFrame(
        {
            "team": np.repeat(teams, 36),
            "month": list(_months(36)) * n_teams,
            "v": rng.normal(10, 2, 36 * n_teams),
        }
    )
    r = spc.mdc_chart(d, x="month", y="v", facets="team")
    spec = charts.small_multiples(r, columns=6).to_dict(validate=False)
    assert len(_rows(spec, "pt")) == 36 * n_teams


# ---------------------------------------------------------------------------------------------
# artefacts: PNGs to look at (test-artifacts/charts/, git-ignored)
# ---------------------------------------------------------------------------------------------


def test_write_png_artifacts(results):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    made = {
        "i_parts_excluded_annotated": charts.spc_chart(
            results["i"], annotations=ANNOTATIONS, show_inner=True
        ),
        "i_frozen_baseline": charts.spc_chart(results["i_freeze"]),
        "run_anhoej": charts.spc_chart(results["run"]),
        "run_ihi": charts.spc_chart(results["run_ihi"]),
        "p_chart": charts.spc_chart(results["p"]),
        "xbar_chart": charts.spc_chart(results["xbar"]),
        "t_chart": charts.spc_chart(results["t"]),
        "mdc_rebase": charts.spc_chart(
            results["mdc"],
            annotations=[
                {"date": "2025-03-01", "text": "Limits recalculated: new pathway", "kind": "rebase"}
            ],
        ),
        "mdc_small_multiples": charts.small_multiples(results["faceted"], columns=2),
        "funnel": charts.funnel_chart(results["funnel"]),
    }
    for name, chart in made.items():
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(charts.to_png(chart))
        assert path.stat().st_size > 5_000
    icons = "".join(charts.variation_icon_svg(n) for n in charts.VARIATION_ICON_NAMES) + "".join(
        charts.assurance_icon_svg(n) for n in charts.ASSURANCE_ICON_NAMES
    )
    (ARTIFACTS / "icons.html").write_text(f"<!doctype html><meta charset=utf-8>{icons}")
    (ARTIFACTS / "chart.html").write_text(
        "<!doctype html><meta charset=utf-8>" + charts.to_html(made["mdc_rebase"])
    )


def test_missing_values_break_the_line_and_other_x_types():
    m = pd.DataFrame(
        {"month": _months(15), "v": [5, 6, np.nan, 7, 6, 5, 4, 3, 4, 3, 2, 3, 4, 5, 4.0]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = spc.mdc_chart(m, x="month", y="v")
    spec = charts.spc_chart(r).to_dict()
    (line,) = _find(spec, "line", y="y")
    assert line["mark"]["invalid"] == "break-paths-show-domains"  # no line across the gap
    assert sum("y" not in row for row in _rows(spec, "pt")) == 1
    # quarters as text: an ordinal axis; plain numbers: a quantitative one
    q = pd.DataFrame({"q": [f"{y}-Q{i}" for y in (2024, 2025, 2026) for i in (1, 2, 3, 4)],
                      "v": [5, 6, 5, 7, 6, 5, 4, 3, 4, 3, 2, 3.0]})  # fmt: skip
    chart = charts.spc_chart(
        spc.control_chart(q, x="q", y="v", chart="i"),
        annotations=[{"x": "2025-Q2", "text": "PDSA"}],
    )
    (qline,) = _find(chart.to_dict(), "line", y="y")
    assert qline["encoding"]["x"]["type"] == "ordinal"
    assert "PDSA" in charts.to_svg(chart)


def test_line_labels_do_not_overlap(results):
    r = results["i"]  # target 16 and the last part's limits: labels at the right end
    spec = charts.spc_chart(r, height=200).to_dict()
    labels = sorted(_rows(spec, "lbl"), key=lambda row: row["y"])
    assert {row["kind"] for row in labels} == {"cl", "lcl", "ucl", "target"}
    assert any(row["text"].startswith("Target 16") for row in labels)
    ys = [row["y"] for row in labels]
    pts = _rows(spec, "pt")
    vals = [v for row in pts for k in ("y", "cl", "lcl", "ucl", "target") if (v := row.get(k))]
    gap = (max(vals) - min(vals)) / 200 * 12
    assert all(b - a >= gap - 1e-9 for a, b in pairwise(ys))
