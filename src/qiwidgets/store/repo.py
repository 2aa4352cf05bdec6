"""The store's API for the widgets, reports and dashboards.

Every function takes ``db`` first: a database URL, a SQLite file path, an Engine, or None for
the default (see :mod:`qiwidgets.store.db`). Reads return detached model objects (their columns
are loaded; the links named in each docstring are loaded too) or tidy pandas DataFrames.

Saving
------
``save_*`` functions create a record when ``id`` is None, and otherwise change the record
``id``, but only if it is still at the ``version`` the user read. If someone else saved it in
the meantime, :class:`~qiwidgets.errors.StaleEditError` is raised and nothing is written: an edit
is never silently saved over a colleague's. On update only the fields given in ``data`` change.

Inputs are validated (pydantic models below); every problem is reported at once in an
:class:`~qiwidgets.errors.InvalidRecordError` whose message names the field, the rule and the
value received.

Examples
--------
>>> from qiwidgets.store import repo
>>> team = repo.get_team("ward7.db", "W7")                      # doctest: +SKIP
>>> r = repo.save_reflection("ward7.db", {"team_id": team.id, "date": "2026-10-03",
...                           "what_happened": "..."})          # doctest: +SKIP
>>> repo.save_reflection("ward7.db", {"what_worked": "huddles"}, id=r.id,
...                      version=r.version)                     # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from sqlalchemy import String, bindparam, insert, or_, select, type_coerce, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from qiwidgets.errors import (
    AccessDenied,
    InvalidRecordError,
    NotFoundError,
    StaleEditError,
    StoreError,
)
from qiwidgets.store import models as m
from qiwidgets.store import people
from qiwidgets.store.db import StoreLike, get_engine, run_in_transaction, translate_error

Record = TypeVar("Record", bound=m.Base)
TeamRef = m.Team | int | str
MeasureRef = m.Measure | int | str
ProgrammeRef = m.Programme | int | str | None

#: The ``source`` written into the edit history when a value is changed from the workbook.
WORKBOOK_SOURCE = "workbook"


# --- rules shared with the file imports (qiwidgets.store.imports) -------------------------------
# Each rule is a small function or constant used by both the single-record saves below and the
# bulk imports, so that a file and the workbook accept and refuse the same things.

#: At most this many characters in a code: the models' ``String(64)`` code columns.
CODE_MAX_LENGTH = 64
#: What a programme's, team's or measure's code may hold. Codes appear in links (``?team=W7``),
#: report names and commands, so no spaces, slashes or other punctuation.
CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"
#: The rule in words, as every message about a code says it.
CODE_RULE = "may contain only letters, digits, '_', '.' and '-'"


def check_code(text: str) -> str:
    """``text`` if it is a valid code, else ValueError whose message is the rule broken.

    >>> check_code("W7")
    'W7'
    """
    if not text:
        raise ValueError("must not be empty")
    if len(text) > CODE_MAX_LENGTH:
        raise ValueError(f"must be at most {CODE_MAX_LENGTH} characters long")
    if not re.fullmatch(CODE_PATTERN, text):
        raise ValueError(CODE_RULE)
    return text


#: Chart types whose data points are counted as numerator / denominator (P, P', U and U' charts).
COUNTED_CHART_TYPES = ("p", "pp", "u", "up")
#: Chart types whose numerator is part of its denominator (a proportion: P and P' charts).
PROPORTION_CHART_TYPES = ("p", "pp")


def is_counted(measure: m.Measure) -> bool:
    """A measure whose data are a numerator and a denominator: chart type p, pp, u or up, or any
    measure with a denominator definition."""
    return measure.chart_type in COUNTED_CHART_TYPES or bool(
        (measure.denominator_definition or "").strip()
    )


def is_proportion(measure: m.Measure) -> bool:
    """A counted measure whose numerator is part of its denominator: chart type p or pp, or the
    unit ``%``."""
    return is_counted(measure) and (
        measure.chart_type in PROPORTION_CHART_TYPES or (measure.unit or "").strip() == "%"
    )


#: Why a counted data point's denominator of 0 is refused (said by the imports and the workbook).
ZERO_DENOMINATOR_RULE = (
    "must be more than zero: a denominator of 0 means there were no cases in the period, and 0 "
    "out of 0 is not a rate or a proportion that can be charted; leave this period without data"
)


def zero_denominator(denominator):
    """Where a counted data point's denominator is 0 (a number, or a numpy array of them)."""
    return denominator == 0


# --- validation -------------------------------------------------------------------------------


def _choice(values: Iterable) -> AfterValidator:
    allowed = tuple(values)

    def check(v):
        if v is not None and v not in allowed:
            raise ValueError("must be one of " + ", ".join(_show(a) for a in allowed))
        return v

    return AfterValidator(check)


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def _month_start(v: Any) -> Any:
    """Accept ``YYYY-MM`` and any date; a month is stored as its first day."""
    if isinstance(v, str) and len(v.strip()) == 7:
        v = v.strip() + "-01"
    if isinstance(v, dt.datetime):
        v = v.date()
    if isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v.strip())
        except ValueError:
            return v  # pydantic reports it as not a date
    if isinstance(v, dt.date):
        return v.replace(day=1)
    return v


def _blank_to_none(v: Any) -> Any:
    if isinstance(v, str) and not v.strip():
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


def _not_negative(v: float | None) -> float | None:
    if v is not None and v < 0:
        raise ValueError("must not be negative")
    return v


Text = Annotated[str | None, BeforeValidator(_blank_to_none)]
Required = Annotated[str, Field(min_length=1)]
Code = Annotated[str, AfterValidator(check_code)]
Number = Annotated[float | None, BeforeValidator(_blank_to_none), AfterValidator(_finite)]
Count = Annotated[Number, AfterValidator(_not_negative)]
OptDate = Annotated[dt.date | None, BeforeValidator(_blank_to_none)]
Month = Annotated[dt.date, BeforeValidator(_month_start)]
Score = Annotated[float | None, BeforeValidator(_blank_to_none), _choice(m.PROGRESS_SCORES)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProgrammeIn(_Record):
    """A programme: ``code`` (letters, digits, ``_.-``), ``name``, ``shared_aim``."""

    code: Code
    name: Required
    shared_aim: Text = None


class TeamIn(_Record):
    """A team of a programme; ``code`` is unique within the programme."""

    programme_id: int
    code: Code
    name: Required
    organisation: Text = None


class MeasureIn(_Record):
    """A measure's operational definition (``team_id`` None: shared by the whole programme)."""

    programme_id: int
    team_id: int | None = None
    code: Code
    name: Required
    measure_type: Annotated[str, _choice(m.MEASURE_TYPES)]
    numerator_definition: Text = None
    denominator_definition: Text = None
    value_definition: Text = None
    unit: Text = None
    multiplier: Number = None
    population: Text = None
    inclusions: Text = None
    exclusions: Text = None
    data_source: Text = None
    collector: Text = None
    frequency: Annotated[Text, _choice(m.FREQUENCIES)] = None
    sampling: Text = None
    improvement_direction: Annotated[Text, _choice(m.IMPROVEMENT_DIRECTIONS)] = None
    target: Number = None
    target_date: OptDate = None
    chart_type: Annotated[Text, _choice(m.CHART_TYPES)] = None
    rule_set: Annotated[Text, _choice(m.RULE_SETS)] = None
    baseline_start: OptDate = None
    baseline_end: OptDate = None

    @model_validator(mode="after")
    def _rules(self):
        if self.multiplier is not None and self.multiplier <= 0:
            raise ValueError(f"`multiplier` must be greater than 0, got {self.multiplier}.")
        _in_order(self, "baseline_start", "baseline_end")
        if self.numerator_definition is None and self.value_definition is None:
            raise ValueError(
                "A measure needs a `numerator_definition` (with a `denominator_definition` for "
                "a rate or proportion) or a `value_definition`."
            )
        return self


class AimIn(_Record):
    """An aim statement; ``outcome_measure_ids`` links it to outcome measures of the team."""

    team_id: int
    what: Required
    for_whom: Text = None
    how_much: Text = None
    by_when: OptDate = None
    baseline: Text = None
    outcome_measure_ids: list[int] = []


class DriverNodeIn(_Record):
    """A driver-diagram node: ``kind`` primary/secondary/change_idea, ``parent_id``, ``order``."""

    team_id: int
    kind: Annotated[str, _choice(m.DRIVER_KINDS)]
    parent_id: int | None = None
    text: Required
    order: int = 0


class PDSAIn(_Record):
    """A PDSA cycle: plan (question, prediction), do, study (against the prediction), act."""

    team_id: int
    change_idea_id: int | None = None
    measure_ids: list[int] = []
    title: Required
    plan_question: Text = None
    prediction: Text = None
    plan_date: OptDate = None
    do_start: OptDate = None
    do_notes: Text = None
    study_date: OptDate = None
    study_result: Text = None
    act: Annotated[Text, _choice(m.PDSA_ACTS)] = None
    act_date: OptDate = None

    @model_validator(mode="after")
    def _rules(self):
        _in_order(self, "plan_date", "do_start", "study_date", "act_date")
        if self.act_date is not None and self.act is None:
            raise ValueError("`act` (adopt, adapt or abandon) is needed with an `act_date`.")
        return self


class AnnotationIn(_Record):
    """A note on a team's charts; a ``rebase`` always carries its ``reason``."""

    team_id: int
    measure_id: int | None = None
    pdsa_id: int | None = None
    date: dt.date
    text: Required
    kind: Annotated[str, _choice(m.ANNOTATION_KINDS)]
    reason: Text = None

    @model_validator(mode="after")
    def _rules(self):
        if self.kind in m.ANNOTATION_KINDS_NEEDING_REASON and not self.reason:
            raise ValueError(
                f"`reason` is required for a {self.kind} annotation: say why the limits change."
            )
        return self


class ReflectionIn(_Record):
    """A reflection: what happened, what worked, what did not, what should change, ..."""

    team_id: int
    date: dt.date
    authors: Text = None
    what_happened: Text = None
    what_worked: Text = None
    what_did_not: Text = None
    what_should_change: Text = None
    learning_level: Annotated[Text, _choice(m.LEARNING_LEVELS)] = None
    bright_spot: bool = False
    story: Text = None
    generalisable: bool = False
    shared: bool = False  # shared with the programme (its pages and reports show only these)


class ProgressScoreIn(_Record):
    """The IHI progress score for a month: ``team_score`` and ``lead_score`` (0.5 to 5.0)."""

    team_id: int
    month: Month
    team_score: Score = None
    lead_score: Score = None
    justification: Text = None

    @model_validator(mode="after")
    def _rules(self):
        if self.team_score is None and self.lead_score is None:
            raise ValueError("Give a `team_score` or a `lead_score` (or both).")
        return self


class HealthCheckIn(_Record):
    """One learning-system component rated 1-5 for a period (``team_id`` None: programme)."""

    programme_id: int
    team_id: int | None = None
    period: dt.date
    component: Annotated[str, _choice(m.HEALTH_COMPONENTS)]
    rating: Annotated[int, Field(ge=m.HEALTH_RATING_MIN, le=m.HEALTH_RATING_MAX)]
    comment: Text = None


class ObservationIn(_Record):
    """One data point of a team's measure for a period."""

    team_id: int
    measure_id: int
    period: dt.date
    numerator: Count = None
    denominator: Count = None
    value: Number = None
    data_quality: Annotated[str, _choice(m.DATA_QUALITY_FLAGS)] = "ok"
    source: Text = None

    @model_validator(mode="after")
    def _rules(self):
        if self.numerator is None and self.value is None:
            raise ValueError("A data point needs a `numerator` or a `value`.")
        return self


def _in_order(record: BaseModel, *fields: str) -> None:
    """Dates that are given must not go backwards in the order of ``fields``."""
    given = [(f, getattr(record, f)) for f in fields if getattr(record, f) is not None]
    for (f1, d1), (f2, d2) in itertools.pairwise(given):
        if d2 < d1:
            raise ValueError(f"`{f2}` ({d2}) must not be before `{f1}` ({d1}).")


_PLAIN = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this record",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date without a time",
    "date_type": "must be a date (YYYY-MM-DD)",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_too_short": "must not be empty",
    "string_type": "must be text",
    "list_type": "must be a list",
    "string_pattern_mismatch": CODE_RULE,
}


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "value_error":
            msg = str(err["ctx"].get("error", err["msg"])) if "ctx" in err else err["msg"]
            msg = msg.removeprefix("Value error, ")
        else:
            msg = _PLAIN.get(kind, err["msg"][:1].lower() + err["msg"][1:])
        if not field:  # a rule across fields: the message is already a sentence
            out.append(("", msg))
        elif kind in ("missing", "extra_forbidden"):
            out.append((field, f"`{field}` {msg}."))
        else:
            out.append((field, f"`{field}` {msg}, got {err.get('input')!r}."))
    return out


Schema = TypeVar("Schema", bound=_Record)


def validate(schema: type[Schema], data: Mapping[str, Any] | BaseModel, what: str) -> Schema:
    """``data`` checked against ``schema``; every problem at once in an InvalidRecordError."""
    if isinstance(data, BaseModel):
        data = data.model_dump()
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        problems = _problems(exc)
        lines = "\n".join(f"- {p[1]}" for p in problems)
        raise InvalidRecordError(
            f"The {what} was not saved:\n{lines}"
            if len(problems) > 1
            else f"The {what} was not saved: {problems[0][1]}",
            problems,
        ) from None


def _invalid(what: str, field: str, message: str) -> InvalidRecordError:
    return InvalidRecordError(f"The {what} was not saved: {message}", [(field, message)])


# --- labels for messages ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    noun: str  # "reflection"
    textual: bool  # "Your text" rather than "Your change"
    label: Callable[[Session, Any], str]  # the context in brackets


def _team_name(session: Session, team_id: int | None) -> str:
    if team_id is None:
        return "programme"
    team = session.get(m.Team, team_id)
    return team.name if team is not None else f"team {team_id}"


def _measure_name(session: Session, measure_id: int) -> str:
    measure = session.get(m.Measure, measure_id)
    return measure.name if measure is not None else f"measure {measure_id}"


def _short(text: str | None, n: int = 40) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[: n - 1] + "…"


KINDS: dict[type, _Kind] = {
    m.Programme: _Kind("programme", False, lambda s, r: r.name),
    m.Team: _Kind("team", False, lambda s, r: r.name),
    m.Measure: _Kind(
        "measure definition",
        True,
        lambda s, r: f"{_team_name(s, r.team_id) if r.team_id else 'shared'}, {r.name}",
    ),
    m.Aim: _Kind("aim", True, lambda s, r: _team_name(s, r.team_id)),
    m.DriverNode: _Kind(
        "driver diagram entry", True, lambda s, r: f"{_team_name(s, r.team_id)}, {_short(r.text)}"
    ),
    m.PDSACycle: _Kind(
        "PDSA cycle", True, lambda s, r: f"{_team_name(s, r.team_id)}, {_short(r.title)}"
    ),
    m.Annotation: _Kind(
        "annotation", True, lambda s, r: f"{_team_name(s, r.team_id)}, {r.date.isoformat()}"
    ),
    m.Reflection: _Kind(
        "reflection", True, lambda s, r: f"{_team_name(s, r.team_id)}, {r.date.isoformat()}"
    ),
    m.ProgressScore: _Kind(
        "progress score", False, lambda s, r: f"{_team_name(s, r.team_id)}, {r.month:%Y-%m}"
    ),
    m.HealthCheck: _Kind(
        "health check",
        False,
        lambda s, r: (
            f"{_team_name(s, r.team_id)}, {r.period.isoformat()}, {r.component.replace('_', ' ')}"
        ),
    ),
    m.Observation: _Kind(
        "data point",
        False,
        lambda s, r: (
            f"{_team_name(s, r.team_id)}, {_measure_name(s, r.measure_id)}, {r.period.isoformat()}"
        ),
    ),
}


def stale_message(noun: str, context: str, textual: bool = True) -> str:
    """The message shown when an edit is refused because someone else saved first."""
    yours = "Your text has" if textual else "Your change has"
    return (
        f"Someone else changed this {noun} ({context}) since you opened it. {yours} not been "
        "saved over theirs: reload to see their version, then apply your change again."
    )


def _stale(session: Session, record: Any) -> StaleEditError:
    kind = KINDS[type(record)]
    return StaleEditError(stale_message(kind.noun, kind.label(session, record), kind.textual))


# --- generic create / update / delete -----------------------------------------------------------


def _load_for_update(session: Session, model: type[Record], id: int, version: int | None) -> Record:
    kind = KINDS[model]
    record = session.get(model, id, populate_existing=True)
    if record is None:
        raise NotFoundError(
            f"This {kind.noun} (id {id}) no longer exists: someone may have deleted it. "
            "Reload to see the current records."
        )
    if version is None:
        raise InvalidRecordError(
            f"`version` is required to change an existing {kind.noun}: pass the version you "
            "read, so that a colleague's change is never overwritten.",
            [("version", "is required")],
        )
    if record.version != version:
        raise _stale(session, record)
    return record


def _flush(session: Session, record: Any) -> None:
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise _stale(session, record) from None


def _current_values(record: Any, schema: type[_Record]) -> dict[str, Any]:
    return {f: getattr(record, f) for f in schema.model_fields if hasattr(record, f)}


def _save(
    db: StoreLike,
    model: type[Record],
    schema: type[_Record],
    data: Mapping[str, Any] | BaseModel,
    id: int | None,
    version: int | None,
    check: Callable[[Session, Any, Any | None], None] | None = None,
    links: Callable[[Session, Any, Any], None] | None = None,
    load: tuple = (),
) -> Record:
    what = KINDS[model].noun
    given = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else dict(data)

    def work(session: Session):
        if id is None:
            values = validate(schema, given, what)
            record = None
        else:
            record = _load_for_update(session, model, id, version)
            _may(session, record, write=True)  # where it was
            current = _current_values(record, schema)
            current.update(_link_ids(record))
            values = validate(schema, {**current, **given}, what)
        _may_save(session, model, values)  # where it goes
        if check is not None:
            check(session, values, record)
        columns = {k: v for k, v in values.model_dump().items() if k in model.__table__.c}
        if record is None:
            record = model(**columns)
            session.add(record)
        else:
            for key, value in columns.items():
                if getattr(record, key) != value:
                    setattr(record, key, value)
        if links is not None:
            with session.no_autoflush:
                links(session, record, values)
        _signed(session, record)
        _flush(session, record)
        for attr in load:  # make the links readable after the session closes
            getattr(record, attr)
        return record

    return run_in_transaction(work, db)


def _may_save(session: Session, model: type, values: BaseModel) -> None:
    """Refuse a save whoever acts may not make: into a team they may not change, or a
    programme-wide record without a programme lead's role."""
    if _actor(session) is None:
        return
    if model is m.Programme:
        _may_programme(session, getattr(values, "id", None), write=True)
        return
    if model is m.Team:
        _may_programme(session, values.programme_id, write=True)
        return
    team_id = getattr(values, "team_id", None)
    if team_id is not None:
        team = session.get(m.Team, team_id)
        if team is not None:
            _may(session, team, write=True)
        return
    _may_programme(session, getattr(values, "programme_id", None), write=True)


def _set_links(session: Session, record: Any, attr: str, ids: Iterable[int]) -> None:
    """Point ``record.<attr>`` at the measures ``ids``; a change counts as an edit."""
    wanted = sorted(set(ids))
    if sa_inspect(record).pending:
        setattr(record, attr, [session.get(m.Measure, i) for i in wanted])
        return
    if sorted(x.id for x in getattr(record, attr)) != wanted:
        setattr(record, attr, [session.get(m.Measure, i) for i in wanted])
        record.updated_at = m.utcnow()  # an UPDATE of the row, so the version moves on


def _link_ids(record: Any) -> dict[str, list[int]]:
    if isinstance(record, m.Aim):
        return {"outcome_measure_ids": [x.id for x in record.outcome_measures]}
    if isinstance(record, m.PDSACycle):
        return {"measure_ids": [x.id for x in record.measures]}
    return {}


def delete_record(db: StoreLike, model: type[m.Base], id: int, *, version: int) -> None:
    """Delete one record (an annotation, a reflection, ...) at the ``version`` the user read.

    Raises StaleEditError if it changed since, NotFoundError if it is gone, and StoreError if
    other records still refer to it (a driver with change ideas, a measure with data, ...).
    """
    if model not in KINDS:
        raise StoreError(f"`model` must be one of the store's record types, got {model!r}.")

    def work(session: Session):
        record = _load_for_update(session, model, id, version)
        _may(session, record, write=True)
        session.delete(record)
        try:
            _flush(session, record)
        except IntegrityError as exc:
            raise StoreError(
                f"This {KINDS[model].noun} cannot be deleted: other records still refer to it "
                "(for example change ideas under a driver, or data for a measure)."
            ) from exc

    run_in_transaction(work, db)


# --- checks across records ----------------------------------------------------------------------


def _need(session: Session, model: type[Record], id: int | None, what: str, field: str) -> Record:
    record = session.get(model, id) if id is not None else None
    if record is None:
        raise _invalid(what, field, f"`{field}` {id!r} does not exist.")
    return record


def _check_team_in_programme(session, what, programme_id, team_id) -> None:
    _need(session, m.Programme, programme_id, what, "programme_id")
    if team_id is not None:
        team = _need(session, m.Team, team_id, what, "team_id")
        if team.programme_id != programme_id:
            raise _invalid(what, "team_id", f"team {team.code!r} belongs to another programme.")


def _check_in_family(session, what, team: m.Team, measure_ids, field, measure_type=None):
    for mid in measure_ids:
        measure = _need(session, m.Measure, mid, what, field)
        if measure.programme_id != team.programme_id or measure.team_id not in (None, team.id):
            raise _invalid(
                what, field, f"measure {measure.code!r} is not in {team.name}'s family of measures."
            )
        if measure_type and measure.measure_type != measure_type:
            raise _invalid(
                what,
                field,
                f"measure {measure.code!r} is a {measure.measure_type} measure, "
                f"not an {measure_type} measure.",
            )


# --- programmes and teams -----------------------------------------------------------------------


def list_programmes(db: StoreLike) -> list[m.Programme]:
    """Every programme, by code."""
    with _reader(db) as session:
        return list(session.scalars(select(m.Programme).order_by(m.Programme.code)))


def get_programme(db: StoreLike, programme: ProgrammeRef = None) -> m.Programme:
    """A programme by code or id; None means the only programme in the database."""
    with _reader(db) as session:
        return _programme(session, programme)


def save_programme(db, data, *, id=None, version=None) -> m.Programme:
    """Create or change a programme (``ProgrammeIn`` fields)."""

    def check(session, values, record):
        clash = session.scalar(select(m.Programme.id).where(m.Programme.code == values.code))
        if clash is not None and (record is None or clash != record.id):
            raise _invalid("programme", "code", f"a programme with code {values.code!r} exists.")

    return _save(db, m.Programme, ProgrammeIn, data, id, version, check)


def list_teams(db: StoreLike, programme: ProgrammeRef = None) -> list[m.Team]:
    """The teams of a programme (None: of every programme), by code."""
    with _reader(db) as session:
        stmt = select(m.Team).order_by(m.Team.programme_id, m.Team.code)
        if programme is not None:
            stmt = stmt.where(m.Team.programme_id == _programme(session, programme).id)
        teams = list(session.scalars(stmt))
        actor = _actor(session)
        if actor is not None:  # whoever acts sees the teams they may read, and only those
            teams = [t for t in teams if actor.can_read(t.id, t.programme_id)]
        return teams


def get_team(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> m.Team:
    """A team by code (within ``programme`` if several programmes use it) or id."""
    with _reader(db) as session:
        return _team(session, team, programme)


def save_team(db, data, *, id=None, version=None) -> m.Team:
    """Create or change a team (``TeamIn`` fields)."""

    def check(session, values, record):
        _need(session, m.Programme, values.programme_id, "team", "programme_id")
        clash = session.scalar(
            select(m.Team.id).where(
                m.Team.programme_id == values.programme_id, m.Team.code == values.code
            )
        )
        if clash is not None and (record is None or clash != record.id):
            raise _invalid("team", "code", f"the programme already has a team {values.code!r}.")

    return _save(db, m.Team, TeamIn, data, id, version, check)


# --- measures ---------------------------------------------------------------------------------


def list_measures(
    db: StoreLike, team: TeamRef | None = None, programme: ProgrammeRef = None
) -> list[m.Measure]:
    """A team's family of measures: the programme's shared measures plus the team's own.

    Without ``team``: the programme's shared measures only. Ordered outcome, process,
    balancing, then by code.
    """
    with _reader(db) as session:
        if team is not None:
            t = _team(session, team, programme)
            stmt = select(m.Measure).where(
                m.Measure.programme_id == t.programme_id,
                or_(m.Measure.team_id.is_(None), m.Measure.team_id == t.id),
            )
        else:
            p = _programme(session, programme)
            stmt = select(m.Measure).where(
                m.Measure.programme_id == p.id, m.Measure.team_id.is_(None)
            )
        measures = list(session.scalars(stmt))
    order = {k: i for i, k in enumerate(m.MEASURE_TYPES)}
    return sorted(measures, key=lambda x: (order[x.measure_type], x.code))


def get_measure(
    db: StoreLike, measure: MeasureRef, team: TeamRef | None = None, programme: ProgrammeRef = None
) -> m.Measure:
    """A measure by id, or by code within a team's family (or the programme's shared ones)."""
    with _reader(db) as session:
        return _measure(session, measure, team, programme)


def save_measure(db, data, *, id=None, version=None) -> m.Measure:
    """Create or change a measure definition (``MeasureIn`` fields)."""

    def check(session, values, record):
        _check_team_in_programme(session, "measure definition", values.programme_id, values.team_id)
        same_code = select(m.Measure.id).where(
            m.Measure.programme_id == values.programme_id, m.Measure.code == values.code
        )
        if values.team_id is not None:  # clashes with a shared code or the team's own
            same_code = same_code.where(
                or_(m.Measure.team_id.is_(None), m.Measure.team_id == values.team_id)
            )
        clash = [i for i in session.scalars(same_code) if record is None or i != record.id]
        if clash:
            raise _invalid(
                "measure definition",
                "code",
                f"a measure with code {values.code!r} is already in this family of measures.",
            )

    return _save(db, m.Measure, MeasureIn, data, id, version, check)


# --- aims and driver diagrams -------------------------------------------------------------------


def list_aims(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> list[m.Aim]:
    """A team's aims (oldest first), with ``outcome_measures`` loaded."""
    with _reader(db) as session:
        t = _team(session, team, programme)
        stmt = (
            select(m.Aim)
            .where(m.Aim.team_id == t.id)
            .options(selectinload(m.Aim.outcome_measures))
            .order_by(m.Aim.id)
        )
        return list(session.scalars(stmt))


def get_aim(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> m.Aim | None:
    """A team's current aim (the newest), or None."""
    aims = list_aims(db, team, programme)
    return aims[-1] if aims else None


def save_aim(db, data, *, id=None, version=None) -> m.Aim:
    """Create or change an aim statement (``AimIn`` fields, with ``outcome_measure_ids``)."""

    def check(session, values, record):
        team = _need(session, m.Team, values.team_id, "aim", "team_id")
        _check_in_family(
            session, "aim", team, values.outcome_measure_ids, "outcome_measure_ids", "outcome"
        )

    def links(session, record, values):
        _set_links(session, record, "outcome_measures", values.outcome_measure_ids)

    return _save(db, m.Aim, AimIn, data, id, version, check, links, load=("outcome_measures",))


def driver_diagram(db: StoreLike, team: TeamRef, programme: ProgrammeRef = None) -> pd.DataFrame:
    """A team's driver diagram as a tidy table: one row per node, parents before children.

    Columns: ``id``, ``kind``, ``parent_id``, ``text``, ``order``, ``version``, ``depth``.
    """
    nodes = list_driver_nodes(db, team, programme)
    by_parent: dict[int | None, list[m.DriverNode]] = {}
    for node in nodes:
        by_parent.setdefault(node.parent_id, []).append(node)
    rows: list[dict] = []

    def walk(parent_id, depth):
        for node in sorted(by_parent.get(parent_id, []), key=lambda n: (n.order, n.id)):
            rows.append(
                {
                    "id": node.id,
                    "kind": node.kind,
                    "parent_id": node.parent_id,
                    "text": node.text,
                    "order": node.order,
                    "version": node.version,
                    "depth": depth,
                }
            )
            walk(node.id, depth + 1)

    walk(None, 0)
    return pd.DataFrame(
        rows, columns=["id", "kind", "parent_id", "text", "order", "version", "depth"]
    )


def list_driver_nodes(
    db: StoreLike, team: TeamRef, programme: ProgrammeRef = None, kind: str | None = None
) -> list[m.DriverNode]:
    """A team's driver-diagram nodes (optionally of one ``kind``), by order."""
    with _reader(db) as session:
        t = _team(session, team, programme)
        stmt = select(m.DriverNode).where(m.DriverNode.team_id == t.id)
        if kind is not None:
            stmt = stmt.where(m.DriverNode.kind == kind)
        return list(session.scalars(stmt.order_by(m.DriverNode.order, m.DriverNode.id)))


#: Which kind of node may sit under which (None: at the top, under the aim).
DRIVER_PARENTS = {
    "primary": (None,),
    "secondary": ("primary",),
    "change_idea": ("primary", "secondary"),
}


def save_driver_node(db, data, *, id=None, version=None) -> m.DriverNode:
    """Create or change a driver-diagram node (``DriverNodeIn`` fields)."""

    def check(session, values, record):
        _need(session, m.Team, values.team_id, "driver diagram entry", "team_id")
        parent = None
        if values.parent_id is not None:
            parent = _need(
                session, m.DriverNode, values.parent_id, "driver diagram entry", "parent_id"
            )
            if parent.team_id != values.team_id:
                raise _invalid(
                    "driver diagram entry",
                    "parent_id",
                    "the parent belongs to another team's driver diagram.",
                )
        allowed = DRIVER_PARENTS[values.kind]
        if (parent.kind if parent else None) not in allowed:
            where = " or ".join("the aim" if a is None else f"a {a} driver" for a in allowed)
            raise _invalid(
                "driver diagram entry",
                "parent_id",
                f"a {values.kind.replace('_', ' ')} must sit under {where}.",
            )

    return _save(db, m.DriverNode, DriverNodeIn, data, id, version, check)


# --- observations ------------------------------------------------------------------------------

#: Columns of the tidy observations table :func:`observations` returns.
OBSERVATION_COLUMNS = [
    "team", "measure", "period", "numerator", "denominator", "value", "data_quality",
    "source", "team_id", "measure_id", "id", "version",
]  # fmt: skip
#: Fields of an observation whose changes go into the edit history.
OBSERVATION_DATA_FIELDS = ("numerator", "denominator", "value", "data_quality")


def observations(
    db: StoreLike,
    team: TeamRef | None = None,
    measure: MeasureRef | None = None,
    programme: ProgrammeRef = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Observations as a tidy DataFrame, one row per team x measure x period, sorted.

    Give ``team`` for one team's data (every measure of its family, or one ``measure``), or
    ``measure`` alone for every team of the programme (funnel plots, small multiples).
    ``team`` and ``measure`` columns hold codes; ``period`` is a datetime64 column.
    """
    engine = get_engine(db)
    sqlite = engine.dialect.name == "sqlite"
    with _reader(db) as session:
        stmt = (
            select(
                m.Team.code,
                m.Measure.code,
                # SQLite keeps dates as ISO text: read it as text and convert the column at
                # once below, rather than through a date object per row
                type_coerce(m.Observation.period, String) if sqlite else m.Observation.period,
                m.Observation.numerator,
                m.Observation.denominator,
                m.Observation.value,
                m.Observation.data_quality,
                m.Observation.source,
                m.Observation.team_id,
                m.Observation.measure_id,
                m.Observation.id,
                m.Observation.version,
            )
            .join(m.Team, m.Team.id == m.Observation.team_id)
            .join(m.Measure, m.Measure.id == m.Observation.measure_id)
        )
        t = None
        if team is not None:
            t = _team(session, team, programme)
            stmt = stmt.where(m.Observation.team_id == t.id)
        if measure is not None:
            stmt = stmt.where(
                m.Observation.measure_id == _measure(session, measure, t, programme).id
            )
        elif team is None:
            p = _programme(session, programme)
            _may_programme(session, p.id, write=False)
            stmt = stmt.where(m.Team.programme_id == p.id)
        if team is None and measure is not None:  # every team's values of one measure
            _may_programme(session, _measure(session, measure, None, programme).programme_id,
                           write=False)  # fmt: skip
        if start is not None:
            stmt = stmt.where(m.Observation.period >= start)
        if end is not None:
            stmt = stmt.where(m.Observation.period <= end)
        stmt = stmt.order_by(m.Team.code, m.Measure.code, m.Observation.period)
        # plain rows through the Core connection, turned into columns at once: the ORM's row
        # objects and pandas' per-row record probing cost more than the query itself
        rows = session.connection().execute(stmt).fetchall()
    columns = list(zip(*rows)) if rows else [()] * len(OBSERVATION_COLUMNS)
    frame = pd.DataFrame({name: list(col) for name, col in zip(OBSERVATION_COLUMNS, columns)})
    if sqlite:  # ISO text -> the same second-resolution dates pandas makes from date objects
        frame["period"] = pd.to_datetime(frame["period"], format="%Y-%m-%d").astype(
            "datetime64[s]"
        )
    else:
        frame["period"] = pd.to_datetime(frame["period"])
    for col in ("numerator", "denominator", "value"):
        frame[col] = frame[col].astype("float64")
    return frame


def get_observation(db: StoreLike, id: int) -> m.Observation:
    """One observation by id."""
    with _reader(db) as session:
        record = session.get(m.Observation, id)
        if record is None:
            raise NotFoundError(f"There is no data point with id {id}.")
        return record


def observation_history(
    db: StoreLike, team: TeamRef, measure: MeasureRef | None = None, programme: ProgrammeRef = None
) -> pd.DataFrame:
    """The edit history of a team's data: every changed value, oldest first.

    Columns: ``measure``, ``period``, ``field``, ``old_value``, ``new_value``, ``changed_at``,
    ``source``, ``observation_id``.
    """
    with _reader(db) as session:
        t = _team(session, team, programme)
        stmt = (
            select(
                m.Measure.code,
                m.Observation.period,
                m.ObservationEdit.field,
                m.ObservationEdit.old_value,
                m.ObservationEdit.new_value,
                m.ObservationEdit.changed_at,
                m.ObservationEdit.source,
                m.ObservationEdit.observation_id,
            )
            .join(m.Observation, m.Observation.id == m.ObservationEdit.observation_id)
            .join(m.Measure, m.Measure.id == m.Observation.measure_id)
            .where(m.Observation.team_id == t.id)
            .order_by(m.ObservationEdit.changed_at, m.ObservationEdit.id)
        )
        if measure is not None:
            stmt = stmt.where(m.Observation.measure_id == _measure(session, measure, t).id)
        rows = session.execute(stmt).all()
    cols = [
        "measure",
        "period",
        "field",
        "old_value",
        "new_value",
        "changed_at",
        "source",
        "observation_id",
    ]
    return pd.DataFrame.from_records(rows, columns=cols)


def _text_value(v: Any) -> str | None:
    """How a value is written into the edit history."""
    if v is None:
        return None
    if isinstance(v, float):
        return repr(v)
    return str(v)


@dataclass(frozen=True)
class UpsertSummary:
    """What :func:`upsert_observations` did."""

    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def upsert_observations(
    session: Session, rows: Iterable[Mapping[str, Any]], *, source: str | None
) -> UpsertSummary:
    """Insert or update validated observation rows inside the caller's transaction.

    The core of every observations import. ``rows`` hold ``team_id``, ``measure_id``, ``period``
    (a date), ``numerator``, ``denominator``, ``value`` and optionally ``data_quality`` (default
    ``ok``); validate them first (:class:`ObservationIn` states the rules). A new team x measure
    x period is inserted; an existing one whose values differ is updated, its version moves on,
    and each changed field is written to the edit history (old value, new value, when,
    ``source``); an identical row changes nothing, so importing the same file twice is a no-op.
    Duplicate team x measure x period keys in ``rows`` are refused.
    """
    now = m.utcnow()
    incoming: dict[tuple, dict] = {}
    for row in rows:
        key = (int(row["team_id"]), int(row["measure_id"]), row["period"])
        if key in incoming:
            raise InvalidRecordError(
                f"The data were not saved: team {key[0]}, measure {key[1]}, period {key[2]} "
                "appears twice.",
                [("period", "duplicate team x measure x period")],
            )
        incoming[key] = {
            "numerator": _none_if_nan(row.get("numerator")),
            "denominator": _none_if_nan(row.get("denominator")),
            "value": _none_if_nan(row.get("value")),
            "data_quality": row.get("data_quality") or "ok",
        }
    if not incoming:
        return UpsertSummary(0, 0, 0)

    obs = m.Observation.__table__
    team_ids = sorted({k[0] for k in incoming})
    measure_ids = sorted({k[1] for k in incoming})
    periods = [k[2] for k in incoming]
    existing: dict[tuple, tuple] = {}
    stmt = select(
        obs.c.team_id, obs.c.measure_id, obs.c.period, obs.c.id, obs.c.version,
        obs.c.numerator, obs.c.denominator, obs.c.value, obs.c.data_quality,
    ).where(
        obs.c.team_id.in_(team_ids),
        obs.c.measure_id.in_(measure_ids),
        obs.c.period >= min(periods),
        obs.c.period <= max(periods),
    )  # fmt: skip
    for r in session.execute(stmt):
        existing[(r[0], r[1], r[2])] = r[3:]

    inserts, updates, edits = [], [], []
    unchanged = 0
    for key, new in incoming.items():
        old = existing.get(key)
        if old is None:
            inserts.append({
                "team_id": key[0], "measure_id": key[1], "period": key[2], **new,
                "source": source, "version": 1, "created_at": now, "updated_at": now,
            })  # fmt: skip
            continue
        obs_id, version, *old_values = old
        changed = [
            (field, before, new[field])
            for field, before in zip(OBSERVATION_DATA_FIELDS, old_values)
            if before != new[field]
        ]
        if not changed:
            unchanged += 1
            continue
        updates.append(
            {
                "b_id": obs_id,
                "b_version": version,
                "b_new_version": version + 1,
                **new,
                "source": source,
                "updated_at": now,
            }
        )
        for field, before, after in changed:
            edits.append(
                {
                    "observation_id": obs_id,
                    "field": field,
                    "old_value": _text_value(before),
                    "new_value": _text_value(after),
                    "changed_at": now,
                    "source": source,
                }
            )
    if inserts:
        session.execute(insert(obs), inserts)
    if updates:
        stmt = (
            update(obs)
            .where(obs.c.id == bindparam("b_id"), obs.c.version == bindparam("b_version"))
            .values(version=bindparam("b_new_version"))
        )
        result = session.connection().execute(stmt, updates)
        if result.rowcount not in (-1, len(updates)):
            raise StaleEditError(
                "Someone else changed some of these data points while they were being saved; "
                "nothing was saved. Please try again."
            )
        session.execute(insert(m.ObservationEdit.__table__), edits)
    return UpsertSummary(len(inserts), len(updates), unchanged)


def _none_if_nan(v: Any) -> Any:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return float(v)


def record_observation(
    db: StoreLike,
    data: Mapping[str, Any] | ObservationIn,
    *,
    version: int | None = None,
) -> m.Observation:
    """Enter or correct one data point from the workbook (``ObservationIn`` fields).

    ``version`` is the version of the data point the user saw, or None if the cell was empty.
    If someone else entered or changed it since, StaleEditError is raised and nothing changes.
    A correction keeps the old values in the edit history.
    """
    given = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else dict(data)
    values = validate(ObservationIn, given, "data point")

    def work(session: Session):
        team = _need(session, m.Team, values.team_id, "data point", "team_id")
        _may(session, team, write=True)
        _check_in_family(session, "data point", team, [values.measure_id], "measure_id")
        measure = session.get(m.Measure, values.measure_id)
        if (
            is_counted(measure)
            and values.denominator is not None
            and zero_denominator(values.denominator)
        ):
            raise _invalid(
                "data point", "denominator", f"`denominator` {ZERO_DENOMINATOR_RULE}, got 0."
            )
        if (
            is_proportion(measure)
            and values.numerator is not None
            and values.denominator is not None
            and values.numerator > values.denominator
        ):
            raise _invalid(
                "data point",
                "numerator",
                f"`numerator` ({values.numerator:g}) must not be greater than "
                f"`denominator` ({values.denominator:g}) for a proportion.",
            )
        record = session.scalar(
            select(m.Observation).where(
                m.Observation.team_id == values.team_id,
                m.Observation.measure_id == values.measure_id,
                m.Observation.period == values.period,
            )
        )
        if record is not None and record.version != version:
            raise _stale(session, record)
        if record is None and version is not None:
            raise NotFoundError(
                "This data point no longer exists: someone may have deleted it. Reload to see "
                "the current data."
            )
        source = values.source or WORKBOOK_SOURCE
        new = {f: getattr(values, f) for f in OBSERVATION_DATA_FIELDS}
        if record is None:
            record = m.Observation(team_id=values.team_id, measure_id=values.measure_id,
                                   period=values.period, source=source, **new)  # fmt: skip
            session.add(record)
            _signed(session, record)
            _flush(session, record)
            return record
        now = m.utcnow()
        for field, after in new.items():
            before = getattr(record, field)
            if before != after:
                session.add(m.ObservationEdit(
                    observation_id=record.id, field=field, old_value=_text_value(before),
                    new_value=_text_value(after), changed_at=now, source=source,
                    changed_by_id=getattr(_actor(session), "person_id", None),
                ))  # fmt: skip
                setattr(record, field, after)
        if session.is_modified(record):
            record.source = source
            _signed(session, record)
            _flush(session, record)
        return record

    return run_in_transaction(work, db)


# --- annotations, PDSA cycles, reflections ----------------------------------------------------------


def list_annotations(
    db: StoreLike, team: TeamRef, measure: MeasureRef | None = None, programme: ProgrammeRef = None
) -> list[m.Annotation]:
    """A team's annotations by date; with ``measure``, those for that measure and for all."""
    with _reader(db) as session:
        t = _team(session, team, programme)
        stmt = select(m.Annotation).where(m.Annotation.team_id == t.id)
        if measure is not None:
            mid = _measure(session, measure, t).id
            stmt = stmt.where(
                or_(m.Annotation.measure_id.is_(None), m.Annotation.measure_id == mid)
            )
        return list(session.scalars(stmt.order_by(m.Annotation.date, m.Annotation.id)))


def save_annotation(db, data, *, id=None, version=None) -> m.Annotation:
    """Create or change an annotation (``AnnotationIn`` fields); a rebase needs its reason."""

    def check(session, values, record):
        team = _need(session, m.Team, values.team_id, "annotation", "team_id")
        if values.measure_id is not None:
            _check_in_family(session, "annotation", team, [values.measure_id], "measure_id")
        if values.pdsa_id is not None:
            cycle = _need(session, m.PDSACycle, values.pdsa_id, "annotation", "pdsa_id")
            if cycle.team_id != team.id:
                raise _invalid("annotation", "pdsa_id", "the PDSA cycle belongs to another team.")

    return _save(db, m.Annotation, AnnotationIn, data, id, version, check)


def add_annotation(db, data) -> m.Annotation:
    """Add a new annotation (same as ``save_annotation(db, data)``)."""
    return save_annotation(db, data)


def list_pdsa_cycles(
    db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
) -> list[m.PDSACycle]:
    """A team's PDSA cycles by start date, with ``measures`` and ``change_idea`` loaded."""
    with _reader(db) as session:
        t = _team(session, team, programme)
        stmt = (
            select(m.PDSACycle)
            .where(m.PDSACycle.team_id == t.id)
            .options(selectinload(m.PDSACycle.measures), selectinload(m.PDSACycle.change_idea))
            .order_by(
                m.PDSACycle.do_start.is_(None),
                m.PDSACycle.do_start,
                m.PDSACycle.plan_date,
                m.PDSACycle.id,
            )
        )
        return list(session.scalars(stmt))


# --- the same record saved twice ---------------------------------------------------------------
# A page that lost its connection after the store committed a save never said "saved"; its
# visitor puts the text back after a reload and saves again. So a NEW reflection or PDSA cycle
# that is the same as one the team has already is not added a second time: the save returns the
# stored record (``already_saved(record)`` is then True) and writes nothing. The rule is here,
# in the store, so that it holds for every channel. (A progress score needs no such rule: a
# team has one per month, and a second new score for a month is refused as a stale edit.)

_ALREADY_SAVED = "_qi_already_saved"


class _AlreadySaved(Exception):
    """Raised inside a save's transaction: the same record is stored already (nothing written)."""

    def __init__(self, record_id: int):
        super().__init__(record_id)
        self.record_id = record_id


def already_saved(record: Any) -> bool:
    """True when ``save_reflection`` or ``save_pdsa`` returned a record the team had already,
    instead of adding the same one twice."""
    return bool(getattr(record, _ALREADY_SAVED, False))


def _lock_team(session: Session, team_id: int) -> None:
    """Hold the team's row until the transaction ends, so that two saves of the same new record
    run one after the other and the second finds the first (PostgreSQL; SQLite's writes are
    one at a time already, and SQLite has no FOR UPDATE)."""
    session.execute(select(m.Team.id).where(m.Team.id == team_id).with_for_update(key_share=True))


def _is(column: Any, value: Any) -> Any:
    """``column`` holds ``value`` (a missing text matches NULL or an empty text)."""
    if value is None:
        return or_(column.is_(None), column == "")
    return column == value


def _stored_already(db: StoreLike, model: type[Record], record_id: int,
                    load: tuple = ()) -> Record:  # fmt: skip
    with _reader(db) as session:
        stmt = select(model).where(model.id == record_id)
        for attr in load:
            stmt = stmt.options(selectinload(getattr(model, attr)))
        record = session.scalar(stmt)
    if record is None:  # deleted between the two transactions
        raise NotFoundError(
            f"This {KINDS[model].noun} was saved, then deleted by someone else at once. "
            "Reload to see the current records."
        )
    setattr(record, _ALREADY_SAVED, True)
    return record


#: A PDSA cycle's fields that must match (besides its title and measures) for a new cycle to be
#: one the team has already: every field of ``PDSAIn``, so that a field added later counts too.
_PDSA_SAME = tuple(f for f in PDSAIn.model_fields if f not in ("team_id", "title", "measure_ids"))


def _same_pdsa(session: Session, values: PDSAIn) -> None:
    """A team's PDSA cycles are told apart by their titles (as imports do): a new cycle titled
    like one of the team's is that cycle when everything else matches too, and is refused
    otherwise."""
    title = values.title.strip().casefold()
    stmt = select(m.PDSACycle).where(m.PDSACycle.team_id == values.team_id)
    stmt = stmt.options(selectinload(m.PDSACycle.measures)).order_by(m.PDSACycle.id)
    for cycle in session.scalars(stmt):
        if cycle.title.strip().casefold() != title:
            continue
        same = all(getattr(cycle, f) == getattr(values, f) for f in _PDSA_SAME)
        if same and {x.id for x in cycle.measures} == set(values.measure_ids):
            raise _AlreadySaved(cycle.id)
        raise _invalid(
            "PDSA cycle", "title",
            f"{_team_name(session, values.team_id)} already has a PDSA cycle titled "
            f"{cycle.title!r}. Open that cycle to change it, or give this one another title.",
        )  # fmt: skip


def save_pdsa(db, data, *, id=None, version=None) -> m.PDSACycle:
    """Create or change a PDSA cycle (``PDSAIn`` fields, with ``measure_ids``).

    A new cycle titled like one of the team's cycles (case aside) is refused, unless everything
    else matches too: then that cycle is returned and nothing is written
    (``already_saved(cycle)`` is True).
    """

    def check(session, values, record):
        _lock_team(session, values.team_id)
        team = _need(session, m.Team, values.team_id, "PDSA cycle", "team_id")
        if values.change_idea_id is not None:
            idea = _need(
                session, m.DriverNode, values.change_idea_id, "PDSA cycle", "change_idea_id"
            )
            if idea.team_id != team.id or idea.kind != "change_idea":
                raise _invalid(
                    "PDSA cycle",
                    "change_idea_id",
                    f"`change_idea_id` must be a change idea in {team.name}'s driver diagram.",
                )
        _check_in_family(session, "PDSA cycle", team, values.measure_ids, "measure_ids")
        if record is None:
            _same_pdsa(session, values)

    def links(session, record, values):
        _set_links(session, record, "measures", values.measure_ids)

    load = ("measures", "change_idea")
    try:
        return _save(db, m.PDSACycle, PDSAIn, data, id, version, check, links, load=load)
    except _AlreadySaved as found:
        return _stored_already(db, m.PDSACycle, found.record_id, load)


def list_reflections(
    db: StoreLike,
    team: TeamRef | None = None,
    programme: ProgrammeRef = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    generalisable: bool | None = None,
    bright_spot: bool | None = None,
    shared: bool | None = None,
) -> list[m.Reflection]:
    """Reflections by date: one team's, or (``team`` None) every team's in the programme.

    ``generalisable=True`` / ``bright_spot=True`` keep only those flagged; ``shared=True``
    only those the team shared with the programme (every programme channel asks for these).
    """
    with _reader(db) as session:
        stmt = select(m.Reflection)
        if team is not None:
            stmt = stmt.where(m.Reflection.team_id == _team(session, team, programme).id)
        else:
            p = _programme(session, programme)
            _may_programme(session, p.id, write=False)
            stmt = stmt.join(m.Team, m.Team.id == m.Reflection.team_id).where(
                m.Team.programme_id == p.id
            )
        if shared is not None:
            stmt = stmt.where(m.Reflection.shared == shared)
        if start is not None:
            stmt = stmt.where(m.Reflection.date >= start)
        if end is not None:
            stmt = stmt.where(m.Reflection.date <= end)
        if generalisable is not None:
            stmt = stmt.where(m.Reflection.generalisable == generalisable)
        if bright_spot is not None:
            stmt = stmt.where(m.Reflection.bright_spot == bright_spot)
        return list(session.scalars(stmt.order_by(m.Reflection.date, m.Reflection.id)))


def get_reflection(db: StoreLike, id: int) -> m.Reflection:
    """One reflection by id."""
    return _get(db, m.Reflection, id)


#: A reflection's words: a new reflection with the same words on the same date for the same team
#: is that reflection.
_REFLECTION_WORDS = ("authors", "what_happened", "what_worked", "what_did_not",
                     "what_should_change", "story")  # fmt: skip
#: The rest of a reflection (level of learning, flags: every other field of ``ReflectionIn``,
#: so that a field added later counts too), which must match for it to be already saved.
_REFLECTION_MARKS = tuple(f for f in ReflectionIn.model_fields
                          if f not in ("team_id", "date", *_REFLECTION_WORDS))  # fmt: skip


def _same_reflection(session: Session, values: ReflectionIn) -> None:
    if not any(getattr(values, f) for f in _REFLECTION_WORDS):
        return  # no words: nothing to be the same as
    stmt = select(m.Reflection).where(m.Reflection.team_id == values.team_id,
                                      m.Reflection.date == values.date)  # fmt: skip
    for f in _REFLECTION_WORDS:
        stmt = stmt.where(_is(getattr(m.Reflection, f), getattr(values, f)))
    same = session.scalars(stmt.order_by(m.Reflection.id)).first()
    if same is None:
        return
    if all(getattr(same, f) == getattr(values, f) for f in _REFLECTION_MARKS):
        raise _AlreadySaved(same.id)
    raise _invalid(
        "reflection", "date",
        f"{_team_name(session, values.team_id)} already has a reflection of "
        f"{values.date.isoformat()} with these same words. Open that reflection to change its "
        "level of learning or its tick boxes, instead of adding the same words twice.",
    )  # fmt: skip


def save_reflection(db, data, *, id=None, version=None) -> m.Reflection:
    """Create or change a reflection (``ReflectionIn`` fields).

    A new reflection with the same words (who, the four answers, the story) on the same date
    as one of the team's is that reflection: it is returned and nothing is written
    (``already_saved(reflection)`` is True); refused if its level of learning or flags differ.
    """

    def check(session, values, record):
        _lock_team(session, values.team_id)
        _need(session, m.Team, values.team_id, "reflection", "team_id")
        if record is None:
            _same_reflection(session, values)

    try:
        return _save(db, m.Reflection, ReflectionIn, data, id, version, check)
    except _AlreadySaved as found:
        return _stored_already(db, m.Reflection, found.record_id)


# --- progress scores and health checks -----------------------------------------------------------


def list_progress_scores(
    db: StoreLike, team: TeamRef, programme: ProgrammeRef = None
) -> list[m.ProgressScore]:
    """A team's progress scores, month by month."""
    with _reader(db) as session:
        t = _team(session, team, programme)
        stmt = select(m.ProgressScore).where(m.ProgressScore.team_id == t.id)
        return list(session.scalars(stmt.order_by(m.ProgressScore.month)))


def progress_scores(db: StoreLike, programme: ProgrammeRef = None) -> pd.DataFrame:
    """Every team's progress scores in a programme as a tidy table.

    Columns: ``team``, ``month`` (datetime64), ``team_score``, ``lead_score``,
    ``justification``, ``team_id``, ``id``, ``version``.
    """
    with _reader(db) as session:
        p = _programme(session, programme)
        _may_programme(session, p.id, write=False)
        rows = session.execute(
            select(
                m.Team.code,
                m.ProgressScore.month,
                m.ProgressScore.team_score,
                m.ProgressScore.lead_score,
                m.ProgressScore.justification,
                m.ProgressScore.team_id,
                m.ProgressScore.id,
                m.ProgressScore.version,
            )
            .join(m.Team, m.Team.id == m.ProgressScore.team_id)
            .where(m.Team.programme_id == p.id)
            .order_by(m.Team.code, m.ProgressScore.month)
        ).all()
    frame = pd.DataFrame.from_records(rows, columns=[
        "team", "month", "team_score", "lead_score", "justification", "team_id", "id", "version",
    ])  # fmt: skip
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def save_progress_score(db, data, *, id=None, version=None) -> m.ProgressScore:
    """Create or change a month's progress score (``ProgressScoreIn`` fields).

    A second score for the same team and month is refused as a stale edit: someone else
    scored that month first.
    """

    def check(session, values, record):
        _need(session, m.Team, values.team_id, "progress score", "team_id")
        other = session.scalar(
            select(m.ProgressScore).where(
                m.ProgressScore.team_id == values.team_id,
                m.ProgressScore.month == values.month,
            )
        )
        if other is not None and (record is None or other.id != record.id):
            raise _stale(session, other)

    return _save(db, m.ProgressScore, ProgressScoreIn, data, id, version, check)


def list_health_checks(
    db: StoreLike,
    programme: ProgrammeRef = None,
    team: TeamRef | None = None,
    level: Literal["programme", "team", "all"] = "all",
) -> pd.DataFrame:
    """Learning-system health checks as a tidy table, by period and component.

    ``team`` gives one team's; otherwise ``level`` chooses programme-level rows, team rows or
    all. Columns: ``team`` (code, or None for the programme), ``period``, ``component``,
    ``rating``, ``comment``, ``programme_id``, ``team_id``, ``id``, ``version``.
    """
    with _reader(db) as session:
        p = _programme(session, programme)
        stmt = (
            select(
                m.Team.code,
                m.HealthCheck.period,
                m.HealthCheck.component,
                m.HealthCheck.rating,
                m.HealthCheck.comment,
                m.HealthCheck.programme_id,
                m.HealthCheck.team_id,
                m.HealthCheck.id,
                m.HealthCheck.version,
            )
            .outerjoin(m.Team, m.Team.id == m.HealthCheck.team_id)
            .where(m.HealthCheck.programme_id == p.id)
        )
        if team is not None:
            stmt = stmt.where(m.HealthCheck.team_id == _team(session, team, p).id)
        else:
            _may_programme(session, p.id, write=False)
            if level == "programme":
                stmt = stmt.where(m.HealthCheck.team_id.is_(None))
            elif level == "team":
                stmt = stmt.where(m.HealthCheck.team_id.is_not(None))
        rows = session.execute(
            stmt.order_by(m.HealthCheck.period, m.Team.code, m.HealthCheck.component)
        ).all()
    frame = pd.DataFrame.from_records(rows, columns=[
        "team", "period", "component", "rating", "comment", "programme_id", "team_id", "id",
        "version",
    ])  # fmt: skip
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def save_health_check(db, data, *, id=None, version=None) -> m.HealthCheck:
    """Create or change one health-check rating (``HealthCheckIn`` fields)."""

    def check(session, values, record):
        _check_team_in_programme(session, "health check", values.programme_id, values.team_id)
        team_match = (
            m.HealthCheck.team_id.is_(None)
            if values.team_id is None
            else m.HealthCheck.team_id == values.team_id
        )
        other = session.scalar(
            select(m.HealthCheck).where(
                m.HealthCheck.programme_id == values.programme_id,
                team_match,
                m.HealthCheck.period == values.period,
                m.HealthCheck.component == values.component,
            )
        )
        if other is not None and (record is None or other.id != record.id):
            raise _stale(session, other)

    return _save(db, m.HealthCheck, HealthCheckIn, data, id, version, check)


# --- helpers ------------------------------------------------------------------------------------


class _reader:
    """A read-only session (no write lock) whose objects stay usable after it closes; it
    carries who acts (:class:`~qiwidgets.store.people.ActingDB`), for the access checks."""

    def __init__(self, db: StoreLike):
        self.engine = get_engine(db)
        self.actor = people.actor_of(db)

    def __enter__(self) -> Session:
        self.session = Session(self.engine, expire_on_commit=False)
        self.session.info["actor"] = self.actor
        return self.session

    def __exit__(self, exc_type, exc, tb) -> None:
        self.session.close()  # detaches the objects without expiring them
        if exc is not None:
            translated = translate_error(exc, self.engine)
            if translated is not exc:
                raise translated from exc


def _get(db: StoreLike, model: type[Record], id: int) -> Record:
    with _reader(db) as session:
        record = session.get(model, id)
        if record is None:
            raise NotFoundError(f"There is no {KINDS[model].noun} with id {id}.")
        _may(session, record, write=False)
        return record


# --- who may read and change what (qiwidgets.store.people) ---------------------------------------


def _actor(session: Session) -> people.Actor | None:
    return session.info.get("actor")


def _may(session: Session, record: Any, *, write: bool) -> None:
    """Refuse (AccessDenied) unless whoever acts may read (or change) ``record``: a team, a
    record of a team, or a programme-wide record (a shared measure, a programme health check,
    a programme, a team's own row). Nobody in particular acting (a command, an analyst's own
    notebook): nothing to check."""
    actor = _actor(session)
    if actor is None or actor.operator:
        return
    if write and actor.link_id is not None and not people.link_is_live_in(session, actor.link_id):
        raise AccessDenied("Your access link no longer works (revoked or expired): nothing was "
                           "saved. Ask your programme lead for a new one.")  # fmt: skip
    if isinstance(record, m.Team):
        actor.check(record, write=write)
        return
    team_id = getattr(record, "team_id", None)
    if team_id is not None:
        actor.check(session.get(m.Team, team_id), write=write)
        return
    programme_id = record.id if isinstance(record, m.Programme) else getattr(
        record, "programme_id", None)  # fmt: skip
    _may_programme(session, programme_id, write=write)


def _may_programme(session: Session, programme_id: int | None, *, write: bool) -> None:
    """Refuse unless whoever acts may read (or change) the whole programme."""
    actor = _actor(session)
    if actor is None or actor.operator:
        return
    role = actor.programmes.get(programme_id)
    if role is None or (write and role not in people.WRITING_PROGRAMME_ROLES):
        what = "change the programme's own records" if write else "see the whole programme"
        raise AccessDenied(f"{actor.name} may not {what}: that is for the programme lead.")


def _signed(session: Session, record: Any) -> None:
    """The person saving, on the record (``updated_by_id``), when someone in particular acts."""
    actor = _actor(session)
    if actor is not None and actor.person_id is not None and hasattr(record, "updated_by_id"):
        record.updated_by_id = actor.person_id


def _programme(session: Session, programme: ProgrammeRef) -> m.Programme:
    if isinstance(programme, m.Programme):
        return programme
    if isinstance(programme, int):
        found = session.get(m.Programme, programme)
    elif isinstance(programme, str):
        found = session.scalar(select(m.Programme).where(m.Programme.code == programme))
    else:
        found_all = list(session.scalars(select(m.Programme).limit(2)))
        if len(found_all) == 1:
            return found_all[0]
        if not found_all:
            raise NotFoundError(
                "The database holds no programme yet: import one or run `qiwidgets load-sample`."
            )
        raise StoreError("The database holds several programmes: say which one (`programme`).")
    if found is None:
        raise NotFoundError(f"There is no programme {programme!r}.")
    return found


def _team(session: Session, team: TeamRef, programme: ProgrammeRef = None) -> m.Team:
    """A team by record, id or code; whoever acts must be allowed to read it."""
    found = _find_team(session, team, programme)
    _may(session, found, write=False)
    return found


def _find_team(session: Session, team: TeamRef, programme: ProgrammeRef = None) -> m.Team:
    if isinstance(team, m.Team):
        return team
    if isinstance(team, int):
        found = session.get(m.Team, team)
        if found is None:
            raise NotFoundError(f"There is no team with id {team}.")
        return found
    stmt = select(m.Team).where(m.Team.code == team)
    if programme is not None:
        stmt = stmt.where(m.Team.programme_id == _programme(session, programme).id)
    found_all = list(session.scalars(stmt.limit(2)))
    if not found_all:
        raise NotFoundError(f"There is no team {team!r}.")
    if len(found_all) > 1:
        raise StoreError(f"Several programmes have a team {team!r}: say which `programme`.")
    return found_all[0]


def _measure(
    session: Session,
    measure: MeasureRef,
    team: TeamRef | None = None,
    programme: ProgrammeRef = None,
) -> m.Measure:
    if isinstance(measure, m.Measure):
        return measure
    if isinstance(measure, int):
        found = session.get(m.Measure, measure)
        if found is None:
            raise NotFoundError(f"There is no measure with id {measure}.")
        return found
    if team is not None:
        t = _team(session, team, programme)
        stmt = select(m.Measure).where(
            m.Measure.programme_id == t.programme_id,
            or_(m.Measure.team_id.is_(None), m.Measure.team_id == t.id),
            m.Measure.code == measure,
        )
        where = f"in {t.name}'s family of measures"
    else:
        p = _programme(session, programme)
        stmt = select(m.Measure).where(
            m.Measure.programme_id == p.id,
            m.Measure.team_id.is_(None),
            m.Measure.code == measure,
        )
        where = f"among the shared measures of {p.name}"
    found = session.scalar(stmt)
    if found is None:
        raise NotFoundError(f"There is no measure {measure!r} {where}.")
    return found


__all__ = [
    "AimIn", "AnnotationIn", "DriverNodeIn", "HealthCheckIn", "MeasureIn", "ObservationIn",
    "PDSAIn", "ProgrammeIn", "ProgressScoreIn", "ReflectionIn", "TeamIn", "UpsertSummary",
    "add_annotation", "already_saved", "delete_record", "driver_diagram", "get_aim",
    "get_measure", "get_observation", "get_programme", "get_reflection", "get_team", "list_aims",
    "list_annotations", "list_driver_nodes", "list_health_checks", "list_measures",
    "list_pdsa_cycles", "list_programmes", "list_progress_scores", "list_reflections",
    "list_teams", "observation_history", "observations", "progress_scores",
    "record_observation", "save_aim", "save_annotation", "save_driver_node",
    "save_health_check", "save_measure", "save_pdsa", "save_programme", "save_progress_score",
    "save_reflection", "save_team", "stale_message", "upsert_observations", "validate",
]  # fmt: skip
