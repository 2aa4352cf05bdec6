"""CSV cells that a spreadsheet shows as text (CSV injection, OWASP).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken for a
formula by Excel and LibreOffice when the file is opened, and run. Every CSV qiwidgets writes
for people to open (``qiwidgets export``, ``qiwidgets spc --out``) puts a backslash in front of
such a text -- and of one that starts with a backslash, so that reading the file back (the
convention of PostgreSQL's COPY, :mod:`qiwidgets.store.export`) gives the text unchanged.
Imports only standard library names.
"""

from __future__ import annotations

#: What starts a formula in a spreadsheet cell (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text (a backslash in front when it starts
    with a formula character or a backslash)."""
    return "\\" + text if text.startswith(("\\", *FORMULA_STARTS)) else text


__all__ = ["FORMULA_STARTS", "neutralise_formula"]
