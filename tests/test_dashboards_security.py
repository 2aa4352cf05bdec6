"""What a hostile local account or visitor can reach on ``qiwidgets serve`` (docs/security.md).

Served tests run the real command (Voilà, kernels) on the sample store; the visitor's page is
opened in Debian's Chromium. The route of a warm kernel (``/voila/query/<kernel id>``) is the
hole a probe found in Voilà: anyone who knew a kernel id (from ``ps``) could take the kernel's
place and receive the next visitor's request, token included, while the visitor's page hung.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qiwidgets.dashboards import runtime, server, voila_app
from qiwidgets.dashboards.harness import is_kernel

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNEL_ID = re.compile(r"Kernel started: ([0-9a-f]{8}-[0-9a-f-]{27})")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url: str, method: str = "GET") -> int:
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(url, method=method, data=b"{}" if method != "GET" else None)
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _try_websocket(url: str, headers: dict | None = None, wait: float = 0) -> str:
    """What a websocket client gets: 'refused 403', or the first message (or 'nothing')."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(url, additional_headers=headers or {}, open_timeout=10) as ws:
            try:
                return ws.recv(timeout=wait)
            except TimeoutError:
                return "nothing"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


def _kernel_ids(served) -> list[str]:
    return KERNEL_ID.findall("".join(served.output))


def _wait_for_warm_kernels(served, n: int = 2) -> list[str]:
    assert served.wait_for_output("Kernel pool of", n), "the warm kernels never got ready"
    deadline = time.monotonic() + 60
    while len(_kernel_ids(served)) < n:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # the pool is "filled" when the kernels run their first cells: wait until both wait
    time.sleep(5)
    return _kernel_ids(served)


def test_no_one_but_a_warm_kernel_can_take_its_visitor_s_request(server, visit):
    """With no token and no ``Origin`` (not a browser), or from a browser, or with the token
    but without the kernel's key, the warm kernels' route refuses the connection; a visitor
    arriving afterwards gets their page, and nobody else got their request."""
    import psutil

    ids = _wait_for_warm_kernels(server)
    base = f"ws://127.0.0.1:{server.port}/voila/query"
    stolen: dict[str, str] = {}
    for kid in ids:
        assert _try_websocket(f"{base}/{kid}") == "refused 403"
        assert _try_websocket(f"{base}/{kid}", {"Origin": server.base}) == "refused 403"
        assert _try_websocket(f"{base}/{kid}?token={server.token}") == "refused 403"
        wrong = {runtime.VISITOR_KEY_HEADER: "0" * 64}
        assert _try_websocket(f"{base}/{kid}", wrong) == "refused 403"

    def thief(kid: str) -> None:  # keeps trying while the visitor arrives
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and kid not in stolen:
            got = _try_websocket(f"{base}/{kid}", wait=0.5)
            if got not in ("refused 403", "nothing"):
                stolen[kid] = got

    thieves = [threading.Thread(target=thief, args=(k,), daemon=True) for k in ids]
    for t in thieves:
        t.start()
    v = visit()
    page = v.open(server.url("team.ipynb", team="W05"), charts=1)
    assert "Ward 5" in page.locator(".qi-team-name").inner_text()
    for t in thieves:
        t.join(40)
    assert stolen == {}
    # the ids a thief would need are in no command line and no socket name
    secrets_seen = [*ids, server.token]
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        assert not any(s in line for s in secrets_seen), line
    unix_sockets = Path("/proc/net/unix").read_text()
    assert not any(kid in unix_sockets for kid in ids)


def _kernel_environments(served) -> list[dict[str, str]]:
    import psutil

    envs = []  # (a page left is shut down: its kernel may be gone or a zombie by now)
    for p in psutil.Process(served.proc.pid).children(recursive=True):
        try:
            if is_kernel(p.cmdline()):
                envs.append(p.environ())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return envs


def _assert_no_token_and_a_key_each(envs: list[dict[str, str]], token: str) -> None:
    for env in envs:
        assert not [name for name, value in env.items() if token in value]
    keys = [env[runtime.VISITOR_KEY_ENV] for env in envs]
    assert len(set(keys)) == len(keys)


def test_the_visitor_s_token_reaches_no_kernel(server, store, visit, tmp_path):
    """A kernel gets the visitor's request (their ``?team=``) without the token, whether it was
    warm or started for them (a server with no warm kernels); the token is in no kernel's
    environment, and each kernel has a key of its own."""
    from qiwidgets.dashboards.harness import ServedDashboards

    visit().open(server.url("team.ipynb", team="W03"), charts=1)
    envs = _kernel_environments(server)
    assert len(envs) >= 2  # the page's kernel and the warm ones
    _assert_no_token_and_a_key_each(envs, server.token)
    with ServedDashboards(store, pool=0, workdir=tmp_path / "cold") as cold:
        visit().open(cold.url("team.ipynb", team="W04"), charts=1)
        envs = _kernel_environments(cold)
        assert [env.get("QUERY_STRING") for env in envs] == ["team=W04"]
        assert "token" not in envs[0]["VOILA_REQUEST_URL"]
        _assert_no_token_and_a_key_each(envs, cold.token)


#: Every route a visitor can type, with and without the token: none may answer 500.
ROUTES = [
    "/", "/logout", "/login", "/voila/tree", "/voila/tree/team.ipynb", "/voila/api/contents",
    "/voila/api/contents/team.ipynb", "/voila/render/team.ipynb", "/voila/render/nope.ipynb",
    "/voila/render/../x", "/voila/templates/..", "/voila/templates/../..",
    "/voila/templates/qiwidgets/../../x", "/voila/templates/%2e%2e/x",
    "/voila/templates/qiwidgets/static/nothing.js", "/voila/static/../../etc/passwd",
    "/voila/static/voila.js", "/voila/labextensions/..%2f..%2f", "/voila/files/team.ipynb",
    "/voila/api/themes/x", "/voila/api/shutdown/x",
    "/voila/query/00000000-0000-0000-0000-000000000000",
    "/api/kernels", "/api/kernels/00000000-0000-0000-0000-000000000000",
    "/api/kernels/00000000-0000-0000-0000-000000000000/channels", "/api/contents",
    "/api/terminals", "/tree", "/lab", "/files/team.ipynb", "/favicon.ico", "/nothing",
]  # fmt: skip


def test_no_route_fails_and_no_token_is_logged(server):
    """Every route above, with every method, with and without the token: no 500, no traceback
    in the log, and the token never in a log line (only in the addresses serve prints for its
    operator). The file tree is never listed."""
    before = len(server.output)
    for path in ROUTES:
        for method in ("GET", "POST", "PUT", "DELETE"):
            for query in ("", f"?token={server.token}", "?token=wrong-token-0123456789"):
                code = _status(server.base + path + query, method)
                assert code < 500, (method, path, query, code)
    # the root and the tree send to the team dashboard; nothing lists the served folder
    with urllib.request.urlopen(f"{server.base}/?token={server.token}", timeout=120) as resp:
        assert resp.url.split("?")[0].endswith("/voila/render/team.ipynb")
    assert _status(f"{server.base}/voila/api/contents?token={server.token}") == 404
    with urllib.request.urlopen(f"{server.base}/logout?token={server.token}", timeout=60) as resp:
        assert "Signed out" in resp.read().decode()
    time.sleep(1)  # the last log lines
    log = "".join(server.output[before:])
    assert "Traceback" not in log, log[-4000:]
    assert "[secret]" in log  # the requests were logged, with the token hidden
    printed = [line for line in server.output if "dashboard:" in line]  # serve's own addresses
    others = [line for line in server.output if line not in printed]
    assert not [line for line in others if server.token in line]
    assert not [line for line in others if "wrong-token-0123456789" in line]


def test_a_logged_in_page_s_kernel_socket_needs_the_login(server, visit):
    """The kernel websocket of an open page (``/api/kernels/<id>/channels``) refuses a client
    without the token, even with the kernel id."""
    v = visit()
    v.open(server.url("team.ipynb", team="W02"), charts=1)
    ids = _kernel_ids(server)
    for kid in ids:
        got = _try_websocket(f"ws://127.0.0.1:{server.port}/api/kernels/{kid}/channels")
        assert got == "refused 403", got


# --- the visitor-request route on its own (no Voilà) -----------------------------------------


class _Kernels:
    """Stands in for Voilà's kernel manager: which kernels exist, which were interrupted."""

    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)
        self.interrupted: list[str] = []

    def __contains__(self, kid: str) -> bool:
        return kid in self.ids

    async def interrupt_kernel(self, kid: str) -> None:
        self.interrupted.append(kid)


@pytest.fixture
def request_route():
    """The visitor-request route served by Tornado in a thread, on a free port."""
    import tornado.httpserver
    import tornado.ioloop
    import tornado.web

    from qiwidgets.dashboards.harness import free_port

    port = free_port()
    started = threading.Event()
    holder: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = tornado.web.Application(
            [(r"/voila/query/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)", voila_app.VisitorRequestSocket)]
        )
        srv = tornado.httpserver.HTTPServer(app)
        srv.listen(port, "127.0.0.1")
        holder["loop"] = loop
        started.set()
        loop.run_forever()
        srv.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    loop = holder["loop"]

    def call(fn, *args):
        done = threading.Event()
        box: list = []

        def go():
            box.append(fn(*args))
            done.set()

        loop.call_soon_threadsafe(go)
        done.wait(10)
        return box[0]

    yield {"port": port, "call": call}
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    voila_app.VisitorRequestSocket._waiters.clear()
    voila_app.VisitorRequestSocket._cache.clear()
    voila_app.VisitorRequestSocket._overdue.clear()


def _waiting_kernel(port: int, kid: str, key: str) -> subprocess.Popen:
    """A process doing what a warm kernel does: ``runtime.wait_for_visitor()``, then print
    the request it got (or what stopped it)."""
    code = (
        "import json, os, sys\n"
        "from qiwidgets.dashboards import runtime\n"
        "try:\n"
        "    runtime.wait_for_visitor()\n"
        "except runtime.VisitorLate:\n"
        "    print('LATE'); sys.exit(0)\n"
        "except RuntimeError as exc:\n"
        "    print('REFUSED', exc); sys.exit(0)\n"
        "print('GOT', os.environ.get('QUERY_STRING'))\n"
    )
    env = {**os.environ, "VOILA_PREHEAT": "True", "VOILA_KERNEL_ID": kid, "VOILA_APP_PORT":
           str(port), "VOILA_SERVER_URL": "/", runtime.VISITOR_KEY_ENV: key}  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip


def _wait_for_waiter(kid: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while kid not in voila_app.VisitorRequestSocket._waiters:
        assert time.monotonic() < deadline, "the kernel never connected"
        time.sleep(0.05)


def test_a_warm_kernel_gets_its_visitor_s_request_without_the_token(request_route):
    kid = "11111111-2222-3333-4444-555555555555"
    voila_app.VisitorRequestSocket.kernel_manager = _Kernels(kid)
    voila_app.VisitorRequestSocket.wait_limit = 30.0
    kernel = _waiting_kernel(request_route["port"], kid, voila_app.visitor_key(kid))
    _wait_for_waiter(kid)
    request_route["call"](
        voila_app.VisitorRequestSocket.send_updates,
        {"kernel_id": kid, "payload": {"QUERY_STRING": "team=W05&token=SECRET-TOKEN-0001"}},
    )
    out, _ = kernel.communicate(timeout=30)
    assert out.strip() == "GOT team=W05"
    time.sleep(0.2)  # the acknowledgement
    assert kid not in voila_app.VisitorRequestSocket._overdue  # it took it in time
    assert voila_app.VisitorRequestSocket.kernel_manager.interrupted == []


def test_a_kernel_with_a_wrong_key_is_refused(request_route):
    kid = "11111111-2222-3333-4444-666666666666"
    kernel = _waiting_kernel(request_route["port"], kid, voila_app.visitor_key(kid[::-1]))
    out, _ = kernel.communicate(timeout=60)
    assert out.startswith("REFUSED") and "403" in out


def test_a_request_that_is_not_taken_in_time_interrupts_the_kernel(request_route):
    """The limit starts when the visitor arrives: a kernel that has not taken the request
    (it is not connected) is interrupted after ``wait_limit`` seconds, and a waiting kernel
    that is interrupted tells its page it was too late."""
    kid = "11111111-2222-3333-4444-777777777777"
    kernels = _Kernels(kid)
    voila_app.VisitorRequestSocket.kernel_manager = kernels
    voila_app.VisitorRequestSocket.wait_limit = 0.5
    request_route["call"](
        voila_app.VisitorRequestSocket.send_updates,
        {"kernel_id": kid, "payload": {"QUERY_STRING": "team=W01"}},
    )
    deadline = time.monotonic() + 10
    while not kernels.interrupted:
        assert time.monotonic() < deadline, "the kernel was never interrupted"
        time.sleep(0.05)
    assert kernels.interrupted == [kid]
    assert kid not in voila_app.VisitorRequestSocket._cache  # the request is not kept
    # an interrupted wait (SIGINT, as jupyter_client interrupts a kernel) reads as "late"
    other = "11111111-2222-3333-4444-888888888888"
    kernel = _waiting_kernel(request_route["port"], other, voila_app.visitor_key(other))
    _wait_for_waiter(other)
    kernel.send_signal(signal.SIGINT)
    out, _ = kernel.communicate(timeout=30)
    assert out.strip() == "LATE"


def test_a_late_request_shows_a_plain_message(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "True")

    def late() -> None:
        raise runtime.VisitorLate

    monkeypatch.setattr(runtime, "wait_for_visitor", late)
    page = runtime.TeamPage()
    page.wait()
    shown = page.open()
    assert "too busy to open your page in time" in shown.value and "qi-failed" in shown.value


# --- the token on the command line and in files ----------------------------------------------


def test_the_token_never_goes_on_a_command_line(capsys):
    from qiwidgets import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--token", "a-token-on-the-command-line"])
    assert info.value.code == 2
    assert "--token-file" in capsys.readouterr().err


def test_a_token_file_is_made_private_and_kept_between_runs(tmp_path, monkeypatch):
    monkeypatch.delenv(server.TOKEN_ENV, raising=False)
    path = tmp_path / "token"
    first = server.token_from(path)
    assert len(first) >= 16 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server.token_from(path) == first  # the same links work after a restart
    monkeypatch.setenv(server.TOKEN_ENV, "from-the-environment-000")
    assert server.token_from(None) == "from-the-environment-000"
    path.chmod(0o644)
    with pytest.raises(server.ServeError, match="chmod 600"):
        server.token_from(path)
    path.chmod(0o600)
    path.write_text("\n")
    with pytest.raises(server.ServeError, match="empty"):
        server.token_from(path)


def test_log_lines_show_no_token():
    import logging

    record = logging.LogRecord("tornado.access", logging.WARNING, __file__, 1,
                               "%d %s", (404, "GET /x?a=1&token=abc123&b=2"), None)  # fmt: skip
    assert voila_app.ScrubTokens().filter(record)
    assert record.getMessage() == "404 GET /x?a=1&token=[secret]&b=2"
    assert voila_app.drop_secret_params("team=W01&token=abc&x=1") == "team=W01&x=1"
    assert voila_app.drop_secret_from_url("http://h/p?token=a&team=W02") == "http://h/p?team=W02"
