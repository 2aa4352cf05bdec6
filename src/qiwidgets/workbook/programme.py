"""The programme: the shared outcome measure across teams, and the learning-system check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qiwidgets import glossary
from qiwidgets.workbook.inputs import _get
from qiwidgets.workbook.measures import chart_type_for

# =============================================================================================
# The shared outcome measure across teams (programme report and programme dashboard)
# =============================================================================================

#: Months of the shared outcome measure pooled per team for its funnel plot: a year, so each
#: team's count covers every season once (docs/domain.md, the programme's monthly report).
FUNNEL_MONTHS = 12


def outcome_funnel(obs: Any, measure: Any, names: Mapping[str, str] | None = None):
    """A funnel plot of a shared measure across teams, each team's counts pooled.

    ``obs`` has ``team``, ``numerator`` and ``denominator`` columns: the periods to pool (the
    last :data:`FUNNEL_MONTHS` months). ``names`` maps team codes to the names shown. A
    proportion (a P chart measure) is compared as a proportion; a rate or a count as observed /
    expected at the programme's overall rate (an indirectly standardised ratio). Returns
    :func:`qiwidgets.spc.funnel`'s result, or None when a team has no denominator, or no team
    has counted an event (there is nothing to compare).
    """
    from qiwidgets import spc

    name = _get(measure, "name") or _get(measure, "code")
    pooled = obs.groupby("team", as_index=False)[["numerator", "denominator"]].sum()
    pooled["team"] = pooled["team"].map(lambda c: (names or {}).get(c, c))
    if pooled.empty or not pooled["denominator"].gt(0).all():
        return None
    if chart_type_for(measure) in ("p", "pp"):
        pooled = pooled.rename(columns={"denominator": "cases"})
        return spc.funnel(pooled, "numerator", "cases", "team", data_type="PR",
                          multiplier=_get(measure, "multiplier") or 1, label=name)  # fmt: skip
    if pooled["numerator"].sum() <= 0:
        return None
    rate = pooled["numerator"].sum() / pooled["denominator"].sum()
    pooled["expected"] = pooled["denominator"] * rate
    return spc.funnel(pooled, "numerator", "expected", "team", data_type="SR",
                      label=f"{name} (observed / expected at the programme rate)")  # fmt: skip


def outcome_small_multiples(obs: Any, measure: Any, names: Mapping[str, str] | None = None):
    """Each team's chart of a shared measure, as one faceted :func:`qiwidgets.spc.control_chart`
    result (a facet per team, named by ``names``)."""
    from qiwidgets import spc

    frame = obs.assign(team=obs["team"].map(lambda c: (names or {}).get(c, c)))
    chart = chart_type_for(measure)
    kwargs: dict[str, Any] = {}
    if chart in ("p", "pp", "u", "up"):
        kwargs = {"n": "denominator", "multiply": float(_get(measure, "multiplier") or 1)}
        y = "numerator"
    else:  # as for a team's own chart (series_frame): the values, else the counts
        y = "value" if frame["value"].notna().any() else "numerator"
    return spc.control_chart(frame, x="period", y=y, chart=chart, facets="team",
                             improvement=_get(measure, "improvement_direction"),
                             label=_get(measure, "name"), **kwargs)  # fmt: skip



def health_history(frame: Any):
    """Health-check ratings as a table: one row per period, one column per component."""
    import pandas as pd

    cols = list(glossary.HEALTH_COMPONENTS)
    if frame is None or not len(frame):
        return pd.DataFrame(columns=["period", *cols])
    wide = frame.pivot_table(index="period", columns="component", values="rating", aggfunc="last")
    wide = wide.reindex(columns=cols)
    return wide.reset_index()
