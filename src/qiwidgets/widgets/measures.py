"""Measures: the family of measures with operational definitions, warnings and chart suggestions."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, help_line, safe, table_html, term_html, wide
from qiwidgets.widgets.purpose import resolve_team

_STYLE = {"description_width": "150px"}

#: Text fields of a measure's operational definition shown in the editor: (field, label).
TEXT_FIELDS = (
    ("numerator_definition", "Numerator"),
    ("denominator_definition", "Denominator"),
    ("value_definition", "Value (measurements)"),
    ("unit", "Unit"),
    ("population", "Population"),
    ("inclusions", "Inclusions"),
    ("exclusions", "Exclusions"),
    ("data_source", "Data source"),
    ("collector", "Who collects it"),
    ("sampling", "Sampling"),
)


class MeasureFamily(Panel):
    """A team's family of measures: definitions, warnings, and an editor for the team's own.

    Shared (programme) measures are shown but not edited here: their definition is the same for
    every team.

    Attributes
    ----------
    team:
        The team record.
    measures:
        The family (store records): the programme's shared measures plus the team's own.
    warnings:
        Plain-language warnings about the family (no balancing measure, no outcome measure
        linked to the aim, ...).
    suggestion:
        The chart type suggested for the data kind picked in the editor (``"p"``, ``"u"`` ...).
    saved:
        The measure last saved from this widget.
    """

    NEW = "__new__"

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self.saved = None
        self.suggestion: str | None = None
        self.warnings: list[str] = []
        self.measures: list = []
        self._editing = None  # the record being edited (None: a new measure)
        self.table = widgets.HTML()
        self.warnings_html = widgets.HTML()
        self.pick = widgets.Dropdown(description="Edit", layout=wide(), style=_STYLE)
        self.code = widgets.Text(description="Code", style=_STYLE)
        self.name = widgets.Text(description="Name", layout=wide(), style=_STYLE)
        self.measure_type = widgets.Dropdown(
            description="Kind of measure", style=_STYLE,
            options=[(glossary.label(t), t) for t in m.MEASURE_TYPES], value="process",
        )  # fmt: skip
        self.type_help = widgets.HTML()
        self.data_kind = widgets.Dropdown(
            description="Kind of data", style=_STYLE, layout=wide(),
            options=[("(choose)", None)] + [(v, k) for k, v in wb.DATA_KIND_LABELS.items()],
        )  # fmt: skip
        self.suggestion_html = widgets.HTML()
        self.chart_type = widgets.Dropdown(
            description="Chart", style=_STYLE,
            options=[("(suggested)", None)] + [(glossary.label(c), c) for c in m.CHART_TYPES],
        )  # fmt: skip
        self.rule_set = widgets.Dropdown(
            description="Rule set", style=_STYLE,
            options=[("(the chart's default)", None)]
            + [(glossary.label(r), r) for r in m.RULE_SETS],
        )  # fmt: skip
        self.texts = {
            f: widgets.Text(description=label, layout=wide(), style=_STYLE)
            for f, label in TEXT_FIELDS
        }
        self.multiplier = widgets.FloatText(description="Multiplier", value=1.0, style=_STYLE)
        self.direction = widgets.Dropdown(
            description="Better is", style=_STYLE,
            options=[("(not set)", None), ("higher", "increase"), ("lower", "decrease"),
                     ("neither", "neutral")],
        )  # fmt: skip
        self.frequency = widgets.Dropdown(
            description="How often", style=_STYLE,
            options=[("(not set)", None)] + [(f, f) for f in m.FREQUENCIES],
        )  # fmt: skip
        self.target = widgets.Text(description="Target", style=_STYLE)
        self.save_button = widgets.Button(description="Save measure", button_style="primary")
        self.pick.observe(self._on_pick, names="value")
        self.measure_type.observe(self._on_type, names="value")
        self.data_kind.observe(self._on_data_kind, names="value")
        self.save_button.on_click(self._on_save)
        self.children = [
            widgets.HTML(term_html("family_of_measures")),
            self.warnings_html,
            self.table,
            widgets.HTML("<h3>Define a measure</h3>" + term_html("operational_definition")),
            self.pick,
            self.code,
            self.name,
            self.measure_type,
            self.type_help,
            self.data_kind,
            self.suggestion_html,
            self.chart_type,
            self.rule_set,
            help_line("rule_set"),
            *self.texts.values(),
            self.multiplier,
            self.direction,
            help_line("improvement_direction"),
            self.frequency,
            self.target,
            self.save_button,
            self.status,
        ]
        self.load(resolve_team(db, team, programme))

    # --- loading ----------------------------------------------------------------------------

    def load(self, team: Any) -> None:
        """Show ``team``'s family of measures."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        self.measures = repo.list_measures(self.db, self.team.id)
        self.aim = repo.get_aim(self.db, self.team.id)
        self.warnings = wb.family_warnings(self.measures, self.aim)
        for measure in self.measures:
            self.warnings.extend(wb.definition_gaps(measure))
        self._render()
        own = [x for x in self.measures if not x.is_shared]
        self.pick.options = [("(a new measure for this team)", self.NEW)] + [
            (f"{x.name} ({x.code})", x.id) for x in own
        ]
        self.pick.value = self.NEW
        self._fill(None)

    def _render(self) -> None:
        if self.warnings:
            items = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
            self.warnings_html.value = (
                f'<div class="qi-warnings" style="color:#8a4b00"><strong>To look at</strong>'
                f"<ul>{items}</ul></div>"
            )
        else:
            self.warnings_html.value = (
                '<div style="color:#00703c">✓ The family has outcome, process and balancing '
                "measures, and the aim is linked to an outcome measure.</div>"
            )
        linked = {x.id for x in (self.aim.outcome_measures if self.aim else [])}
        rows = []
        for x in self.measures:
            kind = wb.infer_data_kind(x)
            suggested = wb.suggest_chart(kind) if kind else "run"
            definition = x.numerator_definition or x.value_definition or ""
            if x.denominator_definition:
                definition += f" / {x.denominator_definition}"
            rows.append([
                x.name + (" (linked to the aim)" if x.id in linked else ""),
                glossary.label(x.measure_type),
                definition,
                " ".join(p for p in (x.unit, f"× {x.multiplier:g}" if x.multiplier else None) if p),
                {"increase": "higher", "decrease": "lower", "neutral": "neither"}.get(
                    x.improvement_direction or "", "not set"),
                "" if x.target is None else f"{x.target:g}",
                glossary.label(x.chart_type) if x.chart_type else
                f"{glossary.label(suggested)} (suggested)",
                "programme (shared)" if x.is_shared else "this team",
            ])  # fmt: skip
        self.table.value = table_html(
            ["Measure", "Kind", "Definition", "Unit", "Better is", "Target", "Chart", "Owner"],
            rows,
            empty="No measures yet.",
        )

    def _fill(self, measure: Any) -> None:
        self._editing = measure
        self.code.value = measure.code if measure else ""
        self.code.disabled = measure is not None
        self.name.value = measure.name if measure else ""
        self.measure_type.value = measure.measure_type if measure else "process"
        for f, w in self.texts.items():
            w.value = (getattr(measure, f) if measure else None) or ""
        self.multiplier.value = float(measure.multiplier) if measure and measure.multiplier else 1.0
        self.direction.value = measure.improvement_direction if measure else None
        self.frequency.value = measure.frequency if measure else None
        self.target.value = "" if not measure or measure.target is None else f"{measure.target:g}"
        self.data_kind.value = wb.infer_data_kind(measure) if measure else None
        self.chart_type.value = measure.chart_type if measure else None
        self.rule_set.value = getattr(measure, "rule_set", None) if measure else None
        self._type_help()
        self._suggest()

    def _type_help(self) -> None:
        self.type_help.value = (
            f'<div style="font-size:90%;color:#425563">'
            f"{esc(glossary.explain(self.measure_type.value))}</div>"
        )

    def _suggest(self) -> None:
        kind = self.data_kind.value
        if kind is None:
            self.suggestion = None
            self.suggestion_html.value = ""
            return
        self.suggestion = wb.suggest_chart(kind)
        self.suggestion_html.value = (
            f'<div style="font-size:90%">Suggested chart: <strong>'
            f"{esc(glossary.label(self.suggestion))}</strong> — "
            f"{esc(glossary.explain(self.suggestion))}</div>"
        )

    # --- callbacks ----------------------------------------------------------------------------

    @safe("choosing a measure")
    def _on_pick(self, change: dict) -> None:
        value = change["new"]
        if value == self.NEW:
            self._fill(None)
            return
        measure = next((x for x in self.measures if x.id == value and not x.is_shared), None)
        if measure is None:
            raise wb.WorkbookInputError("That measure is not one of this team's own measures.")
        self._fill(measure)

    @safe("choosing the kind of measure")
    def _on_type(self, change: dict) -> None:
        wb.clean_choice(change["new"], "kind of measure", m.MEASURE_TYPES)
        self._type_help()

    @safe("suggesting a chart")
    def _on_data_kind(self, change: dict) -> None:
        wb.clean_choice(change["new"], "kind of data", [None, *wb.DATA_KINDS])
        self._suggest()
        if self.suggestion and self.chart_type.value is None:
            self.chart_type.value = self.suggestion

    @safe("saving the measure")
    def _on_save(self, _button: Any = None) -> None:
        data: dict[str, Any] = {
            "programme_id": self.team.programme_id,
            "team_id": self.team.id,
            "code": wb.clean_text(self.code.value, "code", required=True, max_length=64),
            "name": wb.clean_text(self.name.value, "name", required=True, max_length=300),
            "measure_type": wb.clean_choice(
                self.measure_type.value, "kind of measure", m.MEASURE_TYPES
            ),
            "improvement_direction": wb.clean_choice(
                self.direction.value, "better is", [None, *m.IMPROVEMENT_DIRECTIONS]
            ),
            "frequency": wb.clean_choice(self.frequency.value, "how often", [None, *m.FREQUENCIES]),
            "chart_type": wb.clean_choice(
                self.chart_type.value or self.suggestion, "chart", [None, *m.CHART_TYPES]
            ),
            "multiplier": wb.clean_number(self.multiplier.value, "multiplier", low=1e-9, high=1e9),
            "rule_set": wb.clean_choice(self.rule_set.value, "rule set", [None, *m.RULE_SETS]),
        }
        for f, w in self.texts.items():
            data[f] = wb.clean_text(w.value, f.replace("_", " "))
        target = wb.clean_text(self.target.value, "target", max_length=40)
        if target is None:
            data["target"] = None
        else:
            try:
                data["target"] = wb.clean_number(float(target.replace(",", "")), "target")
            except ValueError:
                raise wb.WorkbookInputError(f"`target` must be a number, got {target!r}.") from None
        if self._editing is None:
            saved = repo.save_measure(self.db, data)
        else:
            data.pop("code")
            saved = repo.save_measure(
                self.db, data, id=self._editing.id, version=self._editing.version
            )
        self.saved = saved
        self.load(self.team)
        self.say(f"Saved the measure {saved.name}.", "ok")


__all__ = ["MeasureFamily"]
