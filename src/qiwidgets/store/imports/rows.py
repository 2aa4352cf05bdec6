"""Teams, measures and PDSA cycles files: each row read by a pydantic row model (its cells), its
names matched to the database, then checked by the store's record rules (``ProgrammeIn``,
``TeamIn``, ``MeasureIn``, ``PDSAIn`` of :mod:`qiwidgets.store.schemas`, the same rules as a
save from the workbook) and written: inserted, updated (``version`` goes up) or left alone when
nothing changed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from qiwidgets.store import cells, schemas
from qiwidgets.store import models as m
from qiwidgets.store.imports.directory import Directory, listing
from qiwidgets.store.imports.problems import ImportResult, ProblemList
from qiwidgets.store.imports.table import Table

# --- pydantic row types built from the cell parsers ----------------------------------------------


def _rule(parser: Callable[[str], Any]) -> BeforeValidator:
    def validate(value: Any) -> Any:
        try:
            return parser("" if value is None else str(value))
        except cells.CellRuleError as exc:
            raise PydanticCustomError("qi_rule", str(exc)) from None

    return BeforeValidator(validate)


def _choice(allowed: Sequence[str]) -> BeforeValidator:
    return _rule(lambda s: cells.parse_choice(s, allowed))


def _text(max_len: int = cells.MAX_TEXT) -> BeforeValidator:
    return _rule(lambda s: cells.parse_text(s, max_len))


def _required(max_len: int = cells.MAX_TEXT) -> BeforeValidator:
    return _rule(lambda s: cells.parse_required_text(s, max_len))


def parse_code(text: str) -> str:
    """A required code, checked by the store's own rule (:func:`schemas.check_code`)."""
    s = cells.parse_required_text(text, schemas.CODE_MAX_LENGTH)
    try:
        return schemas.check_code(s)
    except ValueError as exc:
        raise cells.CellRuleError(str(exc)) from None


def _number() -> BeforeValidator:
    """A number, read with the file's decimal mark (``decimal_point_known`` in the context)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        known = (info.context or {}).get("decimal_point_known", True)
        try:
            return cells.parse_number("" if value is None else str(value),
                                      decimal_point_known=known)  # fmt: skip
        except cells.CellRuleError as exc:
            raise PydanticCustomError("qi_rule", str(exc)) from None

    return BeforeValidator(validate)


def _parse_code_list(text: str) -> tuple[str, ...]:
    parts = [p.strip() for p in re.split(r"[;,|]", text)]
    return tuple(p for p in parts if p)


def _sized(model: type, name: str, required: bool = False):
    size = schemas.column_length(model, name)
    return Annotated[str if required else str | None,
                     _required(size) if required else _text(size)]  # fmt: skip


Number = Annotated[float | None, _number()]
Date = Annotated[dt.date | None, _rule(cells.parse_date)]
Code = Annotated[str, _rule(parse_code)]
Text = Annotated[str | None, _text()]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamRow(_Row):
    programme: Code
    programme_name: _sized(m.Programme, "name") = None
    code: Code
    name: _sized(m.Team, "name", required=True)
    organisation: _sized(m.Team, "organisation") = None


class MeasureRow(_Row):
    programme: Annotated[str, _required(schemas.CODE_MAX_LENGTH)]
    team: _sized(m.Team, "name") = None
    code: Code
    name: _sized(m.Measure, "name", required=True)
    measure_type: Annotated[str, _rule(lambda s: cells.parse_required_choice(s, m.MEASURE_TYPES))]
    numerator_definition: Text = None
    denominator_definition: Text = None
    value_definition: Text = None
    unit: _sized(m.Measure, "unit") = None
    multiplier: Number = None
    population: Text = None
    inclusions: Text = None
    exclusions: Text = None
    data_source: Text = None
    collector: _sized(m.Measure, "collector") = None
    frequency: Annotated[str | None, _choice(m.FREQUENCIES)] = None
    sampling: Text = None
    improvement_direction: Annotated[str | None, _choice(m.IMPROVEMENT_DIRECTIONS)] = None
    target: Number = None
    target_date: Date = None
    chart_type: Annotated[str | None, _choice(m.CHART_TYPES)] = None
    rule_set: Annotated[str | None, _choice(m.RULE_SETS)] = None
    baseline_start: Date = None
    baseline_end: Date = None


class PDSARow(_Row):
    team: _sized(m.Team, "name", required=True)
    title: _sized(m.PDSACycle, "title", required=True)
    change_idea: Text = None
    measures: Annotated[tuple[str, ...], _rule(_parse_code_list)] = ()
    plan_question: Text = None
    prediction: Text = None
    plan_date: Date = None
    do_start: Date = None
    do_notes: Text = None
    study_date: Date = None
    study_result: Text = None
    act: Annotated[str | None, _choice(m.PDSA_ACTS)] = None
    act_date: Date = None
    programme: Annotated[str | None, _text(schemas.CODE_MAX_LENGTH)] = None


ROW_MODELS = {"teams": TeamRow, "measures": MeasureRow, "pdsa": PDSARow}
"""The pydantic model that reads one row of each kind of file (observations are read in bulk
instead)."""

_NATURAL_KEYS = {
    "teams": ("programme", "code"),
    "measures": ("programme", "team", "code"),
    "pdsa": ("programme", "team", "title"),
}


def read_rows(kind: str, table: Table, problems: ProblemList) -> list[tuple[int, Any]]:
    """Each row of a teams, measures or PDSA file read by its row model, as (row, item)."""
    model = ROW_MODELS[kind]
    fields = set(model.model_fields)
    out = []
    context = {"decimal_point_known": table.decimal_point_known}
    for row, record in zip(table.rows.tolist(), table.records()):
        data = {k: v for k, v in record.items() if k in fields}
        try:
            out.append((row, model.model_validate(data, context=context)))
        except ValidationError as exc:
            for err in exc.errors():
                if err["type"] == "missing":  # reported once, as a missing column
                    continue
                column = str(err["loc"][0]) if err["loc"] else None
                problems.add(row, column, record.get(column, None), err["msg"])
    _check_duplicates(out, problems, _NATURAL_KEYS[kind])
    return out


def _check_duplicates(items, problems: ProblemList, key_fields) -> None:
    first: dict[tuple, int] = {}
    for row, item in items:
        key = tuple((getattr(item, k) or "").casefold() for k in key_fields)
        if key in first:
            label = " / ".join(getattr(item, k) for k in key_fields if getattr(item, k))
            names = " and ".join(k for k in key_fields if k != "programme")
            problems.add(row, None, label, f"same {names} as row {first[key]}")
        else:
            first[key] = row


def _checked(schema: type[schemas.Record], data: dict, row: int, problems: ProblemList,
             columns: Mapping[str, str] | None = None) -> Any:  # fmt: skip
    """``data`` checked by the store's record rules; each rule broken is a problem of ``row``
    (in the file's column: ``columns`` maps a field to it, e.g. ``team_id`` to ``team``)."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        for field, rule, value in schemas.rule_problems(exc):
            if not field:  # a rule across fields: shown in the first field it names
                field = schemas.first_field(rule) or ""
            column = (columns or {}).get(field, field) or None
            shown = None if value is None or not field else _cell(data.get(field, value))
            problems.add(row, column, shown, rule)
        return None


def _cell(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _set_if_changed(obj, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


# --- teams --------------------------------------------------------------------------------------


def import_teams(session, table, items, problems: ProblemList, source):
    """Write a teams file's rows (a programme it names that does not exist is created)."""
    directory = Directory(session)
    new_programmes: dict[str, m.Programme] = {}
    names_seen: dict[str, tuple[int, str]] = {}
    plan = []
    for row, item in items:
        key = item.programme.casefold()
        found = directory.programme_by_code.get(key)
        if item.programme_name:
            earlier = names_seen.setdefault(key, (row, item.programme_name))
            if earlier[1] != item.programme_name:
                problems.add(
                    row,
                    "programme_name",
                    item.programme_name,
                    f"differs from the name given in row {earlier[0]}",
                )
            if found and found[0].name != item.programme_name:
                problems.add(
                    row,
                    "programme_name",
                    item.programme_name,
                    f"differs from the name of programme '{found[0].code}' in the "
                    f"database ('{found[0].name}'); leave it empty or use that name",
                )
        if not found:
            _checked(schemas.ProgrammeIn, {"code": item.programme,
                                           "name": item.programme_name or item.programme},
                     row, problems, {"name": "programme_name", "code": "programme"})  # fmt: skip
        _checked(schemas.TeamIn, {"programme_id": found[0].id if found else 0, "code": item.code,
                                  "name": item.name, "organisation": item.organisation},
                 row, problems, {"programme_id": "programme"})  # fmt: skip
        plan.append((row, item, found[0] if found else None))
    problems.raise_if_any()
    result = ImportResult("teams", table.file, len(items))
    for row, item, programme in plan:
        if programme is None:
            key = item.programme.casefold()
            programme = new_programmes.get(key)
            if programme is None:
                programme = m.Programme(
                    code=item.programme, name=item.programme_name or item.programme, version=1
                )
                session.add(programme)
                new_programmes[key] = programme
        existing = None
        if programme.id is not None:
            existing = next(
                (
                    t
                    for t in directory.teams.values()
                    if t.programme_id == programme.id and t.code.casefold() == item.code.casefold()
                ),
                None,
            )
        values = {"name": item.name, "organisation": item.organisation}
        if existing is None:
            session.add(m.Team(programme=programme, code=item.code, version=1, **values))
            result.inserted += 1
        elif _set_if_changed(existing, values):
            result.updated += 1
        else:
            result.unchanged += 1
    if new_programmes:
        result.created["programmes"] = len(new_programmes)
    session.flush()
    return result


# --- measures -----------------------------------------------------------------------------------

_MEASURE_FIELDS = tuple(f for f in schemas.MeasureIn.model_fields
                        if f not in ("programme_id", "team_id", "code"))  # fmt: skip


def import_measures(session, table, items, problems: ProblemList, source):
    """Write a measures file's rows (a measure by programme, team and code)."""
    directory = Directory(session)
    plan = []
    for row, item in items:
        programme = team = None
        try:
            programme = directory.programme(item.programme)
        except cells.CellRuleError as exc:
            problems.add(row, "programme", item.programme, str(exc))
        if programme is not None and item.team:
            try:
                team = directory.team(item.team, programme.id)
            except cells.CellRuleError as exc:
                problems.add(row, "team", item.team, str(exc))
        values = {name: getattr(item, name) for name in _MEASURE_FIELDS}
        _checked(schemas.MeasureIn, {"programme_id": programme.id if programme else 0,
                                     "team_id": team.id if team else None, "code": item.code,
                                     **values},
                 row, problems, {"programme_id": "programme", "team_id": "team"})  # fmt: skip
        plan.append((row, item, programme, team, values))
    problems.raise_if_any()
    result = ImportResult("measures", table.file, len(items))
    for row, item, programme, team, values in plan:
        team_id = team.id if team is not None else None
        existing = next(
            (
                x
                for x in directory.measures.values()
                if x.programme_id == programme.id
                and x.team_id == team_id
                and x.code.casefold() == item.code.casefold()
            ),
            None,
        )
        if existing is None:
            session.add(
                m.Measure(
                    programme_id=programme.id, team_id=team_id, code=item.code, version=1, **values
                )
            )
            result.inserted += 1
        elif _set_if_changed(existing, values):
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result


# --- PDSA cycles --------------------------------------------------------------------------------

#: The PDSA fields of an import file beyond team, title, change idea and measures.
PDSA_FIELDS = (
    "plan_question",
    "prediction",
    "plan_date",
    "do_start",
    "do_notes",
    "study_date",
    "study_result",
    "act",
    "act_date",
)


def import_pdsa(session, table, items, problems: ProblemList, source):
    """Write a PDSA file's rows (a cycle by team and title)."""
    directory = Directory(session)
    ideas: dict[int, list] = {}
    for node in session.scalars(select(m.DriverNode).where(m.DriverNode.kind == "change_idea")):
        ideas.setdefault(node.team_id, []).append(node)
    plan = []
    for row, item in items:
        programme_id = None
        if item.programme:
            try:
                programme_id = directory.programme(item.programme).id
            except cells.CellRuleError as exc:
                problems.add(row, "programme", item.programme, str(exc))
        team = idea = None
        measures = []
        try:
            team = directory.team(item.team, programme_id)
        except cells.CellRuleError as exc:
            problems.add(row, "team", item.team, str(exc))
        if team is not None and item.change_idea:
            wanted = item.change_idea.casefold()
            idea = next(
                (n for n in ideas.get(team.id, []) if n.text.strip().casefold() == wanted), None
            )
            if idea is None:
                problems.add(
                    row,
                    "change_idea",
                    item.change_idea,
                    f"is not a change idea of team '{team.code}' (its change ideas: "
                    f"{listing(n.text for n in ideas.get(team.id, []))})",
                )
        if team is not None:
            for code in item.measures:
                try:
                    measures.append(directory.measure(code, team))
                except cells.CellRuleError as exc:
                    problems.add(row, "measures", code, str(exc))
        values = {name: getattr(item, name) for name in PDSA_FIELDS}
        _checked(schemas.PDSAIn, {"team_id": team.id if team else 0, "title": item.title,
                                  "change_idea_id": idea.id if idea else None,
                                  "measure_ids": [x.id for x in measures], **values},
                 row, problems, {"team_id": "team", "change_idea_id": "change_idea",
                                 "measure_ids": "measures"})  # fmt: skip
        plan.append((row, item, team, idea, measures))
    problems.raise_if_any()
    result = ImportResult("pdsa", table.file, len(items))
    existing_cycles: dict[tuple[int, str], m.PDSACycle] = {}
    team_ids = {team.id for _, _, team, _, _ in plan}
    if team_ids:
        stmt = select(m.PDSACycle).where(m.PDSACycle.team_id.in_(team_ids))
        for cycle in session.scalars(stmt):
            existing_cycles.setdefault((cycle.team_id, cycle.title.casefold()), cycle)
    for row, item, team, idea, measures in plan:
        values = {name: getattr(item, name) for name in PDSA_FIELDS}
        values["change_idea_id"] = idea.id if idea is not None else None
        cycle = existing_cycles.get((team.id, item.title.casefold()))
        if cycle is None:
            cycle = m.PDSACycle(team_id=team.id, title=item.title, version=1, **values)
            cycle.measures = list(measures)
            session.add(cycle)
            result.inserted += 1
            continue
        changed = _set_if_changed(cycle, values)
        if {x.id for x in cycle.measures} != {x.id for x in measures}:
            cycle.measures = list(measures)
            changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result


__all__ = ["PDSA_FIELDS", "ROW_MODELS", "MeasureRow", "PDSARow", "TeamRow", "import_measures",
           "import_pdsa", "import_teams", "parse_code", "read_rows"]  # fmt: skip
