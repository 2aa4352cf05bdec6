"""Which database, engines, sessions and transactions.

Choosing the database
---------------------
Every function that touches the store takes ``db``, resolved by :func:`resolve_url` with the
one rule of :func:`qiwidgets.config.database`:

1. ``db`` itself when given: a SQLAlchemy URL (``sqlite:///path/to/file.db``,
   ``postgresql://user@host/dbname``) or a plain file path (``ward7.db``), which means SQLite;
2. otherwise the environment variable ``QI_DATABASE_URL`` (a URL or a file path);
3. otherwise the file ``qiwidgets.db`` in the workbook folder (the nearest folder upwards with
   a ``qiwidgets.toml``, or a qiwidgets source checkout), else in the current directory.

``postgresql://`` and ``postgres://`` URLs are driven by psycopg 3 (``postgresql+psycopg://``).
An existing :class:`~sqlalchemy.engine.Engine` may be passed instead of a URL.

SQLite, the embedded default
----------------------------
Each connection sets ``journal_mode=WAL`` (readers never wait for writers),
``foreign_keys=ON``, ``synchronous=NORMAL`` (safe against a crashed process; a power cut may lose
the last commits but never corrupts the file) and a busy timeout. Write transactions start with
``BEGIN IMMEDIATE``, so writers queue for the lock at the start instead of failing half-way; a
lock that still times out is retried a few times and then reported as a plain
:class:`~qiwidgets.errors.StoreError`, never as "database is locked".

Transactions
------------
:func:`session_scope` is a context manager: one transaction, committed at the end or rolled back
on error. :func:`run_in_transaction` runs a function in one and retries it when the database was
busy (SQLite lock, PostgreSQL serialization failure or deadlock). Both translate database errors
into qiwidgets errors with plain messages.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool

from qiwidgets import config
from qiwidgets.errors import StaleEditError, StoreError

log = logging.getLogger("qiwidgets.store.db")

#: Environment variable naming the database (a URL or a SQLite file path).
ENV_VAR = config.env_name("database_url")
#: The database file used when neither ``--db`` nor ``QI_DATABASE_URL`` is given.
DEFAULT_DB_FILENAME = config.DEFAULT_DB_FILENAME
#: How long a SQLite connection waits for another writer before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How many times a busy write transaction is tried again before the user sees an error.
BUSY_RETRIES = 5
#: Pause before the first retry, in seconds; doubled on each further retry.
BUSY_RETRY_PAUSE_S = 0.05
#: PostgreSQL SQLSTATE codes meaning "try the transaction again".
_PG_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected

#: What stands for the password in a URL written where others may read it (SQLAlchemy's own
#: mark, ``URL.render_as_string(hide_password=True)``).
HIDDEN_PASSWORD = "***"

StoreLike = Engine | str | os.PathLike | None
T = TypeVar("T")

_engines: dict[tuple[int, str], Engine] = {}
_engines_lock = threading.Lock()


# --- resolving the database -------------------------------------------------------------------


def resolve_url(db: str | os.PathLike | None = None) -> str:
    """The SQLAlchemy URL for ``db`` (see the module docstring for the rules).

    Examples
    --------
    >>> resolve_url("sqlite:///x.db")
    'sqlite:///x.db'
    >>> resolve_url("postgresql://me@localhost/qi")
    'postgresql+psycopg://me@localhost/qi'
    """
    text = config.database(db)
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise StoreError(f"`db` is not a database URL or a file path, got {text!r}.") from exc
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"`db` must be a SQLite file or a PostgreSQL URL, got a {url.get_backend_name()!r} URL."
        )
    if url.password == HIDDEN_PASSWORD:
        return _with_password_from_environment(url)
    return text


def _with_password_from_environment(url) -> str:
    """The URL ``QI_DATABASE_URL`` gives for a URL written with its password hidden (as in a
    report notebook's parameters), when both name the same user, server and database."""
    shown = url.render_as_string(hide_password=True)
    full = os.environ.get(ENV_VAR, "").strip()
    if full and "://" in full:
        candidate = resolve_url(full)
        if make_url(candidate).set(password=HIDDEN_PASSWORD) == url:
            return candidate
    raise StoreError(f"The database URL {shown} has its password hidden: set {ENV_VAR} to the "
                     "full URL (with the password) to open it.")  # fmt: skip


def redact(db: str) -> str:
    """``db`` with its password, if any, shown as ``***`` (for anything others may read: a
    notebook's parameters, a log line). :func:`resolve_url` reads such a URL back when
    ``QI_DATABASE_URL`` holds the full one."""
    if "://" not in db:
        return db
    url = make_url(db)
    return url.render_as_string(hide_password=True) if url.password else db


def describe(db: StoreLike) -> str:
    """A short, password-free description of the database for messages."""
    if isinstance(db, Engine):
        url = db.url
    else:
        url = make_url(resolve_url(db))
    if url.get_backend_name() == "sqlite":
        return url.database or "an in-memory SQLite database"
    return url.render_as_string(hide_password=True)


# --- engines ----------------------------------------------------------------------------------


def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own handling would
    # start transactions late and DEFERRED).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_MS)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn) -> None:
    if conn.get_execution_options().get("qi_write", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def create_store_engine(url: str) -> Engine:
    """A new engine for ``url`` set up as described in the module docstring."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        in_memory = sa_url.database in (None, "", ":memory:")
        if not in_memory:
            parent = Path(sa_url.database).parent
            if not parent.is_dir():
                raise StoreError(
                    f"Cannot create the database {sa_url.database}: the folder {parent} does "
                    "not exist."
                )
        kwargs: dict = {
            "connect_args": {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
        }
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(db: StoreLike = None) -> Engine:
    """The engine for ``db`` (a URL, a file path, an Engine, or None for the default).

    Engines are cached per process, so a forked worker never shares its parent's connections.
    """
    if isinstance(db, Engine):
        return db
    url = resolve_url(db)
    key = (os.getpid(), url)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = create_store_engine(url)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine of this process (tests and long-lived kernels)."""
    with _engines_lock:
        for (pid, _), engine in list(_engines.items()):
            if pid == os.getpid():
                engine.dispose()
        _engines.clear()


# --- schema -----------------------------------------------------------------------------------

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None):
    """An Alembic :class:`~alembic.config.Config` pointing into the installed package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def migrate(
    db: StoreLike,
    revision: str = "head",
    *,
    downgrade: bool = False,
    script_location: str | os.PathLike | None = None,
) -> Engine:
    """Upgrade (or downgrade) the schema to ``revision`` in one transaction.

    On SQLite, foreign-key enforcement is switched off while the migration runs (a later
    revision may rebuild a table other tables refer to, as SQLite's ALTER TABLE requires) and
    ``PRAGMA foreign_key_check`` must come back clean before the transaction commits.
    ``script_location`` points at another migrations folder (for tests of future revisions).
    """
    from alembic import command

    engine = get_engine(db)
    cfg = alembic_config(engine)
    if script_location is not None:
        cfg.set_main_option("script_location", str(script_location))
    action = command.downgrade if downgrade else command.upgrade
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.execution_options(qi_write=True).connect() as conn:
            if sqlite:  # must happen outside a transaction to take effect
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    action(cfg, revision)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise StoreError(
                                f"The migration to {revision} would break links between "
                                f"records ({len(broken)} rows); nothing was changed."
                            )
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")
    except DBAPIError as exc:
        raise translate_error(exc, engine) from exc
    return engine


def init_db(db: StoreLike = None) -> Engine:
    """Create the database schema or upgrade it to the newest version (Alembic ``upgrade head``).

    Safe to run again: an up-to-date database is left as it is. Returns the engine.
    """
    return migrate(db, "head")


def downgrade_db(db: StoreLike, revision: str) -> Engine:
    """Take the schema back to ``revision`` (``"base"`` removes every table). For maintainers."""
    return migrate(db, revision, downgrade=True)


def current_revision(db: StoreLike = None) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = get_engine(db)
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of qiwidgets."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def table_names(db: StoreLike = None) -> list[str]:
    """Names of the tables in the database (for checks and tests)."""
    engine = get_engine(db)
    return sorted(inspect(engine).get_table_names())


# --- errors -----------------------------------------------------------------------------------


def is_busy_error(exc: BaseException) -> bool:
    """True for an error that means "the database was busy: try the transaction again"."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    return getattr(orig, "sqlstate", None) in _PG_RETRYABLE


def _is_missing_table(exc: DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "no such table" in str(orig).lower()
    return getattr(orig, "sqlstate", None) == "42P01"  # undefined_table


def _is_missing_column(exc: DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "no such column" in str(orig).lower()
    return getattr(orig, "sqlstate", None) == "42703"  # undefined_column


def translate_error(exc: BaseException, db: StoreLike = None) -> BaseException:
    """A qiwidgets error with a plain message for a database error; other errors unchanged."""
    if isinstance(exc, StaleDataError):
        return StaleEditError(
            "Someone else changed this record since you opened it. Your change has not been "
            "saved over theirs: reload to see their version, then apply your change again."
        )
    if not isinstance(exc, DBAPIError):
        return exc
    where = describe(db) if db is not None else "the database"
    if is_busy_error(exc):
        return StoreError(
            f"The database {where} is busy with other changes; nothing was saved. "
            "Please try again in a moment."
        )
    if _is_missing_table(exc):
        return StoreError(
            f"The database {where} has not been set up for qiwidgets: run "
            f"`qiwidgets init --db {where}` first."
        )
    if _is_missing_column(exc):
        return StoreError(
            f"The database {where} was set up by an older version of qiwidgets: upgrade it with "
            f"`qiwidgets init --db {where}` (nothing in it is lost), then try again."
        )
    if isinstance(exc, IntegrityError):
        return StoreError(
            f"The change breaks a rule of the database and was not saved ({_first_line(exc.orig)})."
        )
    if isinstance(exc, (OperationalError, ProgrammingError)):
        return StoreError(f"Cannot use the database {where}: {_first_line(exc.orig)}")
    return StoreError(f"The database {where} reported an error: {_first_line(exc.orig)}")


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- sessions and transactions -------------------------------------------------------------------


@contextlib.contextmanager
def session_scope(db: StoreLike = None, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit at the end, roll back on any error.

    ``write=True`` (the default) takes SQLite's write lock at the start (``BEGIN IMMEDIATE``);
    use ``write=False`` for reads, which never wait. Database errors come out as
    :class:`~qiwidgets.errors.StoreError` (or :class:`~qiwidgets.errors.StaleEditError`).
    Objects stay readable after the block (``expire_on_commit=False``).

    Examples
    --------
    >>> with session_scope("ward7.db") as session:  # doctest: +SKIP
    ...     session.add(Programme(code="FALLS", name="Reducing harm from falls"))
    """
    engine = get_engine(db)
    bind = engine.execution_options(qi_write=True) if write else engine
    session = Session(bind=bind, expire_on_commit=False, autoflush=True)
    try:
        yield session
        session.commit()
    except (DBAPIError, StaleDataError) as exc:
        session.rollback()
        raise translate_error(exc, engine) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def run_in_transaction(
    fn: Callable[[Session], T],
    db: StoreLike = None,
    *,
    write: bool = True,
    retries: int = BUSY_RETRIES,
) -> T:
    """``fn(session)`` in one transaction, tried again when the database was busy.

    ``fn`` must be safe to run again (it is, if it only uses the session it is given).
    """
    engine = get_engine(db)
    pause = BUSY_RETRY_PAUSE_S
    for attempt in range(retries + 1):
        bind = engine.execution_options(qi_write=True) if write else engine
        session = Session(bind=bind, expire_on_commit=False, autoflush=True)
        # who acts (qiwidgets.store.people.ActingDB): the repository checks it in the session
        session.info["actor"] = getattr(db, "actor", None)
        try:
            result = fn(session)
            session.commit()
            return result
        except (DBAPIError, StaleDataError) as exc:
            session.rollback()
            if is_busy_error(exc) and attempt < retries:
                log.debug("database busy (attempt %d), retrying: %s", attempt + 1, exc)
                time.sleep(pause)
                pause *= 2
                continue
            raise translate_error(exc, engine) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = [
    "DEFAULT_DB_FILENAME",
    "ENV_VAR",
    "StoreLike",
    "current_revision",
    "describe",
    "dispose_engines",
    "downgrade_db",
    "get_engine",
    "head_revision",
    "init_db",
    "migrate",
    "resolve_url",
    "run_in_transaction",
    "session_scope",
    "table_names",
    "translate_error",
]
