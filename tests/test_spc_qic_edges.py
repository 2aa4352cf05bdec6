"""Issue L: statistical truth at the edges, where real data are awkward.

Each qicharts2 behaviour is pinned by a small reference case in the format of the shared
reference set (``params.json``, ``input.csv``, ``expected.csv``, ``summary.csv``), written to a
temporary folder and checked by the same parity harness as the cases the R package produced
(``tests/reference_qic.py``), so a regression is caught without R. The inputs are made up; every
expected value is worked out by hand from qicharts2 0.8.1's published method (its ``qic.agg``,
``qic.<chart>`` and ``runs.analysis`` steps, as described in the reference README and the
comments here) and written out as the formula it comes from. Only the columns a case is about
are written to ``expected.csv``; the harness compares every column it is given.

Items 9 and 10 (FunnelPlotR's summary, awkward inputs with no reference) are plain unit tests.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_qic import ENGINE_ONLY_POINTS, check_qic_case, compare_frames

from qiwidgets import spc
from qiwidgets.errors import QIError, QIWarning, SPCDataError
from qiwidgets.spc.classify import NoLimitsWarning
from qiwidgets.spc.runs import crossings_limit

NA = math.nan

#: Every params.json key the reference README defines, with qicharts2's default.
QIC_PARAMS = {
    "tool": "qicharts2", "chart": "run", "freeze": None, "part": None, "exclude": None,
    "multiply": 1, "method": "anhoej", "agg.fun": "mean", "cl": None, "target": None,
    "y.neg": True, "facets": None, "uses_n": False, "x_type": "integer", "qic.screenedmr": True,
    "r_call": "written by hand",
}  # fmt: skip


def qic_case(tmp: Path, name: str, params: dict, data: dict, points: dict, summary: dict) -> None:
    """Write one case in the reference format and check it with the parity harness."""
    case = tmp / name
    case.mkdir()
    full = {**QIC_PARAMS, **params, "case_id": name}
    (case / "params.json").write_text(json.dumps(full))
    pd.DataFrame(data).to_csv(case / "input.csv", index=False)
    pd.DataFrame(points).to_csv(case / "expected.csv", index=False)
    pd.DataFrame(summary).to_csv(case / "summary.csv", index=False)
    check_qic_case(case, full)


def qbinom05(n_useful: int) -> int:
    """qbinom(0.05, n_useful - 1, 0.5): the smallest x with P(X <= x) >= 0.05, by counting."""
    total = 2 ** (n_useful - 1)
    cum = 0
    for x in range(n_useful):
        cum += math.comb(n_useful - 1, x)
        if cum >= 0.05 * total:
            return x
    return n_useful - 1


def test_qbinom_helper_agrees_with_the_engine_and_anhoej_table():
    # Anhøj & Olesen (2014): n = 10 -> 2, 20 -> 6, 30 -> 10
    assert [qbinom05(n) for n in (10, 20, 30)] == [2, 6, 10]
    for n in (1, 2, 3, 4, 11, 12, 13):
        assert crossings_limit(np.array([n]))[0] == qbinom05(n)


# --- 1. y.neg = FALSE --------------------------------------------------------------------------


def test_y_neg_false_keeps_negative_limits_for_negative_data(tmp_path):
    # 20 points 1, -1, 1, ...: mean 0; 19 moving ranges of 2 (none screened: 2 < 3.267 x 2), so
    # sigma = 2 / 1.128. Some y < 0, so qicharts2 does not floor (`!y.neg & min(y) >= 0` is
    # FALSE) and no point is outside +/- 3 x 2 / 1.128 = 5.32. Flooring first gave 10 signals.
    y = [1, -1] * 10
    sigma = 2 / 1.128
    qic_case(
        tmp_path, "yneg_negative", {"chart": "i", "y.neg": False},
        {"x": range(1, 21), "y": y, "n": [NA] * 20},
        {"x": range(1, 21), "y": y, "cl": [0.0] * 20, "lcl": [-3 * sigma] * 20,
         "ucl": [3 * sigma] * 20, "lcl.95": [-2 * sigma] * 20, "sigma.signal": [False] * 20,
         # alternating sides: 20 useful points, 19 crossings, longest run 1
         "n.useful": [20] * 20, "n.crossings": [19] * 20, "longest.run": [1] * 20},
        {"part": [1], "sigma.signal": [0], "aLCL": [-3 * sigma], "runs.signal": [0]},
    )  # fmt: skip


def test_y_neg_false_floors_when_no_value_is_negative(tmp_path):
    # 0, 4, 0, 4, ... (10 points): mean 2, moving ranges 4, sigma = 4 / 1.128; the lower
    # limits 2 - 3 x 3.546 and 2 - 2 x 3.546 are negative and every y >= 0: floored to 0.
    y = [0, 4] * 5
    sigma = 4 / 1.128
    qic_case(
        tmp_path, "yneg_floor", {"chart": "i", "y.neg": False},
        {"x": range(1, 11), "y": y, "n": [NA] * 10},
        {"x": range(1, 11), "lcl": [0.0] * 10, "lcl.95": [0.0] * 10,
         "ucl": [2 + 3 * sigma] * 10, "ucl.95": [2 + 2 * sigma] * 10},
        {"part": [1], "aLCL": [0.0], "aLCL.95": [0.0]},
    )  # fmt: skip


def test_y_neg_false_looks_at_every_facet(tmp_path):
    # facet a: 0, 4, ... (no negative value); facet b: -1, 3, ... (mean 1). The test is on the
    # minimum over all facets (qicharts2 applies it to the whole data frame), which is -1: no
    # facet is floored. Both have moving ranges of 4: sigma = 4 / 1.128.
    sigma = 4 / 1.128
    qic_case(
        tmp_path, "yneg_facets", {"chart": "i", "y.neg": False, "facets": "~ facet"},
        {"x": [*range(1, 9), *range(1, 9)], "y": [0, 4] * 4 + [-1, 3] * 4, "n": [NA] * 16,
         "facet": ["a"] * 8 + ["b"] * 8},
        {"x": [*range(1, 9), *range(1, 9)], "facet1": ["a"] * 8 + ["b"] * 8,
         "lcl": [2 - 3 * sigma] * 8 + [1 - 3 * sigma] * 8},
        {"facet1": ["a", "b"], "part": [1, 1], "aLCL": [2 - 3 * sigma, 1 - 3 * sigma]},
    )  # fmt: skip


# --- 2. text x ----------------------------------------------------------------------------------


def test_text_x_is_sorted_alphabetically_and_has_no_runs_signal(tmp_path):
    # Labels p01..p12 given out of order; sorted, the first six are low (1, 2, 3, 1, 2, 3) and
    # the last six high (7, 8, 9, 7, 8, 9): median (3 + 7) / 2 = 5, one crossing, a run of 6.
    # With n.useful = 12 the crossings limit is qbinom(0.05, 11, 0.5) = 3, so 1 crossing would
    # signal, but qicharts2 sets runs.signal FALSE for text x (the statistics stay).
    labels = [f"p{i:02d}" for i in range(1, 13)]
    values = dict(zip(labels, [1, 2, 3, 1, 2, 3, 7, 8, 9, 7, 8, 9]))
    shuffled = ["p07", "p01", "p12", "p03", "p10", "p05", "p02", "p09", "p04", "p11", "p06", "p08"]
    assert qbinom05(12) == 3
    qic_case(
        tmp_path, "text_run", {"chart": "run", "x_type": "character"},
        {"x": shuffled, "y": [values[k] for k in shuffled], "n": [NA] * 12},
        {"x": labels, "xx": range(1, 13), "y": [values[k] for k in labels], "cl": [5.0] * 12,
         "runs.signal": [False] * 12, "n.crossings": [1] * 12, "longest.run": [6] * 12,
         "n.crossings.min": [3] * 12},
        {"part": [1], "runs.signal": [0], "n.crossings": [1], "longest.run": [6]},
    )  # fmt: skip


def test_text_x_p_prime_uses_the_sd_of_the_z_scores(tmp_path):
    # Units a..d (given as d, b, a, c) with 10, 20, 30, 40 of 100: p = .1, .2, .3, .4,
    # cl = 100 / 400 = .25. With one n, z = (p - cl) / sigma_p, so sigma_p x sd(z) = sd(p) =
    # sqrt(((.15^2 + .05^2) x 2) / 3) = sqrt(.05 / 3). qicharts2 uses sd(z) for text x (not the
    # moving range, which would give sigma_p x mean|dz| / 1.128 = .1 / 1.128).
    sd_p = math.sqrt(0.05 / 3)
    qic_case(
        tmp_path, "text_pp", {"chart": "pp", "uses_n": True, "x_type": "character"},
        {"x": ["d", "b", "a", "c"], "y": [40, 20, 10, 30], "n": [100] * 4},
        {"x": ["a", "b", "c", "d"], "y": [0.1, 0.2, 0.3, 0.4], "cl": [0.25] * 4,
         "ucl": [0.25 + 3 * sd_p] * 4, "ucl.95": [0.25 + 2 * sd_p] * 4,
         # .25 - 3 x .129 and .25 - 2 x .129 are negative: clamped to 0
         "lcl": [0.0] * 4, "lcl.95": [0.0] * 4, "runs.signal": [False] * 4},
        {"part": [1], "aUCL": [0.25 + 3 * sd_p]},
    )  # fmt: skip


def test_text_x_p_prime_has_no_limits_when_a_label_has_no_data():
    # R's sd() without na.rm: the n = 0 label's z-score is missing, so sd(z) is NA and so is
    # every limit (qicharts2); the engine says why.
    d = pd.DataFrame({"u": list("abcde"), "y": [10, 20, 0, 30, 40], "n": [100, 100, 0, 100, 100]})
    with pytest.warns(QIWarning, match="No limits on this P′ chart"):
        r = spc.control_chart(d, x="u", y="y", n="n", chart="pp")
    assert r.points["ucl"].isna().all() and r.points["cl"].tolist() == [0.25] * 5


def test_text_labels_sort_by_characters_not_numbers_and_dates_as_text_warn():
    d = pd.DataFrame({"unit": ["a9", "a10", "a2"], "y": [1.0, 2.0, 3.0]})
    r = spc.control_chart(d, x="unit", y="y", chart="i")
    assert list(r.points["x"]) == ["a10", "a2", "a9"]  # "1" < "2" < "9", character by character
    assert r.options["x_is_text"]
    d = pd.DataFrame({"month": ["2024-01-01", "01/02/2024", "2024-03-01"], "y": [1.0, 2, 3]})
    with pytest.warns(QIWarning, match="dates written as text"):
        r = spc.control_chart(d, x="month", y="y")
    # text, never parsed: "0" sorts before "2"
    assert list(r.points["x"]) == ["01/02/2024", "2024-01-01", "2024-03-01"]


def test_text_x_switches_off_the_ihi_rules_too():
    d = pd.DataFrame({"unit": [f"u{i:02d}" for i in range(1, 13)], "y": [1.0] * 6 + [9.0] * 6})
    r = spc.control_chart(d, x="unit", y="y", rule_set="ihi")
    assert not r.points["shift"].any() and not r.points["runs_signal"].any()
    # the same values over time do shift (6 points on each side of the median of 5)
    d["unit"] = range(1, 13)
    assert spc.control_chart(d, x="unit", y="y", rule_set="ihi").points["shift"].all()


# --- 3. G chart with a given centre line --------------------------------------------------------


def test_g_chart_with_cl_builds_limits_from_it_and_plots_0_693_of_it(tmp_path):
    # cl = 10 in data units (qicharts2 multiplies it with the data: multiply = 2 here).
    # Limits: 10 +/- 3 x sqrt(10 x 11) (ucl 41.46, lcl < 0 -> 0); the plotted centre is
    # 0.693 x 10 (the theoretical median of a geometric count). Everything then x 2.
    y = [5, 12, 30, 2, 8, 20, 15, 3, 9, 14, 6, 11]
    sd = math.sqrt(10 * 11)
    qic_case(
        tmp_path, "g_cl", {"chart": "g", "cl": 10, "multiply": 2},
        {"x": range(1, 13), "y": y, "n": [NA] * 12},
        {"x": range(1, 13), "y": [2 * v for v in y], "cl": [2 * 0.693 * 10] * 12,
         "ucl": [2 * (10 + 3 * sd)] * 12, "ucl.95": [2 * (10 + 2 * sd)] * 12,
         "lcl": [0.0] * 12, "lcl.95": [0.0] * 12,
         # against 6.93: - + + - + + + - + + - +: 8 runs (7 crossings), longest 3
         "n.crossings": [7] * 12, "longest.run": [3] * 12, "sigma.signal": [False] * 12},
        {"part": [1], "CL": [2 * 6.93], "aUCL": [2 * (10 + 3 * sd)]},
    )  # fmt: skip
    assert 10 + 3 * sd == pytest.approx(41.46, abs=0.01)  # the figure


# --- 4. T chart ------------------------------------------------------------------------------------


def test_t_chart_cl_is_on_the_transformed_scale_and_only_lcl_is_floored(tmp_path):
    # y = t^3.6 for t = 1, 2, 1, 2, ...: on the transformed scale the moving ranges are all 1,
    # sigma = 1 / 1.128. The given cl = 1.5 is used on that scale as it is (not 1.5^(1/3.6)).
    # Back-transformed: cl 1.5^3.6, ucl (1.5 + 3/1.128)^3.6, ucl.95 (1.5 + 2/1.128)^3.6;
    # 1.5 - 3/1.128 < 0 gives NaN, floored to 0; 1.5 - 2/1.128 < 0 gives NaN, left missing.
    t = [1, 2] * 5
    s = 1 / 1.128
    qic_case(
        tmp_path, "t_cl", {"chart": "t", "cl": 1.5},
        {"x": range(1, 11), "y": [v**3.6 for v in t], "n": [NA] * 10},
        {"x": range(1, 11), "cl": [1.5**3.6] * 10, "ucl": [(1.5 + 3 * s) ** 3.6] * 10,
         "ucl.95": [(1.5 + 2 * s) ** 3.6] * 10, "lcl": [0.0] * 10, "lcl.95": [NA] * 10},
        {"part": [1], "aLCL": [0.0], "aLCL.95": [NA], "CL": [1.5**3.6]},
    )  # fmt: skip


def test_t_chart_without_cl_leaves_a_negative_2_sigma_line_missing(tmp_path):
    # t = 1, 3, 1, 3 ...: mean 2, moving ranges 2, sigma = 2 / 1.128 = 1.773:
    # 2 - 3 x 1.773 < 0 -> lcl 0; 2 - 2 x 1.773 < 0 -> lcl.95 missing (was 0 in the engine).
    t = [1, 3] * 4
    s = 2 / 1.128
    qic_case(
        tmp_path, "t_nocl", {"chart": "t"},
        {"x": range(1, 9), "y": [v**3.6 for v in t], "n": [NA] * 8},
        {"x": range(1, 9), "cl": [2**3.6] * 8, "lcl": [0.0] * 8, "lcl.95": [NA] * 8,
         "ucl.95": [(2 + 2 * s) ** 3.6] * 8},
        {"part": [1]},
    )  # fmt: skip


# --- 5. empty subgroups -----------------------------------------------------------------------------


def test_empty_subgroups_have_n_0_and_y_sum_0(tmp_path):
    # P chart, rows per x: 1: 2/10 and 3/10; 2: NA/NA and NA/10 (complete.cases blanks both);
    # 3: NA/20 alone; 4: 1/10 and 0/10; 5: 4/20.
    # n = sum(n, na.rm = TRUE): 20, 0, 0, 20, 20. y.sum = sum(y, na.rm = <several rows>):
    # 5, 0 (two rows, all missing), NA (one row), 1, 4. y = 5/20, 0/0, 0/0, 1/20, 4/20.
    # cl = (5 + 1 + 4) / 60 = 1/6; at n = 20 sigma = sqrt(1/6 x 5/6 / 20) = 1/12, so
    # ucl = 1/6 + 3/12, ucl.95 = 1/6 + 2/12, lower limits < 0 -> 0; n = 0: no limits.
    qic_case(
        tmp_path, "empty_subgroups", {"chart": "p", "uses_n": True},
        {"x": [1, 1, 2, 2, 3, 4, 4, 5], "y": [2, 3, NA, NA, NA, 1, 0, 4],
         "n": [10, 10, NA, 10, 20, 10, 10, 20]},
        {"x": [1, 2, 3, 4, 5], "n": [20, 0, 0, 20, 20], "y.sum": [5, 0, NA, 1, 4],
         "y.length": [2, 0, 0, 2, 1], "y": [0.25, NA, NA, 0.05, 0.2], "cl": [1 / 6] * 5,
         "ucl": [1 / 6 + 3 / 12, NA, NA, 1 / 6 + 3 / 12, 1 / 6 + 3 / 12],
         "ucl.95": [1 / 6 + 2 / 12, NA, NA, 1 / 6 + 2 / 12, 1 / 6 + 2 / 12],
         "lcl": [0.0, NA, NA, 0.0, 0.0],
         # .25 (+), NaN, NaN, .05 (-), .2 (+): 5 observed, 3 useful, 2 crossings
         "n.obs": [5] * 5, "n.useful": [3] * 5, "n.crossings": [2] * 5},
        {"part": [1], "n.obs": [5], "n.useful": [3]},
    )  # fmt: skip


XBAR_DATA = {
    # subgroups 1: 1, 2, 3 (mean 2, sd 1); 2: 2, 4, 6 (mean 4, sd 2); 3: two missing values
    # (size 0); 4: 4, 5, 6 (mean 5, sd 1)
    "x": [1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4],
    "y": [1, 2, 3, 2, 4, 6, NA, NA, 4, 5, 6],
    "n": [NA] * 11,
}
#: Sizes 3 and 0 differ, so qicharts2 pools: sum((n_i - 1) s_i^2) / sum(n_i - 1) =
#: (2 x 1 + 2 x 4 + 2 x 1) / (2 + 2 - 1 + 2) = 12 / 5; the empty subgroup adds -1 below.
SBAR_POOLED = math.sqrt(12 / 5)
C4_3 = math.sqrt(math.pi) / 2  # c4(3) = sqrt(2/2) x Gamma(3/2) / Gamma(1)


def test_xbar_chart_pools_with_the_empty_subgroup(tmp_path):
    # cl = (3 x 2 + 3 x 4 + 3 x 5) / 9 = 11/3; A3(3) = 3 / (c4(3) sqrt 3). The equal-size
    # mean of the SDs, 4/3, would put the limits elsewhere.
    a3 = 3 / (C4_3 * math.sqrt(3))
    cl = 11 / 3
    qic_case(
        tmp_path, "xbar_empty", {"chart": "xbar"}, XBAR_DATA,
        {"x": [1, 2, 3, 4], "y": [2, 4, NA, 5], "y.length": [3, 3, 0, 3], "y.sum": [6, 12, 0, 15],
         "cl": [cl] * 4, "ucl": [cl + a3 * SBAR_POOLED, cl + a3 * SBAR_POOLED, NA,
                                 cl + a3 * SBAR_POOLED],
         "lcl": [cl - a3 * SBAR_POOLED, cl - a3 * SBAR_POOLED, NA, cl - a3 * SBAR_POOLED]},
        {"part": [1], "CL": [cl]},
    )  # fmt: skip


def test_s_chart_pools_with_the_empty_subgroup(tmp_path):
    # cl = s-bar = sqrt(12/5); ucl = B4(3) x cl with B4 = 1 + 3 c5/c4, c5 = sqrt(1 - c4^2);
    # B3 = 1 - 3 c5/c4 < 0 -> 0.
    b4 = 1 + 3 * math.sqrt(1 - C4_3**2) / C4_3
    assert b4 == pytest.approx(2.568, abs=5e-4)  # Montgomery, Appendix VI, n = 3
    qic_case(
        tmp_path, "s_empty", {"chart": "s"}, XBAR_DATA,
        {"x": [1, 2, 3, 4], "y": [1, 2, NA, 1], "cl": [SBAR_POOLED] * 4,
         "ucl": [b4 * SBAR_POOLED, b4 * SBAR_POOLED, NA, b4 * SBAR_POOLED],
         "lcl": [0.0, 0.0, NA, 0.0]},
        {"part": [1], "CL": [SBAR_POOLED]},
    )  # fmt: skip


@pytest.mark.filterwarnings("ignore:Some series have no usable points")
def test_empty_subgroups_when_combining_without_n():
    # qicharts2 combines with agg.fun(y, na.rm = TRUE): sum() of no values is 0, sd() of one
    # value is NA; a C chart plots y.sum, 0 for several all-missing rows, NA for one.
    d = pd.DataFrame({"x": [1, 1, 2, 2, 3, 4], "y": [1.0, 2, NA, NA, NA, 5]})
    total = spc.control_chart(d, x="x", y="y", agg_fun="sum").points
    assert total["y"].tolist() == [3, 0, 0, 5]
    sd = spc.control_chart(d, x="x", y="y", agg_fun="sd").points["y"]
    assert sd.iloc[0] == pytest.approx(math.sqrt(0.5)) and sd.iloc[1:].isna().all()
    c = spc.control_chart(d, x="x", y="y", chart="c").points
    assert c["y"].iloc[:2].tolist() == [3, 0] and math.isnan(c["y"].iloc[2])


# --- 6. nothing to count ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Some series have no usable points")
def test_nothing_to_count_gives_missing_runs_statistics(tmp_path):
    # An all-equal run chart: every point is on the median, n.useful = 0, so qicharts2
    # reports longest.run, n.crossings and their limits as NA and no runs signal.
    qic_case(
        tmp_path, "all_equal", {"chart": "run"},
        {"x": range(1, 6), "y": [5] * 5, "n": [NA] * 5},
        {"x": range(1, 6), "cl": [5.0] * 5, "n.obs": [5] * 5, "n.useful": [0] * 5,
         "longest.run": [NA] * 5, "n.crossings": [NA] * 5, "longest.run.max": [NA] * 5,
         "n.crossings.min": [NA] * 5, "runs.signal": [False] * 5},
        {"part": [1], "longest.run": [NA], "n.crossings": [NA], "runs.signal": [0]},
    )  # fmt: skip
    # One point: the mean is the point (on the centre line) and there is no moving range.
    qic_case(
        tmp_path, "one_point", {"chart": "i"},
        {"x": [1], "y": [7], "n": [NA]},
        {"x": [1], "cl": [7.0], "ucl": [NA], "lcl": [NA], "longest.run": [NA],
         "n.crossings": [NA], "n.useful": [0]},
        {"part": [1], "longest.run": [NA]},
    )  # fmt: skip
    # Only missing values.
    qic_case(
        tmp_path, "all_missing", {"chart": "i"},
        {"x": [1, 2, 3], "y": [NA, NA, NA], "n": [NA] * 3},
        {"x": [1, 2, 3], "y": [NA] * 3, "cl": [NA] * 3, "ucl": [NA] * 3, "n.obs": [3] * 3,
         "longest.run": [NA] * 3, "n.crossings": [NA] * 3},
        {"part": [1], "n.obs": [3], "n.crossings": [NA]},
    )  # fmt: skip


# --- 7. n = 0 -------------------------------------------------------------------------------------------


def test_u_chart_point_with_n_0_has_no_limits(tmp_path):
    # y = 2, 0, 4, 5 over n = 10, 0, 10, 10: cl = 11/30; sigma at n = 10 is sqrt(11/30/10);
    # at n = 0 the limits are infinite, hence NA (flooring -Inf to 0 first gave lcl = 0).
    s = math.sqrt(11 / 30 / 10)
    qic_case(
        tmp_path, "u_n0", {"chart": "u", "uses_n": True},
        {"x": [1, 2, 3, 4], "y": [2, 0, 4, 5], "n": [10, 0, 10, 10]},
        {"x": [1, 2, 3, 4], "y": [0.2, NA, 0.4, 0.5], "cl": [11 / 30] * 4,
         "ucl": [11 / 30 + 3 * s, NA, 11 / 30 + 3 * s, 11 / 30 + 3 * s],
         "lcl": [0.0, NA, 0.0, 0.0], "lcl.95": [0.0, NA, 0.0, 0.0]},
        {"part": [1], "aUCL": [11 / 30 + 3 * s], "aLCL": [0.0]},
    )  # fmt: skip


def test_p_prime_moving_ranges_do_not_bridge_an_n_0_point(tmp_path):
    # y/n = 1/10, 3/10, 0/0, 2/10, 4/10: cl = 10/40 = .25. With n = 10 throughout,
    # sigma_p x |dz| = |dp|: the moving ranges are .2, NA, NA, .2 (the n = 0 point has no z),
    # so sigma = .2 / 1.128. Bridging the gap (.3 -> .2) would give mean(.2, .1, .2) instead.
    s = 0.2 / 1.128
    qic_case(
        tmp_path, "pp_n0", {"chart": "pp", "uses_n": True},
        {"x": [1, 2, 3, 4, 5], "y": [1, 3, 0, 2, 4], "n": [10, 10, 0, 10, 10]},
        {"x": [1, 2, 3, 4, 5], "cl": [0.25] * 5,
         "ucl": [0.25 + 3 * s, 0.25 + 3 * s, NA, 0.25 + 3 * s, 0.25 + 3 * s],
         "ucl.95": [0.25 + 2 * s, 0.25 + 2 * s, NA, 0.25 + 2 * s, 0.25 + 2 * s],
         "lcl": [0.0, 0.0, NA, 0.0, 0.0]},
        {"part": [1], "aUCL": [0.25 + 3 * s]},
    )  # fmt: skip


# --- 8. multiply with cl and target ------------------------------------------------------------


def test_multiply_applies_to_cl_but_not_to_target(tmp_path):
    # qicharts2: cl = .2 is a proportion (multiplied with the data), target = 25 is already a
    # per cent. With n = 100, sigma = sqrt(.2 x .8 / 100) = .04: limits (.2 +/- .12) x 100.
    qic_case(
        tmp_path, "multiply_cl_target",
        {"chart": "p", "uses_n": True, "multiply": 100, "cl": 0.2, "target": 25},
        {"x": [1, 2, 3, 4], "y": [22, 25, 15, 18], "n": [100] * 4},
        {"x": [1, 2, 3, 4], "y": [22.0, 25.0, 15.0, 18.0], "cl": [20.0] * 4,
         "ucl": [32.0] * 4, "lcl": [8.0] * 4, "ucl.95": [28.0] * 4, "target": [25.0] * 4},
        {"part": [1], "CL": [20.0]},
    )  # fmt: skip


def test_engine_takes_cl_and_target_in_plotted_units():
    d = pd.DataFrame({"x": [1, 2, 3, 4], "y": [22, 25, 15, 18], "n": [100] * 4})
    r = spc.control_chart(d, x="x", y="y", n="n", chart="p", multiply=100, cl=20, target=25)
    assert r.points["cl"].tolist() == [20.0] * 4 and r.points["target"].tolist() == [25.0] * 4
    assert r.points["ucl"].iloc[0] == pytest.approx(32.0)


# --- the harness itself -------------------------------------------------------------------------


def test_harness_rejects_an_unknown_key_and_an_unknown_x_type(tmp_path):
    data = {"x": [1, 2, 3], "y": [1, 2, 3], "n": [NA] * 3}
    with pytest.raises(pytest.fail.Exception, match="does not understand"):
        qic_case(tmp_path, "unknown_key", {"y.percent": True}, data, {"x": [1, 2, 3]}, {"part": [1]})
    with pytest.raises(pytest.fail.Exception, match="x_type"):
        qic_case(tmp_path, "unknown_x", {"x_type": "factor"}, data, {"x": [1, 2, 3]}, {"part": [1]})


def test_harness_ignores_engine_columns_only_by_name():
    exp = pd.DataFrame({"y": [1.0, 2.0]})
    got = exp.assign(signal=[False, False], point_type=["common_cause"] * 2)
    compare_frames("listed", got, exp, engine_only=ENGINE_ONLY_POINTS)
    with pytest.raises(AssertionError, match="neither expected nor listed"):
        compare_frames("unlisted", got.assign(surprise=[0, 0]), exp, engine_only=ENGINE_ONLY_POINTS)


# --- 9. funnel summary: FunnelPlotR's target and the plotted one -------------------------------


def test_funnel_summary_carries_data_and_plotted_target():
    # PR: target = sum(numerator) / sum(denominator) = 60 / 300 = .2 (FunnelPlotR reports it so);
    # drawn as a percentage (multiplier 100) the centre line is at 20.
    d = pd.DataFrame({"unit": ["a", "b", "c"], "num": [10, 20, 30], "den": [100, 100, 100]})
    r = spc.funnel(d, numerator="num", denominator="den", group="unit", data_type="PR",
                   multiplier=100)  # fmt: skip
    row = r.summary.iloc[0]
    assert row["target"] == pytest.approx(0.2) and row["target_plotted"] == pytest.approx(20)
    assert r.points["target"].tolist() == pytest.approx([20.0] * 3)  # drawn like `value`


# --- 10. awkward inputs with no reference ------------------------------------------------------


def months(values) -> pd.DataFrame:
    return pd.DataFrame(
        {"month": pd.date_range("2024-01-01", periods=len(values), freq="MS"), "y": values}
    )


@pytest.mark.parametrize("values", [[NA] * 15, [7.0]], ids=["all_missing", "one_point"])
def test_mdc_without_limits_has_no_assurance_and_says_so(values):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = spc.mdc_chart(months(values), x="month", y="y", improvement="increase", target=5)
    assert r.summary["assurance_type"].isna().all()
    assert r.latest().assurance_type is None
    assert any(issubclass(w.category, NoLimitsWarning) for w in caught)
    assert any("No assurance" in m for m in r.warnings)


def test_mdc_with_limits_still_judges_the_target():
    # 10, 12, 10, ...: mean 11, mR 2, limits 11 +/- 2.66 x 2: a target of 5 is below them
    r = spc.mdc_chart(months([10.0, 12.0] * 7), x="month", y="y", improvement="increase", target=5)
    assert r.summary["assurance_type"].tolist() == ["consistent_pass"]
    assert not any("No assurance" in m for m in r.warnings)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_reading_an_empty_result_raises_a_qierror():
    empty = pd.DataFrame({"month": pd.to_datetime([]), "y": []})
    r = spc.control_chart(empty, x="month", y="y", chart="i")
    for read in (lambda: r.reading, lambda: r.readings[None], r.latest):
        with pytest.raises(QIError, match="no points"):
            read()


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_cell_is_missing_data_in_both_profiles(blank):
    d = months(["10", blank, "11", "12", "9", "10", "11", "12", "10", "11", "9", "10", "12", "11"])
    qic = spc.control_chart(d, x="month", y="y", chart="i")
    mdc = spc.mdc_chart(d, x="month", y="y")
    assert math.isnan(qic.points["y"].iloc[1]) and math.isnan(mdc.points["y"].iloc[1])
    bad = d.assign(y=["10", "seven", *d["y"].iloc[2:]])
    for chart in (lambda: spc.control_chart(bad, x="month", y="y"),
                  lambda: spc.mdc_chart(bad, x="month", y="y")):  # fmt: skip
        with pytest.raises(SPCDataError, match="seven"):
            chart()


def test_rows_with_the_same_x_are_averaged_with_a_warning():
    d = pd.DataFrame({"x": [1, 2, 2, 3], "y": [1.0, 2.0, 4.0, 5.0]})
    with pytest.warns(QIWarning, match="1 row\\(s\\) share an `x` value"):
        r = spc.control_chart(d, x="x", y="y", chart="i")
    assert r.points["y"].tolist() == [1, 3, 5]  # (2 + 4) / 2, as qicharts2's mean
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # combining on purpose: no warning
        spc.control_chart(d, x="x", y="y", chart="i", agg_fun="mean")
        spc.control_chart(d.assign(n=10), x="x", y="y", n="n", chart="p")
