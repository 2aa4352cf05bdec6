"""``qiwidgets serve``: Voilà serving the two dashboards, and nothing else.

What the server is set up to do (each measured in ``../shared/docs/jupyter-traps.md``):

* it serves a fresh folder holding only ``team.ipynb`` and ``programme.ipynb`` (``hide_globs``
  only hides files from the listing; they would still render by URL);
* it listens on 127.0.0.1 only and needs a token (from ``--token-file`` or ``$QI_TOKEN``, else
  generated with :mod:`secrets`); the token is written to a ``voila.json`` readable by this user
  only, never on a command line, and shows as ``[secret]`` in the log;
* Voilà runs as :mod:`qiwidgets.dashboards.voila_app`, which closes the routes Voilà leaves
  open (the warm kernels' request route, error pages, the folder listing);
* sources are stripped; tracebacks are hidden (``--dev`` shows them);
* idle kernels are culled (Voilà refuses the shutdown a page sends on leaving, so each page view
  would otherwise keep its ≈ 200 MB kernel) and every cell has an execution
  timeout, except the one where a warm kernel waits for its visitor;
* the page template (``templates/qiwidgets``) links nothing outside the server: no Font Awesome
  or Mermaid from a CDN; vl-convert's JavaScript bundle is served as a static file, once per
  page, and draws the charts; a Content-Security-Policy tells the browser the same;
* a kernel is kept warm per dashboard (``--pool``): it has imported everything and waits for its
  visitor (the visitor's ``?team=`` reaches it through ``voila.utils.wait_for_request``);
* a background process fills the shared chart cache for every team (``prewarm``);
* the kernels talk to the server over Unix sockets only this account can open, and have an
  IPython profile of their own (:func:`kernel_config`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from qiwidgets import config
from qiwidgets.dashboards import kernel
from qiwidgets.errors import QIError

log = logging.getLogger("qiwidgets.dashboards")

PACKAGE_DIR = Path(__file__).parent
NOTEBOOKS_DIR = PACKAGE_DIR / "notebooks"
TEMPLATE_DIR = PACKAGE_DIR / "templates" / "qiwidgets"
TEMPLATE_NAME = "qiwidgets"
DASHBOARDS = ("team.ipynb", "programme.ipynb")

#: Defaults of ``qiwidgets serve``.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866
#: A kernel idle this long with no browser connected is shut down (seconds).
DEFAULT_CULL_IDLE = 600
#: How often the culler looks (seconds).
DEFAULT_CULL_INTERVAL = 60
#: A cell that runs longer than this is stopped and the page says so (seconds).
DEFAULT_TIMEOUT = 120
#: Warm kernels kept waiting per dashboard.
DEFAULT_POOL = 1
#: Seconds between a visitor taking the warm kernel and the start of its replacement. The new
#: kernel's start-up (imports, building the page) takes a core for ~2 s; started while the
#: visitor's browser was still loading the page (Voilà's default is 1 s; we had 0.5), it made
#: the warm render 1.6-1.9 s instead of 1.2-1.4 s (benchmarks/dashboard_bench.py, 2 cores).
POOL_REFILL_DELAY = 3.0
#: Tag of the notebook cell that waits for the visitor in a warm kernel: the per-cell time limit
#: does not apply to it (a warm kernel may wait hours for its visitor; with the limit, everyone
#: arriving later than ``--timeout`` after it got ready was shown "took too long to open").
WAITING_CELL_TAG = "waits-for-visitor"
#: The JupyterLab extensions a dashboard page loads: the widget manager and Voilà's glue for it.
#: Voilà loads every extension installed in the environment by default (here also
#: jupyterlab_pygments, which colours source code the pages never show); each is more script
#: for the visitor's browser to fetch and run before the page appears.
PAGE_EXTENSIONS = ["@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8"]

#: What the visitor reads when a cell fails or times out (Voilà adds it to its own message).
CELL_ERROR = ("Sorry — this part of the dashboard could not be shown. Please reload the page; if "
              "it keeps happening, tell the person who runs the dashboards.")  # fmt: skip
CELL_TIMEOUT = ("The dashboard took too long to open. Please reload the page in a minute; if it "
                "keeps happening, tell the person who runs the dashboards.")  # fmt: skip

#: The browser may load scripts, styles, fonts and images from the server only (inline scripts
#: and eval are needed by Voilà's page and by Vega's expression compiler).
CONTENT_SECURITY_POLICY = "; ".join([  # noqa: FLY002 - one directive a line
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])  # fmt: skip


#: The login behind JupyterHub (``--hub``), named for Voilà's configuration.
HUB_IDENTITY_PROVIDER = "qiwidgets.dashboards.hub.HubIdentityProvider"


class ServeError(QIError):
    """The dashboard server could not be started."""


@dataclass
class ServeOptions:
    """Everything ``qiwidgets serve`` sets; see :func:`serve`."""

    db: str
    port: int = DEFAULT_PORT
    token: str | None = None
    dev: bool = False
    host: str = DEFAULT_HOST
    pool: int = DEFAULT_POOL
    cull_idle: int = DEFAULT_CULL_IDLE
    cull_interval: int = DEFAULT_CULL_INTERVAL
    timeout: int = DEFAULT_TIMEOUT
    programme: str | None = None
    cache_dir: str | None = None
    prewarm: bool = True
    base_url: str = "/"
    server_url: str | None = None
    no_token: bool = False
    stop_with_parent: bool = False
    hub: bool = False  # a JupyterHub service: the Hub logs visitors in (qiwidgets.dashboards.hub)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ServeError(f"`port` must be a number from 1 to 65535, got {self.port!r}.")
        if self.token is not None and (
            len(self.token) < 16
            or not self.token.isprintable()
            or any(c in self.token for c in " &?#/%")
        ):
            raise ServeError("`token` must be at least 16 characters without spaces or any of "
                             "& ? # / %; leave it out to have one generated.")  # fmt: skip
        for name in ("pool", "cull_idle", "cull_interval", "timeout"):
            value = getattr(self, name)
            low = 0 if name == "pool" else 1
            if not isinstance(value, int) or value < low:
                raise ServeError(f"`{name}` must be a whole number of at least {low}, "
                                 f"got {value!r}.")  # fmt: skip
        for name in ("base_url", "server_url"):
            value = getattr(self, name)
            if value is not None and (not value.startswith("/") or not value.endswith("/")):
                raise ServeError(f"`{name}` must start and end with '/', got {value!r}.")
        if self.no_token and self.token is not None:
            raise ServeError("Give either a token or no_token, not both.")
        if self.hub and self.token is not None:
            raise ServeError("Behind JupyterHub (--hub) the Hub logs visitors in: give no token.")
        if self.stop_with_parent and sys.platform != "linux":
            raise ServeError("`stop_with_parent` works on Linux only.")

    @property
    def routes_url(self) -> str:
        """The path Voilà's routes listen on: the base URL, unless a proxy strips it first."""
        return self.server_url or self.base_url


#: The environment variable ``qiwidgets serve`` reads the visitors' token from.
TOKEN_ENV = config.env_name("token")


def token_from(token_file: str | os.PathLike | None) -> str | None:
    """The visitors' token: from ``token_file`` (made with a new token, readable by this account
    only, when it does not exist), else ``$QI_TOKEN``, else None (a token is generated)."""
    if token_file is None:
        return os.environ.get(TOKEN_ENV) or None
    path = Path(token_file)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ServeError(f"Cannot create the token file {path}: {exc.strerror}.") from exc
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            raise ServeError(f"The token file {path} can be read by other accounts: make it "
                             f"yours alone (chmod 600 {path}).")  # fmt: skip
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ServeError(f"Cannot read the token file {path}: {exc.strerror}.") from exc
    if not token:
        raise ServeError(f"The token file {path} is empty: write a token of at least 16 "
                         "characters in it, or delete it to have one made.")  # fmt: skip
    return token


def resolve_db(db: str | os.PathLike | None) -> str:
    """The store as a URL or absolute path the kernels can open from any folder."""
    from qiwidgets.store.db import resolve_url

    url = resolve_url(db)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = Path(url[len("sqlite:///") :])
        if str(path) != ":memory:":
            url = "sqlite:///" + str(path.resolve())
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :].split("?")[0])
        if not path.exists():
            raise ServeError(f"The store {path} does not exist: create it with `qiwidgets "
                             "load-sample --db FILE` or `qiwidgets init --db FILE`.")  # fmt: skip
    return url


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qiwidgets"


def vega_bundle() -> str:
    """vl-convert's Vega/Vega-Lite/Vega-Embed bundle wrapped in a function scope (cached on disk,
    as building it takes several seconds)."""
    import vl_convert as vlc

    path = user_cache_dir() / f"vega-bundle-{vlc.__version__}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = "(function () {\n" + vlc.javascript_bundle() + "\n})();\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        log.warning("Could not cache the Vega bundle in %s", path, exc_info=True)
    return text


@dataclass
class Site:
    """The folder Voilà runs in: ``dashboards/`` (served), ``share/jupyter`` (template and
    the kernels' spec), ``voila.json`` (configuration, mode 0600), ``config/voila.py`` (the
    cell time limits), ``ipython/`` (the kernels' IPython profile), ``charts/`` (chart cache),
    ``run/`` (the kernels' connection files and sockets, mode 0700)."""

    root: Path
    dashboards: Path
    jupyter_path: Path
    config: Path
    cache: Path


#: The longest path a Unix socket can have: ``sun_path`` holds 108 bytes on Linux and 104 on
#: macOS, the final NUL included (unix(7), macOS <sys/un.h>).
MAX_SOCKET_PATH = 103

#: What goes below the site folder in a kernel's socket path: Voilà's connection folder
#: (``tempfile.mkdtemp(prefix="voila_")``, 8 random characters) and jupyter_client's
#: ``kernel-<uuid4>-ipc-<n>`` (jupyter_client.connect, one socket per channel, n up to 5).
SOCKET_PATH_SUFFIX = len("/run/voila_12345678/kernel-") + 36 + len("-ipc-5")

#: The site folder's name: ``tempfile.mkdtemp(prefix=...)`` adds 8 random characters.
SITE_PREFIX = "qiwidgets-serve-"


def site_parent() -> Path:
    """Where the site folder goes: the temporary folder (``TMPDIR``), or ``/tmp`` when that
    path is too long for the kernels' Unix sockets below it."""
    for base in (tempfile.gettempdir(), "/tmp"):
        room = len(os.fsencode(base)) + 1 + len(SITE_PREFIX) + 8 + SOCKET_PATH_SUFFIX
        if room <= MAX_SOCKET_PATH and os.access(base, os.W_OK | os.X_OK):
            return Path(base)
    raise ServeError(f"The temporary folder {tempfile.gettempdir()} has too long a path for the "
                     "kernels' sockets and /tmp cannot be written: set TMPDIR to a folder with a "
                     "short path.")  # fmt: skip


def voila_config(opts: ServeOptions, site_root: Path) -> dict:
    """The ``voila.json`` of a server (traitlets configuration)."""
    hub_login = {"identity_provider_class": HUB_IDENTITY_PROVIDER} if opts.hub else {}
    return {
        "Voila": {
            # the kernels' connection files and sockets, inside the site folder: they go with it
            "connection_dir_root": str(site_root / "run"),
            "ip": opts.host,
            "port": opts.port,
            "open_browser": False,
            "token": "" if opts.no_token else opts.token,
            # the addresses in the pages; the routes, when a proxy strips the prefix first
            "base_url": opts.base_url,
            "server_url": opts.routes_url,
            "tornado_settings": {
                "headers": {
                    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin",
                }
            },
        },
        "VoilaConfiguration": {
            "template": TEMPLATE_NAME,
            "theme": "light",
            "strip_sources": True,
            "show_tracebacks": bool(opts.dev),
            "file_allowlist": [],
            "extension_allowlist": PAGE_EXTENSIONS,
            "preheat_kernel": opts.pool > 0,
            "default_pool_size": opts.pool,
            # kernel ids out of command lines and socket names; a key per kernel for the
            # visitor-request route (qiwidgets.dashboards.voila_app)
            "multi_kernel_manager_class": (
                "qiwidgets.dashboards.voila_app.DashboardKernelManager"
            ),
        },
        # a warm kernel has this long to take its visitor's request once the visitor came;
        # behind JupyterHub, the Hub's login (its users' names and groups reach the kernels)
        "DashboardVoila": {"visitor_wait": float(opts.timeout), **hub_login},
        "VoilaExecutor": {
            "timeout": opts.timeout,
            "cell_error_instruction": CELL_ERROR,
            "cell_timeout_instruction": CELL_TIMEOUT,
        },
        "MappingKernelManager": {
            "cull_idle_timeout": opts.cull_idle,
            "cull_interval": opts.cull_interval,
            "cull_connected": False,
            "cull_busy": False,
        },
        "VoilaKernelManager": {"fill_delay": POOL_REFILL_DELAY},
        # the server and its kernels talk over Unix sockets in the site's run/ folder (mode
        # 0700, see site_parent), not TCP ports on 127.0.0.1 that any local account can reach
        # (ipykernel warned of plain-text TCP at every kernel start). CurveZMQ encryption over
        # TCP was measured too: warm render 1.40 -> 1.55 s (A/B, 12 each); Unix sockets cost
        # nothing (1.46/1.44)
        "KernelManager": {"transport": "ipc"},
        # a kernel that dies (out of memory, killed) is declared dead, not restarted: its page
        # has lost its widgets either way and says so in words (qiwidgets.js); a restarted
        # kernel only held ~200 MB until culled, serving nothing
        "KernelRestarter": {"restart_limit": 0},
        # a new kernel runs its first cell as soon as it is ready, not 0.2 s later
        "ServerKernelManager": {
            "client_class": "qiwidgets.dashboards.kernel_client.DashboardKernelClient"
        },
    }


def kernel_config() -> dict:
    """The IPython profile of the server's kernels (``ipython_kernel_config.json``).

    A profile of its own: a dashboard kernel runs no start-up script from the account's
    ``~/.ipython`` and keeps no input history; its log leaves out the error of a warm kernel
    shut down while it waits (:class:`~qiwidgets.dashboards.runtime.WaitingKernelShutdown`).
    """
    return {
        "HistoryManager": {"enabled": False},
        "IPKernelApp": {
            "logging_config": {
                "filters": {
                    "shutdown": {"()": "qiwidgets.dashboards.runtime.WaitingKernelShutdown"}
                },
                "handlers": {"console": {"filters": ["shutdown"]}},
                # what the pages log (a refusal, an unexpected error) goes to the server's
                # log through the kernel's console handler, never to the page
                "loggers": {
                    "qiwidgets": {"handlers": ["console"], "level": "INFO", "propagate": False}
                },
            }
        },
    }


def kernel_spec() -> dict:
    """The ``python3`` kernel spec of the server's kernels, found first on the site's
    ``JUPYTER_PATH``: the venv's Python with :mod:`qiwidgets.dashboards.kernel`, which a
    Ctrl+C before ipykernel is up stops quietly, so that stopping ``serve`` just after it
    started prints no traceback."""
    return {
        "argv": [sys.executable, "-m", kernel.MODULE, "-f", "{connection_file}"],
        "display_name": "Python 3 (qiwidgets dashboards)",
        "language": "python",
        "metadata": {"debugger": False},
    }


class CellTimeout:
    """``VoilaExecutor.timeout_func``: ``limit`` seconds for every cell but the one that waits
    for the visitor (tagged :data:`WAITING_CELL_TAG`), which has no limit."""

    def __init__(self, limit: float):
        self.limit = limit

    def __call__(self, cell) -> float | None:
        tags = (getattr(cell, "metadata", None) or {}).get("tags", [])
        return None if WAITING_CELL_TAG in tags else self.limit


def prepare_site(opts: ServeOptions, root: Path) -> Site:
    """Write the folder Voilà runs in (see :class:`Site`)."""
    root = Path(root)
    dashboards = root / "dashboards"
    dashboards.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        shutil.copyfile(NOTEBOOKS_DIR / name, dashboards / name)
    jupyter_path = root / "share" / "jupyter"
    template = jupyter_path / "voila" / "templates" / TEMPLATE_NAME
    shutil.copytree(TEMPLATE_DIR, template, dirs_exist_ok=True)
    (template / "static" / "vega-bundle.js").write_text(vega_bundle(), encoding="utf-8")
    spec = jupyter_path / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps(kernel_spec(), indent=1), encoding="utf-8")
    cache = Path(opts.cache_dir) if opts.cache_dir else root / "charts"
    cache.mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(mode=0o700, exist_ok=True)
    config = root / "voila.json"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(voila_config(opts, root), fh, indent=1)
    # a function cannot go into JSON: Voilà also reads a voila.py, here from a folder put on
    # JUPYTER_CONFIG_PATH (not the folder it starts in, where it would shadow the voila package)
    (root / "config").mkdir(exist_ok=True)
    fd = os.open(root / "config" / "voila.py", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            "# written by qiwidgets serve: the per-cell time limit, except for the cell that\n"
            "# waits for the visitor in a warm kernel\n"
            "from qiwidgets.dashboards.server import CellTimeout\n\n"
            f"c.VoilaExecutor.timeout_func = CellTimeout({float(opts.timeout)!r})\n"
        )
    profile = root / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.json").write_text(json.dumps(kernel_config(), indent=1),
                                                        encoding="utf-8")  # fmt: skip
    return Site(root, dashboards, jupyter_path, config, cache)


def server_env(opts: ServeOptions, site: Site) -> dict[str, str]:
    """The environment of the Voilà process (and so of its kernels)."""
    from qiwidgets.dashboards import fastchart, runtime

    env = dict(os.environ)
    env.update(opts.extra_env)
    env.pop(TOKEN_ENV, None)  # Voilà reads the token from voila.json; its kernels never see it
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(site.jupyter_path), env.get("JUPYTER_PATH", "")) if p
    )
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in (str(site.root / "config"), env.get("JUPYTER_CONFIG_PATH", "")) if p
    )
    env["IPYTHONDIR"] = str(site.root / "ipython")
    env[runtime.DB_ENV] = opts.db
    env[runtime.DEV_ENV] = "1" if opts.dev else "0"
    env[fastchart.CACHE_ENV] = str(site.cache)
    if opts.programme:
        env[runtime.PROGRAMME_ENV] = opts.programme
    else:
        env.pop(runtime.PROGRAMME_ENV, None)
    env["PYTHONUNBUFFERED"] = "1"
    # where a warm kernel reaches the server (Voilà assumes 127.0.0.1, which a server bound to
    # one other address does not answer on)
    if opts.host not in ("0.0.0.0", "::", ""):
        env["VOILA_APP_IP"] = opts.host
    else:
        env.pop("VOILA_APP_IP", None)
    return env


def voila_command(site: Site, opts: ServeOptions) -> list[str]:
    """The command line: the served folder and nothing secret (the rest is in voila.json)."""
    cmd = [sys.executable, "-m", "qiwidgets.dashboards.voila_app", str(site.dashboards),
           "--no-browser"]  # fmt: skip
    if opts.dev:
        cmd.append("--debug")
    return cmd


def dashboard_url(opts: ServeOptions, page: str = "team.ipynb", **params: str) -> str:
    """The address of a dashboard on the server itself, with the token (unless ``no_token``)
    so it opens at once."""
    import urllib.parse

    query = dict(params) if opts.no_token else {**params, "token": opts.token}
    url = f"http://{opts.host}:{opts.port}{opts.routes_url}voila/render/{page}"
    return f"{url}?{urllib.parse.urlencode(query)}" if query else url


def wait_until_ready(opts: ServeOptions, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until the server answers (a login redirect or a page), or fail with its exit."""
    deadline = time.monotonic() + timeout
    url = f"http://{opts.host}:{opts.port}{opts.routes_url}voila/static/voila.js"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServeError(f"Voilà stopped while starting (exit status {proc.returncode}); "
                             "see the messages above.")  # fmt: skip
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 403 without the token)
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise ServeError(f"Voilà did not answer on port {opts.port} within {timeout:.0f} s.")


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


#: ``prctl`` option that has the kernel send a child a signal when its parent dies
#: (``PR_SET_PDEATHSIG`` in <linux/prctl.h>, prctl(2)).
_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """Have Linux send this process SIGTERM when its parent process ends, even by SIGKILL or
    the OOM killer (no-op elsewhere). Voilà and the prewarm get it, so they never outlive
    ``qiwidgets serve`` (Voilà stops its kernels on SIGTERM)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_voila(site: Site, opts: ServeOptions, env: dict[str, str]) -> subprocess.Popen:
    """Start Voilà in a session of its own (a Ctrl+C in the terminal reaches ``serve`` only,
    which stops Voilà in order); it stops when ``serve`` dies."""
    return subprocess.Popen(voila_command(site, opts), cwd=site.root, env=env,
                            preexec_fn=_stop_with_parent,  # noqa: PLW1509 - serve has no threads
                            start_new_session=True)  # fmt: skip


def start_prewarm(opts: ServeOptions, site: Site, env: dict[str, str]) -> subprocess.Popen:
    """Fill the chart cache for every team in a low-priority background process."""
    cmd = [sys.executable, "-m", "qiwidgets.dashboards.prewarm"]

    def lower_priority() -> None:  # pragma: no cover - runs in the child
        _stop_with_parent()
        os.nice(10)

    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lower_priority,  # noqa: PLW1509 - serve has no threads
                            start_new_session=True)  # fmt: skip


def stop(proc: subprocess.Popen | None, grace: float = 10) -> None:
    """Stop a process started with its own session, and its children (kernels)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)
    except ProcessLookupError:
        pass


def serve(opts: ServeOptions, *, echo=print) -> int:
    """Start Voilà with the dashboards and block until it stops (Ctrl+C stops it).

    Prints the address of both dashboards (with the token, unless ``no_token``). Returns
    Voilà's exit status.
    """
    check_platform()
    if opts.stop_with_parent:
        parent = os.getppid()
        _stop_with_parent()
        if os.getppid() != parent:  # it ended before the request took effect
            raise ServeError("The process that started qiwidgets serve has already ended.")
    if opts.hub:  # the Hub gives the address and the prefix; its login replaces the token
        from qiwidgets.dashboards.hub import hub_service

        opts.host, opts.port, opts.base_url = hub_service()
        opts.no_token = True
    generated = opts.token is None and not opts.no_token
    if generated:
        opts.token = secrets.token_urlsafe(24)
    opts.db = resolve_db(opts.db)
    if not port_free(opts.host, opts.port):
        raise ServeError(f"Port {opts.port} on {opts.host} is in use: stop what uses it, or "
                         "choose another with --port.")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix=SITE_PREFIX, dir=site_parent()))
    voila = prewarm = None
    previous = {sig: signal.getsignal(sig) for sig in (*_STOP_SIGNALS, signal.SIGINT)}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _exit_on_signal)
    try:
        site = prepare_site(opts, root)
        env = server_env(opts, site)
        voila = start_voila(site, opts, env)
        wait_until_ready(opts, voila)
        if opts.prewarm:
            prewarm = start_prewarm(opts, site, env)
        echo("")
        echo("qiwidgets dashboards are ready (Ctrl+C stops the server).")
        echo(f"  Team dashboard:      {dashboard_url(opts, 'team.ipynb')}")
        echo(f"  Programme dashboard: {dashboard_url(opts, 'programme.ipynb')}")
        echo(f"  A team's own page:   add {'?' if opts.no_token else '&'}team=CODE to the team "
             "dashboard's address.")  # fmt: skip
        if opts.routes_url != opts.base_url:
            echo(f"  Through the proxy:   {opts.base_url}voila/render/team.ipynb and "
                 "programme.ipynb (the proxy strips the prefix).")  # fmt: skip
        if opts.hub:
            echo("  Behind JupyterHub: the Hub logs visitors in; each page reads and saves as "
                 "its person (qiwidgets access list).")  # fmt: skip
        elif opts.no_token:
            echo(f"  No token: any account on this machine can open {opts.host}:{opts.port}, "
                 "and every visitor acts as the operator (every team). Use this only behind a "
                 "proxy that logs visitors in; behind JupyterHub use --hub.")  # fmt: skip
        if generated:
            echo("  The token was generated for this run (--token-file keeps one between runs); "
                 "give it only to people who may see and change the programme's data.")  # fmt: skip
        if opts.dev:
            echo("  --dev: tracebacks are shown in the pages. Do not use this for visitors.")
        echo("")
        sys.stdout.flush()
        return voila.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        # a second signal must not cut the clean-up short: a launcher such as
        # jhsingle-native-proxy passes on JupyterHub's SIGINT and then exits (SIGTERM from
        # --stop-with-parent), which left the temporary folder behind
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        stop(prewarm)
        stop(voila)
        shutil.rmtree(root, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


#: Signals that stop ``serve`` like Ctrl+C: SIGTERM (``kill``, a service manager) and SIGHUP
#: (the terminal or the SSH session that ran it was closed). Looked up by name: Windows has no
#: SIGHUP, and importing this module (``qiwidgets --help`` does) must work there.
_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def check_platform(platform: str = os.name) -> None:
    """Refuse to serve where the server cannot work: it needs POSIX (its kernels talk over Unix
    sockets, Voilà runs in a process group of its own that ``os.killpg`` stops, and its children
    are started with ``preexec_fn``, which Windows does not have)."""
    if platform != "posix":
        raise ServeError(
            "qiwidgets serve runs on Linux (or another POSIX system), not on Windows: run it on "
            "a Linux server, or in WSL (Windows Subsystem for Linux), and open the address it "
            "prints in a browser on Windows. Every other command works on Windows."
        )


def _exit_on_signal(signum, frame):  # pragma: no cover - signal handler
    """Stop the server like Ctrl+C: Voilà, its kernels and the temporary folder go."""
    raise SystemExit(128 + signum)


__all__ = [
    "CONTENT_SECURITY_POLICY",
    "ServeError",
    "ServeOptions",
    "dashboard_url",
    "prepare_site",
    "serve",
    "stop",
    "voila_command",
    "voila_config",
]
