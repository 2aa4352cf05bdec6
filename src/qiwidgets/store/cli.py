"""``qiwidgets init | import | export | load-sample``: the learning-system store from a shell.

Each subcommand parses its arguments and calls one function of :mod:`qiwidgets.store`. Every
one takes ``--db``: a SQLite file path or a database URL (``postgresql://user@host/db``); without
it, ``QI_DATABASE_URL`` or ``qiwidgets.db`` in the current folder. Errors a user can fix are
printed as plain messages (no traceback) and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DB_HELP = (
    "the database: a SQLite file path (created if missing) or a URL such as "
    "postgresql://user@localhost/qi (default: $QI_DATABASE_URL, else qiwidgets.db here)"
)

IMPORT_EPILOG = """kinds of file (row 1 is the header; see the README for every column):
  observations  team, measure, period, numerator, denominator, value, data_quality
  measures      programme, team, code, name, measure_type, ... (a measure's definition)
  teams         programme, programme_name, code, name, organisation
  pdsa          team, title, change_idea, measures, plan_question, ..., act, act_date

Files are CSV (UTF-8 or Windows-1252; , ; tab or | between cells) or Excel .xlsx
(the visible sheet named after KIND, else the active one; hidden sheets are never read).
Every row needs one cell per column; numbers use a point for decimals (in a file
separated by ; tab or | write 1234, not 1.234 or 1,234); counts are whole numbers.
Every problem is listed (file, row, column, value, rule) and then nothing is imported;
importing the same file again changes nothing; a changed value is kept in the edit history.

examples:
  qiwidgets import teams data/samples/teams.csv
  qiwidgets import observations falls-october.xlsx --db ward7.db
  qiwidgets import --columns observations
"""


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="DB", help=DB_HELP)


def add_parser(sub) -> None:
    """Register ``init``, ``import``, ``export`` and ``load-sample`` on the main CLI."""
    p = sub.add_parser(
        "init",
        help="create the learning-system database, or upgrade it to this version",
        description="Create the database schema, or upgrade an existing database to the "
        "newest schema. Running it again on an up-to-date database changes nothing.",
    )
    _add_db(p)
    p.set_defaults(func=run_init)

    p = sub.add_parser(
        "import",
        help="import a CSV or Excel file of observations, measures, teams or PDSA cycles",
        description="Import one file into the database, all or nothing.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "kind",
        choices=("observations", "measures", "teams", "pdsa"),
        metavar="KIND",
        help="observations, measures, teams or pdsa",
    )
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="a .csv or .xlsx file")
    p.add_argument(
        "--columns", action="store_true", help="print the columns of KIND's files and stop"
    )
    p.add_argument(
        "--all-problems",
        action="store_true",
        help="list every broken cell (by default at most 200 per rule and column, then a count)",
    )
    _add_db(p)
    p.set_defaults(func=run_import)

    p = sub.add_parser(
        "export",
        help="write a whole programme to a folder of CSV or Parquet files",
        description="Export every record of a programme (teams, measures, observations, edit "
        "history, PDSA cycles, reflections, ...) to DIR, one file per table plus "
        "manifest.json. The folder can be read back into a fresh database.",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="the folder to write (created if needed)")
    p.add_argument(
        "--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)"
    )
    p.add_argument(
        "--programme", help="the programme's code (needed only when the database holds several)"
    )
    _add_db(p)
    p.set_defaults(func=run_export)

    p = sub.add_parser(
        "load-sample",
        help='load the sample programme "Reducing harm from inpatient falls"',
        description="Create the database if needed and load the sample collaborative: 12 "
        "wards, 36 months of data, aims, driver diagrams, PDSA cycles, annotations, "
        "reflections, progress scores and health checks. Running it again changes nothing.",
    )
    p.add_argument(
        "--folder",
        type=Path,
        help="read the sample files from this folder (default: the ones shipped with qiwidgets)",
    )
    _add_db(p)
    p.set_defaults(func=run_load_sample)


def run_init(args) -> int:
    from qiwidgets.store.db import current_revision, describe, init_db

    engine = init_db(args.db)
    print(f"Database {describe(engine)} is ready (schema {current_revision(engine)}).")
    return 0


def run_import(args) -> int:
    from qiwidgets.errors import ImportValidationError, ParameterError
    from qiwidgets.store.db import describe, get_engine
    from qiwidgets.store.imports import DEFAULT_MAX_PROBLEMS_PER_RULE, format_help, import_file

    if args.columns:
        print(format_help(args.kind))
        return 0
    if args.file is None:
        raise ParameterError("`FILE` is missing: give the file to import, e.g. data.csv.")
    cap = None if args.all_problems else DEFAULT_MAX_PROBLEMS_PER_RULE
    try:
        result = import_file(args.kind, args.file, args.db, max_problems_per_rule=cap)
    except ImportValidationError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        if not exc.problems:
            print(f"error: {exc}", file=sys.stderr)
        elif count > 1:
            print(f"{count:,} problems.", file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 2
    print(f"{result.summary()} Database: {describe(get_engine(args.db))}.")
    return 0


def run_export(args) -> int:
    from qiwidgets.store.export import export_programme

    summary = export_programme(args.db, args.dir, args.programme, format=args.format)
    print(
        f"Exported programme {summary.programme} to {summary.folder} "
        f"({summary.total_rows:,} rows in {len(summary.rows)} {summary.format} files)."
    )
    return 0


def run_load_sample(args) -> int:
    from qiwidgets.store.db import describe, init_db
    from qiwidgets.store.sample import DEFAULT_DIR, PROGRAMME_NAME, check_folder, load_sample

    # the files first: a command that cannot find what it needs creates no database
    folder = check_folder(args.folder or DEFAULT_DIR)
    engine = init_db(args.db)
    counts = load_sample(engine, folder)
    shown = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in counts.items())
    print(f'Loaded the sample programme "{PROGRAMME_NAME}" into {describe(engine)}: {shown}.')
    return 0
