"""``qiwidgets reports``: build a month's team and programme learning reports.

Thin: it parses the arguments and calls :func:`qiwidgets.reports.runner.plan` and
:func:`~qiwidgets.reports.runner.run_plan`. Exit status 0 when every report was built (or was
up to date), 1 when some reports failed (the others are still built), 2 for invalid parameters.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "reports",
        help="build the monthly team and programme learning reports (papermill)",
        description="Build one learning report per team for a month, then the programme "
        "report and an index.html. Reports whose inputs have not changed are not rebuilt.",
    )
    p.add_argument("--month", required=True, help="the report month, YYYY-MM (e.g. 2026-10), "
                   "or last: the latest month the programme has data for")  # fmt: skip
    p.add_argument("--db", help="database URL or SQLite file (default: $QI_DATABASE_URL or "
                   "./qiwidgets.db)")  # fmt: skip
    p.add_argument("--out", default="reports", help="output folder (default: ./reports)")
    p.add_argument("--team", action="append", metavar="T",
                   help="a team code (repeat for several; default: every team)")  # fmt: skip
    p.add_argument("--programme", help="programme code (needed when the database holds several)")
    p.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    p.add_argument("--pdf", action="store_true", help="also print each report to PDF (Chromium)")
    p.add_argument("--pptx", action="store_true",
                   help="also write each report as a 16:9 PowerPoint deck beside it (a slide per "
                   "measure: chart, icons, reading; programme.pptx for the programme); needs "
                   "pip install 'qiwidgets[pptx]'")  # fmt: skip
    p.add_argument("--force", action="store_true", help="rebuild reports that are up to date")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local worker processes (default) or a Dask cluster")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address (default: start a local cluster)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds allowed for one report (default 300)")  # fmt: skip
    p.add_argument("--fresh-kernels", action="store_true",
                   help="start a new kernel for every report (default: each worker keeps its "
                   "kernel and clears it between reports)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from qiwidgets.reports.runner import LAST_MONTH, plan, run_plan

    p = plan(
        args.month, args.db, args.out, args.team, programme=args.programme,
        workers=args.workers, pdf=args.pdf, pptx=args.pptx, force=args.force, executor=args.executor,
        scheduler=args.scheduler, timeout=args.timeout, reuse_kernels=not args.fresh_kernels,
    )  # fmt: skip
    if args.month.strip().lower() == LAST_MONTH:
        print(f"Month: {p.month.label()} (the latest with data).")
    if p.not_reported:
        print(f"No data up to {p.month.label()} yet (their reports say what to enter): "
              f"{', '.join(p.not_reported)}", file=sys.stderr)  # fmt: skip
    if p.skipped:
        print(f"Up to date, not rebuilt: {len(p.skipped)} team report(s) (--force rebuilds).")
    result = run_plan(p, progress=not args.no_progress)
    print(f"Built {len(result.built)} team report(s) in {result.seconds:.1f} s; "
          f"{len(result.failed)} failed; {len(result.skipped)} up to date.")  # fmt: skip
    if result.programme is not None:
        print("Programme report: " + ("built" if result.programme.ok
                                      else result.programme.describe()))  # fmt: skip
    elif result.programme_skipped:
        print("Programme report: up to date (or no team report to build it from).")
    for r in result.failed:
        print("FAILED " + r.describe(), file=sys.stderr)
    print(f"Reports: {result.index}")
    return 0 if result.ok else 1
