"""Issue F.2: classification lives in the engine.

``control_chart`` results carry per-point ``point_type`` and, per facet x part,
``variation_type`` / ``variation_icon`` and ``assurance_type`` / ``assurance_icon``, in the
vocabulary of ``mdc_chart``; ``SPCResult.latest()`` / ``verdicts()`` answer "what is the verdict
at the latest point?" the same way for both profiles. Every expected type below is worked out
by hand in a comment from the rule (see ``qiwidgets.spc.qic._classify``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qiwidgets import spc
from qiwidgets.errors import SPCDataError, SPCOptionError
from qiwidgets.spc import classify
from qiwidgets.spc.result import Verdict

C, IMP, CON, NH, NL = (
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
)


def months(values, **cols) -> pd.DataFrame:
    d = pd.DataFrame(
        {"month": pd.date_range("2024-01-01", periods=len(values), freq="MS"), "y": values}
    )
    return d.assign(**cols)


def types(result) -> list[str]:
    return result.points["point_type"].astype(str).tolist()


# A single-phase shift down: 12 points 10, 11, 9, ... then 9 points 5, 6, 4, ...
# mean = (12 x 10 + 9 x 5) / 21 = 7.857: the first 12 are above, the last 9 below; longest run
# 12 > round(log2 21) + 3 = 7, so the part has an Anhøj runs signal. Moving ranges: 11 within the
# first block (sum 15), the step 4, 8 within the second (sum 11): mR-bar = 30 / 20 = 1.5 (4 <
# 3.267 x 1.5 is kept), limits 7.857 +/- 3 x 1.5 / 1.128 = [3.87, 11.85]: no point outside.
SHIFT = [10, 11, 9] * 4 + [5, 6, 4] * 3


def test_a_shift_down_on_a_decrease_measure_is_improvement():
    r = spc.control_chart(months(SHIFT), x="month", y="y", chart="i", improvement="decrease")
    assert r.summary["runs_signal"].iloc[0] == 1 and r.summary["sigma_signal"].iloc[0] == 0
    # every useful point of a signalling part is special cause, by its side of the mean:
    # above on a "decrease" measure is concern, below is improvement
    assert types(r) == [CON] * 12 + [IMP] * 9
    s = r.summary.iloc[0]
    assert s["variation_type"] == IMP and s["variation_icon"] == "improvement_low"
    v = r.latest()
    assert (v.point_type, v.variation_type, v.rule_set) == (IMP, IMP, "Anhøj")


def test_the_same_shift_on_an_increase_measure_is_concern():
    r = spc.control_chart(months(SHIFT), x="month", y="y", chart="i", improvement="increase")
    assert types(r) == [IMP] * 12 + [CON] * 9
    assert r.latest().variation_icon == "concern_low"


def test_a_sigma_signal_above_on_a_decrease_measure_is_concern():
    # C chart of 4, 8, 4, 8, ... (12 points) then 30: cl = (6 x 4 + 6 x 8 + 30) / 13 = 7.846,
    # ucl = 7.846 + 3 sqrt(7.846) = 16.25 < 30. Runs: 12 alternating points (11 crossings), 30
    # on the same side as the 8 before it: 11 crossings >= qbinom(0.05, 12, 0.5) = 3, longest
    # run 2 <= 7: no runs signal. Only the 30 is special cause, above: concern.
    r = spc.control_chart(months([4, 8] * 6 + [30]), x="month", y="y", chart="c",
                          improvement="decrease")  # fmt: skip
    assert r.summary["runs_signal"].iloc[0] == 0
    assert types(r) == [C] * 12 + [CON]
    assert r.latest().variation_icon == "concern_high"
    up = spc.control_chart(months([4, 8] * 6 + [30]), x="month", y="y", chart="c",
                           improvement="increase")  # fmt: skip
    assert types(up)[-1] == IMP and up.latest().variation_icon == "improvement_high"


def test_a_sigma_signal_before_the_latest_point_leaves_the_latest_common_cause():
    r = spc.control_chart(months([4, 8] * 6 + [30, 4, 8]), x="month", y="y", chart="c",
                          improvement="decrease")  # fmt: skip
    assert types(r)[12] == CON and r.latest().variation_type == C


def test_without_a_direction_special_cause_is_neutral():
    for improvement in (None, "neutral"):
        r = spc.control_chart(months(SHIFT), x="month", y="y", chart="i", improvement=improvement)
        assert types(r) == [NH] * 12 + [NL] * 9
        s = r.summary.iloc[0]
        assert s["variation_type"] == "special_cause_neutral"
        assert s["variation_icon"] == "neutral_low"


def test_runs_signal_with_points_on_both_sides_and_on_the_centre_line():
    # Run chart of 8 x 1, one 5, 8 x 9: median 5 (the 9th of 17 sorted values). The 5 is on the
    # median, so 16 useful points, longest run 8 > round(log2 16) + 3 = 7: a runs signal. Below
    # the median is improvement on a "decrease" measure, above is concern; the point on the
    # median has no side: common cause (it takes no part in the runs analysis).
    r = spc.control_chart(months([1] * 8 + [5] + [9] * 8), x="month", y="y",
                          improvement="decrease")  # fmt: skip
    assert r.summary["runs_signal"].iloc[0] == 1 and r.summary["n_useful"].iloc[0] == 16
    assert types(r) == [IMP] * 8 + [C] + [CON] * 8
    assert r.latest().variation_type == CON


def test_a_long_run_before_a_change_does_not_make_the_latest_point_a_concern():
    # I chart: 10 points around 11.5, then 6 around 4.6 (a change for the better on a
    # "decrease" measure). Mean 142 / 16 = 8.875: the first 10 above, the last 6 below. 16
    # useful points: longest run 10 > round(log2 16) + 3 = 7 and 1 crossing < 4: a runs signal.
    # Only the run longer than 7 is special cause (above: concern); the 6 points since, below
    # the mean, are not part of an unusually long run: common cause (no point is outside
    # 0.54 .. 17.21). The latest point is no concern.
    pre, post = [12, 9, 14, 10, 13, 9.5, 12, 10, 14, 11], [4, 6, 3, 5.5, 4, 5]
    r = spc.control_chart(months(pre + post), x="month", y="y", chart="i",
                          improvement="decrease")  # fmt: skip
    assert not r.points["sigma_signal"].any() and r.summary["runs_signal"].iloc[0] == 1
    assert types(r) == [CON] * 10 + [C] * 6
    assert r.latest().variation_type == C


def test_too_few_crossings_alone_make_the_whole_part_special_cause():
    # Run chart: 5 below, 5 above, 5 below, 5 above (the median, 5.5, lies between the levels
    # 3 and 8): 20 useful points, longest run 5 <= round(log2 20) + 3 = 7, but 3 crossings < 6
    # (the 5th percentile of Binomial(19, 0.5)): the part signals by crossings alone, so every
    # point in it is special cause by its side: below is improvement on a "decrease" measure.
    y = ([3, 3.2, 2.8, 3.1, 2.9] + [8, 8.2, 7.8, 8.1, 7.9]) * 2
    r = spc.control_chart(months(y), x="month", y="y", improvement="decrease")
    s = r.summary.iloc[0]
    assert s["longest_run"] == 5 and s["n_crossings"] == 3 and s["runs_signal"] == 1
    assert types(r) == ([IMP] * 5 + [CON] * 5) * 2


def test_excluded_points_take_no_part_in_runs_but_are_tested_against_the_limits():
    # An excluded point takes no part in the runs analysis (common cause in a signalling part)
    # but is still tested against the limits (qicharts2), and then special cause. Second
    # series: without point 5 the mean is 91/9 = 10.11 and the 8 moving ranges (one bridging
    # the excluded point) average 9/8, so ucl = 10.11 + 3 x 1.125 / 1.128 = 13.1 < 40.
    r = spc.control_chart(months(SHIFT), x="month", y="y", chart="i", improvement="decrease",
                          exclude=[3])  # fmt: skip
    assert types(r)[2] == C and types(r)[1] == CON
    out = spc.control_chart(months([10, 11, 9, 10, 40, 10, 11, 9, 10, 11]), x="month", y="y",
                            chart="i", exclude=[5], improvement="decrease")  # fmt: skip
    assert out.points["sigma_signal"].iloc[4] and types(out)[4] == CON


def test_missing_latest_value_is_common_cause_and_says_so_in_y():
    r = spc.control_chart(months([*SHIFT, math.nan]), x="month", y="y", chart="i",
                          improvement="decrease")  # fmt: skip
    v = r.latest()
    assert v.variation_type == C and math.isnan(v.y)


# --- IHI rule set ------------------------------------------------------------------------------


def test_ihi_trend_takes_the_way_the_trend_goes():
    # 6, 4, 7, 5, 6, 3, 4, 5, 6, 7: median 5.5; the last five 3 -> 7 rise (a trend of 5); no
    # shift (longest run on one side is 3). The 3 is below the median but part of a rising
    # trend: it goes up, so on a "decrease" measure it is concern, as are 4, 5, 6, 7.
    r = spc.control_chart(months([6, 4, 7, 5, 6, 3, 4, 5, 6, 7]), x="month", y="y",
                          rule_set="ihi", improvement="decrease")  # fmt: skip
    assert not r.points["shift"].any()
    assert r.points["trend"].tolist() == [False] * 5 + [True] * 5
    assert types(r) == [C] * 5 + [CON] * 5
    assert r.latest().variation_icon == "concern_high" and r.rule_set == "IHI"
    # the reading judges the trend the same way (it said "special cause variation")
    labelled = spc.control_chart(months([6, 4, 7, 5, 6, 3, 4, 5, 6, 7]), x="month", y="y",
                                 rule_set="ihi", improvement="decrease", label="Falls")  # fmt: skip
    assert labelled.reading.startswith("Falls: special cause concern (IHI rules) — a trend")
    assert "going up" in labelled.reading


def test_ihi_falling_trend_on_a_decrease_measure_is_improvement():
    # 4, 6, 5, 7, 6, 9, 8, 7, 6, 5: median 6; 9 -> 5 fall (5 points); the 9 starts a falling
    # trend after the rise 6 -> 9, so it takes the way of the later trend (down).
    r = spc.control_chart(months([4, 6, 5, 7, 6, 9, 8, 7, 6, 5]), x="month", y="y",
                          rule_set="ihi", improvement="decrease")  # fmt: skip
    assert r.points["trend"].tolist() == [False] * 5 + [True] * 5
    assert types(r)[5:] == [IMP] * 5


def test_ihi_shift_is_by_side_and_only_its_points_are_special():
    # 5, 6, 4, 5, then six 1s, then 5, 6: median 2.5 (sorted 1,1,1,1,1,1,4,5,5,5,6,6 ->
    # (1 + 4) / 2); the six 1s are a shift below (6 useful points in a row). The points around
    # them are not part of a shift (runs of 4 and 2 above) or a trend (no 5 points going one
    # way): common cause, unlike the Anhøj rules, where every point of a signalling part is.
    r = spc.control_chart(months([5, 6, 4, 5, 1, 1, 1, 1, 1, 1, 5, 6]), x="month", y="y",
                          rule_set="ihi", improvement="decrease")  # fmt: skip
    assert r.points["shift"].tolist() == [False] * 4 + [True] * 6 + [False] * 2
    assert types(r) == [C] * 4 + [IMP] * 6 + [C] * 2
    assert r.summary["runs_signal"].iloc[0] == 1  # any shift or trend in the part
    assert r.latest().variation_type == C


# --- assurance ----------------------------------------------------------------------------------

# 10, 12, 10, ... (20 points): mean 11, moving ranges 2, limits 11 +/- 3 x 2 / 1.128 =
# [5.68, 16.32]; no signal of any kind (alternating: 19 crossings, longest run 1).
FLAT = [10, 12] * 10


@pytest.mark.parametrize(
    "improvement, target, expected, icon",
    [
        ("increase", 5, "consistent_pass", "pass"),  # below the lower limit: always met
        ("increase", 20, "consistent_fail", "fail"),  # above the upper limit: never met
        ("increase", 11, "inconsistent", "hit_and_miss"),  # between the limits
        ("decrease", 20, "consistent_pass", "pass"),
        ("decrease", 5, "consistent_fail", "fail"),
        ("decrease", 16.3, "inconsistent", "hit_and_miss"),  # just inside 16.32
    ],
)
def test_assurance_from_the_limits_against_the_target(improvement, target, expected, icon):
    r = spc.control_chart(months(FLAT), x="month", y="y", chart="i", improvement=improvement,
                          target=target)  # fmt: skip
    s = r.summary.iloc[0]
    assert (s["assurance_type"], s["assurance_icon"]) == (expected, icon)
    v = r.latest()
    assert (v.assurance_type, v.assurance_icon, v.target) == (expected, icon, target)
    assert v.variation_type == C


@pytest.mark.parametrize(
    "kwargs",
    [
        {"improvement": "increase"},  # no target
        {"improvement": None, "target": 5},  # no direction
        {"improvement": "neutral", "target": 5},
        {"improvement": "increase", "target": 5, "chart": "run"},  # no limits on a run chart
    ],
)
def test_no_assurance_without_target_direction_or_limits(kwargs):
    args = {"chart": "i", **kwargs}
    r = spc.control_chart(months(FLAT), x="month", y="y", **args)
    assert r.summary["assurance_type"].isna().all() and r.summary["assurance_icon"].isna().all()
    assert r.latest().assurance_type is None and r.latest().assurance_icon is None


def test_assurance_per_part_uses_that_parts_limits():
    # part 1: 10, 12, ... (limits [5.68, 16.32]); part 2: 30, 32, ... (mean 31, limits
    # [25.68, 36.32]). Target 20, higher is better: part 1 fails it, part 2 passes it.
    r = spc.control_chart(months(FLAT + [30, 32] * 10), x="month", y="y", chart="i", part=20,
                          improvement="increase", target=20)  # fmt: skip
    assert r.summary["assurance_type"].tolist() == ["consistent_fail", "consistent_pass"]
    assert r.latest().assurance_type == "consistent_pass" and r.latest().group == 2


def test_assurance_uses_the_limits_at_the_latest_point():
    # P chart 10/100, 20/100, 5/25: cl = 35/225; at n = 25 the upper limit is
    # cl + 3 sqrt(cl (1 - cl) / 25) = .373, at n = 100 it is .264. Target .3, lower is better:
    # the latest point's limits (n = 25) contain it: inconsistent (n = 100's would pass it).
    cl = 35 / 225
    assert cl + 3 * math.sqrt(cl * (1 - cl) / 100) < 0.3 < cl + 3 * math.sqrt(cl * (1 - cl) / 25)
    d = months([10, 20, 5], n=[100, 100, 25])
    r = spc.control_chart(d, x="month", y="y", n="n", chart="p", improvement="decrease",
                          target=0.3)  # fmt: skip
    assert r.summary["assurance_type"].iloc[0] == "inconsistent"


# --- the accessor, and the same answer for both profiles ----------------------------------------


def test_latest_answers_the_same_question_for_both_profiles():
    # The shift series read by both profiles: the latest point is below the centre line in a
    # long run (Anhøj) and in 9 points in a row below the mean (Making Data Count: 7 or more).
    qic = spc.control_chart(months(SHIFT), x="month", y="y", chart="i", improvement="decrease",
                            target=3)  # fmt: skip
    mdc = spc.mdc_chart(months(SHIFT), x="month", y="y", improvement="decrease", target=3)
    a, b = qic.latest(), mdc.latest()
    assert isinstance(a, Verdict) and isinstance(b, Verdict)
    assert a.variation_type == b.variation_type == IMP
    assert a.variation_icon == b.variation_icon == "improvement_low"
    # target 3 is below both lower limits (7.857 - 3.99 = 3.87; MDC 7.857 - 2.66 x 1.5 = 3.87),
    # so lower is better and the target is never met: consistent_fail in both
    assert a.assurance_type == b.assurance_type == "consistent_fail"
    assert (a.rule_set, b.rule_set) == ("Anhøj", "Making Data Count")
    assert (a.x, b.x) == (qic.points["x"].iloc[-1], mdc.points["x"].iloc[-1])


def test_verdicts_for_facets_and_latest_by_facet():
    d = pd.concat([months(SHIFT, team="A"), months(FLAT[:21], team="B")], ignore_index=True)
    for r in (
        spc.control_chart(d, x="month", y="y", chart="i", facets="team", improvement="decrease"),
        spc.mdc_chart(d, x="month", y="y", facets="team", improvement="decrease"),
    ):
        table = r.verdicts()
        assert table["team"].astype(str).tolist() == ["A", "B"]
        assert table["variation_type"].astype(str).tolist() == [IMP, C]
        assert r.latest("A").variation_type == IMP and r.latest("B").variation_type == C
        with pytest.raises(SPCOptionError, match="not a facet"):
            r.latest("Z")


def test_latest_with_two_facet_columns_takes_a_tuple():
    d = pd.concat(
        [months(SHIFT, team=t, measure=m) for t in ("A", "B") for m in ("falls", "harm")],
        ignore_index=True,
    )
    r = spc.control_chart(d, x="month", y="y", chart="i", facets=["team", "measure"],
                          improvement="increase")  # fmt: skip
    assert r.latest(("B", "harm")).variation_type == CON
    with pytest.raises(SPCOptionError, match="tuple of 2"):
        r.latest("B")


def test_latest_is_not_for_funnel_plots_and_takes_no_facet_without_facets():
    d = pd.DataFrame({"unit": list("abc"), "o": [10, 12, 9], "e": [10.0, 11.0, 10.0]})
    with pytest.raises(SPCDataError, match="latest"):
        spc.funnel(d, numerator="o", denominator="e", group="unit").latest()
    with pytest.raises(SPCOptionError, match="must be None"):
        spc.control_chart(months(FLAT), x="month", y="y").latest("A")


def test_mdc_summary_and_latest_agree():
    r = spc.mdc_chart(months(FLAT), x="month", y="y", improvement="increase", target=5)
    s = r.summary.iloc[-1]
    v = r.latest()
    assert (v.variation_type, v.assurance_type) == (s["variation_type"], s["assurance_type"])
    assert v.point_type == r.points["point_type"].iloc[-1]


# --- the shared helpers ------------------------------------------------------------------------


def test_point_types_and_assurance_helpers():
    special = np.array([False, True, True, True])
    way = np.array([0, 1, -1, 0])
    assert classify.point_types(special, way, 1).tolist() == [0, 1, 2, 0]  # no way: common
    assert classify.point_types(special, way, -1).tolist() == [0, 2, 1, 0]
    assert classify.point_types(special, way, 0).tolist() == [0, 3, 4, 0]
    target = np.array([5.0, 20.0, 11.0, np.nan, 5.0])
    lo = np.array([6.0, 6.0, 6.0, 6.0, np.nan])
    hi = np.array([16.0, 16.0, 16.0, 16.0, np.nan])
    assert classify.assurance(target, lo, hi, 1).tolist() == [0, 1, 2, -1, -1]
    assert classify.assurance(target, lo, hi, -1).tolist() == [1, 0, 2, -1, -1]
    assert classify.assurance(target, lo, hi, 0).tolist() == [-1] * 5
