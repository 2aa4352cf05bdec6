"""Check one qicharts2 reference case against ``qiwidgets.spc.control_chart``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qiwidgets import spc

#: params.json keys this checker understands, with the qicharts2 default of each.
KNOWN = {
    "tool": None, "chart": "run", "freeze": None, "part": None, "exclude": None, "multiply": 1,
    "method": "anhoej", "agg.fun": "mean", "cl": None, "target": None, "y.neg": True,
    "facets": None, "uses_n": False, "x_type": None, "qic.screenedmr": True, "r_call": None,
    "description": None, "case_id": None, "notes": None,
}  # fmt: skip

RTOL = 1e-9
ATOL = 1e-12
#: The T chart plots y round-tripped through y**(1/3.6) and back (README: compare y loosely).
T_Y_ATOL = 1e-6

SUMMARY_NAMES = {"aLCL": "lcl", "aLCL.95": "lcl_95", "CL": "cl", "aUCL.95": "ucl_95", "aUCL": "ucl"}


def read_input(case: Path, params: dict) -> pd.DataFrame:
    d = pd.read_csv(case / "input.csv", dtype={"facet": str, "facet2": str})
    if params.get("x_type") == "date":
        d["x"] = pd.to_datetime(d["x"])
    return d


def _facets(spec: str | None) -> list[str]:
    if not spec:
        return []
    left, _, right = spec.partition("~")
    return [s.strip() for s in (left, right) if s.strip()]


def run_case(case: Path, params: dict) -> spc.SPCResult:
    unknown = {k: v for k, v in params.items() if k not in KNOWN}
    if unknown:
        pytest.fail(f"{case.name}: options the checker does not understand: {unknown}")
    d = read_input(case, params)
    return spc.control_chart(
        d,
        x="x",
        y="y",
        n="n" if params.get("uses_n") else None,
        chart=params["chart"],
        facets=_facets(params.get("facets")) or None,
        freeze=params.get("freeze"),
        part=params.get("part"),
        exclude=params.get("exclude"),
        multiply=params.get("multiply", 1),
        cl=params.get("cl"),
        target=params.get("target"),
        agg_fun=params.get("agg.fun", "mean"),
        method=params.get("method", "anhoej"),
        screen_mr=params.get("qic.screenedmr", True),
        y_neg=params.get("y.neg", True),
    )


def compare_frames(name: str, got: pd.DataFrame, exp: pd.DataFrame, loose: dict | None = None):
    """Every column of ``exp`` must be in ``got`` and agree, row by row."""
    loose = loose or {}
    assert len(got) == len(exp), f"{name}: {len(got)} rows, expected {len(exp)}"
    problems = []
    for col in exp.columns:
        if col not in got.columns:
            problems.append(f"column {col!r} missing")
            continue
        e = exp[col]
        g = got[col]
        if e.dtype == bool or g.dtype == bool:
            ok = e.astype(bool).to_numpy() == g.astype(bool).to_numpy()
        elif pd.api.types.is_numeric_dtype(e):
            ev = e.to_numpy(dtype=float)
            gv = pd.to_numeric(g, errors="coerce").to_numpy(dtype=float)
            ok = np.isclose(gv, ev, rtol=RTOL, atol=loose.get(col, ATOL), equal_nan=True)
            ok &= np.isnan(gv) == np.isnan(ev)
        else:
            ok = e.astype(str).to_numpy() == g.astype(str).to_numpy()
        if not ok.all():
            bad = np.flatnonzero(~ok)[:5]
            pairs = ", ".join(f"row {i}: got {g.iloc[i]!r} expected {e.iloc[i]!r}" for i in bad)
            problems.append(f"{col}: {int((~ok).sum())} mismatches ({pairs})")
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def check_qic_case(case: Path, params: dict) -> None:
    result = run_case(case, params)
    facets = _facets(params.get("facets"))
    rename = {f"facet{i + 1}": f for i, f in enumerate(facets)}

    exp = pd.read_csv(case / "expected.csv", dtype={"facet1": str, "facet2": str})
    if params.get("x_type") == "date":
        exp["x"] = pd.to_datetime(exp["x"])
    exp = exp.rename(columns={**rename, **{c: c.replace(".", "_") for c in exp.columns if "." in c}})
    keys = [*facets, "x"]
    got = result.points.sort_values(keys, kind="stable").reset_index(drop=True)
    exp = exp.sort_values(keys, kind="stable").reset_index(drop=True)
    loose = {"y": T_Y_ATOL} if params["chart"] == "t" else {}
    compare_frames(f"{case.name} points", got, exp, loose)

    summ = pd.read_csv(case / "summary.csv", dtype={"facet1": str, "facet2": str})
    summ = summ.rename(
        columns={**rename, **SUMMARY_NAMES, **{c: c.replace(".", "_") for c in summ.columns if "." in c and c not in SUMMARY_NAMES}}
    )
    skeys = [*facets, "part"]
    gs = result.summary.sort_values(skeys, kind="stable").reset_index(drop=True)
    summ = summ.sort_values(skeys, kind="stable").reset_index(drop=True)
    compare_frames(f"{case.name} summary", gs, summ)
