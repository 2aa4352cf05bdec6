"""Check one qicharts2 reference case against ``qiwidgets.spc.control_chart``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qiwidgets import spc
from qiwidgets.errors import QIWarning

#: params.json keys this checker understands, with the qicharts2 default of each (the keys the
#: reference README defines, plus the descriptive ones). Anything else fails the case.
KNOWN = {
    "tool": None, "chart": "run", "freeze": None, "part": None, "exclude": None, "multiply": 1,
    "method": "anhoej", "agg.fun": "mean", "cl": None, "target": None, "y.neg": True,
    "facets": None, "uses_n": False, "x_type": None, "qic.screenedmr": True, "r_call": None,
    "description": None, "case_id": None, "notes": None,
}  # fmt: skip

#: How input.csv's x is read for each ``x_type``: ISO dates, whole numbers, numbers, or text
#: (labels: qicharts2 sorts them alphabetically and does no runs analysis on them).
X_TYPES = ("date", "integer", "numeric", "character")

#: qicharts2's columns (reference README, with "." written "_"): the engine must produce each
#: one a case's expected.csv / summary.csv holds.
QIC_POINTS = {
    "x", "part", "xx", "y", "cl", "lcl", "ucl", "sigma_signal", "runs_signal", "longest_run",
    "longest_run_max", "n_crossings", "n_crossings_min", "n_obs", "n_useful", "lcl_95",
    "ucl_95", "n", "y_sum", "y_length", "y_mean", "y_sd", "baseline", "include", "target",
}  # fmt: skip
QIC_SUMMARY = {
    "part", "n_obs", "n_useful", "longest_run", "longest_run_max", "n_crossings",
    "n_crossings_min", "runs_signal", "lcl", "lcl_95", "cl", "ucl_95", "ucl", "sigma_signal",
}  # fmt: skip

#: Columns the engine adds to qicharts2's output; the checker leaves out these, by name, and
#: nothing else (a column that is neither qicharts2's, a facet, nor listed here fails the case).
ENGINE_ONLY_POINTS = {"signal", "point_type", "shift", "trend"}
ENGINE_ONLY_SUMMARY = {
    "n_points", "variation_type", "variation_icon", "assurance_type", "assurance_icon", "shift",
    "trend",
}  # fmt: skip

RTOL = 1e-9
ATOL = 1e-12
#: The T chart plots y round-tripped through y**(1/3.6) and back (README: compare y loosely).
T_Y_ATOL = 1e-6

SUMMARY_NAMES = {"aLCL": "lcl", "aLCL.95": "lcl_95", "CL": "cl", "aUCL.95": "ucl_95", "aUCL": "ucl"}


def _x_type(params: dict) -> str | None:
    x_type = params.get("x_type")
    if x_type is not None and x_type not in X_TYPES:
        pytest.fail(f"x_type {x_type!r} is not one of {X_TYPES}")
    return x_type


def _read_x(frame: pd.DataFrame, x_type: str | None) -> pd.DataFrame:
    if x_type == "date":
        frame["x"] = pd.to_datetime(frame["x"], format="ISO8601")
    elif x_type == "numeric":
        frame["x"] = frame["x"].astype(float)
    return frame


def _x_dtype(x_type: str | None) -> dict:
    return {"x": str} if x_type == "character" else {}


def read_input(case: Path, params: dict) -> pd.DataFrame:
    x_type = _x_type(params)
    d = pd.read_csv(case / "input.csv", dtype={"facet": str, "facet2": str, **_x_dtype(x_type)})
    return _read_x(d, x_type)


def _facets(spec: str | None) -> list[str]:
    if not spec:
        return []
    left, _, right = spec.partition("~")
    return [s.strip() for s in (left, right) if s.strip()]


def _scalar(params: dict, key: str) -> float | None:
    value = params.get(key)
    if value is not None and not isinstance(value, (int, float)):
        pytest.fail(f"`{key}` {value!r}: only a single number is supported")
    return value


def run_case(case: Path, params: dict) -> spc.SPCResult:
    unknown = {k: v for k, v in params.items() if k not in KNOWN}
    if unknown:
        pytest.fail(f"{case.name}: options the checker does not understand: {unknown}")
    d = read_input(case, params)
    multiply = params.get("multiply", 1)
    cl = _scalar(params, "cl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QIWarning)  # e.g. aggregated rows, no usable points
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
            multiply=multiply,
            # qicharts2 takes `cl` in data units and multiplies it with the data; the engine
            # takes it in plotted units. `target` is in plotted units in both (never multiplied).
            cl=None if cl is None else cl * multiply,
            target=_scalar(params, "target"),
            agg_fun=params.get("agg.fun", "mean"),
            method=params.get("method", "anhoej"),
            screen_mr=params.get("qic.screenedmr", True),
            y_neg=params.get("y.neg", True),
        )


def compare_frames(
    name: str, got: pd.DataFrame, exp: pd.DataFrame, loose: dict | None = None,
    known: set | frozenset = frozenset(), engine_only: set | frozenset = frozenset(),
):  # fmt: skip
    """Every column of ``exp`` must be in ``got`` and agree, row by row; every column of ``got``
    must be expected, one of the package's own (``known``) or named in ``engine_only``."""
    loose = loose or {}
    assert len(got) == len(exp), f"{name}: {len(got)} rows, expected {len(exp)}"
    problems = []
    unaccounted = set(got.columns) - set(exp.columns) - set(known) - set(engine_only)
    if unaccounted:
        problems.append(
            f"engine columns neither expected nor listed as engine-only: {sorted(unaccounted)}"
        )
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

    x_type = _x_type(params)
    exp = pd.read_csv(
        case / "expected.csv", dtype={"facet1": str, "facet2": str, **_x_dtype(x_type)}
    )
    exp = _read_x(exp, x_type)
    exp = exp.rename(columns={**rename, **{c: c.replace(".", "_") for c in exp.columns if "." in c}})
    keys = [*facets, "x"]
    got = result.points.sort_values(keys, kind="stable").reset_index(drop=True)
    exp = exp.sort_values(keys, kind="stable").reset_index(drop=True)
    loose = {"y": T_Y_ATOL} if params["chart"] == "t" else {}
    compare_frames(
        f"{case.name} points", got, exp, loose, QIC_POINTS | set(facets), ENGINE_ONLY_POINTS
    )

    summ = pd.read_csv(case / "summary.csv", dtype={"facet1": str, "facet2": str})
    summ = summ.rename(
        columns={**rename, **SUMMARY_NAMES, **{c: c.replace(".", "_") for c in summ.columns if "." in c and c not in SUMMARY_NAMES}}
    )
    skeys = [*facets, "part"]
    gs = result.summary.sort_values(skeys, kind="stable").reset_index(drop=True)
    summ = summ.sort_values(skeys, kind="stable").reset_index(drop=True)
    compare_frames(f"{case.name} summary", gs, summ, None, QIC_SUMMARY | set(facets), ENGINE_ONLY_SUMMARY)
