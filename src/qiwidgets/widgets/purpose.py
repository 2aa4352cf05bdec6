"""Purpose: the aim statement builder and the driver diagram editor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets import workbook as wb
from qiwidgets.store import repo
from qiwidgets.widgets._base import Panel, esc, help_line, safe, status_html, term_html, wide


def resolve_team(db: Any, team: Any, programme: Any = None):
    """A team record from a Team, an id or a code."""
    if team is None:
        teams = repo.list_teams(db, programme)
        if not teams:
            raise wb.WorkbookInputError("The database holds no team yet.")
        return teams[0]
    return repo.get_team(db, team, programme)


def aim_text(aim: Any) -> str:
    """An aim record as one sentence (empty when there is no aim)."""
    if aim is None:
        return ""
    return wb.aim_statement(aim.what, aim.for_whom, aim.how_much, aim.by_when)


class AimBuilder(Panel):
    """Build a team's aim statement (what, for whom, how much, by when) with a live check.

    Parameters
    ----------
    db:
        The store.
    team:
        The team (code, id or record).
    programme:
        The programme, when team codes are not unique across programmes.
    today:
        The date the "time-bound" check compares with (default: today).

    Attributes
    ----------
    team, programme, aim:
        The records shown (``aim`` None until the team has one).
    check:
        The live :class:`qiwidgets.workbook.AimCheck` of what is typed.
    saved:
        The aim as last saved from this widget (None before).
    """

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None,
                 today: dt.date | None = None):  # fmt: skip
        super().__init__(db)
        self.today = today
        self.aim = None
        self.saved = None
        self.check: wb.AimCheck | None = None
        self.header = widgets.HTML()
        self.what = widgets.Textarea(
            description="What", placeholder="Reduce falls with harm", layout=wide()
        )
        self.for_whom = widgets.Text(
            description="For whom", placeholder="for patients on Ward 7", layout=wide()
        )
        self.how_much = widgets.Text(
            description="How much", placeholder="from 6 to 3 per 1,000 bed days", layout=wide()
        )
        self.by_when = widgets.DatePicker(description="By when")
        self.baseline = widgets.Text(
            description="Baseline", placeholder="6 per 1,000 bed days (2025)", layout=wide()
        )
        self.outcome_measures = widgets.SelectMultiple(
            description="Outcome measures", rows=4, layout=wide(),
            style={"description_width": "initial"},
        )  # fmt: skip
        self.check_html = widgets.HTML()
        self.save_button = widgets.Button(description="Save aim", button_style="primary")
        self.reload_button = widgets.Button(description="Reload")
        for control in (self.what, self.for_whom, self.how_much, self.by_when):
            control.observe(self._on_change, names="value")
        self.save_button.on_click(self._on_save)
        self.reload_button.on_click(self._on_reload)
        self.children = [
            self.header,
            widgets.HTML(term_html("aim")),
            self.what,
            self.for_whom,
            self.how_much,
            self.by_when,
            self.baseline,
            self.outcome_measures,
            help_line("outcome"),
            self.check_html,
            self.changed,
            widgets.HBox([self.save_button, self.reload_button]),
            self.status,
        ]
        self.load(resolve_team(db, team, programme))

    # --- loading ----------------------------------------------------------------------------

    def load(self, team: Any) -> None:
        """Show ``team``'s aim (a Team record, id or code)."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        self.programme = repo.get_programme(self.db, self.team.programme_id)
        self.aim = repo.get_aim(self.db, self.team.id)
        outcomes = [m for m in repo.list_measures(self.db, self.team.id) if
                    m.measure_type == "outcome"]  # fmt: skip
        self.outcome_measures.options = [(f"{m.name} ({m.code})", m.id) for m in outcomes]
        a = self.aim
        self.what.value = (a.what if a else "") or ""
        self.for_whom.value = (a.for_whom if a else "") or ""
        self.how_much.value = (a.how_much if a else "") or ""
        self.by_when.value = a.by_when if a else None
        self.baseline.value = (a.baseline if a else "") or ""
        allowed = {m.id for m in outcomes}
        self.outcome_measures.value = tuple(
            m.id for m in (a.outcome_measures if a else []) if m.id in allowed
        )
        self.show_changed(a)
        self._render_header()
        self._update_check()

    def _render_header(self) -> None:
        programme_aim = self.programme.shared_aim or "The programme has no shared aim yet."
        team_aim = aim_text(self.aim) or "No aim yet: write it below."
        self.header.value = (
            f'<div class="qi-aims"><div>{term_html("programme_aim")}</div>'
            f'<div style="font-size:110%;margin:2px 0 6px 0">{esc(self.programme.name)}: '
            f"{esc(programme_aim)}</div>"
            f'<div style="margin-left:24px;border-left:3px solid #005eb8;padding-left:8px">'
            f"<div><strong>{esc(self.team.name)}</strong> — team aim</div>"
            f"<div>{esc(team_aim)}</div></div></div>"
        )

    # --- callbacks ----------------------------------------------------------------------------

    def _values(self) -> dict[str, Any]:
        return {
            "what": wb.clean_text(self.what.value, "what"),
            "for_whom": wb.clean_text(self.for_whom.value, "for whom"),
            "how_much": wb.clean_text(self.how_much.value, "how much"),
            "by_when": wb.clean_date(self.by_when.value, "by when"),
            "baseline": wb.clean_text(self.baseline.value, "baseline"),
        }

    def _update_check(self) -> None:
        v = self._values()
        self.check = wb.check_aim(
            v["what"], v["for_whom"], v["how_much"], v["by_when"], today=self.today
        )
        items = "".join(
            f"<li>{'✓' if ok else '✗'} <strong>{esc(glossary.label(c))}</strong> — {esc(msg)}</li>"
            for c, ok, msg in self.check.checks
        )
        statement = self.check.statement or "(nothing yet)"
        self.check_html.value = (
            f'<div class="qi-aim-check"><div><em>Your aim reads:</em> {esc(statement)}</div>'
            f'<ul style="margin:4px 0">{items}</ul></div>'
        )

    @safe("checking the aim")
    def _on_change(self, change: dict) -> None:
        self._update_check()

    @safe("reloading the aim")
    def _on_reload(self, _button: Any = None) -> None:
        self.load(self.team)
        self.say("Reloaded.", "info")

    @safe("saving the aim")
    def _on_save(self, _button: Any = None) -> None:
        values = self._values()
        if not values["what"]:
            raise wb.WorkbookInputError("Write what will improve before saving the aim.")
        allowed = {value for _, value in self.outcome_measures.options}
        ids = []
        for i in self.outcome_measures.value:
            ids.append(wb.clean_choice(i, "outcome measures", allowed))
        data = {"team_id": self.team.id, **values, "outcome_measure_ids": ids}
        if self.aim is None:
            saved = repo.save_aim(self.db, data)
        else:
            saved = repo.save_aim(self.db, data, id=self.aim.id, version=self.aim.version)
        self.aim = self.saved = saved
        check = wb.check_aim(values["what"], values["for_whom"], values["how_much"],
                             values["by_when"], today=self.today)  # fmt: skip

        def refresh() -> None:
            self.show_changed(saved)
            self._render_header()
            self._update_check()

        if check.ok:
            self.confirm_saved("Aim saved.", refresh)
        else:
            missing = ", ".join(glossary.label(c).lower() for c, ok, _ in check.checks
                                if not ok)  # fmt: skip
            self.confirm_saved(f"Aim saved as a draft; it is not yet {missing}.", refresh,
                               "warning")  # fmt: skip


def driver_node_label(node: Any) -> str:
    """How a dropdown names an entry of a driver diagram: its kind and (the start of) its text."""
    return f"{glossary.label(node.kind)}: {node.text[:60]}"


class DriverDiagramEditor(Panel):
    """Edit a team's driver diagram (aim → primary → secondary drivers → change ideas).

    Attributes
    ----------
    team:
        The team record.
    nodes:
        The diagram's nodes (store records), parents before children.
    diagram:
        ``widgets.HTML`` with the diagram drawn as a table.
    saved:
        The node last added or changed from this widget.
    on_saved:
        Optional callable ``f(node)`` run after an entry is added or changed (the dashboard
        refreshes the fishbone editor's driver links beside it).
    """

    KINDS = (("Primary driver", "primary"), ("Secondary driver", "secondary"),
             ("Change idea", "change_idea"))  # fmt: skip

    def __init__(self, db: Any, team: Any = None, *, programme: Any = None):
        super().__init__(db)
        self.saved = None
        self.on_saved: Callable[[Any], Any] | None = None
        self.nodes: list = []
        self._edit_version: int | None = None
        self.diagram = widgets.HTML()
        self.kind = widgets.Dropdown(options=self.KINDS, value="primary", description="Add a")
        self.kind_help = widgets.HTML()
        self.parent = widgets.Dropdown(description="Under")
        self.text = widgets.Text(description="Text", layout=wide())
        self.add_button = widgets.Button(description="Add", button_style="primary")
        self.node = widgets.Dropdown(description="Change", layout=wide())
        self.edit_text = widgets.Text(description="New text", layout=wide())
        # a change idea's shared name: the programme's library groups ideas by it
        self.edit_tag = widgets.Text(description=glossary.label("idea_tag"), layout=wide(),
                                     placeholder="e.g. Hourly rounding")  # fmt: skip
        self.tag_help = help_line("idea_tag")
        self.edit_button = widgets.Button(description="Save change")
        self.kind.observe(self._on_kind, names="value")
        self.node.observe(self._on_node, names="value")
        self.add_button.on_click(self._on_add)
        self.edit_button.on_click(self._on_edit)
        self.children = [
            widgets.HTML(term_html("driver_diagram")),
            self.diagram,
            widgets.HTML("<h3>Add to the diagram</h3>"),
            self.kind,
            self.kind_help,
            self.parent,
            self.text,
            self.add_button,
            widgets.HTML("<h3>Change an entry</h3>"),
            self.node,
            self.edit_text,
            self.edit_tag,
            self.tag_help,
            self.edit_button,
            self.changed,
            self.status,
        ]
        self.load(resolve_team(db, team, programme))

    def load(self, team: Any) -> None:
        """Show ``team``'s driver diagram."""
        self.team = team if hasattr(team, "programme_id") else repo.get_team(self.db, team)
        self.aim = repo.get_aim(self.db, self.team.id)
        self.nodes = [n for n, _ in wb.driver_tree(repo.list_driver_nodes(self.db, self.team.id))]
        self.diagram.value = wb.driver_diagram_html(aim_text(self.aim), self.nodes)
        self.node.options = [("(pick an entry)", None)] + [
            (driver_node_label(n), n.id) for n in self.nodes
        ]
        self.node.value = None
        self._show_node(None)
        self._parent_options()

    def _parent_options(self) -> None:
        kind = self.kind.value
        self.kind_help.value = (
            f'<div style="font-size:90%;color:#425563">{esc(glossary.explain(kind))}</div>'
        )
        allowed = repo.DRIVER_PARENTS[kind]
        options = [("(the aim)", None)] if None in allowed else []
        options += [
            (driver_node_label(n), n.id) for n in self.nodes if n.kind in allowed
        ]  # fmt: skip
        self.parent.options = options
        self.parent.value = options[0][1] if options else None

    @safe("choosing the kind of entry")
    def _on_kind(self, change: dict) -> None:
        wb.clean_choice(change["new"], "kind", [k for _, k in self.KINDS])
        self._parent_options()

    @safe("choosing an entry")
    def _on_node(self, change: dict) -> None:
        node_id = change["new"]
        node = next((n for n in self.nodes if n.id == node_id), None)
        if node is None and node_id is not None:
            raise wb.WorkbookInputError("That entry is not in this driver diagram.")
        self._show_node(node)

    def _show_node(self, node: Any) -> None:
        """Put ``node`` (None: nothing picked) into the "Change an entry" boxes."""
        self._edit_version = node.version if node is not None else None
        self.edit_text.value = node.text if node is not None else ""
        idea = node is not None and node.kind == "change_idea"
        self.edit_tag.value = (node.idea_tag or "") if idea else ""
        for w in (self.edit_tag, self.tag_help):
            w.layout.display = None if idea else "none"
        self.show_changed(node)

    @safe("adding to the driver diagram")
    def _on_add(self, _button: Any = None) -> None:
        kind = wb.clean_choice(self.kind.value, "kind", [k for _, k in self.KINDS])
        text = wb.clean_text(self.text.value, "text", required=True)
        parent = self.parent.value
        if kind != "primary" and parent is None:
            raise wb.WorkbookInputError(
                f"A {glossary.label(kind).lower()} sits under a driver: add a primary driver first."
            )
        if parent not in {v for _, v in self.parent.options}:
            raise wb.WorkbookInputError("Pick where the new entry sits.")
        order = sum(1 for n in self.nodes if n.parent_id == parent) + 1
        self.saved = repo.save_driver_node(
            self.db,
            {"team_id": self.team.id, "kind": kind, "parent_id": parent, "text": text,
             "order": order},
        )  # fmt: skip

        def refresh() -> None:
            self.text.value = ""
            self._reload_after_save()

        self.confirm_saved(f"Added the {glossary.label(kind).lower()}.", refresh)

    @safe("changing the driver diagram")
    def _on_edit(self, _button: Any = None) -> None:
        node_id = self.node.value
        if node_id is None or self._edit_version is None:
            raise wb.WorkbookInputError("Pick the entry to change first.")
        text = wb.clean_text(self.edit_text.value, "new text", required=True)
        data = {"text": text}
        node = next((n for n in self.nodes if n.id == node_id), None)
        if node is not None and node.kind == "change_idea":
            data["idea_tag"] = wb.clean_text(self.edit_tag.value, "shared name")
        self.saved = repo.save_driver_node(self.db, data, id=node_id, version=self._edit_version)
        self.confirm_saved("Saved the change.", self._reload_after_save)

    def _reload_after_save(self) -> None:
        self.load(self.team)
        if self.on_saved is not None:
            self.on_saved(self.saved)


__all__ = ["AimBuilder", "DriverDiagramEditor", "aim_text", "driver_node_label", "resolve_team",
           "status_html"]
