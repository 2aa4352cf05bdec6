"""Input checks for values that arrive from a browser or a notebook, and the small helpers
every part of the workbook reads records with (store model objects or dicts alike)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

from qiwidgets.errors import QIError

#: The longest text a single field accepts from the workbook (a browser can send anything).
MAX_TEXT_LENGTH = 5_000


class WorkbookInputError(QIError, ValueError):
    """A value typed (or sent) into the workbook is not acceptable; the message says why."""


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


