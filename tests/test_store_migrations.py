"""Alembic migrations: empty -> head on both databases; downgrade/upgrade keeps data."""

from __future__ import annotations

import shutil

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect as sa_inspect

from qiwidgets.store import db as store_db
from qiwidgets.store import models as m
from qiwidgets.store import repo


def test_empty_to_head(db_url):
    assert store_db.current_revision(db_url) is None
    assert store_db.table_names(db_url) == []
    store_db.init_db(db_url)
    assert store_db.current_revision(db_url) == store_db.head_revision()
    store_db.init_db(db_url)  # running it again changes nothing
    assert store_db.current_revision(db_url) == store_db.head_revision()


def test_migrated_schema_matches_the_model(db_url):
    """No drift: what the migrations build is what models.py declares."""
    engine = store_db.init_db(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, m.Base.metadata) == []


def test_every_revision_downgrades_and_upgrades(db_url):
    script = ScriptDirectory.from_config(store_db.alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]
    assert revisions, "no migrations shipped"
    store_db.init_db(db_url)
    store_db.downgrade_db(db_url, "base")
    assert store_db.table_names(db_url) == ["alembic_version"]
    store_db.init_db(db_url)
    assert store_db.current_revision(db_url) == store_db.head_revision()


def test_upgrade_keeps_data(store_url):
    """Data written at an older revision survives upgrading to head.

    With one revision this is head -> head after a downgrade of nothing; as soon as a second
    revision exists, the data are written one revision below head and upgraded.
    """
    script = ScriptDirectory.from_config(store_db.alembic_config())
    head = script.get_revision("head")
    below = head.down_revision
    if below is not None:
        store_db.downgrade_db(store_url, below)
    p = repo.save_programme(store_url, {"code": "FALLS", "name": "Falls"})
    t = repo.save_team(store_url, {"programme_id": p.id, "code": "W7", "name": "Ward 7"})
    store_db.init_db(store_url)
    assert repo.get_team(store_url, "W7").id == t.id
    assert repo.get_programme(store_url).name == "Falls"


def test_migrations_are_found_inside_the_installed_package():
    assert (store_db.MIGRATIONS_DIR / "env.py").is_file()
    assert store_db.MIGRATIONS_DIR.parent.name == "store"
    assert list((store_db.MIGRATIONS_DIR / "versions").glob("*.py"))


SECOND_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9999_test_note"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("test_note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("test_note")
"""


def test_a_later_revision_upgrades_and_downgrades_keeping_data(store_url, tmp_path):
    """A trial second revision (a new column, SQLite batch mode) applied to a filled database."""
    from test_store_model import build_programme

    from qiwidgets.store import export

    build_programme(store_url)
    before = export.dump_tables(store_url)
    scripts = tmp_path / "migrations"
    shutil.copytree(store_db.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_test_note.py").write_text(
        SECOND_REVISION.format(head=store_db.head_revision())
    )
    engine = store_db.migrate(store_url, "head", script_location=scripts)
    assert store_db.current_revision(store_url) == "9999_test_note"
    assert "test_note" in {c["name"] for c in sa_inspect(engine).get_columns("teams")}
    store_db.migrate(store_url, "-1", downgrade=True, script_location=scripts)
    assert store_db.current_revision(store_url) == store_db.head_revision()
    engine.dispose()
    assert export.dump_tables(store_url) == before
    with engine.connect() as conn:  # the rebuilt table kept its foreign keys
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_a_database_from_an_older_version_says_how_to_upgrade(db_url):
    """A store left at an older revision (here the first) is read by today's code: the user is
    told to upgrade it with `qiwidgets init`, and the upgrade keeps what was there."""
    from qiwidgets.errors import StoreError
    from qiwidgets.store import repo

    store_db.migrate(db_url, "0001_initial")
    store_db.dispose_engines()
    prog = repo.save_programme(db_url, {"code": "OLD", "name": "Made by an older version"})
    with pytest.raises(StoreError, match=r"older version of qiwidgets: upgrade it with "
                       r"`qiwidgets init --db"):  # fmt: skip
        repo.list_measures(db_url, None, prog.id)
    store_db.dispose_engines()
    store_db.init_db(db_url)
    assert repo.list_measures(db_url, None, prog.id) == []
    assert repo.get_programme(db_url, "OLD").name == "Made by an older version"
