"""Small helpers shared by the chart modules: the error class, JSON-safe records, labels."""

from __future__ import annotations

import json
import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.charts import palette as P
from qiwidgets.errors import ChartError
from qiwidgets.spc.reading import format_number, format_x

__all__ = ["ChartError"]  # re-exported: the chart modules import it from here


#: How each chart type is named on the chart (qicharts2 chart codes, plus "xmr" for MDC).
CHART_NAMES = {
    "run": "Run chart",
    "i": "I chart (individual values)",
    "mr": "MR chart (moving ranges)",
    "xbar": "Xbar chart (subgroup means)",
    "s": "S chart (subgroup standard deviations)",
    "p": "P chart (proportions)",
    "pp": "P′ chart (proportions, Laney)",
    "c": "C chart (counts)",
    "u": "U chart (rates)",
    "up": "U′ chart (rates, Laney)",
    "g": "G chart (cases between events)",
    "t": "T chart (time between events)",
    "xmr": "XmR chart",
    "funnel": "Funnel plot",
}


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts: dates as ISO strings, numpy as Python; missing values are left
    out of the row (Vega treats an absent field as missing, and the spec stays small)."""
    out: list[dict[str, Any]] = []
    cols = list(df.columns)
    converted = []
    for c in cols:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            vals = [
                None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%dT%H:%M:%S") for v in s
            ]
        else:
            vals = [_plain(v) for v in s.tolist()]
        converted.append(vals)
    for row in zip(*converted, strict=True):
        out.append({c: v for c, v in zip(cols, row, strict=True) if v is not None})
    return out


def inline_data(df: pd.DataFrame) -> dict:
    """The rows as one inline JSON string (Vega parses it; Altair need not walk every value).

    Altair validates and walks inline lists value by value, which took seconds for a few
    thousand rows; a JSON string is one value to it and the same data to Vega-Lite.
    """
    text = json.dumps(records(df), separators=(",", ":"), ensure_ascii=False)
    return {"values": text, "format": {"type": "json"}}


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v).strftime("%Y-%m-%dT%H:%M:%S")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v if isinstance(v, str) else str(v)


def facet_label(key: Any) -> str:
    """A facet key as shown on a chart ('Ward 7', or 'North / Ward 7' for two columns)."""
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key)
    return str(key)


def number(value: Any) -> str | None:
    """A value for a tooltip, or None when missing."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return None
    return format_number(f)


def period(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return format_x(value)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, keeping existing line breaks."""
    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width) or [""])
    return lines


def x_kind(values: pd.Series) -> str:
    """The Vega-Lite type of the time axis: temporal, quantitative or ordinal."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "temporal"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "quantitative"
    return "ordinal"


def check_positive_int(name: str, value: Any, low: int = 1, high: int = 10_000) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not (low <= value <= high)
    ):
        raise ChartError(f"`{name}` must be a whole number from {low} to {high}, got {value!r}.")
    return int(value)


def check_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ChartError(f"`{name}` must be a string or None, got {value!r}.")
    return value


def chart_title(heading: str, subtitle: list[str], *, offset: int = 6) -> dict:
    """The title block every chart shares: heading, then the rule set and notes as subtitle."""
    return {
        "text": heading,
        "subtitle": subtitle,
        "anchor": "start",
        "fontSize": 15,
        "subtitleFontSize": 11,
        "subtitleColor": "#425563",
        "font": P.FONT,
        "subtitleFont": P.FONT,
        "offset": offset,
    }
