"""The store's command line, run as a user runs it: the venv's ``qiwidgets`` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qiwidgets.store.sample import DEFAULT_DIR

QIWIDGETS = Path(sys.executable).with_name("qiwidgets")


def qi(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "QI_DATABASE_URL"}
    environ.update(env or {})
    return subprocess.run(
        [str(QIWIDGETS), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


@pytest.fixture(scope="module", autouse=True)
def _console_script():
    if not QIWIDGETS.exists():  # pragma: no cover - the venv always has it
        pytest.fail(f"the console script {QIWIDGETS} is missing: pip install -e . first")


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """The same CLI in this process (for argument handling, where a subprocess adds nothing)."""
    from qiwidgets.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse: --help, or a usage error
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_texts(tmp_path, capsys):
    for command in ("init", "import", "export", "load-sample"):
        code, out, _ = in_process(capsys, command, "--help")
        assert code == 0 and "--db" in out, command
    assert "Nothing was imported" not in out
    columns = ok(qi("import", "--columns", "observations", cwd=tmp_path))
    assert "denominator" in columns and "data_quality" in columns


def test_usage_errors_exit_non_zero_without_traceback(tmp_path, capsys):
    for args in (
        ("import", "teams", "--db", str(tmp_path / "x.db")),  # FILE missing
        ("import", "nonsense", "x.csv"),
        ("init", "--db", "mysql://me@localhost/x"),
        ("export", str(tmp_path / "out"), "--format", "xml"),
    ):
        code, out, err = in_process(capsys, *args)
        assert code != 0, args
        assert "Traceback" not in out + err, args


def test_init_import_export_on_sqlite(tmp_path):
    db = str(tmp_path / "ward.db")
    assert "is ready" in ok(qi("init", "--db", db, cwd=tmp_path))
    out = ok(qi("import", "teams", str(DEFAULT_DIR / "teams.csv"), "--db", db, cwd=tmp_path))
    assert "12 new" in out
    ok(qi("import", "measures", str(DEFAULT_DIR / "measures.csv"), "--db", db, cwd=tmp_path))
    obs = str(DEFAULT_DIR / "observations.csv")
    assert "0 unchanged" in ok(qi("import", "observations", obs, "--db", db, cwd=tmp_path))
    out = ok(qi("import", "observations", obs, "--db", db, cwd=tmp_path))
    assert "0 new, 0 changed" in out
    export = tmp_path / "export"
    out = ok(qi("export", str(export), "--db", db, cwd=tmp_path))
    assert "Exported programme FALLS" in out
    assert (export / "observations.csv").is_file()
    from qiwidgets.cli import main

    assert main(["init", "--db", db]) == 0  # again: nothing to do
    assert main(["export", str(tmp_path / "pq"), "--format", "parquet", "--db", db]) == 0
    assert (tmp_path / "pq" / "observations.parquet").is_file()


def test_import_errors_list_every_problem_then_nothing_was_imported(tmp_path):
    db = str(tmp_path / "ward.db")
    ok(qi("load-sample", "--db", db, cwd=tmp_path))
    bad = tmp_path / "observations.csv"
    bad.write_text(
        "team,measure,period,numerator,denominator\n"
        "W01,FALLS_HARM,2024-01,3,800\n"
        + "W01,FALLS_HARM,2024-02,3,800\n"
        * 2
        + "W01,FALLS_HARM,2024-03,3,-3\n"
        "W99,FALLS_HARM,2024-03,3,800\n",
        encoding="utf-8",
    )
    err = refused(qi("import", "observations", str(bad), "--db", db, cwd=tmp_path))
    lines = err.strip().splitlines()
    assert lines[-1] == "Nothing was imported."
    assert (
        "observations.csv, row 5, column 'denominator', value '-3': must be zero or more" in lines
    )
    assert any(line.startswith("observations.csv, row 4") and "as row 3" in line for line in lines)
    assert any("row 6, column 'team', value 'W99'" in line for line in lines)
    out = ok(qi("import", "observations", str(DEFAULT_DIR / "observations.csv"), "--db", db,
                cwd=tmp_path))  # fmt: skip
    assert "0 changed" in out  # the failed import left nothing behind


def test_user_errors_are_plain_messages(tmp_path):
    db = str(tmp_path / "ward.db")
    # a database that was never initialised
    err = refused(qi("import", "teams", str(DEFAULT_DIR / "teams.csv"), "--db", db,
                     cwd=tmp_path))  # fmt: skip
    assert "qiwidgets init" in err
    ok(qi("init", "--db", db, cwd=tmp_path))
    assert "does not exist" in refused(qi("import", "teams", "missing.csv", "--db", db,
                                          cwd=tmp_path))  # fmt: skip
    assert "folder" in refused(qi("init", "--db", str(tmp_path / "no" / "such" / "dir.db"),
                                  cwd=tmp_path))  # fmt: skip
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    err = refused(qi("import", "observations", str(empty), "--db", db, cwd=tmp_path))
    assert "the file is empty" in err and "Nothing was imported." in err


def test_load_sample_twice_leaves_the_same_data(tmp_path):
    from test_store_imports import snapshot

    db = str(tmp_path / "sample.db")
    out = ok(qi("load-sample", "--db", db, cwd=tmp_path))
    assert "Reducing harm from inpatient falls" in out and "1,344 observations" in out
    first = snapshot(f"sqlite:///{db}")
    ok(qi("load-sample", "--db", db, cwd=tmp_path))
    assert snapshot(f"sqlite:///{db}") == first
    assert first["observations"][0] == 1344
    assert first["teams"][0] == 12
    assert first["pdsa_cycles"][0] > 12 and first["reflections"][0] > 12
    assert all(first[t][0] > 0 for t in ("aims", "driver_nodes", "annotations",
                                          "progress_scores", "health_checks"))  # fmt: skip


def test_default_database_comes_from_the_environment(tmp_path):
    db = tmp_path / "from-env.db"
    ok(qi("init", cwd=tmp_path, env={"QI_DATABASE_URL": str(db)}))
    assert db.is_file()
    ok(qi("init", cwd=tmp_path))
    assert (tmp_path / "qiwidgets.db").is_file()


@pytest.mark.postgres
def test_load_sample_and_import_on_postgresql(tmp_path, pg_server):
    url = pg_server.create_database()
    try:
        ok(qi("load-sample", "--db", url, cwd=tmp_path))
        out = ok(qi("import", "observations", str(DEFAULT_DIR / "observations.csv"), "--db", url,
                    cwd=tmp_path))  # fmt: skip
        assert "1,344 unchanged" in out
        ok(qi("export", str(tmp_path / "out"), "--db", url, cwd=tmp_path))
    finally:
        pg_server.drop_database(url)


def test_sample_files_regenerate_byte_identical(tmp_path):
    from qiwidgets.store.sample import FILES, generate

    generate(tmp_path / "again")
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (DEFAULT_DIR / name).read_bytes(), name
    total = sum((DEFAULT_DIR / name).stat().st_size for name in FILES)
    assert total < 400_000


def test_sample_shows_improvement_in_some_wards_and_not_others():
    """The designed story: five wards shift down for good; six show common-cause variation."""
    import pandas as pd

    from qiwidgets.spc.qic import control_chart

    data = pd.read_csv(DEFAULT_DIR / "observations.csv")
    falls = data[data["measure"] == "FALLS_HARM"].copy()
    falls["period"] = pd.to_datetime(falls["period"])
    result = control_chart(falls, "period", "numerator", "denominator", chart="u",
                           facets="team", multiply=1000)  # fmt: skip
    summary = result.summary.set_index("team")
    signal = (summary["runs_signal"] > 0) | (summary["sigma_signal"] > 0)
    assert set(signal[signal].index) == {"W01", "W02", "W04", "W07", "W10"}
    for team in ("W01", "W02", "W04", "W07", "W10"):
        rate = falls[falls["team"] == team].eval("numerator / denominator")
        assert rate.iloc[-12:].mean() < 0.75 * rate.iloc[:12].mean(), team


def test_load_sample_reports_a_missing_folder(tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(DEFAULT_DIR / "teams.csv", partial / "teams.csv")
    err = refused(qi("load-sample", "--folder", str(partial), "--db", str(tmp_path / "x.db"),
                     cwd=tmp_path))  # fmt: skip
    assert "lacks" in err and "observations.csv" in err
