"""Best-box / cut-box runs rules (qiwidgets.spc.boxrules).

Checks the computed limits against the definitions (by brute-force enumeration for small n),
against values published in Anhøj & Wentzel-Larsen (2020) "Smooth operator", PLoS ONE 15(6):
e0233920, and against the qicharts2 reference cases qic_run_boxA_*.
"""

from __future__ import annotations

import csv
import itertools
import os
from math import erf, sqrt
from pathlib import Path

import numpy as np
import pytest

from qiwidgets.errors import SPCOptionError
from qiwidgets.spc.boxrules import best_box_limits, box_signal, box_table, cut_box_borders
from qiwidgets.spc.constants import (
    BOX_RULE_N_MAX,
    BOX_RULE_N_MIN,
    BOX_RULE_TARGET_SHIFT,
    BOX_RULE_TARGET_SPECIFICITY,
)
from qiwidgets.spc.runs import anhoej_signal, crossings_limit

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("QI_SPC_REFERENCE", ROOT.parent / "shared" / "reference" / "spc"))

# A sample of Table 1 of the paper: N, best box C, best box L, Cbord, Lbord (-1 = no cut),
# specificity of best box and cut box, sensitivity (shift 0.8 SD) of best box and cut box.
PUBLISHED = [
    (10, 2, 6, 3, 5, 0.9551, 0.9375, 0.3103, 0.3786),
    (11, 3, 7, 4, 6, 0.9414, 0.9297, 0.3887, 0.4211),
    (14, 3, 6, -1, -1, 0.9280, 0.9280, 0.4740, 0.4740),
    (19, 5, 7, 6, 5, 0.9433, 0.9276, 0.5078, 0.5351),
    (26, 9, 9, 10, 7, 0.9375, 0.9265, 0.5986, 0.6298),
    (30, 11, 10, 12, 9, 0.9279, 0.9258, 0.6533, 0.6617),
    (37, 14, 10, -1, -1, 0.9270, 0.9270, 0.6940, 0.6940),
    (48, 19, 12, 20, 11, 0.9261, 0.9255, 0.7863, 0.7896),
    (70, 29, 14, 30, 13, 0.9252, 0.9250, 0.8830, 0.8841),
    (75, 31, 12, 32, 9, 0.9302, 0.9254, 0.8978, 0.9076),
    (83, 33, 10, 36, 7, 0.9404, 0.9263, 0.9048, 0.9279),
    (97, 41, 12, 42, 9, 0.9303, 0.9254, 0.9459, 0.9520),
    (100, 41, 10, 42, 9, 0.9285, 0.9265, 0.9478, 0.9510),
]


def _runs_stats(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longest run, crossings and number of 'above' points for all 2**n sign sequences."""
    seqs = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int8)
    change = seqs[:, 1:] != seqs[:, :-1]
    crossings = change.sum(axis=1)
    longest = np.ones(len(seqs), dtype=np.int64)
    cur = np.ones(len(seqs), dtype=np.int64)
    for j in range(n - 1):
        cur = np.where(change[:, j], 1, cur + 1)
        longest = np.maximum(longest, cur)
    return longest, crossings, seqs.sum(axis=1)


def test_n30_limits():
    cb, lb = best_box_limits(np.array([30]))
    assert (cb[0], lb[0]) == (11, 10)


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda r: f"n{r[0]}")
def test_matches_published_table(row):
    n, c, l, cbord, lbord, spec_b, spec_c, sens_b, sens_c = row
    t = box_table()
    assert (t.cb[n], t.lb[n], t.cbord[n], t.lbord[n]) == (c, l, cbord, lbord)
    got = (t.spec_best[n], t.spec_cut[n], t.sens_best[n], t.sens_cut[n])
    assert np.allclose(got, (spec_b, spec_c, sens_b, sens_c), atol=5.1e-5)


@pytest.mark.parametrize("n", [10, 11, 12, 13, 15, 16])
def test_definition_by_enumeration(n):
    """Brute force over all 2**n sequences: the best box is feasible and no feasible box has
    higher power; the cut box keeps the specificity target and signals at least as often."""
    longest, crossings, above = _runs_stats(n)
    p = 0.5 * (1.0 + erf(BOX_RULE_TARGET_SHIFT / sqrt(2.0)))
    w0 = np.full(len(longest), 0.5**n)
    w1 = p**above * (1.0 - p) ** (n - above)
    cb, lb = (int(v[0]) for v in best_box_limits(np.array([n])))

    def probs(signal):
        return w0[~signal].sum(), w1[signal].sum()  # specificity, sensitivity

    spec, sens = probs((crossings < cb) | (longest > lb))
    assert spec >= BOX_RULE_TARGET_SPECIFICITY
    for c in range(n):
        for l in range(1, n + 1):
            s0, s1 = probs((crossings < c) | (longest > l))
            if s0 >= BOX_RULE_TARGET_SPECIFICITY:
                assert s1 <= sens + 1e-12
    sig_best = box_signal("bestbox", n, longest, crossings)
    sig_cut = box_signal("cutbox", n, longest, crossings)
    assert np.array_equal(sig_best, (crossings < cb) | (longest > lb))
    assert np.all(sig_cut >= sig_best)
    cut_spec, cut_sens = probs(sig_cut)
    assert cut_spec >= BOX_RULE_TARGET_SPECIFICITY
    assert cut_sens >= sens
    t = box_table()
    assert np.isclose(cut_spec, t.spec_cut[n]) and np.isclose(cut_sens, t.sens_cut[n])
    assert np.isclose(spec, t.spec_best[n]) and np.isclose(sens, t.sens_best[n])


def test_all_n_meet_specificity_target():
    t = box_table()
    n = np.arange(BOX_RULE_N_MIN, BOX_RULE_N_MAX + 1)
    assert np.all(t.spec_best[n] >= BOX_RULE_TARGET_SPECIFICITY)
    assert np.all(t.spec_cut[n] >= BOX_RULE_TARGET_SPECIFICITY)
    assert np.all(t.spec_cut[n] <= t.spec_best[n])
    assert np.all(t.sens_cut[n] >= t.sens_best[n])
    cut = t.cbord[n] >= 0
    assert np.all(t.cbord[n][cut] > t.cb[n][cut]) and np.all(t.lbord[n][cut] < t.lb[n][cut])


def _case(name: str) -> dict:
    path = REFERENCE / name / "expected.csv"
    if not path.is_file():
        pytest.fail(f"reference case {name} not found under {REFERENCE}")
    with path.open(newline="") as fh:
        return next(csv.DictReader(fh))


@pytest.mark.parametrize(
    "case,method",
    [("qic_run_boxA_bestbox", "bestbox"), ("qic_run_boxA_cutbox", "cutbox")],
)
def test_reference_box_cases(case, method):
    row = _case(case)
    n, lr, nc = (int(row[k]) for k in ("n.useful", "longest.run", "n.crossings"))
    expected = row["runs.signal"] == "TRUE"
    assert bool(box_signal(method, n, lr, nc)) is expected
    # the same series under the Anhøj rules (qic_run_boxA_anhoej) does not signal
    anhoej = _case("qic_run_boxA_anhoej")
    assert anhoej["runs.signal"] == "FALSE"
    assert not anhoej_signal(np.array([float(n)]), np.array([lr]), np.array([nc]))[0]


def test_vectorised_shapes_and_outside_range():
    n = np.array([[5, 10, 30], [30, 100, 150]])
    lr = np.array([[5, 7, 10], [11, 10, 12]])
    nc = np.array([[0, 1, 11], [11, 41, 60]])
    for method in ("bestbox", "cutbox"):
        s = box_signal(method, n, lr, nc)
        assert s.shape == (2, 3) and s.dtype == bool
    s = box_signal("bestbox", n, lr, nc)
    # n = 5: Anhøj, longest 5 > round(log2 5) + 3 = 5? no; crossings 0 < qbinom(.05, 4, .5) = 0? no
    assert not s[0, 0]
    assert s[0, 1]  # n = 10: C = 1 < cb = 2
    assert not s[0, 2] and s[1, 0]  # n = 30: (11, 10) inside, (11, 11) outside
    assert not s[1, 1]  # n = 100: C = 41, L = 10 is the corner of the best box
    assert box_signal("cutbox", 100, 10, 41)  # ... which the cut box removes
    # n = 150: Anhøj, longest limit round(log2 150) + 3 = 10, crossings limit qbinom = 64
    assert s[1, 2]
    assert not box_signal("bestbox", 150, 10, 64) and box_signal("bestbox", 150, 10, 63)
    cb, lb = best_box_limits(np.array([9, 10, 100, 101, 0]))
    assert cb.tolist() == [-1, 2, 41, -1, -1] and lb.tolist() == [-1, 6, 10, -1, -1]
    cbord, lbord = cut_box_borders(np.array([9, 12, 30]))
    assert cbord.tolist() == [-1, -1, 12] and lbord.tolist() == [-1, -1, 9]
    assert box_signal("cutbox", np.zeros(0), np.zeros(0), np.zeros(0)).shape == (0,)
    assert not box_signal("bestbox", 0, 0, 0)


def test_anhoej_crossings_limit_matches_binomial_quantile():
    from scipy.stats import binom

    n = np.arange(1, 400)
    ours = crossings_limit(n)
    assert np.array_equal(ours, binom.ppf(0.05, n - 1, 0.5))


def test_unknown_method():
    with pytest.raises(SPCOptionError):
        box_signal("anhoej", 30, 7, 10)
