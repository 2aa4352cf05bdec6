"""Runs analysis for many series at once: Anhøj rules (qicharts2) and IHI run-chart rules.

Anhøj J, Olesen AV (2014) "Run charts revisited: a simulation study of run chart rules for
detection of non-random variation in health care processes", PLoS ONE 9(11): e113825.
Provost LP, Murray SK (2011) *The Health Care Data Guide*, chapter 3 (IHI rules).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from math import comb

import numpy as np

from qiwidgets.spc import _segments as seg
from qiwidgets.spc.constants import CROSSINGS_QUANTILE, IHI_SHIFT, IHI_TREND, LONGEST_RUN_OFFSET

#: Up to this many series, crossing limits are looked up one by one rather than by unique sizes.
SMALL_BATCH = 16


@cache
def _crossings_min(n: int) -> int:
    """qbinom(CROSSINGS_QUANTILE, n - 1, 1/2), computed exactly with integers.

    R's qbinom returns the smallest x with pbinom(x) >= p * (1 - 64 * DBL_EPSILON); the fuzz is
    kept so that the result matches R exactly.
    """
    m = n - 1
    need = Fraction(CROSSINGS_QUANTILE) * (1 - 64 * Fraction(np.finfo(float).eps)) * 2**m
    cum = 0
    for x in range(m + 1):
        cum += comb(m, x)
        if cum >= need:
            return x
    return m


def longest_run_limit(n_useful: np.ndarray) -> np.ndarray:
    """Anhøj's upper limit for the longest run: round(log2(n)) + 3 (NaN when n = 0)."""
    n = np.asarray(n_useful, dtype=float)
    with np.errstate(divide="ignore"):
        lim = np.round(np.log2(n)) + LONGEST_RUN_OFFSET
    return np.where(n >= 1, lim, np.nan)


def crossings_limit(n_useful: np.ndarray) -> np.ndarray:
    """Anhøj's lower limit for the number of crossings (NaN when n = 0)."""
    n = np.asarray(n_useful, dtype=float)
    out = np.full(n.shape, np.nan)
    ok = np.isfinite(n) & (n >= 1)
    if n.size <= SMALL_BATCH:  # a few series: look each up (cached) without sorting
        flat, sizes = out.reshape(-1), n.reshape(-1)  # views, also of a single number
        for i in np.flatnonzero(ok).tolist():
            flat[i] = _crossings_min(int(sizes[i]))
    elif ok.any():
        uniq, inv = np.unique(n[ok].astype(np.int64), return_inverse=True)
        out[ok] = np.array([_crossings_min(int(u)) for u in uniq], dtype=float)[inv]
    return out


def anhoej_signal(n_useful, longest_run, n_crossings) -> np.ndarray:
    """Anhøj runs signal: longest run above its limit or too few crossings (never for n = 0)."""
    with np.errstate(invalid="ignore"):
        signal = (np.asarray(longest_run) > longest_run_limit(n_useful)) | (
            np.asarray(n_crossings) < crossings_limit(n_useful)
        )
    return np.array(signal, dtype=bool)


def anhoej(y: np.ndarray, cl: np.ndarray, g: np.ndarray, n_groups: int, mask: np.ndarray) -> dict:
    """Anhøj runs statistics per segment.

    ``y`` and ``cl`` are per row; rows where ``mask`` is False are left out (excluded points);
    NaN values and values exactly on the centre line are not useful. Returns arrays of length
    ``n_groups``: ``n_obs``, ``n_useful``, ``longest_run``, ``n_crossings``,
    ``longest_run_max``, ``n_crossings_min`` and ``runs_signal``.
    """
    n_obs = seg.seg_count(g, n_groups, mask)
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    useful = mask & np.isfinite(side) & (side != 0)
    gu = g[useful]
    su = side[useful]
    n_useful = seg.seg_count(g, n_groups, useful)
    longest = np.zeros(n_groups)
    crossings = np.zeros(n_groups)
    if gu.size:
        _, run_start, run_len = seg.run_lengths(su, gu)
        if n_groups == 1:
            longest[0] = run_len.max()
        else:
            np.maximum.at(longest, gu, run_len)
        runs_per_group = np.bincount(gu[run_start], minlength=n_groups)
        crossings = np.maximum(runs_per_group - 1, 0).astype(float)
    lr_max = longest_run_limit(n_useful)
    nc_min = crossings_limit(n_useful)
    with np.errstate(invalid="ignore"):
        signal = (longest > lr_max) | (crossings < nc_min)  # as anhoej_signal, limits kept
    return {
        "n_obs": n_obs,
        "n_useful": n_useful,
        "longest_run": longest,
        "longest_run_max": lr_max,
        "n_crossings": crossings,
        "n_crossings_min": nc_min,
        "runs_signal": signal,
    }


def in_long_runs(y: np.ndarray, cl: np.ndarray, g: np.ndarray, mask: np.ndarray,
                 limit: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per row: True for the points of a run longer than ``limit`` (per row: the segment's
    ``longest_run_max``), counted on the useful points as :func:`anhoej` counts them (points
    on the centre line, missing or left out neither break nor count towards a run)."""
    out = np.zeros(len(y), dtype=bool)
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    useful = mask & np.isfinite(side) & (side != 0)
    idx = np.flatnonzero(useful)
    if idx.size:
        _, _, run_len = seg.run_lengths(side[idx], g[idx])
        with np.errstate(invalid="ignore"):
            out[idx] = run_len > np.asarray(limit)[idx]
    return out


# --- IHI run chart rules ------------------------------------------------------------------------


def ihi(y: np.ndarray, cl: np.ndarray, g: np.ndarray, mask: np.ndarray) -> dict:
    """IHI run-chart rules per point, for rows where ``mask`` is True.

    * shift: a point in a run of ``IHI_SHIFT`` or more consecutive useful points on one side of
      the median (points on the median neither break nor count towards a shift);
    * trend: a point in a run of ``IHI_TREND`` or more consecutive points all going up or all
      going down (a repeated value neither breaks nor counts towards a trend; missing values
      are skipped).

    Returns boolean arrays ``shift`` and ``trend`` of the length of ``y``, and ``trend_way``:
    +1 for a point of a rising trend, -1 of a falling one, 0 elsewhere (a point where a rising
    trend turns into a falling one takes the way of the later trend).
    """
    n = len(y)
    shift = np.zeros(n, dtype=bool)
    trend = np.zeros(n, dtype=bool)
    trend_way = np.zeros(n, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        side = np.sign(y - cl)
    useful = mask & np.isfinite(side) & (side != 0)
    idx = np.flatnonzero(useful)
    if idx.size:
        _, _, run_len = seg.run_lengths(side[idx], g[idx])
        shift[idx[run_len >= IHI_SHIFT]] = True

    # trend: drop missing values, then repeated values (they neither break nor count)
    idx = np.flatnonzero(mask & np.isfinite(y))
    if idx.size > 1:
        yv, gv = y[idx], g[idx]
        keep = np.ones(idx.size, dtype=bool)
        keep[1:] = ~((yv[1:] == yv[:-1]) & (gv[1:] == gv[:-1]))
        idx, yv, gv = idx[keep], yv[keep], gv[keep]
        step = np.sign(np.diff(yv))
        same_group = gv[1:] == gv[:-1]
        step[~same_group] = 0
        # runs of equal step direction; a run of k equal steps covers k + 1 points
        key = np.where(same_group, step, np.nan)
        steps_g = np.cumsum(np.r_[0, ~same_group])[:-1] if step.size else step
        if step.size:
            new = np.ones(step.size, dtype=bool)
            new[1:] = (key[1:] != key[:-1]) | (steps_g[1:] != steps_g[:-1])
            run_id = np.cumsum(new) - 1
            run_len = np.bincount(run_id)[run_id]
            hit = (run_len >= IHI_TREND - 1) & (step != 0) & same_group
            pts = np.zeros(idx.size, dtype=bool)
            pts[:-1] |= hit
            pts[1:] |= hit
            trend[idx[pts]] = True
            way = np.zeros(idx.size, dtype=np.int8)
            way[1:][hit] = step[hit]  # the step that joins a point to the trend before it
            way[:-1][hit] = step[hit]  # a step to the next point of a trend wins (later trend)
            trend_way[idx] = way
    return {"shift": shift, "trend": trend, "trend_way": trend_way}
