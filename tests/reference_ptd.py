"""Parity checker for the NHSRplotthedots 0.2.2 reference cases (``ptd_*``).

``check_ptd_case(case_dir, params)`` runs :func:`qiwidgets.spc.mdc.mdc_chart` on the case's
``input.csv`` with the options of ``params.json`` and compares every column of ``expected.csv``
and ``summary.csv`` that the engine produces: numbers within 1e-9 relative, flags, types and
counts exactly, missing values in exactly the same places. An option the engine does not
understand, or an expected column it cannot account for, fails the case.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd

from qiwidgets.errors import ShortBaselineWarning
from qiwidgets.spc.mdc import mdc_chart

REL_TOL = 1e-9

#: params.json keys this checker understands; anything else fails the case.
KNOWN_PARAMS = {
    "tool",
    "chart",
    "value_field",
    "date_field",
    "facet_field",
    "improvement_direction",
    "target",
    "rebase",
    "fix_after_n_points",
    "screen_outliers",
    "screen_outliers_passed_explicitly",
    "trajectory",
    "x_type",
    "r_call",
}

# expected.csv column -> (our points column, kind)
POINT_MAP = {
    "x": ("x", "key"),
    "f": ("f", "key"),
    "rebase_group": ("rebase_group", "int"),
    "short_group_warning": ("short_group_warning", "bool"),
    "y": ("y", "num"),
    "fix_y": ("fix_y", "num"),
    "mean_col": ("cl", "num"),
    "lpl": ("lcl", "num"),
    "upl": ("ucl", "num"),
    "outside_limits": ("outside_limits", "bool"),
    "relative_to_mean": ("relative_to_mean", "int"),
    "close_to_limits": ("close_to_limits", "bool"),
    "special_cause_type": ("special_cause_type", "str"),
    "special_cause_flag": ("special_cause_flag", "bool"),
    "point_type": ("point_type", "str"),
    "target": ("target", "num"),
    "summary_variation_type": ("variation_type", "str"),
    "summary_assurance_type": ("assurance_type", "str"),
}

#: expected.csv columns the engine does not produce: they must hold only NA.
NOT_PRODUCED = {"trajectory"}

SUMMARY_MAP = {
    "f": ("f", "key"),
    "rebase_group": ("rebase_group", "key"),
    "mean_col": ("cl", "num"),
    "lpl": ("lcl", "num"),
    "upl": ("ucl", "num"),
    "n": ("n", "int"),
    "common_cause": ("common_cause", "int"),
    "special_cause_improvement": ("special_cause_improvement", "int"),
    "special_cause_concern": ("special_cause_concern", "int"),
    "variation_type": ("variation_type", "str"),
    "assurance_type": ("assurance_type", "str"),
}

NO_FACET = "no facet"  # NHSRplotthedots' facet value without facet_field


class Mismatch(AssertionError):
    pass


def _read_expected(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _options(params: dict) -> dict:
    unknown = set(params) - KNOWN_PARAMS
    if unknown:
        raise Mismatch(
            f"params.json has options the checker does not understand: {sorted(unknown)}"
        )
    if params.get("chart", "xmr") != "xmr":
        raise Mismatch(f"chart {params['chart']!r} is not an NHSRplotthedots chart")
    if params.get("trajectory") is not None:
        raise Mismatch("`trajectory` is not supported by mdc_chart")
    if params.get("value_field", "y") != "y" or params.get("date_field", "x") != "x":
        raise Mismatch("the case does not use the columns x and y")
    opts: dict = {
        "improvement": params["improvement_direction"],
        "screen_outliers": bool(params.get("screen_outliers", True)),
    }
    if params.get("facet_field"):
        opts["facets"] = params["facet_field"]
    if params.get("target") is not None:
        opts["target"] = params["target"]
    if params.get("rebase") is not None:
        opts["rebase"] = params["rebase"]
    if params.get("fix_after_n_points") is not None:
        opts["fix_after_n_points"] = int(params["fix_after_n_points"])
    return opts


def _load_input(case_dir: Path, params: dict) -> pd.DataFrame:
    d = pd.read_csv(case_dir / "input.csv", dtype={"facet": str, "facet2": str})
    if params.get("x_type", "date") == "date":
        d["x"] = pd.to_datetime(d["x"], format="ISO8601")
    d["y"] = d["y"].astype(float)
    return d


def _as_text(values: pd.Series, kind: str) -> list:
    """Our values in the encoding of the expected CSVs ('' for NA)."""
    out = []
    for v in values.astype(object):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        elif kind == "bool":
            out.append("TRUE" if bool(v) else "FALSE")
        elif kind == "int":
            out.append(str(int(v)))
        elif isinstance(v, pd.Timestamp):
            out.append(v.strftime("%Y-%m-%d"))
        else:
            out.append(str(v))
    return out


def _compare(
    name: str, where: list[str], expected: pd.Series, ours: pd.Series, kind: str
) -> list[str]:
    problems = []
    if kind == "num":
        ours_f = pd.to_numeric(ours, errors="coerce").astype(float).to_numpy()
        for i, (e, o) in enumerate(zip(expected, ours_f)):
            if e in ("", "NA"):
                if not math.isnan(o):
                    problems.append(f"{name} at {where[i]}: expected NA, got {o!r}")
                continue
            ev = float(e)
            if math.isnan(ev) != math.isnan(o):
                problems.append(f"{name} at {where[i]}: expected {e}, got {o!r}")
            elif math.isinf(ev) or math.isinf(o):
                if ev != o:
                    problems.append(f"{name} at {where[i]}: expected {e}, got {o!r}")
            elif not math.isnan(ev) and abs(ev - o) > REL_TOL * max(abs(ev), abs(o)):
                problems.append(f"{name} at {where[i]}: expected {e}, got {o!r}")
    else:
        ours_t = _as_text(ours, kind)
        for i, (e, o) in enumerate(zip(expected, ours_t)):
            if e != o:
                problems.append(f"{name} at {where[i]}: expected {e!r}, got {o!r}")
    return problems


def check_ptd_case(case_dir: Path, params: dict) -> None:
    """Run one NHSRplotthedots reference case and fail with every mismatch found."""
    case_dir = Path(case_dir)
    opts = _options(params)
    data = _load_input(case_dir, params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = mdc_chart(data, x="x", y="y", **opts)
    short_warned = any(issubclass(w.category, ShortBaselineWarning) for w in caught)

    expected = _read_expected(case_dir / "expected.csv")
    summary = _read_expected(case_dir / "summary.csv")
    problems: list[str] = []

    # ---- points: match rows on (f, x) ----------------------------------------------------------
    pts = result.points.copy()
    facet = opts.get("facets")
    pts["f"] = pts[facet].astype(str) if facet else NO_FACET
    pts["_key"] = pts["f"].astype(str) + " " + pd.Series(_as_text(pts["x"], "key"), index=pts.index)
    exp_key = expected["f"] + " " + expected["x"]
    if len(pts) != len(expected):
        problems.append(f"points: expected {len(expected)} rows, got {len(pts)}")
    if pts["_key"].duplicated().any():
        problems.append("points: (facet, x) is not unique in our output")
    pts = pts.set_index("_key")
    missing = sorted(set(exp_key) - set(pts.index))
    if missing:
        problems.append(f"points: rows missing from our output: {missing[:5]}")
        raise Mismatch(f"{case_dir.name}:\n  " + "\n  ".join(problems))
    ours = pts.loc[exp_key.to_list()]
    where = exp_key.to_list()
    for col in expected.columns:
        if col in NOT_PRODUCED:
            if (expected[col] != "").any():
                problems.append(f"points: column {col!r} has values but is not produced")
            continue
        if col not in POINT_MAP:
            problems.append(f"points: expected column {col!r} is not mapped by the checker")
            continue
        our_col, kind = POINT_MAP[col]
        if kind == "key":
            continue
        problems += _compare(col, where, expected[col], ours[our_col], kind)

    # ---- summary: match rows on (f, rebase_group) ------------------------------------------
    summ = result.summary.copy()
    summ["f"] = summ[facet].astype(str) if facet else NO_FACET
    s_f = summary["f"] if "f" in summary.columns else pd.Series([NO_FACET] * len(summary))
    s_rg = (
        summary["rebase_group"]
        if "rebase_group" in summary.columns
        else pd.Series(["0"] * len(summary))
    )
    s_key = (s_f + " " + s_rg).to_list()
    summ.index = summ["f"].astype(str) + " " + summ["rebase_group"].astype(str)
    if len(summ) != len(summary):
        problems.append(
            f"summary: expected {len(summary)} rows, got {len(summ)}: {list(summ.index)}"
        )
    absent = [k for k in s_key if k not in summ.index]
    if absent:
        problems.append(f"summary: rows missing from our output: {absent[:5]}")
    else:
        ours_s = summ.loc[s_key]
        for col in summary.columns:
            if col not in SUMMARY_MAP:
                problems.append(f"summary: expected column {col!r} is not mapped by the checker")
                continue
            our_col, kind = SUMMARY_MAP[col]
            if kind == "key":
                continue
            problems += _compare(
                "summary." + col,
                s_key,
                summary[col].reset_index(drop=True),
                ours_s[our_col].reset_index(drop=True),
                kind,
            )
        if "assurance_type" not in summary.columns and ours_s["assurance_type"].notna().any():
            problems.append("summary: assurance_type set although the case has no target")

    # ---- the short-baseline warning ------------------------------------------------------------
    expect_short = (expected["short_group_warning"] == "TRUE").any()
    if expect_short != short_warned:
        problems.append(
            f"ShortBaselineWarning: expected {'a warning' if expect_short else 'none'}, "
            f"got {'one' if short_warned else 'none'}"
        )
    if expect_short != bool(result.warnings):
        problems.append(
            f"result.warnings: expected {'a message' if expect_short else 'none'}, got {result.warnings!r}"
        )
    if not all(isinstance(v, str) and v for v in (result.readings[k] for k in result.readings)):
        problems.append("readings: a facet has no reading")

    if problems:
        shown = problems[:40]
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise Mismatch(
            f"{case_dir.name}: {len(problems)} mismatch(es):\n  " + "\n  ".join(shown) + more
        )


def _main() -> None:  # pragma: no cover - handy from the command line
    import json
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/spc")
    failed = 0
    for case in sorted(root.glob("ptd_*")):
        try:
            check_ptd_case(case, json.loads((case / "params.json").read_text()))
            print("ok  ", case.name)
        except AssertionError as exc:
            failed += 1
            print("FAIL", exc)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    _main()
