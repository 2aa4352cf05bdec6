"""Making Data Count (NHSRplotthedots semantics): one test per rule, validation, properties.

Rule tests call the rule functions on plain arrays (each rule is testable alone, as in
NHSRplotthedots' own tests); the chart tests go through ``mdc_chart``.
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiwidgets.errors import RebaseDateWarning, ShortBaselineWarning, SPCDataError, SPCOptionError
from qiwidgets.spc import mdc
from qiwidgets.spc.mdc import (
    _classify,
    mdc_chart,
    outside_limits_rule,
    seven_point_one_side,
    seven_point_trend,
    two_in_three,
)

# --- helpers ----------------------------------------------------------------------------------


def series(values, start="2024-01-01", **cols) -> pd.DataFrame:
    values = list(values)
    d = pd.DataFrame(
        {
            "month": pd.date_range(start, periods=len(values), freq="MS"),
            "y": np.array(values, float),
        }
    )
    for k, v in cols.items():
        d[k] = v
    return d


def one_segment(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


def chart(values, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortBaselineWarning)
        return mdc_chart(series(values), x="month", y="y", **kw)


def types(result) -> list[str]:
    return result.points["special_cause_type"].astype(str).tolist()


#: 20 points around 10 with no signal under any rule (checked in test_stable_series_has_no_signal)
STABLE = [
    10,
    11,
    9,
    10.5,
    9.5,
    10,
    11,
    9,
    10.5,
    9.5,
    10.2,
    9.8,
    10.6,
    9.4,
    10,
    11,
    9,
    10.4,
    9.6,
    10,
]


def test_stable_series_has_no_signal():
    r = chart(STABLE)
    assert set(types(r)) == {"Common Cause"}
    assert r.summary["variation_type"].tolist() == ["common_cause"]


# --- limits -----------------------------------------------------------------------------------


def test_limits_are_mean_plus_minus_2_66_mean_moving_range():
    y = np.array([5.0, 7, 6, 8, 5, 6, 7, 9, 6, 5, 7, 6, 8])
    r = chart(y)
    mean = y.mean()
    amr = np.abs(np.diff(y)).mean()
    p = r.points
    assert p["cl"].iloc[0] == pytest.approx(mean, rel=1e-12)
    assert p["ucl"].iloc[0] == pytest.approx(mean + 2.66 * amr, rel=1e-12)
    assert p["lcl"].iloc[0] == pytest.approx(mean - 2.66 * amr, rel=1e-12)
    assert p["ucl_near"].iloc[0] == pytest.approx(mean + 2 / 3 * 2.66 * amr, rel=1e-12)
    assert p["lcl_near"].iloc[0] == pytest.approx(mean - 2 / 3 * 2.66 * amr, rel=1e-12)


def test_screen_outliers_drops_large_moving_ranges_once():
    y = np.array(STABLE[:11] + [40] + STABLE[12:], float)
    mr = np.abs(np.diff(y))
    screened = mr[mr < 3.267 * mr.mean()].mean()
    on = chart(y)
    off = chart(y, screen_outliers=False)
    assert on.points["ucl"].iloc[0] == pytest.approx(y.mean() + 2.66 * screened, rel=1e-12)
    assert off.points["ucl"].iloc[0] == pytest.approx(y.mean() + 2.66 * mr.mean(), rel=1e-12)
    assert off.points["ucl"].iloc[0] > on.points["ucl"].iloc[0]


# --- rule 1: outside the limits ----------------------------------------------------------------


def test_outside_limits_is_strict():
    y = np.array([1.0, 5.0, 9.0, np.nan])
    out = outside_limits_rule(y, np.full(4, 1.0), np.full(4, 9.0))
    assert out.tolist() == [0, 0, 0, 0]  # on a limit is not outside; NA is never flagged
    out = outside_limits_rule(np.array([0.5, 9.5]), np.full(2, 1.0), np.full(2, 9.0))
    assert out.tolist() == [-1, 1]


# --- rule 2: trends ---------------------------------------------------------------------------


def test_trend_of_seven_strictly_increasing_points_flags_all_seven():
    y = np.array([5, 4, 1, 2, 3, 4, 5, 6, 7, 3.0])
    assert seven_point_trend(y, one_segment(10)).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0]
    assert seven_point_trend(-y, one_segment(10)).tolist() == [0, 0, -1, -1, -1, -1, -1, -1, -1, 0]


def test_trend_broken_by_tie():
    y = np.array([9, 1, 2, 3, 3, 4, 5, 6, 7, 0.0])  # 8 rising-or-equal points, one tie
    assert not seven_point_trend(y, one_segment(10)).any()


def test_trend_of_six_is_not_enough_but_is_with_run_length_6():
    y = np.array([9, 1, 2, 3, 4, 5, 6, 0.0])
    assert not seven_point_trend(y, one_segment(8)).any()
    assert seven_point_trend(y, one_segment(8), run_length=6).tolist() == [0, 1, 1, 1, 1, 1, 1, 0]


def test_trend_peak_takes_the_later_direction():
    y = np.array([1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1.0])
    out = seven_point_trend(y, one_segment(13))
    assert out[:6].tolist() == [1] * 6
    assert out[6] == -1  # the peak belongs to both; the later (falling) trend labels it
    assert out[7:].tolist() == [-1] * 6


def test_trend_does_not_cross_a_segment_boundary():
    y = np.arange(10.0)
    g = np.array([0] * 5 + [1] * 5)
    assert not seven_point_trend(y, g).any()


def test_missing_value_breaks_a_trend_instead_of_crashing():
    # NHSRplotthedots 0.2.2 stops with "missing value where TRUE/FALSE needed" on this series.
    y = np.array([5, 3, 6, 4, 5, 1, 2, 3, np.nan, 5, 6, 7, 8, 9, 10, 11, 4.0])
    out = seven_point_trend(y, one_segment(len(y)))
    assert out[:9].tolist() == [0] * 9  # 1, 2, 3 before the gap are not part of a trend
    assert out[9:16].tolist() == [1] * 7  # 5..11 after the gap is a trend of its own
    r = chart(y)  # and the whole chart works
    assert r.points["special_cause_type"].iloc[8] == "Common Cause"


# --- rule 3: two in three ---------------------------------------------------------------------


def test_two_in_three_flags_only_the_close_points():
    close = np.array([False, True, False, True, False])
    rel = np.array([1.0, 1, 1, 1, -1])
    assert two_in_three(close, rel, one_segment(5)).tolist() == [0, 1, 0, 1, 0]
    assert two_in_three(close, -rel, one_segment(5)).tolist() == [0, -1, 0, -1, 0]


def test_two_in_three_middle_point_on_other_side_cancels():
    close = np.array([True, False, True])
    assert not two_in_three(close, np.array([-1.0, 1, -1]), one_segment(3)).any()
    assert not two_in_three(close, np.array([-1.0, 0, -1]), one_segment(3)).any()  # on the mean
    assert not two_in_three(close, np.array([-1.0, np.nan, -1]), one_segment(3)).any()  # missing


def test_two_in_three_needs_all_three_points_on_one_side():
    # NHSRplotthedots' form: two close points followed by a point across the mean do not count
    close = np.array([True, True, False])
    assert not two_in_three(close, np.array([1.0, 1, -1]), one_segment(3)).any()
    assert two_in_three(close, np.array([1.0, 1, 1]), one_segment(3)).tolist() == [1, 1, 0]


def test_two_in_three_does_not_cross_a_segment_boundary():
    close = np.array([False, True, True, False])
    rel = np.ones(4)
    assert not two_in_three(close, rel, np.array([0, 0, 1, 1])).any()
    assert two_in_three(close, rel, one_segment(4)).tolist() == [0, 1, 1, 0]


def _beyond_then_close():
    # mean 10; a point far above the upper limit followed by one close to it, then one above
    # the mean (all three on the same side)
    y = STABLE[:12] + [14.5, 12.6, 10.4] + STABLE[15:]
    r = chart(y)
    p = r.points
    assert p["outside_limits"].iloc[12] and p["close_to_limits"].iloc[13]
    assert p["relative_to_mean"].iloc[14] == 1
    return y


def test_two_in_three_ptd_does_not_count_points_beyond_the_limits():
    y = _beyond_then_close()
    assert types(chart(y))[12:15] == ["Above UCL", "Common Cause", "Common Cause"]


def test_two_in_three_beyond_included_counts_points_beyond_the_limits():
    y = _beyond_then_close()
    r = chart(y, two_in_three="beyond_included")
    assert types(r)[12:15] == ["Above UCL", "2 in 3 Above CL", "Common Cause"]


# --- rule 4: runs on one side of the mean ----------------------------------------------------


def test_seven_points_on_one_side():
    rel = np.array([1.0] * 7 + [-1] * 3)
    assert seven_point_one_side(rel, one_segment(10)).tolist() == [1] * 7 + [0] * 3
    rel = np.array([-1.0] * 8 + [1])
    assert seven_point_one_side(rel, one_segment(9)).tolist() == [-1] * 8 + [0]


def test_points_on_mean_break_runs():
    rel = np.array([1.0] * 6 + [0] + [1] * 3 + [-1] * 6 + [0] + [-1] * 5)
    assert not seven_point_one_side(rel, one_segment(len(rel))).any()


def test_six_on_one_side_needs_run_length_6():
    rel = np.array([1.0] * 6 + [-1])
    assert not seven_point_one_side(rel, one_segment(7)).any()
    assert seven_point_one_side(rel, one_segment(7), run_length=6).tolist() == [1] * 6 + [0]


def test_missing_value_breaks_a_run():
    rel = np.array([1.0] * 4 + [np.nan] + [1] * 4)
    assert not seven_point_one_side(rel, one_segment(9)).any()


def test_run_does_not_cross_a_segment_boundary():
    rel = np.ones(10)
    assert not seven_point_one_side(rel, np.array([0] * 5 + [1] * 5)).any()


# --- precedence -------------------------------------------------------------------------------


def test_precedence_outside_then_trend_then_two_in_three_then_run():
    z = np.zeros(4, dtype=np.int8)
    outside = np.array([1, 0, 0, 0], np.int8)
    trend = np.array([-1, -1, 0, 0], np.int8)
    two3 = np.array([1, 1, 1, 0], np.int8)
    run = np.array([1, 1, 1, -1], np.int8)
    codes = _classify(outside, trend, two3, run)
    labels = [mdc.special_cause_types()[c] for c in codes]
    assert labels == [
        "Above UCL",
        "7 Point Trend (Decreasing)",
        "2 in 3 Above CL",
        "7 Points Below CL",
    ]
    assert _classify(z, z, z, z).tolist() == [0, 0, 0, 0]


def test_trend_beats_run_in_a_chart():
    # a rising trend that ends above the mean for 7+ points: trend labels win where both apply
    y = STABLE + [10.1, 10.3, 10.5, 10.7, 10.9, 11.1, 11.3, 10.6]
    r = chart(y)
    t = types(r)
    assert t[20:27] == ["7 Point Trend (Increasing)"] * 7


# --- labels and improvement direction ---------------------------------------------------------


def test_improvement_direction_labels():
    y = STABLE + [8.5] * 8  # 8 points below the mean
    inc = chart(y, improvement="increase").points["point_type"].astype(str).tolist()
    dec = chart(y, improvement="decrease").points["point_type"].astype(str).tolist()
    neu = chart(y, improvement="neutral").points["point_type"].astype(str).tolist()
    assert set(inc[-8:]) == {"special_cause_concern"}
    assert set(dec[-8:]) == {"special_cause_improvement"}
    assert set(neu[-8:]) == {"special_cause_neutral_low"}
    up = chart(STABLE + [11.2] * 8, improvement="neutral").points["point_type"].astype(str)
    assert set(up.iloc[-8:]) == {"special_cause_neutral_high"}


def test_summary_counts_and_variation_icon():
    y = STABLE + [8.5] * 8
    r = chart(y, improvement="decrease")
    s = r.summary.iloc[0]
    assert s["n"] == 28
    assert s["special_cause_improvement"] == 8 + 0 and s["special_cause_concern"] == 0
    assert s["common_cause"] == 28 - r.points["special_cause_flag"].sum()
    assert s["variation_type"] == "special_cause_improvement"
    assert s["variation_icon"] == "improvement_low"
    neutral = chart(y, improvement="neutral").summary.iloc[0]
    assert neutral["variation_icon"] == "neutral_low" and neutral["special_cause_neutral"] == 8


# --- rebase -----------------------------------------------------------------------------------


def test_rebase_starts_a_new_group_with_its_own_limits():
    before = STABLE
    after = [v - 5 for v in STABLE]
    d = series(before + after)
    rebase_date = d["month"].iloc[20]
    r = mdc_chart(d, x="month", y="y", improvement="decrease", rebase=[rebase_date])
    p = r.points
    assert p["rebase_group"].tolist() == [0] * 20 + [1] * 20
    assert p["cl"].iloc[0] == pytest.approx(np.mean(before))
    assert p["cl"].iloc[-1] == pytest.approx(np.mean(after))
    assert p["ucl"].iloc[-1] - p["cl"].iloc[-1] == pytest.approx(
        2.66 * np.abs(np.diff(after)).mean()
    )
    assert len(r.summary) == 2 and r.summary["rebase_group"].tolist() == [0, 1]
    assert set(types(r)) == {"Common Cause"}


def test_rebase_date_as_string_and_unmatched_date_warns():
    d = series(STABLE + STABLE)
    r = mdc_chart(d, x="month", y="y", rebase=["2025-09-01"])
    assert r.points["rebase_group"].max() == 1
    with pytest.warns(RebaseDateWarning, match="2025"):
        r = mdc_chart(d, x="month", y="y", rebase=["2025-09-15"])
    assert r.points["rebase_group"].max() == 0
    assert any("match no point" in w for w in r.warnings)


def test_rebase_per_facet():
    d = pd.concat([series(STABLE + STABLE, ward=w) for w in ("A", "B")], ignore_index=True)
    r = mdc_chart(d, x="month", y="y", facets="ward", rebase={"B": ["2025-09-01"]})
    groups = r.points.groupby("ward", observed=True)["rebase_group"].max()
    assert groups.to_dict() == {"A": 0, "B": 1}
    assert len(r.summary) == 3


# --- fix_after_n_points -----------------------------------------------------------------------


def test_fix_after_n_points_uses_the_first_n_values_only():
    y = STABLE[:12] + [14, 14.5, 13.8, 14.2, 14.1, 14.3, 13.9, 14.4]
    r = chart(y, fix_after_n_points=12)
    p = r.points
    assert p["cl"].iloc[0] == pytest.approx(np.mean(y[:12]))
    assert p["ucl"].iloc[0] == pytest.approx(
        np.mean(y[:12]) + 2.66 * np.abs(np.diff(y[:12])).mean()
    )
    assert p["fix_y"].iloc[:12].tolist() == y[:12]
    assert p["fix_y"].iloc[12:].isna().all()
    assert (p["special_cause_flag"].iloc[12:]).all()  # later points are tested against fixed limits


def test_fix_after_n_points_must_be_at_least_12():
    with pytest.raises(
        SPCOptionError, match=r"`fix_after_n_points` must be at least 12 .*, got 11\."
    ):
        chart(STABLE, fix_after_n_points=11)


# --- targets and assurance --------------------------------------------------------------------


@pytest.mark.parametrize(
    "improvement, target, expected, icon",
    [
        ("increase", 5.0, "consistent_pass", "pass"),
        ("increase", 15.0, "consistent_fail", "fail"),
        ("increase", 10.0, "inconsistent", "hit_and_miss"),
        ("decrease", 5.0, "consistent_fail", "fail"),
        ("decrease", 15.0, "consistent_pass", "pass"),
        ("decrease", 10.0, "inconsistent", "hit_and_miss"),
    ],
)
def test_assurance(improvement, target, expected, icon):
    r = chart(STABLE, improvement=improvement, target=target)
    assert r.summary["assurance_type"].tolist() == [expected]
    assert r.summary["assurance_icon"].tolist() == [icon]
    assert set(r.points["assurance_type"].astype(str)) == {expected}
    assert (r.points["target"] == target).all()


def test_assurance_is_not_given_for_neutral_or_without_target():
    assert r_assurance(chart(STABLE, improvement="neutral", target=5.0)) == [None]
    assert r_assurance(chart(STABLE)) == [None]


def r_assurance(result):
    return [None if pd.isna(v) else v for v in result.summary["assurance_type"]]


def test_assurance_only_on_the_last_rebase_group():
    d = series(STABLE + STABLE)
    r = mdc_chart(d, x="month", y="y", target=5, rebase=["2025-09-01"])
    assert r_assurance(r) == [None, "consistent_pass"]


def test_targets_per_facet():
    d = pd.concat([series(STABLE, ward=w) for w in ("A", "B", "C")], ignore_index=True)
    r = mdc_chart(d, x="month", y="y", facets="ward", target={"A": 5, "B": 15})
    s = r.summary.set_index("ward")
    assert (
        s.loc["A", "target"] == 5 and s.loc["B", "target"] == 15 and np.isnan(s.loc["C", "target"])
    )
    assert r_assurance(r) == ["consistent_pass", "consistent_fail", None]
    with pytest.raises(
        SPCDataError, match=r"`target` names facet\(s\) that are not in the data: 'Z'"
    ):
        mdc_chart(d, x="month", y="y", facets="ward", target={"Z": 5})


def test_two_facet_columns_and_tuple_keys():
    parts = [series(STABLE, trust=t, ward=w) for t in ("T1", "T2") for w in ("A", "B")]
    d = pd.concat(parts, ignore_index=True)
    r = mdc_chart(d, x="month", y="y", facets=["trust", "ward"], target={("T2", "B"): 5})
    assert len(r.summary) == 4
    assert r_assurance(r) == [None, None, None, "consistent_pass"]
    assert set(r.readings) == {("T1", "A"), ("T1", "B"), ("T2", "A"), ("T2", "B")}
    assert "target of 5" in r.readings[("T2", "B")]


# --- missing values ---------------------------------------------------------------------------


def test_missing_value_is_kept_and_never_flagged():
    y = STABLE[:7] + [np.nan] + STABLE[8:]
    r = chart(y)
    p = r.points
    present = np.array([v for v in y if not np.isnan(v)])
    assert p["cl"].iloc[0] == pytest.approx(present.mean())
    mr = np.abs(np.diff(np.array(y)))
    assert p["ucl"].iloc[0] == pytest.approx(present.mean() + 2.66 * np.nanmean(mr))
    row = p.iloc[7]
    assert pd.isna(row["outside_limits"]) and pd.isna(row["relative_to_mean"])
    assert pd.isna(row["close_to_limits"])
    assert row["special_cause_type"] == "Common Cause" and not row["special_cause_flag"]
    assert r.summary["n"].iloc[0] == 20


def test_all_missing_series_does_not_crash():
    r = chart([np.nan] * 14)
    assert r.points["cl"].isna().all()
    assert set(types(r)) == {"Common Cause"}


# --- short baseline ---------------------------------------------------------------------------


def test_short_baseline_warning_below_13_points():
    with pytest.warns(ShortBaselineWarning, match="fewer than 13 points"):
        r = mdc_chart(series(STABLE[:12]), x="month", y="y")
    assert r.points["short_group_warning"].all()
    assert r.warnings and "provisional" in r.warnings[0]
    assert "provisional" in r.reading
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mdc_chart(series(STABLE[:13]), x="month", y="y")
    assert not r.points["short_group_warning"].any() and r.warnings == ()


# --- the reading ------------------------------------------------------------------------------


def test_reading_for_a_run_below_the_mean_with_target():
    y = STABLE + [8.6, 8.4, 8.7, 8.5, 8.8, 8.6, 8.5, 8.7]
    r = mdc_chart(
        series(y, start="2025-01-01"),
        x="month",
        y="y",
        improvement="decrease",
        target=8,
        label="Falls per 1,000 bed days",
    )
    assert r.reading == (
        "Falls per 1,000 bed days: special cause improvement — 8 points in a row below the mean "
        "since Sep 2026; the target of 8 is not yet consistently met."
    )
    fail = mdc_chart(series(y), x="month", y="y", improvement="decrease", target=3)
    assert fail.reading.endswith("the target of 3 will not be met unless the process changes.")


def test_reading_common_cause_and_lazy_mapping():
    r = chart(STABLE, label="Waiting time")
    assert (
        r.readings[None]
        == "Waiting time: common cause variation — no sign of change at the latest point."
    )
    assert len(r.readings) == 1 and list(r.readings) == [None]


def test_reading_when_the_latest_value_is_missing():
    r = chart(STABLE + [np.nan], label="Falls")
    assert (
        r.reading
        == "Falls: the latest value (Sep 2025) is missing, so there is no reading for it yet."
    )


def test_docstring_examples_run():
    failures, _ = doctest.testmod(mdc, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, message",
    [
        (
            {"improvement": "up"},
            "`improvement` must be one of 'increase', 'decrease', 'neutral', got 'up'.",
        ),
        (
            {"two_in_three": "mdc"},
            "`two_in_three` must be one of 'ptd', 'beyond_included', got 'mdc'.",
        ),
        ({"run_length": 5}, "`run_length` must be one of 6, 7, got 5."),
        ({"screen_outliers": "yes"}, "`screen_outliers` must be True or False, got 'yes'."),
        (
            {"target": "high"},
            "`target` must be a number, a dict of facet -> number, or None, got 'high'.",
        ),
        (
            {"target": {"A": 1}},
            "`target` can be a dict (one target per facet) only when `facets` is set",
        ),
        (
            {"facets": ["a", "b", "c"]},
            "`facets` must be a column name or a list of 1 or 2 column names",
        ),
        ({"rebase": 3.5j}, "`rebase` must be a list of dates, or a dict of facet -> list of dates"),
        ({"label": 3}, "`label` must be a string or None, got 3."),
    ],
)
def test_stage_1_option_errors(kw, message):
    with pytest.raises(SPCOptionError) as err:
        mdc_chart(series(STABLE), x="month", y="y", **kw)
    assert message in str(err.value)


def test_stage_1_checks_data_type():
    with pytest.raises(SPCOptionError, match="`data` must be a pandas DataFrame, got list."):
        mdc_chart([1, 2], x="month", y="y")


def test_stage_2_missing_columns():
    with pytest.raises(SPCDataError, match="`y` column 'falls' is not in `data`"):
        mdc_chart(series(STABLE), x="month", y="falls")
    with pytest.raises(SPCDataError, match="`facets` column 'ward' is not in `data`"):
        mdc_chart(series(STABLE), x="month", y="y", facets="ward")


def test_stage_2_non_numeric_values():
    d = series(STABLE)
    d["y"] = d["y"].astype(object)
    d.loc[3, "y"] = "ten"
    with pytest.raises(
        SPCDataError,
        match=r"`y` column 'y' must hold numbers; 1 value\(s\) are not numeric, e.g. 'ten'",
    ):
        mdc_chart(d, x="month", y="y")


def test_stage_2_duplicate_dates_within_a_facet():
    d = pd.concat([series(STABLE, ward="A"), series(STABLE[:2], ward="A")], ignore_index=True)
    with pytest.raises(
        SPCDataError, match=r"`x` values must be unique within each series.*1 Jan 2024.*facet A"
    ):
        mdc_chart(d, x="month", y="y", facets="ward")
    # the same dates in different facets are fine
    d = pd.concat([series(STABLE, ward="A"), series(STABLE, ward="B")], ignore_index=True)
    assert len(mdc_chart(d, x="month", y="y", facets="ward").summary) == 2


def test_stage_2_missing_x_and_unknown_rebase_facet():
    d = series(STABLE)
    d.loc[2, "month"] = pd.NaT
    with pytest.raises(
        SPCDataError, match="`x` column 'month' must not have missing values; row 2"
    ):
        mdc_chart(d, x="month", y="y")
    d = series(STABLE, ward="A")
    with pytest.raises(
        SPCDataError, match=r"`rebase` names facet\(s\) that are not in the data: 'B'"
    ):
        mdc_chart(d, x="month", y="y", facets="ward", rebase={"B": ["2024-06-01"]})


@pytest.mark.filterwarnings("ignore::qiwidgets.errors.ShortBaselineWarning")
def test_iso_strings_and_numbers_as_x():
    d = series(STABLE)
    d["month"] = d["month"].dt.strftime("%Y-%m-%d")
    r = mdc_chart(d, x="month", y="y")
    assert r.points["x"].dtype.kind == "M"
    d["month"] = np.arange(1, 21)
    r = mdc_chart(d, x="month", y="y", rebase=[11])
    assert r.points["rebase_group"].tolist() == [0] * 10 + [1] * 10


# --- properties -------------------------------------------------------------------------------


@st.composite
def frames(draw):
    n_facets = draw(st.integers(1, 4))
    parts = []
    for f in range(n_facets):
        n = draw(st.integers(1, 30))
        values = draw(
            st.lists(
                st.one_of(
                    st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 2)),
                    st.just(float("nan")),
                    st.sampled_from([1.0, 2.0, 3.0]),  # ties
                ),
                min_size=n,
                max_size=n,
            )
        )
        offsets = draw(st.lists(st.integers(0, 200), min_size=n, max_size=n, unique=True))
        parts.append(
            pd.DataFrame(
                {
                    "team": f"team{f}",
                    "month": pd.Timestamp("2020-01-01")
                    + pd.to_timedelta(sorted(offsets), unit="D"),
                    "y": values,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPTION_SETS = st.fixed_dictionaries(
    {
        "improvement": st.sampled_from(["increase", "decrease", "neutral"]),
        "screen_outliers": st.booleans(),
        "run_length": st.sampled_from([6, 7]),
        "two_in_three": st.sampled_from(["ptd", "beyond_included"]),
        "target": st.one_of(st.none(), st.floats(-100, 100)),
    }
)


def _run(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mdc_chart(d, x="month", y="y", facets="team", **kw)


@SETTINGS
@given(frames(), OPTION_SETS)
def test_inputs_are_never_mutated(d, kw):
    before = d.copy(deep=True)
    r = _run(d, **kw)
    pd.testing.assert_frame_equal(d, before)
    r.points.loc[:, "y"] = 0.0  # the output shares no memory with the input
    pd.testing.assert_frame_equal(d, before)


@SETTINGS
@given(frames(), OPTION_SETS, st.randoms(use_true_random=False))
def test_facet_and_row_order_do_not_change_results(d, kw, rnd):
    full = _run(d, **kw)
    shuffled = d.sample(frac=1, random_state=rnd.randint(0, 2**31 - 1)).reset_index(drop=True)
    again = _run(shuffled, **kw)
    pd.testing.assert_frame_equal(full.points, again.points)
    pd.testing.assert_frame_equal(full.summary, again.summary)
    # each facet alone gives the same rows as within the batch
    team = d["team"].iloc[-1]
    alone = _run(d[d["team"] == team], **kw).points.reset_index(drop=True)
    within = full.points[full.points["team"] == team].reset_index(drop=True)
    alone["team"] = alone["team"].astype(str)
    within["team"] = within["team"].astype(str)
    pd.testing.assert_frame_equal(alone, within)


@SETTINGS
@given(frames(), OPTION_SETS)
def test_limits_are_ordered(d, kw):
    p = _run(d, **kw).points
    ok = p["cl"].notna() & p["lcl"].notna()
    assert (p.loc[ok, "lcl"] <= p.loc[ok, "lcl_near"]).all()
    assert (p.loc[ok, "lcl_near"] <= p.loc[ok, "cl"]).all()
    assert (p.loc[ok, "cl"] <= p.loc[ok, "ucl_near"]).all()
    assert (p.loc[ok, "ucl_near"] <= p.loc[ok, "ucl"]).all()
    # flags are consistent with the values
    flagged = p["special_cause_flag"]
    assert not (flagged & p["y"].isna()).any()
    assert (p.loc[p["outside_limits"].fillna(False).astype(bool), "special_cause_flag"]).all()
