"""The value every chart function returns."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.errors import SPCDataError, SPCOptionError


class _BuiltOnFirstUse:
    """A field holding a DataFrame, or a function that builds it on first access (then kept).

    The statistics of a single 60-point series cost less than pandas takes to assemble its two
    result tables (~0.25 ms each), so the chart functions hand over builders and the tables are
    made when first read. ``result.points`` is always a DataFrame to the caller.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, objtype: type | None = None) -> pd.DataFrame:
        if obj is None:
            raise AttributeError(self.slot)  # no class-level default: the field is required
        value = obj.__dict__[self.slot]
        if callable(value):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


def once(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` wrapped so that it runs at most once; later calls return the first result."""
    memo: list[Any] = []

    def get() -> Any:
        if not memo:
            memo.append(build())
        return memo[0]

    return get


@dataclass(frozen=True)
class SPCResult:
    """What a chart function computed: data only, no drawing.

    Attributes
    ----------
    points:
        One row per plotted point (see the function's docstring for the columns). Built on
        first access (the chart functions pass a builder); always a DataFrame when read.
    summary:
        One row per facet x part (qicharts2 profile) or facet x rebase group (Making Data
        Count). Built on first access, like ``points``.
    readings:
        One plain-language sentence per facet (a single entry, keyed ``None``, without facets).
    chart_type:
        The chart type (``"run"``, ``"i"``, ..., ``"xmr"`` for Making Data Count, ``"funnel"``).
    rule_set:
        The rule set the signals come from, named on every chart: ``"Anhøj"``, ``"IHI"``,
        ``"Making Data Count"`` or ``"Funnel (Spiegelhalter)"``.
    facets:
        Names of the facet columns in ``points`` (empty without facets).
    options:
        The options as the function understood them (for drawing, reports and reproducibility).
    warnings:
        Human-readable warnings raised while computing (e.g. a short baseline).

    In a notebook a result shows itself as its chart (SVG, drawn here: nothing is fetched),
    its reading and its summary table; :meth:`chart`, :meth:`to_svg` and :meth:`to_png` draw it
    with :mod:`qiwidgets.charts`, which is imported only then.
    """

    points: pd.DataFrame = _BuiltOnFirstUse()  # type: ignore[assignment]
    summary: pd.DataFrame = _BuiltOnFirstUse()  # type: ignore[assignment]
    readings: Mapping[Any, str]
    chart_type: str
    rule_set: str
    facets: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def reading(self) -> str:
        """The plain-language reading: one sentence, or one line per facet.

        Raises :class:`~qiwidgets.errors.SPCDataError` when the chart has no points.
        """
        if len(self.points) == 0:
            raise SPCDataError(NO_POINTS_MESSAGE)
        if len(self.readings) == 1:
            return next(iter(self.readings.values()))
        return "\n".join(f"{_facet_label(k)}: {v}" for k, v in self.readings.items())

    def verdicts(self) -> pd.DataFrame:
        """The verdict of every series at its latest point: one row per facet.

        The same question answered the same way for both profiles (``control_chart`` and
        ``mdc_chart``), read from the result and never worked out again: consumers (charts,
        reports, dashboards) show these values rather than classify points themselves.

        Columns: the facet columns (none without facets), ``group`` (the part of a control chart
        or the rebase group of a Making Data Count chart that holds the latest point), ``x`` and
        ``y`` of the latest point (``y`` is NaN when its value is missing: then it is common
        cause, as in NHSRplotthedots), ``point_type`` (``common_cause``,
        ``special_cause_improvement``, ``special_cause_concern``,
        ``special_cause_neutral_high`` / ``_low``), ``variation_type`` (the same without the
        side of a neutral signal: ``special_cause_neutral``), ``variation_icon``,
        ``assurance_type`` (``consistent_pass``, ``consistent_fail``, ``inconsistent``, or
        missing when there is no target, no improvement direction or no finite limits),
        ``assurance_icon`` (``pass``, ``fail``, ``hit_and_miss``), ``target``. Built once, then
        kept.

        Raises :class:`~qiwidgets.errors.SPCDataError` when the chart has no points or its
        points are not classified (a funnel plot).
        """
        cached = self.__dict__.get("_verdicts")
        if cached is None:
            cached = _build_verdicts(self)
            self.__dict__["_verdicts"] = cached
        return cached

    def latest(self, facet: Any = None) -> Verdict:
        """The verdict for one series at its latest point (see :meth:`verdicts`).

        ``facet`` is the facet's value (a tuple for two facet columns); leave it out for a chart
        without facets.

        Examples
        --------
        >>> import pandas as pd
        >>> from qiwidgets import spc
        >>> d = pd.DataFrame({"month": pd.date_range("2024-01-01", periods=20, freq="MS"),
        ...                   "falls": [6, 7, 5, 6, 7, 6, 5, 7, 6, 5, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2]})
        >>> v = spc.control_chart(d, x="month", y="falls", chart="i",
        ...                       improvement="decrease").latest()
        >>> v.variation_type, v.rule_set
        ('special_cause_improvement', 'Anhøj')
        """
        table = self.verdicts()
        if self.facets:
            if len(self.facets) == 1:
                mask = table[self.facets[0]] == facet
            else:
                if not isinstance(facet, tuple) or len(facet) != len(self.facets):
                    raise SPCOptionError(
                        f"`facet` must be a tuple of {len(self.facets)} values (one per facet "
                        f"column {', '.join(self.facets)}), got {facet!r}."
                    )
                mask = np.ones(len(table), dtype=bool)
                for col, value in zip(self.facets, facet):
                    mask &= (table[col] == value).to_numpy()
            rows = np.flatnonzero(np.asarray(mask, dtype=bool))
            if not rows.size:
                raise SPCOptionError(
                    f"`facet` {facet!r} is not a facet of this chart; facets are e.g. "
                    f"{', '.join(repr(k) for k in list(self.readings)[:3])}."
                )
            row = table.iloc[rows[0]]
        else:
            if facet is not None:
                raise SPCOptionError(f"`facet` must be None for a chart without facets, got {facet!r}.")
            row = table.iloc[0]

        def text(value: Any) -> str | None:
            return value if isinstance(value, str) else None

        target = float(row["target"])
        return Verdict(
            facet=facet,
            group=int(row["group"]),
            x=row["x"],
            y=float(row["y"]),
            point_type=str(row["point_type"]),
            variation_type=str(row["variation_type"]),
            variation_icon=str(row["variation_icon"]),
            assurance_type=text(row["assurance_type"]),
            assurance_icon=text(row["assurance_icon"]),
            target=None if math.isnan(target) else target,
            improvement=self.options.get("improvement"),
            rule_set=self.rule_set,
            chart=self.chart_type,
        )

    def __repr__(self) -> str:  # short, for notebooks
        return (
            f"<SPCResult chart_type={self.chart_type!r} rule_set={self.rule_set!r} "
            f"points={len(self.points)} groups={len(self.summary)}>"
        )

    # --- drawing: qiwidgets.charts draws; imported here only when asked, so that importing
    # --- qiwidgets.spc imports neither Altair nor vl-convert (tests/test_layering.py)

    def chart(self, **options: Any) -> Any:
        """The chart of this result as an Altair chart, drawn by :mod:`qiwidgets.charts`.

        Takes the options of :func:`qiwidgets.charts.spc_chart` (``facet``, ``annotations``,
        ``title``, ``show_inner``, ``show_icons``, ``limit_labels``, ``width``, ``height``); a
        result with several facets is drawn as small multiples unless ``facet`` picks one.
        """
        from qiwidgets import charts

        return charts.spc_chart(self, **options)

    def to_svg(self, **options: Any) -> str:
        """The chart as an SVG string, rendered here (no network); options as :meth:`chart`."""
        from qiwidgets import charts

        return charts.to_svg(self.chart(**options))

    def to_png(self, *, scale: float = 2.0, **options: Any) -> bytes:
        """The chart as PNG bytes (``scale`` 2: crisp on screen and in print); options as
        :meth:`chart`."""
        from qiwidgets import charts

        return charts.to_png(self.chart(**options), scale=scale)

    def to_html(self, **options: Any) -> str:
        """What a notebook shows: the chart (inline SVG with its reading as the caption), the
        rule set and the summary table, as one static HTML fragment (no script, nothing
        fetched); options as :meth:`chart`."""
        from qiwidgets.charts.display import result_html

        return result_html(self, **options)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter's display: the HTML of :meth:`to_html`, and the reading as plain text."""
        from qiwidgets.charts.display import mimebundle

        return mimebundle(self)


@dataclass(frozen=True)
class Verdict:
    """One series' verdict at its latest point, as :meth:`SPCResult.latest` returns it.

    Attributes
    ----------
    facet:
        The facet asked for (None without facets).
    group:
        The part (control chart) or rebase group (Making Data Count) of the latest point.
    x, y:
        The latest point (``y`` NaN when its value is missing).
    point_type:
        The latest point's type: ``common_cause``, ``special_cause_improvement``,
        ``special_cause_concern``, ``special_cause_neutral_high`` or ``_low``.
    variation_type:
        ``common_cause``, ``special_cause_improvement``, ``special_cause_concern`` or
        ``special_cause_neutral``.
    variation_icon:
        The Making Data Count variation icon: ``common_cause``, ``improvement_high``,
        ``improvement_low``, ``concern_high``, ``concern_low``, ``neutral_high``,
        ``neutral_low``.
    assurance_type, assurance_icon:
        ``consistent_pass`` / ``pass``, ``consistent_fail`` / ``fail``, ``inconsistent`` /
        ``hit_and_miss``; None without a target, a direction or finite limits.
    target:
        The target (plotted units), or None.
    improvement:
        The improvement direction the verdict was judged against (None: none given).
    rule_set, chart:
        The rule set that found the signals and the chart type.
    """

    facet: Any
    group: int
    x: Any
    y: float
    point_type: str
    variation_type: str
    variation_icon: str
    assurance_type: str | None
    assurance_icon: str | None
    target: float | None
    improvement: str | None
    rule_set: str
    chart: str


NO_POINTS_MESSAGE = (
    "The chart has no points, so there is nothing to read: check that `data` has rows for the "
    "period and measure asked for."
)

#: What verdicts() reads from ``points`` and ``summary`` (both profiles have these columns).
_VERDICT_POINT_COLUMNS = ("x", "y", "point_type", "target")
_VERDICT_SUMMARY_COLUMNS = ("variation_type", "variation_icon", "assurance_type", "assurance_icon")


def _last_of_each(frame: pd.DataFrame, cols: tuple[str, ...]) -> np.ndarray:
    """Row positions of the last row of each run of equal ``cols`` values (rows are sorted by
    facet, so each facet is one run); the last row without facets."""
    n = len(frame)
    if not cols:
        return np.array([n - 1])
    change = np.zeros(n, dtype=bool)
    change[-1] = True
    for c in cols:
        values = frame[c].to_numpy()
        change[:-1] |= values[1:] != values[:-1]
    return np.flatnonzero(change)


def _build_verdicts(result: SPCResult) -> pd.DataFrame:
    pts, summ = result.points, result.summary
    if len(pts) == 0:
        raise SPCDataError(NO_POINTS_MESSAGE)
    missing = [c for c in _VERDICT_POINT_COLUMNS if c not in pts] + [
        c for c in _VERDICT_SUMMARY_COLUMNS if c not in summ
    ]
    if missing:
        raise SPCDataError(
            f"A {result.rule_set} result has no verdict over time (no {', '.join(missing)}): "
            "latest() is for control charts and Making Data Count charts."
        )
    cols = tuple(result.facets)
    group_col = "part" if "part" in summ else "rebase_group"
    p_last = _last_of_each(pts, cols)
    s_last = _last_of_each(summ, cols)
    if len(p_last) != len(s_last):  # pragma: no cover - both tables hold every facet
        raise SPCDataError("points and summary hold different facets")
    out = {c: pts[c].iloc[p_last].to_numpy() for c in cols}
    out["group"] = summ[group_col].to_numpy()[s_last]
    for c in _VERDICT_POINT_COLUMNS:
        out[c] = pts[c].iloc[p_last].reset_index(drop=True)
    for c in _VERDICT_SUMMARY_COLUMNS:
        out[c] = summ[c].iloc[s_last].reset_index(drop=True)
    return pd.DataFrame(out)


def _facet_label(key: Any) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key)
    return str(key)


class LazyReadings(Mapping):
    """Readings built on first access, one facet at a time.

    A batch of 20,000 series should not pay for 20,000 sentences nobody reads; a notebook that
    asks for one facet's reading builds only that one.
    """

    def __init__(self, keys: Iterable[Any] | Callable[[], Iterable[Any]],
                 build: Callable[[Any], str]):  # fmt: skip
        self._keys_source = keys
        self._keys_list: list[Any] | None = None
        self._index: dict[Any, int] = {}
        self._build = build
        self._cache: dict[Any, str] = {}

    @property
    def _keys(self) -> list[Any]:
        """The facet keys (worked out on first use when given as a function)."""
        if self._keys_list is None:
            source = self._keys_source
            self._keys_list = list(source() if callable(source) else source)
            self._index = {k: i for i, k in enumerate(self._keys_list)}
        return self._keys_list

    def __getitem__(self, key: Any) -> str:
        if key not in self._cache:
            self._keys  # noqa: B018 - works the keys (and their index) out on first use
            if key not in self._index:
                raise KeyError(key)
            self._cache[key] = self._build(key)
        return self._cache[key]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"<LazyReadings: {len(self)} facets>"


def frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame from equal-length column arrays, built without re-validating them.

    ``pd.DataFrame(dict)`` re-checks and re-infers every column, which costs more than the
    statistics of a single 60-point series; the engine's arrays are already clean, so they are
    handed to pandas' array constructor directly (``DataFrame._from_arrays``, used the same way
    by pandas' own readers). Should a future pandas drop it, the public constructor is used.
    """
    names = list(columns)
    arrays = [columns[c] for c in names]
    length = len(arrays[0]) if arrays else 0
    builder = getattr(pd.DataFrame, "_from_arrays", None)
    if builder is not None:
        try:
            return builder(
                arrays,
                columns=pd.Index(names, dtype=object),
                index=pd.RangeIndex(length),
                verify_integrity=False,
            )
        except TypeError:  # signature changed: fall back to the public constructor
            pass
    return pd.DataFrame(dict(zip(names, arrays)))
