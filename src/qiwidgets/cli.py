"""The ``qiwidgets`` command line.

The CLI is thin: each subcommand parses its arguments and calls one function of the package.
Subcommands live beside the code they drive and register themselves through ``add_parser``
functions listed in :data:`SUBCOMMANDS`. A :class:`~qiwidgets.errors.QIError` is printed as one
plain message (no traceback) and the command exits with status 2; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from qiwidgets import __version__
from qiwidgets.errors import QIError

#: Modules providing ``add_parser(subparsers)``; each parser sets ``func(args) -> int``.
#: Imported lazily so ``qiwidgets --help`` stays fast.
SUBCOMMANDS = (
    "qiwidgets.spc_cli",
    "qiwidgets.store.cli",
    "qiwidgets.store.people_cli",
    "qiwidgets.workbook_cli",
    "qiwidgets.status_cli",
    "qiwidgets.reports.cli",
    "qiwidgets.dashboards.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qiwidgets",
        description="qiwidgets: SPC charts, the learning-system store, monthly learning "
        "reports and dashboards for healthcare improvement teams.",
    )
    parser.add_argument("--version", action="version", version=f"qiwidgets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a layer not built yet
            if exc.name == name:
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from qiwidgets.extras import require

        require(args.command)
        return int(args.func(args) or 0)
    except QIError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional part not installed: say which extra
        from qiwidgets.extras import missing_dependency

        missing = missing_dependency(exc, args.command)
        if missing is None or args.debug:
            raise
        print(f"error: {missing}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pipe that closed (`| head`): nothing to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
