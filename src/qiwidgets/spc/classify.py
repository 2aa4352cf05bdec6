"""One vocabulary and one set of rules for point types, variation and assurance.

Both profiles classify with these functions, so a control chart (qicharts2 profile) and a Making
Data Count chart (NHSRplotthedots profile) answer "is this special cause, is it good or bad, will
the target be met?" the same way. The words are NHSRplotthedots' (and the domain's):
``common_cause``, ``special_cause_improvement``, ``special_cause_concern``,
``special_cause_neutral_high`` / ``_low``; ``consistent_pass``, ``consistent_fail``,
``inconsistent``.

Everything works on numpy arrays of codes (an index into the tuples below), so 20,000 series are
classified in one pass; ``-1`` means "not set" (missing).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from qiwidgets.errors import QIWarning


class NoLimitsWarning(QIWarning):
    """A target was given but a series has no finite limits, so there is no assurance."""


#: Values of ``improvement`` and their sign (NHSRplotthedots ``improvement_direction``).
IMPROVEMENTS = {"increase": 1, "decrease": -1, "neutral": 0}

#: ``point_type`` vocabulary, in code order (NHSRplotthedots ``point_type``).
POINT_TYPES = (
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
)
COMMON_CAUSE, IMPROVEMENT, CONCERN, NEUTRAL_HIGH, NEUTRAL_LOW = range(5)

#: ``variation_type`` vocabulary (a point type without the side of a neutral signal).
VARIATION_TYPES = (
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral",
)

#: Icon names for the charts layer; index = variation icon code (Making Data Count icons).
VARIATION_ICONS = (
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
)

#: ``assurance_type`` vocabulary (NHSRplotthedots) and the matching icon names.
ASSURANCE_TYPES = ("consistent_pass", "consistent_fail", "inconsistent")
ASSURANCE_ICONS = ("pass", "fail", "hit_and_miss")


def direction_sign(improvement: str | None) -> int:
    """+1 for ``"increase"``, -1 for ``"decrease"``, 0 for ``"neutral"`` or no direction."""
    return IMPROVEMENTS.get(improvement, 0) if improvement is not None else 0


def point_types(special: np.ndarray, way: np.ndarray, direction: int) -> np.ndarray:
    """``point_type`` codes (index into :data:`POINT_TYPES`), one per point.

    ``special`` marks special-cause points; ``way`` is the way each one went (+1 high /
    increasing, -1 low / decreasing). With a direction (+1 increase, -1 decrease) a high point
    is an improvement when higher is better and a concern otherwise; without one (0) it is
    ``special_cause_neutral_high`` or ``_low``. A special point whose way is 0 (none) is
    ``common_cause``: there is nothing to say which way it went.
    """
    special = np.asarray(special, dtype=bool)
    way = np.asarray(way)
    high = special & (way > 0)
    low = special & (way < 0)
    pt = np.zeros(len(special), dtype=np.int8)
    if direction == 0:
        pt[high] = NEUTRAL_HIGH
        pt[low] = NEUTRAL_LOW
    else:
        pt[high] = IMPROVEMENT if direction > 0 else CONCERN
        pt[low] = CONCERN if direction > 0 else IMPROVEMENT
    return pt


def is_special(point_type) -> np.ndarray:
    """True where a ``point_type`` (codes, names or a categorical column) is special cause."""
    values = np.asarray(point_type.astype(str) if hasattr(point_type, "astype") else point_type)
    if values.dtype.kind in "iu":
        return values != COMMON_CAUSE
    return values.astype(str) != POINT_TYPES[COMMON_CAUSE]


def variation_types(point_type: np.ndarray) -> np.ndarray:
    """``variation_type`` codes (index into :data:`VARIATION_TYPES`) from point_type codes."""
    pt = np.asarray(point_type)
    return np.where(pt >= NEUTRAL_HIGH, 3, pt).astype(np.int8)


def variation_icons(point_type: np.ndarray, way: np.ndarray) -> np.ndarray:
    """Variation icon codes (index into :data:`VARIATION_ICONS`) from point types and ways."""
    pt = np.asarray(point_type)
    high = np.asarray(way) > 0
    icon = np.zeros(len(pt), dtype=np.int8)
    icon[pt == IMPROVEMENT] = np.where(high[pt == IMPROVEMENT], 1, 2)
    icon[pt == CONCERN] = np.where(high[pt == CONCERN], 3, 4)
    icon[pt == NEUTRAL_HIGH] = 5
    icon[pt == NEUTRAL_LOW] = 6
    return icon


def assurance(
    target: np.ndarray, lower: np.ndarray, upper: np.ndarray, direction: int
) -> np.ndarray:
    """``assurance_type`` codes (index into :data:`ASSURANCE_TYPES`; -1 = none), per series.

    NHSRplotthedots' rule, with strict comparisons: when higher is better, a target below the
    lower limit is consistently passed and one above the upper limit consistently failed (the
    reverse when lower is better); anything else is ``inconsistent`` (hit and miss). There is no
    assurance (-1) without a direction, without a target, or without finite limits to compare
    the target with (a series of one point, or only missing values).
    """
    target = np.asarray(target, dtype=float)
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    out = np.full(len(target), -1, dtype=np.int8)
    if direction == 0:
        return out
    judged = np.isfinite(target) & np.isfinite(lower) & np.isfinite(upper)
    above = judged & (target > upper)
    below = judged & (target < lower)
    out[judged] = 2
    out[above] = 0 if direction < 0 else 1  # a target above the limits: met when lower is better
    out[below] = 1 if direction < 0 else 0
    return out


@functools.cache
def _dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    """One categorical dtype per vocabulary (building the categories each call is slow)."""
    return pd.CategoricalDtype(pd.Index(categories), ordered=False)


def categorical(codes: np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    """A categorical column from codes into ``categories`` (-1 = missing)."""
    return pd.Categorical.from_codes(codes, dtype=_dtype(categories), validate=False)
