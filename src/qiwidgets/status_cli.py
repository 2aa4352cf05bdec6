"""``qiwidgets status``: where a team's measures stand, from a shell — the same verdicts as the
dashboards and the reports (it renders the core's statuses and works nothing out)."""

from __future__ import annotations

import argparse
import json
import sys

from qiwidgets.store.cli import DB_HELP

EPILOG = """examples:
  qiwidgets status                          every team of the programme, latest month
  qiwidgets status --team W07 --month 2026-10
  qiwidgets status --team W07 --json --db ward7.db
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "status",
        help="where each team's measures stand: verdict, latest value, reading",
        description="Print each measure's verdict under its own rule set, its latest value "
        "against the target and the reading of its chart, for one team or every team of the "
        "programme, then the programme's bright spots and the teams that may need support. "
        "The same verdicts as the dashboards and the monthly reports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--team", metavar="CODE", action="append",
                   help="a team's code (repeat for several; default: every team)")  # fmt: skip
    p.add_argument("--month", metavar="YYYY-MM",
                   help="the month (default: the latest month with data)")  # fmt: skip
    p.add_argument("--programme", metavar="CODE", help="the programme, when the store holds several")
    p.add_argument("--json", action="store_true", help="print JSON (one object per team)")
    p.add_argument("--db", metavar="DB", help=DB_HELP)
    p.set_defaults(func=run)

    w = sub.add_parser(
        "where",
        help="which database and settings qiwidgets uses here",
        description="Print the database every part of qiwidgets (the commands, the notebooks, "
        "the dashboards and the reports) uses from this folder, and every QI_ setting.",
    )
    w.add_argument("--db", metavar="DB", help=DB_HELP)
    w.set_defaults(func=run_where)


def run_where(args: argparse.Namespace, out=None) -> int:
    from qiwidgets import config
    from qiwidgets.store.db import describe

    out = out or sys.stdout
    out.write(f"Database: {describe(config.database(args.db))}\n")
    out.write("  (the commands, the notebooks, the dashboards and the reports all use it: "
              "--db, else QI_DATABASE_URL, else qiwidgets.db in the workbook folder, else "
              "here)\n\nSettings:\n")  # fmt: skip
    for env, value, help_ in config.describe_settings():
        out.write(f"  {env:<18} {value}\n  {'':<18} {help_}\n")
    return 0


def run(args: argparse.Namespace, out=None) -> int:
    from qiwidgets import views
    from qiwidgets.reports.params import parse_month
    from qiwidgets.workbook.status import programme_status

    out = out or sys.stdout
    month = parse_month(args.month).first_day if args.month else None
    status = programme_status(args.db, args.programme, month, teams=args.team)
    if args.team:
        missing = sorted(set(args.team) - {t.code for t in status.teams})
        if missing:
            from qiwidgets.errors import QIError

            raise QIError(f"No team {', '.join(missing)} in the programme "
                          f"{status.programme.code}: see `qiwidgets status` for the teams.")  # fmt: skip
    if args.json:
        data = [{"team": t.code, "name": t.name, "month": f"{t.month:%Y-%m}",
                 "measures": [m.to_json() for m in t.measures]} for t in status.teams]  # fmt: skip
        json.dump(data, out, indent=1, ensure_ascii=False)
        out.write("\n")
        return 0
    for t in status.teams:
        out.write(f"{t.name} ({t.code}), {t.month:%B %Y}\n")
        for m in t.measures:
            verdict = views.VARIATION_WORDS.get(m.variation, m.variation)
            if m.assurance in views.ASSURANCE_WORDS:
                verdict += "; " + views.ASSURANCE_WORDS[m.assurance].lower()
                if m.assurance_caveat:
                    verdict += f" ({m.assurance_caveat})"
            out.write(f"  {m.measure_name} [{m.rule_set_name}]: {verdict}\n")
            out.write(f"    {m.reading}\n")
            if m.rebase is not None:
                out.write(f"    {m.rebase.text}\n")
        out.write("\n")
    if not args.team:
        spots = status.bright_spots()
        out.write("Bright spots: " + ("; ".join(f"{b.team_name} ({b.why()})" for b in spots)
                                     or "none this month") + "\n")  # fmt: skip
        support = status.support()
        out.write("May need support: " + ("; ".join(f"{t.name} ({', '.join(r)})"
                                                   for t, r in support) or "none") + "\n")  # fmt: skip
    return 0


__all__ = ["add_parser", "run", "run_where"]
