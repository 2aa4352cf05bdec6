"""One rule for which database, and one prefix for every setting (qiwidgets.config)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qiwidgets import config


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A workbook folder (marked with qiwidgets.toml) with a sub-folder, as the current one."""
    for name in config.SETTINGS.values():
        monkeypatch.delenv(name.env, raising=False)
    (tmp_path / config.MARKER_FILE).write_text("")
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)
    return tmp_path


def test_every_channel_resolves_the_same_database(folder, monkeypatch):
    from qiwidgets import notebook
    from qiwidgets.dashboards.server import resolve_db
    from qiwidgets.store.db import resolve_url

    want = folder / "qiwidgets.db"  # the workbook folder's, not the current folder's
    assert config.database() == str(want)
    assert notebook.database_location() == str(want)
    assert resolve_url(None) == f"sqlite:///{want}"
    want.touch()
    assert resolve_db(None) == f"sqlite:///{want}"  # qiwidgets serve, and so its kernels
    monkeypatch.setenv("QI_DATABASE_URL", "postgresql://me@db/qi")
    assert config.database() == notebook.database_location() == "postgresql://me@db/qi"
    assert resolve_url(None) == "postgresql+psycopg://me@db/qi"
    assert config.database("other.db") == "other.db"  # given beats the environment


def test_outside_a_workbook_folder_the_current_folder_holds_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv("QI_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # pytest's temporary folders are in no workbook folder
    assert config.workbook_folder() is None
    assert config.database() == str(tmp_path / "qiwidgets.db")


def test_every_setting_has_the_one_prefix_and_the_channels_use_them():
    from qiwidgets.dashboards import fastchart, runtime, server
    from qiwidgets.reports import runner
    from qiwidgets.store import db

    assert all(s.env.startswith(config.PREFIX) for s in config.SETTINGS.values())
    used = {runtime.DB_ENV, runtime.DEV_ENV, runtime.PROGRAMME_ENV, runtime.VISITOR_KEY_ENV,
            fastchart.CACHE_ENV, server.TOKEN_ENV, runner.NOTEBOOKS_ENV, db.ENV_VAR}  # fmt: skip
    assert used <= {s.env for s in config.SETTINGS.values()}
    source = Path(config.__file__).parent
    stray = [p for p in source.rglob("*.py") if "QIWIDGETS_" in p.read_text(encoding="utf-8")]
    assert not stray, stray


def test_where_says_which_database_every_part_uses(folder, capsys):
    from qiwidgets.cli import main

    assert main(["where"]) == 0
    out = capsys.readouterr().out
    assert f"Database: {folder / 'qiwidgets.db'}" in out
    assert "QI_TOKEN" in out and os.environ.get("QI_TOKEN") is None
