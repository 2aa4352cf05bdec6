"""The dashboards in a real browser: ``qiwidgets serve`` (real Voilà and kernels) on a free
port with the sample programme in a temporary SQLite store, driven by Debian's Chromium
through Playwright. Screenshots go to test-artifacts/dashboards/.

Waits are on what the page shows (widget selectors, a drawn chart's ``data-drawn="yes"``,
a status message), never on fixed sleeps; nothing here asserts a duration.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

from browser import PAGE_TIMEOUT, screenshot
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from qiwidgets.dashboards.harness import is_kernel


def dashboard(page):
    return page.locator(".qi-team-dashboard")


def open_tab(page, title: str):
    page.locator(".lm-TabBar-tab", has_text=title).first.click()
    panel = page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")
    return panel


def dropdown(scope, label: str):
    return scope.locator(f".widget-dropdown:has(label:text-is('{label}')) select").first


def pick_newest_reflection(pick) -> list[str]:
    """Select the newest existing reflection; the tab fills its list after it appears, so
    read the options again until the choice sticks. Returns the option labels."""
    for _ in range(30):
        pick.locator("option").nth(1).wait_for(state="attached")
        labels = pick.locator("option").evaluate_all("os => os.map(o => o.textContent)")
        try:
            pick.select_option(label=labels[1], timeout=5_000)
            return labels
        except PlaywrightTimeoutError:
            continue
    raise AssertionError(f"could not pick a reflection from {labels!r}")


def status(scope, kind: str):
    return scope.locator(f".qi-status-{kind}")


# --- access -----------------------------------------------------------------------------------


def test_without_the_token_the_dashboards_are_refused(server, visit):
    for page in ("team.ipynb", "programme.ipynb"):
        req = urllib.request.Request(server.url(page, token=False))
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(req, timeout=30)
        assert info.value.code in (302, 401, 403)
        if info.value.code == 302:
            assert "/login" in info.value.headers["Location"]
    # a wrong token is refused too
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.build_opener(_NoRedirect).open(
            server.url("team.ipynb", token=False) + "?token=wrong-token-000000000", timeout=30
        )
    assert info.value.code in (302, 401, 403)
    # in a browser: the login page, no dashboard, no kernel output
    v = visit()
    v.page.goto(server.url("team.ipynb", token=False), timeout=PAGE_TIMEOUT)
    assert "/login" in v.page.url
    assert v.page.locator(".qi-team-dashboard").count() == 0
    assert v.hosts() <= {f"127.0.0.1:{server.port}"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_only_the_dashboards_are_served(server):
    opener = urllib.request.build_opener()
    cookie_url = server.url("team.ipynb")  # token in the URL: allowed
    for path in ("voila/render/../voila.json", "voila/files/voila.json", "voila/render/x.ipynb",
                 "voila/files/team.ipynb", "voila/render/charts"):  # fmt: skip
        url = f"{server.base}/{path}?token={server.token}"
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(url, timeout=60)
        assert info.value.code in (403, 404), path
    assert cookie_url.startswith(server.base)
    # nothing lists the served folder (the root sends to the team dashboard)
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(f"{server.base}/voila/api/contents?token={server.token}", timeout=60)
    assert info.value.code == 404


# --- the team dashboard -----------------------------------------------------------------------


def test_team_dashboard_renders_offline_with_charts(server, visit):
    v = visit()
    page = v.open(server.url("team.ipynb", team="W01"), charts=3)
    board = dashboard(page)
    assert "Ward 1" in board.locator(".qi-team-name").inner_text()
    assert "Our aim:" in board.inner_text()
    assert board.locator(".qi-card").count() >= 3
    # each measure card: icons (inline SVG), a drawn chart, a reading
    for card in board.locator(".qi-card").all():
        assert card.locator(".qi-verdict svg").count() >= 1
        assert (
            card.locator(
                ".qi-vl[data-drawn='yes'] svg .mark-symbol, .qi-vl[data-drawn='yes'] svg path"
            ).count()
            > 3
        )
        assert "Reading" in card.locator(".qi-reading").inner_text()
    html = page.content()
    assert "TeamPage.prepare" not in html and "page.open()" not in html  # sources stripped
    # the page as served asks for Voilà's script before the cells (a cold kernel runs them
    # meanwhile)
    served = v.document.text()
    assert served.index("/voila.js") < served.index("cell-index=")
    assert v.hosts() == {f"127.0.0.1:{server.port}"}, v.hosts()
    # of the JupyterLab extensions installed, only the widget manager's are loaded
    loaded = {u.split("/labextensions/")[1].rsplit("/static/", 1)[0]
              for u in v.requests if "/labextensions/" in u}  # fmt: skip
    assert loaded == {"@jupyter-widgets/jupyterlab-manager",
                      "@voila-dashboards/widgets-manager8"}, loaded  # fmt: skip
    assert not v.errors, v.errors
    screenshot(page, "team.png")


def test_edits_are_saved_and_still_there_after_a_reload(server, visit, store):
    from qiwidgets.store import repo

    v = visit()
    page = v.open(server.url("team.ipynb"), charts=1)
    board = dashboard(page)
    dropdown(board, "Team").select_option(label="Ward 5 (Respiratory)")
    page.wait_for_function(
        "() => document.querySelector('.qi-team-name').textContent.includes('Ward 5')"
    )
    v.wait_charts(3)

    # change the baseline of the first chart, with a reason
    panel = open_tab(page, "Explore a chart")
    panel.locator(".qi-vl[data-drawn='yes'] svg").first.wait_for()
    dropdown(panel, "Record").select_option(label="The baseline ends here")
    at = dropdown(panel, "At")
    values = at.locator("option").evaluate_all("os => os.map(o => o.textContent)")
    at.select_option(label=values[14])
    panel.locator("textarea[placeholder^='The reason']").fill(
        "Browser test: the new falls policy started after 15 months."
    )
    panel.get_by_role("button", name="Record", exact=True).click()
    status(panel, "ok").filter(has_text="baseline").wait_for()

    # a PDSA cycle
    panel = open_tab(page, "PDSA cycles")
    panel.locator(".widget-text:has(label:text-is('Title')) input").fill("Browser test cycle")
    panel.locator(".widget-textarea:has(label:text-is('Prediction')) textarea").fill(
        "Fewer falls at night"
    )
    panel.get_by_role("button", name="Save cycle").click()
    status(panel, "ok").filter(has_text="Browser test cycle").wait_for()

    # a reflection
    panel = open_tab(page, "Reflections")
    panel.locator("textarea[placeholder='What happened?']").fill("Browser test reflection text")
    panel.get_by_role("button", name="Save reflection").click()
    status(panel, "ok").filter(has_text="Reflection saved").wait_for()

    # in the store at once
    team = repo.get_team(store, "W05")
    notes = repo.list_annotations(store, team.id)
    assert any(a.kind == "baseline" and "falls policy" in (a.reason or "") for a in notes)
    assert any(c.title == "Browser test cycle" for c in repo.list_pdsa_cycles(store, team.id))
    assert any(r.what_happened == "Browser test reflection text"
               for r in repo.list_reflections(store, team.id))  # fmt: skip

    # reload (deep link): everything is still there
    page = v.open(server.url("team.ipynb", team="W05"), charts=3)
    panel = open_tab(page, "Explore a chart")
    panel.locator(".qi-vl[data-drawn='yes'] svg").first.wait_for()
    # the list of notes arrives after the chart: wait for it rather than read it at once
    panel.get_by_text("falls policy started").first.wait_for()
    assert "Baseline" in panel.inner_text()
    panel = open_tab(page, "PDSA cycles")
    panel.get_by_text("Browser test cycle").first.wait_for()
    panel = open_tab(page, "Reflections")
    panel.locator(".qi-reflections").get_by_text("Browser test reflection text").wait_for()
    assert not v.errors, v.errors
    assert v.hosts() == {f"127.0.0.1:{server.port}"}


XSS = ('<script>window.__qi_xss = 1; alert("xss")</script>'
       '<img src="x-qi-xss" onerror="window.__qi_xss = 2; alert(\'xss\')">')  # fmt: skip


def test_a_reflection_with_markup_shows_as_text_and_runs_nothing(server, visit, store):
    from qiwidgets.store import repo

    v = visit()
    page = v.open(server.url("team.ipynb", team="W08"), charts=1)
    panel = open_tab(page, "Reflections")
    panel.locator("textarea[placeholder='What happened?']").fill(XSS)
    panel.locator(".widget-checkbox:has-text('May generalise') input").check()
    panel.locator(".widget-checkbox:has-text('Share with the programme') input").check()
    panel.get_by_role("button", name="Save reflection").click()
    status(panel, "ok").filter(has_text="Reflection saved").wait_for()
    history = panel.locator(".qi-reflections")
    history.get_by_text("<script>", exact=False).first.wait_for()
    assert "onerror" in history.inner_text()
    assert page.evaluate("() => window.__qi_xss") is None
    assert page.locator(".qi-reflections script, .qi-reflections img").count() == 0
    saved = [r for r in repo.list_reflections(store, "W08") if r.what_happened == XSS]
    assert saved and saved[0].generalisable and saved[0].shared

    # the programme dashboard lists it (shared, generalisable) as text too
    w = visit()
    prog = w.open(server.url("programme.ipynb"), charts=2)
    shared = prog.locator(".qi-shared-learning")
    assert "<script>" in shared.inner_text()
    assert prog.evaluate("() => window.__qi_xss") is None
    assert prog.locator(".qi-shared-learning script, .qi-shared-learning img").count() == 0
    for visit_ in (v, w):
        assert not visit_.dialogs, visit_.dialogs
        assert not any("x-qi-xss" in u for u in visit_.requests)


def two_visitors_edit_the_same_reflection(served, visit, db: str, team: str) -> None:
    """Two browser contexts save the newest reflection of ``team``: the second gets the
    stale-edit message and keeps its words, the first's words are in the store ``db``."""
    from qiwidgets.store import repo

    first, second = visit(), visit()
    pages = []
    for v in (first, second):
        page = v.open(served.url("team.ipynb", team=team), charts=1)
        panel = open_tab(page, "Reflections")
        pick = dropdown(panel, "Reflection")
        labels = pick_newest_reflection(pick)
        panel.locator("textarea[placeholder='What worked well?']").wait_for()
        pages.append(panel)
    target_label = labels[1]
    pages[0].locator("textarea[placeholder='What worked well?']").fill("First visitor's words")
    pages[1].locator("textarea[placeholder='What worked well?']").fill("Second visitor's words")
    pages[0].get_by_role("button", name="Save reflection").click()
    status(pages[0], "ok").filter(has_text="Reflection saved").wait_for()
    pages[1].get_by_role("button", name="Save reflection").click()
    conflict = status(pages[1], "conflict")
    conflict.wait_for()
    assert conflict.inner_text().strip()
    # nothing lost: the second visitor's words are still in the form, the first's in the store
    assert (
        pages[1].locator("textarea[placeholder='What worked well?']").input_value()
        == "Second visitor's words"
    )
    date = target_label.split(":")[0]
    mine = [r for r in repo.list_reflections(db, team) if r.date.isoformat() == date]
    assert any(r.what_worked == "First visitor's words" for r in mine)
    assert not any(r.what_worked == "Second visitor's words" for r in mine)


def test_two_visitors_editing_the_same_reflection(server, visit, store):
    two_visitors_edit_the_same_reflection(server, visit, store, "W07")


def test_two_visitors_on_a_postgresql_store(pg_server, visit, tmp_path):
    """The store of a multi-user deployment (docs/deployment.md) behind real pages: served on
    a real PostgreSQL server, a saved edit is there at once and a stale edit is refused."""
    from qiwidgets.dashboards.harness import ServedDashboards
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    url = pg_server.create_database()
    try:
        init_db(url)
        load_sample(url)
        dispose_engines()
        with ServedDashboards(url, workdir=tmp_path / "pg") as served:
            two_visitors_edit_the_same_reflection(served, visit, url, "W06")
            assert "Traceback" not in "".join(served.output)
    finally:
        dispose_engines()
        pg_server.drop_database(url)


def test_an_unknown_team_in_the_link_says_so(server, visit):
    v = visit()
    page = v.open(server.url("team.ipynb", team="NOPE<b>"), charts=1)
    warning = status(dashboard(page), "warning")
    warning.wait_for()
    assert "There is no team 'NOPE<b>'" in warning.inner_text()


# --- the programme dashboard ------------------------------------------------------------------


def test_programme_dashboard(server, visit):
    v = visit()
    page = v.open(server.url("programme.ipynb"), charts=2)
    board = page.locator(".qi-programme-dashboard")
    rows = board.locator(".qi-glance tbody tr")
    assert rows.count() == 12
    codes = rows.evaluate_all("rs => rs.map(r => r.dataset.team)")
    assert codes == sorted(codes)  # listed by team, never ranked
    assert board.locator(".qi-glance svg").count() >= 12  # icons per shared measure
    assert board.locator(".qi-funnel .qi-vl[data-drawn='yes'] svg").count() == 1
    assert board.locator(".qi-small-multiples .qi-vl[data-drawn='yes'] svg").count() == 1
    assert "Bright spots" in board.inner_text()
    assert v.hosts() == {f"127.0.0.1:{server.port}"}, v.hosts()
    assert not v.errors, v.errors
    screenshot(page, "programme.png")
    # each team links to its own dashboard
    board.locator("a.qi-team-link", has_text="Ward 3 (Stroke)").first.click()
    page.wait_for_selector(".qi-team-dashboard .qi-team-name", timeout=PAGE_TIMEOUT)
    page.wait_for_function(
        "() => document.querySelector('.qi-team-name').textContent.includes('Ward 3')",
        timeout=PAGE_TIMEOUT,
    )
    assert "team=W03" in page.url


def test_server_log_has_no_traceback(server):
    """No kernel or server error was logged while the pages above were used."""
    text = "".join(server.output)
    assert "Traceback (most recent call last)" not in text, text[-4000:]


def test_the_operator_s_terminal_stays_clean_and_kernels_ignore_the_account_s_ipython(
        store, tmp_path):  # fmt: skip
    """Kernels talk over Unix sockets (no "running over TCP without encryption" warning for
    each kernel); stopping the server while warm kernels wait for visitors prints no
    traceback; a start-up script in the account's IPython profile does not run in the
    dashboards' kernels (they have a profile of their own)."""

    from qiwidgets.dashboards.harness import ServedDashboards

    served = ServedDashboards(store, workdir=tmp_path / "quiet")
    startup = served.env()["IPYTHONDIR"] + "/profile_default/startup"
    Path(startup).mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "startup-script-ran"
    Path(startup, "00-marker.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with served:
        assert served.wait_for_output("Kernel pool of", 2), "the warm kernels never got ready"
    text = "".join(served.output)
    assert text.count("Kernel shutdown") >= 2, text[-3000:]  # both waiting kernels were stopped
    assert "Traceback" not in text, text[-3000:]
    assert "without encryption" not in text, text[-3000:]
    assert not marker.exists(), "the account's IPython start-up script ran in a dashboard kernel"


@pytest.mark.parametrize("how", ["SIGHUP", "SIGKILL", "SIGINT+SIGTERM"])
def test_voila_and_its_kernels_stop_when_serve_is_hung_up_or_killed(store, tmp_path, monkeypatch,
                                                                     how):  # fmt: skip
    """Closing the terminal or SSH session that ran ``qiwidgets serve`` (SIGHUP) stops it like
    Ctrl+C, its temporary folder included, and a second signal during that clean-up does not
    cut it short; even when ``serve`` is killed outright, Voilà and its warm kernels stop with
    it instead of holding the port and ~200 MB per kernel. A TMPDIR too long for a Unix socket
    path (macOS's is ~50 characters) does not stop the kernels."""
    import signal
    import time

    import psutil

    from qiwidgets.dashboards.harness import ServedDashboards

    tmp = tmp_path / ("long-temporary-folder-" * 3)
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    with ServedDashboards(store, workdir=tmp_path / "work") as served:
        assert served.wait_for_output("Kernel pool of", 2), "the warm kernels never got ready"
        children = psutil.Process(served.proc.pid).children(recursive=True)
        voila = [c for c in children if "voila_app" in " ".join(c.cmdline())]
        kernels = [c for c in children if is_kernel(c.cmdline())]
        assert len(voila) == 1 and len(kernels) == 2
        site = Path(voila[0].cwd())
        connections = [Path(k.cmdline()[k.cmdline().index("-f") + 1]) for k in kernels]
        for connection in connections:
            assert connection.is_relative_to(site)
            assert json.loads(connection.read_text())["transport"] == "ipc"
        # every kernel up (its 5 sockets open) before the signal: stopping while a kernel still
        # starts is test_the_operator_s_terminal_stays_clean_and_kernels_ignore_..._ipython
        deadline = time.monotonic() + 60
        while any(len(list(c.parent.glob(f"{c.stem}-ipc-*"))) < 5 for c in connections):
            assert time.monotonic() < deadline, "the kernels never opened their sockets"
            time.sleep(0.1)
        for i, name in enumerate(how.split("+")):  # serve only, not its process group
            if i:  # a launcher passing Ctrl+C on, then exiting: serve is cleaning up
                time.sleep(0.5)
            os.kill(served.proc.pid, getattr(signal, name))
        served.proc.wait(30)
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
        assert served.wait_port_closed(5)
    assert "Traceback" not in "".join(served.output), "".join(served.output)[-3000:]
    if how != "SIGKILL":
        assert not site.exists()  # the site, the chart cache and the kernels' sockets
    else:  # nothing can clean up after SIGKILL; it must not hold on to anything else
        shutil.rmtree(site)
    assert not list(tmp.iterdir())


def test_behind_a_prefix_stripping_proxy_the_links_keep_the_prefix(store, tmp_path):
    """The JupyterHub set-up of docs/deployment.md: jhsingle-native-proxy logs the visitor in
    and forwards /services/qi-dashboards/X as /X. Voilà answers at /, its pages link under the
    prefix, and no token is asked for (the Hub's login is the gate)."""

    from qiwidgets.dashboards.harness import ServedDashboards

    prefix = "/services/qi-dashboards/"
    with ServedDashboards(store, token=None, workdir=tmp_path / "hub",
                          extra_args=["--base-url", prefix, "--server-url", "/"]) as served:  # fmt: skip
        # the lines after "ready" may still be on their way
        assert served.wait_for_output(f"{prefix}voila/render/team.ipynb", timeout=10)
        with urllib.request.urlopen(served.url("team.ipynb", team="W02"), timeout=120) as resp:
            page = resp.read().decode("utf-8")
        links = re.findall(r'(?:src|href)="(/[^"]*)"', page)
        assert links and all(link.startswith(prefix) for link in links), links
        assert f'data-base-url="{prefix}voila/"' in page
    assert "Traceback" not in "".join(served.output)


def test_serve_stops_with_the_launcher_that_started_it(store, tmp_path):
    """``--stop-with-parent``: when the launcher ends without stopping its child (as
    jhsingle-native-proxy did when JupyterHub stopped), serve stops and cleans up."""
    import time

    import psutil

    from qiwidgets.dashboards.harness import ServedDashboards, free_port

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    launcher = tmp_path / "launcher.py"
    launcher.write_text(
        "import subprocess, sys\n"
        "serve = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
        "for line in serve.stdout:\n"
        "    if 'dashboards are ready' in line:\n"
        "        print(serve.pid, flush=True)\n"
        "        break\n"
    )  # the launcher exits, leaving serve running
    env = {**ServedDashboards(store, workdir=tmp_path / "w").env(), "TMPDIR": str(tmp)}
    cmd = [sys.executable, str(launcher), sys.executable, "-m", "qiwidgets.cli", "serve",
           "--db", store, "--port", str(free_port()), "--no-token", "--stop-with-parent"]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=True)
    serve = psutil.Process(int(out.stdout.split()[-1]))
    serve.wait(30)
    deadline = time.monotonic() + 30
    while any(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not list(tmp.iterdir())  # Voilà's kernels stopped and the site folder went


def test_a_visitor_arriving_after_the_cell_time_limit_still_gets_the_page(store, tmp_path,
                                                                          visit):  # fmt: skip
    """A warm kernel waits for its visitor inside a cell; the per-cell time limit (here 30 s,
    enough for the other cells) must not apply to that cell, or everyone arriving later is
    told the page took too long."""
    import time

    from qiwidgets.dashboards.harness import ServedDashboards

    with ServedDashboards(store, workdir=tmp_path / "late",
                          extra_args=["--timeout", "30"]) as served:  # fmt: skip
        assert served.wait_for_output("Kernel pool of team.ipynb is filled"), "no warm kernel"
        time.sleep(40)  # past the limit, with the warm kernel waiting
        page = visit().open(served.url("team.ipynb", team="W02"), charts=3)
        assert dashboard(page).count() == 1
        assert not page.locator(".qi-failed").count()
        assert "took too long" not in page.inner_text("body")
    assert not any("timed out" in line for line in served.output)
