"""A throwaway PostgreSQL server for the tests.

:class:`PostgresServer` runs ``initdb`` and ``pg_ctl`` from Debian's ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on the PATH) in a temporary directory,
listening on a free loopback port and on a unix socket inside that directory, with trust
authentication. ``initdb`` refuses to run as root: when the tests run as root the server's
files belong to the ``postgres`` user and the binaries run through ``runuser -u postgres --``.

Missing binaries raise :class:`PostgresUnavailable` with a message saying how to install them;
the fixtures turn it into a test failure, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Self

#: The Debian user that owns the server files when the tests run as root.
PG_SYSTEM_USER = "postgres"
#: The database superuser initdb creates.
PG_SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server would not start."""


def find_pg_bin() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest Debian version first)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
        reverse=True,
    )
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable(
        "The PostgreSQL server binaries (initdb, pg_ctl) were not found in "
        "/usr/lib/postgresql/*/bin or on the PATH. Install them with `make system-deps` "
        "(or `apt-get install postgresql`); the store tests run against a real PostgreSQL server."
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server in a temporary directory; ``start()`` then ``stop()``."""

    def __init__(self) -> None:
        self.bin = find_pg_bin()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="qiwidgets-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.logfile = self.root / "sockets" / "server.log"
        self.port: int | None = None
        self.started = False

    # -- running the binaries --

    def _cmd(self, *args: str) -> list[str]:
        if self.as_root:
            return ["runuser", "-u", PG_SYSTEM_USER, "--", *args]
        return list(args)

    def _run(self, *args: str) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise PostgresUnavailable(
                f"`{' '.join(args)}` failed (exit {proc.returncode}):\n{proc.stdout}\n"
                f"{proc.stderr}\n{log[-2000:]}"
            )

    def _prepare_dirs(self) -> None:
        self.data.mkdir()
        self.sockets.mkdir()
        if self.as_root:
            try:
                user = pwd.getpwnam(PG_SYSTEM_USER)
            except KeyError as exc:
                raise PostgresUnavailable(
                    f"The tests run as root, so the server must run as the `{PG_SYSTEM_USER}` "
                    "user, which does not exist; install Debian's `postgresql` package."
                ) from exc
            os.chmod(self.root, 0o755)
            for path in (self.data, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
            os.chmod(self.data, 0o700)

    # -- lifecycle --

    def start(self) -> PostgresServer:
        self._prepare_dirs()
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.data),
            "-U", PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        last_error: Exception | None = None
        for _ in range(3):  # another process may grab the free port first
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            try:
                self._run(
                    str(self.bin / "pg_ctl"),
                    "-D", str(self.data),
                    "-o", options,
                    "-l", str(self.logfile),
                    "-w", "-t", "60",
                    "start",
                )  # fmt: skip
            except PostgresUnavailable as exc:
                last_error = exc
                continue
            self.started = True
            return self
        raise PostgresUnavailable(f"The PostgreSQL server did not start: {last_error}")

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                self._cmd(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
                ),
                capture_output=True,
                check=False,
            )
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- databases --

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_SUPERUSER, dbname="postgres",
            autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute(sql)

    def create_database(self, prefix: str = "qi") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
