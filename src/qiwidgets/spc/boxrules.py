"""Best-box and cut-box runs rules (qicharts2 ``method = 'bestbox'`` / ``'cutbox'``).

The rules come from

    Anhøj J, Wentzel-Larsen T (2020) "Smooth operator: Modifying the Anhøj rules to improve
    runs analysis in statistical process control", PLoS ONE 15(6): e0233920.

and rest on the exact joint distribution of the number of crossings C and the longest run L of a
sequence of N independent above/below signs (Wentzel-Larsen T, Anhøj J (2019) "Joint
distribution for number of crossings and longest run in independent Bernoulli observations.
The R package crossrun", PLoS ONE 14(10): e0223233).

Definitions used here, as stated in the 2020 paper (section "Best box and cut box adjustments"):

* A *box* is the region ``C >= c, L <= l`` of the (C, L) plane that declares random variation.
  Its *corner* is the cell ``C = c, L = l``.
* *Specificity* of a region is P(region | no shift): each sign is above with probability 1/2.
  *Sensitivity* is 1 - P(region | shift): the data are shifted by ``BOX_RULE_TARGET_SHIFT``
  standard deviations, so each point is above the (fixed, known) centre with probability
  Phi(0.8).
* The *best box* for N is the box with the highest sensitivity among all boxes whose
  specificity is at least ``BOX_RULE_TARGET_SPECIFICITY`` (0.925).
* The *cut box* starts from the best box and removes cells from its top border (the row
  ``C = c``, moving left from the corner towards smaller L) and its right border (the column
  ``L = l``, moving down from the corner towards larger C), starting with the corner. At each
  step the next cell of either border is a candidate if removing it keeps the specificity at
  least 0.925; of the candidates the one that adds the most sensitivity (the larger probability
  under the shift) is removed. The procedure stops when neither candidate can be removed. The
  result is described by ``Cbord`` (the retained part of the right border is ``C >= Cbord``) and
  ``Lbord`` (the retained part of the top border is ``L <= Lbord``); with no cut, the cut box is
  the best box.

Everything below is computed from those definitions; no table is copied. The computed limits
agree, for every N = 10..100, with Table 1 of the paper (best box C, L and cut box Cbord,
Lbord), which ``tests/test_spc_boxrules.py`` checks for a sample of N.

qicharts2 0.8.1 uses the rules for 10 <= n.useful <= 100 and the Anhøj rules outside that range;
only ``runs.signal`` changes, ``longest.run.max`` and ``n.crossings.min`` stay the Anhøj values.
"""

from __future__ import annotations

from functools import cache
from math import erf, sqrt
from typing import NamedTuple

import numpy as np

from qiwidgets.errors import SPCOptionError
from qiwidgets.spc.constants import (
    BOX_RULE_N_MAX,
    BOX_RULE_N_MIN,
    BOX_RULE_TARGET_SHIFT,
    BOX_RULE_TARGET_SPECIFICITY,
)
from qiwidgets.spc.runs import anhoej_signal

__all__ = ["BoxTable", "best_box_limits", "box_signal", "box_table", "cut_box_borders"]

METHODS = ("bestbox", "cutbox")


class BoxTable(NamedTuple):
    """Box-rule limits for n = 0 .. BOX_RULE_N_MAX, indexed by n; -1 where a rule does not apply.

    ``cb``/``lb``: best box (no signal iff C >= cb and L <= lb). ``cbord``/``lbord``: cut box
    borders (-1 when the cut box equals the best box). ``spec_*``/``sens_*``: specificity and
    sensitivity (for the target shift) of the best and cut boxes (NaN outside the range).
    """

    cb: np.ndarray
    lb: np.ndarray
    cbord: np.ndarray
    lbord: np.ndarray
    spec_best: np.ndarray
    spec_cut: np.ndarray
    sens_best: np.ndarray
    sens_cut: np.ndarray


def _joint_cdf_in_l(p: float, n_max: int) -> np.ndarray:
    """``F[N, l, k]`` = P(all runs have length <= l and there are exactly k runs), N points.

    The points are independent, each "above" with probability ``p``. N = 0..n_max,
    l = 0..n_max, k = 0..n_max. Built by a forward recursion on N over sequences that end with
    an above-run (weight p per point) or a below-run (weight 1 - p per point): a sequence of N
    points ending in a run of length j <= l is a sequence of N - j points ending in the other
    kind (or the empty start) followed by that run. The sum over j = 1..l is carried as a
    geometric running sum, so each step costs a few array operations for all l and k at once.
    """
    q = 1.0 - p
    n_l = n_max + 1
    n_k = n_max + 2  # one spare column so that "k + 1" never falls off the end
    ls = np.arange(n_l)
    # pred_a[N]: weight of sequences of N points that may be followed by an above-run, i.e.
    # ending in a below-run (or empty when N = 0), stored at the run count the *next* run gets.
    pred_a = np.zeros((n_max + 1, n_l, n_k))
    pred_b = np.zeros((n_max + 1, n_l, n_k))
    pred_a[0, :, 1] = 1.0
    pred_b[0, :, 1] = 1.0
    sum_a = np.zeros((n_l, n_k))  # sum_{j=1..l} p^j pred_a[N - j]
    sum_b = np.zeros((n_l, n_k))
    drop_a = p ** (ls + 1.0)
    drop_b = q ** (ls + 1.0)
    out = np.zeros((n_max + 1, n_l, n_k))
    for n in range(1, n_max + 1):
        sum_a = p * (sum_a + pred_a[n - 1])
        sum_b = q * (sum_b + pred_b[n - 1])
        # runs longer than l: drop the term j = l + 1, i.e. pred[N - 1 - l]
        old = n - 1 - ls
        ok = old >= 0
        sum_a[ok] -= drop_a[ok, None] * pred_a[old[ok], ls[ok]]
        sum_b[ok] -= drop_b[ok, None] * pred_b[old[ok], ls[ok]]
        out[n] = sum_a + sum_b
        pred_b[n, :, 1:] = sum_a[:, :-1]  # ends above -> next (below) run is run k + 1
        pred_a[n, :, 1:] = sum_b[:, :-1]
    return out[:, :, : n_max + 1]


def _phi(x: float) -> float:
    return 0.5 * (1.0 + erf(x / sqrt(2.0)))


def _cut(cell0: np.ndarray, cell1: np.ndarray, c: int, l: int, spec: float, p_in: float, n: int):
    """Greedy corner cutting of the best box (see module docstring); returns borders and probs."""
    target = BOX_RULE_TARGET_SPECIFICITY
    if spec - cell0[l, c] < target:
        return -1, -1, spec, p_in
    spec -= cell0[l, c]
    p_in -= cell1[l, c]
    cbord, lbord = c + 1, l - 1  # next cells: (C = cbord, L = l) and (C = c, L = lbord)
    while True:
        best = None
        if cbord <= n - 1 and spec - cell0[l, cbord] >= target:
            best = ("c", cell0[l, cbord], cell1[l, cbord])
        row_ok = lbord >= 1 and spec - cell0[lbord, c] >= target
        if row_ok and (best is None or cell1[lbord, c] > best[2]):
            best = ("l", cell0[lbord, c], cell1[lbord, c])
        if best is None:
            return cbord, lbord, spec, p_in
        spec -= best[1]
        p_in -= best[2]
        if best[0] == "c":
            cbord += 1
        else:
            lbord -= 1


@cache
def box_table() -> BoxTable:
    """Compute the best-box and cut-box limits for n = BOX_RULE_N_MIN .. BOX_RULE_N_MAX.

    Computed once, on first use (about 0.1 s).
    """
    n_max = BOX_RULE_N_MAX
    null = _joint_cdf_in_l(0.5, n_max)
    shifted = _joint_cdf_in_l(_phi(BOX_RULE_TARGET_SHIFT), n_max)
    size = n_max + 1
    cb = np.full(size, -1, dtype=np.int64)
    lb = np.full(size, -1, dtype=np.int64)
    cbord = np.full(size, -1, dtype=np.int64)
    lbord = np.full(size, -1, dtype=np.int64)
    spec_best, spec_cut, sens_best, sens_cut = (np.full(size, np.nan) for _ in range(4))
    for n in range(BOX_RULE_N_MIN, n_max + 1):
        # [l, c]: P(L <= l, C = c), with C = number of runs - 1, l = 0..n, c = 0..n-1
        f0 = null[n, : n + 1, 1 : n + 1]
        f1 = shifted[n, : n + 1, 1 : n + 1]
        box0 = np.cumsum(f0[:, ::-1], axis=1)[:, ::-1]  # P(L <= l, C >= c)
        box1 = np.cumsum(f1[:, ::-1], axis=1)[:, ::-1]
        cost = np.where(box0 >= BOX_RULE_TARGET_SPECIFICITY, box1, np.inf)
        l, c = (int(v) for v in np.unravel_index(np.argmin(cost), cost.shape))
        cell0 = np.diff(f0, axis=0, prepend=0.0)  # P(L = l, C = c)
        cell1 = np.diff(f1, axis=0, prepend=0.0)
        cb[n], lb[n] = c, l
        spec_best[n], sens_best[n] = box0[l, c], 1.0 - box1[l, c]
        cbord[n], lbord[n], s0, p1 = _cut(cell0, cell1, c, l, box0[l, c], box1[l, c], n)
        spec_cut[n], sens_cut[n] = s0, 1.0 - p1
    return BoxTable(cb, lb, cbord, lbord, spec_best, spec_cut, sens_best, sens_cut)


def _lookup(table: np.ndarray, n_useful) -> np.ndarray:
    n = np.asarray(n_useful)
    out = np.full(n.shape, -1, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(n) & (n >= BOX_RULE_N_MIN) & (n <= BOX_RULE_N_MAX)
    out[inside] = table[n[inside].astype(np.int64)]
    return out


def best_box_limits(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best-box limits per number of useful points: (crossings lower bound cb, longest-run
    upper bound lb). No signal iff ``n_crossings >= cb`` and ``longest_run <= lb``. -1 for n
    outside BOX_RULE_N_MIN..BOX_RULE_N_MAX, where the Anhøj rules apply instead."""
    t = box_table()
    return _lookup(t.cb, n), _lookup(t.lb, n)


def cut_box_borders(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut-box borders (Cbord, Lbord) per number of useful points; -1 where the cut box is the
    best box or n is out of range. Inside the best box, the cut box also signals when
    ``longest_run == lb and n_crossings < Cbord`` or ``n_crossings == cb and longest_run > Lbord``.
    """
    t = box_table()
    return _lookup(t.cbord, n), _lookup(t.lbord, n)


def box_signal(method: str, n_useful, longest_run, n_crossings) -> np.ndarray:
    """Runs signal under the best-box or cut-box rule, vectorised over many series.

    ``n_useful``, ``longest_run`` and ``n_crossings`` broadcast together. For n_useful outside
    BOX_RULE_N_MIN..BOX_RULE_N_MAX the Anhøj signal is returned (longest run >
    round(log2(n)) + 3 or crossings < qbinom(0.05, n - 1, 0.5)); n_useful < 1 never signals.
    """
    if method not in METHODS:
        raise SPCOptionError(f"method must be one of {METHODS!r}, got {method!r}")
    n, longest, crossings = np.broadcast_arrays(
        np.asarray(n_useful, dtype=float),
        np.asarray(longest_run, dtype=float),
        np.asarray(n_crossings, dtype=float),
    )
    t = box_table()
    signal = anhoej_signal(n, longest, crossings)
    inside = np.isfinite(n) & (n >= BOX_RULE_N_MIN) & (n <= BOX_RULE_N_MAX)
    if not inside.any():
        return signal
    ni = n[inside].astype(np.int64)
    li, ci = longest[inside], crossings[inside]
    cb, lb = t.cb[ni], t.lb[ni]
    with np.errstate(invalid="ignore"):
        box = (ci < cb) | (li > lb)
        if method == "cutbox":
            cbord, lbord = t.cbord[ni], t.lbord[ni]
            cut = cbord >= 0
            box |= cut & (li == lb) & (ci < cbord)
            box |= cut & (ci == cb) & (li > lbord)
    signal[inside] = box
    return signal
