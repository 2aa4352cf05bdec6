"""``qiwidgets serve``: the dashboards in a browser (Voilà)."""

from __future__ import annotations

import argparse

from qiwidgets.dashboards import server as _server


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve",
        help="serve the team and programme dashboards (Voilà) on 127.0.0.1",
        description="Serve the team and programme dashboards with Voilà on 127.0.0.1. Only the "
        "two dashboards are served, with their code hidden, a token required (from "
        "--token-file or $QI_TOKEN, else generated for this run; printed with the address; "
        "--no-token behind JupyterHub), "
        "idle kernels shut down and a time limit on every step. Stop it with Ctrl+C.",
    )
    p.add_argument("--db", help="the store: a SQLite file or a database URL "
                   "(default: $QI_DATABASE_URL or qiwidgets.db)")  # fmt: skip
    p.add_argument("--port", type=int, default=_server.DEFAULT_PORT,
                   help=f"port (default {_server.DEFAULT_PORT})")  # fmt: skip
    p.add_argument("--token-file", metavar="FILE", help="read the token visitors need from FILE "
                   "(readable by you only); when FILE does not exist it is created with a new "
                   "token, so the same links work after a restart (default: $QI_TOKEN, else a "
                   "new token for this run)")  # fmt: skip
    p.add_argument("--token", action=_RefuseTokenOnCommandLine, help=argparse.SUPPRESS)
    p.add_argument("--dev", action="store_true",
                   help="show tracebacks in the pages (for development only)")  # fmt: skip
    p.add_argument("--programme", help="the programme code, when the store holds several")
    p.add_argument(
        "--pool",
        type=int,
        default=_server.DEFAULT_POOL,
        help="warm kernels kept waiting per dashboard (default %(default)s; 0: none)",
    )
    p.add_argument("--cull-idle", type=int, default=_server.DEFAULT_CULL_IDLE, metavar="SECONDS",
                   help="shut down a kernel idle this long with no page open "
                   "(default %(default)s)")  # fmt: skip
    p.add_argument("--timeout", type=int, default=_server.DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="time limit for opening a page (default %(default)s)")  # fmt: skip
    p.add_argument("--cache-dir", help="keep drawn chart specs here between runs "
                   "(default: a temporary folder)")  # fmt: skip
    p.add_argument("--base-url", default="/", help="URL prefix behind a proxy, e.g. "
                   "/services/qi-dashboards/ under JupyterHub (default /)")  # fmt: skip
    p.add_argument("--server-url", help="the path the server answers on when the proxy strips "
                   "--base-url before forwarding, as jhsingle-native-proxy does: / "
                   "(default: the base URL)")  # fmt: skip
    p.add_argument("--no-token", action="store_true", help="need no token: only behind "
                   "JupyterHub or a proxy that logs visitors in, on a machine where no other "
                   "account can reach the port")  # fmt: skip
    p.add_argument("--hub", action="store_true", help="run as a JupyterHub service started by "
                   "the Hub (docs/deployment.md): the Hub logs visitors in and says who they "
                   "are, each page reads and saves as its person (roles from the store and "
                   "from qi:<TEAM>:<role> Hub groups); address and prefix come from the Hub")  # fmt: skip
    p.add_argument("--stop-with-parent", action="store_true", help="stop when the process "
                   "that started this one ends (Linux), for launchers that leave their child "
                   "running, such as jhsingle-native-proxy when JupyterHub stops it")  # fmt: skip
    p.add_argument(
        "--no-prewarm",
        dest="prewarm",
        action="store_false",
        help="do not draw every team's charts in the background at start",
    )
    p.set_defaults(func=run)
    return p


class _RefuseTokenOnCommandLine(argparse.Action):
    """``--token VALUE`` would show the token to every account on the machine (``ps``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("--token would show the token to every account on this machine (in the "
                     "process list): put it in a file readable by you only and give "
                     "--token-file FILE, or set QI_TOKEN.")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    opts = _server.ServeOptions(
        db=args.db, port=args.port, token=_server.token_from(args.token_file), dev=args.dev, pool=args.pool,
        cull_idle=args.cull_idle, timeout=args.timeout, programme=args.programme,
        cache_dir=args.cache_dir, prewarm=args.prewarm, base_url=args.base_url,
        server_url=args.server_url, no_token=args.no_token,
        stop_with_parent=args.stop_with_parent, hub=args.hub,
    )  # fmt: skip
    return _server.serve(opts)
