"""The kinds of import file and their columns (:data:`FORMATS`), in words for people."""

from __future__ import annotations

from dataclasses import dataclass

from qiwidgets.errors import ImportValidationError
from qiwidgets.store.schemas import CODE_MAX_LENGTH

#: The kinds of file :func:`~qiwidgets.store.imports.import_file` reads.
KINDS = ("observations", "measures", "teams", "pdsa")


@dataclass(frozen=True)
class Column:
    """One column of an import format."""

    name: str
    required: str  # "yes", "no", or a condition in words
    type: str
    description: str


def _col(name, required, type_, description) -> Column:
    return Column(name, required, type_, description)


#: The columns of each kind of import file, in the order the sample files use.
FORMATS: dict[str, tuple[Column, ...]] = {
    "observations": (
        _col("team", "yes", "text", "the team's code (or name)"),
        _col("measure", "yes", "text", "the measure's code (or name)"),
        _col("period", "yes", "date", "YYYY-MM, YYYY-MM-DD or an Excel date"),
        _col("numerator", "counted measures", "number", "zero or more; whole number"),
        _col("denominator", "counted measures", "number", "zero or more"),
        _col("value", "other measures", "number", "the value (or the rate of a counted one)"),
        _col(
            "data_quality",
            "no",
            "choice",
            "ok (the default), provisional, estimated, incomplete or suspect",
        ),
        _col("programme", "no", "text", "programme code, needed only if team codes repeat"),
        _col("note", "no", "text", "what a reader of this value should know (free text)"),
    ),
    "teams": (
        _col("programme", "yes", "code", "programme code; a new code creates the programme"),
        _col("programme_name", "no", "text", "the programme's name when it is created"),
        _col(
            "code",
            "yes",
            "code",
            f"letters, digits, _ . - (<= {CODE_MAX_LENGTH}); unique in the programme",
        ),
        _col("name", "yes", "text", "the team's name"),
        _col("organisation", "no", "text", "the organisation the team belongs to"),
    ),
    "measures": (
        _col("programme", "yes", "text", "programme code"),
        _col("team", "no", "text", "a team's code for the team's own measure; empty = shared"),
        _col("code", "yes", "code", f"letters, digits, _ . - (<= {CODE_MAX_LENGTH})"),
        _col("name", "yes", "text", "the measure's name"),
        _col("measure_type", "yes", "choice", "outcome, process or balancing"),
        _col("numerator_definition", "p/pp/u/up charts", "text", "what is counted"),
        _col("denominator_definition", "p/pp/u/up charts", "text", "what it is counted out of"),
        _col("value_definition", "no", "text", "what the value is (measures without a count)"),
        _col("unit", "no", "text", "e.g. %, per 1,000 bed days, minutes"),
        _col("multiplier", "no", "number", "more than zero, e.g. 100 or 1000"),
        _col("population", "no", "text", "who is measured"),
        _col("inclusions", "no", "text", "who or what is included"),
        _col("exclusions", "no", "text", "who or what is excluded"),
        _col("data_source", "no", "text", "where the data come from"),
        _col("collector", "no", "text", "who collects them"),
        _col("frequency", "no", "choice", "daily, weekly, fortnightly, monthly or quarterly"),
        _col("sampling", "no", "text", "how cases are sampled"),
        _col("improvement_direction", "no", "choice", "increase, decrease or neutral"),
        _col("target", "no", "number", "the target value"),
        _col("target_date", "no", "date", "when the target should be reached"),
        _col("chart_type", "no", "choice", "run, i, mr, xbar, s, t, p, pp, c, u, up, g, xmr"),
        _col(
            "rule_set",
            "no",
            "choice",
            "anhoej, ihi or mdc: the rule set of the measure's "
            "verdict on every screen (default: mdc for an xmr chart, anhoej otherwise)",
        ),
        _col("baseline_start", "no", "date", "first period of the baseline"),
        _col("baseline_end", "no", "date", "last period of the baseline (not before the start)"),
    ),
    "pdsa": (
        _col("team", "yes", "text", "the team's code (or name)"),
        _col("title", "yes", "text", "the cycle's title, unique within the team"),
        _col("change_idea", "no", "text", "a change idea of the team's driver diagram"),
        _col("measures", "no", "text", "codes of the measures it watches, separated by ;"),
        _col("plan_question", "no", "text", "the question the cycle answers"),
        _col("prediction", "no", "text", "what the team expects to happen"),
        _col("plan_date", "no", "date", "when it was planned"),
        _col("do_start", "no", "date", "when the test started (not before plan_date)"),
        _col("do_notes", "no", "text", "what happened"),
        _col("study_date", "no", "date", "when the result was studied (not before do_start)"),
        _col("study_result", "no", "text", "the result against the prediction"),
        _col("act", "no", "choice", "adopt, adapt or abandon"),
        _col("act_date", "no", "date", "when it was decided (needs act; not before study_date)"),
        _col("programme", "no", "text", "programme code, needed only if team codes repeat"),
    ),
}


def required_columns(kind: str) -> list[str]:
    return [c.name for c in FORMATS[kind] if c.required == "yes"]


def format_help(kind: str) -> str:
    """The columns of one kind of import file, as a plain-text table."""
    check_kind(kind)
    rows = [("column", "required", "type", "meaning")]
    rows += [(c.name, c.required, c.type, c.description) for c in FORMATS[kind]]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows
    )


def format_markdown(kind: str) -> str:
    """The columns of one kind of import file, as a Markdown table (for the README)."""
    check_kind(kind)
    lines = ["| column | required | type | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.required} | {c.type} | {c.description} |" for c in FORMATS[kind]]
    return "\n".join(lines)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ImportValidationError(
            f"`kind` must be one of {', '.join(repr(k) for k in KINDS)}, got {kind!r}.", []
        )


__all__ = ["FORMATS", "KINDS", "Column", "check_kind", "format_help", "format_markdown",
           "required_columns"]  # fmt: skip
