"""Reference parity: every funnel-plot case produced by the R package FunnelPlotR 0.6.0.

One test per case directory under ``$QI_FUNNEL_REFERENCE`` (default
``../shared/reference/funnel``). Each case's ``input.csv`` and ``params.json`` are run through
:func:`qiwidgets.spc.funnel.funnel`, and every value of ``expected_units.csv``,
``expected_limits.csv`` and ``expected_summary.json`` that the engine produces is compared:
numbers within 1e-9 relative, flags and counts exactly. A case whose options the engine does not
understand fails; nothing is skipped.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qiwidgets.spc.funnel import funnel

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(
    os.environ.get("QI_FUNNEL_REFERENCE", ROOT.parent / "shared" / "reference" / "funnel")
)
RTOL = 1e-9

#: The options params.json may carry and the engine understands. Anything else fails the case.
KNOWN_PARAMS = {
    "case_id", "description", "data_set", "data_source", "data_generation", "r_data_read",
    "r_call", "args_passed_explicitly", "limit_meaning",
    "data_type", "sr_method", "limit", "draw_adjusted", "draw_unadjusted", "trim_by",
    "multiplier", "SHMI_rounding",
}  # fmt: skip

#: expected_units.csv column -> points column (numbers).
UNIT_NUMBERS = {
    "numerator": "numerator",
    "denominator_input": "denominator_input",
    "denominator": "denominator",
    "rr": "rr",
    "y_plotted": "value",
    "target_transformed": "target_transformed",
    "Y": "y_transformed",
    "s_zscore": "s_zscore",
    "z": "z",
    "z_trimmed": "z_trimmed",
    "rank": "rank",
    "trunc_group": "trunc_group",
    "s_limits": "s_limits",
    "OD95LCL": "od95_lcl",
    "OD95UCL": "od95_ucl",
    "OD99LCL": "od998_lcl",
    "OD99UCL": "od998_ucl",
    "LCL95": "lcl95",
    "UCL95": "ucl95",
    "LCL99": "lcl998",
    "UCL99": "ucl998",
}
#: expected_units.csv column -> points column (flags, compared exactly).
UNIT_FLAGS = {"trimmed": "trimmed", "outlier": "outlier"}

#: expected_limits.csv column -> FunnelResult.limits column.
LIMIT_NUMBERS = {
    "number_seq": "denominator",
    "s": "s",
    "odll95": "od95_lcl",
    "odul95": "od95_ucl",
    "odll998": "od998_lcl",
    "odul998": "od998_ucl",
    "ll95": "lcl95",
    "ul95": "ucl95",
    "ll998": "lcl998",
    "ul998": "ucl998",
}

#: expected_summary.json field -> summary column.
SUMMARY_NUMBERS = {
    "phi": "phi",
    "tau2": "tau2",
    "phi_computed": "phi_computed",
    "tau2_computed": "tau2_computed",
    "winsor_lower_z": "winsor_lower_z",
    "winsor_upper_z": "winsor_upper_z",
    "target": "target",
    "target_transformed": "target_transformed",
    "multiplier": "multiplier",
}
SUMMARY_EXACT = {
    "n_units": "n_units",
    "n_used_for_phi": "n_used_for_phi",
    "n_outliers": "n_outliers",
    "draw_adjusted_requested": "draw_adjusted_requested",
    "draw_unadjusted_requested": "draw_unadjusted_requested",
    "draw_adjusted": "draw_adjusted",
    "draw_unadjusted": "draw_unadjusted",
    "adjusted_limits_used": "draw_adjusted",
}
#: FunnelPlotR's names of the limit columns outliers are judged on -> (judged_on, limit).
JUDGED_ON = {
    "OD95": ("adjusted", 95),
    "OD99": ("adjusted", 99.8),
    "95": ("unadjusted", 95),
    "99": ("unadjusted", 99.8),
}
SUMMARY_HANDLED = (
    set(SUMMARY_NUMBERS)
    | set(SUMMARY_EXACT)
    | {"case_id", "outlier_units", "outlier_limit_columns", "limits_lookup_rows",
       "limits_lookup_min", "limits_lookup_max"}
)  # fmt: skip


def _cases() -> list[Path]:
    if not REFERENCE.is_dir():
        return []
    return sorted(p for p in REFERENCE.iterdir() if (p / "params.json").is_file())


def _close(a, b) -> np.ndarray:
    """Equal within RTOL relative (exact for zeros), NaN matching NaN, inf matching inf."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = np.isclose(a, b, rtol=RTOL, atol=0.0) | (a == b)
    return both_nan | close


def _assert_numbers(case: str, what: str, got, want) -> None:
    ok = _close(got, want)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        pytest.fail(
            f"{case}: {what}: {int((~ok).sum())} value(s) differ; first at row {i}: "
            f"got {np.asarray(got)[i]!r}, expected {np.asarray(want)[i]!r}"
        )


def test_reference_folder_is_present():
    assert REFERENCE.is_dir(), f"reference cases not found at {REFERENCE} (set QI_FUNNEL_REFERENCE)"
    assert _cases(), f"no case folders under {REFERENCE}"


def _case_params() -> list:
    # Without cases, one failing parameter instead of pytest's silent "empty parameter set" skip.
    return [pytest.param(p, id=p.name) for p in _cases()] or [pytest.param(None, id="no-cases")]


@pytest.mark.parametrize("case", _case_params())
def test_reference_case(case: Path | None):
    if case is None:
        pytest.fail(f"no funnel reference cases under {REFERENCE} (set QI_FUNNEL_REFERENCE)")
    name = case.name
    params = json.loads((case / "params.json").read_text())
    unknown = sorted(set(params) - KNOWN_PARAMS)
    if unknown:
        pytest.fail(f"{name}: params.json holds options the engine does not understand: {unknown}")

    data = pd.read_csv(
        case / "input.csv", dtype={"unit": str, "numerator": float, "denominator": float}
    )
    data_before = data.copy()
    result = funnel(
        data,
        numerator="numerator",
        denominator="denominator",
        group="unit",
        data_type=params["data_type"],
        sr_method=params["sr_method"],
        limit=params["limit"],
        draw_adjusted=params["draw_adjusted"],
        draw_unadjusted=params["draw_unadjusted"],
        trim_by=params["trim_by"],
        multiplier=params["multiplier"],
        shmi_rounding=params["SHMI_rounding"],
    )
    pd.testing.assert_frame_equal(data, data_before)

    # --- per unit -----------------------------------------------------------------------
    units = pd.read_csv(case / "expected_units.csv", dtype={"unit": str})
    unknown_cols = sorted(set(units.columns) - set(UNIT_NUMBERS) - set(UNIT_FLAGS) - {"unit"})
    assert not unknown_cols, f"{name}: expected_units.csv columns not compared: {unknown_cols}"
    points = result.points
    assert list(points["group"]) == list(units["unit"]), f"{name}: units or their order differ"
    for ref_col, col in UNIT_NUMBERS.items():
        _assert_numbers(
            name, f"units column {ref_col!r} (points {col!r})", points[col], units[ref_col]
        )
    for ref_col, col in UNIT_FLAGS.items():
        got = points[col].astype(int).tolist()
        want = units[ref_col].astype(int).tolist()
        assert got == want, f"{name}: units column {ref_col!r}: got {got}, expected {want}"

    # --- the limit curve ------------------------------------------------------------------
    lim = pd.read_csv(case / "expected_limits.csv")
    assert list(lim.columns) == list(LIMIT_NUMBERS), f"{name}: unexpected limits columns"
    assert len(result.limits) == len(lim), (
        f"{name}: limits has {len(result.limits)} rows, expected {len(lim)}"
    )
    for ref_col, col in LIMIT_NUMBERS.items():
        _assert_numbers(name, f"limits column {ref_col!r}", result.limits[col], lim[ref_col])

    # --- summary ------------------------------------------------------------------------
    summary = json.loads((case / "expected_summary.json").read_text())
    unknown_fields = sorted(set(summary) - SUMMARY_HANDLED)
    assert not unknown_fields, (
        f"{name}: expected_summary.json fields not compared: {unknown_fields}"
    )
    row = result.summary.iloc[0]
    for ref_key, col in SUMMARY_NUMBERS.items():
        want = math.nan if summary[ref_key] is None else summary[ref_key]
        _assert_numbers(name, f"summary {ref_key!r}", [row[col]], [want])
    for ref_key, col in SUMMARY_EXACT.items():
        got = row[col]
        got = bool(got) if isinstance(summary[ref_key], bool) else int(got)
        assert got == summary[ref_key], (
            f"{name}: summary {ref_key!r}: got {got}, expected {summary[ref_key]}"
        )
    got_outliers = [str(g) for g in points.loc[points["outlier"], "group"]]
    assert got_outliers == summary["outlier_units"], f"{name}: outlier units differ"
    judged_on, limit = JUDGED_ON[summary["outlier_limit_columns"]]
    assert row["judged_on"] == judged_on and row["limit"] == limit, (
        f"{name}: judged on {row['judged_on']} {row['limit']}, expected {judged_on} {limit}"
    )
    assert (points["judged_on"] == judged_on).all()
    assert len(result.limits) == summary["limits_lookup_rows"]
    _assert_numbers(
        name,
        "limits range",
        [result.limits["denominator"].min(), result.limits["denominator"].max()],
        [summary["limits_lookup_min"], summary["limits_lookup_max"]],
    )

    # --- what the package said --------------------------------------------------------------
    info_path = case / "run_info.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        said_fallback = any("No overdispersion detected" in m for m in info.get("messages", []))
        fell_back = any("No overdispersion detected" in w for w in result.warnings)
        assert fell_back == said_fallback, f"{name}: phi <= 1 fallback message differs"
