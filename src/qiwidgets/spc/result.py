"""The value every chart function returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class SPCResult:
    """What a chart function computed: data only, no drawing.

    Attributes
    ----------
    points:
        One row per plotted point (see the function's docstring for the columns).
    summary:
        One row per facet x part (qicharts2 profile) or facet x rebase group (Making Data Count).
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

    points: pd.DataFrame
    summary: pd.DataFrame
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

    def __init__(self, keys: Iterable[Any], build: Callable[[Any], str]):
        self._keys = list(keys)
        self._index = {k: i for i, k in enumerate(self._keys)}
        self._build = build
        self._cache: dict[Any, str] = {}

    def __getitem__(self, key: Any) -> str:
        if key not in self._index:
            raise KeyError(key)
        if key not in self._cache:
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
