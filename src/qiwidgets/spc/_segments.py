"""Vectorised operations on many series at once.

Every series (a facet x part, or a facet x rebase group) is a *segment*: a run of consecutive
rows of one sorted array, identified by an integer code ``g`` that is non-decreasing. Each helper
works on all segments in one numpy pass, so charting 20,000 series costs no Python loop per
series.
"""

from __future__ import annotations

import numpy as np


def starts(g: np.ndarray) -> np.ndarray:
    """Boolean mask: True at the first row of each segment."""
    s = np.ones(len(g), dtype=bool)
    if len(g) > 1:
        s[1:] = g[1:] != g[:-1]
    return s


def seg_sum(values: np.ndarray, g: np.ndarray, n_groups: int, mask: np.ndarray | None = None):
    """Sum of ``values`` per segment (NaN-free inputs expected where ``mask`` is True)."""
    if mask is not None:
        return np.bincount(g[mask], weights=values[mask], minlength=n_groups)
    return np.bincount(g, weights=values, minlength=n_groups)


def seg_count(g: np.ndarray, n_groups: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Number of rows per segment (where ``mask`` is True)."""
    return np.bincount(g[mask] if mask is not None else g, minlength=n_groups).astype(float)


def seg_mean(values: np.ndarray, g: np.ndarray, n_groups: int, mask: np.ndarray) -> np.ndarray:
    """Mean per segment over rows where ``mask`` is True; NaN for an empty segment.

    Sums are taken in row order per segment with ``np.add.reduceat`` over the masked rows, which
    adds left to right like R's ``mean`` would before its refinement pass; the result is then
    refined with one correction pass (as R's ``mean.default`` does) so the figures match R.
    """
    out = np.full(n_groups, np.nan)
    if n_groups == 1:  # one series (every row is in segment 0): no segment bookkeeping
        v = values[mask]
        if v.size:
            m = np.add.reduce(v) / v.size
            out[0] = m + np.add.reduce(v - m) / v.size  # the same refinement as below
        return out
    if not mask.any():
        return out
    gv = g[mask]
    v = values[mask]
    first = starts(gv)
    idx = np.flatnonzero(first)
    sums = np.add.reduceat(v, idx)
    counts = np.diff(np.append(idx, len(v)))
    m = sums / counts
    # R's mean.default: mean + sum(x - mean)/n (long-double accumulation), one refinement step.
    resid = v - np.repeat(m, counts)
    m = m + np.add.reduceat(resid, idx) / counts
    out[gv[idx]] = m
    return out


def seg_median(values: np.ndarray, g: np.ndarray, n_groups: int, mask: np.ndarray) -> np.ndarray:
    """Median per segment over rows where ``mask`` is True; NaN for an empty segment."""
    out = np.full(n_groups, np.nan)
    if not mask.any():
        return out
    gv = g[mask]
    v = values[mask]
    order = np.lexsort((v, gv))
    gv = gv[order]
    v = v[order]
    idx = np.flatnonzero(starts(gv))
    counts = np.diff(np.append(idx, len(v)))
    lo = idx + (counts - 1) // 2
    hi = idx + counts // 2
    out[gv[idx]] = (v[lo] + v[hi]) / 2.0
    return out


def prev_in_segment(values: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The previous row's value within the same segment; NaN at each segment's first row."""
    prev = np.empty_like(values, dtype=float)
    prev[0:1] = np.nan
    prev[1:] = values[:-1]
    prev[starts(g)] = np.nan
    return prev


def run_lengths(key: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal ``key`` within each segment.

    Returns ``(run_id, run_start_mask, run_len_per_row)``: a run id per row (increasing), True at
    each run's first row, and the length of the run each row belongs to.
    """
    if len(key) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0, dtype=bool), empty
    new = starts(g)
    new[1:] |= key[1:] != key[:-1]
    run_id = np.cumsum(new) - 1
    lengths = np.bincount(run_id)
    return run_id, new, lengths[run_id]


# --- helpers added for the Making Data Count profile (qiwidgets.spc.mdc) ---------------------


def bounds(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first and of the last row of each segment, in segment order."""
    first = np.flatnonzero(starts(g))
    last = np.empty_like(first)
    if len(first):
        last[:-1] = first[1:] - 1
        last[-1] = len(g) - 1
    return first, last


def next_in_segment(values: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The next row's value within the same segment; NaN at each segment's last row."""
    nxt = np.empty(len(values), dtype=float)
    nxt[-1:] = np.nan
    nxt[:-1] = values[1:]
    if len(g) > 1:
        nxt[:-1][g[1:] != g[:-1]] = np.nan
    return nxt


def window_in_segment(g: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask: True at row i when rows i .. i+k-1 all exist and share one segment."""
    n = len(g)
    ok = np.zeros(n, dtype=bool)
    if k <= 0 or n < k:
        return ok
    # g is non-decreasing, so the first and the last row of the window decide.
    ok[: n - k + 1] = g[k - 1 :] == g[: n - k + 1]
    return ok


def spread_back(mask: np.ndarray, k: int) -> np.ndarray:
    """True at row p when ``mask`` is True at any of rows p-k+1 .. p (windows starting there).

    With ``mask`` marking the first row of qualifying k-row windows, this marks every row that
    such a window covers.
    """
    out = mask.copy()
    for lag in range(1, k):
        out[lag:] |= mask[:-lag]
    return out
