"""Running the guided notebooks under nbval (``pytest --nbval-lax notebooks/``).

nbval starts one kernel per notebook, and the kernel inherits this process's environment. While
a notebook's cells run, the environment points at a temporary folder made once per session:

* ``QI_DATABASE_URL`` — an empty SQLite file there, so no test touches a real database (the
  first notebook run loads the sample programme into it through ``open_workbook_db``);
* ``JUPYTER_DATA_DIR``, ``JUPYTER_CONFIG_DIR``, ``JUPYTER_RUNTIME_DIR``, ``IPYTHONDIR`` — so
  Jupyter writes nothing under the home folder (see ``../shared/docs/jupyter-traps.md``).

The variables are set just before each notebook item runs and restored afterwards, so other
tests in the same session see the environment they started with.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_state: dict[str, str] = {}
_saved: list[dict[str, str | None]] = []


def notebook_environment() -> dict[str, str]:
    """The variables the notebook kernels run with (the folder is made on first use)."""
    if not _state:
        root = Path(tempfile.mkdtemp(prefix="qiwidgets-nbval-"))
        for name in ("data", "config", "runtime", "ipython"):
            (root / name).mkdir()
        _state.update(
            QI_DATABASE_URL=str(root / "qiwidgets.db"),
            JUPYTER_DATA_DIR=str(root / "data"),
            JUPYTER_CONFIG_DIR=str(root / "config"),
            JUPYTER_RUNTIME_DIR=str(root / "runtime"),
            IPYTHONDIR=str(root / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            _ROOT=str(root),
        )
    return {k: v for k, v in _state.items() if not k.startswith("_")}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: before nbval's file-level setup starts the notebook's kernel
    env = notebook_environment()
    _saved.append({k: os.environ.get(k) for k in env})
    os.environ.update(env)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if not _saved:
        return
    for k, v in _saved.pop().items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pytest_sessionfinish(session, exitstatus):
    root = _state.get("_ROOT")
    if root:
        shutil.rmtree(root, ignore_errors=True)
