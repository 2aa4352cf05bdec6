"""PDSA cycles: where a cycle is, its markers on a chart, and the prompts a signal after a
test of change gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qiwidgets.workbook.inputs import _as_date, _get, _periods
from qiwidgets.workbook.variation import LIMIT_CHANGING_KINDS, SignalEvent

#: How many periods after a PDSA start a new signal prompts "record what you learned?".
PDSA_PROMPT_WITHIN = 3

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


