"""Unit tests for qiwidgets.spc.funnel: published numbers, validation, properties."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiwidgets.errors import QIError, SPCDataError, SPCOptionError
from qiwidgets.spc.funnel import FunnelResult, funnel, funnel_limits, r_round
from qiwidgets.spc.result import SPCResult

# The 6-unit data of FunnelPlotR's own tests (test-funnel_plot.R, test-classes_methods.R).
TEST6 = pd.DataFrame(
    {
        "unit": list("abcdef"),
        "num": [100, 150, 180, 80, 120, 225],
        "den": [108, 112, 165, 95, 100, 220],
    }
)


def run(data=TEST6, **kw):
    args = {"numerator": "num", "denominator": "den", "group": "unit"}
    args.update(kw)
    return funnel(data, **args)


# --- published numbers -----------------------------------------------------------------------


def test_exact_poisson_limits_match_funnelplotr_test_expectations():
    # FunnelPlotR tests/testthat/test-poisson_limits.R (7 d.p. for ll, 6 d.p. for ul).
    lim = funnel_limits(np.array([15.0, 20.0, 30.0]), data_type="SR")
    assert lim["lcl95"].round(7).tolist() == [0.5596924, 0.6108260, 0.6746958]
    assert lim["ucl95"].round(6).tolist() == [1.649348, 1.544419, 1.427562]
    assert lim["lcl998"].round(7).tolist() == [0.3862650, 0.4479107, 0.5289724]
    assert lim["ucl998"].round(6).tolist() == [2.082907, 1.902094, 1.702771]
    # the full-precision values the reference README quotes from R
    np.testing.assert_allclose(lim["lcl95"], [0.5596924089, 0.6108259793, 0.6746958007], rtol=1e-9)
    np.testing.assert_allclose(lim["ucl998"], [2.082907302, 1.902094068, 1.702770806], rtol=1e-9)


def test_exact_poisson_limits_at_unit_denominators():
    d = pd.DataFrame({"unit": ["x", "y", "z"], "num": [15, 20, 30], "den": [15, 20, 30]})
    r = run(d, draw_adjusted=False, draw_unadjusted=True, limit=95)
    np.testing.assert_allclose(
        r.points["lcl95"], [0.5596924089, 0.6108259793, 0.6746958007], rtol=1e-9
    )
    np.testing.assert_allclose(
        r.points["ucl95"], [1.649347925, 1.544418895, 1.427562180], rtol=1e-9
    )
    np.testing.assert_allclose(r.points["lcl"], r.points["lcl95"])
    assert (r.points["judged_on"] == "unadjusted").all()


def test_phi_and_tau2_for_the_package_test_data():
    r = run()
    row = r.summary.iloc[0]
    assert row["phi"] == pytest.approx(2.948033175102358, rel=1e-12)
    assert row["tau2"] == pytest.approx(0.01947753057802157, rel=1e-12)
    assert round(row["phi"], 6) == 2.948033  # as FunnelPlotR's test-classes_methods.R asserts
    assert row["draw_adjusted"] and not row["draw_unadjusted"]
    assert row["judged_on"] == "adjusted" and row["limit"] == 99.8
    assert row["n_outliers"] == 0


def test_draw_adjusted_false_reports_zero_phi_but_keeps_computed():
    r = run(draw_adjusted=False, draw_unadjusted=True, limit=95)
    row = r.summary.iloc[0]
    assert row["phi"] == 0 and row["tau2"] == 0
    assert row["phi_computed"] == pytest.approx(2.948033175102358, rel=1e-12)
    assert r.points.loc[r.points["outlier"], "group"].tolist() == ["b"]
    assert r.points.loc[r.points["group"] == "b", "position"].item() == "above_limit"


def test_no_limits_drawn_judges_nothing():
    r = run(draw_adjusted=False, draw_unadjusted=False, multiplier=100)
    assert not r.points["outlier"].any()
    assert (r.points["position"] == "not_judged").all()
    assert r.points["lcl"].isna().all()
    assert r.summary["judged_on"].iloc[0] is None
    assert "no limits are drawn" in r.reading


def test_fallback_to_unadjusted_limits_when_phi_at_most_1():
    # pure Poisson data: no overdispersion
    rng = np.random.default_rng(4)
    e = rng.uniform(50, 500, 30)
    d = pd.DataFrame({"unit": [f"U{i:02d}" for i in range(30)], "num": rng.poisson(e), "den": e})
    r = run(d)
    row = r.summary.iloc[0]
    assert row["phi_computed"] <= 1
    assert not row["draw_adjusted"] and row["draw_unadjusted"]
    assert row["judged_on"] == "unadjusted"
    assert any("No overdispersion detected" in w for w in r.warnings)
    # with both requested there is no fallback: judged on the adjusted (tau2 = 0) limits
    both = run(d, draw_unadjusted=True)
    assert both.summary["draw_adjusted"].iloc[0] and both.summary["judged_on"].iloc[0] == "adjusted"
    assert not both.warnings


def test_r_round_matches_r_not_python():
    x = np.array([300.335, 258.395, 2.675, 0.125, 0.375, 1.005, 12.344999, 523.6963043992016])
    assert r_round(x, 2).tolist() == [300.34, 258.4, 2.67, 0.12, 0.38, 1.0, 12.34, 523.7]
    assert round(300.335, 2) == 300.33  # why we do not use Python's round


def test_result_shape_and_vocabulary():
    r = run(label="Deaths against expected", unit_noun="ward")
    assert isinstance(r, FunnelResult) and isinstance(r, SPCResult)
    assert r.chart_type == "funnel" and r.rule_set == "Funnel (Spiegelhalter)"
    assert len(r.points) == 6 and len(r.summary) == 1
    assert list(r.limits.columns)[:2] == ["denominator", "s"]
    assert r.limits["denominator"].is_monotonic_increasing
    assert set(r.points["denominator"]) <= set(r.limits["denominator"])
    assert r.options["draw_adjusted"] is True
    assert list(r.readings) == [None]
    assert r.reading.startswith("Deaths against expected across 6 wards:")
    for word in ("league", "red", "amber", "green", "rank", "worst", "best"):
        assert word not in r.reading.lower()


def test_reading_names_units_above_and_below():
    r = run(draw_adjusted=False, draw_unadjusted=True, limit=95, label="Falls")
    assert r.reading == (
        "Falls across 6 teams: 1 team is above the 95 % limit (b), none below; "
        "limits not adjusted for overdispersion."
    )


def test_rows_are_aggregated_per_unit():
    split = pd.DataFrame(
        {
            "unit": ["a", "a", "b", "c", "d", "e", "f", "b"],
            "num": [60, 40, 100, 180, 80, 120, 225, 50],
            "den": [100, 8, 100, 165, 95, 100, 220, 12],
        }
    )
    pd.testing.assert_frame_equal(run(split).points, run().points)


def test_missing_values_are_left_out_with_a_warning():
    d = pd.concat(
        [TEST6, pd.DataFrame({"unit": ["g", None], "num": [np.nan, 5.0], "den": [10.0, 5.0]})],
        ignore_index=True,
    )
    r = run(d)
    assert len(r.points) == 6
    assert any("2 row(s)" in w for w in r.warnings)
    pd.testing.assert_frame_equal(r.points, run().points, check_dtype=False)


def test_multiplier_scales_values_and_limits_not_judgement():
    base = run(draw_unadjusted=True, limit=95)
    scaled = run(draw_unadjusted=True, limit=95, multiplier=1000)
    cols = ["value", "target", "od95_lcl", "od95_ucl", "lcl998", "ucl998", "lcl", "ucl"]
    np.testing.assert_allclose(scaled.points[cols], 1000 * base.points[cols], rtol=1e-12)
    assert scaled.points["outlier"].tolist() == base.points["outlier"].tolist()
    assert scaled.summary["phi"].iloc[0] == base.summary["phi"].iloc[0]


@pytest.mark.parametrize("data_type,sr_method", [("PR", "SHMI"), ("RC", "SHMI"), ("SR", "CQC")])
def test_winsorised_types_keep_every_unit(data_type, sr_method):
    d = TEST6.assign(den=TEST6["den"] * 2)
    r = run(d, data_type=data_type, sr_method=sr_method)
    row = r.summary.iloc[0]
    assert row["n_used_for_phi"] == 6
    assert row["winsor_lower_z"] <= row["winsor_upper_z"]
    assert r.points["rank"].isna().all()
    z = r.points["z_trimmed"]
    assert z.between(row["winsor_lower_z"], row["winsor_upper_z"]).all()


def test_import_does_not_pull_in_widgets_or_altair():
    code = (
        "import sys, qiwidgets.spc.funnel; "
        "bad = [m for m in ('ipywidgets', 'altair') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"data_type": "XX"}, "`data_type` must be one of 'PR', 'SR', 'RC', got 'XX'."),
        ({"sr_method": "ONS"}, "`sr_method` must be one of 'SHMI', 'CQC', got 'ONS'."),
        ({"limit": 90}, "`limit` must be one of 95, 99 (meaning 99.8 %), 99.8, got 90."),
        ({"limit": "95"}, "`limit` must be one of 95, 99 (meaning 99.8 %), 99.8, got '95'."),
        ({"draw_adjusted": "yes"}, "`draw_adjusted` must be True or False, got 'yes'."),
        ({"draw_unadjusted": 1}, "`draw_unadjusted` must be True or False, got 1."),
        ({"trim_by": 0.5}, "`trim_by` must be a number greater than 0 and less than 0.5, got 0.5."),
        ({"trim_by": 0}, "`trim_by` must be a number greater than 0 and less than 0.5, got 0."),
        ({"multiplier": 0}, "`multiplier` must be a positive number, got 0."),
        ({"multiplier": float("nan")}, "`multiplier` must be a positive number, got nan."),
        ({"label": 3}, "`label` must be a string or None, got 3."),
        ({"group": None}, "`group` must be a column name (a string), got None."),
    ],
)
def test_option_errors(kw, message):
    with pytest.raises(SPCOptionError) as err:
        run(**kw)
    assert str(err.value) == message
    assert isinstance(err.value, QIError)


def test_data_must_be_a_dataframe():
    with pytest.raises(SPCOptionError, match=r"`data` must be a pandas DataFrame, got list"):
        funnel([1, 2], numerator="num", denominator="den", group="unit")


def test_options_are_checked_before_data():
    with pytest.raises(SPCOptionError, match="data_type"):
        funnel(pd.DataFrame({"x": [1]}), numerator="num", denominator="den", group="unit",
               data_type="XX")  # fmt: skip


@pytest.mark.parametrize(
    "data,kw,message",
    [
        (
            TEST6.drop(columns="den"),
            {},
            r"Column\(s\) not found in `data`: `denominator` = 'den'",
        ),
        (TEST6.assign(num=["x"] * 6), {}, r"`numerator` column 'num' must be numeric, got 'x'"),
        (
            TEST6.assign(den=[True] * 6),
            {},
            r"`denominator` column 'den' must be numeric, got booleans",
        ),
        (
            TEST6.assign(num=[100, -1, 180, 80, 120, 225]),
            {},
            r"`numerator` must not be negative \(counts\), got -1 for unit 'b'\.",
        ),
        (
            TEST6.assign(den=[108, 112, 165, 0, 100, 220]),
            {},
            r"`denominator` must be greater than 0 for every unit, got 0 for unit 'd'\.",
        ),
        (
            TEST6,
            {"data_type": "PR"},
            (
                r"`numerator` must not exceed `denominator` for data_type 'PR', got 150 > 112 "
                r"for unit 'b'\."
            ),
        ),
        (TEST6.head(1), {}, r"`group` must hold at least 2 units to compare, got 1"),
        (TEST6.assign(num=0), {"data_type": "RC"}, r"`numerator` must not be 0 for every unit"),
        (TEST6.iloc[:0], {}, r"`data` must have at least one row"),
        (
            TEST6.assign(den=[108, 112, 165, 95, 100, 0.001]),
            {},
            r"at least 0\.005 for every unit with sr_method 'SHMI'",
        ),
    ],
)
def test_data_errors(data, kw, message):
    with pytest.raises(SPCDataError, match=message):
        run(data, **kw)


def test_numeric_text_is_accepted():
    d = TEST6.assign(num=TEST6["num"].astype(str).astype(object))
    pd.testing.assert_frame_equal(run(d).points, run().points)


def test_zero_observed_with_shmi_does_not_crash():
    d = TEST6.assign(num=[0, 150, 180, 80, 120, 225])
    r = run(d)
    assert r.points.loc[0, "value"] == 0
    assert np.isneginf(r.points.loc[0, "z"])


# --- properties ------------------------------------------------------------------------------

TYPES = [("SR", "SHMI"), ("SR", "CQC"), ("PR", "SHMI"), ("RC", "SHMI")]


@st.composite
def unit_data(draw, data_type="SR"):
    n = draw(st.integers(min_value=2, max_value=25))
    den = draw(st.lists(st.integers(min_value=20, max_value=5000), min_size=n, max_size=n))
    frac = draw(st.lists(st.floats(min_value=0.05, max_value=0.95), min_size=n, max_size=n))
    if data_type == "PR":
        num = [max(1, int(d * f)) for d, f in zip(den, frac)]
    else:
        num = [max(1, int(2 * d * f)) for d, f in zip(den, frac)]
    return pd.DataFrame({"unit": [f"U{i:03d}" for i in range(n)], "num": num, "den": den})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.lists(st.floats(min_value=1.1, max_value=1e5), min_size=2, max_size=40, unique=True),
    tau2=st.floats(min_value=0, max_value=0.05),
    kind=st.sampled_from([("SR", "SHMI"), ("SR", "CQC"), ("RC", "SHMI")]),
    target=st.floats(min_value=0.05, max_value=5),
)
def test_limits_widen_as_denominators_shrink(n, tau2, kind, target):
    data_type, sr_method = kind
    target = 1.0 if data_type == "SR" else target
    lim = funnel_limits(np.sort(n), data_type, sr_method, target=target, tau2=tau2)
    for lo, hi in (("od95_lcl", "od95_ucl"), ("od998_lcl", "od998_ucl"),
                   ("lcl95", "ucl95"), ("lcl998", "ucl998")):  # fmt: skip
        assert (np.diff(lim[lo]) >= -1e-12).all(), lo
        assert (np.diff(lim[hi]) <= 1e-12).all(), hi
        assert (lim[lo] <= target + 1e-12).all() and (lim[hi] >= target - 1e-12).all()
    # 99.8 % limits lie outside the 95 % ones
    assert (lim["od998_lcl"] <= lim["od95_lcl"]).all() and (
        lim["od998_ucl"] >= lim["od95_ucl"]
    ).all()
    assert (lim["lcl998"] <= lim["lcl95"]).all() and (lim["ucl998"] >= lim["ucl95"]).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(TYPES))
def test_lower_target_upper_and_inputs_untouched(data, kind):
    data_type, sr_method = kind
    d = data.draw(unit_data(data_type))
    before = d.copy()
    r = run(d, data_type=data_type, sr_method=sr_method, draw_unadjusted=True)
    pd.testing.assert_frame_equal(d, before)
    target = r.summary["target_plotted"].iloc[0]  # the limits are in plotted units
    lim = r.limits
    if data_type == "PR":
        # FunnelPlotR clips PR limits to [0, 1] and fixes non-monotone rows against the next
        # row only, so the grid's last row is left as the formula gives it.
        lim = lim.iloc[:-1]
        pts = r.points[r.points["denominator"] < lim["denominator"].max()]
    else:
        pts = r.points
    for lo, hi in (("od95_lcl", "od95_ucl"), ("lcl998", "ucl998"), ("od998_lcl", "ucl95")):
        assert (lim[lo] <= target * (1 + 1e-12)).all()
        assert (lim[hi] >= target * (1 - 1e-12)).all()
    assert (pts["lcl"] <= target * (1 + 1e-12)).all() and (pts["ucl"] >= target * (1 - 1e-12)).all()
    # judgement agrees with the limits
    v = r.points["rr"]
    inside = (r.points["lcl"] <= v) & (v <= r.points["ucl"])
    assert (r.points["outlier"] == ~inside).all()
    assert r.summary["n_outliers"].iloc[0] == r.points["outlier"].sum()
    assert r.summary["phi"].iloc[0] >= 0 and r.summary["tau2"].iloc[0] >= 0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(TYPES), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(data, kind, seed):
    data_type, sr_method = kind
    d = data.draw(unit_data(data_type))
    shuffled = d.sample(frac=1, random_state=np.random.RandomState(seed))
    a = run(d, data_type=data_type, sr_method=sr_method)
    b = run(shuffled, data_type=data_type, sr_method=sr_method)
    pd.testing.assert_frame_equal(a.points, b.points, rtol=1e-12)
    pd.testing.assert_frame_equal(a.limits, b.limits, rtol=1e-12)
