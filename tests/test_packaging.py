"""The wheel is the product (issue I): what ships, what it needs, where it runs.

* the sample programme, the report notebooks and the guided notebooks ship as package data and
  are found with importlib.resources (``qiwidgets.resources``), in a wheel and in a checkout;
* a command that cannot find what it needs creates nothing;
* ``pip install qiwidgets`` is lean (SPC and charts); a command that needs an extra says which;
* ``environment.yml`` and ``pyproject.toml`` agree; one version; a Windows-like Python imports
  every command;
* a result shows itself in a notebook (chart, reading, table);
* the built wheel, installed into a fresh venv with no source tree in reach, runs
  ``load-sample``, ``reports``, ``workbook`` and ``serve`` (slow: one venv per session).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

from qiwidgets import __version__, config, extras, resources
from qiwidgets.cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SAMPLES = ROOT / "data" / "samples"


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503), without extras or bounds."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def _extras_of(requirement: str) -> list[str]:
    m = re.search(r"\[([^\]]+)\]", requirement)
    return [e.strip() for e in m.group(1).split(",")] if m else []


def _bound(requirement: str) -> str:
    m = re.search(r">=\s*([0-9][0-9.a-z]*)", requirement)
    return m.group(1) if m else ""


def _requirements(*extras_: str) -> list[str]:
    """The requirements of the core and ``extras_``, self-references (qiwidgets[x]) expanded."""
    optional = PYPROJECT["project"]["optional-dependencies"]
    found: list[str] = []
    todo = [None, *extras_]
    seen: set = set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        reqs = PYPROJECT["project"]["dependencies"] if extra is None else optional[extra]
        for req in reqs:
            if _name(req) == "qiwidgets":
                todo.extend(_extras_of(req))
            elif req not in found:
                found.append(req)
    return found


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=600, **kwargs)


# --- what ships, found with importlib.resources ----------------------------------------------


def test_setup_py_ships_the_folders_qiwidgets_resources_looks_for():
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    shipped = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHIPPED"
    )
    expected = {
        "qiwidgets." + inside.replace("/", "."): source
        for inside, source in resources.SHIPPED.values()
    }
    assert shipped == expected
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for package, source in shipped.items():
        files = [p for p in (ROOT / source).iterdir() if p.suffix in (".csv", ".ipynb")]
        assert files, source
        for path in files:  # every such file matches one of the package's data patterns
            assert any(path.match(pattern) for pattern in data[package]), path


def test_in_a_checkout_the_shipped_folders_are_the_top_level_ones():
    assert resources.find("samples", "programme.csv") == SAMPLES
    assert resources.find("pipelines", "team_report.ipynb") == ROOT / "pipelines"
    assert resources.find("notebooks") == ROOT / "notebooks"
    from qiwidgets.reports.runner import TEAM_NOTEBOOK, default_notebook
    from qiwidgets.store.sample import DEFAULT_DIR

    assert DEFAULT_DIR == SAMPLES
    assert default_notebook(TEAM_NOTEBOOK) == ROOT / "pipelines" / TEAM_NOTEBOOK


def test_no_module_finds_its_files_from_its_own_path():
    """``Path(__file__).parents[3]`` only works in a checkout: the wheel has no such folder."""
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "src" / "qiwidgets").rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"__file__.*parents\[[2-9]\]", line)
    ]
    assert not found


def test_a_broken_installation_is_named_with_the_way_to_repair_it(tmp_path, monkeypatch):
    (tmp_path / "qiwidgets").mkdir()
    monkeypatch.setattr(resources, "_package_dir", lambda: tmp_path / "qiwidgets")
    with pytest.raises(resources.MissingResourceError) as err:
        resources.find("pipelines", "team_report.ipynb")
    assert "report notebooks" in str(err.value) and "reinstall qiwidgets" in str(err.value)
    assert resources.locate("samples") == tmp_path / "qiwidgets" / "_data" / "samples"


# --- a command that cannot find what it needs creates nothing ----------------------------------


def test_load_sample_without_the_sample_files_creates_no_database(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "new.db"
    assert main(["load-sample", "--folder", str(empty), "--db", str(db)]) == 2
    assert "lacks programme.csv" in capsys.readouterr().err
    assert not db.exists()


def test_open_workbook_db_without_the_sample_creates_no_database(tmp_path, monkeypatch):
    from qiwidgets import notebook
    from qiwidgets.store import sample

    monkeypatch.setattr(sample, "DEFAULT_DIR", tmp_path / "gone")
    monkeypatch.setattr(sample.check_folder, "__defaults__", (tmp_path / "gone",))
    db = tmp_path / "wb.db"
    with pytest.raises(Exception, match="lacks"):
        notebook.open_workbook_db(str(db), quiet=True)
    assert not db.exists()


# --- qiwidgets workbook DIR ------------------------------------------------------------------


def test_workbook_copies_the_guided_notebooks_and_never_overwrites_a_team_s_own(tmp_path, capsys):
    folder = tmp_path / "ward7"
    assert main(["workbook", str(folder)]) == 0
    shipped = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in folder.glob("*.ipynb")) == shipped
    assert (folder / config.MARKER_FILE).is_file()  # its notebooks use folder/qiwidgets.db
    assert config.workbook_folder(folder) == folder.resolve()
    assert "00_start_here.ipynb" in capsys.readouterr().out

    edited = folder / "01_purpose.ipynb"
    edited.write_text("our own work", encoding="utf-8")
    assert main(["workbook", str(folder)]) == 2
    assert "already holds" in capsys.readouterr().err
    assert edited.read_text(encoding="utf-8") == "our own work"
    assert main(["workbook", str(folder), "--force"]) == 0
    assert json.loads(edited.read_text(encoding="utf-8"))["cells"]

    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert main(["workbook", str(afile)]) == 2


# --- dependencies: lean core, extras, honest bounds -------------------------------------------


def test_pip_install_qiwidgets_is_the_spc_engine_and_charts_only():
    core = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert core == {"numpy", "pandas", "scipy", "altair", "vl-convert-python"}
    optional = PYPROJECT["project"]["optional-dependencies"]
    assert {"workbook", "reports", "dashboards", "postgres", "dask", "pptx", "all",
            "test"} <= set(optional)
    assert "python-pptx" in {_name(r) for r in _requirements("all")}  # reports --pptx
    assert "nbval" in {_name(r) for r in optional["test"]}
    runtime = {_name(r) for r in _requirements("all")}
    assert not runtime & {"nbval", "pytest", "playwright", "hypothesis", "ruff"}
    assert "psycopg" in {_name(r) for r in optional["postgres"]}
    assert {_name(r): _bound(r) for r in _requirements()}["vl-convert-python"] == "1.7"
    assert {_name(r): _bound(r) for r in _requirements("store")}["pydantic"] == "2.10"


def test_each_extra_brings_the_modules_qiwidgets_says_it_does():
    """``qiwidgets.extras`` names the extra to install for a missing module: that extra must
    list the distribution the module comes from."""
    from importlib.metadata import packages_distributions

    dists = packages_distributions()
    for extra, modules in extras.EXTRA_MODULES.items():
        reqs = _requirements(extra)  # dask[distributed] brings distributed
        listed = {_name(r) for r in reqs} | {_name(e) for r in reqs for e in _extras_of(r)}
        for module in modules:
            provided = {_name(d) for d in dists.get(module, [])}
            assert provided & listed, f"[{extra}] lacks the distribution of {module}: {provided}"


def test_environment_yml_agrees_with_pyproject():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    listed: dict[str, str] = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-e") or _name(item) in ("python", "pip"):
                continue
            listed[_name(item)] = _bound(item)
    expected: dict[str, str] = {}
    for req in _requirements("all", "test", "dev"):
        expected[_name(req)] = _bound(req)
        if _name(req) == "dask" and "distributed" in _extras_of(req):
            expected["distributed"] = _bound(req)  # conda-forge packages it on its own
    assert listed == expected


def test_the_makefile_installs_everything_make_test_needs_and_has_a_fast_lane():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-e '.[all,test,dev]'" in makefile
    fast = re.search(r"^test-fast:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert fast and 'not browser and not postgres and not slow' in fast.group(1)
    # the guided notebooks run once per `make test` (tests/test_notebooks.py), not a second
    # time through nbval
    full = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert full and "pytest tests" in full.group(1) and "nbval" not in full.group(1)
    markers = {m.split(":")[0] for m in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]}
    assert {"browser", "postgres", "slow"} <= markers
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start") :]
    assert "make demo" in quick and "make test" in quick


# A Python where only the SPC engine and the charts are installed: every module an extra brings
# is gone, but those the core's own dependencies need (Altair needs jinja2).
_LEAN = """
import sys
for name in {modules!r}:
    sys.modules[name] = None
from qiwidgets.cli import main
code = main({argv!r})
print("loaded:", sorted(m for m in {modules!r} if sys.modules.get(m) is not None))
sys.exit(code)
"""


def _core_closure() -> set[str]:
    """The distributions ``pip install qiwidgets`` installs (the core's, transitively)."""
    from importlib import metadata

    todo = [_name(r) for r in PYPROJECT["project"]["dependencies"]]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r.partition(";")[2]]
    return found


def _lean(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    from importlib.metadata import packages_distributions

    dists = packages_distributions()
    core = _core_closure()
    optional = set().union(*extras.EXTRA_MODULES.values()) | {"jupyterlab"}
    modules = sorted(m for m in optional if not {_name(d) for d in dists.get(m, [])} & core)
    return _without(modules, argv, cwd)


def _without(modules: list[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``qiwidgets ARGV`` in a Python where ``modules`` are not installed."""
    code = _LEAN.format(modules=modules, argv=argv)
    return _run([sys.executable, "-c", code], cwd=cwd)


def test_without_extras_spc_draws_and_other_commands_name_their_extra(tmp_path):
    svg = tmp_path / "falls.svg"
    res = _lean(["spc", str(SAMPLES / "observations.csv"), "--where", "measure=FALLS_HARM",
                 "--where", "team=W07", "--chart", "u", "--x", "period", "--y", "numerator",
                 "--n", "denominator", "--multiply", "1000", "--svg", str(svg)], tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert svg.read_text(encoding="utf-8").startswith("<svg")

    res = _lean(["load-sample", "--db", str(tmp_path / "x.db")], tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert 'pip install "qiwidgets[store]"' in res.stderr
    assert not (tmp_path / "x.db").exists()
    res = _lean(["reports", "--month", "2026-10", "--db", str(tmp_path / "x.db")], tmp_path)
    assert res.returncode == 2 and 'pip install "qiwidgets[reports]"' in res.stderr, res.stderr
    assert _lean(["--help"], tmp_path).returncode == 0


def test_a_command_whose_extra_is_missing_refuses_before_it_starts(tmp_path):
    """papermill runs in the report workers and Voilà in its own process: without the check a
    missing one would show as failed reports or a server that stopped."""
    db = tmp_path / "s.db"
    assert main(["init", "--db", str(db)]) == 0
    res = _without(["papermill"], ["reports", "--month", "2026-10", "--db", str(db),
                                   "--out", str(tmp_path / "out")], tmp_path)  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert 'needs papermill, which is not installed' in res.stderr
    assert 'pip install "qiwidgets[reports]"' in res.stderr
    assert not (tmp_path / "out").exists()
    res = _without(["voila"], ["serve", "--db", str(db)], tmp_path)
    assert res.returncode == 2 and 'pip install "qiwidgets[dashboards]"' in res.stderr


def test_a_missing_module_no_extra_brings_is_a_bug_shown_as_one():
    err = ModuleNotFoundError("No module named 'nosuch'", name="nosuch")
    assert extras.missing_dependency(err, "spc") is None
    assert extras.extra_for("jupyter_client", "serve") == "dashboards"
    assert extras.extra_for("jupyter_client", "reports") == "reports"
    assert extras.extra_for("psycopg", "import") == "postgres"


# --- one version, python -m qiwidgets, help that runs on the sample ---------------------------


def test_one_version():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "qiwidgets.__version__"
    res = _run([sys.executable, "-m", "qiwidgets", "--version"])
    assert res.stdout.strip() == f"qiwidgets {__version__}"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {__version__}" in changelog
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_the_spc_help_example_runs_on_the_sample(tmp_path):
    from qiwidgets.spc_cli import EPILOG

    lines = EPILOG.split("examples:", 1)[1].replace("\\\n", " ").splitlines()
    commands = [line.split() for line in lines if "data/samples/observations.csv" in line]
    assert commands and any("FALLS_HARM" in " ".join(c) for c in commands)
    (tmp_path / "data").symlink_to(ROOT / "data")  # the examples' paths, as in a checkout
    for words in commands:
        argv = [w.strip('"') for w in _shell_words(" ".join(words))][1:]  # without "qiwidgets"
        res = _run([sys.executable, "-m", "qiwidgets", *argv], cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert "special cause" in res.stdout or "common cause" in res.stdout
    assert (tmp_path / "falls.html").is_file() and (tmp_path / "w07.svg").is_file()


def _shell_words(text: str) -> list[str]:
    import shlex

    return shlex.split(text)


def test_serve_help_names_the_one_database_setting():
    res = _run([sys.executable, "-m", "qiwidgets", "serve", "--help"])
    assert "QI_DATABASE_URL" in res.stdout and "QIWIDGETS_DB" not in res.stdout


# --- Windows --------------------------------------------------------------------------------

# A Python that lacks what Windows lacks: POSIX-only signals and process-group calls.
_WINDOWS_LIKE = """
import os, signal, sys
for name in ("SIGHUP", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGALRM"):
    delattr(signal, name)
for name in ("killpg", "getpgid", "setsid", "getuid", "geteuid"):
    delattr(os, name)
import importlib
for module in {modules!r}:
    importlib.import_module(module)
from qiwidgets.cli import main
for argv in {argvs!r}:
    code = main(argv)
    if code:
        sys.exit(code)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["spc", str(SAMPLES / "observations.csv"), "--where", "measure=FALLS_HARM", "--x",
         "period", "--y", "numerator", "--n", "denominator", "--chart", "u", "--facets", "team"],
        ["import", "teams", str(SAMPLES / "teams.csv"), "--db", "w.db"],
        ["--help"],
    ],
    ids=["spc", "import", "help"],
)  # fmt: skip
def test_every_command_imports_and_runs_without_posix_signals(tmp_path, argv):
    argvs = [["init", "--db", "w.db"], argv] if argv[0] == "import" else [argv]
    code = _WINDOWS_LIKE.format(modules=["qiwidgets.cli", *SUBCOMMANDS], argvs=argvs)
    res = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr


def test_serve_refuses_on_windows_with_a_way_forward():
    from qiwidgets.dashboards.server import ServeError, check_platform

    check_platform("posix")
    with pytest.raises(ServeError, match="WSL"):
        check_platform("nt")


def test_the_readme_and_classifiers_say_which_systems_are_supported():
    classifiers = PYPROJECT["project"]["classifiers"]
    assert "Operating System :: POSIX :: Linux" in classifiers
    assert "Operating System :: Microsoft :: Windows" in classifiers
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Windows" in readme and "WSL" in readme


# --- native in a notebook ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def falls():
    import pandas as pd

    obs = pd.read_csv(SAMPLES / "observations.csv", parse_dates=["period"])
    return obs[obs["measure"] == "FALLS_HARM"]


def test_a_control_chart_shows_itself_as_chart_reading_and_table(falls):
    from qiwidgets import spc

    r = spc.control_chart(falls[falls.team == "W07"], x="period", y="numerator",
                          n="denominator", chart="u", multiply=1000, improvement="decrease",
                          label="Falls with harm per 1,000 bed days")  # fmt: skip
    bundle = r._repr_mimebundle_()
    page = bundle["text/html"]
    assert "<svg" in page and "<script" not in page and "http://" not in page.replace(
        "http://www.w3.org", ""
    )
    import html

    assert html.escape(r.reading) in page  # the reading, as the chart's caption
    assert "<table" in page and ">cl<" in page and ">ucl<" in page
    assert r.reading in bundle["text/plain"] and "chart_type='u'" in bundle["text/plain"]
    assert r.to_svg().startswith("<svg") and r.to_png()[:4] == b"\x89PNG"
    assert r.chart().to_dict()["description"] == r.chart(width=300).to_dict()["description"]


def test_a_funnel_plot_shows_itself_with_one_row_per_team(falls):
    from qiwidgets import spc

    rate = falls.numerator.sum() / falls.denominator.sum()
    f = spc.funnel(falls.assign(expected=falls.denominator * rate), numerator="numerator",
                   denominator="expected", group="team")  # fmt: skip
    page = f._repr_mimebundle_()["text/html"]
    assert "<svg" in page and page.count("<tr>") == 1 + 12
    assert f.chart().to_dict()["usermeta"]["qiwidgets"]


def test_spc_writes_svg_png_and_html(tmp_path):
    out = {ext: tmp_path / f"w07.{ext}" for ext in ("svg", "png", "html")}
    argv = ["spc", str(SAMPLES / "observations.csv"), "--where", "measure=FALLS_HARM",
            "--where", "team=W07", "--chart", "u", "--x", "period", "--y", "numerator",
            "--n", "denominator", "--multiply", "1000",
            *[a for ext, p in out.items() for a in (f"--{ext}", str(p))]]  # fmt: skip
    assert main(argv) == 0
    assert out["svg"].read_text(encoding="utf-8").startswith("<svg")
    assert out["png"].read_bytes()[:4] == b"\x89PNG"
    page = out["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<table" in page


# --- the wheel, installed elsewhere ------------------------------------------------------------


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory):
    """The built wheel installed (no -e) with its workbook, reports and dashboards extras into a
    fresh venv in a temporary folder: ``(venv/bin, the folder to run in, an environment)``."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                  str(ROOT)], cwd=base)  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("qiwidgets-*.whl")
    venv = base / "venv"
    python = getattr(sys, "_base_executable", sys.executable)
    assert _run([python, "-m", "venv", str(venv)]).returncode == 0
    bin_ = venv / ("Scripts" if os.name == "nt" else "bin")
    install = _run([str(bin_ / "python"), "-m", "pip", "install", "-q",
                    f"{wheel}[workbook,reports,dashboards]"], cwd=base)  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    work = base / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(config.PREFIX) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # fmt: skip
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(base / "jupyter" / name.lower())
    env["PATH"] = f"{bin_}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return bin_, work, env


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_installed_wheel_works_from_any_folder(installed_wheel):
    bin_, work, env = installed_wheel

    def qi(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return _run([str(bin_ / "qiwidgets"), *args], cwd=work, env=env, **kwargs)

    where = _run([str(bin_ / "python"), "-c", "import qiwidgets; print(qiwidgets.__file__)"],
                 cwd=work, env=env)  # fmt: skip
    assert where.stdout.strip().startswith(str(bin_.parent)), where.stdout  # not the checkout
    assert str(ROOT) not in where.stdout

    res = qi("load-sample")
    assert res.returncode == 0, res.stderr
    assert (work / "qiwidgets.db").is_file() and "12 teams" in res.stdout
    res = qi("load-sample", "--folder", str(work / "nothing-here"), "--db", "other.db")
    assert res.returncode == 2 and not (work / "other.db").exists()

    res = qi("reports", "--team", "W01", "--month", "2026-10", "--out", "reports",
             "--workers", "1", "--no-progress")  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    report = work / "reports" / "2026-10" / "teams" / "W01.html"
    assert report.is_file() and "Ward 1" in report.read_text(encoding="utf-8")

    res = qi("workbook", "wb")
    assert res.returncode == 0, res.stderr
    assert (work / "wb" / "00_start_here.ipynb").is_file()
    assert (work / "wb" / config.MARKER_FILE).is_file()

    _serve_one_page(bin_, work, env)


def _serve_one_page(bin_: Path, work: Path, env: dict[str, str]) -> None:
    import signal
    import socket
    import threading

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "qiwidgets-wheel-test-token-0123456789"
    proc = subprocess.Popen(
        [str(bin_ / "qiwidgets"), "serve", "--port", str(port), "--pool", "0", "--no-prewarm"],
        cwd=work, env={**env, "QI_TOKEN": token}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "dashboards are ready" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(300) and proc.poll() is None, "".join(lines[-40:])
        url = f"http://127.0.0.1:{port}/voila/render/team.ipynb?team=W01&token={token}"
        with urllib.request.urlopen(url, timeout=300) as resp:
            page = resp.read().decode("utf-8")
        # the kernel ran the dashboard with the installed package and the store: the page
        # holds the team dashboard's widget (drawn by the browser from the widget state)
        assert resp.status == 200 and "TeamDashboard(" in page, page[-2000:]
        assert "application/vnd.jupyter.widget-view+json" in page
        assert "Traceback" not in page and '"output_type": "error"' not in page
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    shutil.rmtree(work / "reports", ignore_errors=True)


def test_the_scheduling_page_s_commands_are_ones_qiwidgets_accepts():
    """docs/scheduling.md: the cron line and the systemd unit run `qiwidgets reports`."""
    import shlex

    from qiwidgets.cli import build_parser

    text = (ROOT / "docs" / "scheduling.md").read_text(encoding="utf-8")
    commands = re.findall(r"qiwidgets (reports --[^\n>]*?)\s*(?:>>|\n)", text)
    assert len(commands) >= 3  # the command, the cron line, the systemd unit
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command))
        assert args.month == "last" and args.func is not None
    assert "OnCalendar=" in text and "0 6 5 * *" in text
