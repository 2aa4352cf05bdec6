"""Data entry where the team works: its family of measures by month, typed in or uploaded.

:class:`DataEntryGrid` shows each measure of a team's family with its recent months (the last
:data:`DEFAULT_MONTHS` up to the current month; "Earlier months" goes further back). A counted
measure (a rate or a proportion) takes a numerator and a denominator, any other measure a value;
each month also takes a data-quality flag and a note. What is typed is read and checked by the
store's own rules, the same as an import file's (:mod:`qiwidgets.store.schemas`): the widget
reads nothing itself. "Save" stores every changed month at once, or nothing, through the store's
one observation write path (with its edit history), against the versions shown: a colleague's
save in between is never overwritten, and what was typed stays on the page.

An upload box takes a CSV or Excel file of the team's data through the importer
(:func:`qiwidgets.store.imports.import_file`), all or nothing, and lists each problem (file,
row, column, value, what is wrong) on the page.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from qiwidgets import workbook as wb
from qiwidgets.errors import ImportValidationError, InvalidDataPointsError, StaleDataPointsError
from qiwidgets.store import imports, repo
from qiwidgets.store import models as m
from qiwidgets.widgets._base import Panel, esc, safe, status_html, table_html
from qiwidgets.widgets.purpose import resolve_team

#: Months shown at once (and how far "Earlier months" goes back): the last half-year.
DEFAULT_MONTHS = 6
#: Frequencies whose data go in by month (a quarterly measure takes its quarter's first month).
MONTHLY_FREQUENCIES = (None, "monthly", "quarterly")
#: The data-quality flags as the grid offers them.
QUALITY_OPTIONS = tuple(("OK" if flag == "ok" else flag.capitalize(), flag)
                        for flag in m.DATA_QUALITY_FLAGS)  # fmt: skip
#: Each box's visible label (the grid's column, said beside every box for screen readers too).
LABELS = {"numerator": "Numerator", "denominator": "Denominator", "value": "Value",
          "data_quality": "Quality", "note": "Note"}  # fmt: skip
#: File types the upload box takes (the importer reads CSV text and Excel .xlsx workbooks).
UPLOAD_TYPES = (".csv", ".txt", ".xlsx")
#: The source kept in the edit history for values typed into the grid.
GRID_SOURCE = "data entry"
#: What the grid says when nothing was changed.
NOTHING_CHANGED = "Nothing to save: no value was changed."


def month_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month ``n`` months after ``month`` (before, for negative ``n``)."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class Cell:
    """One measure's month in the grid: its boxes, and the data point shown when loaded."""

    measure: Any
    period: dt.date
    numerator: widgets.Text | None
    denominator: widgets.Text | None
    value: widgets.Text | None
    quality: widgets.Dropdown
    note: widgets.Text
    problem: widgets.HTML
    shown: Any = None  # the stored data point (None: there was none)

    @property
    def counted(self) -> bool:
        return self.numerator is not None

    @property
    def boxes(self) -> dict[str, widgets.Widget]:
        """The boxes by field."""
        out: dict[str, widgets.Widget] = {}
        if self.counted:
            out["numerator"], out["denominator"] = self.numerator, self.denominator
        else:
            out["value"] = self.value
        out["data_quality"], out["note"] = self.quality, self.note
        return out

    def typed(self) -> dict[str, Any]:
        """What the boxes hold now (text as typed; a box left empty is None)."""
        out: dict[str, Any] = {}
        for field, box in self.boxes.items():
            text = box.value
            out[field] = text if not isinstance(text, str) or text.strip() else None
        return out

    def stored(self) -> dict[str, Any]:
        """What the boxes held when the grid was loaded, in the same form."""
        point = self.shown
        out: dict[str, Any] = {}
        for field in self.boxes:
            v = getattr(point, field, None) if point is not None else None
            if field == "data_quality":
                v = v or "ok"
            out[field] = _shown(v) if field in ("numerator", "denominator", "value") else v
        return out

    def changed(self) -> bool:
        """Something was typed that differs from what was loaded."""
        typed, stored = self.typed(), self.stored()
        if self.shown is None and all(typed[f] is None for f in typed if f != "data_quality"):
            return False  # an empty month stays empty (its flag alone is not a data point)
        return typed != stored

    def point(self) -> dict[str, Any]:
        """The data point to save, as typed (the store reads and checks it)."""
        typed = self.typed()
        point = {"measure_id": self.measure.id, "period": self.period,
                 "numerator": None, "denominator": None, "value": None}  # fmt: skip
        point.update(typed)
        return point

    def fill(self, observation: Any) -> None:
        """Show ``observation`` (None: an empty month) and forget any problem shown."""
        self.shown = observation
        for field, text in self.stored().items():
            box = self.boxes[field]
            box.value = text if text is not None else ("ok" if field == "data_quality" else "")
        self.say("")

    def say(self, text: str, kind: str = "problem") -> None:
        """Show a message beside this month (empty: none)."""
        if not text:
            self.problem.value = ""
            return
        self.problem.value = (
            f'<div class="qi-cell-message qi-cell-{esc(kind)}" role="alert" '
            f'data-qi-measure="{esc(self.measure.code)}" data-qi-month="{self.period:%Y-%m}">'
            f"{status_html(text, kind)}</div>"
        )


def _shown(v: Any) -> str | None:
    """A stored number as the box shows it (``12`` rather than ``12.0``; every digit kept)."""
    if v is None:
        return None
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


class DataEntryGrid(Panel):
    """Enter a team's monthly data: its family of measures by month, plus an upload box.

    Parameters
    ----------
    db:
        The store (an :class:`~qiwidgets.store.people.ActingDB` saves as its person; a viewer is
        refused by the store).
    team:
        The team (code, id or record); default: the first team.
    programme:
        The programme, when several share the store.
    today:
        The day whose month is the last one shown (default: today).
    months:
        How many months are shown at once.
    on_saved:
        Called with the store's summary after each save or upload (a dashboard redraws its
        charts).

    Attributes
    ----------
    team:
        The team shown.
    cells:
        One :class:`Cell` per measure and month shown.
    last_month, months:
        The last month shown and how many.
    result:
        What the last save or upload did (the store's summary), or None.
    problems:
        The problems of the last refused save (``(cell, field, message)``) or upload
        (:class:`~qiwidgets.store.imports.Problem`).
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None, months: int = DEFAULT_MONTHS,
                 on_saved: Callable[[Any], Any] | None = None):  # fmt: skip
        super().__init__(db)
        self.today = today
        self.months = months
        self.on_saved = on_saved
        self.result: Any = None
        self.problems: list = []
        self.cells: list[Cell] = []
        self.last_month = month_start(today or dt.date.today())
        self.window = widgets.HTML()
        self.earlier = widgets.Button(description="◀ Earlier months", tooltip="Show the "
                                      "months before these")  # fmt: skip
        self.later = widgets.Button(description="Later months ▶",
                                    tooltip="Show the months after these")  # fmt: skip
        self.reload = widgets.Button(description="Show the saved values",
                                     layout=widgets.Layout(width="auto"),
                                     tooltip="Reload what the store holds (what you typed "
                                     "and did not save is lost)")  # fmt: skip
        self.grid = widgets.VBox()
        self.grid.add_class("qi-data-grid")
        self.save_button = widgets.Button(description="Save these months",
                                          button_style="primary")  # fmt: skip
        self.save_button.add_class("qi-data-save")
        self.upload = widgets.FileUpload(accept=",".join(UPLOAD_TYPES), multiple=False,
                                         description="Upload a file")  # fmt: skip
        self.upload.add_class("qi-data-upload")
        self.upload_report = widgets.HTML()
        self.upload_report.add_class("qi-upload-report")
        self.earlier.on_click(self._on_earlier)
        self.later.on_click(self._on_later)
        self.reload.on_click(self._on_reload)
        self.save_button.on_click(self._on_save)
        self.upload.observe(self._on_upload, names="value")
        self.children = [
            widgets.HTML(
                "<p>Type each month's numbers for each measure, then <strong>Save these months"
                "</strong>. "
                "A rate or a proportion takes its numerator (what was counted) and its "
                "denominator (out of how many); any other measure takes its value. "
                "The data-quality flag says how far a value can be trusted (provisional, "
                "estimated, incomplete, suspect); the note says what a reader of the value "
                "should know. The values are checked by the same rules as an import, "
                "and saved together or not at all.</p>"
            ),
            widgets.HBox([self.earlier, self.window, self.later, self.reload]),
            self.grid,
            self.save_button,
            self.status,
            widgets.HTML("<h3>Or upload a file</h3><p>A CSV or Excel file with the columns "
                         "<code>team, measure, period, numerator, denominator, value, "
                         "data_quality, note</code> (as <code>qiwidgets import "
                         "observations</code> takes). Nothing is saved unless every row is "
                         "right; the problems are listed below.</p>"),
            self.upload,
            self.upload_report,
        ]  # fmt: skip
        self.add_class("qi-data-entry")
        self.load(resolve_team(db, team, programme))

    # --- showing -------------------------------------------------------------------------------

    @property
    def first_month(self) -> dt.date:
        return add_months(self.last_month, -(self.months - 1))

    def periods(self) -> list[dt.date]:
        """The months shown, oldest first."""
        return [add_months(self.first_month, i) for i in range(self.months)]

    def load(self, team: Any) -> None:
        """Show ``team``'s measures and months, with what the store holds for them."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        measures = repo.list_measures(self.db, self.team.id)
        stored = repo.list_observations(self.db, self.team.id, start=self.first_month,
                                        end=add_months(self.last_month, 1) - dt.timedelta(days=1))  # fmt: skip
        by_key = {(o.measure_id, o.period): o for o in stored}
        self.cells = []
        blocks: list[widgets.Widget] = []
        for measure in measures:
            blocks.append(self._measure_block(measure, by_key))
        if not measures:
            blocks = [widgets.HTML(
                "<p><em>This team has no measures yet: its family of measures is written "
                "under \"Measures\" in the workbook (or imported by the programme's analyst). "
                "Then its data can be entered here.</em></p>")]  # fmt: skip
        self.grid.children = blocks
        last = self.last_month
        self.window.value = (f'<span class="qi-data-window" style="padding:0 12px">'
                             f"{self.first_month:%B %Y} to {last:%B %Y}</span>")  # fmt: skip
        self.later.disabled = last >= month_start(self.today or dt.date.today())
        self.save_button.disabled = not self.cells

    def _measure_block(self, measure: Any, by_key: dict) -> widgets.Widget:
        counted = repo.is_counted(measure)
        if counted:
            what = (f"Numerator: {measure.numerator_definition or 'what was counted'}. "
                    f"Denominator: {measure.denominator_definition or 'out of how many'}.")  # fmt: skip
        else:
            what = f"Value: {measure.value_definition or measure.unit or 'the measurement'}."
        head = widgets.HTML(
            f'<h3 class="qi-data-measure" data-qi-measure="{esc(measure.code)}" '
            f'style="margin:14px 0 2px 0;font-size:110%">{esc(measure.name)}</h3>'
            f'<p style="margin:0 0 4px 0;color:#425563">{esc(what)}</p>'
        )
        if measure.frequency not in MONTHLY_FREQUENCIES:
            note = widgets.HTML(
                f"<p><em>This measure is collected {esc(measure.frequency)}: upload its data as "
                "a file (below), one row per period.</em></p>")  # fmt: skip
            return widgets.VBox([head, note])
        rows: list[widgets.Widget] = [head]
        for period in self.periods():
            cell = self._cell(measure, period, counted)
            cell.fill(by_key.get((measure.id, period)))
            self.cells.append(cell)
            month = widgets.HTML(f"{period:%b %Y}", layout=_col("Month"))
            boxes = [cell.numerator, cell.denominator] if counted else [cell.value]
            line = widgets.HBox([month, *boxes, cell.quality, cell.note],
                                layout=widgets.Layout(flex_flow="row wrap"))  # fmt: skip
            line.add_class("qi-data-row")
            rows += [line, cell.problem]
        return widgets.VBox(rows)

    def _cell(self, measure: Any, period: dt.date, counted: bool) -> Cell:
        name = f"{measure.name}, {period:%B %Y}"

        def box(field: str) -> widgets.Text:
            text = widgets.Text(description=LABELS[field], layout=_col(field),
                                style={"description_width": "initial"})  # fmt: skip
            text.add_class(f"qi-data-{field}")
            text.add_class(f"qi-data-{measure.code}-{period:%Y-%m}")
            text.tooltip = f"{name}: {field.replace('_', ' ')}"
            return text

        quality = widgets.Dropdown(options=QUALITY_OPTIONS, value="ok",
                                   description=LABELS["data_quality"], layout=_col("data_quality"),
                                   style={"description_width": "initial"})  # fmt: skip
        quality.add_class("qi-data-quality")
        quality.tooltip = f"{name}: data quality"
        note = box("note")
        return Cell(
            measure=measure,
            period=period,
            numerator=box("numerator") if counted else None,
            denominator=box("denominator") if counted else None,
            value=None if counted else box("value"),
            quality=quality,
            note=note,
            problem=widgets.HTML(),
        )

    def cell(self, measure_code: str, month: str) -> Cell:
        """The cell of a measure (by code) and a month (``YYYY-MM``)."""
        for c in self.cells:
            if c.measure.code == measure_code and f"{c.period:%Y-%m}" == month:
                return c
        raise KeyError(f"{measure_code} {month} is not shown")

    # --- moving -----------------------------------------------------------------------------------

    @safe("showing earlier months")
    def _on_earlier(self, _button: Any = None) -> None:
        self.last_month = add_months(self.last_month, -self.months)
        self.load(self.team)
        self.say(f"Showing {self.first_month:%B %Y} to {self.last_month:%B %Y}.", "info")

    @safe("showing later months")
    def _on_later(self, _button: Any = None) -> None:
        latest = month_start(self.today or dt.date.today())
        self.last_month = min(add_months(self.last_month, self.months), latest)
        self.load(self.team)
        self.say(f"Showing {self.first_month:%B %Y} to {self.last_month:%B %Y}.", "info")

    @safe("reloading the saved values")
    def _on_reload(self, _button: Any = None) -> None:
        self.load(self.team)
        self.say("Showing the values the store holds now.", "info")

    # --- saving -----------------------------------------------------------------------------------

    @safe("saving the data")
    def _on_save(self, _button: Any = None) -> None:
        for c in self.cells:
            c.say("")
        self.problems = []
        changed = [c for c in self.cells if c.changed()]
        if not changed:
            self.say(NOTHING_CHANGED, "info")
            return
        try:
            summary = repo.save_observations(
                self.db, self.team.id, [c.point() for c in changed],
                seen_versions=[c.shown.version if c.shown is not None else None
                               for c in changed],
                source=GRID_SOURCE,
            )  # fmt: skip
        except InvalidDataPointsError as exc:
            for index, field, message in exc.cells:
                cell = changed[index]
                self.problems.append((cell, field, message))
                cell.say(f"{cell.measure.name}, {cell.period:%B %Y}: {message}")
            n = len({id(c) for c, _, _ in self.problems})
            self.say(f"Nothing was saved: {n} month{'s' if n > 1 else ''} need"
                     f"{'' if n > 1 else 's'} attention (the message is beside "
                     f"{'each' if n > 1 else 'it'}).", "problem")  # fmt: skip
            return
        except StaleDataPointsError as exc:
            stale = {(mid, period) for _, mid, period in exc.points}
            for c in changed:
                if (c.measure.id, c.period) in stale:
                    c.say(f"{c.measure.name}, {c.period:%B %Y}: someone else saved this month "
                          "since you opened the page. Your values are still here and were not "
                          "saved.", "conflict")  # fmt: skip
            said = str(exc).split(" Nothing was saved")[0]
            self.say(f"{said} Nothing was saved, so nothing of theirs was overwritten. What you "
                     "typed is still on the page: press \"Show the saved values\" to see "
                     "theirs, then type your change again.", "conflict")  # fmt: skip
            return
        self.result = summary
        months = sorted({c.period for c in changed})
        said = ", ".join(f"{p:%B %Y}" for p in months)
        n = len(changed)
        self.confirm_saved(f"Saved {n} value{'s' if n > 1 else ''} ({said}).", self._after_save)

    def _after_save(self) -> None:
        self.load(self.team)
        if self.on_saved is not None:
            self.on_saved(self.result)

    # --- uploading --------------------------------------------------------------------------------

    @safe("reading the uploaded file")
    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        upload = files[0]
        self.upload_report.value = ""
        self.problems = []
        try:
            result = self._import(upload)
        except ImportValidationError as exc:
            self.problems = list(exc.problems)
            rows = [(p.file, p.row if p.row is not None else "", p.column or "",
                     p.value if p.value is not None else "", p.rule) for p in exc.problems]  # fmt: skip
            self.upload_report.value = table_html(
                ("File", "Row", "Column", "Value", "What is wrong"), rows)  # fmt: skip
            self.say(str(exc), "problem")
            return
        finally:
            self.upload.value = ()  # the same file can be chosen again after a fix
        self.result = result
        self.upload_report.value = ""
        self.confirm_saved(result.summary(), self._after_save)

    def _import(self, upload: Any) -> Any:
        name = Path(str(_get(upload, "name") or "upload.csv")).name[:200]
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_TYPES:
            raise wb.WorkbookInputError(
                f"The upload box takes a CSV or an Excel .xlsx file, got {name!r}.")  # fmt: skip
        content = bytes(_get(upload, "content") or b"")
        with tempfile.TemporaryDirectory(prefix="qiwidgets-upload-") as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(content)
            return imports.import_file("observations", path, self.db, file=name,
                                       source=f"upload: {name}", team=self.team.id)  # fmt: skip


def _get(upload: Any, key: str) -> Any:
    return upload.get(key) if isinstance(upload, dict) else getattr(upload, key, None)


def _col(name: str) -> widgets.Layout:
    """A box's width in the grid, its label included (a new layout each time: see
    ``_base.wide``)."""
    width = {"Month": "80px", "note": "300px", "data_quality": "190px",
             "denominator": "200px"}.get(name, "170px")  # fmt: skip
    return widgets.Layout(width=width)


__all__ = ["DEFAULT_MONTHS", "GRID_SOURCE", "NOTHING_CHANGED", "QUALITY_OPTIONS", "Cell",
           "DataEntryGrid", "add_months", "month_start"]  # fmt: skip
