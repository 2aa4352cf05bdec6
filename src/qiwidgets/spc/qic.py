"""Shewhart control charts and run charts with qicharts2 semantics (``control_chart``).

Every facet x part is computed on its own, all at once: the rows of all series are sorted into
segments and each statistic is a segmented numpy reduction (see :mod:`._segments`), so the same
call charts one series or 20,000.

Methods follow the published formulas: Montgomery, *Introduction to Statistical Quality
Control* (control chart constants, Xbar/S, P, U, C), Laney (2002) "Improved control charts for
attributes", Quality Engineering 14(4) (P' and U'), Kaminsky et al. (1992) and Benneyan (2001)
(G chart), Nelson (1994) (T chart), Anhøj & Olesen (2014) (runs analysis).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from qiwidgets.errors import QIWarning, SPCDataError, SPCOptionError
from qiwidgets.spc import _segments as seg
from qiwidgets.spc import runs as runs_mod
from qiwidgets.spc import validate as v
from qiwidgets.spc.constants import D2_MR, D4_MR, SIGMA_INNER, SIGMA_LIMIT, T_CHART_EXPONENT
from qiwidgets.spc.reading import control_chart_readings
from qiwidgets.spc.result import SPCResult, frame, once

#: Chart types and what they plot (qicharts2 0.8.1 `qic(chart = ...)`).
CHARTS = ("run", "i", "mr", "xbar", "s", "p", "pp", "c", "u", "up", "g", "t")
#: Charts that need a denominator ``n``.
NEEDS_N = ("p", "pp", "u", "up")
#: Charts whose plotted value is a count, proportion or rate and so cannot be negative.
COUNT_CHARTS = ("p", "pp", "u", "up", "c", "g")
AGG_FUNS = ("mean", "median", "sum", "sd")
METHODS = ("anhoej", "bestbox", "cutbox")
RULE_SETS = ("anhoej", "ihi")
RULE_SET_NAMES = {"anhoej": "Anhøj", "ihi": "IHI"}

POINT_COLUMNS = (
    "x", "part", "xx", "y", "cl", "lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal",
    "runs_signal", "longest_run", "longest_run_max", "n_crossings", "n_crossings_min", "n_obs",
    "n_useful", "n", "y_sum", "y_length", "y_mean", "y_sd", "baseline", "include", "target",
)  # fmt: skip


def control_chart(
    data: pd.DataFrame,
    x: str,
    y: str,
    n: str | None = None,
    chart: str = "run",
    facets: str | list[str] | None = None,
    *,
    freeze: int | None = None,
    part: int | list[int] | str | None = None,
    exclude: int | list[int] | None = None,
    multiply: float = 1,
    cl: float | None = None,
    target: float | None = None,
    agg_fun: str = "mean",
    method: str = "anhoej",
    rule_set: str = "anhoej",
    screen_mr: bool = True,
    y_neg: bool = True,
    label: str | None = None,
    improvement: str | None = None,
) -> SPCResult:
    """Compute a run chart or a Shewhart control chart, qicharts2-style.

    Parameters
    ----------
    data:
        A tidy DataFrame: one row per observation (several rows per ``x`` form a subgroup).
    x, y, n:
        Column names: the time axis (dates or numbers), the value or numerator, and the
        denominator (for ``p``, ``pp``, ``u``, ``up``; optional for ``i`` and ``run``, where
        ``y/n`` is plotted).
    chart:
        ``run``, ``i``, ``mr``, ``xbar``, ``s``, ``p``, ``pp`` (Laney P'), ``c``, ``u``,
        ``up`` (Laney U'), ``g`` or ``t``.
    facets:
        One or two columns; every facet x part is computed on its own.
    freeze:
        Baseline: limits from the first ``freeze`` points of each facet (ignored with ``part``,
        as in qicharts2).
    part:
        Positions after which a new part (phase) starts, or the name of a column holding a
        phase label per row (a new part wherever the label changes).
    exclude:
        Positions left out of the centre line and limits, still plotted and tested.
    multiply:
        Multiplier applied to y, centre line and limits after all calculations (e.g. 100 for
        per cent, 1000 for per 1,000 bed days).
    cl:
        A user-fixed centre line, in plotted units (after ``multiply``).
    target:
        A target value, in plotted units; carried in the ``target`` column.
    agg_fun:
        How several rows per ``x`` are combined when there is no ``n``: ``mean``, ``median``,
        ``sum`` or ``sd``.
    method:
        Runs analysis: ``anhoej`` (default), ``bestbox`` or ``cutbox`` (experimental in
        qicharts2).
    rule_set:
        ``anhoej`` (default) or ``ihi`` (IHI run-chart rules: shift of 6, trend of 5; adds the
        per-point columns ``shift`` and ``trend``).
    screen_mr:
        Screen moving ranges >= 3.267 x their mean before estimating sigma for I, P', U' and T
        charts (Nelson 1982; qicharts2's default when attached). Switch off with ``False``.
    y_neg:
        ``False`` floors the lower limit at zero for every chart.
    label:
        The measure's name, used in the plain-language reading.
    improvement:
        ``increase``, ``decrease`` or ``neutral``: lets the reading say whether a signal is
        an improvement or a concern. Does not change any statistic.

    Returns
    -------
    SPCResult
        ``points`` (one row per subgroup; columns ``x``, the facet columns, ``part``, ``xx``
        (1-based position within the facet), ``y``, ``cl``, ``lcl``, ``ucl``, ``lcl_95``,
        ``ucl_95``, ``sigma_signal``, ``runs_signal``, ``longest_run``, ``longest_run_max``,
        ``n_crossings``, ``n_crossings_min``, ``n_obs``, ``n_useful``, ``n``, ``y_sum``,
        ``y_length``, ``y_mean``, ``y_sd``, ``baseline``, ``include``, ``target``, and
        ``signal``), ``summary`` (one row per facet x part) and ``readings``.

    Examples
    --------
    >>> import pandas as pd
    >>> from qiwidgets import spc
    >>> d = pd.DataFrame({"month": range(1, 21), "falls": [5, 7, 6, 4, 8, 6, 5, 7, 6, 5,
    ...                                                  3, 2, 3, 2, 1, 2, 3, 2, 2, 1]})
    >>> r = spc.control_chart(d, x="month", y="falls", chart="c")
    >>> bool(r.summary["runs_signal"].iloc[0])
    True
    """
    # ---- stage 1: options on their own ----------------------------------------------------
    chart = v.one_of("chart", chart, CHARTS)
    agg_fun = v.one_of("agg_fun", agg_fun, AGG_FUNS)
    method = v.one_of("method", method, METHODS)
    rule_set = v.one_of("rule_set", rule_set, RULE_SETS)
    if improvement is not None:
        improvement = v.one_of("improvement", improvement, ("increase", "decrease", "neutral"))
    facet_cols = v.column_names("facets", facets, max_count=2)
    freeze = v.optional_int("freeze", freeze)
    exclude_pos = v.positions("exclude", exclude)
    part_col = part if isinstance(part, str) else None
    part_pos = () if part_col else v.positions("part", part)
    multiply = v.optional_number("multiply", multiply, positive=True)
    cl_user = v.optional_number("cl", cl)
    target = v.optional_number("target", target)
    if not isinstance(screen_mr, (bool, np.bool_)):
        raise SPCOptionError(f"`screen_mr` must be True or False, got {screen_mr!r}.")
    if not isinstance(y_neg, (bool, np.bool_)):
        raise SPCOptionError(f"`y_neg` must be True or False, got {y_neg!r}.")
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, str) or not value:
            raise SPCOptionError(f"`{name}` must be a column name, got {value!r}.")
    if n is not None and not isinstance(n, str):
        raise SPCOptionError(f"`n` must be a column name or None, got {n!r}.")
    if chart in NEEDS_N and n is None:
        raise SPCOptionError(f"`n` (the denominator column) is required for chart {chart!r}.")
    if rule_set == "ihi" and chart != "run":
        raise SPCOptionError(
            f"`rule_set` 'ihi' applies to run charts only, got chart {chart!r}; "
            "use rule_set='anhoej' for control charts."
        )

    # ---- stage 2: options against the data ------------------------------------------------
    data = v.require_frame(data)
    v.require_columns(data, x=x, y=y, n=n, facets=facet_cols, part=part_col)
    yv = v.numeric_column(data, y, "y")
    nv = v.numeric_column(data, n, "n") if n is not None else None
    _check_values(data, chart, yv, nv, y, n)

    pts = _subgroups(data, x, yv, nv, facet_cols, part_col, chart, agg_fun)
    _assign_parts(pts, part_col, part_pos, freeze, exclude_pos)
    cl_fixed = None if cl_user is None else cl_user / multiply
    _compute_limits(pts, chart, screen_mr, cl_fixed)
    if not y_neg:
        for col in ("lcl", "lcl_95"):
            pts[col] = np.where(pts[col] < 0, 0.0, pts[col])
    _runs(pts, chart, method, rule_set)

    # ---- finish: signals, multiply, tidy columns ----------------------------------------------
    with np.errstate(invalid="ignore"):
        pts["sigma_signal"] = (pts["y"] > pts["ucl"]) | (pts["y"] < pts["lcl"])  # NaN -> False
    if multiply != 1:
        for col in ("y", "cl", "lcl", "ucl", "lcl_95", "ucl_95"):
            pts[col] = pts[col] * multiply
    pts["target"] = np.full(len(pts["y"]), np.nan if target is None else target)
    if rule_set == "ihi":
        pts["signal"] = pts["shift"] | pts["trend"] | pts["sigma_signal"]
    else:
        pts["signal"] = pts["sigma_signal"] | pts["runs_signal"]

    extra = [c for c in ("shift", "trend") if c in pts]
    columns = ["x", *facet_cols, *POINT_COLUMNS[1:], *extra, "signal"]
    points = once(lambda: frame({c: pts[c] for c in columns}))
    summary = once(lambda: _summary(pts, facet_cols))
    options = {
        "x": x, "y": y, "n": n, "chart": chart, "facets": facet_cols, "freeze": freeze,
        "part": part_col or list(part_pos) or None, "exclude": list(exclude_pos) or None,
        "multiply": multiply, "cl": cl_user, "target": target, "agg_fun": agg_fun,
        "method": method, "rule_set": rule_set, "screen_mr": bool(screen_mr),
        "y_neg": bool(y_neg), "label": label, "improvement": improvement,
    }  # fmt: skip
    result_warnings: list[str] = []
    if (pts["n_useful"] == 0).any():
        result_warnings.append(
            "Some series have no usable points (all missing or all on the centre line): "
            "there is nothing to analyse there."
        )
    for msg in result_warnings:
        warnings.warn(msg, QIWarning, stacklevel=2)
    return SPCResult(
        points=points,
        summary=summary,
        readings=control_chart_readings(points, summary, facet_cols, options),
        chart=chart,
        rule_set=RULE_SET_NAMES[rule_set],
        facets=facet_cols,
        options=options,
        warnings=tuple(result_warnings),
    )


# ---------------------------------------------------------------------------------------------
# stage 2 checks


def _check_values(data, chart, yv, nv, y, n) -> None:
    finite_y = np.isfinite(yv) | np.isnan(yv)
    v.fail_rows(~finite_y, data, f"`y` column {y!r} must hold finite numbers", yv)
    if chart in COUNT_CHARTS:
        v.fail_rows(
            yv < 0, data, f"`y` column {y!r} holds negative counts, not allowed for a {chart} chart", yv
        )
    if chart == "t":
        v.fail_rows(
            yv <= 0,
            data,
            f"`y` column {y!r} must be greater than zero for a T chart (time between events)",
            yv,
        )
    if nv is not None:
        v.fail_rows(~(np.isfinite(nv) | np.isnan(nv)), data, f"`n` column {n!r} must hold finite numbers", nv)
        v.fail_rows(nv < 0, data, f"`n` column {n!r} holds negative denominators", nv)
        if chart in ("p", "pp"):
            v.fail_rows(
                yv > nv,
                data,
                f"`y` column {y!r} is larger than the denominator `n` ({n!r}) — a proportion "
                "cannot exceed 1",
                yv,
            )
        v.fail_rows(
            (nv == 0) & (yv > 0),
            data,
            f"`n` column {n!r} is zero where `y` ({y!r}) is not — a rate with no denominator",
            nv,
        )


# ---------------------------------------------------------------------------------------------
# aggregation into subgroups


def _sort_key(values: pd.Series, array: np.ndarray) -> np.ndarray:
    """A numeric key that sorts like ``values`` (dates, numbers, or text in sorted order);
    ``array`` is ``values`` as a numpy array."""
    kind = array.dtype.kind
    if kind == "M":  # numpy datetime64 (checked first: the common case, and the cheapest)
        return array.view("i8")
    if pd.api.types.is_datetime64_any_dtype(values):  # with a time zone
        return values.array.asi8
    if kind in "iuf":
        return array.astype(float, copy=False)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float)
    codes, _ = pd.factorize(values, sort=True)
    return codes


def _subgroups(data, x, yv, nv, facet_cols, part_col, chart, agg_fun) -> dict:
    """Sort rows by facet and ``x`` and combine the rows of each subgroup (facet x ``x``).

    Returns a dict of numpy arrays, one entry per subgroup: x, the facet columns (as
    categoricals), y (the plotted value), n, y_sum, y_length, y_mean, y_sd, the facet code
    ``f`` and, with a phase column, ``part_label``.
    """
    nrow = len(data)
    xs = data[x]
    # .values is a plain numpy array for numpy dtypes (and ~6x cheaper than .to_numpy() for
    # dates); other dtypes (time zones, text) go through .to_numpy()
    xvals = xs.values if isinstance(xs.dtype, np.dtype) else xs.to_numpy()
    x_missing = np.isnat(xvals) if xvals.dtype.kind == "M" else pd.isna(xvals)
    if x_missing.any():
        v.fail_rows(x_missing, data, f"`x` column {x!r} has missing values", xvals)
    fcode = np.zeros(nrow, dtype=np.int64)
    facet_codes = []
    for col in facet_cols:
        codes, uniques = pd.factorize(data[col])
        if (codes < 0).any():
            v.fail_rows(codes < 0, data, f"`facets` column {col!r} has missing values", data[col].to_numpy())
        facet_codes.append((codes, uniques))
        fcode = fcode * max(len(uniques), 1) + codes
    xkey = _sort_key(xs, xvals)
    if nrow > 1 and not (
        np.all(fcode[1:] >= fcode[:-1]) and np.all((xkey[1:] >= xkey[:-1]) | (fcode[1:] != fcode[:-1]))
    ):
        order = np.lexsort((xkey, fcode))
    else:
        order = None

    def sort(a):
        return a if order is None else a[order]

    fcode, xkey = sort(fcode), sort(xkey)
    yy = sort(yv).astype(float, copy=True)
    nn = None
    if nv is not None:
        nn = sort(nv).astype(float, copy=True)
        blank = np.isnan(yy) | np.isnan(nn)  # qicharts2: complete.cases(y, n)
        yy[blank] = np.nan
        nn[blank] = np.nan
    new = np.ones(nrow, dtype=bool)
    if nrow > 1:
        new[1:] = (fcode[1:] != fcode[:-1]) | (xkey[1:] != xkey[:-1])
    first = np.flatnonzero(new)
    present = ~np.isnan(yy)
    out: dict = {"f": fcode[first]}
    out["x"] = sort(xvals)[first]
    for col, (codes, uniques) in zip(facet_cols, facet_codes):
        out[col] = pd.Categorical.from_codes(sort(codes)[first], uniques)
    if part_col:
        labels = sort(data[part_col].to_numpy())
        if len(first) < nrow:
            sg = np.cumsum(new) - 1
            lab_first = labels[first][sg]
            mixed = ~((labels == lab_first) | (pd.isna(labels) & pd.isna(lab_first)))
            if mixed.any():
                raise SPCDataError(
                    f"`part` column {part_col!r} must hold one phase label per `x` value; "
                    f"the rows for {format(out['x'][sg[np.flatnonzero(mixed)[0]]])} mix labels."
                )
        out["part_label"] = labels[first]
    if len(first) == nrow:  # one row per subgroup: nothing to combine (the fast path)
        y_length = present.astype(np.int64)
        y_sum = yy
        y_mean = yy
        y_sd = np.full(nrow, np.nan)
        n_sum = nn if nn is not None else np.full(nrow, np.nan)
        agg_value = yy
    else:
        y_length = np.add.reduceat(present.astype(np.int64), first)
        y0 = np.where(present, yy, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            y_sum = np.where(y_length > 0, np.add.reduceat(y0, first), np.nan)
            m = y_sum / y_length
            counts = np.diff(np.append(first, nrow))
            resid = np.where(present, yy - np.repeat(m, counts), 0.0)
            y_mean = m + np.add.reduceat(resid, first) / y_length  # R's refined mean
            dev = np.where(present, yy - np.repeat(y_mean, counts), 0.0)
            y_sd = np.where(y_length > 1, np.sqrt(np.add.reduceat(dev * dev, first) / (y_length - 1)), np.nan)
        if nn is not None:
            n_present = np.add.reduceat((~np.isnan(nn)).astype(np.int64), first)
            n_sum = np.where(n_present > 0, np.add.reduceat(np.nan_to_num(nn), first), np.nan)
        else:
            n_sum = np.full(len(first), np.nan)
        if agg_fun == "median":
            sg = np.repeat(np.arange(len(first)), counts)
            yo = yy[np.lexsort((yy, sg))]  # NaNs sort last within each subgroup
            lo = first + np.maximum(y_length - 1, 0) // 2
            hi = first + y_length // 2
            agg_value = np.where(y_length > 0, (yo[lo] + yo[np.minimum(hi, nrow - 1)]) / 2.0, np.nan)
            agg_value = np.where(y_length == 1, yo[first], agg_value)
        else:
            agg_value = {"mean": y_mean, "sum": y_sum, "sd": y_sd}[agg_fun]
    if nn is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            yplot = y_sum / n_sum
    elif chart == "c":
        yplot = y_sum
    elif chart == "xbar":
        yplot = y_mean
    elif chart == "s":
        yplot = y_sd
    else:
        yplot = agg_value
    out.update(
        y=np.asarray(yplot, dtype=float), n=n_sum, y_sum=y_sum, y_length=y_length,
        y_mean=y_mean, y_sd=y_sd,
    )  # fmt: skip
    return out


def _assign_parts(pts: dict, part_col, part_pos, freeze, exclude_pos) -> None:
    """Add positions ``xx``, ``part``, ``baseline``, ``include`` and the segment code ``g``."""
    fcode = pts["f"]
    nrow = len(fcode)
    fstart = seg.starts(fcode)
    first_idx = np.maximum.accumulate(np.where(fstart, np.arange(nrow), 0)) if nrow else fcode
    xx = np.arange(nrow) - first_idx + 1
    if part_col:
        labels = pts.pop("part_label")
        change = fstart.copy()
        if nrow > 1:
            same = (labels[1:] == labels[:-1]) | (pd.isna(labels[1:]) & pd.isna(labels[:-1]))
            change[1:] |= ~same
        cum = np.cumsum(change)
        part = cum - cum[first_idx] + 1
    elif part_pos:
        part = np.searchsorted(np.asarray(part_pos), xx, side="left") + 1
    else:
        part = np.ones(nrow, dtype=np.int64)
    if freeze is not None and not (part_col or part_pos):
        baseline = xx <= freeze
    else:
        baseline = np.ones(nrow, dtype=bool)
    if exclude_pos:
        include = ~np.isin(xx, np.asarray(exclude_pos, dtype=np.int64))
    else:
        include = np.ones(nrow, dtype=bool)
    newg = fstart.copy()
    if nrow > 1:
        newg[1:] |= part[1:] != part[:-1]
    g = np.cumsum(newg) - 1
    pts.update(
        xx=xx.astype(np.int64), part=part.astype(np.int64), baseline=baseline, include=include,
        g=g, n_groups=int(g[-1] + 1) if nrow else 0,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# centre lines and limits


def _c4(n: np.ndarray) -> np.ndarray:
    """c4(n) = sqrt(2/(n-1)) * Gamma(n/2) / Gamma((n-1)/2), exactly (Montgomery App. VI)."""
    from scipy.special import gammaln  # here: importing scipy.special costs ~0.3 s per kernel

    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(2.0 / (n - 1)) * np.exp(gammaln(n / 2) - gammaln((n - 1) / 2))
    return np.where(n > 1, out, np.nan)


def _moving_range_mean(values, g, n_groups, mask, screen) -> np.ndarray:
    """Mean moving range per segment over the rows in ``mask`` (an MR bridges rows outside the
    mask but not missing values); with ``screen``, MRs >= D4 x mean are dropped once."""
    idx = np.flatnonzero(mask)
    out = np.full(n_groups, np.nan)
    if idx.size < 2:
        return out
    vals = values[idx]
    gv = g[idx]
    mr = np.abs(np.diff(vals))
    gm = gv[1:]
    ok = (gv[1:] == gv[:-1]) & np.isfinite(mr)
    if not ok.any():
        return out
    out = seg.seg_mean(mr, gm, n_groups, ok)
    if screen:
        with np.errstate(invalid="ignore"):
            ok = ok & (mr < D4_MR * out[gm])
        out = seg.seg_mean(mr, gm, n_groups, ok)
    return out


def _compute_limits(pts: dict, chart: str, screen_mr: bool, cl_fixed: float | None) -> None:
    g, k = pts["g"], pts["n_groups"]
    y = pts["y"].astype(float)
    n = pts["n"].astype(float)
    base_inc = pts["baseline"] & pts["include"]
    use = base_inc & np.isfinite(y)
    if chart in NEEDS_N:
        use &= np.isfinite(n) & (n > 0)

    def centre(values, mask):
        if cl_fixed is not None:
            return np.full(k, cl_fixed)
        return seg.seg_mean(values, g, k, mask)

    sigma = None  # per-row sigma: limits are cl +/- SIGMA_LIMIT * sigma
    floor_zero = chart in ("u", "up", "c", "g")
    clamp_one = chart in ("p", "pp")

    if chart == "run":
        clg = np.full(k, cl_fixed) if cl_fixed is not None else seg.seg_median(y, g, k, use)
        cl = clg[g]
        lcl = ucl = lcl95 = ucl95 = np.full(len(y), np.nan)
        pts.update(cl=cl, lcl=lcl, ucl=ucl, lcl_95=lcl95, ucl_95=ucl95)
        return
    if chart in ("i", "t"):
        yy = y ** (1.0 / T_CHART_EXPONENT) if chart == "t" else y
        if chart == "t" and cl_fixed is not None:
            clg = np.full(k, cl_fixed ** (1.0 / T_CHART_EXPONENT))
        else:
            clg = centre(yy, use)
        mr = _moving_range_mean(yy, g, k, base_inc, screen_mr)
        sigma = (mr / D2_MR)[g]
        cl = clg[g]
        if chart == "t":
            lims = {}
            for name, mult in (("lcl", -SIGMA_LIMIT), ("ucl", SIGMA_LIMIT),
                               ("lcl_95", -SIGMA_INNER), ("ucl_95", SIGMA_INNER)):  # fmt: skip
                with np.errstate(invalid="ignore"):
                    lim = (cl + mult * sigma) ** T_CHART_EXPONENT
                if mult < 0:
                    lim = np.where(np.isnan(lim) & np.isfinite(sigma), 0.0, lim)
                lims[name] = lim
            pts.update(cl=cl**T_CHART_EXPONENT, y=yy**T_CHART_EXPONENT, **lims)
            return
    elif chart == "mr":
        prev = seg.prev_in_segment(y, g)
        mrv = np.abs(y - prev)
        pts["y"] = mrv
        mr_use = base_inc & np.isfinite(mrv)
        clg = centre(mrv, mr_use)
        cl = clg[g]
        ucl = D4_MR * cl
        ucl95 = SIGMA_INNER / SIGMA_LIMIT * ucl
        zeros = np.zeros(len(y))
        pts.update(cl=cl, lcl=zeros, ucl=ucl, lcl_95=zeros.copy(), ucl_95=ucl95)
        return
    elif chart in ("xbar", "s"):
        size = pts["y_length"].astype(float)
        means = pts["y_mean"].astype(float)
        sds = pts["y_sd"].astype(float)
        use_s = base_inc & np.isfinite(sds) & (size > 1)
        # s-bar: mean of SDs with equal subgroup sizes, otherwise the pooled SD
        sz_min = np.full(k, np.inf)
        sz_max = np.full(k, -np.inf)
        np.minimum.at(sz_min, g[use_s], size[use_s])
        np.maximum.at(sz_max, g[use_s], size[use_s])
        equal = sz_min == sz_max
        sbar_eq = seg.seg_mean(sds, g, k, use_s)
        w = np.where(use_s, size - 1, 0.0)
        num = np.bincount(g, weights=np.where(use_s, w * sds**2, 0.0), minlength=k)
        den = np.bincount(g, weights=w, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            sbar_pool = np.sqrt(num / den)
        sbar = np.where(equal, sbar_eq, sbar_pool)
        c4 = _c4(size)
        if chart == "xbar":
            use_m = base_inc & np.isfinite(means) & (size > 0)
            wsum = np.bincount(g, weights=np.where(use_m, size * np.nan_to_num(means), 0.0), minlength=k)
            nsum = np.bincount(g, weights=np.where(use_m, size, 0.0), minlength=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                clg = np.full(k, cl_fixed) if cl_fixed is not None else wsum / nsum
            cl = clg[g]
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma = sbar[g] / (c4 * np.sqrt(size))
        else:
            clg = np.full(k, cl_fixed) if cl_fixed is not None else sbar
            cl = clg[g]
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma = cl * np.sqrt(1 - c4**2) / c4
            floor_zero = True
    elif chart in ("p", "pp", "u", "up"):
        ysum = pts["y_sum"].astype(float)
        # rows in ``use`` have finite y and n > 0, hence a finite y_sum: nothing to clean
        tot_y = seg.seg_sum(ysum, g, k, use)
        tot_n = seg.seg_sum(n, g, k, use)
        with np.errstate(invalid="ignore", divide="ignore"):
            clg = np.full(k, cl_fixed) if cl_fixed is not None else tot_y / tot_n
        cl = clg[g]
        with np.errstate(invalid="ignore", divide="ignore"):
            if chart in ("p", "pp"):
                sigma = np.sqrt(cl * (1 - cl) / n)
            else:
                sigma = np.sqrt(cl / n)
        if chart in ("pp", "up"):
            with np.errstate(invalid="ignore", divide="ignore"):
                z = (y - cl) / sigma
            zmr = _moving_range_mean(z, g, k, base_inc & np.isfinite(n) & (n > 0), screen_mr)
            sigma = sigma * (zmr / D2_MR)[g]
    elif chart == "c":
        ysum = y
        clg = centre(ysum, use)
        cl = clg[g]
        sigma = np.sqrt(cl)
    elif chart == "g":
        mean_g = seg.seg_mean(y, g, k, use)
        med = np.full(k, cl_fixed) if cl_fixed is not None else seg.seg_median(y, g, k, use)
        m = mean_g[g]
        sd = np.sqrt(m * (m + 1))
        lims = {
            "lcl": m - SIGMA_LIMIT * sd,
            "ucl": m + SIGMA_LIMIT * sd,
            "lcl_95": m - SIGMA_INNER * sd,
            "ucl_95": m + SIGMA_INNER * sd,
        }
        for name in ("lcl", "lcl_95"):
            lims[name] = np.where(lims[name] < 0, 0.0, lims[name])
        pts.update(cl=med[g], **lims)
        return
    else:  # pragma: no cover - guarded by stage 1
        raise SPCOptionError(f"unknown chart {chart!r}")

    with np.errstate(invalid="ignore"):
        lcl = cl - SIGMA_LIMIT * sigma
        ucl = cl + SIGMA_LIMIT * sigma
        lcl95 = cl - SIGMA_INNER * sigma
        ucl95 = cl + SIGMA_INNER * sigma
    if floor_zero:
        lcl = np.where(lcl < 0, 0.0, lcl)
        lcl95 = np.where(lcl95 < 0, 0.0, lcl95)
    lims = {"lcl": lcl, "ucl": ucl, "lcl_95": lcl95, "ucl_95": ucl95}
    for name, arr in lims.items():
        arr = np.where(np.isfinite(arr), arr, np.nan)  # e.g. n = 0: no limits
        pts[name] = np.minimum(np.maximum(arr, 0.0), 1.0) if clamp_one else arr  # NaN stays
    pts["cl"] = cl


# ---------------------------------------------------------------------------------------------
# runs analysis and summary


def _runs(pts: dict, chart: str, method: str, rule_set: str) -> None:
    g, k = pts["g"], pts["n_groups"]
    stats = runs_mod.anhoej(pts["y"], pts["cl"], g, k, pts["include"])
    signal = stats["runs_signal"]
    if method != "anhoej":
        from qiwidgets.spc.boxrules import box_signal

        signal = box_signal(method, stats["n_useful"], stats["longest_run"], stats["n_crossings"])
    if chart == "mr":  # qicharts2 computes the statistics but never signals on an MR chart
        signal = np.zeros(k, dtype=bool)
    stats["runs_signal"] = signal
    for name in ("n_obs", "n_useful", "longest_run", "n_crossings"):  # counts, never missing
        stats[name] = stats[name].astype(np.int64)
    for name, arr in stats.items():
        pts[name] = arr[g]
    if rule_set == "ihi":
        ihi = runs_mod.ihi(pts["y"], pts["cl"], g, pts["include"])
        pts["shift"] = ihi["shift"]
        pts["trend"] = ihi["trend"]
        pts["runs_signal"] = ihi["shift"] | ihi["trend"]


def _summary(pts: dict, facet_cols: tuple[str, ...]) -> pd.DataFrame:
    """One row per facet x part: runs statistics, mean limits (qicharts2's a* columns, NaN where
    all are missing) and the count of points outside the limits."""
    g, k = pts["g"], pts["n_groups"]
    first = np.flatnonzero(seg.starts(g))
    out = {c: pts[c][first] for c in facet_cols}
    out["part"] = pts["part"][first]
    for c in ("n_obs", "n_useful", "longest_run", "longest_run_max", "n_crossings", "n_crossings_min"):
        out[c] = pts[c][first]
    out["runs_signal"] = pts["runs_signal"][first].astype(np.int64)
    for c in ("lcl", "lcl_95", "cl", "ucl_95", "ucl"):
        vals = pts[c]
        out[c] = seg.seg_mean(vals, g, k, np.isfinite(vals))
    out["sigma_signal"] = np.bincount(g, weights=pts["sigma_signal"], minlength=k).astype(np.int64)
    out["n_points"] = np.bincount(g, minlength=k).astype(np.int64)
    if "shift" in pts:
        out["shift"] = np.bincount(g, weights=pts["shift"], minlength=k) > 0
        out["trend"] = np.bincount(g, weights=pts["trend"], minlength=k) > 0
    return frame(out)
