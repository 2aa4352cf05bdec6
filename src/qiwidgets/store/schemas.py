"""The rules of every record the store keeps, in one place.

A record is checked here whichever way it arrives: a save from the workbook or a dashboard
(:mod:`qiwidgets.store.repo`), a row of an import file (:mod:`qiwidgets.store.imports`), a cell of
the data entry grid, or the sample loader (:mod:`qiwidgets.store.sample`). So a record one of
them accepts, the others accept too, and they refuse the same things.

* The pydantic models (``ProgrammeIn``, ``TeamIn``, ``MeasureIn``, ``ObservationIn``, ...) hold
  the rules of one record on its own: required fields, choices, numbers, dates in order. Text
  typed in a cell is read as :mod:`qiwidgets.store.cells` reads it (``1,234`` is 1234, ``2024-03``
  is 1 March 2024).
* :func:`observation_rule_breaks` holds the rules a data point follows because of its measure
  (a counted measure needs whole counts and a denominator above zero, a proportion's numerator
  is at most its denominator, a monthly measure's period is the first of a month, ...). They work
  on columns (numpy arrays): an import checks a million rows at once, a save checks one.
* :func:`validate` checks a record and reports every problem at once in an
  :class:`~qiwidgets.errors.InvalidRecordError` whose message names the field, the rule and the
  value received.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import numpy as np
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
from pydantic_core import PydanticCustomError

from qiwidgets.errors import InvalidRecordError
from qiwidgets.store import cells
from qiwidgets.store import models as m


def column_length(model: type, name: str) -> int:
    """The size of a model's string column (``String(200)``: 200)."""
    return model.__table__.c[name].type.length


# --- codes ------------------------------------------------------------------------------------

#: At most this many characters in a code: the models' ``String(64)`` code columns.
CODE_MAX_LENGTH = column_length(m.Team, "code")
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


# --- kinds of measure -------------------------------------------------------------------------

#: Chart types whose data points are counted as numerator / denominator (P, P', U and U' charts).
COUNTED_CHART_TYPES = ("p", "pp", "u", "up")
#: Chart types whose numerator is part of its denominator (a proportion: P and P' charts).
PROPORTION_CHART_TYPES = ("p", "pp")


def is_counted(measure: Any) -> bool:
    """A measure whose data are a numerator and a denominator: chart type p, pp, u or up, or any
    measure with a denominator definition."""
    return measure.chart_type in COUNTED_CHART_TYPES or bool(
        (measure.denominator_definition or "").strip()
    )


def is_proportion(measure: Any) -> bool:
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


# --- field types ---------------------------------------------------------------------------------


def _rule_error(exc: Exception) -> PydanticCustomError:
    return PydanticCustomError("qi_rule", str(exc))


def _blank(v: Any) -> bool:
    return (
        v is None
        or (isinstance(v, str) and not v.strip())
        or (isinstance(v, float) and math.isnan(v))
    )


def _number_in(v: Any) -> Any:
    """A number as a cell reads it (text through :func:`cells.parse_number`); blank is None."""
    if _blank(v):
        return None
    try:
        if isinstance(v, str):
            return cells.parse_number(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return cells.check_number(float(v))
    except cells.CellRuleError as exc:
        raise _rule_error(exc) from None
    return v  # pydantic says it is not a number


def _count_in(v: float | None) -> float | None:
    try:
        return cells.check_count(v)
    except cells.CellRuleError as exc:
        raise _rule_error(exc) from None


def _date_in(v: Any) -> Any:
    """A date: a date object, or text as a cell reads it (YYYY-MM-DD, YYYY-MM, an Excel day)."""
    if _blank(v):
        return None
    try:
        if isinstance(v, dt.datetime):
            if v.time() != dt.time(0):
                raise cells.CellRuleError("must be a date without a time of day")
            v = v.date()
        if isinstance(v, str):
            return cells.parse_date(v)
        if isinstance(v, dt.date):
            return cells.check_date(v)
    except cells.CellRuleError as exc:
        raise _rule_error(exc) from None
    return v  # pydantic says it is not a date


def _month_in(v: Any) -> Any:
    """A month: any date of it, stored as its first day."""
    v = _date_in(v)
    return v.replace(day=1) if isinstance(v, dt.date) else v


def _text_in(max_len: int, required: bool = False):
    def check(v: Any) -> Any:
        if not isinstance(v, str):
            return v if v is not None or required else None
        try:
            if required:
                if not v.strip():
                    raise cells.CellRuleError("must not be empty")
                return cells.parse_required_text(v, max_len)
            return cells.parse_text(v, max_len)
        except cells.CellRuleError as exc:
            raise _rule_error(exc) from None

    return BeforeValidator(check)


def _choice(values: Iterable, required: bool = False) -> list:
    """A choice among ``values``; text is matched ignoring case, spaces or hyphens for
    underscores (``Single loop`` is ``single_loop``), as in an import file."""
    allowed = tuple(values)

    def normalise(v):
        if isinstance(v, str):
            if not v.strip():
                if required:
                    raise PydanticCustomError(
                        "qi_rule", "is required: one of " + ", ".join(_show(a) for a in allowed)
                    )
                return None
            norm = cells.normalise_choice(v)
            return norm if norm in allowed else v
        return v

    def check(v):
        if v is not None and v not in allowed:
            raise ValueError("must be one of " + ", ".join(_show(a) for a in allowed))
        return v

    return [BeforeValidator(normalise), AfterValidator(check)]


def one_of(values: Iterable) -> AfterValidator:
    """A field whose value, when given, must be one of ``values`` exactly (e.g. a rating)."""
    allowed = tuple(values)

    def check(v):
        if v is not None and v not in allowed:
            raise ValueError("must be one of " + ", ".join(_show(a) for a in allowed))
        return v

    return AfterValidator(check)


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def _code_in(v: Any) -> Any:
    if isinstance(v, str):
        return v.strip()
    return v


#: Free text (blank is None; at most :data:`cells.MAX_TEXT` characters).
Text = Annotated[str | None, _text_in(cells.MAX_TEXT)]
Required = Annotated[str, _text_in(cells.MAX_TEXT, required=True)]
Code = Annotated[str, BeforeValidator(_code_in), AfterValidator(check_code)]
Number = Annotated[float | None, BeforeValidator(_number_in)]
Count = Annotated[Number, AfterValidator(_count_in)]
OptDate = Annotated[dt.date | None, BeforeValidator(_date_in)]
Date = Annotated[dt.date, BeforeValidator(_date_in)]
Month = Annotated[dt.date, BeforeValidator(_month_in)]
Score = Annotated[float | None, BeforeValidator(lambda v: None if _blank(v) else v),
                  *_choice(m.PROGRESS_SCORES)]  # fmt: skip


def _sized(model: type, name: str, required: bool = False):
    """Text no longer than the model's column ``name``."""
    size = column_length(model, name)
    return Annotated[str if required else str | None, _text_in(size, required)]


def _choice_of(values: Iterable, required: bool = False):
    return Annotated[str if required else str | None, *_choice(values, required)]


class Record(BaseModel):
    """Base of the record models: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProgrammeIn(Record):
    """A programme: ``code`` (letters, digits, ``_.-``), ``name``, ``shared_aim``."""

    code: Code
    name: _sized(m.Programme, "name", required=True)
    shared_aim: Text = None


class TeamIn(Record):
    """A team of a programme; ``code`` is unique within the programme."""

    programme_id: int
    code: Code
    name: _sized(m.Team, "name", required=True)
    organisation: _sized(m.Team, "organisation") = None


class MeasureIn(Record):
    """A measure's operational definition (``team_id`` None: shared by the whole programme)."""

    programme_id: int
    team_id: int | None = None
    code: Code
    name: _sized(m.Measure, "name", required=True)
    measure_type: _choice_of(m.MEASURE_TYPES, required=True)
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
    frequency: _choice_of(m.FREQUENCIES) = None
    sampling: Text = None
    improvement_direction: _choice_of(m.IMPROVEMENT_DIRECTIONS) = None
    target: Number = None
    target_date: OptDate = None
    chart_type: _choice_of(m.CHART_TYPES) = None
    rule_set: _choice_of(m.RULE_SETS) = None
    baseline_start: OptDate = None
    baseline_end: OptDate = None

    @model_validator(mode="after")
    def _rules(self):
        if self.multiplier is not None and self.multiplier <= 0:
            raise ValueError(f"`multiplier` must be greater than 0, got {self.multiplier:g}.")
        in_order(self, "baseline_start", "baseline_end")
        if self.chart_type in COUNTED_CHART_TYPES:
            missing = [f"`{f}`" for f in ("numerator_definition", "denominator_definition")
                       if getattr(self, f) is None]  # fmt: skip
            if missing:
                raise ValueError(
                    f"A measure with chart type '{self.chart_type}' counts a numerator out of a "
                    f"denominator: give its {' and '.join(missing)}."
                )
        if self.numerator_definition is None and self.value_definition is None:
            raise ValueError(
                "A measure needs a `numerator_definition` (with a `denominator_definition` for "
                "a rate or proportion) or a `value_definition`."
            )
        return self


class AimIn(Record):
    """An aim statement; ``outcome_measure_ids`` links it to outcome measures of the team."""

    team_id: int
    what: Required
    for_whom: Text = None
    how_much: Text = None
    by_when: OptDate = None
    baseline: Text = None
    outcome_measure_ids: list[int] = []


class DriverNodeIn(Record):
    """A driver-diagram node: ``kind`` primary/secondary/change_idea, ``parent_id``, ``order``;
    a change idea may carry ``idea_tag``, the shared name the change-idea library groups by."""

    team_id: int
    kind: _choice_of(m.DRIVER_KINDS, required=True)
    parent_id: int | None = None
    text: Required
    order: int = 0
    idea_tag: Annotated[str | None, _text_in(m.IDEA_TAG_LENGTH)] = None

    @model_validator(mode="after")
    def _rules(self):
        if self.idea_tag is not None and self.kind != "change_idea":
            raise ValueError("`idea_tag` (a shared name) is for a change idea only.")
        return self


class PDSAIn(Record):
    """A PDSA cycle: plan (question, prediction), do, study (against the prediction), act."""

    team_id: int
    change_idea_id: int | None = None
    measure_ids: list[int] = []
    title: _sized(m.PDSACycle, "title", required=True)
    plan_question: Text = None
    prediction: Text = None
    plan_date: OptDate = None
    do_start: OptDate = None
    do_notes: Text = None
    study_date: OptDate = None
    study_result: Text = None
    act: _choice_of(m.PDSA_ACTS) = None
    act_date: OptDate = None

    @model_validator(mode="after")
    def _rules(self):
        in_order(self, "plan_date", "do_start", "study_date", "act_date")
        if self.act_date is not None and self.act is None:
            raise ValueError("`act` (adopt, adapt or abandon) is needed with an `act_date`.")
        return self


class AnnotationIn(Record):
    """A note on a team's charts; a ``rebase`` always carries its ``reason``."""

    team_id: int
    measure_id: int | None = None
    pdsa_id: int | None = None
    date: Date
    text: Required
    kind: _choice_of(m.ANNOTATION_KINDS, required=True)
    reason: Text = None

    @model_validator(mode="after")
    def _rules(self):
        if self.kind in m.ANNOTATION_KINDS_NEEDING_REASON and not self.reason:
            raise ValueError(
                f"`reason` is required for a {self.kind} annotation: say why the limits change."
            )
        return self


class ReflectionIn(Record):
    """A reflection: what happened, what worked, what did not, what should change, ..."""

    team_id: int
    date: Date
    authors: Text = None
    what_happened: Text = None
    what_worked: Text = None
    what_did_not: Text = None
    what_should_change: Text = None
    learning_level: _choice_of(m.LEARNING_LEVELS) = None
    bright_spot: bool = False
    story: Text = None
    generalisable: bool = False
    shared: bool = False  # shared with the programme (its pages and reports show only these)


class ProgressScoreIn(Record):
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


class HealthCheckIn(Record):
    """One learning-system component rated 1-5 for a period (``team_id`` None: programme)."""

    programme_id: int
    team_id: int | None = None
    period: Date
    component: _choice_of(m.HEALTH_COMPONENTS, required=True)
    rating: Annotated[int, Field(ge=m.HEALTH_RATING_MIN, le=m.HEALTH_RATING_MAX)]
    comment: Text = None


class ObservationIn(Record):
    """One data point of a team's measure for a period (the rules its measure adds are in
    :func:`observation_rule_breaks`)."""

    team_id: int
    measure_id: int
    period: Date
    numerator: Count = None
    denominator: Count = None
    value: Number = None
    data_quality: Annotated[str, BeforeValidator(lambda v: "ok" if _blank(v) else v),
                            *_choice(m.DATA_QUALITY_FLAGS)] = "ok"  # fmt: skip
    source: _sized(m.Observation, "source") = None
    note: Text = None

    @model_validator(mode="after")
    def _rules(self):
        if self.numerator is None and self.value is None:
            raise ValueError("A data point needs a `numerator` or a `value`.")
        return self


def in_order(record: BaseModel, *fields: str) -> None:
    """Dates that are given must not go backwards in the order of ``fields``."""
    given = [(f, getattr(record, f)) for f in fields if getattr(record, f) is not None]
    for (f1, d1), (f2, d2) in itertools.pairwise(given):
        if d2 < d1:
            raise ValueError(f"`{f2}` ({d2}) must not be before `{f1}` ({d1}).")


# --- checking a record ---------------------------------------------------------------------------

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


def rule_problems(exc: ValidationError) -> list[tuple[str, str, Any]]:
    """``(field, rule, value received)`` for each error of a pydantic ValidationError, the rule
    in plain words (``must be one of 'ok', ...``). A rule across fields has the field ``""`` and
    a whole sentence as its rule; a missing field has the value None."""
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "value_error":
            msg = str(err["ctx"].get("error", err["msg"])) if "ctx" in err else err["msg"]
            msg = msg.removeprefix("Value error, ")
        elif kind == "qi_rule":
            msg = err["msg"]
        else:
            msg = _PLAIN.get(kind, err["msg"][:1].lower() + err["msg"][1:])
        value = None if kind in ("missing", "extra_forbidden") else err.get("input")
        out.append((field, msg, value))
    return out


def plain_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """``(field, message)`` for each error of a pydantic ValidationError, in plain words:
    "`field` rule, got value." (a rule across fields: its sentence)."""
    out = []
    for field, msg, value in rule_problems(exc):
        if not field:  # a rule across fields: the message is already a sentence
            out.append(("", msg))
        elif value is None and msg in (_PLAIN["missing"], _PLAIN["extra_forbidden"]):
            out.append((field, f"`{field}` {msg}."))
        else:
            out.append((field, f"`{field}` {msg}, got {value!r}."))
    return out


def first_field(sentence: str) -> str | None:
    """The first field a rule across fields names (```act` ... `act_date```: ``act``)."""
    found = re.search(r"`([a-z_]+)`", sentence)
    return found.group(1) if found else None


Schema = TypeVar("Schema", bound=Record)


def validate(schema: type[Schema], data: Mapping[str, Any] | BaseModel, what: str) -> Schema:
    """``data`` checked against ``schema``; every problem at once in an InvalidRecordError."""
    if isinstance(data, BaseModel):
        data = data.model_dump()
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        problems = plain_problems(exc)
        lines = "\n".join(f"- {p[1]}" for p in problems)
        raise InvalidRecordError(
            f"The {what} was not saved:\n{lines}"
            if len(problems) > 1
            else f"The {what} was not saved: {problems[0][1]}",
            problems,
        ) from None


def invalid(what: str, field: str, message: str) -> InvalidRecordError:
    """An InvalidRecordError for one problem: "The {what} was not saved: {message}"."""
    return InvalidRecordError(f"The {what} was not saved: {message}", [(field, message)])


def whole_scores(given: Any, items: Sequence[str], low: int, high: int, *, refused: str,
                 noun: str) -> dict[str, int]:  # fmt: skip
    """``given`` with every one of ``items`` scored with a whole number from ``low`` to
    ``high``, and nothing else (a safety pulse's answers, a skills profile's ratings); else an
    InvalidRecordError that starts with ``refused`` and names each problem (an item left out or
    out of range; a key that is not ``noun``)."""
    problems, clean = [], {}
    for item in items:
        v = given.get(item)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            rule = f"a whole number from {low} to {high}"
            problems.append((item, f"`{item}` must be {rule}, got {v!r}."))
        else:
            clean[item] = v
    extra = sorted(set(given) - set(items), key=str)
    problems += [(str(k), f"`{k}` is not {noun}.") for k in extra]
    if problems:
        lines = "\n".join(f"- {p}" for _, p in problems)
        raise InvalidRecordError(f"{refused}:\n{lines}", problems)
    return clean


# --- the rules a data point follows because of its measure ------------------------------------------

#: A count may differ from a whole number by this much relative to its size: float noise, as
#: in 3.0000000000000004 from an Excel formula, but not 73400.5.
WHOLE_TOLERANCE = 1e-9
#: The fields of a data point that hold a number.
OBSERVATION_NUMBERS = ("numerator", "denominator", "value")

NEEDS_COUNTS_RULE = (
    "is required for a counted measure (chart p, pp, u or up, or with a denominator)"
)
NEEDS_VALUE_RULE = "is required for a measure without a count"
NO_COUNTS_RULE = "must be empty for a measure without a count: put the number in 'value'"
WHOLE_RULE = "must be a whole number, as it is a count"
NOT_ABOVE_DENOMINATOR_RULE = "must not be more than the denominator"
RATE_RULE = ("must equal numerator / denominator x multiplier, to the decimals written "
             "(or be left empty)")  # fmt: skip
MONTHLY_RULE = "must be the first day of a month for a monthly measure (write YYYY-MM)"
QUARTERLY_RULE = "must be the first day of January, April, July or October for a quarterly measure"


def per_measure(ids: np.ndarray, values: Mapping[int, Any], default: Any, dtype) -> np.ndarray:
    """``values[id]`` for each row's id (``default`` for -1 and for ids not in ``values``)."""
    ids = np.asarray(ids)
    top = int(ids.max()) if len(ids) else -1
    if top < max(len(ids), 1 << 16):  # a table indexed by id, no larger than the column
        lookup = np.full(top + 2, default, dtype)
        for key, value in values.items():
            if key <= top:
                lookup[key + 1] = value
        return lookup[ids + 1]
    codes, uniques = pd.factorize(ids)
    return np.array([values.get(u, default) for u in uniques.tolist()], dtype)[codes]


@dataclass(frozen=True)
class MeasureRows:
    """What each row's measure asks of its data point (one entry a row)."""

    ids: np.ndarray  # each row's measure id (-1: none)
    measures: Mapping[int, Any]
    known: np.ndarray  # the row names a measure
    counted: np.ndarray
    proportion: np.ndarray
    monthly: np.ndarray
    quarterly: np.ndarray

    @classmethod
    def of(cls, measure_ids: np.ndarray, measures: Mapping[int, Any]) -> MeasureRows:
        """``measures`` (id -> measure record) applied to each row's ``measure_ids`` (-1: none)."""
        ids = np.asarray(measure_ids)

        def rule(fn):
            return per_measure(ids, {i: fn(x) for i, x in measures.items()}, False, bool)

        return cls(
            ids=ids,
            measures=measures,
            known=ids >= 0,
            counted=rule(is_counted),
            proportion=rule(is_proportion),
            monthly=rule(lambda x: x.frequency == "monthly"),
            quarterly=rule(lambda x: x.frequency == "quarterly"),
        )

    def multiplier(self, rows: np.ndarray) -> np.ndarray:
        """The multiplier of each row of the mask ``rows`` (1 where none is set); worked out
        for those rows only, as a million-row file may need it for none."""
        values = {i: float(x.multiplier or 1.0) for i, x in self.measures.items()}
        return per_measure(self.ids[rows], values, 1.0, float)


def whole(a: np.ndarray) -> np.ndarray:
    """Where ``a`` is a whole number, to :data:`WHOLE_TOLERANCE` (NaN counts as whole)."""
    gap = np.round(a)
    np.subtract(a, gap, out=gap)
    np.abs(gap, out=gap)
    with np.errstate(invalid="ignore"):
        return ~(gap > WHOLE_TOLERANCE * np.maximum(1.0, np.abs(a)))


def observation_rule_breaks(
    rows: MeasureRows,
    numbers: Mapping[str, np.ndarray],
    period: np.ndarray,
    *,
    decimals: np.ndarray | None = None,
    unreadable: Mapping[str, np.ndarray] | None = None,
) -> list[tuple[np.ndarray, str, str]]:
    """Every rule a data point breaks because of its measure, as ``(rows, field, rule)``.

    ``numbers`` holds the ``numerator``, ``denominator`` and ``value`` columns given (float,
    NaN where empty); ``period`` the days as ordinals (0 where missing); ``decimals`` how many
    decimals each ``value`` was written with (None: the value is not checked against the rate);
    ``unreadable`` the cells of each column that could not be read (they are not also reported
    as missing). ``rows`` in each result is a boolean mask.
    """
    n = len(period)
    num, den, val = (numbers.get(f) for f in OBSERVATION_NUMBERS)  # None: not given
    unreadable = unreadable or {}
    none = np.zeros(n, bool)
    out: list[tuple[np.ndarray, str, str]] = []

    def add(mask, field, rule):
        if mask.any():
            out.append((mask, field, rule))

    has = {f: ~np.isnan(numbers[f]) if f in numbers else none for f in OBSERVATION_NUMBERS}
    other = rows.known & ~rows.counted
    for f in ("numerator", "denominator"):
        add(rows.counted & ~has[f] & ~unreadable.get(f, none), f, NEEDS_COUNTS_RULE)
    add(other & ~has["value"] & ~unreadable.get("value", none), "value", NEEDS_VALUE_RULE)
    for f in ("numerator", "denominator"):
        add(other & has[f], f, NO_COUNTS_RULE)
    for f, count in (("numerator", num), ("denominator", den)):
        if count is not None:
            add(rows.counted & has[f] & ~whole(count), f, WHOLE_RULE)
    with np.errstate(invalid="ignore", divide="ignore"):
        if den is not None:
            add(rows.counted & has["denominator"] & zero_denominator(den), "denominator",
                ZERO_DENOMINATOR_RULE)  # fmt: skip
        if num is not None and den is not None:
            both = rows.counted & has["numerator"] & has["denominator"]
            add(rows.proportion & both & (num > den), "numerator", NOT_ABOVE_DENOMINATOR_RULE)
            if decimals is not None and val is not None:
                check = both & has["value"] & (den > 0)
                if check.any():
                    rate = num[check] / den[check] * rows.multiplier(check)
                    tolerance = 0.5 * 10.0 ** (-decimals[check].astype(float)) + 1e-9 * np.abs(rate)
                    disagree = np.zeros(n, bool)
                    disagree[check] = np.abs(val[check] - rate) > tolerance
                    add(disagree, "value", RATE_RULE)
    given = period > 0
    if given.any() and (rows.monthly | rows.quarterly).any():
        ordinals, index = np.unique(period, return_inverse=True)
        days = [dt.date.fromordinal(int(o)) if o > 0 else dt.date(2000, 1, 1) for o in ordinals]
        first = np.array([d.day == 1 for d in days], bool)[index]
        quarter = np.array([d.day == 1 and d.month in (1, 4, 7, 10) for d in days])[index]
        add(given & rows.monthly & ~first, "period", MONTHLY_RULE)
        add(given & rows.quarterly & ~quarter, "period", QUARTERLY_RULE)
    return out


def value_decimals(value: float | None) -> int:
    """The decimals a value given as a number is written with (its shortest form)."""
    return 0 if value is None else cells.decimals_written(repr(float(value)))


def check_observations(records: list[ObservationIn], measures: Mapping[int, Any]
                       ) -> list[tuple[int, str, str]]:  # fmt: skip
    """The measure's rules for validated data points: ``(index, field, message)`` for each
    rule broken (the message is ``"`field` rule, got value."``)."""
    if not records:
        return []
    ids = np.array([r.measure_id if r.measure_id in measures else -1 for r in records])
    numbers = {
        f: np.array([np.nan if getattr(r, f) is None else getattr(r, f) for r in records], float)
        for f in OBSERVATION_NUMBERS
    }
    period = np.array([r.period.toordinal() for r in records], np.int64)
    decimals = np.array([value_decimals(r.value) for r in records], np.int64)
    out = []
    for mask, field, rule in observation_rule_breaks(MeasureRows.of(ids, measures), numbers,
                                                     period, decimals=decimals):  # fmt: skip
        for i in np.flatnonzero(mask).tolist():
            value = getattr(records[i], field)
            shown = f"{value:g}" if isinstance(value, float) else (
                value.isoformat() if isinstance(value, dt.date) else repr(value))  # fmt: skip
            got = "" if value is None else f", got {shown}"
            out.append((i, field, f"`{field}` {rule}{got}."))
    return sorted(out)


__all__ = [
    "CODE_MAX_LENGTH", "CODE_PATTERN", "CODE_RULE", "COUNTED_CHART_TYPES",
    "OBSERVATION_NUMBERS", "PROPORTION_CHART_TYPES", "WHOLE_TOLERANCE", "ZERO_DENOMINATOR_RULE",
    "AimIn", "AnnotationIn", "DriverNodeIn", "HealthCheckIn", "MeasureIn", "MeasureRows",
    "ObservationIn", "PDSAIn", "ProgrammeIn", "ProgressScoreIn", "Record", "ReflectionIn",
    "TeamIn", "check_code", "check_observations", "column_length", "first_field", "in_order", "invalid",
    "is_counted", "is_proportion", "observation_rule_breaks", "one_of", "per_measure", "plain_problems", "rule_problems",
    "validate", "value_decimals", "whole", "whole_scores", "zero_denominator",
]  # fmt: skip
