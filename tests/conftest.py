"""Shared test setup: make the helper modules in tests/ importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


# --- the learning-system store: the same tests on SQLite and on a real PostgreSQL server -------

import pytest


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


@pytest.fixture(scope="session")
def _schema_templates(tmp_path_factory):
    """Databases migrated to head once per session, copied for each test (fast set-up)."""
    return {}


@pytest.fixture
def store_url(db_url, request, _schema_templates):
    """A database URL with the qiwidgets schema created (Alembic upgrade head).

    The schema is built once per session by ``init_db`` and copied: a file copy for SQLite,
    ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL.
    """
    import shutil

    from sqlalchemy.engine import make_url

    from qiwidgets.store.db import dispose_engines, init_db

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        template = _schema_templates.get("sqlite")
        if template is None:
            template = str(request.getfixturevalue("tmp_path_factory").mktemp("tpl") / "t.db")
            init_db(template)
            dispose_engines()  # checkpoints the WAL into the file
            _schema_templates["sqlite"] = template
        shutil.copyfile(template, url.database)
        return db_url
    server = request.getfixturevalue("pg_server")
    template = _schema_templates.get("postgres")
    if template is None:
        template_url = server.create_database("qi_template")
        init_db(template_url)
        dispose_engines()
        template = template_url.rsplit("/", 1)[1]
        _schema_templates["postgres"] = template
    name = url.database
    server._admin(f'DROP DATABASE "{name}" WITH (FORCE)')
    server._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return db_url


# --- the dashboards, served, in Debian's Chromium (tests/browser.py) ----------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    path = tmp_path_factory.mktemp("dash") / "sample.db"
    init_db(f"sqlite:///{path}")
    load_sample(f"sqlite:///{path}")
    dispose_engines()
    return str(path)


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    from qiwidgets.dashboards.harness import ServedDashboards

    served = ServedDashboards(store, workdir=tmp_path_factory.mktemp("serve"))
    served.start()
    yield served
    served.stop()
    assert served.wait_port_closed(), "the server still listens after it was stopped"


@pytest.fixture(scope="module")
def served(store, links, tmp_path_factory):
    """The dashboards on the module's store with one kernel kept warm, started once the
    module's people have their personal ``links`` (a fixture the module defines)."""
    from qiwidgets.dashboards.harness import ServedDashboards

    with ServedDashboards(store, pool=1, workdir=tmp_path_factory.mktemp("served")) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    from qiwidgets.dashboards.harness import launch_chromium

    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def visit(browser):
    visits: list = []

    def make():
        from browser import Visit

        v = Visit(browser)
        visits.append(v)
        return v

    yield make
    for v in visits:
        v.close()
