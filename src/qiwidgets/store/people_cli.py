"""``qiwidgets people`` and ``qiwidgets access``: who uses the dashboards, and what each may do.

Each subcommand parses its arguments and calls one function of :mod:`qiwidgets.store.people`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from qiwidgets.store.cli import DB_HELP

#: Where the printed links point unless --server says otherwise (``qiwidgets serve``'s default).
DEFAULT_SERVER = "http://127.0.0.1:8866/"
#: The query parameter that carries a personal access link's secret.
ACCESS_PARAM = "access"

PEOPLE_EPILOG = """examples:
  qiwidgets people add sam.jones@trust.nhs.uk --name "Sam Jones"
  qiwidgets people list
  qiwidgets people remove sam.jones@trust.nhs.uk
"""

ACCESS_EPILOG = """roles:
  on a team (--team CODE): member, lead (read and save the team's records), viewer (read)
  for the programme:        programme_lead (every team, reads and saves), analyst (reads)
  a part in the team's work (team-role, shown on the team page and in the report):
                            team_lead, team_member, patient_partner, sponsor, coach

examples:
  qiwidgets access grant sam.jones@trust.nhs.uk member --team W07
  qiwidgets access grant lee.chan@trust.nhs.uk programme_lead
  qiwidgets access team-role sam.jones@trust.nhs.uk patient_partner --team W07
  qiwidgets access team --team W07
  qiwidgets access link sam.jones@trust.nhs.uk --expires 2027-03-31
  qiwidgets access revoke-links sam.jones@trust.nhs.uk
  qiwidgets access list
"""


def add_parser(sub) -> None:
    p = sub.add_parser("people", help="the people who use the dashboards",
                       description="Add, list and remove the people who use the dashboards.",
                       epilog=PEOPLE_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ps = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = ps.add_parser("add", help="add a person (a user name or an e-mail address)")
    a.add_argument("key", metavar="KEY", help="their user name or e-mail address")
    a.add_argument("--name", help="how their name is shown (default: KEY)")
    a.set_defaults(func=run_people_add)
    a = ps.add_parser("list", help="list the people")
    a.set_defaults(func=run_people_list)
    a = ps.add_parser("remove", help="remove a person, their roles and links")
    a.add_argument("key", metavar="KEY")
    a.set_defaults(func=run_people_remove)
    for q in (p, *ps.choices.values()):
        q.add_argument("--db", metavar="DB", help=DB_HELP)

    p = sub.add_parser("access", help="who may see and change which team; personal links",
                       description="Give people roles on teams or for the programme, and make "
                       "or revoke their personal access links to the dashboards.",
                       epilog=ACCESS_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = acts.add_parser("grant", help="give a person a role on a team or for the programme")
    a.add_argument("key", metavar="KEY")
    a.add_argument("role", metavar="ROLE",
                   help="member, lead or viewer (with --team); programme_lead or analyst")  # fmt: skip
    a.add_argument("--team", metavar="CODE", help="the team (leave out for a programme role)")
    a.add_argument("--programme", metavar="CODE", help="the programme, when there are several")
    a.set_defaults(func=run_grant)
    a = acts.add_parser("revoke", help="take a role away")
    a.add_argument("key", metavar="KEY")
    a.add_argument("--team", metavar="CODE", help="the team (leave out for the programme role)")
    a.add_argument("--programme", metavar="CODE")
    a.set_defaults(func=run_revoke)
    a = acts.add_parser("list", help="every role held")
    a.set_defaults(func=run_access_list)
    a = acts.add_parser("team-role", help="say what part a person plays in a team's work")
    a.add_argument("key", metavar="KEY")
    a.add_argument("team_role", metavar="PART",
                   help="team_lead, team_member, patient_partner, sponsor or coach; none "
                   "clears it")  # fmt: skip
    a.add_argument("--team", metavar="CODE", required=True, help="the team")
    a.add_argument("--programme", metavar="CODE", help="the programme, when there are several")
    a.set_defaults(func=run_team_role)
    a = acts.add_parser("team", help="a team's people and the part each plays")
    a.add_argument("--team", metavar="CODE", required=True, help="the team")
    a.add_argument("--programme", metavar="CODE", help="the programme, when there are several")
    a.set_defaults(func=run_team)
    a = acts.add_parser("link", help="make a personal access link (shown once)")
    a.add_argument("key", metavar="KEY")
    a.add_argument("--expires", metavar="YYYY-MM-DD", help="the last day the link works")
    a.add_argument("--label", help="a note, e.g. which device")
    a.add_argument("--server", default=DEFAULT_SERVER,
                   help=f"the dashboards' address (default {DEFAULT_SERVER})")  # fmt: skip
    a.set_defaults(func=run_link)
    a = acts.add_parser("links", help="list personal access links (never their secrets)")
    a.add_argument("key", metavar="KEY", nargs="?")
    a.set_defaults(func=run_links)
    a = acts.add_parser("revoke-links", help="revoke a person's links at once")
    a.add_argument("key", metavar="KEY")
    a.add_argument("--id", type=int, action="append", help="only this link (repeat)")
    a.set_defaults(func=run_revoke_links)
    for q in (p, *acts.choices.values()):
        q.add_argument("--db", metavar="DB", help=DB_HELP)


def run_people_add(args, out=None) -> int:
    from qiwidgets.store import people

    person = people.add_person(args.db, args.key, args.name)
    print(f"Added {person.display_name} ({person.identity_key}).", file=out or sys.stdout)
    return 0


def run_people_list(args, out=None) -> int:
    from qiwidgets.store import people

    out = out or sys.stdout
    found = people.list_people(args.db)
    for p in found:
        print(f"{p.identity_key}\t{p.display_name}", file=out)
    if not found:
        print("No people yet: add them with `qiwidgets people add KEY`.", file=out)
    return 0


def run_people_remove(args, out=None) -> int:
    from qiwidgets.store import people

    people.remove_person(args.db, args.key)
    print(f"Removed {args.key}, their roles and links.", file=out or sys.stdout)
    return 0


def run_grant(args, out=None) -> int:
    from qiwidgets.store import people

    people.grant(args.db, args.key, args.role, team=args.team, programme=args.programme)
    where = f"team {args.team}" if args.team else "the programme"
    print(f"{args.key} is now {args.role} for {where}.", file=out or sys.stdout)
    return 0


def run_revoke(args, out=None) -> int:
    from qiwidgets.store import people

    n = people.revoke(args.db, args.key, team=args.team, programme=args.programme)
    where = f"team {args.team}" if args.team else "the programme"
    print(f"{args.key}: {n} role{'s' if n != 1 else ''} for {where} taken away.",
          file=out or sys.stdout)  # fmt: skip
    return 0


def run_access_list(args, out=None) -> int:
    from qiwidgets.store import people

    out = out or sys.stdout
    rows = people.access_rows(args.db)
    for key, name, where, role in rows:
        print(f"{key}\t{name}\t{where}\t{role}", file=out)
    if not rows:
        print("No roles yet: give them with `qiwidgets access grant KEY ROLE [--team CODE]`.",
              file=out)  # fmt: skip
    return 0


def _part(team_role: str | None) -> str:
    from qiwidgets import glossary

    return glossary.label(team_role) if team_role else "part not said yet"


def run_team_role(args, out=None) -> int:
    from qiwidgets.store import practice

    part = None if args.team_role.strip().lower() == "none" else args.team_role.strip()
    member = practice.set_team_role(args.db, args.key, args.team, part,
                                    programme=args.programme)  # fmt: skip
    print(f"{member.name} ({member.key}) on team {args.team}: {_part(member.team_role)}.",
          file=out or sys.stdout)  # fmt: skip
    return 0


def run_team(args, out=None) -> int:
    from qiwidgets.store import practice

    out = out or sys.stdout
    members = practice.team_members(args.db, args.team, args.programme)
    for x in members:
        print(f"{x.key}\t{x.name}\t{x.access}\t{_part(x.team_role)}", file=out)
    if not members:
        print(f"No one has access to team {args.team} yet: give it with "
              f"`qiwidgets access grant KEY member --team {args.team}`.", file=out)  # fmt: skip
    return 0


def link_url(server: str, secret: str) -> str:
    """The team dashboard's address with a personal secret."""
    base = server if server.endswith("/") else server + "/"
    return f"{base}voila/render/team.ipynb?{ACCESS_PARAM}={secret}"


def run_link(args, out=None) -> int:
    from qiwidgets.errors import ParameterError
    from qiwidgets.store import people

    expires = None
    if args.expires:
        try:
            expires = dt.date.fromisoformat(args.expires)
        except ValueError:
            raise ParameterError(f"`--expires` must be a date written YYYY-MM-DD, got "
                                 f"{args.expires!r}.") from None  # fmt: skip
    link, secret = people.create_link(args.db, args.key, label=args.label, expires=expires)
    out = out or sys.stdout
    print(f"Personal link {link.id} for {args.key}"
          + (f" (works until {args.expires})" if expires else "") + ":", file=out)  # fmt: skip
    print(f"  {link_url(args.server, secret)}", file=out)
    print("Send it to them alone: it opens their dashboards as them. It is shown this once "
          "(the store keeps only a hash); `qiwidgets access revoke-links` stops it.", file=out)
    return 0


def run_links(args, out=None) -> int:
    from qiwidgets.store import people

    out = out or sys.stdout
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for link, person in people.list_links(args.db, args.key):
        state = ("revoked" if link.revoked_at else
                 "expired" if link.expires_at and link.expires_at < now else "live")  # fmt: skip
        until = f", until {link.expires_at:%Y-%m-%d}" if link.expires_at else ""
        print(f"{link.id}\t{person.identity_key}\t{state}{until}\t{link.label or ''}", file=out)
    return 0


def run_revoke_links(args, out=None) -> int:
    from qiwidgets.store import people

    n = people.revoke_links(args.db, args.key, args.id)
    print(f"{args.key}: {n} link{'s' if n != 1 else ''} revoked; they stop working at once.",
          file=out or sys.stdout)  # fmt: skip
    return 0


__all__ = ["ACCESS_PARAM", "DEFAULT_SERVER", "add_parser", "link_url"]
