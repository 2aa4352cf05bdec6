"""Variation: a measure's chart under the team's annotations, and the signals on it."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qiwidgets import glossary
from qiwidgets.spc.constants import MDC_MIN_FIX_AFTER
from qiwidgets.workbook.inputs import WorkbookInputError, _as_date, _get, _periods, clean_choice
from qiwidgets.workbook.measures import RATIO_CHARTS, chart_type_for, multiplier_for, rule_set_for

#: Annotation kinds that change how the limits are computed; each needs a recorded reason.
LIMIT_CHANGING_KINDS = ("baseline", "phase", "rebase", "exclude")
#: Fewest points Making Data Count fixes limits on (NHSRplotthedots ``fix_after_n_points``).
MDC_MIN_BASELINE = MDC_MIN_FIX_AFTER
#: Fewest points a new phase (rebase) needs before its limits are calculated: enough for
#: provisional limits, as Making Data Count advises (NHSRplotthedots warns below 12,
#: docs/domain.md "Recalculating limits"). Until then the limits describe the process before
#: the change, and the chart says so.
MIN_PHASE_POINTS = MDC_MIN_FIX_AFTER

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
            elif n - pos < MIN_PHASE_POINTS:
                notes.append(
                    f"The new phase from {when:%b %Y} has {n - pos} point"
                    f"{'s' if n - pos != 1 else ''} so far: its limits are calculated once it "
                    f"has {MIN_PHASE_POINTS} (Making Data Count guidance). Until then the limits "
                    "describe the process before the change."
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
    is made: ``value``, or ``numerator / denominator x`` :func:`multiplier_for`. Every row is
    kept; :func:`plotted_series` leaves out the periods that have nothing to plot.
    """
    import numpy as np
    import pandas as pd

    obs = obs.sort_values("period")
    x = pd.to_datetime(obs["period"]).reset_index(drop=True)
    num = obs["numerator"].astype("float64").reset_index(drop=True)
    den = obs["denominator"].astype("float64").reset_index(drop=True)
    val = obs["value"].astype("float64").reset_index(drop=True)
    if mdc:
        if val.notna().any():
            y = val
        elif den.notna().any():
            with np.errstate(divide="ignore", invalid="ignore"):
                y = num / den.where(den > 0) * multiplier_for(measure)
        else:
            y = num
        return pd.DataFrame({"x": x, "y": y})
    chart = chart_type_for(measure)
    if chart in RATIO_CHARTS or (
        chart in ("run", "i") and val.isna().all() and den.notna().any()
    ):
        return pd.DataFrame({"x": x, "y": num, "n": den})
    y = val if val.notna().any() else num
    return pd.DataFrame({"x": x, "y": y})


def plotted_series(obs: Any, measure: Any, *, mdc: bool = False):
    """``(frame, notes)``: :func:`series_frame` without the periods that have nothing to plot
    (no value; or a denominator that is missing or 0, as in "0 of 0 patients": no cases that
    month), each named in ``notes``. Every channel charts the same points."""
    frame = series_frame(obs, measure, mdc=mdc)
    bad = frame["y"].isna()
    zero = None
    if "n" in frame:
        zero = frame["n"].notna() & (frame["n"] <= 0)
        bad = bad | frame["n"].isna() | zero
    notes = []
    for i in bad[bad].index:
        when = f"{frame['x'].iat[i]:%b %Y}"
        if zero is not None and zero.iat[i]:
            notes.append(f"{when} has a denominator of 0 (no cases that month): it is left out "
                         "of the chart.")  # fmt: skip
        else:
            notes.append(f"{when} has no value to plot: it is left out of the chart.")
    return frame[~bad].reset_index(drop=True), notes


@dataclass(frozen=True)
class ChartView:
    """A computed chart: the SPC ``result``, the ``options`` applied and the ``chart`` type."""

    result: Any
    options: ChartOptions
    chart: str
    rule_set: str
    notes: tuple[str, ...] = ()


def compute_chart(
    obs: Any, measure: Any, rule_set: str | None = None, annotations: Iterable[Any] = ()
) -> ChartView:
    """Compute one measure's chart under a rule set, with the team's baseline/phase/exclude.

    ``rule_set``: ``anhoej`` (the measure's chart type, Anhøj run rules), ``ihi`` (a run chart
    with IHI rules) or ``mdc`` (a Making Data Count XmR chart); by default the measure's own
    (:func:`~qiwidgets.workbook.measures.rule_set_for`). Ratios are multiplied by
    :func:`~qiwidgets.workbook.measures.multiplier_for`. Raises :class:`WorkbookInputError`
    when there are no data points yet.
    """
    from qiwidgets import spc

    if rule_set is None:
        rule_set = rule_set_for(measure)
    rule_set = clean_choice(rule_set, "rule_set", glossary.RULE_SETS)
    name = _get(measure, "name") or _get(measure, "code") or "The measure"
    if obs is None or len(obs) == 0:
        raise WorkbookInputError(f"There are no data points for {name} yet.")
    frame, dropped = plotted_series(obs, measure, mdc=rule_set == "mdc")
    if frame.empty:
        raise WorkbookInputError(f"There are no data points for {name} yet: " + " ".join(dropped))
    options = chart_options(
        frame["x"], annotations, rule_set=rule_set, baseline_end=_get(measure, "baseline_end")
    )
    direction = _get(measure, "improvement_direction")
    target = _get(measure, "target")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if rule_set == "mdc":
            result = spc.mdc_chart(
                frame, x="x", y="y", improvement=direction or "neutral", target=target,
                label=name, **options.mdc_chart_kwargs(),
            )  # fmt: skip
            chart = "xmr"
        else:
            chart = "run" if rule_set == "ihi" else chart_type_for(measure)
            has_n = "n" in frame
            result = spc.control_chart(
                frame, x="x", y="y", n="n" if has_n else None, chart=chart,
                multiply=multiplier_for(measure) if has_n else 1.0, target=target, label=name,
                improvement=direction, rule_set=rule_set, **options.control_chart_kwargs(),
            )  # fmt: skip
    notes = [*dropped, *options.notes] + [
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
                # a run goes the way of its side of the centre line, a trend the way it moves
                way = _direction(y[start], cl[start]) if by_side else _direction(y[i - 1], y[start])
                events.append(SignalEvent(kind, xs[start], xs[i - 1], way))
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


