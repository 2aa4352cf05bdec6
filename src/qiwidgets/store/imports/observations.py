"""An observations file: each cell read once per distinct text, every rule checked on whole
columns, then written through the one observation write path
(:func:`qiwidgets.store.observation_writes.write_observations`).

The rules are the store's own (:mod:`qiwidgets.store.schemas`); this module reads the cells,
matches teams and measures, and says which row, column and value broke which rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiwidgets.store import cells
from qiwidgets.store.access import may_write_teams
from qiwidgets.store.imports.directory import SKIP, Directory, parse_column, resolve_cells
from qiwidgets.store.imports.problems import ImportResult, ProblemList
from qiwidgets.store.imports.table import Table, release_freed_memory
from qiwidgets.store.models import DATA_QUALITY_FLAGS
from qiwidgets.store.observation_writes import (
    ObservationBatch,
    ObservationKeys,
    write_observations,
)
from qiwidgets.store.schemas import (
    OBSERVATION_NUMBERS,
    WHOLE_RULE,
    MeasureRows,
    observation_rule_breaks,
)


@dataclass
class ObservationCells:
    """An observations file's cells, read: one entry a row."""

    period: np.ndarray  # int32 ordinal per row, 0 where missing or broken
    numbers: dict[str, np.ndarray]  # float64 per row, NaN where empty or broken
    number_ok: dict[str, np.ndarray]  # bool per row
    decimals: np.ndarray | None  # decimals written in `value`, per row (int8)
    quality: np.ndarray | None  # int8 per row: an index into DATA_QUALITY_FLAGS
    note: np.ndarray | None  # text or None per row


def read_observation_cells(table: Table, problems: ProblemList) -> ObservationCells:
    """Each distinct cell of the file read once (a broken one is a problem)."""
    if not any(c in table.columns for c in ("numerator", "value")):
        problems.add(
            1, None, None, "the header needs a 'value' column, or 'numerator' and 'denominator'"
        )
    for name in ("team", "measure", "period"):
        if name in table.columns:
            blank = (table.uniques[name] == "")[table.codes[name]]
            if blank.any():
                problems.add_cells(table.rows[blank], [""] * int(blank.sum()), name, "is required")
    n = len(table)
    if "period" in table.columns:
        values, _, _ = parse_column(table, "period", cells.parse_date, problems)
        ordinals = np.array([v.toordinal() if v is not None else 0 for v in values], np.int32)
        period = ordinals[table.codes["period"]]
    else:
        period = np.zeros(n, np.int32)
    numbers: dict[str, np.ndarray] = {}
    number_ok: dict[str, np.ndarray] = {}
    known = table.decimal_point_known
    for name in OBSERVATION_NUMBERS:
        if name not in table.columns:
            continue
        parse = cells.parse_number if name == "value" else cells.parse_count

        def parser(text: str, parse=parse) -> float | None:
            return parse(text, decimal_point_known=known)

        values, ok, _ = parse_column(table, name, parser, problems)
        as_float = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        numbers[name] = as_float[table.codes[name]]
        number_ok[name] = ok[table.codes[name]]
    decimals = None
    if "value" in table.columns:
        dec = np.array([cells.decimals_written(u) for u in table.uniques["value"].tolist()],
                       dtype=np.int8)  # fmt: skip
        decimals = dec[table.codes["value"]]
    quality = None
    if "data_quality" in table.columns:
        values, _, _ = parse_column(
            table, "data_quality",
            lambda s: cells.parse_choice(s, DATA_QUALITY_FLAGS, "ok"), problems,
        )  # fmt: skip
        index = np.array(
            [DATA_QUALITY_FLAGS.index(v if v is not None else "ok") for v in values], np.int8
        )
        quality = index[table.codes["data_quality"]]
    note = None
    if "note" in table.columns:
        values, _, _ = parse_column(table, "note", cells.parse_text, problems)
        note = values[table.codes["note"]]
    return ObservationCells(period, numbers, number_ok, decimals, quality, note)


def import_observations(session, table: Table, read: ObservationCells, problems: ProblemList,
                        source: str, only_team: int | None = None) -> ImportResult:  # fmt: skip
    """Check every rule of the file and write it, or raise ImportValidationError listing every
    problem (nothing written)."""
    team_ids, measure_ids, keys = check_observations(session, table, read, problems, only_team)
    release_freed_memory()
    may_write_teams(session, keys.teams.tolist())
    batch = ObservationBatch(team_id=team_ids, measure_id=measure_ids, period=read.period,
                             numbers=read.numbers, quality=read.quality, note=read.note)  # fmt: skip
    summary = write_observations(session, batch, source=source, keys=keys)
    return ImportResult("observations", table.file, len(table), inserted=summary.inserted,
                        updated=summary.updated, unchanged=summary.unchanged,
                        edits=summary.edits)  # fmt: skip


def check_observations(session, table: Table, read: ObservationCells, problems: ProblemList,
                       only_team: int | None = None):  # fmt: skip
    """Every rule of an observations file; returns the rows' team and measure ids and keys, or
    raises ImportValidationError listing every problem. ``only_team``: the id of the one team
    the file may hold data for (a team's own page takes its own data only)."""
    directory = Directory(session)
    n = len(table)
    rows = table.rows

    # programme (optional) -> team -> measure
    if "team" in table.columns:
        if "programme" in table.columns:
            programme_ids = resolve_cells(table, "programme", directory.programme, problems)
            blank = (table.uniques["programme"] == "")[table.codes["programme"]]
            programme_ids += 2  # 0: a programme that did not resolve, 1: none given
            programme_ids[blank] = 1
            team_ids = resolve_cells(
                table,
                "team",
                directory.team,
                problems,
                programme_ids,
                lambda g: SKIP if g == 0 else None if g == 1 else g - 2,
            )
            del programme_ids, blank
        else:
            team_ids = resolve_cells(table, "team", directory.team, problems)
    else:
        team_ids = np.full(n, -1, dtype=np.int32)
    if only_team is not None:
        other = (team_ids >= 0) & (team_ids != only_team)
        if other.any():
            name = directory.teams[only_team].name
            problems.add_cells(rows[other], table.uniques["team"][table.codes["team"][other]]
                               .tolist(), "team", f"is another team: this page takes "
                               f"{name}'s data only")  # fmt: skip
            team_ids = np.where(other, -1, team_ids)
    if "measure" in table.columns:
        measure_ids = resolve_cells(
            table,
            "measure",
            directory.measure,
            problems,
            team_ids + 1,
            lambda g: directory.teams.get(g - 1, SKIP),
        )
    else:
        measure_ids = np.full(n, -1, dtype=np.int32)

    # the rules a data point follows because of its measure (qiwidgets.store.schemas)
    measures = {i: directory.measures[i] for i in np.unique(measure_ids).tolist() if i >= 0}
    measure_rows = MeasureRows.of(measure_ids, measures)
    unreadable = {name: ~ok for name, ok in read.number_ok.items()}
    for mask, column, rule in observation_rule_breaks(measure_rows, read.numbers, read.period,
                                                      decimals=read.decimals,
                                                      unreadable=unreadable):  # fmt: skip
        if rule == WHOLE_RULE:  # say so when the point may separate thousands (1.234)
            points = np.array([bool(cells.POINT_GROUP.match(u)) for u in table.uniques[column]])
            looks_thousands = points[table.codes[column]]
            _add(problems, table, mask & ~looks_thousands, column, rule)
            _add(problems, table, mask & looks_thousands, column,
                 rule + ": if the point separates thousands, write the number without it "
                 "(1234, not 1.234)")  # fmt: skip
            continue
        _add(problems, table, mask, column, rule)

    # duplicates within the file (same team x measure x period), found by sorting one key a row
    keyed = measure_rows.known & (team_ids >= 0) & (read.period > 0)
    everything = bool(keyed.all())
    keys = ObservationKeys(
        team_ids if everything else team_ids[keyed],
        measure_ids if everything else measure_ids[keyed],
        read.period if everything else read.period[keyed],
    )
    later, earlier = keys.duplicates()
    if len(later):
        keyed_rows = rows if everything else rows[keyed]
        d_rows, firsts = keyed_rows[later], keyed_rows[earlier]
        in_order = np.argsort(d_rows, kind="stable")
        d_rows, firsts = d_rows[in_order], firsts[in_order]
        labels = _row_labels(table, rows, d_rows)
        for row, label, f in zip(d_rows.tolist(), labels, firsts.tolist()):
            problems.add(row, None, label, f"same team, measure and period as row {f}")

    problems.raise_if_any()
    return team_ids, measure_ids, keys


def _add(problems: ProblemList, table: Table, mask: np.ndarray, column: str, rule: str) -> None:
    if mask.any():
        if column in table.columns:
            values = table.uniques[column][table.codes[column][mask]].tolist()
        else:
            values = [""] * int(mask.sum())
        problems.add_cells(table.rows[mask], values, column, rule)


def _row_labels(table: Table, rows: np.ndarray, which: np.ndarray) -> list[str]:
    index = np.searchsorted(rows, which)
    parts = []
    for name in ("team", "measure", "period"):
        parts.append(table.uniques[name][table.codes[name][index]])
    return [f"{t} / {m} / {p}" for t, m, p in zip(*(p.tolist() for p in parts))]


__all__ = ["ObservationCells", "check_observations", "import_observations",
           "read_observation_cells"]  # fmt: skip
