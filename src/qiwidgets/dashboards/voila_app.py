"""The Voilà application ``qiwidgets serve`` runs: Voilà with its unauthenticated and fragile
routes closed.

Voilà 0.5's preheat route ``/voila/query/<kernel id>`` is a websocket with no authentication:
the first client that connected for a kernel id took the waiting kernel's place and received the
next visitor's request (their ``?token=`` included), and the visitor's page never opened. Kernel
ids were in every kernel's command line (``ps``) and in its socket names (``/proc/net/unix``),
which any local account can read. Here:

* :class:`VisitorRequestSocket` serves that route. Only a kernel this server started can
  connect: it proves it with a key (:func:`visitor_key`, an HMAC of its id under a secret that
  lives only in this process), which reaches the kernel in its environment (readable by this
  account alone), never on a command line. A browser (any ``Origin``) is refused. The token
  is taken out of the request before it reaches the kernel. Once a visitor has been handed a
  warm kernel, the kernel must take the request within :attr:`DashboardVoila.visitor_wait`
  seconds, or it is interrupted and the page says so (the wait before a visitor comes has no
  limit: a warm kernel may wait hours).
* :class:`DashboardKernelManager` names each kernel's connection file (and so its Unix
  sockets) with random characters unrelated to the kernel id, gives the kernel its key, and
  takes the token out of the request details Voilà passes to a kernel's environment.
* Requests are logged with the token replaced by ``[secret]`` (:func:`scrub_token`), in access
  lines and error lines alike.
* ``/logout`` signs out instead of failing (500), ``/voila/templates/...`` answers 404 for any
  path outside a template's ``static`` folder instead of 500, and the served folder is not
  listed (``/``, ``/voila/tree`` and ``/voila/api/contents`` go to the team dashboard or 404).

``python -m qiwidgets.dashboards.voila_app DIR`` takes Voilà's own options and configuration
(``voila.json`` in the folder it starts in).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import urllib.parse
from typing import Any, ClassVar

import jinja2
import tornado.web
import tornado.websocket
from jupyter_core.utils import ensure_async
from jupyter_server.auth.authorizer import AllowAllAuthorizer, Authorizer
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider, User
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from traitlets import Float, Type
from voila import handler as voila_handler
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.static_file_handler import TemplateStaticFileHandler
from voila.tornado.contentshandler import VoilaContentsHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

from qiwidgets import config
from qiwidgets.dashboards.runtime import (
    HUB_VISITOR,
    LINK_VISITOR,
    OPERATOR_VISITOR,
    RECEIVED,
    VISITOR_ENV,
    VISITOR_GROUPS_ENV,
    VISITOR_KEY_ENV,
    VISITOR_KEY_HEADER,
)
from qiwidgets.store.people_cli import ACCESS_PARAM

log = logging.getLogger("qiwidgets.dashboards")

#: The server's own error pages (``error.html``, ``404.html``).
ERROR_TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "server")

#: This server's secret for the kernels' keys: made at start, never written anywhere.
_SECRET = secrets.token_bytes(32)

#: Query parameters whose values never reach a kernel or a log line: Jupyter's login token
#: and a personal access link's secret.
SECRET_PARAMS = frozenset({"token", ACCESS_PARAM})
#: The cookie that marks a browser whose personal link was refused (its value says nothing).
REFUSED_COOKIE = "qiwidgets-link-refused"
_SECRET_IN_TEXT = re.compile(r"(?i)\b((?:token|" + ACCESS_PARAM + r")=)[^&\s'\"#]*")
#: Who the request being served comes from (``link:<id>`` or ``operator``): read where Voilà
#: hands the request to a kernel (:meth:`VisitorRequestSocket.send_updates`, or the environment
#: of a kernel started for the visitor).
CURRENT_VISITOR: contextvars.ContextVar[str] = contextvars.ContextVar(
    "qiwidgets_visitor", default=OPERATOR_VISITOR
)
#: The JupyterHub groups of that visitor (a JSON list; empty but behind a Hub).
CURRENT_GROUPS: contextvars.ContextVar[str] = contextvars.ContextVar(
    "qiwidgets_visitor_groups", default="[]"
)
#: Environment variables of a Hub service (its API token among them) that no kernel needs:
#: JupyterHub's ``JUPYTERHUB_*`` and its older name for the token (jupyterhub/spawner.py).
HUB_ENV_PREFIXES = ("JUPYTERHUB_", "JPY_API_TOKEN")


#: Whose page each kernel serves (kernel id -> ``link:<id>`` or ``operator``), set when a kernel
#: is given to a visitor; only they may reach it (:class:`DashboardAuthorizer`).
KERNEL_VISITORS: dict[str, str] = {}


def visitor_key(kernel_id: str) -> str:
    """The key the kernel ``kernel_id`` proves itself with on the request route."""
    return hmac.new(_SECRET, kernel_id.encode(), hashlib.sha256).hexdigest()


def drop_secret_params(query: str) -> str:
    """A query string without its secrets (``token``, ``access``; the rest kept in order)."""
    parts = [p for p in query.split("&") if p and p.partition("=")[0] not in SECRET_PARAMS]
    return "&".join(parts)


def drop_secret_from_url(url: str) -> str:
    """A URL without the secrets in its query."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(query=drop_secret_params(parts.query)))


def scrub_token(text: str) -> str:
    """``text`` with the value of every ``token=`` and ``access=`` replaced by ``[secret]``
    (for logs)."""
    return _SECRET_IN_TEXT.sub(r"\1[secret]", text)


class ScrubTokens(logging.Filter):
    """A log filter that replaces every ``token=`` value in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_token(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class VisitorRequestSocket(RequestInfoSocketHandler):
    """``/voila/query/<kernel id>``: a warm kernel waits here for its visitor's request.

    Only the kernel itself may connect (its key in :data:`VISITOR_KEY_HEADER`); a connection
    without the key, with a wrong key, or from a browser is refused with 403 before it is a
    websocket. The request is kept for the kernel until it connects, and handed to it once.
    """

    _waiters: ClassVar[dict[str, VisitorRequestSocket]] = {}
    _cache: ClassVar[dict[str, str]] = {}
    #: Kernel id -> the timer that interrupts a kernel that did not take its visitor's request.
    _overdue: ClassVar[dict[str, asyncio.TimerHandle]] = {}
    #: Set by :class:`DashboardVoila`: the kernel manager, and the seconds a kernel has to take
    #: its visitor's request once the visitor has arrived.
    kernel_manager: ClassVar[Any] = None
    wait_limit: ClassVar[float] = 120.0

    def prepare(self) -> None:
        kernel_id = self.path_kwargs.get("kernel_id", "")
        given = self.request.headers.get(VISITOR_KEY_HEADER, "")
        if "Origin" in self.request.headers or not hmac.compare_digest(
            given.encode(), visitor_key(kernel_id).encode()
        ):
            log.warning("Refused a connection to the visitor-request route of a kernel "
                        "(no valid kernel key) from %s", self.request.remote_ip)  # fmt: skip
            raise tornado.web.HTTPError(403)

    def check_origin(self, origin: str) -> bool:
        return False  # kernels send no Origin; a page in a browser has no business here

    def open(self, kernel_id: str) -> None:
        cls = VisitorRequestSocket
        cls._waiters[kernel_id] = self
        payload = cls._cache.pop(kernel_id, None)
        if payload is not None:
            self.write_message(payload)

    def on_message(self, message: str | bytes) -> None:
        if message == RECEIVED:
            for kernel_id, waiter in VisitorRequestSocket._waiters.items():
                if waiter is self:
                    VisitorRequestSocket._received(kernel_id)
                    break

    def on_close(self) -> None:
        waiters = VisitorRequestSocket._waiters
        for kernel_id, waiter in list(waiters.items()):
            if waiter is self:
                del waiters[kernel_id]

    @classmethod
    def send_updates(cls, msg: dict) -> None:
        """Hand a visitor's request to the kernel Voilà chose (called by Voilà's page handler).

        The token is taken out first; the kernel gets :attr:`wait_limit` seconds to take it.
        """
        kernel_id = msg["kernel_id"]
        info = dict(msg["payload"])
        if "QUERY_STRING" in info:
            info["QUERY_STRING"] = drop_secret_params(info["QUERY_STRING"])
        info[VISITOR_ENV] = KERNEL_VISITORS[kernel_id] = CURRENT_VISITOR.get()  # whose page
        info[VISITOR_GROUPS_ENV] = CURRENT_GROUPS.get()
        payload = json.dumps(info)
        waiter = cls._waiters.get(kernel_id)
        if waiter is not None:
            try:
                waiter.write_message(payload)
            except tornado.websocket.WebSocketClosedError:
                cls._cache[kernel_id] = payload
        else:
            cls._cache[kernel_id] = payload
        loop = asyncio.get_event_loop()
        cls._overdue[kernel_id] = loop.call_later(cls.wait_limit, cls._interrupt, kernel_id)

    @classmethod
    def _received(cls, kernel_id: str) -> None:
        timer = cls._overdue.pop(kernel_id, None)
        if timer is not None:
            timer.cancel()

    @classmethod
    def _interrupt(cls, kernel_id: str) -> None:
        cls._overdue.pop(kernel_id, None)
        cls._cache.pop(kernel_id, None)
        log.warning("A warm kernel did not take its visitor's request within %g s: "
                    "interrupting it (the page says so).", cls.wait_limit)  # fmt: skip
        if cls.kernel_manager is not None and kernel_id in cls.kernel_manager:
            asyncio.ensure_future(ensure_async(cls.kernel_manager.interrupt_kernel(kernel_id)))


class DashboardKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager with kernel ids kept out of world-readable places and a key per
    kernel for the visitor-request route (see the module's docstring)."""

    def pre_start_kernel(self, kernel_name: str | None, kwargs: Any) -> tuple[Any, str, str]:
        km, name, kernel_id = super().pre_start_kernel(kernel_name, kwargs)
        # the connection file's name is on the kernel's command line and gives its sockets'
        # names (listed in /proc/net/unix): nothing there may tell the kernel id
        km.connection_file = os.path.join(self.connection_dir,
                                          f"kernel-{secrets.token_hex(8)}.json")  # fmt: skip
        if km.transport == "ipc":
            km.ip = os.path.splitext(km.connection_file)[0] + "-ipc"
        env = dict(kwargs.get("env") or os.environ)
        # the visitor's request, which Voilà gives a kernel it starts for them (and the next
        # warm kernel), without the token
        if "QUERY_STRING" in env:
            env["QUERY_STRING"] = drop_secret_params(env["QUERY_STRING"])
        if "VOILA_REQUEST_URL" in env:
            env["VOILA_REQUEST_URL"] = drop_secret_from_url(env["VOILA_REQUEST_URL"])
        env[VISITOR_KEY_ENV] = visitor_key(kernel_id)
        # a kernel started for a visitor is theirs; a warm kernel learns its visitor with the
        # request (a refill started during someone's request must not inherit them)
        env.pop(VISITOR_ENV, None)
        env.pop(VISITOR_GROUPS_ENV, None)
        if env.get("VOILA_PREHEAT") != "True":
            env[VISITOR_ENV] = KERNEL_VISITORS[kernel_id] = CURRENT_VISITOR.get()
            env[VISITOR_GROUPS_ENV] = CURRENT_GROUPS.get()
        # behind JupyterHub the server holds the service's Hub API token: no kernel gets it
        for name in [n for n in env if n.startswith(HUB_ENV_PREFIXES)]:
            del env[name]
        kwargs["env"] = env
        return km, name, kernel_id

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
        KERNEL_VISITORS.pop(kernel_id, None)
        await ensure_async(super().shutdown_kernel(kernel_id, *args, **kwargs))


def may_reach_kernel(kernel_id: str | None, user: Any) -> bool:
    """Only the visitor a kernel serves may talk to it, see it or stop it (a warm kernel not
    yet given to anyone: nobody)."""
    owner = KERNEL_VISITORS.get(kernel_id or "")
    return owner is not None and owner == visitor_of(user)


class DashboardAuthorizer(AllowAllAuthorizer):
    """Jupyter's kernel routes (``/api/kernels/<id>`` and its websocket) for the kernel's own
    visitor only: a person who learnt another page's kernel id could otherwise read that page's
    widgets (another team's records) and act through them, or stop the kernel."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource != "kernels":
            return True
        kernel_id = getattr(handler, "kernel_id", None) or handler.path_kwargs.get("kernel_id")
        if kernel_id is None and handler.path_args:
            kernel_id = handler.path_args[0]
        if may_reach_kernel(kernel_id, user):
            return True
        log.warning("Refused %s of kernel %s to %s", action, kernel_id, visitor_of(user))
        return False


class OwnKernelShutdown(VoilaShutdownKernelHandler):
    """Voilà's shutdown on leaving a page, for the page's own kernel only."""

    @tornado.web.authenticated
    async def post(self, kernel_id: str) -> None:
        if not may_reach_kernel(kernel_id, self.current_user):
            raise tornado.web.HTTPError(403)
        await super().post.__wrapped__(self, kernel_id)


class DashboardIdentityProvider(PasswordIdentityProvider):
    """Jupyter's token login (the operator), and personal access links.

    A request with ``?access=SECRET`` is its person's if the link is live (not revoked, not
    expired): a login cookie then carries the link's id, and every later request checks the
    link is still live, so a revoked link stops working at once. A link that does not work is
    refused with a page saying so (403); the browser then keeps a marker (:data:`REFUSED_COOKIE`,
    no secret in it), so that its next page says so again instead of showing the operator's
    token login, whichever of the page's requests met the refusal first.
    """

    async def _get_user(self, handler: tornado.web.RequestHandler) -> User | None:
        from qiwidgets.store import people

        db = config.database()
        secret = handler.get_query_argument(ACCESS_PARAM, None)
        if secret:
            found = people.authenticate_link(db, secret)
            if found is None:
                log.warning("Refused a personal access link that is unknown, revoked or expired "
                            "from %s", handler.request.remote_ip)  # fmt: skip
                return self._refuse(handler)
            link_id, person = found
            user = User(f"{LINK_VISITOR}{link_id}", person.display_name, person.display_name)
            self.set_login_cookie(handler, user)
            handler.clear_cookie(REFUSED_COOKIE)
            return user
        user = await super()._get_user(handler)
        if user is not None and user.username.startswith(LINK_VISITOR):
            link_id = _link_id(user.username)
            if link_id is None or not people.link_is_live(db, link_id):
                return self._refuse(handler)
        if user is None and handler.get_cookie(REFUSED_COOKIE):
            return self._refuse(handler)  # this browser's link was refused: say so again
        return user

    def _refuse(self, handler: tornado.web.RequestHandler) -> None:
        """Nobody, and the page says why (:class:`VisitorPageHandler`); the login cookie goes
        and the refusal's marker stays."""
        self.clear_login_cookie(handler)
        handler.set_cookie(REFUSED_COOKIE, "1", httponly=True, samesite="Strict")
        handler._qi_link_refused = True  # type: ignore[attr-defined]


def _link_id(username: str) -> int | None:
    text = username[len(LINK_VISITOR) :]
    return int(text) if text.isdigit() else None


def visitor_of(user: Any) -> str:
    """What the kernel is told of a page's visitor: ``link:<id>``, ``hub:<name>`` (a
    JupyterHub user), or ``operator``."""
    hub_user = getattr(user, "hub_user", None)
    if hub_user is not None:
        return f"{HUB_VISITOR}{hub_user['name']}"
    name = getattr(user, "username", "") or ""
    return name if name.startswith(LINK_VISITOR) else OPERATOR_VISITOR


def groups_of(user: Any) -> str:
    """The visitor's JupyterHub groups, as the kernel is told them (a JSON list)."""
    hub_user = getattr(user, "hub_user", None) or {}
    return json.dumps(sorted(str(g) for g in hub_user.get("groups") or ()))


class VisitorPageHandler(TornadoVoilaHandler):
    """Voilà's page handler, with the visitor known while their page is made (for the kernel)."""

    @allow_unauthenticated  # Jupyter's login is asked for below, after a refused link is said
    async def get(self, path: str | None = None) -> None:
        if getattr(self, "_qi_link_refused", False):  # a link that does not work: say so
            raise tornado.web.HTTPError(403, reason="Access link not valid")
        # Voilà's page stops its kernel on leaving with a POST carrying the ``_xsrf`` cookie,
        # which nothing set: without it every kernel stayed until culled
        self.xsrf_token  # noqa: B018 - reading it sets the cookie
        token = CURRENT_VISITOR.set(visitor_of(self.current_user))
        groups = CURRENT_GROUPS.set(groups_of(self.current_user))
        try:
            # Voilà's, behind Jupyter's login (@authenticated: a redirect to it returns None)
            await ensure_async(super().get(path))
        finally:
            CURRENT_GROUPS.reset(groups)
            CURRENT_VISITOR.reset(token)


class LogoutHandler(tornado.web.RequestHandler):
    """``/logout``: forget the login cookie and say so (Jupyter's own page failed with 500)."""

    @property
    def base_url(self) -> str:  # the identity provider's cookie path
        return self.settings.get("base_url", "/")

    def get(self) -> None:
        self.settings["identity_provider"].clear_login_cookie(self)
        self.clear_cookie(REFUSED_COOKIE)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Signed out"
            "</title></head><body><main><h1>Signed out</h1><p>You are signed out of the "
            "qiwidgets dashboards. Open your dashboard link again to come back.</p></main>"
            "</body></html>"
        )


#: A template's static file: ``<template>/static/<path>`` with no ``..`` anywhere.
_TEMPLATE_FILE = re.compile(r"[\w.-]+/static/[\w.@+-]+(?:/[\w.@+-]+)*")


class TemplateFileHandler(TemplateStaticFileHandler):
    """Voilà's template files; any other path is 404 (Voilà's handler failed with 500)."""

    def parse_url_path(self, path: str) -> str:
        if not _TEMPLATE_FILE.fullmatch(path) or ".." in path.split("/"):
            raise tornado.web.HTTPError(404)
        return super().parse_url_path(path)


class NotListed(tornado.web.RequestHandler):
    """The served folder is not listed: the contents API answers 404."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


class DashboardVoila(Voila):
    """Voilà with the routes above replaced (see the module's docstring)."""

    visitor_wait = Float(
        120.0,
        config=True,
        help="Seconds a warm kernel has to take its visitor's request once the visitor has "
        "arrived; then it is interrupted and the page says so.",
    )
    authorizer_class = Type(
        default_value=DashboardAuthorizer,
        klass=Authorizer,
        config=True,
        help="What a visitor may reach: their own page's kernel only.",
    )
    identity_provider_class = Type(
        default_value=DashboardIdentityProvider,
        klass=IdentityProvider,
        config=True,
        help="Who a request comes from: the operator's token, or a personal access link.",
    )

    def init_settings(self) -> dict:
        from functools import partial

        from jupyter_server.log import log_request

        settings = super().init_settings()
        # Jupyter's request log: the token shown as [secret], failures with their referrer
        settings["log_function"] = partial(log_request, record_prometheus_metrics=False)
        # Jupyter's error pages link its static files, which Voilà does not serve: rendering
        # them failed (a traceback in the log); ours are plain and say nothing internal
        # (Voilà's page handler looks in its own templates first: ours go first in both)
        for name in ("jinja2_env", "voila_jinja2_env"):
            env = settings[name]
            ours = jinja2.FileSystemLoader(ERROR_TEMPLATES)
            env.loader = jinja2.ChoiceLoader([ours, env.loader])
        return settings

    def init_handlers(self) -> list:
        handlers = super().init_handlers()
        replaced = {
            RequestInfoSocketHandler: VisitorRequestSocket,
            TemplateStaticFileHandler: TemplateFileHandler,
            TornadoVoilaHandler: VisitorPageHandler,
            VoilaShutdownKernelHandler: OwnKernelShutdown,
        }
        hub = getattr(self.identity_provider, "hub_auth", None) is not None
        # the login routes (/login, /logout, the Hub's /oauth_callback) come unprefixed
        login_routes = {p for p, *_ in self.identity_provider.get_handlers()}
        out = []
        for route in handlers:
            pattern, cls, *rest = route
            if pattern in login_routes:
                pattern = url_path_join(self.server_url, pattern)
            if pattern.endswith("/logout") and not hub:  # (the Hub's logs out of the Hub)
                out.append((pattern, LogoutHandler))
                continue
            if cls is VoilaContentsHandler:
                out.append((pattern, NotListed))
                continue
            if cls is TornadoVoilaTreeHandler:  # the root and /voila/tree: no file list
                target = f"{self.base_url}voila/render/team.ipynb"
                out.append((pattern, tornado.web.RedirectHandler, {"url": target}))
                continue
            out.append((pattern, replaced.get(cls, cls), *rest))
        VisitorRequestSocket.kernel_manager = self.kernel_manager
        VisitorRequestSocket.wait_limit = float(self.visitor_wait)
        return out

    def start(self) -> None:
        scrub = ScrubTokens()
        loggers = [logging.getLogger(), self.log, *(
            logging.getLogger(name) for name in ("tornado.access", "tornado.application",
                                                 "tornado.general"))]  # fmt: skip
        for logger in loggers:
            for h in logger.handlers:
                h.addFilter(scrub)
            logger.addFilter(scrub)
        super().start()


# Voilà's page handler hands each visitor's request to the class it imported; it must be ours
# (the route alone is not enough: the hand-over is a class method).
voila_handler.RequestInfoSocketHandler = VisitorRequestSocket

main = DashboardVoila.launch_instance

if __name__ == "__main__":
    # Run with ``python -m``, this file is ``__main__``: a second copy of the module, with a
    # secret of its own. Run the copy Voilà's configuration names (the kernel manager class),
    # so that the keys kernels get and the keys the route checks come from one secret.
    from qiwidgets.dashboards.voila_app import main as _main

    _main()
