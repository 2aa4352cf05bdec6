"""The dashboards without a browser: the server's configuration, the site it serves, the
browser-drawn charts and the two dashboards built in-process on the sample programme.
(What only a browser can show is in test_dashboards_browser.py.)"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from pathlib import Path

import nbformat
import pytest

from qiwidgets.dashboards import fastchart, kernel, runtime, server


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    path = tmp_path_factory.mktemp("dashdb") / "sample.db"
    init_db(f"sqlite:///{path}")
    load_sample(f"sqlite:///{path}")
    yield f"sqlite:///{path}"
    dispose_engines()


# --- the server's configuration ---------------------------------------------------------------


def test_voila_config_is_locked_down():
    opts = server.ServeOptions(db="x.db", port=9000, token="t" * 32)
    cfg = server.voila_config(opts, server.PACKAGE_DIR)
    assert cfg["Voila"]["ip"] == "127.0.0.1" and cfg["Voila"]["port"] == 9000
    assert cfg["Voila"]["token"] == "t" * 32
    assert cfg["VoilaConfiguration"]["strip_sources"] is True
    assert cfg["VoilaConfiguration"]["show_tracebacks"] is False
    assert cfg["VoilaConfiguration"]["template"] == "qiwidgets"
    assert cfg["VoilaConfiguration"]["file_allowlist"] == []
    assert cfg["VoilaConfiguration"]["extension_allowlist"] == [
        "@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8"]  # fmt: skip
    assert cfg["VoilaExecutor"]["timeout"] == server.DEFAULT_TIMEOUT
    assert cfg["MappingKernelManager"]["cull_idle_timeout"] == server.DEFAULT_CULL_IDLE
    assert cfg["MappingKernelManager"]["cull_interval"] == server.DEFAULT_CULL_INTERVAL
    assert cfg["KernelManager"]["transport"] == "ipc"  # Unix sockets, no TCP port per kernel
    assert cfg["KernelRestarter"]["restart_limit"] == 0  # a dead page's kernel is not revived
    assert "identity_provider_class" not in cfg["DashboardVoila"]  # the token's login
    hub = server.voila_config(server.ServeOptions(db="x.db", no_token=True, hub=True),
                              server.PACKAGE_DIR)  # fmt: skip
    assert hub["DashboardVoila"]["identity_provider_class"] == server.HUB_IDENTITY_PROVIDER
    csp = cfg["Voila"]["tornado_settings"]["headers"]["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    dev = server.voila_config(server.ServeOptions(db="x.db", dev=True), server.PACKAGE_DIR)
    assert dev["VoilaConfiguration"]["show_tracebacks"] is True
    assert cfg["Voila"]["base_url"] == cfg["Voila"]["server_url"] == "/"


def test_behind_jupyterhub_the_pages_keep_the_prefix_the_routes_drop_it():
    """jhsingle-native-proxy strips /services/<name>/ before forwarding; the pages' links keep
    it. Behind the Hub's login, the token can be switched off (docs/deployment.md)."""
    opts = server.ServeOptions(db="x.db", base_url="/services/qi/", server_url="/", no_token=True)
    cfg = server.voila_config(opts, server.PACKAGE_DIR)
    assert (cfg["Voila"]["base_url"], cfg["Voila"]["server_url"]) == ("/services/qi/", "/")
    assert cfg["Voila"]["token"] == ""
    internal = server.dashboard_url(opts, "team.ipynb")  # printed by serve: no token, no prefix
    assert internal == "http://127.0.0.1:8866/voila/render/team.ipynb"


def test_the_server_s_kernels_get_the_prompt_kernel_client():
    """The configuration reaches the kernel managers Voilà creates (jupyter_server's)."""
    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
    from traitlets.config import Config

    from qiwidgets.dashboards.kernel_client import DashboardKernelClient

    cfg = Config(server.voila_config(server.ServeOptions(db="x.db"), server.PACKAGE_DIR))
    km = ServerKernelManager(config=cfg)
    assert isinstance(km.client(), DashboardKernelClient)


def _run_first_cell(kernel_manager, code: str) -> list[str]:
    """Start the kernel, wait for it with its client, run ``code``: the cell's own IOPub
    messages (type, text) until it is idle again."""
    import asyncio

    async def run():
        await kernel_manager.start_kernel()
        client = kernel_manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            msg_id = client.execute(code)
            seen = []
            while True:
                msg = await client.get_iopub_msg(timeout=30)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue  # left over from kernel_info: nbclient skips them the same way
                seen.append((msg["msg_type"], msg["content"].get("text")
                             or msg["content"].get("execution_state")))  # fmt: skip
                if seen[-1] == ("status", "idle"):
                    return seen
        finally:
            client.stop_channels()
            await kernel_manager.shutdown_kernel(now=True)

    return asyncio.run(run())


def test_a_new_kernel_runs_its_first_cell_with_the_prompt_client():
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(
        transport="ipc", client_class="qiwidgets.dashboards.kernel_client.DashboardKernelClient"
    )
    seen = _run_first_cell(km, "print(6 * 7)")
    assert ("stream", "42\n") in seen
    assert seen[0] == ("status", "busy") and seen[-1] == ("status", "idle")


def _dashboard_kernel(tmp_path, monkeypatch):
    """A kernel manager for the ``python3`` kernel spec ``serve`` writes into its site."""
    from jupyter_client import KernelManager

    opts = server.ServeOptions(db="sqlite:////tmp/x.db", token="s" * 24)
    site = server.prepare_site(opts, tmp_path / "site")
    monkeypatch.setenv("JUPYTER_PATH", str(site.jupyter_path))
    km = KernelManager(kernel_name="python3", transport="ipc")
    assert km.kernel_spec.argv[1:3] == ["-m", kernel.MODULE]
    return km


def test_a_dashboard_kernel_stopped_while_it_starts_prints_nothing(tmp_path, monkeypatch):
    """jupyter_client interrupts a kernel before it shuts it down: one that is still importing
    ipykernel then (``serve`` stopped just after it started) ends at once with nothing on the
    operator's terminal: no KeyboardInterrupt traceback, and no kernel starting afterwards on
    a TCP port of its own once its connection file is gone."""
    import signal
    import time

    km = _dashboard_kernel(tmp_path, monkeypatch)
    err = tmp_path / "kernel.err"
    with err.open("wb") as fh:
        km.start_kernel(stderr=fh)
    proc = km.provisioner.process
    try:
        deadline = time.monotonic() + 60
        # ipykernel is being imported: ZeroMQ is loaded, and ipykernel has not yet started
        while "zmq" not in Path(f"/proc/{proc.pid}/maps").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(30) == kernel.STOPPED_WHILE_STARTING, err.read_text()
        assert err.read_text() == ""
    finally:
        km.shutdown_kernel(now=True)


def test_a_dashboard_kernel_once_up_is_interrupted_as_any_kernel(tmp_path, monkeypatch):
    """Once up, a dashboard kernel is ipykernel's: an interrupt stops the running cell (a
    warm kernel's wait for its visitor is stopped so) and the kernel lives on."""
    km = _dashboard_kernel(tmp_path, monkeypatch)
    km.start_kernel()
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        msg_id = client.execute("import time; print('running', flush=True); time.sleep(60)")
        while client.get_iopub_msg(timeout=30)["content"].get("text") != "running\n":
            pass  # the cell runs (its output came): ipykernel catches SIGINT now
        km.interrupt_kernel()
        reply = {}
        while reply.get("parent_header", {}).get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=20)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert km.is_alive()
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_prompt_client_says_when_the_kernel_died_before_it_was_ready():
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(
        transport="ipc", client_class="qiwidgets.dashboards.kernel_client.DashboardKernelClient"
    )

    async def run():
        await km.start_kernel()
        await km.shutdown_kernel(now=True)
        client = km.client()
        client.start_channels()
        try:
            with pytest.raises(RuntimeError, match="stopped before it was ready"):
                await client.wait_for_ready(timeout=30)
        finally:
            client.stop_channels()

    asyncio.run(run())


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"port": 0}, "`port`"),
        ({"port": 70000}, "`port`"),
        ({"token": "short"}, "`token`"),
        ({"token": "a" * 20 + "&x"}, "`token`"),
        ({"pool": -1}, "`pool`"),
        ({"timeout": 0}, "`timeout`"),
        ({"base_url": "dash"}, "`base_url`"),
        ({"server_url": "/x"}, "`server_url`"),
        ({"token": "k" * 20, "no_token": True}, "either a token or no_token"),
    ],
)
def test_serve_options_say_what_is_wrong(kwargs, words):
    with pytest.raises(server.ServeError, match=re.escape(words)):
        server.ServeOptions(db="x.db", **kwargs)


def test_a_missing_store_is_a_plain_error(tmp_path):
    with pytest.raises(server.ServeError, match="does not exist"):
        server.resolve_db(tmp_path / "nothing.db")


def test_the_site_holds_only_the_dashboards_and_a_private_config(tmp_path):
    opts = server.ServeOptions(db="sqlite:////tmp/x.db", token="s" * 24)
    site = server.prepare_site(opts, tmp_path)
    assert sorted(p.name for p in site.dashboards.iterdir()) == ["programme.ipynb", "team.ipynb"]
    mode = stat.S_IMODE(os.stat(site.config).st_mode)
    assert mode == 0o600
    assert json.loads(site.config.read_text())["Voila"]["token"] == "s" * 24
    limits = site.root / "config" / "voila.py"  # the cell time limits, on JUPYTER_CONFIG_PATH
    assert stat.S_IMODE(os.stat(limits).st_mode) == 0o600
    assert f"CellTimeout({float(opts.timeout)!r})" in limits.read_text()
    timeout = server.CellTimeout(7.0)
    assert timeout(nbformat.v4.new_code_cell("x = 1")) == 7.0
    for name in server.DASHBOARDS:  # only the cell that waits for the visitor is unlimited
        nb = nbformat.read(site.dashboards / name, as_version=4)
        unlimited = [c.source for c in nb.cells if c.cell_type == "code" and timeout(c) is None]
        assert len(unlimited) == 1 and "page.wait()" in unlimited[0].splitlines()[-1]
    spec = json.loads((site.jupyter_path / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][1:3] == ["-m", kernel.MODULE]  # quiet when stopped as it starts
    static = site.jupyter_path / "voila" / "templates" / "qiwidgets" / "static"
    bundle = (static / "vega-bundle.js").read_text()
    assert "window.vegaEmbed" in bundle and bundle.startswith("(function () {")
    cmd = server.voila_command(site, opts)
    assert "s" * 24 not in " ".join(cmd)  # the token is not on the command line
    assert cmd[1:3] == ["-m", "qiwidgets.dashboards.voila_app"]  # Voilà with its holes closed
    env = server.server_env(opts, site)
    assert env["JUPYTER_PATH"].split(os.pathsep)[0] == str(site.jupyter_path)
    assert env[runtime.DB_ENV] == opts.db and env[runtime.DEV_ENV] == "0"
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(site.root / "config")


def test_the_template_links_no_other_host():
    """No http(s) URL in the template, except XML namespaces (no CDN, no font, no script)."""
    found = []
    for path in server.TEMPLATE_DIR.rglob("*"):
        if path.is_file() and path.name != "vega-bundle.js":
            for url in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", path.read_text()):
                if "w3.org" not in url:
                    found.append((path.name, url))
    assert not found
    index = (server.TEMPLATE_DIR / "index.html.j2").read_text()
    assert "html_head_js_mermaidjs" in index and "super.super()" in index


def test_the_notebooks_wait_for_the_visitor_before_reading_the_store():
    for name in server.DASHBOARDS:
        nb = json.loads((server.NOTEBOOKS_DIR / name).read_text())
        code = ["".join(c["source"]).splitlines()[-1] for c in nb["cells"]
                if c["cell_type"] == "code"]  # fmt: skip
        assert code[0].endswith(".prepare()") and code[1:] == ["page.wait()", "page.open()"]


def test_cli_passes_the_options_on(monkeypatch):
    from qiwidgets import cli

    seen = {}
    monkeypatch.setattr(server, "serve", lambda opts: seen.setdefault("opts", opts) and 0)
    monkeypatch.setenv("QI_TOKEN", "k" * 20)
    cli.main(["serve", "--db", "a.db", "--port", "9001", "--dev",
              "--pool", "0", "--cull-idle", "30", "--timeout", "45", "--no-prewarm",
              "--base-url", "/services/qi/", "--server-url", "/", "--stop-with-parent"])  # fmt: skip
    o = seen["opts"]
    assert (o.db, o.port, o.token, o.dev, o.pool, o.cull_idle, o.timeout, o.prewarm) == (
        "a.db",
        9001,
        "k" * 20,
        True,
        0,
        30,
        45,
        False,
    )
    assert (o.base_url, o.server_url, o.no_token, o.stop_with_parent) == (
        "/services/qi/", "/", False, True
    )  # fmt: skip
    seen.clear()
    monkeypatch.delenv("QI_TOKEN")
    cli.main(["serve", "--no-token"])
    assert seen["opts"].no_token and seen["opts"].token is None


# --- runtime ----------------------------------------------------------------------------------


def test_query_drops_the_token(monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "team=W03&token=secret&x=")
    assert runtime.query() == {"team": "W03"}


def test_failure_is_plain_and_escaped(monkeypatch):
    from qiwidgets.errors import QIError

    monkeypatch.setenv(runtime.DEV_ENV, "0")
    w = runtime.failure(QIError("no store <b>here</b>"))
    assert "Sorry" in w.value and "&lt;b&gt;" in w.value and "Traceback" not in w.value
    w = runtime.failure(RuntimeError("internal detail"))
    assert "internal detail" not in w.value
    monkeypatch.setenv(runtime.DEV_ENV, "1")
    assert (
        "Traceback" in runtime.failure(RuntimeError("x")).value
        or "RuntimeError" in runtime.failure(RuntimeError("x")).value
    )


# --- browser-drawn charts ---------------------------------------------------------------------


def test_chart_html_escapes_the_spec():
    spec = {"title": "<script>alert(1)</script>", "description": '"><img src=x onerror=1>',
            "mark": "point", "data": {"values": [{"t": "</div><script>x</script>"}]}}  # fmt: skip
    out = fastchart.chart_html(spec)
    assert "<script" not in out and "<img" not in out
    assert out.count("<div") == out.count("</div>") == 2
    attr = re.search(r'data-spec="([^"]*)"', out).group(1)
    import html

    assert json.loads(html.unescape(attr)) == spec


def test_charts_the_prewarm_drew_are_sent_as_svg(tmp_path, monkeypatch):
    """The prewarm process draws a page's first charts into the shared folder; a kernel then
    sends that SVG (nothing left for the browser to draw); a chart not drawn there still goes
    as a spec for the browser."""
    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json",
            "title": "</text><script>alert(1)</script>", "mark": "point",
            "data": {"values": [{"a": 1, "b": 2}]},
            "encoding": {"x": {"field": "a", "type": "quantitative"},
                         "y": {"field": "b", "type": "quantitative"}}}  # fmt: skip
    before = fastchart.chart_html(spec)
    assert "data-spec=" in before and "<svg" not in before and not list(tmp_path.glob("*.svg"))
    monkeypatch.setattr(fastchart, "draw_into_cache", True)
    drawn = fastchart.chart_html(spec)  # the prewarm process: draws and keeps the SVG
    assert len(list(tmp_path.glob("*.svg"))) == 1
    monkeypatch.setattr(fastchart, "draw_into_cache", False)
    sent = fastchart.chart_html(spec)  # a kernel: reads it
    assert sent == drawn
    assert 'data-drawn="yes"' in sent and "<svg" in sent and "data-spec=" not in sent
    assert "<script" not in sent and "&lt;script&gt;" in sent  # the title drawn as text
    # a file that is not a whole SVG (a full disk) is ignored: the browser draws the chart
    next(tmp_path.glob("*.svg")).write_text("<svg", encoding="utf-8")
    assert fastchart.chart_html(spec) == before


def test_the_prewarm_draws_the_explorer_s_other_rule_sets(sample_db, tmp_path, monkeypatch):
    """Switching the rule set in "Explore a chart" sends a chart the prewarm drew (the page
    has nothing to draw); a chart no one drew yet (a new note) still goes as a spec."""
    from qiwidgets.dashboards import prewarm
    from qiwidgets.dashboards.team import CARD_CHART_WIDTH
    from qiwidgets.store import repo
    from qiwidgets.widgets import VariationExplorer

    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    fastchart.clear_memory()
    team = repo.get_team(sample_db, "W05")
    monkeypatch.setattr(fastchart, "draw_into_cache", True)  # as prewarm() runs it
    assert prewarm._other_rule_sets(sample_db, [team]) == 6  # 3 measures x 2 rule sets
    monkeypatch.setattr(fastchart, "draw_into_cache", False)  # a visitor's kernel
    explorer = VariationExplorer(sample_db, team, show_team_picker=False, width=CARD_CHART_WIDTH,
                                 chart_renderer=fastchart.browser_chart_svg)  # fmt: skip
    for rule_set in ("ihi", "mdc"):
        explorer.rule_set.value = rule_set
        assert 'data-drawn="yes"' in explorer.chart_html.value, rule_set
        assert "<svg" in explorer.chart_html.value and "data-spec=" not in explorer.chart_html.value
    explorer.note_text.value = "A new note"
    explorer.reason.value = "to see the chart change"
    explorer._on_record()
    assert "data-spec=" in explorer.chart_html.value and 'data-drawn="yes"' not in (
        explorer.chart_html.value)  # fmt: skip


def test_specs_are_cached_by_what_goes_into_the_chart(sample_db, tmp_path, monkeypatch):
    from qiwidgets import workbook as wb
    from qiwidgets.store import repo

    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    fastchart.clear_memory()
    team = repo.get_team(sample_db, "W04")
    measure = repo.list_measures(sample_db, team.id)[0]
    obs = repo.observations(sample_db, team.id, measure.id)
    view = wb.compute_chart(obs, measure, "anhoej", [])
    before = dict(fastchart.stats)
    spec = fastchart.spc_spec(view.result, [], 400)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert len(list(tmp_path.glob("*.json"))) == 1
    fastchart.clear_memory()
    assert fastchart.spc_spec(view.result, [], 400) == spec  # read back from the folder
    assert fastchart.stats["disk_hits"] == before["disk_hits"] + 1
    note = [{"date": obs["period"].iloc[5], "text": "a note", "kind": "event"}]
    assert fastchart.fingerprint("spc", view.result, note, 400) != fastchart.fingerprint(
        "spc", view.result, [], 400
    )
    other = wb.compute_chart(obs.iloc[:-1], measure, "anhoej", [])
    assert fastchart.fingerprint("spc", other.result, [], 400) != fastchart.fingerprint(
        "spc", view.result, [], 400
    )


def test_a_page_of_cached_charts_imports_no_chart_library(sample_db, tmp_path):
    """A visitor's kernel that finds its charts in the shared cache never imports Altair or
    vl-convert (about a second of a cold page), nor jsonschema's IRI grammar."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import qiwidgets.dashboards.runtime\n"
        "from qiwidgets.dashboards.team import TeamDashboard\n"
        f"dash = TeamDashboard({sample_db!r}, 'W06')\n"
        "assert all('class=\"qi-vl\"' in c.html for c in dash.cards)\n"
        "print(sorted(m for m in ('altair', 'vl_convert', 'jsonschema') if m in sys.modules))\n"
    )
    env = {**os.environ, fastchart.CACHE_ENV: str(tmp_path)}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=300, check=True)  # fmt: skip
        return done.stdout.strip().splitlines()[-1]

    # the first visit writes the specs and fills the cache: as plain dicts, without Altair
    assert run() == "['vl_convert']"
    assert len(list(tmp_path.glob("*.json"))) >= 3
    assert run() == "[]"  # the next one reads them back and imports none of it


def test_a_page_imports_with_the_collector_paused_and_freezes_what_it_loaded():
    """A kernel's imports run without garbage collections (they found nothing to free and cost
    ~0.1 s per kernel); what they loaded is frozen, and the collector is on again afterwards,
    also when an import fails."""
    import gc

    from qiwidgets._imports import imports_without_gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with imports_without_gc():
            assert not gc.isenabled()
            loaded = [[i] for i in range(1000)]  # stands for the objects of imported modules
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(loaded)
        with pytest.raises(ImportError), imports_without_gc():
            import qiwidgets_no_such_module  # noqa: F401
        assert gc.isenabled()
        gc.disable()  # a caller that had it off keeps it off
        with imports_without_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_prepare_imports_what_opening_the_page_needs(sample_db, monkeypatch, tmp_path):
    """A page's ``prepare`` (run before the visitor arrives) leaves no qiwidgets module for
    ``open`` to import but the chart modules of a chart missing from the cache."""
    import subprocess
    import sys

    code = (
        "import sys, os\n"
        "from qiwidgets.dashboards.runtime import TeamPage, ProgrammePage\n"
        "for cls in (TeamPage, ProgrammePage):\n"
        "    page = cls.prepare()\n"
        "    assert page.error is None, page.error\n"
        "    before = set(sys.modules)\n"
        "    page.open()\n"
        "    assert page.error is None and page.widget is not None\n"
        "    new = sorted(m for m in set(sys.modules) - before\n"
        "                 if m.startswith(('qiwidgets', 'scipy', 'pandas', 'sqlalchemy')))\n"
        "    print(cls.__name__, new)\n"
    )
    env = {**os.environ, fastchart.CACHE_ENV: str(tmp_path), runtime.DB_ENV: sample_db,
           "QUERY_STRING": "team=W03"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=True)  # fmt: skip
    lines = dict(line.split(" ", 1) for line in done.stdout.strip().splitlines())
    charts = r"qiwidgets\.charts(\.\w+)?"
    for name in ("TeamPage", "ProgrammePage"):
        modules = ast.literal_eval(lines[name])
        assert all(re.fullmatch(charts, m) for m in modules), (name, modules)


# --- the dashboards in-process ----------------------------------------------------------------


def test_team_dashboard_in_process(sample_db, monkeypatch, tmp_path):
    from qiwidgets.dashboards.team import TABS, TeamDashboard

    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    dash = TeamDashboard(sample_db, "W02")
    assert dash.team.code == "W02" and "Ward 2" in dash.header.value
    assert [c.code for c in dash.cards] == ["FALLS_HARM", "RISK_24H", "MOBILITY_LOSS"]
    assert all('class="qi-vl"' in c.html and "qi-verdict" in c.html for c in dash.cards)
    assert dash.sections == {}  # the other tabs are built when opened
    dash.tabs.selected_index = TABS.index("Reflections")
    assert "Reflections" in dash.sections and dash.message_kind != "problem"
    dash.team_select.value = dash.team_select.options[2][1]
    assert dash.team.code == "W03" and "Ward 3" in dash.header.value
    journal = dash.sections["Reflections"]
    assert journal.team.code == "W03"
    dash.tabs.selected_index = TABS.index("Explore a chart")
    explorer = dash.sections["Explore a chart"]
    assert 'class="qi-vl"' in explorer.chart_html.value  # drawn by the browser, not vl-convert
    dash._on_team({"new": 999_999})  # whatever reaches the callback is checked: plain words
    assert dash.message_kind == "problem" and dash.team.code == "W03"


def test_a_driver_added_beside_the_fishbone_can_be_linked_at_once(sample_db, monkeypatch,
                                                                   tmp_path):  # fmt: skip
    """On "Aim and drivers" the fishbone editor offers the driver diagram as it is after each
    save beside it, keeping a cause half typed, without reloading the page."""
    from qiwidgets.dashboards.team import TABS, TeamDashboard
    from qiwidgets.store import fishbone as fb

    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    dash = TeamDashboard(sample_db, "W07")
    dash.tabs.selected_index = TABS.index("Aim and drivers")
    _aim, drivers, fishbone = dash.sections["Aim and drivers"]
    fishbone.effect.value = "Falls at night"
    fishbone.effect_button.click()
    fishbone.text.value = "Call bells out of reach"
    drivers.kind.value = "primary"
    drivers.text.value = "Everything within reach at night"
    drivers.add_button.click()
    assert drivers.message_kind == "ok", drivers.message
    new = drivers.saved
    assert new.id in [v for _, v in fishbone.driver.options]
    assert new.id in [v for _, v in fishbone.edit_driver.options]
    assert fishbone.text.value == "Call bells out of reach"  # what was typed stays
    fishbone.driver.value = new.id
    drivers.node.value = new.id
    drivers.edit_text.value = "Everything within reach, day and night"
    drivers.edit_button.click()
    assert drivers.message_kind == "ok", drivers.message
    assert fishbone.driver.value == new.id  # the pick survives a change beside it
    assert "day and night" in {v: k for k, v in fishbone.driver.options}[new.id]
    fishbone.add_button.click()
    assert fishbone.message_kind == "ok", fishbone.message
    (cause,) = fb.team_fishbone(sample_db, "W07").causes()
    assert (cause.text, cause.driver_node_id) == ("Call bells out of reach", new.id)


def test_a_warm_kernel_builds_only_the_first_tab(sample_db, monkeypatch, tmp_path):
    """Every widget a warm kernel holds goes to its visitor's browser with the first render, so
    the hidden tabs wait until they are opened."""
    from qiwidgets.dashboards.team import TABS, TeamDashboard

    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(runtime.DB_ENV, sample_db)
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    page = runtime.TeamPage.prepare()
    assert page.error is None and isinstance(page.widget, TeamDashboard)
    assert page.widget.sections == {} and len(page.widget.cards) == 3
    page.widget.tabs.selected_index = TABS.index("Explore a chart")
    assert list(page.widget.sections) == ["Explore a chart"]


def test_the_team_page_says_which_team_a_link_shows(sample_db, monkeypatch, tmp_path):
    """A link without ``?team=`` shows the first team and says so; an unknown team is named."""
    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(runtime.DB_ENV, sample_db)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    cases = [
        ("token=abc", "W01", "info", "Showing Ward 1 (Acute Medicine), the first team by name"),
        ("team=W03&token=abc", "W03", "", ""),
        (
            "team=NOPE",
            "W01",
            "warning",
            "There is no team 'NOPE' that you can open: showing Ward 1",
        ),
    ]
    for query, code, kind, words in cases:
        monkeypatch.setenv("QUERY_STRING", query)
        dash = runtime.TeamPage.prepare().open()
        assert dash.team.code == code
        assert dash.message_kind == kind and words in dash.message


@pytest.fixture
def people_db(tmp_path):
    """A sample store with a Ward 5 member, a viewer and a programme lead, and their links."""
    from qiwidgets.store import people
    from qiwidgets.store.db import init_db
    from qiwidgets.store.sample import load_sample

    db = f"sqlite:///{tmp_path / 'people.db'}"
    init_db(db)
    load_sample(db)
    links = {}
    for key, role, team in [("sam", "member", "W05"), ("val", "viewer", "W05"),
                            ("lee", "programme_lead", None)]:  # fmt: skip
        people.add_person(db, key, key.title())
        people.grant(db, key, role, team=team)
        links[key] = people.create_link(db, key)[0].id
    return db, links


def _as_visitor(monkeypatch, tmp_path, db, visitor, query=""):
    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(runtime.DB_ENV, db)
    monkeypatch.setenv(runtime.VISITOR_ENV, visitor)
    monkeypatch.setenv("QUERY_STRING", query)


def test_a_page_acts_as_its_visitor(people_db, monkeypatch, tmp_path):
    """The kernel builds the page as the visitor the server names: a member's picker holds
    their team only, another team asked for by address is not opened, and every section the
    page builds reads through the visitor (a save by a viewer is refused by the store)."""
    db, links = people_db
    _as_visitor(monkeypatch, tmp_path, db, f"link:{links['sam']}", "team=W02")
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    dash = runtime.TeamPage.prepare().open()
    assert dash.team.code == "W05" and [n for n, _ in dash.team_select.options] == [
        "Ward 5 (Respiratory)"]  # fmt: skip
    assert "There is no team 'W02' that you can open" in dash.message
    # a crafted widget message (what a comm 'update' does: the picker's index) cannot choose
    # a team the picker does not hold
    with pytest.raises(Exception, match="Invalid selection"):
        dash.team_select.set_state({"index": 7})
    assert dash.team.code == "W05"

    _as_visitor(monkeypatch, tmp_path, db, f"link:{links['val']}")
    dash = runtime.TeamPage.prepare().open()
    assert "You can read Ward 5 (Respiratory)'s records; saving them is for" in dash.message
    from qiwidgets.dashboards.team import TABS

    dash.tabs.selected_index = TABS.index("Reflections")
    journal = dash.sections["Reflections"]
    journal.prompts["what_happened"].value = "A viewer writes"
    journal.save_button.click()
    assert "may look at Ward 5 (Respiratory)'s records but not change them" in journal.message


def test_the_operator_s_warm_page_is_closed_before_a_person_sees_it(people_db, monkeypatch,
                                                                     tmp_path):  # fmt: skip
    from ipywidgets.widgets.widget import _instances

    db, links = people_db
    _as_visitor(monkeypatch, tmp_path, db, "operator", "team=W05")
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    page = runtime.TeamPage.prepare()  # built for Ward 1, as the operator
    warm = page.widget
    assert warm.team.code == "W01" and warm.comm is not None
    monkeypatch.setenv(runtime.VISITOR_ENV, f"link:{links['sam']}")
    dash = page.open()
    assert warm.comm is None  # closed: never sent to the visitor's browser
    assert dash is not warm and dash.team.code == "W05"
    states = [w.get_state() for w in _instances.values()]
    assert not [s for s in states if "Ward 1 (Acute Medicine)" in str(s)]


def test_the_programme_page_is_refused_to_a_team_member(people_db, monkeypatch, tmp_path):
    from qiwidgets.dashboards.programme import ProgrammeDashboard

    db, links = people_db
    _as_visitor(monkeypatch, tmp_path, db, f"link:{links['sam']}")
    page = runtime.ProgrammePage.prepare().open()
    assert "qi-refused" in page.value and "that is for the programme lead" in page.value
    _as_visitor(monkeypatch, tmp_path, db, f"link:{links['lee']}")
    assert isinstance(runtime.ProgrammePage.prepare().open(), ProgrammeDashboard)
    # a link revoked since the page was asked for opens nothing
    from qiwidgets.store import people

    people.revoke_links(db, "lee")
    page = runtime.ProgrammePage.prepare().open()
    assert "qi-refused" in page.value and "no longer works" in page.value


def test_programme_dashboard_in_process(sample_db, monkeypatch, tmp_path):
    from qiwidgets.dashboards.programme import ProgrammeDashboard, team_link

    monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
    dash = ProgrammeDashboard(sample_db)
    codes = [r.code for r in dash.rows]
    assert codes == sorted(codes) and len(codes) == 12
    assert dash.outcome is not None and dash.outcome.code == "FALLS_HARM"
    html = "".join(getattr(w, "value", "") for w in dash.children)
    # funnel plot and small multiples, and each bright spot's evidence (its card's chart)
    assert html.count('class="qi-vl"') == 2 + sum(len(s.evidence) for s in dash.stories)
    assert html.count('class="qi-funnel"') == html.count('class="qi-small-multiples"') == 1
    assert 'href="team.ipynb?team=W01"' in html
    assert team_link('W"1', "<b>") == ('<a class="qi-team-link" href="team.ipynb?team=W%221">'
                                       "&lt;b&gt;</a>")  # fmt: skip


@pytest.mark.postgres
def test_both_dashboards_on_postgresql(pg_server, monkeypatch, tmp_path):
    """The store of a multi-user deployment (docs/deployment.md): a real PostgreSQL server."""
    from qiwidgets.dashboards.programme import ProgrammeDashboard
    from qiwidgets.dashboards.team import TABS, TeamDashboard
    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    url = pg_server.create_database()
    try:
        init_db(url)
        load_sample(url)
        monkeypatch.setenv(fastchart.CACHE_ENV, str(tmp_path))
        dash = TeamDashboard(url, "W06")
        assert len(dash.cards) == 3
        dash.tabs.selected_index = TABS.index("Reflections")
        journal = dash.sections["Reflections"]
        journal.prompts["what_happened"].value = "Saved from the dashboard on PostgreSQL"
        journal.save_button.click()
        assert journal.message_kind == "ok", journal.message
        assert any(r.what_happened == "Saved from the dashboard on PostgreSQL"
                   for r in repo.list_reflections(url, "W06"))  # fmt: skip
        assert len(ProgrammeDashboard(url).rows) == 12
    finally:
        dispose_engines()
        pg_server.drop_database(url)
