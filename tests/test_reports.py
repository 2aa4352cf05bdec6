"""Monthly learning reports: validation, the full pipeline on the sample programme, idempotency,
failure isolation, hostile names, PDF and the Dask executor.

Every report here is executed by papermill in a real Jupyter kernel (the venv's ``python3``),
in spawned worker processes. The 12-team pipeline runs once per module (``sample_run``).
Jupyter's state folders point at a temporary folder for the whole module.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from jupyter_state import jupyter_state

from qiwidgets.cli import main as cli_main
from qiwidgets.errors import ParameterError
from qiwidgets.reports import runner
from qiwidgets.reports.html import network_references
from qiwidgets.reports.params import Month, parse_month, slugify

MONTH = "2026-10"
BROKEN = "W05"  # its newest reflection gets an impossible date: its notebook's build cell raises

pytestmark = pytest.mark.slow


# --- environment ------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def jupyter_env(tmp_path_factory):
    """Jupyter's state in a temp folder; kernels found in the venv (``sys.prefix``)."""
    with jupyter_state(tmp_path_factory.mktemp("jupyter")) as base:
        yield base


def _sample_db(path: Path) -> str:
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    init_db(str(path))
    load_sample(str(path))
    dispose_engines()
    return str(path)


def _break_team(db: str, code: str) -> str:
    """Corrupt one record (an impossible date) so that the team's notebook raises."""
    con = sqlite3.connect(db)
    with con:
        row = con.execute(
            "SELECT r.id, r.what_happened FROM reflections r JOIN teams t ON t.id = r.team_id "
            "WHERE t.code = ? ORDER BY r.date DESC LIMIT 1",
            (code,),
        ).fetchone()
        con.execute("UPDATE reflections SET date = '2026-02-30' WHERE id = ?", (row[0],))
    con.close()
    return row[1]


def _latest_reflections(db: str) -> dict[str, str]:
    """Each team's newest reflection up to the month (what its report must show)."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT t.code, r.what_happened FROM reflections r JOIN teams t ON t.id = r.team_id "
        "WHERE r.date <= '2026-10-31' ORDER BY r.date, r.id"
    ).fetchall()
    con.close()
    latest = {}
    for code, text in rows:
        latest[code] = text
    return latest


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, jupyter_env):
    """The sample programme (12 wards), one team broken, all reports built with 2 workers."""
    base = tmp_path_factory.mktemp("sample")
    db = _sample_db(base / "sample.db")
    latest = _latest_reflections(db)
    _break_team(db, BROKEN)
    out = base / "reports"
    result = runner.run_reports(MONTH, db, out, workers=2, timeout=240)
    return {"db": db, "out": out, "result": result, "latest": latest}


# --- fast checks: parameters --------------------------------------------------------------------


def test_month_and_slug_rules():
    assert parse_month("2026-10") == Month(2026, 10)
    assert Month(2026, 12).next() == Month(2027, 1) and Month(2027, 1).previous() == Month(2026, 12)
    for bad in ("2026-13", "26-10", "2026/10", "", "2026-1", "x" * 50, None, 202610):
        with pytest.raises(ParameterError, match="YYYY-MM"):
            parse_month(bad)
    for name in ("../../etc/passwd", "..", "a/b", 'x"; import os', "</script>", "\n", "ÄÖ ü"):
        slug = slugify(name)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", slug), slug
    assert slugify("a/b") != slugify("a\\b")  # dropped characters never merge two names
    assert slugify("W01") == "W01"


def test_offline_check_finds_every_network_reference():
    ok = '<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/png;base64,AA"/></svg>'
    assert network_references(ok) == []
    # text that reads like markup, escaped as every user text is, is only text
    from qiwidgets.reports.html import esc

    text = esc('data=https://intranet.example/audit <img src="https://x.example/a.png">')
    assert network_references(f"<p>{text}</p>") == []
    for bad in (
        '<script src="https://cdn.example/require.js"></script>',
        '<link rel="stylesheet" href="https://cdn.example/x.css">',
        "<img src='//cdn.example/x.png'>",
        '<div style="background:url(https://x.example/a.png)"></div>',
        "<style>@import 'https://x.example/a.css';</style>",
        "<script>alert(1)</script>",
        '<svg><image xlink:href="https://x.example/a.png"/></svg>',
        '<img srcset="a.png 1x, https://x.example/b.png 2x">',
        '<meta http-equiv="refresh" content="0; url=https://x.example/">',
        '<object data="https://x.example/a.swf"></object>',
    ):
        assert network_references(bad), bad


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """Two teams built through the store API (reports_data), with hostile names and texts."""
    from reports_data import build_programme

    from qiwidgets.store.db import dispose_engines

    base = tmp_path_factory.mktemp("small")
    folder = base / 'we"ird \'db <x> $HOME'  # the database path itself is a parameter
    folder.mkdir()
    db = str(folder / "store.db")
    hostile = {
        0: 'Ward "7"\n</script><script>alert(1)</script> ../../escape',
        1: "O'Brien's ward {team} %s \\x00",
    }
    texts = {
        0: '<script>alert("reflection")</script> We learned "a lot" & more',
        # an ordinary sentence with an address: text, not markup (it once stopped the report)
        1: "Line one\nline two </textarea> ${x} see data=https://intranet.example/audit",
    }
    info = build_programme(db, teams=2, names=hostile, reflection_texts=texts)
    dispose_engines()
    return {"db": db, "names": hostile, "texts": texts, **info}


def test_invalid_parameters_are_refused_before_any_kernel(small_db, tmp_path):
    db, out = small_db["db"], tmp_path / "out"
    cases = [
        ({"month": "2026-13"}, "YYYY-MM"),
        ({"teams": ['../x"; import os\n</script>']}, "Unknown team"),
        ({"workers": 0}, "workers"),
        ({"executor": "spark"}, "executor"),
        ({"scheduler": "tcp://127.0.0.1:1"}, "scheduler"),
        ({"db": str(tmp_path / "missing.db")}, "does not exist"),
        ({"timeout": -1}, "timeout"),
    ]
    for change, message in cases:
        kwargs = {"month": MONTH, "db": db, "out": out, **change}
        with pytest.raises(ParameterError, match=message):
            runner.plan(**kwargs)
    assert not out.exists()  # nothing was written


def test_month_last_is_the_programme_s_latest_month_with_data(small_db, tmp_path):
    """``--month last`` (a scheduled job's month): the latest month any team has data for."""
    from sqlalchemy import select

    from qiwidgets.store import models
    from qiwidgets.store.db import session_scope

    with session_scope(small_db["db"], write=False) as session:
        latest = max(session.scalars(select(models.Observation.period)))
    p = runner.plan("last", small_db["db"], tmp_path / "out")
    assert str(p.month) == latest.strftime("%Y-%m")
    assert runner.plan(" Last ", small_db["db"], tmp_path / "out").month == p.month
    with pytest.raises(ParameterError, match="no data yet: give the month as YYYY-MM"):
        runner._latest_month(small_db["db"], [], "A programme")  # no team has data


def test_reports_print_on_a4_with_a_key_to_every_icon(small_db):
    """Board packs: A4 pages, and a key so that every icon on paper can be read."""
    from qiwidgets.charts.icons import ASSURANCE_ICON_NAMES, VARIATION_ICON_NAMES
    from qiwidgets.reports import team as team_report
    from qiwidgets.reports.html import PAGE_CSS

    assert "@page{size:A4" in PAGE_CSS
    words = team_report.build(small_db["db"], small_db["teams"][0], small_db["month"])
    words = words.section("words")
    assert "Key to the icons" in words
    assert words.count("<svg") >= len(VARIATION_ICON_NAMES) + len(ASSURANCE_ICON_NAMES)
    assert "hit and miss" in words and "concern (higher values)" in words


def test_cli_errors_are_one_plain_line(small_db, tmp_path, capsys):
    code = cli_main(["reports", "--month", "2026-10", "--db", small_db["db"], "--out",
                     str(tmp_path / "o"), "--team", "NOPE"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "Unknown team 'NOPE'" in err and "Traceback" not in err
    code = cli_main(["reports", "--month", "Oct", "--db", small_db["db"]])
    assert code == 2 and "YYYY-MM" in capsys.readouterr().err


def test_the_kernel_is_the_venv_python(jupyter_env):
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())



def _probe_notebook(path: Path) -> Path:
    """A report notebook that fails if it sees anything a previous report left behind."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('output_dir = "."\nfail = False')
    params.metadata["tags"] = ["parameters"]
    probe = nbformat.v4.new_code_cell(
        "import json, os\n"
        "assert 'left_behind' not in globals(), 'the previous report leaked into this one'\n"
        "left_behind = 1\n"
        "print('pid', os.getpid(), 'cwd_ok', os.path.samefile(os.getcwd(), output_dir))\n"
        "json.dump({}, open(os.path.join(output_dir, 'summary.json'), 'w'))\n"
        "if fail:\n"
        "    raise ValueError('this report fails on purpose')"
    )
    nb.cells = [params, probe]
    nbformat.write(nb, path)
    return path


def test_a_worker_keeps_its_kernel_and_starts_each_report_clean(tmp_path):
    """Reports reuse the worker's kernel (imports paid once) but never see each other's state;
    a report that fails leaves the kernel usable; ``reuse_kernel=False`` starts a fresh one."""
    import nbformat

    from qiwidgets.reports.execute import Job, run_job, shutdown_kernels

    nb = _probe_notebook(tmp_path / "probe.ipynb")

    def job(key: str, fail: bool = False, reuse: bool = True) -> Job:
        return Job(kind="team", key=key, slug=key, title=key, notebook=str(nb),
                   parameters={"fail": fail}, final_dir=str(tmp_path / "out"),
                   failed_dir=str(tmp_path / "failed"), staging_root=str(tmp_path / "staging"),
                   build={}, timeout=120, reuse_kernel=reuse)  # fmt: skip

    def printed(res) -> tuple[int, bool]:
        out = nbformat.read(res.files.get("notebook") or res.failed_notebook, as_version=4)
        text = "".join(o.get("text", "") for o in out.cells[-1].outputs)
        _, pid, _, cwd_ok = text.split()
        return int(pid), cwd_ok == "True"

    try:
        results = [run_job(job("a")), run_job(job("b", fail=True)), run_job(job("c"))]
        fresh = run_job(job("d", reuse=False))
    finally:
        shutdown_kernels()
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].ename == "ValueError" and "on purpose" in results[1].evalue
    seen = [printed(r) for r in results]
    assert all(cwd_ok for _, cwd_ok in seen)  # each report runs in its own folder
    assert len({pid for pid, _ in seen}) == 1  # one kernel for the three reports
    assert fresh.ok and printed(fresh)[0] != seen[0][0]

# --- the sample programme ------------------------------------------------------------------------


def _team_codes(db: str) -> list[str]:
    con = sqlite3.connect(db)
    codes = [r[0] for r in con.execute("SELECT code FROM teams ORDER BY code")]
    con.close()
    return codes


def test_sample_batch_builds_11_reports_and_records_the_broken_team(sample_run):
    result, out = sample_run["result"], sample_run["out"]
    codes = _team_codes(sample_run["db"])
    assert len(codes) == 12
    assert sorted(r.key for r in result.built) == [c for c in codes if c != BROKEN]
    assert [r.key for r in result.failed] == [BROKEN]
    assert not result.ok
    failure = result.failed[0]
    assert failure.ename == "ValueError" and failure.cell is not None
    kept = Path(failure.failed_notebook)
    assert kept.is_file() and kept.is_relative_to(out)
    nb = json.loads(kept.read_text())
    assert "team_report.build" in "".join(nb["cells"][failure.cell]["source"])
    record = json.loads((out / MONTH / "failures.json").read_text())
    assert record[0]["key"] == BROKEN and record[0]["cell"] == failure.cell
    assert not (out / MONTH / "teams" / f"{BROKEN}.html").exists()
    assert result.programme is not None and result.programme.ok


def _assert_offline_page(text: str) -> None:
    assert network_references(text) == []
    for attr in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", text, flags=re.IGNORECASE):
        assert not re.match(r"\s*(https?:)?//", attr, flags=re.IGNORECASE), attr
    assert "<script" not in text.lower()


def test_every_team_report_is_complete_and_offline(sample_run):
    out, latest = sample_run["out"], sample_run["latest"]
    teams_dir = out / MONTH / "teams"
    from qiwidgets.store import repo

    db = sample_run["db"]
    for code in _team_codes(db):
        if code == BROKEN:
            continue
        page = (teams_dir / f"{code}.html").read_text(encoding="utf-8")
        summary = json.loads((teams_dir / f"{code}.json").read_text(encoding="utf-8"))
        assert (teams_dir / f"{code}.ipynb").is_file()
        _assert_offline_page(page)
        assert "team_report.build" not in page and "display(HTML" not in page  # no code
        family = repo.list_measures(db, code)
        assert len(summary["measures"]) == len(family)
        for measure in family:  # each measure's chart: an inline SVG titled with its name
            assert re.search(r"<svg[^>]*>\s*<title>" + re.escape(html.escape(measure.name)), page), (
                code, measure.name)  # fmt: skip
        assert html.escape(latest[code]) in page, code
        assert "Data cut-off" in page and "Data completeness" in page
        assert summary["build"]["python"] == sys.executable  # the venv's kernel ran it
        assert summary["team"]["code"] == code and summary["month"] == MONTH
        for m in summary["measures"]:
            assert m["variation_icon"] in (None, "common_cause", "improvement_high",
                                           "improvement_low", "concern_high", "concern_low",
                                           "neutral_high", "neutral_low")  # fmt: skip


def test_programme_report_has_funnel_bright_spots_and_no_league_table(sample_run):
    out = sample_run["out"]
    page = (out / MONTH / "programme.html").read_text(encoding="utf-8")
    summary = json.loads((out / MONTH / "programme.json").read_text(encoding="utf-8"))
    _assert_offline_page(page)
    funnel = re.search(r'class="qiw-funnel">\s*<figure[^>]*>\s*<svg', page)
    assert funnel, "funnel plot missing"
    assert 'class="qiw-small-multiples"' in page
    assert "Bright spots" in page and summary["bright_spots"], summary
    team_summaries = {
        p.stem: json.loads(p.read_text()) for p in (out / MONTH / "teams").glob("*.json")
    }
    for code in summary["bright_spots"]:
        assert team_summaries[code]["improvement"]
        assert html.escape(team_summaries[code]["team"]["name"]) in page
    assert BROKEN in summary["missing_teams"]
    lowered = page.lower()
    for banned in ("league table</th>", "rank</th>", ">red<", ">amber<", ">green<"):
        assert banned not in lowered
    index = (out / "index.html").read_text(encoding="utf-8")
    _assert_offline_page(index)
    assert f'href="{MONTH}/programme.html"' in index
    assert index.count(f'href="{MONTH}/teams/') == 11


def test_rerun_without_changes_rebuilds_nothing_and_force_rebuilds(sample_run):
    out, db = sample_run["out"], sample_run["db"]
    teams_dir = out / MONTH / "teams"
    before = {p.name: p.stat().st_mtime_ns for p in teams_dir.iterdir()}
    prog_before = (out / MONTH / "programme.html").stat().st_mtime_ns
    again = runner.run_reports(MONTH, db, out, workers=2, timeout=240)
    assert again.built == []
    assert sorted(again.skipped) == sorted(c for c in _team_codes(db) if c != BROKEN)
    assert [r.key for r in again.failed] == [BROKEN]  # still broken, tried again
    assert again.programme is None and again.programme_skipped
    assert {p.name: p.stat().st_mtime_ns for p in teams_dir.iterdir()} == before
    assert (out / MONTH / "programme.html").stat().st_mtime_ns == prog_before

    forced = runner.run_reports(MONTH, db, out, ["W01"], workers=1, force=True, timeout=240)
    assert [r.key for r in forced.built] == ["W01"]
    assert (teams_dir / "W01.html").stat().st_mtime_ns > before["W01.html"]


def test_a_data_change_rebuilds_that_team_and_the_programme(sample_run):
    from qiwidgets.store import repo

    out, db = sample_run["out"], sample_run["db"]
    team = repo.get_team(db, "W02")
    repo.save_reflection(db, {"team_id": team.id, "date": "2026-10-30",
                              "what_happened": "A late reflection for the test"})  # fmt: skip
    p = runner.plan(MONTH, db, out)
    assert sorted(j.key for j in p.jobs) == sorted(["W02", BROKEN])
    res = runner.run_plan(p, progress=False)
    assert sorted(r.key for r in res.built) == ["W02"]
    assert res.programme is not None and res.programme.ok
    page = (out / MONTH / "teams" / "W02.html").read_text(encoding="utf-8")
    assert "A late reflection for the test" in page
    assert not list((out / ".staging").iterdir())  # no half-written files left behind


def test_a_report_chart_marks_the_pdsa_cycles_the_dashboard_chart_marks(small_db):
    """The same cycles on the team's report and dashboard charts: the report stops at its month."""
    from qiwidgets import workbook as wb
    from qiwidgets.reports import team as team_report

    code = small_db["teams"][0]
    for month in (MONTH, "2026-09"):
        report = team_report.build(small_db["db"], code, month)
        data, last_day = report.data, parse_month(month).last_day
        charted = [mm for mm in report.measures if mm.result is not None]
        assert len(charted) == len(data.measures) == 4
        for mm in charted:
            measure_id = mm.measure_id
            notes = [a for a in data.annotations if a.measure_id in (None, measure_id)]
            dashboard = [r for r in wb.chart_annotations(notes, data.pdsa, measure_id)
                         if r["kind"].startswith("pdsa") and r["date"] <= last_day]  # fmt: skip
            shown = [(a["date"], a["text"]) for a in mm.chart_rows
                     if a["kind"].startswith("pdsa")]  # fmt: skip
            assert sorted(shown) == sorted((r["date"], r["text"]) for r in dashboard)
            texts = {t for _, t in shown}
            if month == MONTH:  # the cycle that watches no measure is on every chart
                assert "PDSA: Extend to night shift" in texts
            if mm.measure_code == "risk_assessed":
                assert "PDSA: bedside assessment" in texts  # its start, marked by the team
                assert "PDSA: Bedside risk assessment on one bay" not in texts  # not twice
                adopted = "Adopted: Bedside risk assessment on one bay"
                assert (adopted in texts) == (month == MONTH)  # decided in October


# --- hostile names, PDF ------------------------------------------------------------------------


def test_hostile_names_and_texts_stay_data(small_db, tmp_path):
    outer = tmp_path / "area"
    out = outer / "reports"
    res = runner.run_reports(MONTH, small_db["db"], out, workers=2, pdf=True, timeout=240)
    assert res.ok, [r.describe() for r in res.failed]
    assert len(res.built) == 2
    written = [p for p in outer.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written)
    for p in written:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", p.name), p
    pages = list(out.rglob("*.html"))
    assert len(pages) == 4  # 2 teams, the programme, the index
    for page_path in pages:
        text = page_path.read_text(encoding="utf-8")
        _assert_offline_page(text)
        assert "alert(" not in text or "&lt;script&gt;alert(" in text
    team_pages = {p.stem: p.read_text(encoding="utf-8") for p in (out / MONTH / "teams").glob("*.html")}
    joined = "".join(team_pages.values())
    assert "<script" not in joined.lower()
    assert "&lt;script&gt;alert(" in joined  # shown as text, escaped
    # nbconvert may write quotes as entities or as characters: compare the text a reader sees
    shown = html.unescape(joined)
    assert 'Ward "7"' in shown and '<script>alert("reflection")</script>' in shown
    assert "O'Brien's ward {team} %s \\x00" in shown
    assert "see data=https://intranet.example/audit" in shown
    for pdf in (out / MONTH / "teams").glob("*.pdf"):
        assert pdf.read_bytes()[:5] == b"%PDF-"
    assert len(list((out / MONTH / "teams").glob("*.pdf"))) == 2


# --- a new team -------------------------------------------------------------------------------


def test_a_new_team_gets_a_report_that_says_what_to_enter(small_db, tmp_path):
    """A team with no data yet is a normal team: its report is built and says what to do
    next; a programme report built for one team names the teams left out on purpose."""
    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines

    db = str(tmp_path / "copy.db")
    shutil.copyfile(small_db["db"], db)
    prog = repo.get_programme(db)
    repo.save_team(db, {"programme_id": prog.id, "code": "W13", "name": "Frailty unit"})
    dispose_engines()
    out = tmp_path / "out"
    res = runner.run_reports(MONTH, db, out, teams=["W13"], workers=1, timeout=240)
    assert res.ok, [r.describe() for r in res.failed]
    page = html.unescape((out / MONTH / "teams" / "W13.html").read_text(encoding="utf-8"))
    assert "no data yet — enter this month's value to start the chart" in page
    assert "Traceback" not in page and "Error" not in page
    programme = html.unescape((out / MONTH / "programme.html").read_text(encoding="utf-8"))
    assert "No report could be built" not in programme
    left_out = programme.split("(left out on purpose): ")[1].split("</p>")[0]
    assert "O'Brien's ward" in left_out and "Frailty unit" not in left_out


# --- secrets ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_database_password_reaches_no_report_file(pg_server, tmp_path):
    """``qiwidgets reports --db postgresql://user:PASSWORD@...``: the reports are built, and
    the password is in none of the files written (the executed notebooks' parameters show the
    URL with ``***``; the kernel gets the whole URL through its environment)."""
    from reports_data import build_programme

    from qiwidgets.store.db import dispose_engines

    password = "Pa55-word-not-for-notebooks"
    url = pg_server.create_database().replace("@", f":{password}@", 1)  # trust: any password
    build_programme(url, teams=2)
    dispose_engines()
    out = tmp_path / "out"
    assert cli_main(["reports", "--month", MONTH, "--db", url, "--out", str(out),
                     "--workers", "1", "--no-progress"]) == 0  # fmt: skip
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len([p for p in files if p.suffix == ".ipynb"]) == 3
    for p in files:
        assert password.encode() not in p.read_bytes(), p
    nb = json.loads(next((out / MONTH / "teams").glob("*.ipynb")).read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert ":***@" in "".join(injected[0]["source"])


def test_a_url_with_a_hidden_password_opens_only_with_the_whole_url_at_hand(monkeypatch):
    from qiwidgets.errors import StoreError
    from qiwidgets.store.db import redact, resolve_url

    whole = "postgresql+psycopg://qi:pw@db.example/qi"
    assert redact(whole) == "postgresql+psycopg://qi:***@db.example/qi"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    monkeypatch.setenv("QI_DATABASE_URL", whole)
    assert resolve_url(redact(whole)) == whole
    monkeypatch.setenv("QI_DATABASE_URL", "postgresql://qi:pw@db.example/other")
    with pytest.raises(StoreError, match="password hidden"):
        resolve_url(redact(whole))


# --- Dask ----------------------------------------------------------------------------------------


def test_dask_executor_with_a_local_cluster_of_processes(small_db, tmp_path):
    out = tmp_path / "dask-out"
    res = runner.run_reports(MONTH, small_db["db"], out, executor="dask", workers=2, timeout=240)
    assert res.ok, [r.describe() for r in res.failed]
    assert sorted(r.key for r in res.built) == small_db["teams"]
    assert res.programme is not None and res.programme.ok
    for code in small_db["teams"]:
        assert (out / MONTH / "teams" / f"{slugify(code)}.html").is_file()


def test_a_team_only_reflection_is_in_no_programme_report(tmp_path):
    """Learning in confidence: a reflection the team has not shared (even one flagged as a
    bright spot and may-generalise) is in no line of the programme report; the same words
    shared are."""
    from qiwidgets.reports import programme
    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    db = f"sqlite:///{tmp_path / 'sample.db'}"
    init_db(db)
    load_sample(db)
    team = repo.get_team(db, "W05")
    flags = {"team_id": team.id, "bright_spot": True, "generalisable": True}
    repo.save_reflection(db, {**flags, "date": "2026-10-20",
                              "what_happened": "Kept-on-the-ward words 7f3a"})  # fmt: skip
    repo.save_reflection(db, {**flags, "date": "2026-10-21", "shared": True,
                              "what_happened": "Shared-with-everyone words 9c1b"})  # fmt: skip
    (tmp_path / "summaries").mkdir()
    html = programme.build(db, MONTH, str(tmp_path / "summaries")).html()
    dispose_engines()
    assert "Shared-with-everyone words 9c1b" in html
    assert "Kept-on-the-ward" not in html
