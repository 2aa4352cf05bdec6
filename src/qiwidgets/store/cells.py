"""What a typed cell means: the one reading of a number, a count, a date, a choice or a text.

A cell comes from a file (:mod:`qiwidgets.store.imports`) or from a box on a page (the data
entry grid); both read it with these functions, and the record rules
(:mod:`qiwidgets.store.schemas`) use them for text they are given, so that a value is read the
same way wherever it is typed. Each function raises :class:`CellRuleError` whose message is the
rule broken (``must be zero or more``), to be shown after the column or field it was typed in.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

#: Numbers larger than this in size are refused (a typo, or a cell that is not a count).
MAX_NUMBER = 1e12
#: Dates before this are refused as implausible for improvement data.
MIN_DATE = dt.date(1950, 1, 1)
#: Dates after this are refused as implausible.
MAX_DATE = dt.date(2100, 12, 31)
#: Excel counts days from 1899-12-30 (its 1900 leap-year bug makes this the usual epoch).
EXCEL_EPOCH = dt.date(1899, 12, 30)
#: Free text longer than this is refused (a pasted document, or a broken file).
MAX_TEXT = 20_000


class CellRuleError(ValueError):
    """A cell breaks a rule; the message is the rule, e.g. 'must be zero or more'."""


_PLAIN_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_COMMA_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_SPACE_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?:\.\d*)?$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_EXCEL_SERIAL = re.compile(r"^\d+(?:\.0+)?$")
_HAS_TIME = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}")

DATE_RULE = "must be a date written YYYY-MM-DD or YYYY-MM (e.g. 2024-03), or an Excel date"

#: 1.234: a point before one group of three digits, a decimal point in one locale and a
#: thousands separator in another (as spreadsheets set to German, Dutch, ... write it).
POINT_GROUP = re.compile(r"^[-+]?[1-9]\d{0,2}\.\d{3}$")
#: 1,234: a comma before one group of three digits (thousands, or a decimal comma).
_COMMA_GROUP = re.compile(r"^[-+]?\d{1,3},\d{3}$")
#: 1.234.567 or 1.234,5: points between thousands, and a decimal comma if any (one locale only).
_EUROPEAN = re.compile(r"^[-+]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?$")


def _locale_rule(s: str) -> str:
    whole = ("-" if s.startswith("-") else "") + str(int(re.sub(r"\D", "", s)))
    decimal = s.replace(",", ".")
    unambiguous = decimal + "0" if POINT_GROUP.match(decimal) else decimal
    mark = "point" if "." in s else "comma"
    return (
        f"is ambiguous in a file separated by semicolons, tabs or '|': {s} means {whole} where "
        f"the {mark} separates thousands, and {decimal} where it is the decimal mark "
        "(spreadsheets set to many European languages write 1.234,5 for 1234.5); write "
        f"{whole} without a separator, or {unambiguous} if the decimal is meant"
    )


def parse_number(text: str, *, decimal_point_known: bool = True) -> float | None:
    """A number from a cell (None for an empty cell).

    ``decimal_point_known`` is False for a file whose delimiter does not tell that the decimal
    mark is a point: there ``1.234`` and ``1,234`` are refused, since their reading depends on
    the locale that wrote them.

    >>> parse_number("1,234.5"), parse_number(" 12 "), parse_number("")
    (1234.5, 12.0, None)
    """
    s = text.strip()
    if not s:
        return None
    if not decimal_point_known and (POINT_GROUP.match(s) or _COMMA_GROUP.match(s)):
        raise CellRuleError(_locale_rule(s))
    if not _PLAIN_NUMBER.match(s):
        if _COMMA_THOUSANDS.match(s):
            s = s.replace(",", "")
        elif _SPACE_THOUSANDS.match(s):
            s = re.sub(r"[ \u00a0\u202f\u2009]", "", s)
        elif s.endswith("%") and _PLAIN_NUMBER.match(s[:-1].strip()):
            raise CellRuleError("must be a number without a % sign")
        elif _EUROPEAN.match(s):
            plain = s.replace(".", "").replace(",", ".")
            raise CellRuleError(
                "must be written with a point for decimals and no point between thousands "
                f"(as spreadsheets set to many European languages write it): write {plain}"
            )
        elif "," in s and _PLAIN_NUMBER.match(s.replace(",", ".", 1)):
            raise CellRuleError("must be a number with a point for decimals (12.5, not 12,5)")
        else:
            raise CellRuleError("must be a number")
    return check_number(float(s))


def check_number(number: float) -> float:
    """``number`` if it is finite and at most :data:`MAX_NUMBER` in size."""
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise CellRuleError(f"must be at most {MAX_NUMBER:,.0f} in size")
    return number


def parse_count(text: str, *, decimal_point_known: bool = True) -> float | None:
    """A count: a number that is zero or more (None for an empty cell)."""
    return check_count(parse_number(text, decimal_point_known=decimal_point_known))


def check_count(number: float | None) -> float | None:
    """``number`` if it is zero or more (None stays None)."""
    if number is not None and number < 0:
        raise CellRuleError("must be zero or more")
    return number


def parse_date(text: str) -> dt.date | None:
    """A date from a cell: YYYY-MM-DD, YYYY-MM (first of the month) or an Excel serial day.

    >>> parse_date("2024-03"), parse_date("45383")
    (datetime.date(2024, 3, 1), datetime.date(2024, 4, 1))
    """
    s = text.strip()
    if not s:
        return None
    m = _DATE.match(s)
    if m:
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        try:
            date = dt.date(year, month, day)
        except ValueError:
            raise CellRuleError("is not a real date") from None
    elif _EXCEL_SERIAL.match(s):
        serial = int(float(s))
        lowest = (MIN_DATE - EXCEL_EPOCH).days
        highest = (MAX_DATE - EXCEL_EPOCH).days
        if not lowest <= serial <= highest:
            raise CellRuleError(DATE_RULE)
        date = EXCEL_EPOCH + dt.timedelta(days=serial)
    elif _HAS_TIME.match(s):
        raise CellRuleError("must be a date without a time of day")
    else:
        raise CellRuleError(DATE_RULE)
    return check_date(date)


def check_date(date: dt.date) -> dt.date:
    """``date`` if it falls between :data:`MIN_DATE` and :data:`MAX_DATE`."""
    if not MIN_DATE <= date <= MAX_DATE:
        raise CellRuleError(f"must be between {MIN_DATE.year} and {MAX_DATE.year}")
    return date


def normalise_choice(text: str) -> str:
    """A choice as stored: lower case, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", text.strip().casefold())


def parse_choice(text: str, allowed: Sequence[str], default: str | None = None):
    """One of ``allowed`` (matched ignoring case; spaces or hyphens for underscores)."""
    s = text.strip()
    if not s:
        return default
    norm = normalise_choice(s)
    if norm in allowed:
        return norm
    raise CellRuleError("must be one of " + ", ".join(allowed))


def parse_required_choice(text: str, allowed: Sequence[str]) -> str:
    """One of ``allowed``; an empty cell is refused."""
    value = parse_choice(text, allowed)
    if value is None:
        raise CellRuleError("is required: one of " + ", ".join(allowed))
    return value


def parse_text(text: str, max_len: int = MAX_TEXT) -> str | None:
    """Text with surrounding spaces removed (None for an empty cell)."""
    s = text.strip()
    if not s:
        return None
    if len(s) > max_len:
        raise CellRuleError(f"must be at most {max_len:,} characters long")
    return s


def parse_required_text(text: str, max_len: int = MAX_TEXT) -> str:
    """Text that must not be empty."""
    s = parse_text(text, max_len)
    if s is None:
        raise CellRuleError("is required")
    return s


def decimals_written(text: str) -> int:
    """How many decimals a number is written with (``"12.50"``: 2; ``"1e3"``: 0)."""
    text = text.strip()
    if "." in text and "e" not in text.lower():
        return min(len(text.split(".", 1)[1]), 100)
    return 0


__all__ = [
    "DATE_RULE", "EXCEL_EPOCH", "MAX_DATE", "MAX_NUMBER", "MAX_TEXT", "MIN_DATE", "POINT_GROUP",
    "CellRuleError", "check_count", "check_date", "check_number", "decimals_written",
    "normalise_choice", "parse_choice", "parse_count", "parse_date", "parse_number",
    "parse_required_choice", "parse_required_text", "parse_text",
]  # fmt: skip
