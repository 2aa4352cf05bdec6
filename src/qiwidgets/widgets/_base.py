"""What every workbook widget shares: the status line, safe callbacks, escaped HTML helpers.

A dashboard visitor can set any widget trait through the websocket, so every callback is an
entry point: it runs inside :meth:`Panel._guard`, which turns a refused edit
(:class:`~qiwidgets.errors.StaleEditError`) or bad input (:class:`~qiwidgets.errors.QIError`)
into a plain message on the status line and logs anything unexpected under the ``qiwidgets``
logger — a visitor never sees a traceback.

A save is confirmed with :meth:`Panel.confirm_saved`, called once the store has committed it:
the confirmation goes out before the widget refreshes its lists, carries a ``data-qi-saved``
mark (the dashboard page's script then forgets its browser copy of what was typed in that
panel), and a failure while refreshing no longer reads as if nothing had been saved.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets

from qiwidgets import glossary
from qiwidgets.errors import AccessDenied, QIError, StaleEditError

log = logging.getLogger("qiwidgets.widgets")

#: Status kinds and how they look (a symbol as well as a colour).
_STATUS_STYLE = {
    "ok": ("✓", "#00703c"),
    "info": ("ℹ", "#425563"),
    "warning": ("!", "#8a4b00"),
    "conflict": ("⚠", "#8a4b00"),
    "problem": ("✗", "#b00020"),
}

#: What a visitor sees when something unexpected went wrong (details go to the log).
UNEXPECTED = (
    "Something unexpected went wrong while {what}. Nothing more was changed; the details were "
    "written to the log. Please try again, or reload the page."
)
#: Added to a save's confirmation when the page could not show the saved record afterwards.
NOT_SHOWN = "The page could not show it yet: reload the page to see it."


def wide() -> widgets.Layout:
    """A layout the width of its panel (a new one each time: a layout made once at import and
    shared would be closed with the first page a kernel closes, and blank every later page)."""
    return widgets.Layout(width="95%")


def changed_html(db: Any, record: Any) -> str:
    """"Last changed by Sam Jones on 6 Dec 2026 at 08:30 UTC." for a stored record (its
    ``updated_by_id`` and ``updated_at``); "by a command or a notebook" when nobody signed it
    (saved by the operator, a command, an import, or before people were recorded)."""
    when = getattr(record, "updated_at", None)
    if record is None or when is None:
        return ""
    from qiwidgets.store import people

    who = people.display_name(db, getattr(record, "updated_by_id", None))
    by = f"by {esc(who)}" if who else "by a command, a notebook or the dashboards' operator"
    return (f'<p class="qi-changed" style="color:#425563;font-size:90%;margin:2px 0">Last '
            f"changed {by} on {when:%-d %b %Y} at {when:%H:%M} UTC.</p>")  # fmt: skip


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML (None becomes an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def multiline(value: Any) -> str:
    """Escaped text with line breaks kept."""
    return esc(value).replace("\n", "<br>")


def term_html(key: str, *, show_label: bool = True) -> str:
    """A term with its one-line explanation beside it (shared language)."""
    label = f"<strong>{esc(glossary.label(key))}</strong>" if show_label else ""
    sep = ": " if show_label else ""
    return (
        f'<span class="qi-term">{label}{sep}<span style="color:#425563">'
        f"{esc(glossary.explain(key))}</span></span>"
    )


def named_beside(text: str) -> dict[str, Any]:
    """A control's arguments naming it ``text`` where those words are shown beside it (a skill,
    a pulse statement): its label takes no width, so a screen reader announces the control by
    name while the page shows the words once (an unnamed control fails WCAG 4.1.2)."""
    return {"description": text, "style": {"description_width": "0px"}}


def help_line(key: str) -> widgets.HTML:
    """A small widget that shows a term's explanation under a control."""
    return widgets.HTML(
        f'<div style="font-size:90%;color:#425563;margin:0 0 6px 0">'
        f"{esc(glossary.explain(key))}</div>"
    )


def status_html(text: str, kind: str = "info", *, saved: int | None = None) -> str:
    """The status line: a symbol, a colour and the escaped message.

    ``saved``: the number of the save this message confirms (the store committed it); written as
    ``data-qi-saved``, a new number each time, so that the page sees every confirmation.
    """
    if not text:
        return ""
    symbol, colour = _STATUS_STYLE.get(kind, _STATUS_STYLE["info"])
    mark = f' data-qi-saved="{int(saved)}"' if saved is not None else ""
    return (
        f'<div role="status" class="qi-status qi-status-{esc(kind)}"{mark} '
        f'style="color:{colour};margin:4px 0">{symbol} {multiline(text)}</div>'
    )


def table_html(columns: Iterable[str], rows: Iterable[Iterable[Any]], *, empty: str = "") -> str:
    """A small table with every cell escaped."""
    cols = list(columns)
    body = [
        "<tr>" + "".join(f'<td style="padding:2px 8px;vertical-align:top">{multiline(c)}</td>'
                         for c in row) + "</tr>"
        for row in rows
    ]  # fmt: skip
    if not body:
        return f"<p><em>{esc(empty)}</em></p>" if empty else ""
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{esc(c)}</th>' for c in cols)
    return (
        '<table style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def safe(what: str) -> Callable:
    """Decorate a callback so errors become a message on the status line (see the module doc)."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: Panel, *args: Any, **kwargs: Any) -> Any:
            return self._guard(what, method, self, *args, **kwargs)

        return wrapper

    return decorate


class Panel(widgets.VBox):
    """Base of the workbook widgets: a ``VBox`` with a status line and safe callbacks.

    Attributes
    ----------
    db:
        The store (a URL, a SQLite path or an Engine).
    status:
        A ``widgets.HTML`` status line in plain words.
    message, message_kind:
        The last message shown and its kind (``ok``, ``info``, ``warning``, ``conflict``,
        ``problem``), for tests and for composing widgets.
    """

    def __init__(self, db: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.db = db
        self.status = widgets.HTML()
        self.message = ""
        self.message_kind = ""
        self.saves = 0  # saves confirmed by this panel (see confirm_saved)
        self.changed = widgets.HTML()  # who last saved the record shown (show_changed)
        self.changed.add_class("qi-changed")

    def say(self, text: str, kind: str = "info") -> None:
        """Show ``text`` on the status line."""
        self.message = text
        self.message_kind = kind if text else ""
        self.status.value = status_html(text, kind)

    def show_changed(self, record: Any) -> None:
        """Say who last saved ``record`` and when (nothing for a new record)."""
        self.changed.value = changed_html(self.db, record)

    def confirm_saved(self, text: str, refresh: Callable[[], Any] | None = None,
                      kind: str = "ok") -> None:  # fmt: skip
        """Say that a save is stored: call it only once the repository call has returned.

        The confirmation is sent first (a page that loses its connection a moment later has
        it already), then ``refresh`` redraws what shows the saved record. Should refreshing
        fail, the message still says the record was saved, and that a reload will show it.
        """
        self.saves += 1
        self.message, self.message_kind = text, kind
        self.status.value = status_html(text, kind, saved=self.saves)
        if refresh is None:
            return
        try:
            refresh()
        except Exception:  # saved all the same: never "nothing was changed" after a commit
            log.exception("Unexpected error while showing a saved record")
            self.saves += 1
            text = f"{text} {NOT_SHOWN}"
            self.message, self.message_kind = text, "warning"
            self.status.value = status_html(text, "warning", saved=self.saves)

    def _guard(self, what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StaleEditError as exc:
            self.say(str(exc), "conflict")
        except AccessDenied as exc:  # the store refused: said in the page, kept in the log
            log.warning("Refused while %s: %s", what, exc)
            self.say(str(exc), "problem")
        except QIError as exc:
            self.say(str(exc), "problem")
        except Exception:  # a visitor never sees a traceback; the log keeps the details
            log.exception("Unexpected error while %s", what)
            self.say(UNEXPECTED.format(what=what), "problem")
        return None
