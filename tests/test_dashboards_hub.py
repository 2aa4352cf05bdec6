"""The dashboards behind a real JupyterHub (issue H): ``qiwidgets serve --hub`` as a Hub-managed
service. The Hub logs people in; their Hub name and groups reach the page's kernel from the
server, never from the page, and the store decides what each may read and save.

A real JupyterHub (the ``hub`` extra) with its real proxy (configurable-http-proxy, from npm:
``make hub-deps``, part of ``make test``), a throwaway login (DummyAuthenticator), the sample
store and Debian's Chromium.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from browser import PAGE_TIMEOUT, Visit

from qiwidgets.dashboards.harness import is_kernel

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
#: Where ``make hub-deps`` puts JupyterHub's proxy (npm's configurable-http-proxy).
CHP = Path(os.environ.get("QI_TEST_CHP", ROOT / ".cache" / "hub" / "node_modules" / ".bin" /
                          "configurable-http-proxy"))  # fmt: skip
PASSWORD = "hub-test-password"
SERVICE = "qi-dashboards"
#: Hub users and their groups: qi:<team>:<role> and qi:<programme>:<role> grant roles; the
#: "dashboards" group may use the service at all (a Hub role's scope).
GROUPS = {
    "qi:W05:member": ["alice"],
    "qi:FALLS:programme_lead": ["carol"],
    "dashboards": ["alice", "bob", "carol", "dave"],
}


def _free_port() -> int:
    from qiwidgets.dashboards.harness import free_port

    return free_port()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class Hub:
    """A JupyterHub run as a subprocess with the dashboards as its managed service."""

    def __init__(self, store: str, folder: Path):
        self.store, self.folder = store, folder
        self.port, self.hub_port, self.api_port, self.service_port = (
            _free_port(), _free_port(), _free_port(), _free_port())  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        self.service = f"{self.base}/services/{SERVICE}/voila/render/"
        self.log = folder / "hub.log"

    def config(self) -> str:
        serve = [sys.executable, "-m", "qiwidgets.cli", "serve", "--hub", "--db", self.store,
                 "--pool", "1", "--cache-dir", str(self.folder / "charts")]  # fmt: skip
        users = sorted({u for members in GROUPS.values() for u in members} | {"eve"})
        return textwrap.dedent(f"""
            c = get_config()  # noqa: F821
            c.JupyterHub.ip = "127.0.0.1"
            c.JupyterHub.port = {self.port}
            c.JupyterHub.hub_port = {self.hub_port}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.api_port}"
            c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
            c.JupyterHub.authenticator_class = "dummy"
            c.DummyAuthenticator.password = {PASSWORD!r}
            c.Authenticator.allowed_users = set({users!r})
            c.JupyterHub.load_groups = {{g: {{"users": u}} for g, u in {GROUPS!r}.items()}}
            c.JupyterHub.db_url = "sqlite:///{self.folder}/jupyterhub.sqlite"
            c.JupyterHub.cookie_secret_file = "{self.folder}/cookie_secret"
            c.JupyterHub.pid_file = "{self.folder}/jupyterhub.pid"
            c.JupyterHub.default_url = "/services/{SERVICE}/voila/render/team.ipynb"
            c.JupyterHub.services = [{{
                "name": {SERVICE!r},
                "url": "http://127.0.0.1:{self.service_port}",
                "oauth_no_confirm": True,
                "command": {serve!r},
                "cwd": {str(self.folder)!r},
            }}]
            c.JupyterHub.load_roles = [{{
                "name": "dashboard-users",
                "scopes": ["access:services!service={SERVICE}"],
                "groups": ["dashboards"],
            }}]
        """)

    def start(self) -> Hub:
        path = self.folder / "jupyterhub_config.py"
        path.write_text(self.config(), encoding="utf-8")
        hub = Path(sys.executable).parent / "jupyterhub"
        self.out = open(self.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(hub), "-f", str(path)], cwd=self.folder,
                                     stdout=self.out, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 240
        ready = f"{self.base}/services/{SERVICE}/voila/static/voila.js"
        while _status(ready) != 200:  # the service answers through the Hub's proxy
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            assert time.monotonic() < deadline, self.log.read_text()[-4000:]
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def hub(store, tmp_path_factory):
    if not CHP.exists():
        pytest.fail(f"JupyterHub's proxy is missing ({CHP}): run `make hub-deps` (npm install "
                    "configurable-http-proxy), which `make test` does.", pytrace=False)  # fmt: skip
    from qiwidgets.store import people
    from qiwidgets.store.db import dispose_engines

    db = f"sqlite:///{store}"
    people.add_person(db, "dave", "Dave Price")  # a role from the store, not from a group
    people.grant(db, "dave", "viewer", team="W02")
    dispose_engines()
    running = Hub(db, tmp_path_factory.mktemp("hub")).start()
    yield running
    running.stop()


def logged_in(browser, hub: Hub, user: str) -> Visit:
    v = Visit(browser)
    page = v.page
    page.goto(f"{hub.base}/hub/login", timeout=PAGE_TIMEOUT)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    return v


def team_name(page) -> str:
    return page.locator(".qi-team-name").inner_text()


def test_a_hub_user_s_group_gives_their_team_and_their_saves_are_signed(hub, browser, store):
    from qiwidgets.store import people, repo

    v = logged_in(browser, hub, "alice")
    try:
        page = v.open(hub.service + "team.ipynb?team=W02", charts=1)
        assert team_name(page) == "Ward 5 (Respiratory)"  # W02 is not hers
        page.get_by_text("There is no team 'W02' that you can open").wait_for()
        options = page.locator(".qi-team-dashboard select").first.locator("option")
        assert [o.replace("\xa0", " ") for o in options.all_inner_texts()] == [
            "Ward 5 (Respiratory)"]  # fmt: skip
        page.locator(".lm-TabBar-tab", has_text="Reflections").first.click()
        panel = page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")
        words = f"Saved through JupyterHub ({uuid.uuid4().hex[:8]})"
        panel.locator("textarea[placeholder='What happened?']").fill(words)
        panel.get_by_role("button", name="Save reflection").click()
        panel.locator(".qi-status-ok[data-qi-saved]").wait_for(timeout=60_000)
        db = f"sqlite:///{store}"
        (saved,) = [r for r in repo.list_reflections(db, "W05") if r.what_happened == words]
        assert saved.updated_by_id == people.get_person(db, "alice").id
        # the programme page is not hers
        page = v.open(hub.service + "programme.ipynb", charts=0)
        page.locator(".qi-refused").get_by_text("that is for the programme lead").wait_for()
    finally:
        v.close()


def test_roles_come_from_the_store_and_from_hub_groups(hub, browser):
    """carol's group makes her the programme lead; dave's viewer role is in the store; bob may
    use the service but has no role; eve is not let in by the Hub at all."""
    carol = logged_in(browser, hub, "carol")
    try:
        page = carol.open(hub.service + "programme.ipynb", charts=1)
        text = page.locator(".qi-programme-dashboard").inner_text()
        assert "Ward 1 (Acute Medicine)" in text and "Ward 12 (Acute Medical Unit)" in text
    finally:
        carol.close()
    dave = logged_in(browser, hub, "dave")
    try:
        page = dave.open(hub.service + "team.ipynb", charts=1)
        assert team_name(page) == "Ward 2 (Care of Older People)"
        page.get_by_text("saving them is for the team's members and lead").wait_for()
    finally:
        dave.close()
    bob = logged_in(browser, hub, "bob")
    try:
        page = bob.open(hub.service + "team.ipynb", charts=0)
        page.locator(".qi-refused").get_by_text("access to any team yet").wait_for()
    finally:
        bob.close()
    eve = logged_in(browser, hub, "eve")
    try:
        response = eve.page.goto(hub.service + "team.ipynb")
        assert response.status == 403
    finally:
        eve.close()


def test_no_kernel_holds_the_hub_s_token(hub):
    """The service holds the Hub's API token; its kernels (which run the pages) do not."""
    import psutil

    serve = [p for p in psutil.process_iter(["cmdline"])
             if "--hub" in (p.info["cmdline"] or []) and "serve" in p.info["cmdline"]]  # fmt: skip
    assert len(serve) == 1
    token = serve[0].environ()["JUPYTERHUB_API_TOKEN"]
    kernels = [k for k in serve[0].children(recursive=True) if is_kernel(k.cmdline())]
    assert kernels
    for k in kernels:
        assert token not in json.dumps(k.environ())
        assert not [n for n in k.environ() if n.startswith(("JUPYTERHUB_", "JPY_API_TOKEN"))]
