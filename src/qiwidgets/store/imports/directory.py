"""Matching what a file names (programmes, teams, measures) to the database's records, and
reading each distinct cell of a column once (a million rows hold few distinct cells)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from qiwidgets.store import models as m
from qiwidgets.store.cells import CellRuleError
from qiwidgets.store.imports.problems import ProblemList
from qiwidgets.store.imports.table import Table


def parse_column(
    table: Table,
    name: str,
    parser: Callable[[str], Any],
    problems: ProblemList,
    empty: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse each distinct cell of a column once.

    Returns ``(values, ok, filled)`` per unique value: the parsed values (``empty`` for blank or
    broken cells), whether each parsed cleanly, and whether it was not blank. Broken cells are
    added to ``problems``.
    """
    uniques = table.uniques[name]
    values = np.empty(len(uniques), dtype=object)
    ok = np.ones(len(uniques), dtype=bool)
    broken: dict[str, list[int]] = {}
    for i, text in enumerate(uniques.tolist()):
        try:
            parsed = parser(text)
        except CellRuleError as exc:
            ok[i] = False
            parsed = empty
            broken.setdefault(str(exc), []).append(i)
        values[i] = empty if parsed is None else parsed
    if broken:
        codes = table.codes[name]
        for rule, bad in broken.items():
            mask = np.isin(codes, np.asarray(bad))
            problems.add_cells(table.rows[mask], uniques[codes[mask]].tolist(), name, rule)
    filled = uniques != ""
    return values, ok, filled


def _casefold_index(items: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for key, item in items:
        if key is not None:
            out.setdefault(key.strip().casefold(), []).append(item)
    return out


def listing(names: Iterable[str], limit: int = 12) -> str:
    names = sorted(set(names))
    if not names:
        return "none yet"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class Directory:
    """Programmes, teams and measures of the database, for matching references in files."""

    def __init__(self, session):
        self.programmes = {p.id: p for p in session.scalars(select(m.Programme))}
        self.teams = {t.id: t for t in session.scalars(select(m.Team))}
        self.measures = {x.id: x for x in session.scalars(select(m.Measure))}
        self.programme_by_code = _casefold_index((p.code, p) for p in self.programmes.values())
        self.team_by_code = _casefold_index((t.code, t) for t in self.teams.values())
        self.team_by_name = _casefold_index((t.name, t) for t in self.teams.values())
        self._families: dict[int, tuple[list, dict]] = {}

    def programme(self, code: str):
        found = self.programme_by_code.get(code.casefold(), [])
        if not found:
            raise CellRuleError(
                "is not a programme in the database (programmes: "
                f"{listing(p.code for p in self.programmes.values())})"
            )
        return found[0]

    def team(self, text: str, programme_id: int | None = None):
        key = text.casefold()
        for index in (self.team_by_code, self.team_by_name):
            found = [
                t
                for t in index.get(key, [])
                if programme_id is None or t.programme_id == programme_id
            ]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise CellRuleError(
                    "matches teams in more than one programme: add a 'programme' column"
                )
        known = [t.code for t in self.teams.values() if programme_id in (None, t.programme_id)]
        raise CellRuleError(f"is not a team in the database (teams: {listing(known)})")

    def family(self, team) -> list:
        """The team's family of measures: its own, then its programme's shared ones."""
        cached = self._families.get(team.id)
        if cached is None:
            own = [x for x in self.measures.values() if x.team_id == team.id]
            shared = [
                x
                for x in self.measures.values()
                if x.team_id is None and x.programme_id == team.programme_id
            ]
            family = own + shared
            by_key: dict[str, Any] = {}
            for attr in ("name", "code"):  # a code wins over a name; the team's own first
                for x in reversed(family):
                    by_key[getattr(x, attr).strip().casefold()] = x
            cached = self._families[team.id] = (family, by_key)
        return cached

    def measure(self, text: str, team):
        family, by_key = self.family(team)
        found = by_key.get(text.casefold())
        if found is not None:
            return found
        raise CellRuleError(
            f"is not a measure of team '{team.code}' (its measures: "
            f"{listing(x.code for x in family)})"
        )


#: Group value meaning "a cell this one depends on is broken: do not check this one".
SKIP = object()


def resolve_cells(
    table: Table,
    name: str,
    resolve: Callable[..., Any],
    problems: ProblemList,
    group: np.ndarray | None = None,
    context: Callable[[int], Any] | None = None,
) -> np.ndarray:
    """Resolve each distinct cell of a column (per group, e.g. per team) to a database object.

    ``group`` holds a number >= 0 a row, and ``context(number)`` the object passed to
    ``resolve`` with the cell's text (or :data:`SKIP`: a cell the row depends on is broken).
    Returns the objects' ids per row (-1 where the cell is blank or did not resolve).
    """
    codes = table.codes[name]
    uniques = table.uniques[name]
    n_unique = len(uniques)
    # ``pair`` numbers each row's (group, cell); ``slots`` maps each pair that occurs to its
    # place in the lookup table ``found`` that ``pair`` indexes.
    if group is None:
        pair, n_pairs = codes, n_unique
    else:
        n_pairs = (int(group.max()) + 1 if len(group) else 1) * n_unique
        pair = group.astype(np.int32 if n_pairs < 2**31 else np.int64)
        pair *= n_unique
        pair += codes
    if n_pairs <= max(len(pair), 1 << 16):  # a lookup table no larger than the column
        present = np.zeros(n_pairs, bool)
        present[pair] = True
        pairs = np.flatnonzero(present)
        slots = pairs
    else:
        pair, pairs = pd.factorize(pair)
        pairs = np.asarray(pairs)
        slots = np.arange(len(pairs))
        n_pairs = len(pairs)
    found = np.full(n_pairs, -1, np.int64)
    broken: dict[str, list[int]] = {}
    for slot, p in zip(slots.tolist(), pairs.tolist()):
        text = uniques[p % n_unique]
        where = None if group is None else context(p // n_unique)
        if not text or where is SKIP:
            continue
        try:
            found[slot] = (resolve(text) if group is None else resolve(text, where)).id
        except CellRuleError as exc:
            broken.setdefault(str(exc), []).append(slot)
    for rule, bad in broken.items():
        mask = np.isin(pair, np.asarray(bad))
        problems.add_cells(table.rows[mask], uniques[codes[mask]].tolist(), name, rule)
    if len(found) and found.max() < np.iinfo(np.int32).max:
        found = found.astype(np.int32)  # 4 bytes a row
    return found[pair] if len(pair) else np.empty(0, dtype=found.dtype)


__all__ = ["SKIP", "Directory", "listing", "parse_column", "resolve_cells"]
