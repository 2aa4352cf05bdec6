"""Unit and property tests for ``spc.control_chart`` (qicharts2 profile, Anhøj and IHI rules)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiwidgets import spc
from qiwidgets.errors import QIError, SPCDataError, SPCOptionError
from qiwidgets.spc.qic import _c4
from qiwidgets.spc.runs import crossings_limit, longest_run_limit


def series(values, n=None, start="2024-01-01", **extra):
    d = pd.DataFrame({"month": pd.date_range(start, periods=len(values), freq="MS"), "y": values})
    if n is not None:
        d["n"] = n
    for k, v in extra.items():
        d[k] = v
    return d


# --- constants and limits from the literature -------------------------------------------------


def test_c4_and_subgroup_constants_match_montgomery_appendix_vi():
    # Montgomery, Introduction to SQC, Appendix VI: n = 5: c4 = 0.9400, A3 = 1.427, B4 = 2.089
    c4 = float(_c4(np.array([5.0]))[0])
    assert c4 == pytest.approx(0.9400, abs=5e-5)
    assert 3 / (c4 * np.sqrt(5)) == pytest.approx(1.427, abs=5e-4)
    assert 1 + 3 * np.sqrt(1 - c4**2) / c4 == pytest.approx(2.089, abs=5e-4)
    assert float(_c4(np.array([2.0]))[0]) == pytest.approx(0.7979, abs=5e-5)


@pytest.mark.parametrize(
    "n, longest, crossings",
    # Anhøj & Olesen (2014), table of critical values
    [(10, 6, 2), (14, 7, 4), (20, 7, 6), (24, 8, 8), (30, 8, 10), (40, 8, 14), (60, 9, 23)],
)
def test_anhoej_critical_values(n, longest, crossings):
    assert longest_run_limit(np.array([n]))[0] == longest
    assert crossings_limit(np.array([n]))[0] == crossings


# --- run charts and the Anhøj rules -----------------------------------------------------------------


def test_run_chart_median_and_no_signal_for_alternating_data():
    r = spc.control_chart(series([1, 3] * 10), x="month", y="y")
    s = r.summary.iloc[0]
    assert s["cl"] == 2
    assert s["n_crossings"] == 19 and s["longest_run"] == 1
    assert not s["runs_signal"]
    assert r.rule_set == "Anhøj"


def test_long_run_signals_and_points_on_median_are_ignored():
    values = [5, 5, 5, 5, 5, 5, 5, 5, 5, 5] + [6] * 9 + [1] * 9 + [9, 1]
    r = spc.control_chart(series(values), x="month", y="y")
    s = r.summary.iloc[0]
    assert s["cl"] == 5
    assert s["n_useful"] == 20  # the ten points on the median do not count
    assert s["longest_run"] == 9
    assert s["runs_signal"] == 1


def test_missing_values_count_as_observed_but_not_useful():
    values = [10.0, 11, np.nan, 9, 10.5, np.nan, 9.5, 10.2, 9.8, 10.1, 9.9, 10.3]
    r = spc.control_chart(series(values), x="month", y="y", chart="i")
    s = r.summary.iloc[0]
    assert s["n_obs"] == 12 and s["n_useful"] == 10
    assert np.isfinite(r.points["ucl"]).all()


def test_freeze_keeps_limits_from_baseline_and_tests_all_points():
    values = [10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9] + [15] * 8
    r = spc.control_chart(series(values), x="month", y="y", chart="i", freeze=12)
    p = r.points
    assert p["cl"].nunique() == 1 and p["cl"].iloc[0] == pytest.approx(10)
    assert p["baseline"].sum() == 12
    assert p["sigma_signal"].iloc[12:].all()
    assert r.summary["runs_signal"].iloc[0] == 1


def test_part_by_position_and_by_label_agree():
    values = [10, 11, 9, 10, 11, 9, 10, 11, 9, 10] + [20, 21, 19, 20, 21, 19, 20, 21, 19, 20]
    by_pos = spc.control_chart(series(values), x="month", y="y", chart="i", part=10)
    labels = ["before"] * 10 + ["after"] * 10
    by_label = spc.control_chart(series(values, phase=labels), x="month", y="y", chart="i", part="phase")
    cols = ["part", "cl", "lcl", "ucl", "runs_signal"]
    pd.testing.assert_frame_equal(by_pos.points[cols], by_label.points[cols])
    assert list(by_pos.summary["cl"]) == [pytest.approx(10), pytest.approx(20)]


def test_exclude_leaves_point_out_of_limits_but_still_tests_it():
    values = [10, 11, 9, 10, 11, 9, 10, 40, 9, 10, 11, 9]
    with_it = spc.control_chart(series(values), x="month", y="y", chart="i")
    without = spc.control_chart(series(values), x="month", y="y", chart="i", exclude=8)
    assert without.points["cl"].iloc[0] < with_it.points["cl"].iloc[0]
    assert not without.points["include"].iloc[7]
    assert without.points["sigma_signal"].iloc[7]


def test_multiply_scales_values_and_limits_only():
    d = series([3, 5, 4, 6, 2, 5, 4, 3, 5, 4], n=[100] * 10)
    a = spc.control_chart(d, x="month", y="y", n="n", chart="p")
    b = spc.control_chart(d, x="month", y="y", n="n", chart="p", multiply=100)
    for c in ("y", "cl", "lcl", "ucl"):
        np.testing.assert_allclose(b.points[c], a.points[c] * 100, rtol=1e-12)
    assert (a.points["sigma_signal"] == b.points["sigma_signal"]).all()


def test_fixed_centre_line_is_in_plotted_units():
    d = series([3, 5, 4, 6, 2, 5, 4, 3, 5, 4], n=[100] * 10)
    r = spc.control_chart(d, x="month", y="y", n="n", chart="p", multiply=100, cl=5)
    assert r.points["cl"].iloc[0] == pytest.approx(5)


def test_subgroups_are_aggregated_per_x():
    d = pd.DataFrame({"day": [1, 1, 1, 2, 2, 3, 3, 3, 3], "v": [1, 2, 3, 4, 6, 1, 1, 1, 1.0]})
    r = spc.control_chart(d, x="day", y="v", chart="xbar")
    p = r.points
    assert list(p["y_length"]) == [3, 2, 4]
    assert list(p["y"]) == [2, 5, 1]
    med = spc.control_chart(d, x="day", y="v", agg_fun="median").points
    assert list(med["y"]) == [2, 5, 1]
    total = spc.control_chart(d, x="day", y="v", agg_fun="sum").points
    assert list(total["y"]) == [6, 10, 4]


def test_facets_are_computed_separately_and_match_single_runs():
    a = series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], team="A")
    b = series([5, 5, 6, 4, 5, 6, 4, 5, 5, 6], team="B")
    both = spc.control_chart(pd.concat([b, a]), x="month", y="y", chart="i", facets="team")
    alone = spc.control_chart(a, x="month", y="y", chart="i")
    got = both.points[both.points["team"] == "A"].reset_index(drop=True)
    for c in ("y", "cl", "lcl", "ucl", "runs_signal", "sigma_signal"):
        np.testing.assert_array_equal(got[c].to_numpy(), alone.points[c].to_numpy())
    assert set(both.readings) == {"A", "B"}


def test_two_facet_columns():
    rows = [series([1, 2, 3, 2, 1, 2, 3, 2], team=t, measure=m) for t in "AB" for m in ("m1", "m2")]
    r = spc.control_chart(pd.concat(rows), x="month", y="y", chart="c", facets=["team", "measure"])
    assert len(r.summary) == 4
    assert ("B", "m2") in r.readings


# --- IHI rules ------------------------------------------------------------------------------------


def test_ihi_shift_needs_six_points():
    five = [5, 6, 4, 5] + [9] * 5 + [1, 5, 4, 6]
    six = [5, 6, 4, 5] + [9] * 6 + [1, 5, 4, 6]
    assert not spc.control_chart(series(five), x="month", y="y", rule_set="ihi").points["shift"].any()
    r = spc.control_chart(series(six), x="month", y="y", rule_set="ihi")
    assert r.points["shift"].sum() == 6
    assert r.rule_set == "IHI"


def test_ihi_trend_needs_five_points_and_ignores_repeats():
    four = [5, 3, 4, 5, 6, 2, 5, 3, 4]  # 3,4,5,6 is a trend of 4 points
    five = [5, 3, 4, 5, 6, 7, 2, 5, 3]
    repeat = [5, 3, 4, 4, 5, 6, 7, 2, 5]  # the repeated 4 neither breaks nor counts
    assert not spc.control_chart(series(four), x="month", y="y", rule_set="ihi").points["trend"].any()
    assert spc.control_chart(series(five), x="month", y="y", rule_set="ihi").points["trend"].sum() == 5
    assert spc.control_chart(series(repeat), x="month", y="y", rule_set="ihi").points["trend"].sum() >= 5


def test_ihi_rules_are_for_run_charts_only():
    with pytest.raises(SPCOptionError, match="run charts only"):
        spc.control_chart(series([1, 2, 3]), x="month", y="y", chart="i", rule_set="ihi")


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"chart": "q"}, SPCOptionError, "`chart` must be one of"),
        ({"chart": "p"}, SPCOptionError, "`n` .* is required"),
        ({"method": "fast"}, SPCOptionError, "`method` must be one of"),
        ({"freeze": 0}, SPCOptionError, "`freeze` must be at least 1"),
        ({"freeze": "12"}, SPCOptionError, "`freeze` must be a whole number"),
        ({"exclude": [0]}, SPCOptionError, "`exclude` positions start at 1"),
        ({"multiply": -1}, SPCOptionError, "`multiply` must be greater than zero"),
        ({"facets": ["a", "b", "c"]}, SPCOptionError, "at most 2 columns"),
        ({"y": "falls"}, SPCDataError, "`y` names column 'falls', which is not in the data"),
    ],
)
def test_option_errors_name_argument_rule_and_value(kwargs, error, message):
    args = {"x": "month", "y": "y", **kwargs}
    with pytest.raises(error, match=message):
        spc.control_chart(series([1, 2, 3]), **args)


def test_data_errors_name_rows_and_values():
    with pytest.raises(SPCDataError, match=r"negative counts.*row\(s\) 1 hold -2"):
        spc.control_chart(series([1, -2, 3]), x="month", y="y", chart="c")
    with pytest.raises(SPCDataError, match="larger than the denominator"):
        spc.control_chart(series([1, 12, 3], n=[10, 10, 10]), x="month", y="y", n="n", chart="p")
    with pytest.raises(SPCDataError, match="greater than zero for a T chart"):
        spc.control_chart(series([1, 0, 3]), x="month", y="y", chart="t")
    with pytest.raises(SPCDataError, match=r"must hold numbers; row\(s\) 1 hold 'seven'"):
        spc.control_chart(series(["1", "seven", "3"]), x="month", y="y")
    with pytest.raises(SPCDataError, match="zero where `y`"):
        spc.control_chart(series([1, 2, 3], n=[5, 0, 5]), x="month", y="y", n="n", chart="u")
    assert issubclass(SPCDataError, QIError)


def test_all_missing_series_warns_and_does_not_crash():
    with pytest.warns(UserWarning, match="no usable points"):
        r = spc.control_chart(series([np.nan] * 5), x="month", y="y", chart="i")
    assert r.summary["n_useful"].iloc[0] == 0
    assert isinstance(r.reading, str)


# --- the reading ----------------------------------------------------------------------------------------


def test_reading_names_signal_direction_and_start():
    values = [6, 7, 5, 6, 7, 6, 5, 7, 6, 5, 6, 7] + [3, 2, 3, 2, 3, 2, 3, 2, 3]
    d = series(values, start="2025-11-01")
    r = spc.control_chart(
        d, x="month", y="y", chart="i", label="Falls per 1,000 bed days", improvement="decrease"
    )
    text = r.reading
    assert text.startswith("Falls per 1,000 bed days: special cause improvement")
    assert "9 points in a row below the mean since Nov 2026" in text


def test_reading_for_common_cause():
    r = spc.control_chart(series([1, 3] * 10), x="month", y="y", label="Waits")
    assert r.reading.startswith("Waits: common cause variation only (Anhøj rules)")


# --- properties -----------------------------------------------------------------------------------------

values_st = st.lists(
    st.floats(min_value=0, max_value=1e4, allow_nan=False, width=32), min_size=2, max_size=40
)


@pytest.mark.filterwarnings("ignore:Some series have no usable points")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=values_st, chart=st.sampled_from(["i", "c", "g", "run", "t"]))
def test_limits_are_ordered_and_input_is_not_mutated(values, chart):
    if chart == "t":
        values = [v + 0.5 for v in values]
    if chart in ("c", "g"):
        values = [float(round(v)) for v in values]
    d = series(values)
    before = d.copy(deep=True)
    r = spc.control_chart(d, x="month", y="y", chart=chart)
    pd.testing.assert_frame_equal(d, before)
    p = r.points
    ok = p["lcl"].notna() & p["ucl"].notna()
    assert (p.loc[ok, "lcl"] <= p.loc[ok, "cl"] + 1e-9 * p.loc[ok, "cl"].abs()).all()
    assert (p.loc[ok, "cl"] <= p.loc[ok, "ucl"] + 1e-9 * p.loc[ok, "cl"].abs()).all()
    # a T chart's 2-sigma lower line may be missing (qicharts2 floors only the 3-sigma one)
    inner = ok & p["lcl_95"].notna()
    assert (p.loc[inner, "lcl"] <= p.loc[inner, "lcl_95"] + 1e-9).all()


@pytest.mark.filterwarnings("ignore:Some series have no usable points")
@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=3, max_size=30),
    factor=st.sampled_from([10.0, 100.0, 1000.0]),
    chart=st.sampled_from(["p", "u", "pp", "up"]),
)
def test_multiply_scales_linearly(counts, factor, chart):
    d = series(counts, n=[60] * len(counts))
    a = spc.control_chart(d, x="month", y="y", n="n", chart=chart)
    b = spc.control_chart(d, x="month", y="y", n="n", chart=chart, multiply=factor)
    for c in ("y", "cl", "lcl", "ucl", "lcl_95", "ucl_95"):
        np.testing.assert_allclose(b.points[c], a.points[c] * factor, rtol=1e-12, atol=0)


@pytest.mark.filterwarnings("ignore:Some series have no usable points")
@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(0, 30), min_size=4, max_size=15), min_size=2, max_size=5),
    seed=st.integers(0, 1000),
)
def test_facet_order_does_not_change_per_facet_results(data, seed):
    frames = [series(vals, team=f"T{i}") for i, vals in enumerate(data)]
    whole = pd.concat(frames, ignore_index=True)
    shuffled = whole.sample(frac=1, random_state=seed)
    a = spc.control_chart(whole, x="month", y="y", chart="c", facets="team")
    b = spc.control_chart(shuffled, x="month", y="y", chart="c", facets="team")
    key = ["team", "x"]
    pa = a.points.astype({"team": str}).sort_values(key).reset_index(drop=True)
    pb = b.points.astype({"team": str}).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(pa, pb)


# --- layering -------------------------------------------------------------------------------------------


def test_importing_spc_does_not_import_widgets_or_altair():
    code = (
        "import sys, qiwidgets.spc; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'altair', 'sqlalchemy')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dates_with_a_time_zone_are_sorted_by_their_instants():
    """A time-zone-aware x column (e.g. exported from an EPR) is charted in time order; it used
    to fail with a TypeError."""
    months = pd.Series(pd.date_range("2024-01-01", periods=6, freq="MS", tz="Europe/London"))
    d = pd.DataFrame({"month": months[::-1].reset_index(drop=True), "y": [6.0, 5, 4, 3, 2, 1]})
    r = spc.control_chart(d, x="month", y="y", chart="i")
    assert list(r.points["y"]) == [1.0, 2, 3, 4, 5, 6]
    assert list(r.points["x"]) == list(months)
