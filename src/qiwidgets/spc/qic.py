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
from qiwidgets.spc import classify
from qiwidgets.spc import runs as runs_mod
from qiwidgets.spc import validate as v
from qiwidgets.spc.constants import (
    D2_MR,
    D4_MR,
    G_CL_MEDIAN_FACTOR,
    SIGMA_INNER,
    SIGMA_LIMIT,
    T_CHART_EXPONENT,
)
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

#: Columns the engine adds to ``points`` beyond qicharts2's (after ``shift``/``trend``, which
#: only the IHI rule set has): the combined signal and the point's classification.
EXTRA_POINT_COLUMNS = ("signal", "point_type")

#: Columns the engine adds to ``summary`` beyond qicharts2's ``summary()``.
EXTRA_SUMMARY_COLUMNS = (
    "n_points", "variation_type", "variation_icon", "assurance_type", "assurance_icon",
)  # fmt: skip

#: x values like these are dates written as text (checked only to warn: text stays text).
_DATE_LIKE_TEXT = r"^\s*(\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})\s*$"


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
    agg_fun: str | None = None,
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
        ``y/n`` is plotted). An ``x`` of text (or a categorical, or True/False) holds labels,
        as in qicharts2: they are sorted alphabetically (by character code; a categorical in
        the order of its categories), there is no runs analysis (``runs_signal`` is always
        False, and no IHI shift or trend), and P' / U' charts take the standard deviation of
        the z-scores instead of their moving range. Text is never read as dates: dates written
        as text are sorted as text (``'01/02/2024'`` before ``'2024-01-01'``), with a warning;
        convert them with ``pandas.to_datetime``. A blank ``y`` or ``n`` cell (``''``) is a
        missing value.
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
        A given centre line, in **plotted units** (after ``multiply``: 20 for 20 % on a P chart
        with ``multiply=100``). qicharts2's ``cl`` is in data units (0.2 there) and is
        multiplied with the data: pass ``cl * multiply`` to reproduce a qicharts2 call. As in
        qicharts2, a G chart builds its limits from ``cl`` taken as the mean and plots
        0.693 x ``cl`` as its centre line, and a T chart uses ``cl`` on the transformed scale
        (``y ** (1/3.6)``, times ``multiply``) as it is.
    target:
        A target value, in **plotted units**, as in qicharts2 (never multiplied); carried in
        the ``target`` column and held against the limits for ``assurance_type``.
    agg_fun:
        How several rows per ``x`` are combined when there is no ``n``: ``mean`` (the default),
        ``median``, ``sum`` or ``sd`` (as qicharts2, with missing values left out: the sum of
        no values is 0). On a run or I chart, rows sharing an ``x`` are averaged with a warning
        (they are usually duplicates) unless ``agg_fun`` is given.
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
        ``False`` floors the lower limits (``lcl``, ``lcl_95``) at zero, as qicharts2 does:
        only when no plotted value in any facet is negative, and after the points outside the
        limits are found.
    label:
        The measure's name, used in the plain-language reading.
    improvement:
        ``increase``, ``decrease`` or ``neutral``: says whether a signal is an improvement or
        a concern (``point_type``, ``variation_type``) and how to judge the target
        (``assurance_type``). Does not change any other statistic.

    Returns
    -------
    SPCResult
        ``points`` (one row per subgroup; columns ``x``, the facet columns, ``part``, ``xx``
        (1-based position within the facet), ``y``, ``cl``, ``lcl``, ``ucl``, ``lcl_95``,
        ``ucl_95``, ``sigma_signal``, ``runs_signal``, ``longest_run``, ``longest_run_max``,
        ``n_crossings``, ``n_crossings_min``, ``n_obs``, ``n_useful``, ``n``, ``y_sum``,
        ``y_length``, ``y_mean``, ``y_sd``, ``baseline``, ``include``, ``target`` (the
        qicharts2 columns; ``longest_run`` and ``n_crossings`` are NaN when a part has no useful
        point), then ``shift`` and ``trend`` with ``rule_set="ihi"``, ``signal`` (sigma signal or
        runs signal / shift / trend) and ``point_type``: ``common_cause``,
        ``special_cause_improvement``, ``special_cause_concern``,
        ``special_cause_neutral_high`` or ``special_cause_neutral_low``, see below).

        ``summary``: one row per facet x part with qicharts2's summary columns (``part``,
        ``n_obs``, ``n_useful``, ``longest_run``, ``longest_run_max``, ``n_crossings``,
        ``n_crossings_min``, ``runs_signal`` 0/1, ``lcl``, ``lcl_95``, ``cl``, ``ucl_95``,
        ``ucl`` as means over the part, ``sigma_signal`` as a count), ``n_points``, ``shift``
        and ``trend`` (IHI), and the verdict: ``variation_type`` (the point type of the part's
        latest point: ``common_cause``, ``special_cause_improvement``,
        ``special_cause_concern`` or ``special_cause_neutral``), ``variation_icon`` (Making
        Data Count icon name), ``assurance_type`` (``consistent_pass``, ``consistent_fail``,
        ``inconsistent``; missing without a target, a direction or finite limits) and
        ``assurance_icon`` (``pass``, ``fail``, ``hit_and_miss``). ``readings``: one sentence
        per facet. ``latest()`` / ``verdicts()``: the verdict at each facet's latest point.

        A point is special cause when it is outside the 3-sigma limits; with the Anhøj rules,
        also when its part has a runs signal and the point takes part in the runs analysis
        (included, not missing, not exactly on the centre line: such a point stays common
        cause unless it is outside the limits); with the IHI rules, when it is part of a shift
        or a trend. Its direction: above or below the limits, its side of the centre line for a
        run or a shift, the way a trend goes (in that order). Assurance holds the target
        against the limits at the part's latest point that has limits (NHSRplotthedots' rule:
        higher is better and target < lcl: ``consistent_pass``; target > ucl:
        ``consistent_fail``; the reverse when lower is better; otherwise ``inconsistent``).

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
    if agg_fun is not None:
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
    result_warnings: list[str] = []

    text_x = _x_is_text(data[x])
    if text_x and _looks_like_dates(data[x]):
        result_warnings.append(
            f"`x` column {x!r} holds dates written as text: they are treated as labels, as in "
            "qicharts2 (sorted as text, so '01/02/2024' comes before '2024-01-01', and no runs "
            "analysis). Convert the column with pandas.to_datetime to chart it over time."
        )
    pts = _subgroups(data, x, yv, nv, facet_cols, part_col, chart, agg_fun or "mean")
    if agg_fun is None and nv is None and chart in ("run", "i") and len(pts["y"]) < len(data):
        result_warnings.append(
            f"{len(data) - len(pts['y'])} row(s) share an `x` value with another row of the same "
            "series and were averaged into one point (as qicharts2 does). If these are "
            "duplicate rows, remove them; to combine rows on purpose, pass `agg_fun`."
        )
    agg_fun = agg_fun or "mean"
    _assign_parts(pts, part_col, part_pos, freeze, exclude_pos)
    cl_fixed = None if cl_user is None else cl_user / multiply
    _compute_limits(pts, chart, screen_mr, cl_fixed, text_x)
    if text_x and chart in ("pp", "up") and len(pts["y"]) > 1 and np.isnan(pts["ucl"]).all():
        result_warnings.append(
            f"No limits on this {'P′' if chart == 'pp' else 'U′'} chart: with labels for `x` the spread of the "
            "z-scores is their standard deviation, which a label without data (n = 0 or "
            "missing) leaves undefined, as in qicharts2. Leave such labels out of `data`."
        )
    _runs(pts, chart, method, rule_set, text_x)

    # ---- finish: multiply, signals, y_neg, classification -------------------------------------
    if multiply != 1:
        for col in ("y", "cl", "lcl", "ucl", "lcl_95", "ucl_95"):
            pts[col] = pts[col] * multiply
    with np.errstate(invalid="ignore"):
        pts["sigma_signal"] = (pts["y"] > pts["ucl"]) | (pts["y"] < pts["lcl"])  # NaN -> False
    if not y_neg:
        # qicharts2: only when no plotted value (in any facet) is negative, and after the
        # signals are decided: negative data keep their negative limits
        finite_y = pts["y"][~np.isnan(pts["y"])]
        if not finite_y.size or finite_y.min() >= 0:
            for col in ("lcl", "lcl_95"):
                pts[col] = np.where(pts[col] < 0, 0.0, pts[col])
    pts["target"] = np.full(len(pts["y"]), np.nan if target is None else target)
    if rule_set == "ihi":
        pts["signal"] = pts["shift"] | pts["trend"] | pts["sigma_signal"]
    else:
        pts["signal"] = pts["sigma_signal"] | pts["runs_signal"]
    direction = classify.direction_sign(improvement)
    _classify(pts, rule_set, direction)

    extra = [c for c in ("shift", "trend") if c in pts]
    columns = ["x", *facet_cols, *POINT_COLUMNS[1:], *extra, *EXTRA_POINT_COLUMNS]
    points = once(lambda: _points_frame(pts, columns))
    summary = once(lambda: _summary(pts, facet_cols, direction))
    options = {
        "x": x, "y": y, "n": n, "chart": chart, "facets": facet_cols, "freeze": freeze,
        "part": part_col or list(part_pos) or None, "exclude": list(exclude_pos) or None,
        "multiply": multiply, "cl": cl_user, "target": target, "agg_fun": agg_fun,
        "method": method, "rule_set": rule_set, "screen_mr": bool(screen_mr),
        "y_neg": bool(y_neg), "label": label, "improvement": improvement,
        "x_is_text": text_x,
    }  # fmt: skip
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
        chart_type=chart,
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


def _x_is_text(values: pd.Series) -> bool:
    """True when ``x`` holds labels rather than times or numbers (qicharts2's "dots only":
    text, a categorical or True/False). Python ``date`` objects count as times."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return False
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return kind not in (
        "integer", "floating", "mixed-integer-float", "decimal", "date", "datetime",
        "datetime64", "timedelta", "timedelta64", "period", "time", "empty",
    )  # fmt: skip


def _looks_like_dates(values: pd.Series) -> bool:
    """True when every text label looks like a date (e.g. '2024-01-01' or '01/02/2024')."""
    if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    text = values.dropna().astype(str)
    return bool(len(text)) and bool(text.str.match(_DATE_LIKE_TEXT).all())


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
    try:  # text: alphabetical (by code point); a categorical: in the order of its categories
        codes, _ = pd.factorize(values, sort=True)
    except TypeError:  # labels of mixed types (e.g. text and numbers): sorted as text
        codes, _ = pd.factorize(values.astype(str), sort=True)
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
    # qicharts2's aggregates (qic.agg): y_sum is sum(y, na.rm = <more than one row>), so a
    # single missing value stays missing but a subgroup of several all-missing rows sums to 0;
    # n is sum(n, na.rm = TRUE), 0 when every n is missing; the plotted value with n is
    # sum(y) / sum(n) (0/0 = NaN), without n agg_fun(y, na.rm = TRUE): sum() of nothing is 0,
    # mean() NaN, median() and sd() NA (sd of a single value too).
    if len(first) == nrow:  # one row per subgroup: nothing to combine (the fast path)
        y_length = present.astype(np.int64)
        y_sum = yy
        y_mean = yy
        y_sd = np.full(nrow, np.nan)
        n_sum = np.where(np.isnan(nn), 0.0, nn) if nn is not None else np.full(nrow, np.nan)
        agg_value = {"sum": np.where(present, yy, 0.0), "sd": y_sd}.get(agg_fun, yy)
    else:
        counts = np.diff(np.append(first, nrow))
        y_length = np.add.reduceat(present.astype(np.int64), first)
        y0 = np.where(present, yy, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sums = np.add.reduceat(y0, first)
            y_sum = np.where((counts == 1) & (y_length == 0), np.nan, sums)
            m = sums / y_length
            resid = np.where(present, yy - np.repeat(m, counts), 0.0)
            y_mean = m + np.add.reduceat(resid, first) / y_length  # R's refined mean
            dev = np.where(present, yy - np.repeat(y_mean, counts), 0.0)
            y_sd = np.where(y_length > 1, np.sqrt(np.add.reduceat(dev * dev, first) / (y_length - 1)), np.nan)
        if nn is not None:
            n_sum = np.add.reduceat(np.nan_to_num(nn), first)
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
            agg_value = {"mean": y_mean, "sum": sums, "sd": y_sd}[agg_fun]
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


def _sd_strict(values, g, n_groups, mask) -> np.ndarray:
    """Sample standard deviation per segment over the rows in ``mask``, like R's ``sd()``
    without ``na.rm``: missing when any of those values is missing, or when fewer than two."""
    count = np.bincount(g[mask], minlength=n_groups)
    bad = np.bincount(g[mask], weights=~np.isfinite(values[mask]), minlength=n_groups) > 0
    vals = np.where(mask & np.isfinite(values), values, 0.0)
    mean = seg.seg_mean(vals, g, n_groups, mask)
    dev = np.where(mask, vals - mean[g], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.bincount(g, weights=dev * dev, minlength=n_groups) / (count - 1))
    return np.where(bad | (count < 2), np.nan, sd)


def _floor_finite(arr: np.ndarray) -> np.ndarray:
    """Negative finite values become 0 (qicharts2: ``lcl[lcl < 0 & is.finite(lcl)] <- 0``);
    -Inf stays, to become a missing limit."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(arr) & (arr < 0), 0.0, arr)


def _compute_limits(
    pts: dict, chart: str, screen_mr: bool, cl_fixed: float | None, text_x: bool = False
) -> None:
    """Centre line and limits per row, in data units (before ``multiply``), as qicharts2 0.8.1
    computes them per facet x part; limits that are not finite become missing (NaN)."""
    g, k = pts["g"], pts["n_groups"]
    y = pts["y"].astype(float)
    n = pts["n"].astype(float)
    base_inc = pts["baseline"] & pts["include"]
    use = base_inc & np.isfinite(y)
    if chart in NEEDS_N:
        use &= np.isfinite(n) & (n > 0)
    nrow = len(y)

    def centre(values, mask):
        if cl_fixed is not None:
            return np.full(k, cl_fixed)
        return seg.seg_mean(values, g, k, mask)

    def around(cl, sigma):  # cl +/- 3 and 2 sigma
        with np.errstate(invalid="ignore"):
            return {
                "lcl": cl - SIGMA_LIMIT * sigma,
                "ucl": cl + SIGMA_LIMIT * sigma,
                "lcl_95": cl - SIGMA_INNER * sigma,
                "ucl_95": cl + SIGMA_INNER * sigma,
            }

    if chart == "run":
        clg = np.full(k, cl_fixed) if cl_fixed is not None else seg.seg_median(y, g, k, use)
        cl = clg[g]
        nan = np.full(nrow, np.nan)
        lims = {"lcl": nan, "ucl": nan.copy(), "lcl_95": nan.copy(), "ucl_95": nan.copy()}
    elif chart in ("i", "t"):
        yy = y ** (1.0 / T_CHART_EXPONENT) if chart == "t" else y
        # a given centre line is used as it is; for a T chart that puts it on the transformed
        # scale, y**(1/3.6), untransformed (qicharts2 qic.t passes it straight to qic.i)
        clg = centre(yy, use & np.isfinite(yy))
        mr = _moving_range_mean(yy, g, k, base_inc, screen_mr)
        sigma = (mr / D2_MR)[g]
        cl = clg[g]
        lims = around(cl, sigma)
        if chart == "t":
            with np.errstate(invalid="ignore"):  # a negative base to a power 3.6 is NaN
                lims = {name: lim**T_CHART_EXPONENT for name, lim in lims.items()}
                # qicharts2 floors only the 3-sigma lower limit (NaN or negative -> 0); the
                # 2-sigma one stays missing
                lims["lcl"] = np.where(np.isnan(lims["lcl"]) | (lims["lcl"] < 0), 0.0, lims["lcl"])
                cl = cl**T_CHART_EXPONENT
            pts["y"] = yy**T_CHART_EXPONENT
    elif chart == "mr":
        prev = seg.prev_in_segment(y, g)
        mrv = np.abs(y - prev)
        pts["y"] = mrv
        clg = centre(mrv, base_inc & np.isfinite(mrv))
        cl = clg[g]
        ucl = D4_MR * cl
        zeros = np.zeros(nrow)
        lims = {"lcl": zeros, "ucl": ucl, "lcl_95": zeros.copy(),
                "ucl_95": SIGMA_INNER / SIGMA_LIMIT * ucl}  # fmt: skip
    elif chart in ("xbar", "s"):
        size = pts["y_length"].astype(float)
        means = pts["y_mean"].astype(float)
        sds = pts["y_sd"].astype(float)
        # s-bar: the mean of the subgroup SDs when every subgroup of the part has the same size,
        # otherwise the pooled SD sqrt(sum((n_i - 1) s_i^2) / sum(n_i - 1)). As in qicharts2,
        # "the same size" looks at every subgroup of the part (an empty one too), and the pooled
        # denominator counts every baseline subgroup: an empty one adds n_i - 1 = -1.
        sz_min = np.full(k, np.inf)
        sz_max = np.full(k, -np.inf)
        np.minimum.at(sz_min, g, size)
        np.maximum.at(sz_max, g, size)
        equal = sz_min == sz_max
        has_sd = base_inc & np.isfinite(sds)
        sbar_eq = seg.seg_mean(sds, g, k, has_sd)
        num = np.bincount(g, weights=np.where(has_sd, (size - 1) * sds**2, 0.0), minlength=k)
        den = np.bincount(g, weights=np.where(base_inc, size - 1, 0.0), minlength=k)
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
                sigma = sbar[g] / (c4 * np.sqrt(size))
            cl = clg[g]
            lims = around(cl, sigma)
        else:
            clg = np.full(k, cl_fixed) if cl_fixed is not None else sbar
            cl = clg[g]
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma = cl * np.sqrt(1 - c4**2) / c4
            lims = around(cl, sigma)
            lims["lcl"] = _floor_finite(lims["lcl"])  # B3 = max(0, 1 - 3 c5/c4)
            lims["lcl_95"] = _floor_finite(lims["lcl_95"])
    elif chart in ("p", "pp", "u", "up"):
        ysum = pts["y_sum"].astype(float)
        # rows in ``use`` have finite y and n > 0, hence a finite y_sum; rows left out add 0 to
        # both sums in qicharts2 too (n = 0, or y and n both missing)
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
            if text_x:
                # labels have no order to take moving ranges along: qicharts2 uses the standard
                # deviation of the z-scores (R's sd(), so one missing z leaves no limits)
                sigma_z = _sd_strict(z, g, k, base_inc)
            else:
                # a missing z (n = 0, or no data) breaks the moving ranges next to it
                sigma_z = _moving_range_mean(z, g, k, base_inc, screen_mr) / D2_MR
            sigma = sigma * sigma_z[g]
        lims = around(cl, sigma)
        if chart in ("p", "pp"):
            with np.errstate(invalid="ignore"):
                for name in ("ucl", "ucl_95"):
                    lims[name] = np.where(np.isfinite(lims[name]) & (lims[name] > 1), 1.0, lims[name])
        for name in ("lcl", "lcl_95"):
            lims[name] = _floor_finite(lims[name])
    elif chart == "c":
        clg = centre(y, use)
        cl = clg[g]
        lims = around(cl, np.sqrt(cl))
        for name in ("lcl", "lcl_95"):
            lims[name] = _floor_finite(lims[name])
    elif chart == "g":
        # limits from the mean; the plotted centre is the median of the data, or, with a given
        # centre line (taken as the mean), G_CL_MEDIAN_FACTOR x it (qicharts2 qic.g)
        if cl_fixed is None:
            m = seg.seg_mean(y, g, k, use)[g]
            cl = seg.seg_median(y, g, k, use)[g]
        else:
            m = np.full(nrow, cl_fixed)
            cl = G_CL_MEDIAN_FACTOR * m
        with np.errstate(invalid="ignore"):
            lims = around(m, np.sqrt(m * (m + 1)))
            for name in ("lcl", "lcl_95"):
                lims[name] = np.where(lims[name] < 0, 0.0, lims[name])
    else:  # pragma: no cover - guarded by stage 1
        raise SPCOptionError(f"unknown chart {chart!r}")

    for name, arr in lims.items():
        pts[name] = np.where(np.isfinite(arr), arr, np.nan)  # e.g. n = 0: no limits
    pts["cl"] = cl


# ---------------------------------------------------------------------------------------------
# runs analysis and summary


def _runs(pts: dict, chart: str, method: str, rule_set: str, text_x: bool = False) -> None:
    """Anhøj runs statistics per facet x part (and the IHI rules per point).

    As in qicharts2, a part with no useful point (all missing or all on the centre line, e.g.
    an all-equal series or a single point) has no longest run and no crossings (NaN) and never
    signals; the statistics are computed but never signal on an MR chart or with text x (labels
    have no order for runs to follow).
    """
    g, k = pts["g"], pts["n_groups"]
    stats = runs_mod.anhoej(pts["y"], pts["cl"], g, k, pts["include"])
    signal = stats["runs_signal"]
    if method != "anhoej":
        from qiwidgets.spc.boxrules import box_signal

        signal = box_signal(method, stats["n_useful"], stats["longest_run"], stats["n_crossings"])
    no_order = chart == "mr" or text_x
    if no_order:
        signal = np.zeros(k, dtype=bool)
    stats["runs_signal"] = signal & (stats["n_useful"] > 0)
    for name in ("n_obs", "n_useful"):  # counts, never missing
        stats[name] = stats[name].astype(np.int64)
    for name in ("longest_run", "n_crossings"):  # nothing to count: missing
        stats[name] = np.where(stats["n_useful"] > 0, stats[name], np.nan)
    for name, arr in stats.items():
        pts[name] = arr[g]
    if rule_set == "ihi":
        ihi = runs_mod.ihi(pts["y"], pts["cl"], g, pts["include"] & (not text_x))
        pts["shift"] = ihi["shift"]
        pts["trend"] = ihi["trend"]
        pts["trend_way"] = ihi["trend_way"]
        pts["runs_signal"] = ihi["shift"] | ihi["trend"]


def _classify(pts: dict, rule_set: str, direction: int) -> None:
    """Each point's type (``point_type`` codes) and the way it went (``way``: +1/-1/0).

    A point is special cause when it is outside the 3-sigma limits; with the Anhøj rules, when
    its part signals and it belongs to the unusually long run (a run longer than the part's
    ``longest_run_max``) — or, when the part signals by too few crossings alone, when it takes
    part in the runs analysis at all (the whole part is non-random); with the IHI rules, when
    it is part of a shift or a trend. Points on the centre line, missing or excluded stay
    common cause unless outside the limits. So a run that ended is special cause, and the
    points after it, back on the other side, are not: a long run before a change does not make
    the latest point a concern. Its way: above or below the limits for a sigma signal; its side
    of the centre line for a run or a shift; the way the trend goes for a trend (in that
    precedence).
    """
    y, cl, ucl = pts["y"], pts["cl"], pts["ucl"]
    with np.errstate(invalid="ignore"):
        side = np.nan_to_num(np.sign(y - cl)).astype(np.int8)  # 0 where missing or on the line
        sigma_way = np.where(y > ucl, 1, -1).astype(np.int8)
    sigma = pts["sigma_signal"].astype(bool)
    if rule_set == "ihi":
        shift, trend = pts["shift"], pts["trend"]
        way = np.where(sigma, sigma_way, np.where(shift, side, np.where(trend, pts["trend_way"], 0)))
        special = sigma | shift | trend
    else:
        signal = pts["runs_signal"].astype(bool)
        with np.errstate(invalid="ignore"):
            long_part = pts["longest_run"] > pts["longest_run_max"]
        long_points = runs_mod.in_long_runs(y, cl, pts["g"], pts["include"],
                                            pts["longest_run_max"])  # fmt: skip
        in_runs = signal & pts["include"] & (side != 0) & (long_points | ~long_part)
        way = np.where(sigma, sigma_way, np.where(in_runs, side, 0))
        special = sigma | in_runs
    pts["way"] = way.astype(np.int8)
    pts["point_type"] = classify.point_types(special, way, direction)


def _points_frame(pts: dict, columns: list[str]) -> pd.DataFrame:
    out = {c: pts[c] for c in columns}
    out["point_type"] = classify.categorical(pts["point_type"], classify.POINT_TYPES)
    return frame(out)


def _summary(pts: dict, facet_cols: tuple[str, ...], direction: int = 0) -> pd.DataFrame:
    """One row per facet x part: runs statistics, mean limits (qicharts2's a* columns, NaN where
    all are missing), the count of points outside the limits, and the verdict: the variation
    type of the part's latest point and the assurance of its limits against the target."""
    g, k = pts["g"], pts["n_groups"]
    first, last = seg.bounds(g)
    out = {c: pts[c][first] for c in facet_cols}
    out["part"] = pts["part"][first]
    for c in ("n_obs", "n_useful", "longest_run", "longest_run_max", "n_crossings", "n_crossings_min"):
        out[c] = pts[c][first]
    # qicharts2: max() of the per-point flag (for the IHI rules: any shift or trend in the part)
    out["runs_signal"] = (np.bincount(g, weights=pts["runs_signal"], minlength=k) > 0).astype(np.int64)
    for c in ("lcl", "lcl_95", "cl", "ucl_95", "ucl"):
        vals = pts[c]
        out[c] = seg.seg_mean(vals, g, k, np.isfinite(vals))
    out["sigma_signal"] = np.bincount(g, weights=pts["sigma_signal"], minlength=k).astype(np.int64)
    out["n_points"] = np.bincount(g, minlength=k).astype(np.int64)
    if "shift" in pts:
        out["shift"] = np.bincount(g, weights=pts["shift"], minlength=k) > 0
        out["trend"] = np.bincount(g, weights=pts["trend"], minlength=k) > 0
    last_pt = pts["point_type"][last]
    out["variation_type"] = classify.categorical(
        classify.variation_types(last_pt), classify.VARIATION_TYPES
    )
    out["variation_icon"] = classify.categorical(
        classify.variation_icons(last_pt, pts["way"][last]), classify.VARIATION_ICONS
    )
    # assurance: the limits at the part's latest point that has both limits (they vary with n
    # on P, U and Xbar charts), held against the target
    judged = np.flatnonzero(np.isfinite(pts["lcl"]) & np.isfinite(pts["ucl"]))
    at = np.full(k, -1, dtype=np.int64)
    np.maximum.at(at, g[judged], judged)
    lower = np.where(at >= 0, pts["lcl"][at], np.nan)
    upper = np.where(at >= 0, pts["ucl"][at], np.nan)
    assurance = classify.assurance(pts["target"][first], lower, upper, direction)
    out["assurance_type"] = classify.categorical(assurance, classify.ASSURANCE_TYPES)
    out["assurance_icon"] = classify.categorical(assurance, classify.ASSURANCE_ICONS)
    return frame(out)
