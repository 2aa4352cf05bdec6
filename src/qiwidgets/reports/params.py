"""Report parameters as data: months, slugs and the checks made before any kernel starts.

Everything here is standard library only, so the runner can validate a whole batch without
importing pandas, papermill or a kernel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass

from qiwidgets.errors import ParameterError

__all__ = ["Month", "parse_month", "slugify"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (``2026-10``)."""

    year: int
    month: int

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def label(self) -> str:
        """As people say it: ``October 2026``."""
        return self.first_day.strftime("%B %Y")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_month(value: object, name: str = "month") -> Month:
    """``YYYY-MM`` (a string) as a :class:`Month`; a clear ParameterError otherwise.

    >>> parse_month("2026-10").label()
    'October 2026'
    """
    if isinstance(value, Month):
        return value
    if isinstance(value, dt.date):
        return Month(value.year, value.month)
    if not isinstance(value, str):
        raise ParameterError(f"`{name}` must be a month written YYYY-MM, got {value!r}.")
    m = _MONTH.match(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise ParameterError(
            f"`{name}` must be a month written YYYY-MM (for example 2026-10), got {value!r}."
        )
    return Month(int(m.group(1)), int(m.group(2)))


def slugify(text: str, max_length: int = 48) -> str:
    """A file-name-safe slug: letters, digits, ``-`` and ``_`` only; never empty, never a path.

    When the slug is not the text itself (characters were dropped or changed), a short hash of
    the text is appended so that two different names never share a file.

    >>> slugify("T01")
    'T01'
    >>> slugify("../etc/passwd")
    'etc-passwd-7fef78'
    """
    text = str(text)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_text).strip("-_")[:max_length].strip("-_")
    if slug == text and slug:
        return slug
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return f"{slug}-{digest}" if slug else f"x-{digest}"
