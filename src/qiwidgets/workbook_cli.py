"""``qiwidgets workbook DIR``: copy the guided notebooks out of the package into a folder.

The folder becomes a *workbook folder* (it gets a ``qiwidgets.toml``), so its notebooks, and the
commands run in it, use the one database ``qiwidgets.db`` there (:mod:`qiwidgets.config`); the
first notebook opened fills an empty database with the sample programme.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from qiwidgets import config, resources
from qiwidgets.errors import ParameterError

__all__ = ["add_parser", "copy_workbook"]

#: Written into a new workbook folder's ``qiwidgets.toml`` (only its presence matters).
MARKER_TEXT = (
    "# This folder is a qiwidgets workbook: its notebooks and the qiwidgets commands run here\n"
    "# use the database qiwidgets.db in it, unless QI_DATABASE_URL names another\n"
    "# (`qiwidgets where` says which).\n"
)


def copy_workbook(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the guided notebooks into ``folder`` (created if needed) and mark it as a workbook
    folder; returns the notebooks written.

    Nothing is written when the notebooks cannot be found, or when ``folder`` already holds a
    notebook of the same name (a team's own work) and ``force`` is false.
    """
    source = resources.find("notebooks")
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        resources.find("notebooks", "00_start_here.ipynb")  # raises, saying how to repair
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"`DIR` must be a folder, got the file {str(folder)!r}.")
    clash = [nb.name for nb in notebooks if (folder / nb.name).exists()]
    if clash and not force:
        raise ParameterError(
            f"{folder} already holds {', '.join(clash)}: nothing was copied. Choose another "
            "folder, or give --force to replace them with fresh copies (edits in them are lost)."
        )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for nb in notebooks:
        written.append(Path(shutil.copyfile(nb, folder / nb.name)))
    marker = folder / config.MARKER_FILE
    if not marker.exists():
        marker.write_text(MARKER_TEXT, encoding="utf-8")
    return written


def add_parser(sub) -> None:
    p = sub.add_parser(
        "workbook",
        help="copy the guided notebooks into a folder, to open in JupyterLab",
        description="Copy the guided notebooks (start here, purpose, measures, variation, "
        "reflection, the analyst's programme view) into DIR and make it a workbook folder: "
        "its notebooks use the database qiwidgets.db in DIR (unless $QI_DATABASE_URL names "
        "another), filled with the sample programme the first time one is run.",
        epilog="example:\n  qiwidgets workbook ward7-workbook\n  jupyter lab ward7-workbook",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="the folder to copy into (created)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace notebooks of the same name already in DIR (their edits are lost)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    written = copy_workbook(args.dir, force=args.force)
    print(f"Copied {len(written)} guided notebooks to {args.dir}:")
    for path in written:
        print(f"  {path.name}")
    print(f"Open them with: jupyter lab {args.dir}")
    return 0
