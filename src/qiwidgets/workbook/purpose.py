"""Shared purpose: the aim statement and its check, the driver diagram."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qiwidgets import glossary
from qiwidgets.workbook.inputs import _get

# =============================================================================================
# Aims
# =============================================================================================

_NUMBER = re.compile(r"\d")
_FROM_TO = re.compile(r"\bfrom\b.*\d.*\bto\b.*\d", re.IGNORECASE)
_VAGUE = re.compile(r"^\s*(improve|better|do better|make .* better|enhance)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AimCheck:
    """The live check of an aim statement.

    ``checks`` holds ``(criterion, passed, message)`` for ``specific``, ``measurable`` and
    ``time_bound``; ``statement`` is the aim as one sentence.
    """

    statement: str
    checks: tuple[tuple[str, bool, str], ...]

    @property
    def ok(self) -> bool:
        """True when the aim is specific, measurable and time-bound."""
        return all(passed for _, passed, _ in self.checks)

    def passed(self, criterion: str) -> bool:
        """Whether one criterion (``specific``, ``measurable``, ``time_bound``) passed."""
        return next(p for c, p, _ in self.checks if c == criterion)

    @property
    def specific(self) -> bool:
        return self.passed("specific")

    @property
    def measurable(self) -> bool:
        return self.passed("measurable")

    @property
    def time_bound(self) -> bool:
        return self.passed("time_bound")


def aim_statement(
    what: str | None,
    for_whom: str | None = None,
    how_much: str | None = None,
    by_when: dt.date | None = None,
) -> str:
    """The aim as one sentence: what, for whom, how much, by when.

    >>> aim_statement("Reduce falls with harm", "on Ward 7", "from 6 to 3 per 1,000 bed days",
    ...               dt.date(2027, 3, 31))
    'Reduce falls with harm on Ward 7 from 6 to 3 per 1,000 bed days by 31 March 2027.'
    """
    parts = [p.strip() for p in (what, for_whom, how_much) if p and p.strip()]
    if by_when is not None:
        parts.append(f"by {by_when.day} {by_when:%B %Y}")
    if not parts:
        return ""
    sentence = " ".join(parts)
    return sentence if sentence.endswith(".") else sentence + "."


def check_aim(
    what: str | None,
    for_whom: str | None = None,
    how_much: str | None = None,
    by_when: dt.date | None = None,
    *,
    today: dt.date | None = None,
) -> AimCheck:
    """Check that an aim is specific, measurable and time-bound; say what is missing.

    * specific: ``what`` names the change in a few words (not just "improve") and ``for_whom``
      names the people or place;
    * measurable: ``how_much`` holds a number ("from 6 to 3", "by 50%");
    * time-bound: ``by_when`` is a date, and not already past.

    >>> c = check_aim("Reduce falls with harm", "on Ward 7", "from 6 to 3 per 1,000 bed days",
    ...               dt.date(2027, 3, 31), today=dt.date(2026, 1, 1))
    >>> c.ok
    True
    >>> check_aim("Improve care").ok
    False
    """
    today = today or dt.date.today()
    what_s, whom_s, much_s = ((x or "").strip() for x in (what, for_whom, how_much))
    checks = []

    words = len(what_s.split())
    if not what_s:
        specific = (False, "Say what will improve (e.g. 'Reduce falls with harm').")
    elif words < 3 or (_VAGUE.match(what_s) and words < 4):
        specific = (False, "Say more precisely what will improve — which events, which care.")
    elif not whom_s:
        specific = (False, "Say for whom or where (e.g. 'for patients on Ward 7').")
    else:
        specific = (True, "Says what will improve and for whom.")
    checks.append(("specific", *specific))

    if not much_s:
        measurable = (False, "Say how much, with numbers (e.g. 'from 6 to 3 per 1,000 bed days').")
    elif not _NUMBER.search(much_s):
        measurable = (False, "Put a number in 'how much' (e.g. 'by 50%' or 'from 6 to 3').")
    elif not (_FROM_TO.search(much_s) or "%" in much_s or "per cent" in much_s.lower()):
        measurable = (True, "Has a number; saying 'from ... to ...' makes the change clearer.")
    else:
        measurable = (True, "Has a number to reach.")
    checks.append(("measurable", *measurable))

    if by_when is None:
        time_bound = (False, "Pick a date by when the aim should be reached.")
    elif by_when <= today:
        time_bound = (False, f"The date {by_when.isoformat()} has passed: pick a future date.")
    else:
        time_bound = (True, f"Has a date: {by_when.day} {by_when:%B %Y}.")
    checks.append(("time_bound", *time_bound))
    return AimCheck(aim_statement(what_s, whom_s, much_s, by_when), tuple(checks))


def driver_tree(nodes: Iterable[Any]) -> list[tuple[Any, int]]:
    """``(node, depth)`` pairs, parents before children, siblings by ``order`` then id.

    Nodes whose parent is missing are shown at the top level, so nothing is hidden.
    """
    nodes = list(nodes)
    ids = {_get(n, "id") for n in nodes}
    children: dict[Any, list[Any]] = {}
    for n in nodes:
        parent = _get(n, "parent_id")
        children.setdefault(parent if parent in ids else None, []).append(n)
    out: list[tuple[Any, int]] = []
    seen: set[Any] = set()

    def walk(parent: Any, depth: int) -> None:
        kids = sorted(
            children.get(parent, []), key=lambda n: (_get(n, "order") or 0, _get(n, "id") or 0)
        )
        for n in kids:
            nid = _get(n, "id")
            if nid in seen:  # a cycle in bad data: never loop forever
                continue
            seen.add(nid)
            out.append((n, depth))
            walk(nid, depth + 1)

    walk(None, 0)
    return out


_DRIVER_COLUMN = {"primary": 1, "secondary": 2, "change_idea": 3}
_DRIVER_COLOURS = {"primary": "#005eb8", "secondary": "#41b6e6", "change_idea": "#00703c"}


def driver_diagram_html(aim: str | None, nodes: Iterable[Any]) -> str:
    """The driver diagram as an HTML table: aim, primary drivers, secondary drivers, change ideas.

    Each node sits in its kind's column, indented under its parent; every text is escaped.
    """
    tree = driver_tree(nodes)
    head = "".join(
        f'<th style="text-align:left;padding:4px 8px" title="{html.escape(glossary.explain(k))}">'
        f"{html.escape(glossary.label(k))}</th>"
        for k in ("aim", "primary", "secondary", "change_idea")
    )
    aim_text = html.escape(aim) if aim else "<em>No aim yet</em>"
    rows = []
    if not tree:
        rows.append(
            f'<tr><td style="padding:4px 8px;vertical-align:top"><strong>{aim_text}</strong></td>'
            '<td colspan="3" style="padding:4px 8px"><em>No drivers yet: add a primary '
            "driver.</em></td></tr>"
        )
    for i, (node, _depth) in enumerate(tree):
        kind = _get(node, "kind") or "primary"
        col = _DRIVER_COLUMN.get(kind, 1)
        colour = _DRIVER_COLOURS.get(kind, "#425563")
        cells = []
        first = (
            f'<td rowspan="{len(tree)}" style="padding:4px 8px;vertical-align:top;'
            f'border-right:3px solid #425563"><strong>{aim_text}</strong></td>'
            if i == 0
            else ""
        )
        for c in range(1, 4):
            if c == col:
                cells.append(
                    f'<td style="padding:4px 8px"><span style="display:inline-block;'
                    f'border-left:4px solid {colour};padding:2px 6px;background:#f4f6f8">'
                    f"{'→ ' if c > 1 else ''}{html.escape(str(_get(node, 'text') or ''))}</span></td>"
                )
            else:
                cells.append('<td style="padding:4px 8px"></td>')
        rows.append(f"<tr>{first}{''.join(cells)}</tr>")
    return (
        '<table class="qi-driver-diagram" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


