"""Measures: which chart suits which data, what an operational definition lacks, and what a
family of measures is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiwidgets import glossary
from qiwidgets.workbook.inputs import WorkbookInputError, _get

#: What kind of data a measure holds -> the chart that suits it.
DATA_KINDS: dict[str, str] = {
    "proportion": "p",
    "rate": "u",
    "count": "c",
    "measurement": "i",
    "days_between": "t",
    "cases_between": "g",
}
#: How each data kind is described to a team.
DATA_KIND_LABELS: dict[str, str] = {
    "proportion": "Proportion (how many out of how many, e.g. % of patients screened)",
    "rate": "Rate (events per bed days, per 1,000 contacts ...)",
    "count": "Count (number of events in each period)",
    "measurement": "Measurement (a value per period: minutes, days, score)",
    "days_between": "Days between rare events",
    "cases_between": "Cases between rare events",
}


def suggest_chart(data_kind: str) -> str:
    """The chart type for a kind of data: proportion → P, rate → U, count → C, measurement → I,
    days between → T, cases between → G.

    >>> suggest_chart("rate")
    'u'
    """
    if data_kind not in DATA_KINDS:
        raise WorkbookInputError(
            "`data_kind` must be one of "
            + ", ".join(repr(k) for k in DATA_KINDS)
            + f", got {data_kind!r:.40}."
        )
    return DATA_KINDS[data_kind]


def infer_data_kind(measure: Any) -> str | None:
    """A best guess at the kind of data from a measure's definition (None if unclear)."""
    chart = _get(measure, "chart_type")
    for kind, c in DATA_KINDS.items():
        if chart == c:
            return kind
    unit = (_get(measure, "unit") or "").lower()
    text = " ".join(
        (_get(measure, f) or "") for f in ("name", "value_definition", "numerator_definition")
    ).lower()
    if "between" in text or "between" in unit:
        return "cases_between" if "case" in text or "case" in unit else "days_between"
    if _get(measure, "denominator_definition"):
        multiplier = _get(measure, "multiplier")
        if "%" in unit or "percent" in unit or "per cent" in unit or multiplier == 100:
            return "proportion"
        return "rate"
    if _get(measure, "value_definition"):
        return "measurement"
    if _get(measure, "numerator_definition"):
        return "count"
    return None


def chart_type_for(measure: Any) -> str:
    """The chart a measure is drawn with: its own ``chart_type``, else the suggestion, else run.

    ``xmr`` (Making Data Count) becomes ``i`` for the qicharts2-style rule sets.
    """
    chart = _get(measure, "chart_type")
    if chart == "xmr":
        return "i"
    if chart:
        return chart
    kind = infer_data_kind(measure)
    return DATA_KINDS[kind] if kind else "run"


def definition_gaps(measure: Any) -> list[str]:
    """What a measure's operational definition still lacks, in plain words."""
    name = _get(measure, "name") or _get(measure, "code") or "This measure"
    gaps = []
    if not (_get(measure, "numerator_definition") or _get(measure, "value_definition")):
        gaps.append("what is counted (numerator) or measured (value)")
    kind = infer_data_kind(measure)
    if kind in ("proportion", "rate") and not _get(measure, "denominator_definition"):
        gaps.append("the denominator")
    if not _get(measure, "data_source"):
        gaps.append("the data source")
    if not _get(measure, "frequency"):
        gaps.append("how often it is collected")
    if not _get(measure, "improvement_direction"):
        gaps.append("which way is better")
    if not gaps:
        return []
    return [f"{name}: the operational definition does not yet say " + ", ".join(gaps) + "."]


def family_warnings(measures: Sequence[Any], aim: Any = None) -> list[str]:
    """Warnings about a family of measures (plain sentences; empty when all is well).

    Warns when there is no outcome measure, no outcome measure linked to the aim, no process
    measure, no balancing measure, or fewer than 4 / more than 10 measures.
    """
    out: list[str] = []
    types = [_get(m, "measure_type") for m in measures]
    if not measures:
        return ["There are no measures yet: add an outcome, a process and a balancing measure."]
    if "outcome" not in types:
        out.append("No outcome measure: add one that shows whether the aim is being reached.")
    elif aim is not None:
        linked = _get(aim, "outcome_measures") or []
        linked_ids = _get(aim, "outcome_measure_ids")
        if not linked and not linked_ids:
            out.append(
                "No outcome measure is linked to the aim: link the measure that shows whether "
                "the aim is reached."
            )
    elif aim is None:
        out.append("There is no aim yet to link the outcome measure to.")
    if "process" not in types:
        out.append("No process measure: add one that shows whether the change is done as planned.")
    if "balancing" not in types:
        out.append(
            "No balancing measure: add one that watches for something getting worse elsewhere."
        )
    if len(measures) < 4:
        out.append(f"Only {len(measures)} measure(s): a family usually has 4 to 10.")
    elif len(measures) > 10:
        out.append(f"{len(measures)} measures: a family usually has 4 to 10; consider fewer.")
    return out




#: Charts of a proportion: without a multiplier they are shown as a percentage (x 100), on
#: every screen alike (a P chart's 0.558 on one screen and 55.8 on another told two stories).
PERCENT_CHARTS = ("p", "pp")
#: Charts whose value is a numerator over a denominator.
RATIO_CHARTS = ("p", "pp", "u", "up")


def multiplier_for(measure: Any) -> float:
    """What a measure's ratio is multiplied by when it is shown: its ``multiplier``, else 100
    for a proportion (P, P′ charts: a percentage), else 1.

    >>> multiplier_for({"chart_type": "p"}), multiplier_for({"chart_type": "u", "multiplier": 1000})
    (100.0, 1000.0)
    """
    given = _get(measure, "multiplier")
    if given:
        return float(given)
    return 100.0 if chart_type_for(measure) in PERCENT_CHARTS else 1.0


def unit_for(measure: Any) -> str:
    """The unit a measure's values are shown in: its ``unit``, else ``%`` for a proportion
    shown as a percentage, else nothing."""
    unit = (_get(measure, "unit") or "").strip()
    if unit:
        return unit
    if chart_type_for(measure) in PERCENT_CHARTS and multiplier_for(measure) == 100:
        return "%"
    return ""


#: The rule set that governs a measure when none is stored on it, by chart type: Making Data
#: Count for an XmR chart (the NHS's own method), Anhøj's rules (qicharts2) for every other
#: chart, which is what the chart types were defined by.
DEFAULT_RULE_SET = {"xmr": "mdc"}
#: Rule sets a run chart may be governed by (IHI's rules are run-chart rules).
RUN_CHART_RULE_SETS = ("anhoej", "ihi")


def rule_set_for(measure: Any) -> str:
    """The one rule set that governs a measure's verdict on every screen: the measure's own
    ``rule_set`` when set, else the default for its chart type (:data:`DEFAULT_RULE_SET`).

    >>> rule_set_for({"chart_type": "u"}), rule_set_for({"chart_type": "xmr"})
    ('anhoej', 'mdc')
    """
    stored = _get(measure, "rule_set")
    if stored:
        if stored not in glossary.RULE_SETS:
            raise WorkbookInputError(
                f"`rule_set` must be one of {', '.join(glossary.RULE_SETS)}, got {stored!r:.40}."
            )
        return stored
    return DEFAULT_RULE_SET.get(_get(measure, "chart_type") or "", "anhoej")
