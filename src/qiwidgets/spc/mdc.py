"""NHS "Making Data Count" XmR charts, with NHSRplotthedots 0.2.2 semantics.

One call charts one series or tens of thousands (facets): every facet x rebase group is a
*segment* of one sorted array and every step below is a numpy pass over all segments at once
(see :mod:`qiwidgets.spc._segments`). There is no Python loop per series or per point.

The method (read from the NHSRplotthedots documentation and the reference README, written here
from that description):

* Rows are grouped by facet, sorted by date and split into rebase groups: a rebase date starts a
  new group at the row with exactly that date (a date that matches no row is ignored, with a
  warning).
* Per group: the centre line is the mean of the first ``fix_after_n_points`` values (all values
  when not set); the moving ranges are taken within the group on those same values; with
  ``screen_outliers`` moving ranges ``>= 3.267 x mR-bar`` are dropped and mR-bar is recomputed
  once; limits are ``mean +/- 2.66 x mR-bar`` and the "near" lines
  ``mean +/- (2/3) x 2.66 x mR-bar``.
* Four rules, with this precedence (a point gets the first that applies):
  1. a point strictly outside the process limits;
  2. ``run_length`` (7) points in a row strictly increasing or strictly decreasing (a tie breaks
     the trend; every point of the trend is flagged);
  3. two of three points in a row close to a limit (beyond the near line, not beyond the limit),
     with all three points on the same side of the mean; only the close points are flagged
     (``two_in_three="beyond_included"``: points beyond the limit count as close too, the
     November 2023 Making Data Count rule);
  4. ``run_length`` (7) or more points in a row on the same side of the mean (a point exactly on
     the mean breaks the run).

Missing values (documented behaviour, never an error; a blank text cell, ``''`` or spaces, is a
missing value, as in ``control_chart``, and any other text is an error): a point whose value is
missing is kept and plotted as missing; it is left out of the mean and of the moving ranges (both
moving ranges next to it are missing, so no moving range bridges the gap); its ``outside_limits``,
``relative_to_mean`` and ``close_to_limits`` are missing and it is never flagged
(``Common Cause``). **A missing value breaks a trend, a run on one side of the mean and a
two-in-three window**: no pattern is counted across it. (NHSRplotthedots 0.2.2 stops with an
error when a missing value falls inside an otherwise monotone 7-point window; we break the trend
instead.) Missing values still count in ``n`` and in the short-group threshold, as in
NHSRplotthedots.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.errors import RebaseDateWarning, ShortBaselineWarning, SPCDataError, SPCOptionError
from qiwidgets.spc import _segments as seg
from qiwidgets.spc import classify
from qiwidgets.spc.classify import (
    ASSURANCE_ICONS,
    ASSURANCE_TYPES,
    IMPROVEMENTS,
    POINT_TYPES,
    VARIATION_ICONS,
)
from qiwidgets.spc.constants import (
    D4_MR,
    MDC_LIMIT_CONSTANT,
    MDC_MIN_FIX_AFTER,
    MDC_NEAR_LIMIT_FRACTION,
    MDC_RUN_LENGTH,
    MDC_RUN_LENGTH_CHOICES,
    MDC_SHORT_GROUP_THRESHOLD,
    MDC_TWO_IN_THREE_NEEDED,
    MDC_TWO_IN_THREE_WINDOW,
)
from qiwidgets.spc.result import SPCResult, frame, once

__all__ = [
    "IMPROVEMENTS",
    "POINT_TYPES",
    "TWO_IN_THREE_MODES",
    "mdc_chart",
    "mdc_reading",
    "outside_limits_rule",
    "seven_point_one_side",
    "seven_point_trend",
    "special_cause_types",
    "two_in_three",
]

RULE_SET = "Making Data Count"

#: Values of ``two_in_three``: ``"ptd"`` reproduces NHSRplotthedots 0.2.2; ``"beyond_included"``
#: also counts points beyond the process limits (Making Data Count, November 2023).
TWO_IN_THREE_MODES = ("ptd", "beyond_included")

# special_cause_type codes. Odd codes are "high" (above / increasing), even non-zero "low".
COMMON, ABOVE_UCL, BELOW_LCL, TREND_UP, TREND_DOWN, TWO3_ABOVE, TWO3_BELOW, RUN_ABOVE, RUN_BELOW = (
    range(9)
)

#: Output columns of ``points`` (facet columns are inserted after ``x``).
POINT_COLUMNS = (
    "x",
    "rebase_group",
    "short_group_warning",
    "y",
    "fix_y",
    "cl",
    "lcl",
    "ucl",
    "lcl_near",
    "ucl_near",
    "outside_limits",
    "relative_to_mean",
    "close_to_limits",
    "special_cause_type",
    "special_cause_flag",
    "point_type",
    "target",
    "variation_type",
    "assurance_type",
)

SUMMARY_COLUMNS = (
    "rebase_group",
    "x_start",
    "x_end",
    "cl",
    "lcl",
    "ucl",
    "n",
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral",
    "variation_type",
    "variation_icon",
    "target",
    "assurance_type",
    "assurance_icon",
    "short_group_warning",
)


#: Categorical columns from codes (-1 = missing), one cached dtype per vocabulary.
_categorical = classify.categorical


def special_cause_types(run_length: int = MDC_RUN_LENGTH) -> tuple[str, ...]:
    """The ``special_cause_type`` strings in code order (NHSRplotthedots wording).

    With the default ``run_length`` of 7 these are exactly NHSRplotthedots' strings; with 6 the
    number in the trend and run labels follows the option.
    """
    k = run_length
    return (
        "Common Cause",
        "Above UCL",
        "Below LCL",
        f"{k} Point Trend (Increasing)",
        f"{k} Point Trend (Decreasing)",
        "2 in 3 Above CL",
        "2 in 3 Below CL",
        f"{k} Points Above CL",
        f"{k} Points Below CL",
    )


# =============================================================================================
# Stage 1: the options on their own
# =============================================================================================


@dataclass(frozen=True)
class _Options:
    x: str
    y: str
    improvement: str
    target: float | dict | None
    rebase: list | dict | None
    facets: tuple[str, ...]
    fix_after_n_points: int | None
    screen_outliers: bool
    run_length: int
    two_in_three: str
    label: str | None


def _fmt(value: Any) -> str:
    """A value as it appears in an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Types accepted without further checks (checking abstract base classes is slow for the
#: thousands of per-facet targets and rebase dates a programme passes).
_PLAIN_NUMBERS = frozenset({int, float, np.float64, np.int64, np.float32, np.int32})
_PLAIN_DATES = frozenset({str, date, datetime, pd.Timestamp, np.datetime64})


def _is_number(value: Any) -> bool:
    if type(value) in _PLAIN_NUMBERS:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_date_like(value: Any) -> bool:
    return isinstance(value, (str, date, datetime, np.datetime64, pd.Timestamp)) or _is_number(
        value
    )


def _as_list(name: str, value: Any) -> list:
    """A rebase value as a list of dates (a single date becomes a list of one)."""
    if type(value) in (list, tuple) and all(type(v) in _PLAIN_DATES for v in value):
        return list(value)  # the common case, checked cheaply
    if _is_date_like(value):
        return [value]
    if isinstance(value, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        out = list(value)
        for v in out:
            if not _is_date_like(v) or (_is_number(v) and math.isnan(float(v))):
                raise SPCOptionError(
                    f"`{name}` must be a list of dates (or x values), got an element {_fmt(v)}."
                )
        return out
    raise SPCOptionError(
        f"`{name}` must be a list of dates, or a dict of facet -> list of dates, got {_fmt(value)}."
    )


def _check_options(
    data: Any,
    x: Any,
    y: Any,
    improvement: Any,
    target: Any,
    rebase: Any,
    facets: Any,
    fix_after_n_points: Any,
    screen_outliers: Any,
    run_length: Any,
    two_in_three: Any,
    label: Any,
) -> _Options:
    """Stage 1 of validation: each option checks its own type and allowed values."""
    if not isinstance(data, pd.DataFrame):
        raise SPCOptionError(f"`data` must be a pandas DataFrame, got {type(data).__name__}.")
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, str) or not value:
            raise SPCOptionError(
                f"`{name}` must be a column name (a non-empty string), got {_fmt(value)}."
            )
    if improvement not in IMPROVEMENTS:
        allowed = ", ".join(repr(k) for k in IMPROVEMENTS)
        raise SPCOptionError(f"`improvement` must be one of {allowed}, got {_fmt(improvement)}.")

    if facets is None:
        facet_cols: tuple[str, ...] = ()
    elif isinstance(facets, str):
        facet_cols = (facets,)
    elif (
        isinstance(facets, (list, tuple))
        and 1 <= len(facets) <= 2
        and all(isinstance(f, str) and f for f in facets)
    ):
        facet_cols = tuple(facets)
    else:
        raise SPCOptionError(
            f"`facets` must be a column name or a list of 1 or 2 column names, got {_fmt(facets)}."
        )
    if len(set(facet_cols)) != len(facet_cols):
        raise SPCOptionError(f"`facets` must name different columns, got {_fmt(list(facet_cols))}.")
    for f in facet_cols:
        if f in (x, y):
            raise SPCOptionError(f"`facets` must not include the `x` or `y` column, got {f!r}.")
        if f in POINT_COLUMNS:
            raise SPCOptionError(
                f"`facets` column {f!r} clashes with an output column of the same name; "
                "rename the column first."
            )

    checked_target: float | dict | None
    if target is None:
        checked_target = None
    elif _is_number(target):
        if not math.isfinite(float(target)):
            raise SPCOptionError(f"`target` must be a finite number, got {_fmt(target)}.")
        checked_target = float(target)
    elif isinstance(target, Mapping):
        if not facet_cols:
            raise SPCOptionError(
                "`target` can be a dict (one target per facet) only when `facets` is set; "
                f"got {_fmt(dict(target))} without `facets`."
            )
        checked_target = {}
        for k, v in target.items():
            if v is not None and not (_is_number(v) and math.isfinite(v)):
                raise SPCOptionError(
                    f"`target` for facet {k!r} must be a finite number or None, got {_fmt(v)}."
                )
            checked_target[k] = None if v is None else float(v)
    else:
        raise SPCOptionError(
            f"`target` must be a number, a dict of facet -> number, or None, got {_fmt(target)}."
        )

    checked_rebase: list | dict | None
    if rebase is None:
        checked_rebase = None
    elif isinstance(rebase, Mapping):
        if not facet_cols:
            raise SPCOptionError(
                "`rebase` can be a dict (dates per facet) only when `facets` is set; "
                f"got {_fmt(dict(rebase))} without `facets`."
            )
        checked_rebase = {k: _as_list(f"rebase[{k!r}]", v) for k, v in rebase.items()}
    else:
        checked_rebase = _as_list("rebase", rebase)

    if fix_after_n_points is not None:
        if not isinstance(fix_after_n_points, numbers.Integral) or isinstance(
            fix_after_n_points, (bool, np.bool_)
        ):
            raise SPCOptionError(
                f"`fix_after_n_points` must be a whole number or None, got {_fmt(fix_after_n_points)}."
            )
        if fix_after_n_points < MDC_MIN_FIX_AFTER:
            raise SPCOptionError(
                f"`fix_after_n_points` must be at least {MDC_MIN_FIX_AFTER} (limits need a "
                f"baseline of {MDC_MIN_FIX_AFTER} or more points), got {fix_after_n_points}."
            )
        fix_after_n_points = int(fix_after_n_points)
    if not isinstance(screen_outliers, (bool, np.bool_)):
        raise SPCOptionError(
            f"`screen_outliers` must be True or False, got {_fmt(screen_outliers)}."
        )
    if run_length not in MDC_RUN_LENGTH_CHOICES or isinstance(run_length, (bool, np.bool_)):
        allowed = ", ".join(str(k) for k in MDC_RUN_LENGTH_CHOICES)
        raise SPCOptionError(f"`run_length` must be one of {allowed}, got {_fmt(run_length)}.")
    if two_in_three not in TWO_IN_THREE_MODES:
        allowed = ", ".join(repr(k) for k in TWO_IN_THREE_MODES)
        raise SPCOptionError(f"`two_in_three` must be one of {allowed}, got {_fmt(two_in_three)}.")
    if label is not None and not isinstance(label, str):
        raise SPCOptionError(f"`label` must be a string or None, got {_fmt(label)}.")

    return _Options(
        x=x,
        y=y,
        improvement=improvement,
        target=checked_target,
        rebase=checked_rebase,
        facets=facet_cols,
        fix_after_n_points=fix_after_n_points,
        screen_outliers=bool(screen_outliers),
        run_length=int(run_length),
        two_in_three=two_in_three,
        label=label,
    )


# =============================================================================================
# Stage 2: the options against the data
# =============================================================================================


@dataclass
class _Prepared:
    order: np.ndarray | None  # row positions of `data` sorted by facet then x (None: already)
    x: np.ndarray  # sorted x (datetime64 or numbers)
    xkey: np.ndarray  # sorted x as int64 or float64, for comparisons
    x_uniques: np.ndarray  # distinct xkey values, ascending
    row_key: np.ndarray  # facet code * len(x_uniques) + rank of x: ascending over sorted rows
    y: np.ndarray  # sorted y, float64 with NaN for missing
    fcode: np.ndarray  # facet code per sorted row (0 .. n_facets-1, in sorted facet order)
    facet_keys: pd.Index  # facet key per code (values, or tuples for two columns)
    facet_first: np.ndarray  # first sorted row of each facet
    facet_columns: dict  # facet column name -> (codes per sorted row, values per code)


#: Below this many rows a sort-based unique beats hashing (pd.factorize) for the x ranks.
_SMALL = 5000

#: The facet keys of an unfaceted chart: one series, keyed None.
_NO_FACET_KEYS = pd.Index([None], dtype=object)


def _column_list(data: pd.DataFrame) -> str:
    cols = [repr(c) for c in data.columns[:12]]
    more = ", ..." if len(data.columns) > 12 else ""
    return ", ".join(cols) + more


def _numeric_y(data: pd.DataFrame, col: str) -> np.ndarray:
    s = data[col]
    if s.dtype == np.float64:
        values = s.to_numpy()  # read only here; copied when sorted
    elif pd.api.types.is_bool_dtype(s.dtype):
        raise SPCDataError(f"`y` column {col!r} must hold numbers, got True/False values.")
    elif pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        converted = pd.to_numeric(s, errors="coerce")
        # a blank cell ('' or spaces, as a CSV export writes a missing value) is missing data,
        # as in control_chart; any other text is an error
        blank = s.astype(str).str.strip() == ""
        bad = converted.isna() & s.notna() & ~blank
        if bad.any():
            where = np.flatnonzero(bad.to_numpy())
            examples = ", ".join(_fmt(v) for v in s.iloc[where[:3]])
            raise SPCDataError(
                f"`y` column {col!r} must hold numbers; {len(where)} value(s) are not numeric, "
                f"e.g. {examples} (row {where[0]})."
            )
        values = converted.to_numpy(dtype=float, na_value=np.nan)
    inf = np.isinf(values)
    if inf.any():
        raise SPCDataError(
            f"`y` column {col!r} must hold finite numbers; row {int(np.flatnonzero(inf)[0])} "
            "is infinite."
        )
    return values


def _x_values(data: pd.DataFrame, col: str) -> np.ndarray:
    s = data[col]
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "Mif":  # numpy dates or numbers: fast path
        values = s.values  # a numpy array for these dtypes, ~6x cheaper than .to_numpy() for dates
        missing = (
            np.isnat(values)
            if s.dtype.kind == "M"
            else np.isnan(values)
            if s.dtype.kind == "f"
            else None
        )
        if missing is None or not missing.any():
            return values
    if s.isna().any():
        row = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise SPCDataError(
            f"`x` column {col!r} must not have missing values; row {row} is missing."
        )
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(None)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        raise SPCDataError(f"`x` column {col!r} must hold dates or numbers, got True/False values.")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy()
    try:
        parsed = pd.to_datetime(s, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise SPCDataError(
            f"`x` column {col!r} must hold dates (ISO 'YYYY-MM-DD') or numbers; "
            f"could not read it as dates ({exc})."
        ) from None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(None)
    return parsed.to_numpy()


def _x_key(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "M":
        return x.view("i8")
    return x.astype(float) if x.dtype.kind not in "iu" else x.astype(np.int64)


def _prepare(data: pd.DataFrame, opts: _Options) -> _Prepared:
    for arg, col in (("x", opts.x), ("y", opts.y)):
        if col not in data.columns:
            raise SPCDataError(
                f"`{arg}` column {col!r} is not in `data`; its columns are {_column_list(data)}."
            )
    for f in opts.facets:
        if f not in data.columns:
            raise SPCDataError(
                f"`facets` column {f!r} is not in `data`; its columns are {_column_list(data)}."
            )
    if len(data) == 0:
        raise SPCDataError("`data` has no rows; a chart needs at least one point.")

    y_raw = _numeric_y(data, opts.y)
    x_raw = _x_values(data, opts.x)
    xkey_raw = _x_key(x_raw)

    n = len(data)
    # x as a dense rank (few distinct dates even for many series), so that (facet, x) sorts as
    # one integer key
    if not opts.facets and (n < 2 or (xkey_raw[1:] > xkey_raw[:-1]).all()):
        x_uniques, xrank = xkey_raw, np.arange(n)  # one series in order: its own rank
    elif n <= _SMALL:
        x_uniques, xrank = np.unique(xkey_raw, return_inverse=True)
    else:
        xrank, x_uniques = pd.factorize(xkey_raw, sort=True)
    nx = len(x_uniques)
    facet_columns: dict[str, tuple[np.ndarray, Any]] = {}
    if opts.facets:
        codes = []
        uniques = []
        for f in opts.facets:
            c, u = pd.factorize(data[f], sort=True)
            if (c < 0).any():
                row = int(np.flatnonzero(c < 0)[0])
                raise SPCDataError(
                    f"`facets` column {f!r} must not have missing values; row {row} is missing."
                )
            codes.append(c.astype(np.int64))
            uniques.append(u)
        if len(codes) == 1:
            combined = codes[0]
        else:
            combined, _ = pd.factorize(codes[0] * len(uniques[1]) + codes[1], sort=True)
        key = combined.astype(np.int64) * nx + xrank
    else:
        key = xrank.astype(np.int64)
    order = None if n < 2 or (key[1:] > key[:-1]).all() else _sort_order(key)
    if order is not None:
        key = key[order]
    # always a fresh array: the outputs must never share memory with `data`
    take = (lambda a: a.copy()) if order is None else (lambda a: a[order])

    dup = np.zeros(n, dtype=bool)
    dup[1:] = key[1:] == key[:-1]
    new_facet = np.ones(n, dtype=bool)
    new_facet[1:] = (key[1:] // nx) != (key[:-1] // nx)
    fcode = np.cumsum(new_facet) - 1
    facet_first = np.flatnonzero(new_facet)
    x = take(x_raw)  # key = dense facet code * nx + rank of x, ascending
    if opts.facets:
        for f, c, u in zip(opts.facets, codes, uniques):
            facet_columns[f] = (fcode if len(codes) == 1 else take(c), u)
        first_codes = [facet_columns[f][0][facet_first] for f in opts.facets]
        if len(opts.facets) == 1:
            facet_keys = pd.Index(uniques[0].take(first_codes[0]))
        else:
            facet_keys = pd.MultiIndex.from_arrays(
                [u.take(c) for u, c in zip(uniques, first_codes)], names=list(opts.facets)
            )
    else:
        facet_keys = _NO_FACET_KEYS
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        where = f" in facet {_facet_text(facet_keys[fcode[i]])}" if opts.facets else ""
        raise SPCDataError(
            f"`x` values must be unique within each series (one value per date for an XmR "
            f"chart); {_x_text(x[i])} appears more than once{where}."
        )

    facet_set = facet_keys
    for name, value in (("target", opts.target), ("rebase", opts.rebase)):
        if isinstance(value, dict):
            keys = list(value)
            found = _facet_indexer(facet_set, keys)
            missing = [k for k, i in zip(keys, found) if i < 0]
            if missing:
                examples = ", ".join(_fmt(k) for k in missing[:3])
                raise SPCDataError(
                    f"`{name}` names facet(s) that are not in the data: {examples}; "
                    f"facets are e.g. {', '.join(_fmt(k) for k in list(facet_set[:3]))}."
                )

    return _Prepared(
        order=order,
        x=x,
        xkey=_x_key(x),
        x_uniques=np.asarray(x_uniques),
        row_key=key,
        y=take(y_raw),
        fcode=fcode,
        facet_keys=facet_keys,
        facet_first=facet_first,
        facet_columns=facet_columns,
    )


def _sort_order(key: np.ndarray) -> np.ndarray:
    """Row order that sorts ``key`` (non-negative integers).

    When the keys are few enough to index an array (a dense grid of facets x dates, the usual
    case), a counting placement replaces the O(n log n) sort; repeated keys (duplicate dates,
    reported afterwards) fall back to a stable sort.
    """
    span = int(key.max()) + 1 if len(key) else 0
    if span <= 8 * len(key):
        slot = np.full(span, -1, dtype=np.int64)
        slot[key] = np.arange(len(key))
        order = slot[slot >= 0]
        if len(order) == len(key):
            return order
    return np.argsort(key, kind="stable")


def _facet_output(column: pd.Series, codes: np.ndarray, uniques: Any) -> Any:
    """A facet column for the output: numbers stay numbers, anything else becomes categorical
    (cheap for a million rows; categories in sorted order)."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return np.asarray(uniques)[codes]
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques))


def _facet_indexer(facet_keys: pd.Index, keys: list) -> np.ndarray:
    if isinstance(facet_keys, pd.MultiIndex):
        ok = [isinstance(k, tuple) and len(k) == facet_keys.nlevels for k in keys]
        safe = [k if good else (object(),) * facet_keys.nlevels for k, good in zip(keys, ok)]
        idx = facet_keys.get_indexer(pd.MultiIndex.from_tuples(safe)) if safe else np.array([], int)
        return np.where(ok, idx, -1)
    try:
        return facet_keys.get_indexer(pd.Index(keys, dtype=object))
    except (TypeError, ValueError):
        return np.array([_safe_loc(facet_keys, k) for k in keys], dtype=np.int64)


def _safe_loc(index: pd.Index, key: Any) -> int:
    try:
        loc = index.get_loc(key)
    except (KeyError, TypeError):
        return -1
    return loc if isinstance(loc, int) else -1


def _rebase_keys(values: list, x: np.ndarray, name: str) -> np.ndarray:
    """Rebase dates converted to the comparison key of ``x``."""
    if np.issubdtype(x.dtype, np.datetime64):
        try:
            parsed = pd.to_datetime(pd.Index(values), format="ISO8601")
        except (ValueError, TypeError):
            try:
                parsed = pd.to_datetime(pd.Index(values))
            except (ValueError, TypeError):
                raise SPCDataError(
                    f"`{name}` must hold dates matching `x`; could not read {_fmt(values)} as dates."
                ) from None
        if parsed.tz is not None:
            parsed = parsed.tz_convert(None)
        unit = np.datetime_data(x.dtype)[0]
        return parsed.as_unit(unit).asi8
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise SPCDataError(
            f"`{name}` must hold values of the `x` column (numbers here), got {_fmt(values)}."
        ) from None
    return arr if not np.issubdtype(x.dtype, np.integer) else arr.astype(np.int64)


def _rebase_starts(p: _Prepared, opts: _Options) -> tuple[np.ndarray, list[str]]:
    """True at each sorted row that starts a rebase group; and text for unmatched dates."""
    n = len(p.y)
    is_rebase = np.zeros(n, dtype=bool)
    unmatched: list[str] = []
    if opts.rebase is None:
        return is_rebase, unmatched
    if isinstance(opts.rebase, dict):
        keys = [k for k, v in opts.rebase.items() if v]
        if not keys:
            return is_rebase, unmatched
        fidx = _facet_indexer(p.facet_keys, keys)
        sizes = np.array([len(opts.rebase[k]) for k in keys])
        rf = np.repeat(fidx, sizes)
        rx = _rebase_keys([d for k in keys for d in opts.rebase[k]], p.x, "rebase")
        # rows are sorted by (facet, x): one integer key (facet, rank of x) finds every pair
        ux = p.x_uniques
        width = len(ux)
        rrank = np.searchsorted(ux, rx)
        exists = (rrank < width) & (ux[np.minimum(rrank, width - 1)] == rx)
        pair_key = rf * width + rrank
        pos = np.minimum(np.searchsorted(p.row_key, pair_key), n - 1)
        found = exists & (p.row_key[pos] == pair_key)
        is_rebase[pos[found]] = True
        for i in np.flatnonzero(~found)[:5]:
            unmatched.append(
                f"{_x_key_text(rx[i], p.x)} (facet {_facet_text(p.facet_keys[rf[i]])})"
            )
        if (~found).sum() > 5:
            unmatched.append(f"... and {(~found).sum() - 5} more")
    else:
        rx = _rebase_keys(opts.rebase, p.x, "rebase")
        is_rebase = np.isin(p.xkey, rx)
        present = np.isin(rx, p.xkey)
        unmatched = [_x_key_text(v, p.x) for v in rx[~present]]
    return is_rebase, unmatched


# =============================================================================================
# The rules: one function each, vectorised over segments
# =============================================================================================


def outside_limits_rule(y: np.ndarray, lpl: np.ndarray, upl: np.ndarray) -> np.ndarray:
    """Rule 1: +1 where ``y > upl``, -1 where ``y < lpl``, 0 otherwise (and for missing y)."""
    out = np.zeros(len(y), dtype=np.int8)
    out[y > upl] = 1
    out[y < lpl] = -1
    return out


def seven_point_trend(y: np.ndarray, g: np.ndarray, run_length: int = MDC_RUN_LENGTH) -> np.ndarray:
    """Rule 2: +1/-1 for points in a run of ``run_length`` strictly increasing/decreasing values.

    Every point of the run is flagged. A tie or a missing value breaks the trend. A point where
    a rising trend ends and a falling one starts takes the direction of the later trend (the
    sign of its right-hand step); otherwise a point takes the sign of the step that joins it to
    the trend.
    """
    n = len(y)
    out = np.zeros(n, dtype=np.int8)
    if n < run_length:
        return out
    step = np.sign(seg.next_in_segment(y, g) - y)  # step to the next point; NaN at ends / NA
    key = np.where(np.isnan(step), np.nan, step)
    _, _, run_len = seg.run_lengths(key, g)
    long_right = (np.abs(step) == 1) & (run_len >= run_length - 1)
    long_left = np.zeros(n, dtype=bool)
    long_left[1:] = long_right[:-1]
    step_left = np.zeros(n)
    step_left[1:] = step[:-1]
    out[long_left] = step_left[long_left].astype(np.int8)
    out[long_right] = step[long_right].astype(np.int8)
    return out


def two_in_three(close: np.ndarray, relative: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Rule 3: +1/-1 for close points in a window of 3 with 2 or more close points.

    NHSRplotthedots' form: the window counts only when all three points are on the same side of
    the mean (a middle point on the other side, on the mean or missing cancels it); only the
    close points of the window are flagged. ``close`` is False for missing values.
    """
    k = MDC_TWO_IN_THREE_WINDOW
    n = len(close)
    out = np.zeros(n, dtype=np.int8)
    if n < k:
        return out
    ok = seg.window_in_segment(g, k)
    side = np.where(np.isnan(relative), 0.0, relative)
    m = n - k + 1
    same = side[:m] != 0
    count = close[:m].astype(np.int8)
    for j in range(1, k):
        same &= side[j : j + m] == side[:m]
        count = count + close[j : j + m]
    hit = np.zeros(n, dtype=bool)
    hit[:m] = ok[:m] & same & (count >= MDC_TWO_IN_THREE_NEEDED)
    flagged = seg.spread_back(hit, k) & close
    out[flagged] = side[flagged].astype(np.int8)
    return out


def seven_point_one_side(
    relative: np.ndarray, g: np.ndarray, run_length: int = MDC_RUN_LENGTH
) -> np.ndarray:
    """Rule 4: +1/-1 for points in a run of ``run_length`` or more on one side of the mean.

    A point on the mean (``relative == 0``) or a missing value breaks the run.
    """
    _, _, run_len = seg.run_lengths(relative, g)  # NaN != NaN: each missing value is its own run
    flagged = (np.abs(relative) == 1) & (run_len >= run_length)
    out = np.zeros(len(relative), dtype=np.int8)
    out[flagged] = relative[flagged].astype(np.int8)
    return out


def _classify(
    outside: np.ndarray, trend: np.ndarray, two3: np.ndarray, run: np.ndarray
) -> np.ndarray:
    """special_cause_type codes with NHSRplotthedots' precedence: outside > trend > 2-in-3 > run."""
    code = np.zeros(len(outside), dtype=np.int8)
    for rule, high, low in (
        (run, RUN_ABOVE, RUN_BELOW),
        (two3, TWO3_ABOVE, TWO3_BELOW),
        (trend, TREND_UP, TREND_DOWN),
        (outside, ABOVE_UCL, BELOW_LCL),
    ):  # lowest precedence first, so higher ones overwrite
        code[rule > 0] = high
        code[rule < 0] = low
    return code


def _way(code: np.ndarray) -> np.ndarray:
    """+1 for "high" special_cause_type codes (above / increasing), -1 for "low", 0 for none."""
    way = np.where(code % 2 == 1, 1, -1).astype(np.int8)
    way[code == COMMON] = 0
    return way


def _point_types(code: np.ndarray, direction: int) -> np.ndarray:
    """point_type codes (index into POINT_TYPES) from special_cause_type codes."""
    return classify.point_types(code > 0, _way(code), direction)


# =============================================================================================
# The chart
# =============================================================================================


def mdc_chart(
    data: pd.DataFrame,
    x: str,
    y: str,
    improvement: str = "increase",
    target: float | Mapping[Any, float | None] | None = None,
    rebase: Any = None,
    facets: str | list[str] | None = None,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
    run_length: int = MDC_RUN_LENGTH,
    two_in_three: str = "ptd",
    label: str | None = None,
) -> SPCResult:
    """A Making Data Count XmR chart (NHSRplotthedots 0.2.2 semantics), for one or many series.

    Parameters
    ----------
    data:
        A tidy DataFrame, one row per point (per facet). It is never modified.
    x:
        Column of dates (datetime, or ISO strings, which are parsed) or numbers; unique within a
        series.
    y:
        Column of values. Missing values are allowed (see the module documentation).
    improvement:
        ``"increase"`` (higher is better), ``"decrease"`` or ``"neutral"``.
    target:
        A number, or a dict facet -> number (facets without a target get none). Two-column facets
        are keyed by tuples.
    rebase:
        Dates where limits are recalculated: a list (applied to every facet) or a dict
        facet -> list. A new group starts at the row with exactly that date.
    facets:
        A column name or a list of 1 or 2 column names; every facet is charted on its own.
    fix_after_n_points:
        Fix the mean and limits on the first n points of each rebase group (n >= 12).
    screen_outliers:
        Drop moving ranges ``>= 3.267 x mR-bar`` before the limits are computed (default, as
        NHSRplotthedots); False reproduces the Making Data Count Excel tool.
    run_length:
        Points needed for a trend and for a run on one side of the mean: 7 (NHSRplotthedots) or
        6 (Making Data Count Excel variants).
    two_in_three:
        ``"ptd"`` (NHSRplotthedots: only points between the near line and the limit count) or
        ``"beyond_included"`` (Making Data Count, November 2023: points beyond the limit count
        too).
    label:
        The measure's name, used in the plain-language reading.

    Returns
    -------
    SPCResult
        ``points`` (one row per point, sorted by facet then x): ``x``, the facet columns,
        ``rebase_group``, ``short_group_warning``, ``y``, ``fix_y``, ``cl``, ``lcl``, ``ucl``,
        ``lcl_near``, ``ucl_near``, ``outside_limits``, ``relative_to_mean``,
        ``close_to_limits``, ``special_cause_type``, ``special_cause_flag``, ``point_type``,
        ``target``, ``variation_type``, ``assurance_type``. ``summary``: one row per facet x
        rebase group with ``cl``, ``lcl``, ``ucl``, ``n``, the counts of common cause /
        improvement / concern / neutral points, ``variation_type`` (the point_type of the
        group's last point) and ``variation_icon``, ``assurance_type`` (last group of a facet
        with a target, a direction and finite limits; a target with no limits to hold it
        against, e.g. a single point, gives none and a warning) and ``assurance_icon``. ``readings``: one sentence per
        facet, computed when first read.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"month": pd.date_range("2024-01-01", periods=14, freq="MS"),
    ...                   "falls": [6, 5, 7, 6, 5, 6, 7, 5, 3, 3, 2, 3, 2, 2]})
    >>> r = mdc_chart(d, x="month", y="falls", improvement="decrease", target=3, label="Falls")
    >>> r.summary[["cl", "n", "variation_type", "assurance_type"]].to_dict("records")[0]["n"]
    14
    >>> r.reading.startswith("Falls: special cause improvement")
    True
    """
    opts = _check_options(
        data,
        x,
        y,
        improvement,
        target,
        rebase,
        facets,
        fix_after_n_points,
        screen_outliers,
        run_length,
        two_in_three,
        label,
    )
    p = _prepare(data, opts)
    is_rebase, unmatched = _rebase_starts(p, opts)
    return _compute(data, p, opts, is_rebase, unmatched)


def _compute(
    data: pd.DataFrame,
    p: _Prepared,
    opts: _Options,
    is_rebase: np.ndarray,
    unmatched: list[str],
) -> SPCResult:
    n = len(p.y)
    y = p.y
    n_facets = len(p.facet_first)
    new_facet = np.zeros(n, dtype=bool)
    new_facet[p.facet_first] = True

    # rebase group: number of rebase dates at or before the row, within its facet
    cum = np.cumsum(is_rebase)
    facet_base = (cum - is_rebase)[p.facet_first]
    rebase_group = cum - facet_base[p.fcode]

    g = np.cumsum(new_facet | is_rebase) - 1
    n_groups = int(g[-1]) + 1
    first, last = seg.bounds(g)
    group_n = last - first + 1
    pos = np.arange(n) - first[g]

    # limits per group
    used = pos < opts.fix_after_n_points if opts.fix_after_n_points else np.ones(n, dtype=bool)
    fix_y = np.where(used, y, np.nan)
    present = ~np.isnan(fix_y)
    mean = seg.seg_mean(fix_y, g, n_groups, present)
    mr = np.abs(fix_y - seg.prev_in_segment(fix_y, g))
    mr_ok = ~np.isnan(mr)
    amr = seg.seg_mean(mr, g, n_groups, mr_ok)
    if opts.screen_outliers:
        mr_ok &= mr < D4_MR * amr[g]
        amr = seg.seg_mean(mr, g, n_groups, mr_ok)
    lpl_g = mean - MDC_LIMIT_CONSTANT * amr
    upl_g = mean + MDC_LIMIT_CONSTANT * amr
    near = MDC_NEAR_LIMIT_FRACTION * MDC_LIMIT_CONSTANT
    nlpl_g = mean - near * amr
    nupl_g = mean + near * amr
    cl, lpl, upl, nlpl, nupl = mean[g], lpl_g[g], upl_g[g], nlpl_g[g], nupl_g[g]

    # per point
    # NA where the value or the limits are missing (a group of one point has no moving range)
    no_test = np.isnan(y) | np.isnan(upl)
    above = y > upl
    below = y < lpl
    outside = above | below
    relative = np.sign(y - cl)  # NaN where y (or the mean) is missing
    beyond_near = (y > nupl) | (y < nlpl)
    close = beyond_near & ~outside
    close_rule = beyond_near if opts.two_in_three == "beyond_included" else close

    code = _classify(
        outside_limits_rule(y, lpl, upl),
        seven_point_trend(y, g, opts.run_length),
        two_in_three(close_rule, relative, g),
        seven_point_one_side(relative, g, opts.run_length),
    )
    direction = IMPROVEMENTS[opts.improvement]
    pt = _point_types(code, direction)
    flag = code > 0

    # target per facet
    target_f = np.full(n_facets, np.nan)
    if isinstance(opts.target, dict):
        keys = list(opts.target)
        idx = _facet_indexer(p.facet_keys, keys)
        vals = np.array([np.nan if opts.target[k] is None else opts.target[k] for k in keys])
        target_f[idx] = vals
    elif opts.target is not None:
        target_f[:] = opts.target

    # summary per group
    gf = p.fcode[first]
    last_of_facet = np.ones(n_groups, dtype=bool)
    last_of_facet[:-1] = gf[1:] != gf[:-1]
    target_g = target_f[gf]
    # assurance: only for the last group of each facet (NHSRplotthedots), and only where the
    # group has finite limits to hold the target against
    assurance = np.where(
        last_of_facet, classify.assurance(target_g, lpl_g, upl_g, direction), -1
    ).astype(np.int8)
    unjudged = last_of_facet & ~np.isnan(target_g) & ~(np.isfinite(lpl_g) & np.isfinite(upl_g))
    last_pt = pt[last]
    icon = classify.variation_icons(last_pt, _way(code[last]))
    short_g = group_n < MDC_SHORT_GROUP_THRESHOLD

    # ---- output frames (built when first read) ----------------------------------------------
    def build_points() -> pd.DataFrame:
        sc_types = special_cause_types(opts.run_length)
        points: dict[str, Any] = {"x": p.x}
        for f in opts.facets:
            points[f] = _facet_output(data[f], *p.facet_columns[f])
        points.update(
            rebase_group=rebase_group.astype(np.int64),
            short_group_warning=short_g[g],
            y=y,
            fix_y=fix_y,
            cl=cl,
            lcl=lpl,
            ucl=upl,
            lcl_near=nlpl,
            ucl_near=nupl,
            outside_limits=pd.arrays.BooleanArray(outside, no_test),
            relative_to_mean=pd.arrays.IntegerArray(
                np.nan_to_num(relative).astype(np.int64), np.isnan(relative)
            ),
            close_to_limits=pd.arrays.BooleanArray(close, no_test),
            special_cause_type=_categorical(code, sc_types),
            special_cause_flag=flag,
            point_type=_categorical(pt, POINT_TYPES),
            target=target_f[p.fcode],
            variation_type=_categorical(last_pt[g], POINT_TYPES),
            assurance_type=_categorical(assurance[g], ASSURANCE_TYPES),
        )
        return frame(points)

    def build_summary() -> pd.DataFrame:
        counts = lambda mask: np.bincount(g[mask], minlength=n_groups).astype(np.int64)
        summary: dict[str, Any] = {}
        for f in opts.facets:
            codes, uniques = p.facet_columns[f]
            summary[f] = _facet_output(data[f], codes[first], uniques)
        summary.update(
            rebase_group=rebase_group[first].astype(np.int64),
            x_start=p.x[first],
            x_end=p.x[last],
            cl=mean,
            lcl=lpl_g,
            ucl=upl_g,
            n=group_n.astype(np.int64),
            common_cause=counts(~flag),
            special_cause_improvement=counts(pt == 1),
            special_cause_concern=counts(pt == 2),
            special_cause_neutral=counts(pt >= 3),
            variation_type=_categorical(last_pt, POINT_TYPES),
            variation_icon=_categorical(icon, VARIATION_ICONS),
            target=target_g,
            assurance_type=_categorical(assurance, ASSURANCE_TYPES),
            assurance_icon=_categorical(assurance, ASSURANCE_ICONS),
            short_group_warning=short_g,
        )
        return frame(summary)

    points_df = once(build_points)
    summary_df = once(build_summary)

    # ---- warnings --------------------------------------------------------------------------
    messages: list[str] = []
    n_short = int(short_g.sum())
    if n_short:
        which = np.flatnonzero(short_g)[:3]
        names = "; ".join(
            _group_text(
                p.facet_keys[gf[i]],
                int(rebase_group[first[i]]),
                bool(opts.facets),
                bool(is_rebase.any()),
            )
            + f" ({int(group_n[i])} points)"
            for i in which
        )
        more = f" and {n_short - len(which)} more" if n_short > len(which) else ""
        msg = (
            f"{n_short} of {n_groups} series have fewer than {MDC_SHORT_GROUP_THRESHOLD} points: "
            f"{names}{more}. Their limits are provisional and will change as points are added "
            "(Making Data Count)."
        )
        messages.append(msg)
        warnings.warn(msg, ShortBaselineWarning, stacklevel=3)
    if unmatched:
        msg = (
            "`rebase` date(s) match no point and were ignored: " + ", ".join(unmatched) + ". "
            "A rebase date must equal an `x` value of the series."
        )
        messages.append(msg)
        warnings.warn(msg, RebaseDateWarning, stacklevel=3)

    n_unjudged = int(unjudged.sum()) if direction != 0 else 0
    if n_unjudged:
        which = np.flatnonzero(unjudged)[:3]
        names = "; ".join(
            _group_text(p.facet_keys[gf[i]], 0, bool(opts.facets), False) for i in which
        )
        more = f" and {n_unjudged - len(which)} more" if n_unjudged > len(which) else ""
        msg = (
            f"No assurance for {names}{more}: the series has no limits (fewer than two values), "
            "so there is nothing to hold the target against."
        )
        messages.append(msg)
        warnings.warn(msg, classify.NoLimitsWarning, stacklevel=3)

    facet_last_group = np.flatnonzero(last_of_facet)
    readings = _Readings(
        keys=p.facet_keys,
        build=_ReadingBuilder(
            label=opts.label,
            direction=direction,
            run_length=opts.run_length,
            x=p.x,
            y=y,
            relative=relative,
            code=code,
            pt=pt,
            first=first,
            last=last,
            facet_last_group=facet_last_group,
            target=target_f,
            assurance=assurance,
            group_n=group_n,
            rebase_group=rebase_group,
        ),
    )

    options = {
        "x": opts.x,
        "y": opts.y,
        "improvement": opts.improvement,
        "target": opts.target,
        "rebase": opts.rebase,
        "facets": list(opts.facets),
        "fix_after_n_points": opts.fix_after_n_points,
        "screen_outliers": opts.screen_outliers,
        "run_length": opts.run_length,
        "two_in_three": opts.two_in_three,
        "label": opts.label,
    }
    return SPCResult(
        points=points_df,
        summary=summary_df,
        readings=readings,  # type: ignore[arg-type]  # a read-only, lazily filled mapping
        chart_type="xmr",
        rule_set=RULE_SET,
        facets=opts.facets,
        options=options,
        warnings=tuple(messages),
    )


# =============================================================================================
# The plain-language reading
# =============================================================================================


def _facet_text(key: Any) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key)
    return str(key)


def _group_text(key: Any, rebase_group: int, faceted: bool, rebased: bool) -> str:
    parts = []
    if faceted:
        parts.append(_facet_text(key))
    if rebased:
        parts.append(f"rebase group {rebase_group}")
    return ", ".join(parts) if parts else "the series"


def _x_text(value: Any, monthly: bool = False) -> str:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return f"{value:%b %Y}" if monthly else f"{value.day} {value:%b %Y}"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _x_key_text(key: Any, x: np.ndarray) -> str:
    if np.issubdtype(x.dtype, np.datetime64):
        return _x_text(np.array(key, dtype="i8").view(x.dtype))
    return _x_text(key)


def _number_text(value: float) -> str:
    return f"{value:,.6g}"


def mdc_reading(
    variation: str,
    *,
    label: str | None = None,
    special_cause_type: str = "Common Cause",
    points_in_row: int | None = None,
    since: str | None = None,
    target: float | None = None,
    assurance: str | None = None,
    n_points: int | None = None,
    missing_latest: str | None = None,
) -> str:
    """One plain-language sentence about a Making Data Count chart.

    ``variation`` is the point_type of the latest point; ``special_cause_type`` the rule that
    flagged it, with ``points_in_row`` and ``since`` for trends and runs; ``assurance`` the
    assurance type for ``target``; ``n_points`` the size of the latest group when its limits
    are provisional; ``missing_latest`` the period of the latest point when its value is
    missing (there is then nothing to read from it).

    >>> mdc_reading("special_cause_improvement", label="Falls per 1,000 bed days",
    ...             special_cause_type="7 Points Below CL", points_in_row=8, since="Aug 2026",
    ...             target=3, assurance="inconsistent")
    'Falls per 1,000 bed days: special cause improvement — 8 points in a row below the mean since Aug 2026; the target of 3 is not yet consistently met.'
    """
    words = {
        "common_cause": "common cause variation",
        "special_cause_improvement": "special cause improvement",
        "special_cause_concern": "special cause concern",
        "special_cause_neutral_high": "special cause variation (higher than usual)",
        "special_cause_neutral_low": "special cause variation (lower than usual)",
    }
    head = words.get(variation, variation.replace("_", " "))
    t = special_cause_type
    since_text = f" since {since}" if since else ""
    rows = f"{points_in_row} points in a row" if points_in_row else "points in a row"
    if variation == "common_cause":
        why = "no sign of change at the latest point"
    elif t == "Above UCL":
        why = "the latest point is above the upper limit"
    elif t == "Below LCL":
        why = "the latest point is below the lower limit"
    elif t.endswith("(Increasing)"):
        why = f"{rows} going up{since_text}"
    elif t.endswith("(Decreasing)"):
        why = f"{rows} going down{since_text}"
    elif t == "2 in 3 Above CL":
        why = "2 of the last 3 points are close to the upper limit"
    elif t == "2 in 3 Below CL":
        why = "2 of the last 3 points are close to the lower limit"
    elif t.endswith("Above CL"):
        why = f"{rows} above the mean{since_text}"
    elif t.endswith("Below CL"):
        why = f"{rows} below the mean{since_text}"
    else:
        why = t
    if missing_latest is not None:
        text = f"the latest value ({missing_latest}) is missing, so there is no reading for it yet"
    else:
        text = f"{head} — {why}"
    text = f"{label}: {text}" if label else f"{text[0].upper()}{text[1:]}"
    if target is not None and not (isinstance(target, float) and math.isnan(target)):
        tt = _number_text(float(target))
        if assurance == "consistent_pass":
            text += f"; the target of {tt} is consistently met"
        elif assurance == "consistent_fail":
            text += f"; the target of {tt} will not be met unless the process changes"
        elif assurance == "inconsistent":
            text += f"; the target of {tt} is not yet consistently met"
    if n_points is not None:
        points = "point" if n_points == 1 else "points"
        text += f"; the limits are provisional (only {n_points} {points})"
    return text + "."


@dataclass(frozen=True)
class _ReadingBuilder:
    """Everything needed to write one facet's reading on demand (arrays are shared, not copied)."""

    label: str | None
    direction: int
    run_length: int
    x: np.ndarray
    y: np.ndarray
    relative: np.ndarray
    code: np.ndarray
    pt: np.ndarray
    first: np.ndarray
    last: np.ndarray
    facet_last_group: np.ndarray
    target: np.ndarray
    assurance: np.ndarray
    group_n: np.ndarray
    rebase_group: np.ndarray

    def __call__(self, facet: int) -> str:
        grp = int(self.facet_last_group[facet])
        lo, r = int(self.first[grp]), int(self.last[grp])
        code = int(self.code[r])
        xs = self.x[lo : r + 1]
        monthly = np.issubdtype(xs.dtype, np.datetime64) and bool(
            (xs.astype("datetime64[M]").astype(xs.dtype) == xs).all()
        )  # monthly data (all on the 1st) reads "Aug 2026"; otherwise "3 Aug 2026"
        in_row = since = None
        if code in (RUN_ABOVE, RUN_BELOW):
            side = self.relative[lo : r + 1]
            same = side == side[-1]
            in_row = int(len(same) - np.flatnonzero(~same)[-1] - 1) if (~same).any() else len(same)
        elif code in (TREND_UP, TREND_DOWN):
            steps = np.sign(np.diff(self.y[lo : r + 1]))
            same = steps == steps[-1] if len(steps) else np.zeros(0, bool)
            k = int(len(same) - np.flatnonzero(~same)[-1] - 1) if (~same).any() else len(same)
            in_row = k + 1
        if in_row:
            since = _x_text(self.x[r - in_row + 1], monthly)
        assurance = int(self.assurance[grp])
        n_group = int(self.group_n[grp])
        missing = bool(np.isnan(self.y[r]))
        return mdc_reading(
            POINT_TYPES[int(self.pt[r])],
            label=self.label,
            special_cause_type=special_cause_types(self.run_length)[code],
            points_in_row=in_row,
            since=since,
            target=float(self.target[facet]) if self.direction != 0 else None,
            assurance=ASSURANCE_TYPES[assurance] if assurance >= 0 else None,
            n_points=n_group if n_group < MDC_SHORT_GROUP_THRESHOLD else None,
            missing_latest=_x_text(self.x[r], monthly) if missing else None,
        )


class _Readings(Mapping):
    """facet key -> reading, written the first time each is read (cheap for 20,000 facets)."""

    def __init__(self, keys: pd.Index, build: _ReadingBuilder):
        self._keys = keys
        self._build = build
        self._cache: dict[int, str] = {}

    def _position(self, key: Any) -> int:
        if len(self._keys) == 1 and self._keys[0] is None and key is None:
            return 0
        loc = _safe_loc(self._keys, key)
        if loc < 0:
            raise KeyError(key)
        return loc

    def __getitem__(self, key: Any) -> str:
        i = self._position(key)
        if i not in self._cache:
            self._cache[i] = self._build(i)
        return self._cache[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"<readings for {len(self)} series>"
