"""Which optional part of qiwidgets ("extra") brings what, and the message when one is missing.

``pip install qiwidgets`` installs the SPC engine and its charts only. The rest comes with an
extra (``pyproject.toml``, ``[project.optional-dependencies]``)::

    pip install "qiwidgets[workbook]"     # the store, the guided notebooks and widgets
    pip install "qiwidgets[reports]"      # the store and the monthly reports (papermill)
    pip install "qiwidgets[dashboards]"   # the store and the dashboards (Voilà)
    pip install "qiwidgets[pptx]"         # PowerPoint decks of the reports (reports --pptx)
    pip install "qiwidgets[all]"          # everything, with PostgreSQL and Dask

A command that needs a module its installation lacks says which extra to install
(:func:`missing_dependency`), rather than showing a traceback.
"""

from __future__ import annotations

from qiwidgets.errors import QIError

__all__ = [
    "COMMAND_EXTRAS",
    "EXTRA_MODULES",
    "MissingDependencyError",
    "extra_for",
    "missing_dependency",
    "require",
]

_STORE = frozenset({"sqlalchemy", "alembic", "pydantic", "openpyxl", "pyarrow"})

#: The optional top-level modules qiwidgets imports, by the extra that brings them (the same
#: packages as pyproject.toml's optional dependencies; tests/test_packaging.py checks).
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "store": _STORE,
    "workbook": _STORE | {"ipywidgets", "IPython", "ipykernel"},
    "reports": _STORE
    | {"papermill", "nbformat", "nbconvert", "jupyter_client", "ipykernel", "rich"},
    "dashboards": _STORE
    | {
        "ipywidgets",
        "ipykernel",
        "voila",
        "jupyter_server",
        "jupyter_core",
        "jupyter_client",
        "tornado",
        "jinja2",
        "traitlets",
    },
    "hub": frozenset({"jupyterhub"}),
    "postgres": frozenset({"psycopg"}),
    "dask": frozenset({"dask", "distributed"}),
    # PowerPoint decks of the reports (qiwidgets reports --pptx)
    "pptx": frozenset({"pptx"}),
}

#: The extra each command needs (the others need nothing beyond ``pip install qiwidgets``).
COMMAND_EXTRAS: dict[str, str] = {
    "init": "store",
    "import": "store",
    "export": "store",
    "load-sample": "store",
    "people": "store",
    "access": "store",
    "status": "store",
    "where": "store",
    "reports": "reports",
    "serve": "dashboards",
}


class MissingDependencyError(QIError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def extra_for(module: str, command: str | None = None) -> str | None:
    """The extra to install for the missing ``module`` (its top-level name): the command's own
    extra when that brings it, else the first extra that does; None if none does."""
    top = module.partition(".")[0]
    wanted = COMMAND_EXTRAS.get(command or "")
    if wanted and top in EXTRA_MODULES[wanted]:
        return wanted
    return next((extra for extra, mods in EXTRA_MODULES.items() if top in mods), None)


def missing_dependency(
    exc: ModuleNotFoundError, command: str | None = None
) -> MissingDependencyError | None:
    """The error to show for ``exc`` when it is about a module an extra brings, naming the extra
    to install; None for any other module (a real bug, to be shown as it is)."""
    module = (exc.name or "").partition(".")[0]
    extra = extra_for(module, command)
    if extra is None:
        return None
    what = f"`qiwidgets {command}`" if command else "This"
    return MissingDependencyError(
        f"{what} needs {module}, which is not installed: install it with "
        f'pip install "qiwidgets[{extra}]" (or "qiwidgets[all]" for everything).'
    )


def require(command: str) -> None:
    """Check, before a command starts, that the modules of its extra are installed (a report
    or the dashboards import theirs in other processes, where a missing one would show only as
    a failed report or a server that stopped). Raises :class:`MissingDependencyError`."""
    import importlib.util

    extra = COMMAND_EXTRAS.get(command)
    if extra is None:
        return
    missing = [m for m in sorted(EXTRA_MODULES[extra]) if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"`qiwidgets {command}` needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: install "
            f'{"it" if len(missing) == 1 else "them"} with pip install "qiwidgets[{extra}]" '
            '(or "qiwidgets[all]" for everything).'
        )
