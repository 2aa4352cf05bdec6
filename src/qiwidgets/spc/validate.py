"""Input validation shared by the chart functions, in two stages.

Stage 1 checks each option on its own (its type and allowed values); stage 2 checks the options
against the data (columns exist, values are numeric, counts are not negative, ...). Messages
follow one pattern: the argument in backticks, the rule, and the value received, e.g.
"`chart` must be one of 'run', 'i', ..., got 'x'."
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qiwidgets.errors import SPCDataError, SPCOptionError


def _fmt(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def one_of(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed`` (strings compared case-insensitively)."""
    key = value.lower() if isinstance(value, str) else value
    for a in allowed:
        if key == a:
            return a
    raise SPCOptionError(f"`{name}` must be one of {_fmt(allowed)}, got {value!r}.")


def optional_int(name: str, value: Any, minimum: int = 1) -> int | None:
    """``None``, or a whole number >= ``minimum``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SPCOptionError(f"`{name}` must be a whole number, got {value!r}.")
    if value < minimum:
        raise SPCOptionError(f"`{name}` must be at least {minimum}, got {value!r}.")
    return int(value)


def optional_number(name: str, value: Any, positive: bool = False) -> float | None:
    """``None``, or a finite number (> 0 when ``positive``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SPCOptionError(f"`{name}` must be a number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise SPCOptionError(f"`{name}` must be a finite number, got {value!r}.")
    if positive and value <= 0:
        raise SPCOptionError(f"`{name}` must be greater than zero, got {value!r}.")
    return value


def positions(name: str, value: Any) -> tuple[int, ...]:
    """``None`` or one or more 1-based positions, returned sorted and unique."""
    if value is None:
        return ()
    items = [value] if np.isscalar(value) else list(value)
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            if isinstance(item, float) and item.is_integer():
                item = int(item)
            else:
                raise SPCOptionError(
                    f"`{name}` must be whole-number positions (1 = the first point), got {item!r}."
                )
        if item < 1:
            raise SPCOptionError(f"`{name}` positions start at 1, got {item!r}.")
        out.append(int(item))
    return tuple(sorted(set(out)))


def column_names(name: str, value: Any, max_count: int | None = None) -> tuple[str, ...]:
    """``None``, a column name or a list of column names."""
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(v, str) and v for v in names):
        raise SPCOptionError(f"`{name}` must be a column name or a list of column names, got {value!r}.")
    if max_count is not None and len(names) > max_count:
        raise SPCOptionError(
            f"`{name}` takes at most {max_count} columns, got {len(names)}: {_fmt(names)}."
        )
    return names


# --- stage 2: options against the data -----------------------------------------------------------


def require_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise SPCDataError(f"`data` must be a pandas DataFrame, got {type(data).__name__}.")
    return data


def require_columns(data: pd.DataFrame, **columns: str | tuple[str, ...] | None) -> None:
    """Every named column exists in ``data``; the message names the argument that named it."""
    for arg, cols in columns.items():
        if cols is None:
            continue
        for col in (cols,) if isinstance(cols, str) else cols:
            if col not in data.columns:
                raise SPCDataError(
                    f"`{arg}` names column {col!r}, which is not in the data "
                    f"(columns: {_fmt(data.columns)})."
                )


def numeric_column(data: pd.DataFrame, column: str, arg: str) -> np.ndarray:
    """The column as float64; non-numeric entries are an error naming the first few rows."""
    s = data[column]
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":  # plain numpy numbers: as is
        return s.to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(s, errors="coerce")
    bad = converted.isna() & s.notna() & (s.astype(str).str.strip() != "")
    if bad.any():
        rows = list(s.index[bad][:3])
        vals = list(s[bad][:3])
        raise SPCDataError(
            f"`{arg}` column {column!r} must hold numbers; row(s) {_fmt(rows)} hold {_fmt(vals)}."
        )
    return converted.to_numpy(dtype=float, na_value=np.nan)


def fail_rows(mask: np.ndarray, data: pd.DataFrame, message: str, values: np.ndarray) -> None:
    """Raise SPCDataError naming the first rows where ``mask`` is True."""
    if mask.any():
        where = np.flatnonzero(mask)[:3]
        rows = _fmt(data.index[where])
        vals = _fmt(values[where].tolist())
        more = f" (and {int(mask.sum()) - len(where)} more)" if mask.sum() > len(where) else ""
        raise SPCDataError(f"{message}: row(s) {rows} hold {vals}{more}.")
