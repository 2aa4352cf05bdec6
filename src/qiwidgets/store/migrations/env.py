"""Alembic environment for the qiwidgets store.

Run programmatically by :func:`qiwidgets.store.db.init_db`, which hands over an open connection
in ``config.attributes["connection"]``. Maintainers can also run the ``alembic`` command with
``-c src/qiwidgets/store/migrations/alembic.ini`` and ``-x db=URL_OR_PATH`` (default: the usual
``--db`` / ``QI_DATABASE_URL`` / ``qiwidgets.db`` rules).
"""

from __future__ import annotations

from alembic import context

from qiwidgets.store.db import get_engine
from qiwidgets.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: later revisions use batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    db = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = get_engine(db or None)
    with engine.execution_options(qi_write=True).begin() as connection:
        _configure_and_run(connection)


def run_migrations_offline() -> None:
    db = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option(
        "sqlalchemy.url"
    )
    from qiwidgets.store.db import resolve_url

    context.configure(
        url=resolve_url(db or None), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
