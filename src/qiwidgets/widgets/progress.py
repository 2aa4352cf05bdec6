"""Progress score (IHI 0.5–5.0) and the learning-system check (seven components, 1–5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.errors import StaleEditError
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, safe, table_html, term_html, wide
from qiwidgets.widgets.purpose import resolve_team

_STYLE = {"description_width": "120px"}
#: Score options: "3.0 — modest improvement".
SCORE_OPTIONS = (("(not scored)", None),) + tuple(
    (f"{s:.1f} — {d}", s) for s, d in glossary.PROGRESS_SCALE.items()
)
#: Rating options for a health-check component.
RATING_OPTIONS = (("(not rated)", None), ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5))


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _month(value: dt.date | None, today: dt.date | None) -> dt.date:
    day = value or today or dt.date.today()
    return day.replace(day=1)


class ProgressScoreWidget(Panel):
    """The IHI progress score month by month: the team's score and its lead's, with the
    justification; the scale's descriptions beside the choices; the history below.

    Attributes
    ----------
    team:
        The team record.
    history:
        The team's progress scores (store records, by month).
    record:
        The score of the month in the editor, if one exists (its version is the one read).
    saved:
        The score last saved from this widget.
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.today = today
        self.saved = None
        self.record = None
        self.history: list = []
        self.scale = widgets.HTML(
            term_html("progress_score")
            + table_html(["Score", "Meaning"],
                         [[f"{s:.1f}", d] for s, d in glossary.PROGRESS_SCALE.items()])
        )  # fmt: skip
        self.month = widgets.DatePicker(description="Month", style=_STYLE)
        self.team_score = widgets.Dropdown(options=SCORE_OPTIONS, value=None,
                                           description="Team's score", style=_STYLE,
                                           layout=wide())  # fmt: skip
        self.lead_score = widgets.Dropdown(options=SCORE_OPTIONS, value=None,
                                           description="Lead's score", style=_STYLE,
                                           layout=wide())  # fmt: skip
        self.justification = widgets.Textarea(description="Why", layout=wide(), style=_STYLE)
        self.save_button = widgets.Button(description="Save score", button_style="primary")
        self.history_html = widgets.HTML()
        for control in (self.team_score, self.lead_score):
            control.add_class("qi-keep")  # kept with the text typed, by the page (qiwidgets.js)
        self.month.observe(self._on_month, names="value")
        self.save_button.on_click(self._on_save)
        self.children = [
            self.scale, self.month, self.team_score, self.lead_score, self.justification,
            self.changed, self.save_button, self.status, widgets.HTML("<h3>History</h3>"), self.history_html,
        ]  # fmt: skip
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any) -> None:
        """Show ``team``'s scores; the editor opens on the current month."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        self._read()
        month = _month(None, self.today)
        if self.month.value == month:
            self._fill(month)
        else:
            self.month.value = month  # fills through the observer

    def _read(self) -> None:
        self.history = repo.list_progress_scores(self.db, self.team.id)
        rows = [
            [f"{r.month:%b %Y}", glossary.progress_description(r.team_score),
             glossary.progress_description(r.lead_score), r.justification or ""]
            for r in reversed(self.history)
        ]  # fmt: skip
        self.history_html.value = table_html(
            ["Month", "Team", "Lead", "Justification"], rows, empty="No scores yet."
        )

    def _fill(self, month: dt.date) -> None:
        self.record = next((r for r in self.history if r.month == month), None)
        r = self.record
        self.team_score.value = r.team_score if r else None
        self.lead_score.value = r.lead_score if r else None
        self.justification.value = (r.justification if r else "") or ""
        self.show_changed(r)

    @safe("choosing the month")
    def _on_month(self, change: dict) -> None:
        day = wb.clean_date(change["new"], "month")
        if day is None:
            return
        self._fill(day.replace(day=1))

    @safe("saving the progress score")
    def _on_save(self, _button: Any = None) -> None:
        day = wb.clean_date(self.month.value, "month", required=True)
        scores = [v for _, v in SCORE_OPTIONS]
        data = {
            "team_id": self.team.id,
            "month": day.replace(day=1),
            "team_score": wb.clean_choice(self.team_score.value, "team's score", scores),
            "lead_score": wb.clean_choice(self.lead_score.value, "lead's score", scores),
            "justification": wb.clean_text(self.justification.value, "why"),
        }
        if data["team_score"] is None and data["lead_score"] is None:
            raise wb.WorkbookInputError("Pick the team's score or the lead's score (or both).")
        r = self.record
        if r is None:
            saved = repo.save_progress_score(self.db, data)
        else:
            saved = repo.save_progress_score(self.db, data, id=r.id, version=r.version)
        self.saved = saved

        def refresh() -> None:
            self._read()
            self._fill(data["month"])

        self.confirm_saved(f"Saved the progress score for {data['month']:%B %Y}.", refresh)


class HealthCheckWidget(Panel):
    """The learning-system check: seven components rated 1–5 with comments, over time.

    Parameters
    ----------
    team:
        The team, or None for a programme-level check.
    programme:
        The programme (default: the team's, or the only one in the database).

    Attributes
    ----------
    ratings, comments:
        Dicts component -> ``Dropdown`` (1–5) and -> ``Text``.
    history:
        The checks as a table: one row per period, one column per component.
    saved:
        The records saved by the last save.
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.today = today
        self.saved: list = []
        self.records: dict[str, Any] = {}
        self.period = widgets.DatePicker(description="Date of check", style=_STYLE)
        self.ratings = {
            c: widgets.Dropdown(
                options=RATING_OPTIONS, value=None, description="Rating", style=_STYLE
            )
            for c in glossary.HEALTH_COMPONENTS
        }
        for control in self.ratings.values():
            control.add_class("qi-keep")  # kept with the comments typed, by the page
        self.comments = {
            c: widgets.Text(description="Comment", layout=wide(), style=_STYLE)
            for c in glossary.HEALTH_COMPONENTS
        }
        self.save_button = widgets.Button(description="Save check", button_style="primary")
        self.history_html = widgets.HTML()
        self.heading = widgets.HTML()
        self.period.observe(self._on_period, names="value")
        self.save_button.on_click(self._on_save)
        rows = []
        for c in glossary.HEALTH_COMPONENTS:
            rows += [widgets.HTML(term_html(c)), widgets.HBox([self.ratings[c], self.comments[c]])]
        self.children = [
            self.heading, widgets.HTML(term_html("learning_system_check")), self.period, *rows,
            self.save_button, self.status, widgets.HTML("<h3>Over time</h3>"), self.history_html,
        ]  # fmt: skip
        if team is not None:
            self.load(resolve_team(db, team, programme))
        else:
            self.load(None, programme)

    def load(self, team: Any, programme: Any = None) -> None:
        """Show ``team``'s checks (None: the programme's)."""
        if team is not None and not hasattr(team, "programme_id"):
            team = repo.get_team(self.db, team)
        self.team = team
        self.programme = repo.get_programme(
            self.db, team.programme_id if team is not None else programme
        )
        who = esc(team.name) if team is not None else f"the programme {esc(self.programme.name)}"
        self.heading.value = f"<p>Learning-system check for {who}</p>"
        self._read()
        day = self.today or dt.date.today()
        if self.period.value == day:
            self._fill(day)
        else:
            self.period.value = day

    def _read(self) -> None:
        level = "team" if self.team is not None else "programme"
        self.frame = repo.list_health_checks(
            self.db, self.programme.id, team=self.team.id if self.team else None, level=level
        )
        self.history = wb.health_history(self.frame)
        rows = []
        for _, row in self.history.iterrows():
            rows.append([f"{row['period']:%d %b %Y}"] + [
                "" if row[c] != row[c] or row[c] is None else f"{int(row[c])}"
                for c in glossary.HEALTH_COMPONENTS
            ])  # fmt: skip
        self.history_html.value = table_html(
            ["Date", *(glossary.label(c) for c in glossary.HEALTH_COMPONENTS)], rows,
            empty="No checks yet.",
        )  # fmt: skip

    def _fill(self, day: dt.date) -> None:
        self.records = {}
        if len(self.frame):
            same = self.frame[self.frame["period"].dt.date == day]
            for _, row in same.iterrows():
                self.records[row["component"]] = row
        for c in glossary.HEALTH_COMPONENTS:
            r = self.records.get(c)
            self.ratings[c].value = int(r["rating"]) if r is not None else None
            comment = r["comment"] if r is not None else None
            self.comments[c].value = comment if isinstance(comment, str) else ""

    @safe("choosing the date")
    def _on_period(self, change: dict) -> None:
        day = wb.clean_date(change["new"], "date of check")
        if day is not None:
            self._fill(day)

    @safe("saving the learning-system check")
    def _on_save(self, _button: Any = None) -> None:
        day = wb.clean_date(self.period.value, "date of check", required=True)
        allowed = [v for _, v in RATING_OPTIONS]
        todo = []
        for c in glossary.HEALTH_COMPONENTS:
            rating = wb.clean_choice(self.ratings[c].value, glossary.label(c), allowed)
            comment = wb.clean_text(self.comments[c].value, f"comment on {glossary.label(c)}")
            if rating is None:
                if comment:
                    raise wb.WorkbookInputError(
                        f"Rate {glossary.label(c)} (1 to 5) to keep its comment."
                    )
                continue
            todo.append((c, rating, comment))
        if not todo:
            raise wb.WorkbookInputError("Rate at least one component (1 to 5).")
        saved = []
        for c, rating, comment in todo:
            data = {
                "programme_id": self.programme.id,
                "team_id": self.team.id if self.team else None,
                "period": day,
                "component": c,
                "rating": rating,
                "comment": comment,
            }
            r = self.records.get(c)
            try:
                if r is None:
                    saved.append(repo.save_health_check(self.db, data))
                elif int(r["rating"]) != rating or _text_or_none(r["comment"]) != comment:
                    saved.append(repo.save_health_check(
                        self.db, data, id=int(r["id"]), version=int(r["version"])))  # fmt: skip
            except StaleEditError as exc:
                if saved:
                    raise StaleEditError(
                        f"{exc} ({len(saved)} other rating(s) of this check were saved.)"
                    ) from exc
                raise
        self.saved = saved

        def refresh() -> None:
            self._read()
            self._fill(day)

        self.confirm_saved(f"Saved {len(saved)} rating(s) for {day:%d %B %Y}.", refresh)


__all__ = ["RATING_OPTIONS", "SCORE_OPTIONS", "HealthCheckWidget", "ProgressScoreWidget"]
