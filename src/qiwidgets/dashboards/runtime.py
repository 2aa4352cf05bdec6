"""What the dashboard notebooks call: open a page, read the visitor's link, fail kindly.

A dashboard notebook is two cells::

    from qiwidgets.dashboards.runtime import TeamPage
    page = TeamPage.prepare()      # imports and builds what it can before a visitor arrives

    page.open()                    # waits for the visitor (preheated kernel), shows the page

``prepare`` runs in a preheated kernel before any request, so it must not depend on the
visitor; ``open`` waits for the request (``voila.utils.wait_for_request``) and only then reads
the store and the ``?team=`` of the link. Anything that goes wrong becomes a plain message in
the page; the details go to the server log (``--dev`` shows the traceback in the page).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
import urllib.parse
from errno import ENOTSOCK
from typing import Any

from qiwidgets import config
from qiwidgets._imports import imports_without_gc, skip_slow_optional_imports
from qiwidgets.errors import QIError

log = logging.getLogger("qiwidgets.dashboards")

# dashboard kernels run only these pages: skip jsonschema's IRI grammar (~1 s per kernel)
skip_slow_optional_imports()

#: Settings ``qiwidgets serve`` passes its kernels (:mod:`qiwidgets.config`, one prefix).
DB_ENV = config.env_name("database_url")
DEV_ENV = config.env_name("dev")
PROGRAMME_ENV = config.env_name("programme")

#: What a visitor reads when the page could not be opened.
FAILED = (
    "Sorry — this dashboard could not be opened. {reason}Please reload the page in a minute; "
    "if it keeps happening, tell the person who runs the dashboards (the details are in the "
    "server's log). Nothing you saved before has been lost."
)
#: Why, when a warm kernel did not get the visitor's request in time.
LATE = "The server was too busy to open your page in time."


def dev_mode() -> bool:
    """True when the server runs with ``--dev`` (tracebacks in the page)."""
    return os.environ.get(DEV_ENV) == "1"


def database() -> str:
    """The store the server was started with (``QI_DATABASE_URL``, set by ``qiwidgets serve``)."""
    from qiwidgets.errors import QIError

    db = os.environ.get(DB_ENV)
    if not db:
        raise QIError(f"The server was started without a store ({DB_ENV} is not set).")
    return db


#: Who the page is for, as the server tells the kernel: ``link:<id>`` of a personal link,
#: ``hub:<name>`` of a JupyterHub user (with their Hub groups, a JSON list, beside it), or
#: ``operator`` (the holder of the server's token).
VISITOR_ENV = config.env_name("visitor")
VISITOR_GROUPS_ENV = config.env_name("visitor_groups")
OPERATOR_VISITOR = "operator"
LINK_VISITOR = "link:"
HUB_VISITOR = "hub:"


def visitor_db() -> Any:
    """The store as the page's visitor: every read and write checked against what they may do.

    The server tells the kernel who the visitor is (:data:`VISITOR_ENV`); a link that was
    revoked or has expired since is refused here (:class:`~qiwidgets.errors.AccessDenied`).
    """
    import json

    from qiwidgets.store import people

    db = database()
    visitor = os.environ.get(VISITOR_ENV, OPERATOR_VISITOR)
    if visitor == OPERATOR_VISITOR:
        return people.ActingDB(db, people.OPERATOR)
    if visitor.startswith(HUB_VISITOR):
        groups = json.loads(os.environ.get(VISITOR_GROUPS_ENV) or "[]")
        return people.ActingDB(db, people.actor_for_hub(db, visitor.removeprefix(HUB_VISITOR),
                                                        groups))  # fmt: skip
    link_id = visitor.removeprefix(LINK_VISITOR)
    if not visitor.startswith(LINK_VISITOR) or not link_id.isdigit():
        raise QIError(f"The server named this page's visitor {visitor!r}, which is not a "
                      "person's link.")  # fmt: skip
    return people.ActingDB(db, people.actor_for_link(db, int(link_id)))


#: The kernel's environment variable holding its key for the visitor-request route, the header
#: it sends the key in, and what it answers once it has the request (see
#: :mod:`qiwidgets.dashboards.voila_app`, which checks them).
VISITOR_KEY_ENV = config.env_name("visitor_key")
VISITOR_KEY_HEADER = "X-Qiwidgets-Visitor-Key"
RECEIVED = "received"
#: Seconds between two attempts to reach the server while a warm kernel waits for its visitor.
RECONNECT_DELAY = 1.0


class VisitorLate(Exception):
    """The server interrupted a warm kernel that had not taken its visitor's request in time."""


def visitor_request_url() -> str:
    """Where a warm kernel waits for its visitor: the server's ``voila/query/<kernel id>``."""
    host = os.environ.get("VOILA_APP_IP") or "127.0.0.1"
    port = os.environ.get("VOILA_APP_PORT", "8866")
    prefix = os.environ.get("VOILA_WS_BASE_URL") or os.environ.get("VOILA_SERVER_URL", "/")
    host = f"[{host}]" if ":" in host else host
    return f"ws://{host}:{port}{prefix}voila/query/{os.environ['VOILA_KERNEL_ID']}"


def wait_for_visitor() -> None:
    """In a preheated kernel, wait until a visitor's request arrives (no-op otherwise).

    Connects to the server with this kernel's key, waits with no time limit, takes the request
    into the environment (``QUERY_STRING`` ...) and says it was received. A dropped connection
    is made again. Raises :class:`VisitorLate` when the server interrupts the wait (the visitor
    came and the request did not reach this kernel in time).
    """
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    import json
    import time

    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    url = visitor_request_url()
    headers = {VISITOR_KEY_HEADER: os.environ.get(VISITOR_KEY_ENV, "")}
    try:
        while True:
            try:
                with connect(url, additional_headers=headers, open_timeout=30,
                             max_size=1 << 20) as ws:  # fmt: skip
                    message = ws.recv()
                    ws.send(RECEIVED)
                break
            except InvalidStatus as exc:  # refused: waiting longer will not help
                raise RuntimeError(f"The server refused this kernel's wait for its visitor "
                                   f"({exc.response.status_code}).") from exc  # fmt: skip
            except (OSError, WebSocketException):
                log.debug("Lost the server while waiting for a visitor; trying again",
                          exc_info=True)  # fmt: skip
                time.sleep(RECONNECT_DELAY)
    except KeyboardInterrupt as exc:
        raise VisitorLate from exc
    for key, value in json.loads(message).items():
        os.environ[key] = str(value)


def query() -> dict[str, str]:
    """The visitor's query parameters (first value of each), without the token."""
    raw = os.environ.get("QUERY_STRING", "")
    params = urllib.parse.parse_qs(raw, keep_blank_values=False)
    return {k: v[0] for k, v in params.items() if k != "token" and v}


#: What a person reads when their link opens nothing here (said plainly; nothing to retry).
NO_TEAM = ("You do not have access to any team yet. Ask your programme lead to add you to "
           "your team.")  # fmt: skip


def refusal(text: str) -> Any:
    """A widget saying plainly what the visitor may not open and whom to ask."""
    import ipywidgets as widgets

    from qiwidgets.widgets._base import esc

    return widgets.HTML(
        f'<div class="qi-refused" role="alert" style="border-left:4px solid #425563;'
        f'padding:8px 12px;max-width:50em">{esc(text)}</div>'
    )


def failure(exc: BaseException | None, what: str = "opening the dashboard") -> Any:
    """A widget with a plain message (and the traceback in ``--dev``); logs the details."""
    import ipywidgets as widgets

    from qiwidgets.errors import AccessDenied, QIError
    from qiwidgets.widgets._base import esc

    if isinstance(exc, AccessDenied):  # not a failure: the person may not open this
        log.info("Refused while %s: %s", what, exc)
        return refusal(str(exc))
    if exc is not None:
        log.error("Failed while %s", what, exc_info=exc)
    reason = f"{exc} " if isinstance(exc, QIError) else ""
    text = FAILED.format(reason=reason)
    detail = ""
    if dev_mode() and exc is not None:
        tb = "".join(traceback.format_exception(exc))
        detail = f'<pre class="qi-traceback" style="white-space:pre-wrap">{esc(tb)}</pre>'
    return widgets.HTML(
        f'<div class="qi-failed" role="alert" style="border-left:4px solid #b00020;'
        f'padding:8px 12px;max-width:50em">{esc(text)}</div>{detail}'
    )


class WaitingKernelShutdown(logging.Filter):
    """Leaves out of a kernel's log the one error of a warm kernel shut down while it waits.

    When the server stops, Voilà shuts its warm kernels down while their waiting cell runs; the
    cell's reply then goes to a closed socket, and ipykernel logged each as a ZMQ traceback in
    the operator's terminal. That error (ENOTSOCK) is dropped; every other record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        closed = type(exc).__name__ == "ZMQError" and getattr(exc, "errno", None) == ENOTSOCK
        return not closed


def widget_errors_to_log() -> None:
    """From now on, an error in handling a widget message goes to the server's log, never to
    the page.

    A page's controls accept only the values they hold: a message that sets the team picker to
    a place it does not have (what a script talking to the kernel directly would send) is
    refused by the control, and ipywidgets reported it with IPython's ``showtraceback``, which
    sent the traceback to the browser and logged nothing. Called once the page is built (the
    page's last cell), it makes the kernel log such a refusal in one line, ``Refused a widget
    message from <visitor>: <why>`` (the visitor as the server named it: a link number or a
    Hub name, never a secret), and any other error with its traceback, for the operator.
    """
    from IPython import get_ipython
    from traitlets import TraitError

    shell = get_ipython()
    if shell is None:
        return

    def showtraceback(*_args: Any, **_kwargs: Any) -> None:
        etype, exc, tb = sys.exc_info()
        visitor = os.environ.get(VISITOR_ENV) or "the operator"
        if isinstance(exc, TraitError):
            log.warning("Refused a widget message from %s: %s", visitor, exc)
        else:
            log.error("Failed on a widget message from %s", visitor, exc_info=(etype, exc, tb))

    shell.showtraceback = showtraceback


class _Page:
    """Shared steps of the two pages."""

    #: Imported by :meth:`prepare`, so that a preheated kernel has paid for them before the
    #: visitor arrives.
    MODULES: tuple[str, ...] = ("ipywidgets", "qiwidgets.dashboards.fastchart")

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.widget: Any = None

    @classmethod
    def prepare(cls) -> _Page:
        page = cls()
        try:
            with imports_without_gc():
                for name in cls.MODULES:
                    importlib.import_module(name)
            page._prepare()
        except Exception as exc:  # noqa: BLE001 - shown by open(); never an empty page
            page.error = exc
        return page

    def _prepare(self) -> None:
        """Build what can be built before the visitor arrives (after the imports)."""

    def wait(self) -> None:
        """Wait for the visitor (a warm kernel; nothing to wait for otherwise). This is the
        notebook's one cell without a time limit, and it only waits: the page is built by
        :meth:`open`, in a cell of its own with the server's per-cell limit."""
        try:
            wait_for_visitor()
        except VisitorLate:
            log.warning("The visitor's request reached this kernel too late")
            self.error = QIError(LATE)
        except Exception as exc:  # noqa: BLE001 - shown by open(); never an empty page
            self.error = exc

    def open(self) -> Any:
        if self.error is not None:
            return failure(self.error)
        try:
            self.widget = self._open()
        except Exception as exc:
            if dev_mode():
                log.exception("Failed while opening the dashboard")
            return failure(exc)
        widget_errors_to_log()
        return self.widget

    def _open(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class TeamPage(_Page):
    """The team dashboard page: ``?team=CODE`` picks the team."""

    MODULES = (*_Page.MODULES, "qiwidgets.dashboards.team", "qiwidgets.spc")

    def _prepare(self) -> None:
        from qiwidgets.dashboards.team import TeamDashboard

        if os.environ.get("VOILA_PREHEAT") == "True":
            # build the page for the programme's first team; open() loads the visitor's. Only the
            # first tab: every widget built here is sent to the visitor's browser, and building
            # the hidden tabs too (355 widget models instead of 52) cost the first render
            # ~0.3 s of browser CPU; a tab is built when first opened (~0.2 s).
            self.widget = TeamDashboard(database(), programme=os.environ.get(PROGRAMME_ENV))

    def _open(self) -> Any:
        import ipywidgets as widgets

        from qiwidgets.dashboards.team import TeamDashboard
        from qiwidgets.errors import QIError
        from qiwidgets.store import people, repo

        db = visitor_db()
        code = query().get("team")
        programme = os.environ.get(PROGRAMME_ENV)
        if self.widget is not None and not people.actor_of(db).operator:
            # the warm page was built for the operator (every team in its picker, the first
            # team's records): none of it may reach a person's browser, so it goes, and the page
            # is built again as them
            widgets.Widget.close_all()
            self.widget = None
        known = True
        if self.widget is None:  # build the page for the visitor (their teams only)
            if not repo.list_teams(db, programme):
                return refusal(NO_TEAM)
            try:
                self.widget = TeamDashboard(db, code or None, programme=programme)
            except QIError:
                known = False
                self.widget = TeamDashboard(db, programme=programme)
        else:  # the operator's warm page: show the team of the link
            try:
                self.widget.show_team(code or self.widget.team)
            except QIError:
                known = False
                self.widget.show_team(self.widget.team)
        dash = self.widget
        if not known:  # unknown and not theirs read the same: nothing said about other teams
            dash.say(f"There is no team {code!r} that you can open: showing {dash.team.name}. "
                     "Choose your team above.", "warning")  # fmt: skip
        elif not code and len(dash.team_select.options) > 1:
            # a link without ?team=: say whose page this is before anyone edits it
            dash.say(f"Showing {dash.team.name}, the first team by name: choose your team above.",
                     "info")  # fmt: skip
        return dash


class ProgrammePage(_Page):
    """The programme dashboard page."""

    # scipy.special: the funnel plot's limits (qiwidgets.spc imports it only where it is used)
    MODULES = (*_Page.MODULES, "qiwidgets.dashboards.programme", "qiwidgets.widgets.practice",
               "scipy.special")

    def _open(self) -> Any:
        from qiwidgets.dashboards.programme import ProgrammeDashboard

        # the store refuses the whole programme to anyone but its lead and analysts
        # (AccessDenied, shown by open() as a refusal in words)
        return ProgrammeDashboard(visitor_db(), os.environ.get(PROGRAMME_ENV))


__all__ = [
    "DB_ENV",
    "DEV_ENV",
    "ProgrammePage",
    "TeamPage",
    "WaitingKernelShutdown",
    "database",
    "failure",
    "query",
]
