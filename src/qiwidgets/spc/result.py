"""The value every chart function returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


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
    chart:
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
    """

    points: pd.DataFrame = _BuiltOnFirstUse()  # type: ignore[assignment]
    summary: pd.DataFrame = _BuiltOnFirstUse()  # type: ignore[assignment]
    readings: Mapping[Any, str]
    chart: str
    rule_set: str
    facets: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def reading(self) -> str:
        """The plain-language reading: one sentence, or one line per facet."""
        if len(self.readings) == 1:
            return next(iter(self.readings.values()))
        return "\n".join(f"{_facet_label(k)}: {v}" for k, v in self.readings.items())

    def __repr__(self) -> str:  # short, for notebooks
        return (
            f"<SPCResult chart={self.chart!r} rule_set={self.rule_set!r} "
            f"points={len(self.points)} groups={len(self.summary)}>"
        )


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
