"""The workbook's logic as small pure functions, usable without ipywidgets.

The widgets in :mod:`qiwidgets.widgets` call these; reports and dashboards can call them too, so
a team sees the same checks, suggestions and prompts everywhere.

* input checks for values that arrive from a browser (:func:`clean_text`, :func:`clean_date`, ...);
* aims: :func:`aim_statement`, :func:`check_aim` (specific, measurable, time-bound);
* driver diagrams: :func:`driver_tree`, :func:`driver_diagram_html`;
* measures: :func:`suggest_chart`, :func:`infer_data_kind`, :func:`chart_type_for`,
  :func:`definition_gaps`, :func:`family_warnings`;
* variation: :func:`chart_options` (the team's baseline / phase / exclude annotations as chart
  options), :func:`series_frame`, :func:`compute_chart`, :func:`signal_events`,
  :func:`compare_signals`, :func:`pdsa_signal_prompts`, :func:`chart_annotations`;
* the shared outcome measure across teams: :func:`outcome_funnel`,
  :func:`outcome_small_multiples`;
* PDSA: :func:`pdsa_stage`; the learning-system check: :func:`health_history`.

No statistics here: limits and rules come from :mod:`qiwidgets.spc`. Records may be store model
objects or plain dicts with the same field names.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qiwidgets import glossary
from qiwidgets.errors import QIError

__all__ = [
    "DATA_KINDS",
    "FUNNEL_MONTHS",
    "MAX_TEXT_LENGTH",
    "AimCheck",
    "ChartOptions",
    "ChartView",
    "PDSAPrompt",
    "SignalEvent",
    "WorkbookInputError",
    "aim_statement",
    "chart_annotations",
    "chart_options",
    "chart_type_for",
    "check_aim",
    "clean_choice",
    "clean_date",
    "clean_number",
    "clean_text",
    "compare_signals",
    "compute_chart",
    "cycles_for_measure",
    "definition_gaps",
    "driver_diagram_html",
    "driver_tree",
    "family_warnings",
    "health_history",
    "infer_data_kind",
    "outcome_funnel",
    "outcome_small_multiples",
    "pdsa_end_text",
    "pdsa_markers",
    "pdsa_signal_prompts",
    "pdsa_stage",
    "series_frame",
    "signal_events",
    "suggest_chart",
]

#: The longest text a single field accepts from the workbook (a browser can send anything).
MAX_TEXT_LENGTH = 5_000
#: Annotation kinds that change how the limits are computed; each needs a recorded reason.
LIMIT_CHANGING_KINDS = ("baseline", "phase", "rebase", "exclude")
#: How many periods after a PDSA start a new signal prompts "record what you learned?".
PDSA_PROMPT_WITHIN = 3
#: Fewest points Making Data Count fixes limits on (NHSRplotthedots ``fix_after_n_points``).
MDC_MIN_BASELINE = 12


class WorkbookInputError(QIError, ValueError):
    """A value typed (or sent) into the workbook is not acceptable; the message says why."""


# =============================================================================================
# Input checks
# =============================================================================================


def _get(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def clean_text(
    value: Any, field: str, *, required: bool = False, max_length: int = MAX_TEXT_LENGTH
) -> str | None:
    """``value`` stripped, or None when blank; refuse non-text and over-long text.

    >>> clean_text("  huddles ", "what")
    'huddles'
    >>> clean_text("", "what") is None
    True
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise WorkbookInputError(f"`{field}` must be text, got {type(value).__name__}.")
    text = value.strip()
    if len(text) > max_length:
        raise WorkbookInputError(
            f"`{field}` is too long ({len(text):,} characters); keep it under {max_length:,}."
        )
    if not text:
        if required:
            raise WorkbookInputError(f"`{field}` is required: please fill it in.")
        return None
    return text


def clean_date(value: Any, field: str, *, required: bool = False) -> dt.date | None:
    """A date from a date picker (a ``date``, a ``datetime`` or an ISO string), or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise WorkbookInputError(f"`{field}` is required: please pick a date.")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise WorkbookInputError(f"`{field}` must be a date (YYYY-MM-DD), got {value!r:.60}.")


def clean_choice(value: Any, field: str, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed`` (compared exactly), else a plain error."""
    allowed = tuple(allowed)
    for a in allowed:
        if type(value) is type(a) and value == a:
            return a
        if a is None and value is None:
            return None
    shown = ", ".join(repr(a) for a in allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    raise WorkbookInputError(f"`{field}` must be one of {shown}, got {value!r:.60}.")


def clean_number(
    value: Any, field: str, *, low: float | None = None, high: float | None = None
) -> float | None:
    """A finite number within ``[low, high]`` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WorkbookInputError(f"`{field}` must be a number, got {value!r:.60}.")
    value = float(value)
    if not math.isfinite(value):
        raise WorkbookInputError(f"`{field}` must be a finite number, got {value!r}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise WorkbookInputError(f"`{field}` must be between {low:g} and {high:g}, got {value:g}.")
    return value


# =============================================================================================
# Aims
# =============================================================================================

_NUMBER = re.compile(r"\d")
_FROM_TO = re.compile(r"\bfrom\b.*\d.*\bto\b.*\d", re.IGNORECASE)
_VAGUE = re.compile(r"^\s*(improve|better|do better|make .* better|enhance)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AimCheck:
    """The live check of an aim statement.

    ``checks`` holds ``(criterion, passed, message)`` for ``specific``, ``measurable`` and
    ``time_bound``; ``statement`` is the aim as one sentence.
    """

    statement: str
    checks: tuple[tuple[str, bool, str], ...]

    @property
    def ok(self) -> bool:
        """True when the aim is specific, measurable and time-bound."""
        return all(passed for _, passed, _ in self.checks)

    def passed(self, criterion: str) -> bool:
        """Whether one criterion (``specific``, ``measurable``, ``time_bound``) passed."""
        return next(p for c, p, _ in self.checks if c == criterion)

    @property
    def specific(self) -> bool:
        return self.passed("specific")

    @property
    def measurable(self) -> bool:
        return self.passed("measurable")

    @property
    def time_bound(self) -> bool:
        return self.passed("time_bound")


def aim_statement(
    what: str | None,
    for_whom: str | None = None,
    how_much: str | None = None,
    by_when: dt.date | None = None,
) -> str:
    """The aim as one sentence: what, for whom, how much, by when.

    >>> aim_statement("Reduce falls with harm", "on Ward 7", "from 6 to 3 per 1,000 bed days",
    ...               dt.date(2027, 3, 31))
    'Reduce falls with harm on Ward 7 from 6 to 3 per 1,000 bed days by 31 March 2027.'
    """
    parts = [p.strip() for p in (what, for_whom, how_much) if p and p.strip()]
    if by_when is not None:
        parts.append(f"by {by_when.day} {by_when:%B %Y}")
    if not parts:
        return ""
    sentence = " ".join(parts)
    return sentence if sentence.endswith(".") else sentence + "."


def check_aim(
    what: str | None,
    for_whom: str | None = None,
    how_much: str | None = None,
    by_when: dt.date | None = None,
    *,
    today: dt.date | None = None,
) -> AimCheck:
    """Check that an aim is specific, measurable and time-bound; say what is missing.

    * specific: ``what`` names the change in a few words (not just "improve") and ``for_whom``
      names the people or place;
    * measurable: ``how_much`` holds a number ("from 6 to 3", "by 50%");
    * time-bound: ``by_when`` is a date, and not already past.

    >>> c = check_aim("Reduce falls with harm", "on Ward 7", "from 6 to 3 per 1,000 bed days",
    ...               dt.date(2027, 3, 31), today=dt.date(2026, 1, 1))
    >>> c.ok
    True
    >>> check_aim("Improve care").ok
    False
    """
    today = today or dt.date.today()
    what_s, whom_s, much_s = ((x or "").strip() for x in (what, for_whom, how_much))
    checks = []

    words = len(what_s.split())
    if not what_s:
        specific = (False, "Say what will improve (e.g. 'Reduce falls with harm').")
    elif words < 3 or (_VAGUE.match(what_s) and words < 4):
        specific = (False, "Say more precisely what will improve — which events, which care.")
    elif not whom_s:
        specific = (False, "Say for whom or where (e.g. 'for patients on Ward 7').")
    else:
        specific = (True, "Says what will improve and for whom.")
    checks.append(("specific", *specific))

    if not much_s:
        measurable = (False, "Say how much, with numbers (e.g. 'from 6 to 3 per 1,000 bed days').")
    elif not _NUMBER.search(much_s):
        measurable = (False, "Put a number in 'how much' (e.g. 'by 50%' or 'from 6 to 3').")
    elif not (_FROM_TO.search(much_s) or "%" in much_s or "per cent" in much_s.lower()):
        measurable = (True, "Has a number; saying 'from ... to ...' makes the change clearer.")
    else:
        measurable = (True, "Has a number to reach.")
    checks.append(("measurable", *measurable))

    if by_when is None:
        time_bound = (False, "Pick a date by when the aim should be reached.")
    elif by_when <= today:
        time_bound = (False, f"The date {by_when.isoformat()} has passed: pick a future date.")
    else:
        time_bound = (True, f"Has a date: {by_when.day} {by_when:%B %Y}.")
    checks.append(("time_bound", *time_bound))
    return AimCheck(aim_statement(what_s, whom_s, much_s, by_when), tuple(checks))


# =============================================================================================
# Driver diagrams
# =============================================================================================


def driver_tree(nodes: Iterable[Any]) -> list[tuple[Any, int]]:
    """``(node, depth)`` pairs, parents before children, siblings by ``order`` then id.

    Nodes whose parent is missing are shown at the top level, so nothing is hidden.
    """
    nodes = list(nodes)
    ids = {_get(n, "id") for n in nodes}
    children: dict[Any, list[Any]] = {}
    for n in nodes:
        parent = _get(n, "parent_id")
        children.setdefault(parent if parent in ids else None, []).append(n)
    out: list[tuple[Any, int]] = []
    seen: set[Any] = set()

    def walk(parent: Any, depth: int) -> None:
        kids = sorted(
            children.get(parent, []), key=lambda n: (_get(n, "order") or 0, _get(n, "id") or 0)
        )
        for n in kids:
            nid = _get(n, "id")
            if nid in seen:  # a cycle in bad data: never loop forever
                continue
            seen.add(nid)
            out.append((n, depth))
            walk(nid, depth + 1)

    walk(None, 0)
    return out


_DRIVER_COLUMN = {"primary": 1, "secondary": 2, "change_idea": 3}
_DRIVER_COLOURS = {"primary": "#005eb8", "secondary": "#41b6e6", "change_idea": "#00703c"}


def driver_diagram_html(aim: str | None, nodes: Iterable[Any]) -> str:
    """The driver diagram as an HTML table: aim, primary drivers, secondary drivers, change ideas.

    Each node sits in its kind's column, indented under its parent; every text is escaped.
    """
    tree = driver_tree(nodes)
    head = "".join(
        f'<th style="text-align:left;padding:4px 8px" title="{html.escape(glossary.explain(k))}">'
        f"{html.escape(glossary.label(k))}</th>"
        for k in ("aim", "primary", "secondary", "change_idea")
    )
    aim_text = html.escape(aim) if aim else "<em>No aim yet</em>"
    rows = []
    if not tree:
        rows.append(
            f'<tr><td style="padding:4px 8px;vertical-align:top"><strong>{aim_text}</strong></td>'
            '<td colspan="3" style="padding:4px 8px"><em>No drivers yet: add a primary '
            "driver.</em></td></tr>"
        )
    for i, (node, _depth) in enumerate(tree):
        kind = _get(node, "kind") or "primary"
        col = _DRIVER_COLUMN.get(kind, 1)
        colour = _DRIVER_COLOURS.get(kind, "#425563")
        cells = []
        first = (
            f'<td rowspan="{len(tree)}" style="padding:4px 8px;vertical-align:top;'
            f'border-right:3px solid #425563"><strong>{aim_text}</strong></td>'
            if i == 0
            else ""
        )
        for c in range(1, 4):
            if c == col:
                cells.append(
                    f'<td style="padding:4px 8px"><span style="display:inline-block;'
                    f'border-left:4px solid {colour};padding:2px 6px;background:#f4f6f8">'
                    f"{'→ ' if c > 1 else ''}{html.escape(str(_get(node, 'text') or ''))}</span></td>"
                )
            else:
                cells.append('<td style="padding:4px 8px"></td>')
        rows.append(f"<tr>{first}{''.join(cells)}</tr>")
    return (
        '<table class="qi-driver-diagram" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# =============================================================================================
# Measures
# =============================================================================================

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


# =============================================================================================
# Variation: annotations -> chart options, signals, PDSA prompts
# =============================================================================================


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    if hasattr(value, "astype") and str(getattr(value, "dtype", "")).startswith("datetime64"):
        import pandas as pd

        return pd.Timestamp(value).date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise WorkbookInputError(f"Expected a date, got {value!r:.60}.")


def _periods(periods: Iterable[Any]) -> list[dt.date]:
    return sorted({_as_date(p) for p in periods})


@dataclass(frozen=True)
class ChartOptions:
    """What the team's annotations ask of the chart.

    ``freeze`` (baseline length), ``part`` (positions after which a new phase starts) and
    ``exclude`` (1-based positions) for :func:`qiwidgets.spc.control_chart`; ``rebase`` (dates)
    and ``fix_after_n_points`` for :func:`qiwidgets.spc.mdc_chart`. ``notes`` says in plain
    words what was applied and what was not (and why).
    """

    freeze: int | None = None
    part: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()
    rebase: tuple[dt.date, ...] = ()
    fix_after_n_points: int | None = None
    notes: tuple[str, ...] = ()

    def control_chart_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``spc.control_chart``."""
        return {
            "freeze": self.freeze,
            "part": list(self.part) or None,
            "exclude": list(self.exclude) or None,
        }

    def mdc_chart_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``spc.mdc_chart``."""
        return {
            "rebase": list(self.rebase) or None,
            "fix_after_n_points": self.fix_after_n_points,
        }


def chart_options(
    periods: Iterable[Any],
    annotations: Iterable[Any] = (),
    *,
    rule_set: str = "anhoej",
    baseline_end: dt.date | None = None,
) -> ChartOptions:
    """Turn the team's ``baseline`` / ``phase`` (``rebase``) / ``exclude`` annotations into options.

    * ``baseline`` — the annotation's date is the last period of the baseline: the limits are
      frozen on the points up to it (the newest baseline annotation wins). Without one, the
      measure's ``baseline_end`` is used when given.

    Only annotations with a recorded ``reason`` change the limits; others are listed in
    ``notes`` as not applied (a ``baseline`` note without a reason is just a label).
    * ``phase`` or ``rebase`` — a new phase starts at the annotation's date: limits are
      recalculated from the first period on or after it.
    * ``exclude`` — the point of that period is left out of the centre line and limits.

    For Making Data Count (``rule_set="mdc"``) phases become rebase dates, a baseline of at
    least 12 points fixes the limits, and excluded points are not left out (the method has no
    such option); ``notes`` says so.

    >>> ps = [dt.date(2025, m, 1) for m in range(1, 13)]
    >>> o = chart_options(ps, [{"kind": "baseline", "date": dt.date(2025, 6, 1)},
    ...                        {"kind": "exclude", "date": dt.date(2025, 3, 1)}])
    >>> (o.freeze, o.exclude)
    (6, (3,))
    """
    ps = _periods(periods)
    n = len(ps)
    notes: list[str] = []
    freeze = None
    parts: set[int] = set()
    exclude: set[int] = set()
    baseline_date = None
    frozen = ""
    for a in annotations:
        kind = _get(a, "kind")
        if kind not in LIMIT_CHANGING_KINDS:
            continue
        when = _as_date(_get(a, "date"))
        if not (_get(a, "reason") or "").strip():
            if kind != "baseline":  # a baseline note without a reason is only a label
                notes.append(
                    f"The {glossary.label(kind).lower()} of {when.isoformat()} has no recorded "
                    "reason, so it was not applied."
                )
            continue
        if kind == "baseline":
            baseline_date = when
        elif kind in ("phase", "rebase"):
            pos = sum(1 for p in ps if p < when)
            if pos <= 0 or pos >= n:
                notes.append(
                    f"The new phase from {when.isoformat()} was not applied: there is no data "
                    "point on both sides of it."
                )
            else:
                parts.add(pos)
        else:  # exclude
            if when in ps:
                exclude.add(ps.index(when) + 1)
            else:
                notes.append(
                    f"The exclusion of {when.isoformat()} was not applied: there is no data "
                    "point for that period."
                )
    source = "the team's baseline"
    if baseline_date is None and baseline_end is not None:
        baseline_date, source = _as_date(baseline_end), "the measure's baseline period"
    if baseline_date is not None:
        k = sum(1 for p in ps if p <= baseline_date)
        if k < 2:
            notes.append(
                f"{source[0].upper()}{source[1:]} (to {baseline_date.isoformat()}) holds fewer "
                "than 2 points and was not applied."
            )
        elif k < n:
            freeze = k
            frozen = (
                f"Limits frozen on the first {k} points ({source}, to {baseline_date.isoformat()})."
            )
    if rule_set == "mdc":
        rebase = tuple(ps[pos] for pos in sorted(parts))
        fix = None
        if freeze is not None:
            if freeze >= MDC_MIN_BASELINE:
                fix = freeze
                notes.append(frozen)
            else:
                notes.append(
                    f"The baseline has {freeze} points; Making Data Count fixes limits on at "
                    f"least {MDC_MIN_BASELINE}, so the limits use every point."
                )
        if exclude:
            notes.append(
                "Making Data Count charts do not leave points out of the limits: the excluded "
                "point(s) still count on this chart."
            )
        return ChartOptions(rebase=rebase, fix_after_n_points=fix, notes=tuple(notes))
    if freeze is not None and parts:
        notes.append(
            "The chart has phases, so the baseline is not frozen: each phase has its own limits."
        )
        freeze = None
    elif freeze is not None:
        notes.append(frozen)
    return ChartOptions(
        freeze=freeze, part=tuple(sorted(parts)), exclude=tuple(sorted(exclude)), notes=tuple(notes)
    )


def series_frame(obs: Any, measure: Any, *, mdc: bool = False):
    """One team's observations of one measure as ``x`` (date), ``y`` and ``n`` columns.

    Counts-based charts (P, U ...) plot ``numerator`` over ``denominator``; other charts plot
    ``value`` (or ``numerator`` when there is no value). With ``mdc`` a single value per period
    is made: ``value``, or ``numerator / denominator x multiplier``.
    """
    import numpy as np
    import pandas as pd

    obs = obs.sort_values("period")
    x = pd.to_datetime(obs["period"]).reset_index(drop=True)
    num = obs["numerator"].astype("float64").reset_index(drop=True)
    den = obs["denominator"].astype("float64").reset_index(drop=True)
    val = obs["value"].astype("float64").reset_index(drop=True)
    multiplier = _get(measure, "multiplier") or 1.0
    if mdc:
        if val.notna().any():
            y = val
        elif den.notna().any():
            with np.errstate(divide="ignore", invalid="ignore"):
                y = num / den.where(den > 0) * multiplier
        else:
            y = num
        return pd.DataFrame({"x": x, "y": y})
    chart = chart_type_for(measure)
    if chart in ("p", "pp", "u", "up") or (
        chart in ("run", "i") and val.isna().all() and den.notna().any()
    ):
        return pd.DataFrame({"x": x, "y": num, "n": den})
    y = val if val.notna().any() else num
    return pd.DataFrame({"x": x, "y": y})


@dataclass(frozen=True)
class ChartView:
    """A computed chart: the SPC ``result``, the ``options`` applied and the ``chart`` type."""

    result: Any
    options: ChartOptions
    chart: str
    rule_set: str
    notes: tuple[str, ...] = ()


def compute_chart(
    obs: Any, measure: Any, rule_set: str = "anhoej", annotations: Iterable[Any] = ()
) -> ChartView:
    """Compute one measure's chart under a rule set, with the team's baseline/phase/exclude.

    ``rule_set``: ``anhoej`` (the measure's chart type, Anhøj run rules), ``ihi`` (a run chart
    with IHI rules) or ``mdc`` (a Making Data Count XmR chart). Raises
    :class:`WorkbookInputError` when there are no data points yet.
    """
    from qiwidgets import spc

    rule_set = clean_choice(rule_set, "rule_set", glossary.RULE_SETS)
    name = _get(measure, "name") or _get(measure, "code") or "The measure"
    if obs is None or len(obs) == 0:
        raise WorkbookInputError(f"There are no data points for {name} yet.")
    options = chart_options(
        obs["period"], annotations, rule_set=rule_set, baseline_end=_get(measure, "baseline_end")
    )
    direction = _get(measure, "improvement_direction")
    target = _get(measure, "target")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if rule_set == "mdc":
            frame = series_frame(obs, measure, mdc=True)
            result = spc.mdc_chart(
                frame, x="x", y="y", improvement=direction or "neutral", target=target,
                label=name, **options.mdc_chart_kwargs(),
            )  # fmt: skip
            chart = "xmr"
        else:
            chart = "run" if rule_set == "ihi" else chart_type_for(measure)
            frame = series_frame(obs, measure)
            has_n = "n" in frame
            multiply = (_get(measure, "multiplier") or 1.0) if has_n else 1.0
            result = spc.control_chart(
                frame, x="x", y="y", n="n" if has_n else None, chart=chart,
                multiply=multiply, target=target, label=name, improvement=direction,
                rule_set=rule_set, **options.control_chart_kwargs(),
            )  # fmt: skip
    notes = list(options.notes) + [
        str(w.message) for w in caught if str(w.message) not in options.notes
    ]
    return ChartView(result, options, chart, rule_set, tuple(dict.fromkeys(notes)))


@dataclass(frozen=True)
class SignalEvent:
    """A signal on a chart: ``kind`` (``shift``, ``trend``, ``outside``, ``special cause``),
    the period it ``start``\\s and ``end``\\s, and ``direction`` (``up``/``down``/None)."""

    kind: str
    start: dt.date
    end: dt.date
    direction: str | None = None

    @property
    def label(self) -> str:
        return {
            "shift": "a shift",
            "trend": "a trend",
            "outside": "a point outside the limits",
            "special cause": "a special cause",
        }.get(self.kind, self.kind)


def _segments(flags: Sequence[bool]) -> list[tuple[int, int]]:
    out, start = [], None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


def _direction(y: float, cl: float) -> str | None:
    if y is None or cl is None or not (math.isfinite(y) and math.isfinite(cl)) or y == cl:
        return None
    return "up" if y > cl else "down"


def signal_events(result: Any) -> list[SignalEvent]:
    """Where signals begin on a (single-series) chart, oldest first.

    Reads the per-point flags the SPC engine computed: for Making Data Count the
    ``special_cause_flag``; for IHI rules the ``shift`` and ``trend`` flags; for Anhøj rules the
    runs longer than the part's ``longest_run_max`` (in parts with a runs signal). Points outside
    the limits count for every rule set.
    """
    pts = result.points.reset_index(drop=True)
    if not len(pts):
        return []
    xs = [_as_date(v) for v in pts["x"]]
    y = pts["y"].astype(float).tolist()
    cl = pts["cl"].astype(float).tolist()
    events: list[SignalEvent] = []

    def add(kind: str, flags: Sequence[bool], by_side: bool = True) -> None:
        for s, e in _segments([bool(f) for f in flags]):
            start = s
            for i in range(s + 1, e + 2):  # a run that changes side is two signals
                if i <= e and (
                    not by_side or _direction(y[i], cl[i]) == _direction(y[start], cl[start])
                ):
                    continue
                events.append(
                    SignalEvent(kind, xs[start], xs[i - 1], _direction(y[start], cl[start]))
                )
                start = i

    if "special_cause_flag" in pts:  # Making Data Count
        add("special cause", pts["special_cause_flag"].fillna(False).astype(bool).tolist())
        return sorted(events, key=lambda ev: (ev.start, ev.kind))
    add("outside", pts["sigma_signal"].fillna(False).astype(bool).tolist())
    if "shift" in pts:  # IHI rules
        add("shift", pts["shift"].fillna(False).astype(bool).tolist())
        add("trend", pts["trend"].fillna(False).astype(bool).tolist(), by_side=False)
    else:  # Anhøj: locate the unusually long runs in parts flagged with a runs signal
        include = pts["include"].fillna(True).astype(bool).tolist() if "include" in pts else None
        for part in pts["part"].unique():
            idx = [i for i in range(len(pts)) if pts["part"].iat[i] == part]
            if not bool(pts["runs_signal"].iat[idx[0]]):
                continue
            limit = float(pts["longest_run_max"].iat[idx[0]])
            useful = [
                i for i in idx
                if math.isfinite(y[i]) and math.isfinite(cl[i]) and y[i] != cl[i]
                and (include is None or include[i])
            ]  # fmt: skip
            run: list[int] = []
            for i in [*useful, None]:
                if i is not None and run and (y[i] > cl[i]) == (y[run[0]] > cl[run[0]]):
                    run.append(i)
                    continue
                if len(run) > limit:
                    events.append(
                        SignalEvent(
                            "shift", xs[run[0]], xs[run[-1]], _direction(y[run[0]], cl[run[0]])
                        )
                    )
                run = [i] if i is not None else []
    return sorted(events, key=lambda ev: (ev.start, ev.kind))


def _event_text(ev: SignalEvent) -> str:
    return f"{ev.label} from {ev.start:%b %Y}" if ev.start else ev.label


def compare_signals(
    before: Sequence[SignalEvent], after: Sequence[SignalEvent], before_name: str, after_name: str
) -> str:
    """What changed when switching rule set, in one or two plain sentences."""

    def describe(evs: Sequence[SignalEvent]) -> str:
        if not evs:
            return "no signal"
        shown = "; ".join(_event_text(e) for e in evs[:4])
        more = f" and {len(evs) - 4} more" if len(evs) > 4 else ""
        return f"{len(evs)} signal{'s' if len(evs) != 1 else ''} ({shown}{more})"

    text = f"With {after_name}: {describe(after)}. With {before_name}: {describe(before)}."
    new_starts = {e.start for e in after} - {e.start for e in before}
    gone = {e.start for e in before} - {e.start for e in after}
    if not new_starts and not gone:
        return text + " The signals begin at the same points."
    if new_starts:
        text += (
            f" New under {after_name}: from "
            + ", ".join(f"{d:%b %Y}" for d in sorted(new_starts))
            + "."
        )
    if gone:
        text += " No longer flagged: from " + ", ".join(f"{d:%b %Y}" for d in sorted(gone)) + "."
    return text


_UNITS = {
    "daily": "day",
    "weekly": "week",
    "fortnightly": "fortnight",
    "monthly": "month",
    "quarterly": "quarter",
}


@dataclass(frozen=True)
class PDSAPrompt:
    """A nudge: a signal began soon after a PDSA cycle started."""

    pdsa_id: Any
    title: str
    pdsa_start: dt.date
    signal: SignalEvent
    periods_after: int
    text: str


def pdsa_signal_prompts(
    events: Sequence[SignalEvent],
    cycles: Iterable[Any],
    periods: Iterable[Any],
    *,
    frequency: str | None = "monthly",
    within: int = PDSA_PROMPT_WITHIN,
) -> list[PDSAPrompt]:
    """Prompts for signals that began within ``within`` periods after a PDSA cycle's Do started.

    The distance is counted in the chart's periods: the periods after the PDSA start up to and
    including the one where the signal began. Each signal is matched with the latest cycle that
    started before it. Example text: *"A shift began 2 months after PDSA 'Falls huddles'
    started — record what you learned?"*
    """
    ps = _periods(periods)
    unit = _UNITS.get(frequency or "", "period")
    starts = [(_as_date(_get(c, "do_start")), c) for c in cycles if _get(c, "do_start") is not None]
    prompts = []
    for ev in events:
        best = None
        for start, cycle in starts:
            if start > ev.start:
                continue
            k = sum(1 for p in ps if start < p <= ev.start)
            if k <= within and (best is None or start > best[0]):
                best = (start, cycle, k)
        if best is None:
            continue
        start, cycle, k = best
        title = _get(cycle, "title") or "untitled"
        verb = "appeared" if ev.kind == "outside" else "began"
        when = f"in the same {unit} as" if k == 0 else f"{k} {unit}{'s' if k != 1 else ''} after"
        what = ev.label[0].upper() + ev.label[1:]
        text = f"{what} {verb} {when} PDSA '{title}' started — record what you learned?"
        prompts.append(PDSAPrompt(_get(cycle, "id"), title, start, ev, k, text))
    return prompts


def _watched_ids(cycle: Any) -> list[Any]:
    watched = _get(cycle, "measure_ids")
    if watched is None:
        watched = [_get(x, "id") for x in (_get(cycle, "measures") or [])]
    return list(watched)


def cycles_for_measure(cycles: Iterable[Any], measure_id: Any) -> list[Any]:
    """The PDSA cycles that watch a measure, or watch no measure in particular."""
    out = []
    for c in cycles:
        watched = _watched_ids(c)
        if measure_id is None or not watched or measure_id in watched:
            out.append(c)
    return out


#: The Act decisions (``store.models.PDSA_ACTS``) as a chart's end-of-cycle marker says them.
PDSA_DECISIONS = {"adopt": "Adopted", "adapt": "Adapted", "abandon": "Abandoned"}


def pdsa_end_text(act: str | None, title: str) -> str:
    """The label of a PDSA cycle's end marker on a chart, e.g. ``"Adapted: Yellow socks"``."""
    return f"{PDSA_DECISIONS.get(act or '', 'Decided')}: {title}"


def pdsa_markers(
    cycles: Iterable[Any], measure_id: Any = None, marked: Iterable[Any] = (), until: Any = None
) -> list[dict[str, Any]]:
    """The chart markers of the PDSA cycles that watch a measure (or no measure in particular).

    A cycle's Do start becomes ``pdsa_start`` ("PDSA: <title>") unless its id is in ``marked``
    (an annotation already marks it), its Act ``pdsa_end`` ("Adopted: <title>"). With ``until``
    (a date), later markers are left out: a monthly report does not show what came after it.
    """
    last = _as_date(until) if until is not None else None
    rows = []
    marked = set(marked)
    for c in cycles_for_measure(cycles, measure_id):
        title = _get(c, "title") or "PDSA"
        if _get(c, "do_start") is not None and _get(c, "id") not in marked:
            rows.append(
                {"date": _as_date(_get(c, "do_start")), "text": f"PDSA: {title}",
                 "kind": "pdsa_start"}
            )  # fmt: skip
        if _get(c, "act_date") is not None and _get(c, "act"):
            rows.append(
                {"date": _as_date(_get(c, "act_date")),
                 "text": pdsa_end_text(_get(c, "act"), title), "kind": "pdsa_end"}
            )  # fmt: skip
    return [r for r in rows if last is None or r["date"] <= last]


def chart_annotations(
    annotations: Iterable[Any], cycles: Iterable[Any] = (), measure_id: Any = None
) -> list[dict[str, Any]]:
    """Annotations and PDSA cycles as the rows a chart draws (``date``, ``text``, ``kind``).

    The cycles are drawn as :func:`pdsa_markers` draws them (none twice: a ``pdsa_start``
    annotation linked to a cycle stands for its start). A baseline, phase or exclusion shows its
    reason after the text.
    """
    rows = []
    marked = set()
    for a in annotations:
        kind = _get(a, "kind") or "event"
        text = _get(a, "text") or ""
        reason = _get(a, "reason")
        if reason and kind in LIMIT_CHANGING_KINDS:
            text = f"{text} ({reason})" if text else reason
        if kind == "pdsa_start" and _get(a, "pdsa_id") is not None:
            marked.add(_get(a, "pdsa_id"))
        rows.append({"date": _as_date(_get(a, "date")), "text": text, "kind": kind})
    rows += pdsa_markers(cycles, measure_id, marked)
    return sorted(rows, key=lambda r: r["date"])


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


# =============================================================================================
# PDSA and the learning-system check
# =============================================================================================

#: The stages of a PDSA cycle, in order.
PDSA_STAGES = ("plan", "do", "act", "done")


def pdsa_stage(cycle: Any) -> str:
    """Where a cycle is: ``plan`` (not started yet), ``do`` (the test is running), ``act`` (the
    result is studied, the decision is still open) or ``done`` (adopted, adapted or abandoned)."""
    if _get(cycle, "act"):
        return "done"
    if _get(cycle, "study_result"):
        return "act"
    if _get(cycle, "do_start") is not None:
        return "do"
    return "plan"


def health_history(frame: Any):
    """Health-check ratings as a table: one row per period, one column per component."""
    import pandas as pd

    cols = list(glossary.HEALTH_COMPONENTS)
    if frame is None or not len(frame):
        return pd.DataFrame(columns=["period", *cols])
    wide = frame.pivot_table(index="period", columns="component", values="rating", aggfunc="last")
    wide = wide.reindex(columns=cols)
    return wide.reset_index()
