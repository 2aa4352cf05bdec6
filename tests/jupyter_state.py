"""Jupyter's state in a temporary folder, for the tests that run real kernels through papermill:
the kernels are the venv's (``sys.prefix``), and nothing is read from or written to the
machine's own Jupyter and IPython folders, nor its ``$QI_DATABASE_URL``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def jupyter_state(base: Path) -> Iterator[Path]:
    """Set Jupyter's and IPython's folders under ``base`` (made here) until the block ends."""
    mp = pytest.MonkeyPatch()
    for var, sub in (("JUPYTER_DATA_DIR", "data"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):  # fmt: skip
        (base / sub).mkdir()
        mp.setenv(var, str(base / sub))
    mp.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    mp.setenv("JUPYTER_PLATFORM_DIRS", "1")
    mp.delenv("QI_DATABASE_URL", raising=False)
    try:
        yield base
    finally:
        mp.undo()
