"""The folders qiwidgets ships beside its code, found the same way in a wheel and in a checkout.

* ``samples``: the sample programme (``qiwidgets load-sample``);
* ``pipelines``: the report notebooks papermill runs (``qiwidgets reports``);
* ``notebooks``: the guided notebooks (``qiwidgets workbook DIR`` copies them out).

In an installed wheel they are package data, ``qiwidgets/_data/<name>``, found with
:mod:`importlib.resources` (``pyproject.toml`` maps the source tree's top-level folders there).
In a source checkout (an editable install, where the package is ``src/qiwidgets``) they are the
top-level folders themselves: ``data/samples``, ``pipelines``, ``notebooks``.

>>> from qiwidgets import resources
>>> sorted(resources.SHIPPED)
['notebooks', 'pipelines', 'samples']
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from qiwidgets.errors import QIError

__all__ = ["SHIPPED", "MissingResourceError", "find", "locate"]

#: Each shipped folder: where it is inside the installed package, and where it is in a source
#: checkout (relative to the checkout's top). ``[tool.setuptools.package-dir]`` in
#: ``pyproject.toml`` maps the second to the first (``tests/test_packaging.py`` checks both).
SHIPPED: dict[str, tuple[str, str]] = {
    "samples": ("_data/samples", "data/samples"),
    "pipelines": ("_data/pipelines", "pipelines"),
    "notebooks": ("_data/notebooks", "notebooks"),
}

#: What each folder holds, for messages.
_WHAT = {
    "samples": "the sample programme",
    "pipelines": "the report notebooks",
    "notebooks": "the guided notebooks",
}


class MissingResourceError(QIError, FileNotFoundError):
    """A folder or file qiwidgets ships is not where it should be (a broken installation)."""


def _package_dir() -> Path:
    return Path(str(importlib.resources.files("qiwidgets")))


def _checkout_top(package: Path) -> Path | None:
    """The top of the source checkout the package is imported from (``src/qiwidgets``), or
    None in an installed wheel."""
    top = package.parent.parent
    if package.parent.name == "src" and (top / "pyproject.toml").is_file():
        return top
    return None


def _candidates(name: str) -> list[Path]:
    if name not in SHIPPED:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, SHIPPED))}, got {name!r}.")
    inside, in_checkout = SHIPPED[name]
    package = _package_dir()
    found = [package / inside]
    top = _checkout_top(package)
    if top is not None:
        found.append(top / in_checkout)
    return found


def locate(name: str) -> Path:
    """Where the shipped folder ``name`` is (inside the package, else in the checkout); the
    folder inside the package when neither exists. Nothing is checked beyond that: see
    :func:`find`."""
    candidates = _candidates(name)
    for folder in candidates:
        if folder.is_dir():
            return folder
    return candidates[0]


def find(name: str, *files: str) -> Path:
    """The shipped folder ``name``, checked to exist and to hold ``files``.

    Raises
    ------
    MissingResourceError
        Saying where it looked and how to repair the installation.
    """
    folder = locate(name)
    missing = [f for f in files if not (folder / f).is_file()]
    if folder.is_dir() and not missing:
        return folder
    looked = " or ".join(str(p) for p in _candidates(name))
    lacks = f"lacks {', '.join(missing)}" if folder.is_dir() else "is missing"
    raise MissingResourceError(
        f"{_WHAT[name].capitalize()} shipped with qiwidgets {lacks} (looked in {looked}): "
        "reinstall qiwidgets from its wheel (pip install --force-reinstall qiwidgets), or run "
        "from a complete source checkout."
    )
