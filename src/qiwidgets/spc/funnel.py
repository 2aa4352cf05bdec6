"""Funnel plots: compare units (teams, wards, providers) on one measure, FunnelPlotR semantics.

A funnel plot draws each unit's value against its denominator, with limits around the overall
target that narrow as the denominator grows (Spiegelhalter 2005, "Funnel plots for comparing
institutional performance", Stat Med 24:1185-1202). Units outside the limits show more variation
than chance alone would give. When the units differ among themselves more than the sampling
variation allows (*overdispersion*), the limits are widened by a between-unit variance ``tau2``
estimated from Winsorised or truncated z-scores (Spiegelhalter 2005, "Handling over-dispersion of
performance indicators", Qual Saf Health Care 14:347-351).

The computation follows the R package FunnelPlotR 0.6.0 exactly, including its quirks (see
``../shared/reference/funnel/README.md``): SHMI rounding of expected counts with R's ``round``,
the CQC limits left on the ratio scale, RC limits with ``1 / (2 sqrt(n))``, the PR limits'
clipping and monotonicity fix along the limit grid, and the ``phi <= 1`` fallback to unadjusted
limits. Two consequences worth knowing when reading a chart: the CQC limits are about half as wide
as the Poisson ones, so CQC flags many more units; and because the PR fix compares each grid row
with the next one only, the grid's last row (the largest denominator) keeps the raw
``sin(asin(sqrt(target)) - z sd)^2`` value, which lies above the target when ``z sd`` exceeds
twice ``asin(sqrt(target))`` (very small proportions with small denominators).

Everything is vectorised over units; there is no Python loop per unit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.errors import SPCDataError, SPCOptionError
from qiwidgets.spc.constants import (
    FUNNEL_GRID_POINTS,
    FUNNEL_GRID_START_OTHER,
    FUNNEL_GRID_START_SR,
    FUNNEL_P95,
    FUNNEL_P998,
    FUNNEL_RC_CONTINUITY,
    FUNNEL_SHMI_ROUND_DIGITS,
    FUNNEL_TRIM_BY,
    FUNNEL_Z95,
    FUNNEL_Z998,
)
from qiwidgets.spc.result import SPCResult

__all__ = ["FunnelResult", "funnel", "funnel_limits", "r_round"]

log = logging.getLogger("qiwidgets.spc.funnel")

DATA_TYPES = ("PR", "SR", "RC")
SR_METHODS = ("SHMI", "CQC")
#: FunnelPlotR's ``limit`` values; 99 means the 99.8 % limits. 99.8 is accepted as an alias.
LIMITS = {95: 95, 99: 99.8, 99.8: 99.8}

RULE_SET = "Funnel (Spiegelhalter)"

#: The columns of the limit curve, in order (see :func:`funnel_limits`).
LIMIT_COLUMNS = (
    "denominator",
    "s",
    "od95_lcl",
    "od95_ucl",
    "od998_lcl",
    "od998_ucl",
    "lcl95",
    "ucl95",
    "lcl998",
    "ucl998",
)

_FALLBACK_MESSAGE = (
    "No overdispersion detected (phi = {phi:.3g} <= 1): plotting and judging on the "
    "unadjusted limits."
)


@dataclass(frozen=True, repr=False)
class FunnelResult(SPCResult):
    """What :func:`funnel` computed: an :class:`SPCResult` plus the limit curve.

    Attributes
    ----------
    limits:
        The limit curve for drawing (FunnelPlotR's ``limits()``): one row per denominator of a
        grid of 1,000 evenly spaced values from 1.1 (SR) or 3 (PR, RC) to the largest
        denominator rounded up, plus every unit's own denominator. Columns: ``denominator``,
        ``s`` (the standard error the limits use), ``od95_lcl``, ``od95_ucl``, ``od998_lcl``,
        ``od998_ucl`` (limits adjusted for overdispersion with the returned ``tau2``),
        ``lcl95``, ``ucl95``, ``lcl998``, ``ucl998`` (unadjusted limits). All are multiplied by
        ``multiplier``. Which sets are drawn is in ``summary`` (``draw_adjusted``,
        ``draw_unadjusted``) and ``options``.
    """

    limits: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        return (
            f"<FunnelResult rule_set={self.rule_set!r} units={len(self.points)} "
            f"limit_rows={len(self.limits)}>"
        )

    def chart(self, **options: Any) -> Any:
        """The funnel plot as an Altair chart, drawn by :func:`qiwidgets.charts.funnel_chart`
        (with its options); ``to_svg``, ``to_png`` and the notebook display use it."""
        from qiwidgets import charts

        return charts.funnel_chart(self, **options)


# --- public entry point ---------------------------------------------------------------------


def funnel(
    data: pd.DataFrame,
    numerator: str,
    denominator: str,
    group: str,
    data_type: str = "SR",
    sr_method: str = "SHMI",
    limit: float = 99,
    draw_adjusted: bool = True,
    draw_unadjusted: bool = False,
    trim_by: float = FUNNEL_TRIM_BY,
    multiplier: float = 1,
    label: str | None = None,
    shmi_rounding: bool = True,
    unit_noun: str = "team",
) -> FunnelResult:
    """Funnel plot data for comparing units on one measure (FunnelPlotR 0.6.0 semantics).

    Parameters
    ----------
    data:
        A tidy DataFrame. Several rows per unit are summed (numerators and denominators).
        Rows with a missing group, numerator or denominator are left out, with a warning.
    numerator, denominator, group:
        Column names. For ``"SR"`` the denominator is the expected count (e.g. from a risk
        model: a rate per bed day becomes observed / expected), for ``"PR"`` the number of
        cases, for ``"RC"`` the count the numerator is compared with.
    data_type:
        ``"PR"`` proportions, ``"SR"`` standardised ratios (observed / expected) or ``"RC"``
        ratios of counts.
    sr_method:
        For ``"SR"``: ``"SHMI"`` (log scale, truncation of the top and bottom ``trim_by`` of
        z-scores, expected counts rounded to 2 decimals) or ``"CQC"`` (square-root scale,
        Winsorisation; FunnelPlotR leaves its limits on the ratio scale, nhs-r-community/
        FunnelPlotR#33, and so do we).
    limit:
        ``95`` or ``99`` (FunnelPlotR's name for the 99.8 % limits; ``99.8`` is accepted too):
        the limits outliers are judged on. Both sets are always computed.
    draw_adjusted, draw_unadjusted:
        Which limits are drawn. Outliers are judged on the adjusted limits when they are drawn,
        otherwise on the unadjusted ones; with neither, no unit is judged. As in FunnelPlotR,
        ``draw_adjusted=True, draw_unadjusted=False`` falls back to the unadjusted limits when
        ``phi <= 1`` (no overdispersion); ``draw_adjusted=False`` reports ``phi = tau2 = 0``
        (the computed values stay in ``summary`` as ``phi_computed`` and ``tau2_computed``).
    trim_by:
        Share of units trimmed (SHMI) or Winsorised (all others) at each end before ``phi`` is
        estimated; strictly between 0 and 0.5.
    multiplier:
        Scales values and limits (e.g. 100 for percentages); positive.
    label:
        The measure's name for the reading (default ``"<numerator> / <denominator>"``).
    shmi_rounding:
        Round expected counts to 2 decimals for SR/SHMI (FunnelPlotR's ``SHMI_rounding``).
    unit_noun:
        What a unit is called in the reading (``"team"``, ``"ward"``, ``"provider"``).

    Returns
    -------
    FunnelResult
        ``points``: one row per unit, sorted by group: ``group``, ``numerator``,
        ``denominator_input`` (summed), ``denominator`` (used: SHMI-rounded for SR/SHMI),
        ``rr`` (numerator / summed denominator), ``value`` (``multiplier * numerator /
        denominator``, what is drawn), ``target`` (``multiplier`` x target, in plotted units
        like ``value``), ``target_transformed``, ``y_transformed``, ``s_zscore``, ``z``, ``z_trimmed`` (NaN when
        truncated), ``trimmed`` (truncated or Winsorised), ``rank`` and ``trunc_group`` (SHMI
        only), ``s_limits``, the eight limits at the unit's denominator (``od95_lcl``, ...,
        ``ucl998``, named as in ``limits``), ``lcl`` and ``ucl`` (the limits it is judged on),
        ``judged_on`` (``"adjusted"``, ``"unadjusted"`` or ``None``), ``outlier`` and
        ``position`` (``"above_limit"``, ``"below_limit"``, ``"within_limits"`` or
        ``"not_judged"``).

        ``summary``: one row: ``data_type``, ``sr_method``, ``limit`` (95 or 99.8), ``phi``,
        ``tau2`` (as FunnelPlotR returns them), ``phi_computed``, ``tau2_computed``,
        ``n_units``, ``n_used_for_phi``, ``winsor_lower_z``, ``winsor_upper_z``, ``target``
        (FunnelPlotR's value, in data units: 0.155 for a proportion drawn as 15.5 %),
        ``target_plotted`` (``multiplier`` x target: where the centre line is drawn),
        ``target_transformed``, ``multiplier``, ``n_outliers``, ``n_above``, ``n_below``,
        ``draw_adjusted_requested``, ``draw_unadjusted_requested``, ``draw_adjusted``,
        ``draw_unadjusted`` (effective), ``judged_on``.

        ``limits``: the limit curve (see :class:`FunnelResult`). ``readings[None]``: one
        plain sentence.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"unit": list("abcdef"),
    ...                   "obs": [100, 150, 180, 80, 120, 225],
    ...                   "exp": [108, 112, 165, 95, 100, 220]})
    >>> r = funnel(d, numerator="obs", denominator="exp", group="unit")
    >>> round(float(r.summary["phi"].iloc[0]), 6)
    2.948033
    >>> r.reading
    'obs / exp across 6 teams: all 6 teams are within the 99.8 % limits; limits adjusted for overdispersion (phi = 2.9).'
    """
    opts = _check_options(
        data,
        numerator=numerator,
        denominator=denominator,
        group=group,
        data_type=data_type,
        sr_method=sr_method,
        limit=limit,
        draw_adjusted=draw_adjusted,
        draw_unadjusted=draw_unadjusted,
        trim_by=trim_by,
        multiplier=multiplier,
        label=label,
        shmi_rounding=shmi_rounding,
        unit_noun=unit_noun,
    )
    groups, num_rows, den_rows, warns = _check_data(data, opts)
    units = _aggregate(groups, num_rows, den_rows)
    _check_units(units, opts)
    return _compute(units, opts, warns)


# --- validation, stage 1: options alone -----------------------------------------------------


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and np.isfinite(float(x))


def _check_options(data: Any, **o: Any) -> dict[str, Any]:
    if not isinstance(data, pd.DataFrame):
        raise SPCOptionError(f"`data` must be a pandas DataFrame, got {type(data).__name__}.")
    for arg in ("numerator", "denominator", "group"):
        if not isinstance(o[arg], str) or not o[arg]:
            raise SPCOptionError(f"`{arg}` must be a column name (a string), got {o[arg]!r}.")
    if o["data_type"] not in DATA_TYPES:
        raise SPCOptionError(
            f"`data_type` must be one of 'PR', 'SR', 'RC', got {o['data_type']!r}."
        )
    if o["sr_method"] not in SR_METHODS:
        raise SPCOptionError(f"`sr_method` must be one of 'SHMI', 'CQC', got {o['sr_method']!r}.")
    if not _is_number(o["limit"]) or float(o["limit"]) not in LIMITS:
        raise SPCOptionError(
            f"`limit` must be one of 95, 99 (meaning 99.8 %), 99.8, got {o['limit']!r}."
        )
    for arg in ("draw_adjusted", "draw_unadjusted", "shmi_rounding"):
        if not isinstance(o[arg], (bool, np.bool_)):
            raise SPCOptionError(f"`{arg}` must be True or False, got {o[arg]!r}.")
    if not _is_number(o["trim_by"]) or not 0 < float(o["trim_by"]) < 0.5:
        raise SPCOptionError(
            f"`trim_by` must be a number greater than 0 and less than 0.5, got {o['trim_by']!r}."
        )
    if not _is_number(o["multiplier"]) or not float(o["multiplier"]) > 0:
        raise SPCOptionError(f"`multiplier` must be a positive number, got {o['multiplier']!r}.")
    if o["label"] is not None and not isinstance(o["label"], str):
        raise SPCOptionError(f"`label` must be a string or None, got {o['label']!r}.")
    if not isinstance(o["unit_noun"], str) or not o["unit_noun"].strip():
        raise SPCOptionError(f"`unit_noun` must be a non-empty string, got {o['unit_noun']!r}.")
    out = dict(o)
    out["limit"] = LIMITS[float(o["limit"])]
    out["trim_by"] = float(o["trim_by"])
    out["multiplier"] = float(o["multiplier"])
    out["draw_adjusted"] = bool(o["draw_adjusted"])
    out["draw_unadjusted"] = bool(o["draw_unadjusted"])
    out["shmi_rounding"] = bool(o["shmi_rounding"])
    return out


# --- validation, stage 2: options against the data ------------------------------------------


def _numeric_column(data: pd.DataFrame, arg: str, col: str) -> np.ndarray:
    s = data[col]
    if pd.api.types.is_bool_dtype(s):
        raise SPCDataError(f"`{arg}` column {col!r} must be numeric, got booleans.")
    if pd.api.types.is_numeric_dtype(s):
        values = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        coerced = pd.to_numeric(s, errors="coerce")
        bad = coerced.isna() & s.notna()
        if bad.any():
            first = s[bad].iloc[0]
            raise SPCDataError(
                f"`{arg}` column {col!r} must be numeric, got {first!r} "
                f"({int(bad.sum())} non-numeric value(s))."
            )
        values = coerced.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        raise SPCDataError(f"`{arg}` column {col!r} must be finite, got an infinite value.")
    return values


def _check_data(data: pd.DataFrame, o: dict[str, Any]):
    missing = [
        f"`{arg}` = {o[arg]!r}"
        for arg in ("numerator", "denominator", "group")
        if o[arg] not in data.columns
    ]
    if missing:
        raise SPCDataError(
            f"Column(s) not found in `data`: {', '.join(missing)}; "
            f"the columns are {list(map(str, data.columns))}."
        )
    if len(data) == 0:
        raise SPCDataError("`data` must have at least one row, got an empty DataFrame.")
    num = _numeric_column(data, "numerator", o["numerator"])
    den = _numeric_column(data, "denominator", o["denominator"])
    grp = data[o["group"]]

    warns: list[str] = []
    keep = ~(np.isnan(num) | np.isnan(den) | grp.isna().to_numpy())
    if not keep.all():
        n_drop = int((~keep).sum())
        warns.append(
            f"{n_drop} row(s) with a missing `group`, `numerator` or `denominator` were left out."
        )
    num, den, grp = num[keep], den[keep], grp[keep]
    if len(num) == 0:
        raise SPCDataError(
            "`data` has no row with `group`, `numerator` and `denominator` all present."
        )

    for arg, v in (("numerator", num), ("denominator", den)):
        neg = v < 0
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise SPCDataError(
                f"`{arg}` must not be negative (counts), got {v[i]:g} for {o['group']} "
                f"{grp.iloc[i]!r}."
            )
    if o["data_type"] == "PR":
        over = num > den
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise SPCDataError(
                f"`numerator` must not exceed `denominator` for data_type 'PR', got "
                f"{num[i]:g} > {den[i]:g} for {o['group']} {grp.iloc[i]!r}."
            )
    return grp, num, den, warns


def _aggregate(groups: pd.Series, num: np.ndarray, den: np.ndarray) -> pd.DataFrame:
    """Sum numerators and denominators per unit, sorted by unit (R factor-level order)."""
    frame = pd.DataFrame({"group": groups.to_numpy(), "numerator": num, "denominator": den})
    if isinstance(groups.dtype, pd.CategoricalDtype):
        frame["group"] = pd.Categorical(frame["group"], categories=groups.cat.categories)
    try:
        agg = frame.groupby("group", sort=True, observed=True).sum()
    except TypeError as exc:  # e.g. numbers and strings mixed in one column
        raise SPCDataError(
            f"`group` values must be of one sortable type (all text or all numbers): {exc}."
        ) from None
    return agg.reset_index()


def _check_units(units: pd.DataFrame, o: dict[str, Any]) -> None:
    zero = units["denominator"].to_numpy() <= 0
    if zero.any():
        names = ", ".join(repr(g) for g in units["group"][zero].head(5))
        raise SPCDataError(
            f"`denominator` must be greater than 0 for every unit, got 0 for {o['group']} {names}."
        )
    if o["data_type"] == "RC" and not units["numerator"].sum() > 0:
        raise SPCDataError(
            "`numerator` must not be 0 for every unit with data_type 'RC' "
            "(the target ratio would be 0 and its logarithm undefined)."
        )
    if len(units) < 2:
        raise SPCDataError(
            f"`group` must hold at least 2 units to compare, got {len(units)} "
            f"(column {o['group']!r})."
        )


# --- the computation ------------------------------------------------------------------------


def r_round(x: np.ndarray, digits: int) -> np.ndarray:
    """R (>= 4.0) ``round(x, digits)``: of the two decimal candidates around ``x``, the one
    nearer in double precision; on an exact tie, the one whose last digit is even.

    Python's ``round`` and ``numpy.round`` differ from R on about 10 % of x.xx5 values
    (e.g. R rounds 300.335 to 300.34 and 258.395 to 258.4).
    """
    x = np.asarray(x, dtype=float)
    p = 10.0**digits
    sign = np.sign(x)
    a = np.abs(x)
    lo_i = np.floor(a * p)
    hi_i = np.ceil(a * p)
    lo = lo_i / p
    hi = hi_i / p
    d_lo = a - lo
    d_hi = hi - a
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (np.fmod(lo_i, 2) != 0))
    return sign * np.where(pick_hi, hi, lo)


def _transform(o_: np.ndarray, e: np.ndarray, data_type: str, sr_method: str, target: float):
    """Transformed values Y, their standard errors and z-scores (FunnelPlotR 0.6.0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if data_type == "SR" and sr_method == "SHMI":
            y = np.log(o_ / e)
            s = 1 / np.sqrt(e)
            target_t = 0.0
            z = np.sqrt(e) * y
        elif data_type == "SR":  # CQC: square-root scale
            y = np.sqrt(o_ / e)
            s = 1 / (2 * np.sqrt(e))
            target_t = 1.0
            z = (y - target_t) / s
        elif data_type == "PR":
            y = np.arcsin(np.sqrt(o_ / e))
            s = 1 / (2 * np.sqrt(e))
            target_t = float(np.arcsin(np.sqrt(target)))
            z = (y - target_t) / s
        else:  # RC
            c = FUNNEL_RC_CONTINUITY
            y = np.log((o_ + c) / (e + c))
            s = np.sqrt(o_ / (o_ + c) ** 2 + e / (e + c) ** 2)
            target_t = float(np.log(target))
            z = (y - target_t) / s
    return y, s, target_t, z


def _truncate(z: np.ndarray, trim_by: float):
    """SHMI truncation: drop the units whose z ranks in the top or bottom ``trim_by``."""
    k = 1 / trim_by
    rank = pd.Series(z).rank(method="average").to_numpy()  # as scipy.stats.rankdata
    sp = np.floor(rank * k / (len(z) + 1))
    kept = (sp > 0) & (sp < k - 1)
    return np.where(kept, z, np.nan), ~kept, rank, sp


def _r_quantile7(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's default ``quantile(x, probs)`` (type 7), with R's arithmetic."""
    xs = np.sort(x)
    n = len(xs)
    index = 1 + max(n - 1, 0) * probs
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = xs[lo - 1]
    h = index - lo
    upper = xs[hi - 1]
    interp = (index > lo) & (upper != qs)
    return np.where(interp, (1 - h) * qs + h * upper, qs)


def _winsorise(z: np.ndarray, trim_by: float):
    """Winsorisation: clamp z to its ``trim_by`` and ``1 - trim_by`` quantiles."""
    lz, uz = _r_quantile7(z, np.array([trim_by, 1 - trim_by]))
    z_w = np.clip(z, lz, uz)
    flagged = ~((z > lz) & (z < uz))
    return z_w, flagged, float(lz), float(uz)


def _phi_tau2(z_trimmed: np.ndarray, s: np.ndarray) -> tuple[float, float, int]:
    """Dispersion ratio phi and between-unit variance tau2 (DerSimonian-Laird style)."""
    kept = ~np.isnan(z_trimmed)
    n = int(kept.sum())
    if n == 0:
        return float("nan"), float("nan"), 0
    phi = float(np.sum(z_trimmed[kept] ** 2) / n)
    if n * phi < n - 1:
        return phi, 0.0, n
    w = 1 / s[kept] ** 2
    sw = np.sum(w)
    denom = sw - np.sum(w**2) / sw
    if not denom > 0:
        return phi, 0.0, n
    return phi, float(max(0.0, (n * phi - (n - 1)) / denom)), n


def _grid(den: np.ndarray, data_type: str) -> np.ndarray:
    """FunnelPlotR's limit grid: seq(start, ceiling(max(den)), length.out = 1000) + unit dens."""
    a = FUNNEL_GRID_START_SR if data_type == "SR" else FUNNEL_GRID_START_OTHER
    b = float(np.ceil(np.max(den)))
    n1 = FUNNEL_GRID_POINTS - 1
    seq = np.empty(FUNNEL_GRID_POINTS)
    seq[0] = a
    seq[1:-1] = a + np.arange(1, n1) * ((b - a) / n1)
    seq[-1] = b
    return np.unique(np.concatenate([seq, den]))


def _pr_correct(lcl: np.ndarray, ucl: np.ndarray, m: float):
    """Clip PR limits to [0, m], then FunnelPlotR's one-pass monotonicity fix along the grid."""
    lcl = np.where(lcl < 0, 0.0, lcl)
    ucl = np.where(ucl > m, m, ucl)
    lcl_out, ucl_out = lcl.copy(), ucl.copy()
    lcl_out[:-1] = np.where(lcl[:-1] > lcl[1:], 0.0, lcl[:-1])
    ucl_out[:-1] = np.where(ucl[:-1] < ucl[1:], m, ucl[:-1])
    return lcl_out, ucl_out


def funnel_limits(
    n: np.ndarray,
    data_type: str = "SR",
    sr_method: str = "SHMI",
    target: float = 1.0,
    tau2: float = 0.0,
    multiplier: float = 1.0,
) -> pd.DataFrame:
    """Funnel limits at the denominators ``n`` (sorted ascending for PR's monotonicity fix).

    Returns a DataFrame with the columns of :data:`LIMIT_COLUMNS`. The ``od*`` limits use
    ``tau2``; the unadjusted limits are exact Poisson for SR and the ``od*`` formulas with
    ``tau2 = 0`` for PR and RC.

    >>> lim = funnel_limits([15, 20, 30])
    >>> [round(v, 7) for v in lim["lcl95"]]
    [0.5596924, 0.610826, 0.6746958]
    """
    return pd.DataFrame(
        _limit_arrays(np.asarray(n, dtype=float), data_type, sr_method, target, tau2, multiplier),
        columns=list(LIMIT_COLUMNS),
    )


def _limit_arrays(
    n: np.ndarray, data_type: str, sr_method: str, target: float, tau2: float, multiplier: float
) -> dict[str, np.ndarray]:
    m = float(multiplier)
    z = {"95": FUNNEL_Z95, "998": FUNNEL_Z998}
    p = {"95": FUNNEL_P95, "998": FUNNEL_P998}
    s = 1 / np.sqrt(n) if (data_type == "SR" and sr_method == "SHMI") else 1 / (2 * np.sqrt(n))
    out: dict[str, np.ndarray] = {"denominator": n, "s": s}

    def limits(t2: float, key: str) -> tuple[np.ndarray, np.ndarray]:
        sd = np.sqrt(s**2 + t2)
        if data_type == "SR" and sr_method == "SHMI":
            return m * np.exp(-z[key] * sd), m * np.exp(z[key] * sd)
        if data_type == "SR":  # CQC, not squared back (FunnelPlotR#33)
            return m * (1 - z[key] * sd), m * (1 + z[key] * sd)
        if data_type == "RC":
            lt = np.log(target)
            return m * np.exp(lt - z[key] * sd), m * np.exp(lt + z[key] * sd)
        at = np.arcsin(np.sqrt(target))
        lo, hi = m * np.sin(at - z[key] * sd) ** 2, m * np.sin(at + z[key] * sd) ** 2
        return _pr_correct(lo, hi, m)

    for key in ("95", "998"):
        out[f"od{key}_lcl"], out[f"od{key}_ucl"] = limits(tau2, key)
    for key in ("95", "998"):
        if data_type == "SR":  # exact Poisson (chi-square form)
            from scipy import special  # here: importing it costs ~0.3 s per kernel

            # chdtri(df, q) = qchisq(q, df, lower.tail = FALSE) = scipy.stats.chi2.isf(q, df)
            lo = m * target * special.chdtri(2 * n, 1 - p[key]) / 2 / n
            hi = m * target * special.chdtri(2 * (n + 1), p[key]) / 2 / n
        else:
            lo, hi = limits(0.0, key)
        out[f"lcl{key}"], out[f"ucl{key}"] = lo, hi
    return out


def _compute(units: pd.DataFrame, o: dict[str, Any], warns: list[str]) -> FunnelResult:
    data_type, sr_method, m = o["data_type"], o["sr_method"], o["multiplier"]
    shmi = data_type == "SR" and sr_method == "SHMI"
    num = units["numerator"].to_numpy(dtype=float)
    den_in = units["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = num / den_in
    den = r_round(den_in, FUNNEL_SHMI_ROUND_DIGITS) if (shmi and o["shmi_rounding"]) else den_in
    if (den <= 0).any():
        raise SPCDataError(
            "`denominator` must be at least 0.005 for every unit with sr_method 'SHMI' "
            "(expected counts are rounded to 2 decimals); "
            f"got {den_in[den <= 0].min():g}."
        )
    target = 1.0 if data_type == "SR" else float(num.sum() / den_in.sum())

    y, s_z, target_t, z = _transform(num, den, data_type, sr_method, target)
    n_units = len(num)
    rank = np.full(n_units, np.nan)
    trunc_group = np.full(n_units, np.nan)
    lz = uz = float("nan")
    if shmi:
        z_trim, trimmed, rank, trunc_group = _truncate(z, o["trim_by"])
    else:
        z_trim, trimmed, lz, uz = _winsorise(z, o["trim_by"])
    if not np.isfinite(z_trim[~np.isnan(z_trim)]).all():
        warns.append(
            "A unit with an infinite z-score (e.g. 0 observed with sr_method 'SHMI') entered "
            "the estimate of phi; phi and tau2 are infinite."
        )
    phi_c, tau2_c, n_used = _phi_tau2(z_trim, s_z)

    # FunnelPlotR: draw_adjusted = FALSE zeroes phi and tau2; phi <= 1 with only adjusted
    # limits requested falls back to the unadjusted limits.
    draw_adj, draw_unadj = o["draw_adjusted"], o["draw_unadjusted"]
    phi = phi_c if draw_adj else 0.0
    tau2 = tau2_c if draw_adj else 0.0
    fallback = draw_adj and not draw_unadj and phi_c <= 1
    if fallback:
        draw_adj, draw_unadj = False, True
        warns.append(_FALLBACK_MESSAGE.format(phi=phi_c))
        log.info(_FALLBACK_MESSAGE.format(phi=phi_c))

    grid = _grid(den, data_type)
    lim = _limit_arrays(grid, data_type, sr_method, target, tau2, m)
    at = np.searchsorted(grid, den)
    unit_limits = {k: v[at] for k, v in lim.items()}

    key = "95" if o["limit"] == 95 else "998"
    if draw_adj:
        judged_on = "adjusted"
        lcl = unit_limits[f"od{key}_lcl"]
        ucl = unit_limits[f"od{key}_ucl"]
    elif draw_unadj:
        judged_on = "unadjusted"
        lcl = unit_limits[f"lcl{key}"]
        ucl = unit_limits[f"ucl{key}"]
    else:
        judged_on = None
        lcl = ucl = np.full(n_units, np.nan)
    value_judged = m * rr
    above = (value_judged > ucl) if judged_on else np.zeros(n_units, dtype=bool)
    below = (value_judged < lcl) if judged_on else np.zeros(n_units, dtype=bool)
    outlier = above | below
    position = np.where(
        above, "above_limit", np.where(below, "below_limit", "within_limits")
    ).astype(object)
    if judged_on is None:
        position[:] = "not_judged"

    columns: dict[str, Any] = {
        "group": units["group"].array,
        "numerator": num,
        "denominator_input": den_in,
        "denominator": den,
        "rr": rr,
        "value": m * num / den,
        "target": np.full(n_units, m * target),
        "target_transformed": np.full(n_units, target_t),
        "y_transformed": y,
        "s_zscore": s_z,
        "z": z,
        "z_trimmed": z_trim,
        "trimmed": trimmed.astype(bool),
        "rank": rank,
        "trunc_group": trunc_group,
        "s_limits": unit_limits["s"],
    }
    columns.update({col: unit_limits[col] for col in LIMIT_COLUMNS[2:]})
    columns.update(
        lcl=lcl,
        ucl=ucl,
        judged_on=np.full(n_units, judged_on, dtype=object),
        outlier=outlier,
        position=position,
    )
    points = pd.DataFrame(columns)
    limits = pd.DataFrame(lim, columns=list(LIMIT_COLUMNS))

    summary = pd.DataFrame(
        [
            {
                "data_type": data_type,
                "sr_method": sr_method if data_type == "SR" else None,
                "limit": o["limit"],
                "phi": phi,
                "tau2": tau2,
                "phi_computed": phi_c,
                "tau2_computed": tau2_c,
                "n_units": n_units,
                "n_used_for_phi": n_used,
                "winsor_lower_z": lz,
                "winsor_upper_z": uz,
                "target": target,  # FunnelPlotR's summary: data units, never multiplied
                "target_plotted": m * target,  # where the centre line is drawn
                "target_transformed": target_t,
                "multiplier": m,
                "n_outliers": int(outlier.sum()),
                "n_above": int(above.sum()),
                "n_below": int(below.sum()),
                "draw_adjusted_requested": o["draw_adjusted"],
                "draw_unadjusted_requested": o["draw_unadjusted"],
                "draw_adjusted": draw_adj,
                "draw_unadjusted": draw_unadj,
                "judged_on": judged_on,
            }
        ]
    )
    options = {
        k: o[k]
        for k in (
            "numerator",
            "denominator",
            "group",
            "data_type",
            "sr_method",
            "limit",
            "trim_by",
            "multiplier",
            "label",
            "shmi_rounding",
            "unit_noun",
        )
    }
    options.update(
        draw_adjusted_requested=o["draw_adjusted"],
        draw_unadjusted_requested=o["draw_unadjusted"],
        draw_adjusted=draw_adj,
        draw_unadjusted=draw_unadj,
    )
    reading = _reading(points, o, phi_c, draw_adj, draw_unadj, fallback, judged_on)
    return FunnelResult(
        points=points,
        summary=summary,
        readings={None: reading},
        chart_type="funnel",
        rule_set=RULE_SET,
        facets=(),
        options=options,
        warnings=tuple(warns),
        limits=limits,
    )


# --- the plain-language reading -------------------------------------------------------------


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _names(groups: pd.Series, limit: int = 5) -> str:
    names = [str(g) for g in groups]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)


def _reading(points, o, phi_c, draw_adj, draw_unadj, fallback, judged_on) -> str:
    noun = o["unit_noun"].strip()
    label = o["label"] or f"{o['numerator']} / {o['denominator']}"
    n = len(points)
    pct = "95 %" if o["limit"] == 95 else "99.8 %"
    head = f"{label} across {_plural(n, noun)}: "
    if judged_on is None:
        return head + "no limits are drawn, so no " + noun + " is compared with them."
    above = points.loc[points["position"] == "above_limit", "group"]
    below = points.loc[points["position"] == "below_limit", "group"]
    if len(above) == 0 and len(below) == 0:
        body = f"all {_plural(n, noun)} are within the {pct} limits"
    elif len(above) and len(below):
        verb = "is" if len(above) == 1 else "are"
        body = (
            f"{_plural(len(above), noun)} {verb} above the {pct} limit ({_names(above)}), "
            f"{len(below)} below ({_names(below)})"
        )
    elif len(above):
        verb = "is" if len(above) == 1 else "are"
        body = f"{_plural(len(above), noun)} {verb} above the {pct} limit ({_names(above)}), none below"
    else:
        verb = "is" if len(below) == 1 else "are"
        body = f"{_plural(len(below), noun)} {verb} below the {pct} limit ({_names(below)}), none above"
    if fallback:
        tail = f"no overdispersion found (phi = {phi_c:.1f}), so the limits are not adjusted"
    elif draw_adj:
        tail = f"limits adjusted for overdispersion (phi = {phi_c:.1f})"
    else:
        tail = "limits not adjusted for overdispersion"
    return f"{head}{body}; {tail}."
