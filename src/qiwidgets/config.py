"""Every setting of qiwidgets in one place, with one prefix (``QI_``), and the one rule for
which database is used.

The command line, the notebooks, the dashboards (``qiwidgets serve`` and its kernels) and the
monthly reports all read their settings here, so they never disagree about which database
they open.

Which database (:func:`database`), in order:

1. the database given (``--db`` on the command line, ``db=`` in Python): a SQLite file path or
   a URL such as ``postgresql://user@host/qi``;
2. the environment variable ``QI_DATABASE_URL``;
3. ``qiwidgets.db`` in the *workbook folder*: the nearest folder, from the current one upwards,
   that holds a ``qiwidgets.toml`` file or is a qiwidgets source checkout (``pyproject.toml``
   and ``src/qiwidgets``) — so a notebook in ``notebooks/`` and a command run at the top use
   the same file;
4. ``qiwidgets.db`` in the current folder.

``qiwidgets where`` prints what each setting resolves to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The prefix of every environment variable qiwidgets reads.
PREFIX = "QI_"
#: The database file used when no database is named (in the workbook folder, else here).
DEFAULT_DB_FILENAME = "qiwidgets.db"
#: A file that marks a folder as a workbook folder (its ``qiwidgets.db`` is the default).
MARKER_FILE = "qiwidgets.toml"


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable and what it is for."""

    env: str
    help: str


#: Every setting, by name.
SETTINGS: dict[str, Setting] = {
    "database_url": Setting(f"{PREFIX}DATABASE_URL", "the database: a SQLite file or a URL"),
    "programme": Setting(f"{PREFIX}PROGRAMME", "the programme code, when a store holds several"),
    "token": Setting(f"{PREFIX}TOKEN", "the dashboards' visitor token (qiwidgets serve)"),
    "dev": Setting(f"{PREFIX}DEV", "1: dashboards show tracebacks (development only)"),
    "chart_cache": Setting(f"{PREFIX}CHART_CACHE", "where the dashboards keep drawn charts"),
    "chromium": Setting(f"{PREFIX}CHROMIUM", "the Chromium that prints PDF reports"),
    "pipelines": Setting(f"{PREFIX}PIPELINES", "the folder holding the report notebooks"),
    "visitor": Setting(
        f"{PREFIX}VISITOR", "set by qiwidgets serve for each page: who it is for (internal)"
    ),
    "visitor_groups": Setting(
        f"{PREFIX}VISITOR_GROUPS",
        "set by qiwidgets serve --hub for each page: the visitor's Hub groups (internal)",
    ),
    "visitor_key": Setting(
        f"{PREFIX}VISITOR_KEY", "set by qiwidgets serve for each dashboard kernel (internal)"
    ),
}


def env_name(name: str) -> str:
    """The environment variable of a setting (``"database_url"`` -> ``QI_DATABASE_URL``)."""
    return SETTINGS[name].env


def get(name: str, default: str | None = None) -> str | None:
    """A setting from the environment (stripped; an empty value counts as unset)."""
    value = os.environ.get(env_name(name), "").strip()
    return value or default


def workbook_folder(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder, from ``start`` (default: the current one) upwards, that holds a
    ``qiwidgets.toml`` or is a qiwidgets source checkout; None outside one."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER_FILE).is_file():
            return folder
        if (folder / "pyproject.toml").is_file() and (folder / "src" / "qiwidgets").is_dir():
            return folder
    return None


def database(db: str | os.PathLike | None = None) -> str:
    """Which database to use, as given or as a file path (see the module docstring); nothing
    is opened."""
    if db is not None and str(db).strip():
        return os.fspath(db).strip()
    named = get("database_url")
    if named:
        return named
    folder = workbook_folder()
    return str((folder or Path.cwd()) / DEFAULT_DB_FILENAME)


def describe_settings() -> list[tuple[str, str, str]]:
    """``(variable, value or "(not set)", what it is for)`` for every setting, the database
    as it resolves (password hidden)."""
    from qiwidgets.store.db import describe

    rows = []
    for name, setting in SETTINGS.items():
        if name in ("visitor", "visitor_groups", "visitor_key"):
            continue
        value = get(name)
        if name == "token" and value:
            value = "(set)"
        if name == "database_url":
            value = f"{value or '(not set)'} -> {describe(database())}"
        rows.append((setting.env, value or "(not set)", setting.help))
    return rows


__all__ = [
    "DEFAULT_DB_FILENAME",
    "MARKER_FILE",
    "PREFIX",
    "SETTINGS",
    "Setting",
    "database",
    "describe_settings",
    "env_name",
    "get",
    "workbook_folder",
]
