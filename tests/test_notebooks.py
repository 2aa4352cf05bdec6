"""The guided notebooks: they run top to bottom on the sample programme without a browser, their
outputs ask nothing of the network, they start with guidance, and their charts are saved as PNG
under ``test-artifacts/notebooks/`` for a person to look at.

Each notebook is executed once per session with nbclient (kernel ``python3``, the interpreter
running pytest), against a temporary SQLite database, with Jupyter's state folders in a
temporary folder. This is the one run of the guided notebooks in ``make test``;
``make test-notebooks`` (nbval, cell by cell) is for whoever edits a notebook.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"
NAMES = [
    "00_start_here",
    "01_purpose",
    "02_measures",
    "03_variation",
    "04_reflection",
    "05_learning_together",
    "10_analyst_programme",
]
#: Seconds a single cell may take before the run fails (a stalled cell must not hang the suite).
CELL_TIMEOUT = 600
#: Height in pixels of each screenshot tile of a notebook page.
PAGE_TILE = 1400

# A script or stylesheet that a browser would fetch from the network.
_NETWORK_SOURCES = [
    re.compile(r"<\s*script\b[^>]*\bsrc\s*=\s*[\"']?\s*(https?:)?//", re.IGNORECASE),
    re.compile(r"<\s*link\b[^>]*\bhref\s*=\s*[\"']?\s*(https?:)?//", re.IGNORECASE),
    re.compile(r"@import\s+(url\()?\s*[\"']?\s*(https?:)?//", re.IGNORECASE),
    re.compile(r"url\(\s*[\"']?\s*(https?:)?//", re.IGNORECASE),
    re.compile(r"\b(require|requirejs)\.config\b", re.IGNORECASE),
    re.compile(r"cdn\.jsdelivr|unpkg\.com|cdnjs\.", re.IGNORECASE),
]
_SCRIPT_MIMES = ("application/javascript", "text/javascript")


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    """Environment for the kernels: temporary Jupyter/IPython folders and database."""
    root = tmp_path_factory.mktemp("notebook-env")
    env = {
        "QI_DATABASE_URL": str(root / "qiwidgets.db"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "IPYTHONDIR": str(root / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    for key in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        Path(env[key]).mkdir()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return nb


@pytest.fixture(scope="session")
def executed(jupyter_env):
    """Every notebook executed once (a dict name -> executed notebook), saved to the artefacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        out[name] = _execute(nb)
        nbformat.write(out[name], ARTIFACTS / f"{name}.executed.ipynb")
    return out


def _outputs(nb) -> list[tuple[int, str, str]]:
    """``(cell index, mime type, text)`` for every output of every code cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                found.append((i, "stream", output.get("text", "")))
            elif output.get("output_type") == "error":
                found.append((i, "error", "\n".join(output.get("traceback", []))))
            for mime, data in (output.get("data") or {}).items():
                text = data if isinstance(data, str) else json.dumps(data)
                found.append((i, mime, text))
    return found


# --- committed notebooks ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_clean(name):
    """Committed with outputs cleared, kernel ``python3``, and valid nbformat."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell was committed with outputs"
            assert cell.execution_count is None


@pytest.mark.parametrize("name", NAMES)
def test_guidance_comes_before_code(name):
    """A notebook opens with a heading and guidance text; code never runs on for long unexplained."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.lstrip().startswith("# ")
    assert len(first.source.split()) >= 25, f"{name}: the opening guidance is too short"
    run = 0
    for cell in nb.cells:
        run = run + 1 if cell.cell_type == "code" else 0
        assert run <= 3, f"{name}: more than 3 code cells in a row without guidance"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:  # thin notebooks: a few calls, not functions
        assert not re.search(r"^\s*(def|class)\s", cell.source, re.MULTILINE), (
            f"{name}: a notebook defines a function; move it into qiwidgets.notebook"
        )
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{name}: needs exactly one cell tagged 'parameters'"


# --- executed notebooks -----------------------------------------------------------------------


def test_kernel_is_this_interpreter(jupyter_env):
    """The ``python3`` kernel the notebooks run in is the interpreter running the tests."""
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import sys; print(sys.executable)")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    out = _execute(nb).cells[0].outputs[0]["text"].strip()
    assert Path(out).resolve() == Path(sys.executable).resolve()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_without_errors(executed, name):
    errors = [(i, text) for i, mime, text in _outputs(executed[name]) if mime == "error"]
    assert not errors, f"{name}: cell {errors[0][0]} raised:\n{errors[0][1]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_outputs_load_nothing_from_the_network(executed, name):
    """No output (nor the saved widget state) has an http(s) script or stylesheet source."""
    nb = executed[name]
    texts = [(f"cell {i} {mime}", text) for i, mime, text in _outputs(nb)]
    texts.append(("widget state", json.dumps(nb.metadata.get("widgets", {}))))
    for where, text in texts:
        assert not where.endswith(_SCRIPT_MIMES), f"{name}: {where} is a script output"
        for rx in _NETWORK_SOURCES:
            m = rx.search(text)
            assert m is None, f"{name}: {where} loads from the network: {text[m.start() :][:80]!r}"


#: What each notebook must show as static HTML (not only inside a widget).
KEY_CONTENT = {
    "00_start_here": ["Ward 7 (Care of Older People)", "What the chart says", "<svg"],
    "01_purpose": ["Reduce falls with harm on Ward 7", "Time-bound", "qi-driver-diagram"],
    "02_measures": ["What is counted", "Balancing measure", "<svg"],
    "03_variation": ["Rule set", "Making Data Count", "record what you learned?", "<svg"],
    "04_reflection": ["What happened", "Double-loop learning", "Shared purpose", "<svg"],
    "05_learning_together": ["Patient or family partner", "qi-skills", "Effect", "qi-pulse",
                             "qi-help-requests"],
    "10_analyst_programme": ["last 12 months", "Icons", "<svg"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_shows_content_without_widgets(executed, name):
    """Every notebook shows its key content as static HTML/SVG, not only through widgets."""
    outs = _outputs(executed[name])
    html = "\n".join(t for _, mime, t in outs if mime in ("text/html", "text/plain", "stream"))
    for needle in KEY_CONTENT[name]:
        assert needle.lower() in html.lower(), f"{name}: {needle!r} is not shown"
    assert "Traceback" not in html


@pytest.mark.slow
def test_start_here_shows_where_the_team_stands(executed):
    html = "\n".join(t for _, mime, t in _outputs(executed["00_start_here"]) if mime == "text/html")
    assert "Ward 7 (Care of Older People)" in html
    assert "Reduce falls with harm on Ward 7" in html
    assert "Progress score" in html and "Rule set" in html


@pytest.mark.slow
def test_charts_render_to_png(executed):
    """Every chart (SVG figure) of every notebook as a PNG in test-artifacts/notebooks/."""
    import vl_convert as vlc

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*-cell*.png"):
        old.unlink()
    written = []
    for name, nb in executed.items():
        k = 0
        for i, mime, text in _outputs(nb):
            if mime != "text/html" or not text.lstrip().startswith("<figure"):
                continue
            svg = re.search(r"<svg\b.*?</svg>", text, re.DOTALL).group(0)
            k += 1
            path = ARTIFACTS / f"{name}-{k:02d}-cell{i:02d}.png"
            path.write_bytes(vlc.svg_to_png(svg, scale=1.5))
            written.append(path)
        assert k or "<svg" not in KEY_CONTENT[name], f"{name}: no chart figure found"
    assert all(p.stat().st_size > 5_000 for p in written)


@pytest.mark.slow
@pytest.mark.browser
def test_pages_screenshot(executed):
    """Each notebook's static outputs as one page, screenshotted by Chromium (tables, icons)."""
    from playwright.sync_api import sync_playwright

    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium is missing: `make system-deps` installs it.", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            for old in ARTIFACTS.glob("*-page*.png"):
                old.unlink()
            for name, nb in executed.items():
                body = []
                for cell in nb.cells:  # guidance and static outputs, in notebook order
                    if cell.cell_type == "markdown":
                        body.append(f"<pre style='white-space:pre-wrap'>{_esc(cell.source)}</pre>")
                    for output in cell.get("outputs", []):
                        data = output.get("data") or {}
                        if "text/html" in data:
                            body.append(data["text/html"])
                        elif "text/plain" in data:
                            body.append(f"<pre>{_esc(data['text/plain'])}</pre>")
                page.set_content(
                    "<!doctype html><meta charset='utf-8'><body style='font-family:sans-serif'>"
                    + "\n".join(body)
                    + "</body>"
                )
                height = page.evaluate("document.documentElement.scrollHeight")
                for k, top in enumerate(range(0, height, PAGE_TILE), 1):  # readable tiles
                    page.screenshot(
                        path=str(ARTIFACTS / f"{name}-page-{k}.png"),
                        full_page=True,
                        clip={
                            "x": 0,
                            "y": top,
                            "width": 1200,
                            "height": min(PAGE_TILE, height - top),
                        },
                    )
            assert not [u for u in requests if u.startswith(("http:", "https:"))]
        finally:
            browser.close()


def _esc(text: str) -> str:
    import html

    return html.escape(text)


# --- qiwidgets.notebook helpers (no kernel) ------------------------------------------------------


def test_database_location_order(tmp_path, monkeypatch):
    from qiwidgets import notebook as qn

    monkeypatch.delenv("QI_DATABASE_URL", raising=False)
    monkeypatch.chdir(NOTEBOOKS)
    assert qn.project_root() == ROOT
    assert qn.database_location() == str(ROOT / "qiwidgets.db")  # the repository's root
    monkeypatch.chdir(tmp_path)
    assert qn.project_root() is None
    assert qn.database_location() == str(tmp_path / "qiwidgets.db")  # the current folder
    monkeypatch.setenv("QI_DATABASE_URL", "postgresql://me@host/qi")
    assert qn.database_location() == "postgresql://me@host/qi"  # the environment wins ...
    assert qn.database_location(tmp_path / "x.db") == str(tmp_path / "x.db")  # ... but not db=


def test_words_use_the_glossary():
    from qiwidgets import glossary
    from qiwidgets import notebook as qn

    block = qn.words("balancing", "double_loop")
    for key in ("balancing", "double_loop"):
        assert glossary.explain(key) in block.text
        assert glossary.label(key) in block._repr_html_()


def test_open_workbook_db_on_an_empty_store_without_the_sample(tmp_path, capsys):
    from qiwidgets import notebook as qn
    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines

    url = qn.open_workbook_db(tmp_path / "new" / "qi.db", sample=False)
    try:
        assert repo.list_programmes(url) == []
        assert "no programme yet" in capsys.readouterr().out
        assert (tmp_path / "new" / "qi.db").is_file()
    finally:
        dispose_engines()


# --- a new team is a normal team -----------------------------------------------------------


@pytest.fixture(scope="module")
def new_teams(tmp_path_factory):
    """Two stores: the sample with W13 (no data yet) and W14 (one month, one measure only), and
    a new programme whose one team, E01, has no measures at all."""
    import datetime as dt

    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines, init_db, session_scope
    from qiwidgets.store.sample import load_sample

    root = tmp_path_factory.mktemp("new-teams")
    sample, empty = str(root / "sample.db"), str(root / "empty.db")
    init_db(sample)
    load_sample(sample)
    prog = repo.get_programme(sample)
    repo.save_team(sample, {"programme_id": prog.id, "code": "W13", "name": "Frailty unit"})
    w14 = repo.save_team(sample, {"programme_id": prog.id, "code": "W14", "name": "Day surgery"})
    falls = repo.get_measure(sample, "FALLS_HARM")
    with session_scope(sample) as session:
        repo.upsert_observations(session, [{
            "team_id": w14.id, "measure_id": falls.id, "period": dt.date(2026, 10, 1),
            "numerator": 2.0, "denominator": 700.0, "value": None}], source="test")  # fmt: skip
    init_db(empty)
    new = repo.save_programme(empty, {"code": "NEW", "name": "A new programme"})
    repo.save_team(empty, {"programme_id": new.id, "code": "E01", "name": "Empty ward"})
    dispose_engines()
    return {"W13": sample, "W14": sample, "E01": empty}


def _run_for_team(name: str, team: str, db: str, monkeypatch) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(r'TEAM = "\w+"', f'TEAM = "{team}"', cell.source)
    monkeypatch.setenv("QI_DATABASE_URL", db)
    return _execute(nb)


@pytest.mark.parametrize("team", ["W13", "W14", "E01"])
def test_the_guided_notebooks_run_for_a_new_team(team, new_teams, jupyter_env, monkeypatch):
    """Run All completes for a team with no data, with one month of one measure, and with no
    measures at all: no error output, and the empty parts say what to do next."""
    said = []
    for name in NAMES[:6]:
        nb = _run_for_team(name, team, new_teams[team], monkeypatch)
        outputs = _outputs(nb)
        errors = [(i, text[:300]) for i, mime, text in outputs if mime == "error"]
        assert not errors, (name, errors)
        said += [text for _, mime, text in outputs if mime in ("text/html", "text/plain")]
    joined = " ".join(said)
    if team == "E01":
        assert "Empty ward has no measures yet" in joined
    if team == "W13":
        assert "no data yet" in joined or "no data points" in joined


def test_the_analyst_notebook_lists_the_teams_without_data(new_teams, jupyter_env, monkeypatch):
    nb = _run_for_team("10_analyst_programme", "W07", new_teams["W13"], monkeypatch)
    outputs = _outputs(nb)
    assert not [text for _, mime, text in outputs if mime == "error"]
    assert any("left out: Frailty unit" in text for _, mime, text in outputs if mime == "stream")
