"""Shared test setup: make the helper modules in tests/ importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


# --- the learning-system store: the same tests on SQLite and on a real PostgreSQL server -------

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the whole session (see tests/pg.py).

    Missing PostgreSQL binaries make the tests that need it FAIL with a clear message.
    """
    from pg import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """An empty database URL (no tables): a SQLite file, or a fresh PostgreSQL database."""
    from qiwidgets.store.db import dispose_engines

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        yield url
        dispose_engines()
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database()
        yield url
        dispose_engines()
        server.drop_database(url)


@pytest.fixture
def store_url(db_url):
    """A database URL with the qiwidgets schema created (Alembic upgrade head)."""
    from qiwidgets.store.db import init_db

    init_db(db_url)
    return db_url
