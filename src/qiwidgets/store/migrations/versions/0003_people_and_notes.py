"""People and their access, every edit signed, reflections shared by choice, a note per value.

* ``people``, ``memberships`` (person x team: member, lead, viewer), ``programme_roles``
  (programme_lead, analyst) and ``access_links`` (personal links: the SHA-256 of the secret);
* ``updated_by_id`` on the records a team edits, ``changed_by_id`` on the edit history;
* ``reflections.shared``: new reflections stay with the team unless shared; the reflections
  already stored were shown to the programme before, so they are marked shared;
* ``observations.note``: the team's free-text note on a value.

The allowed values are written out here: a migration is a snapshot of one point in time.

Revision ID: 0003_people_and_notes
Revises: 0002_measure_rule_set
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qiwidgets.store import migration_columns as cols

revision = "0003_people_and_notes"
down_revision = "0002_measure_rule_set"
branch_labels = None
depends_on = None

TEAM_ROLES = ("member", "lead", "viewer")
PROGRAMME_ROLES = ("programme_lead", "analyst")
#: Tables whose records say who saved them last.
SIGNED = (
    "aims",
    "driver_nodes",
    "observations",
    "pdsa_cycles",
    "annotations",
    "reflections",
    "progress_scores",
    "health_checks",
)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("identity_key", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        *cols.versioned(),
        sa.UniqueConstraint("identity_key", name="uq_people_identity_key"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="CASCADE", name="fk_memberships_person_id_people"),
            nullable=False,
        ),
        sa.Column(
            "team_id",
            sa.Integer(),
            sa.ForeignKey("teams.id", ondelete="CASCADE", name="fk_memberships_team_id_teams"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        *cols.versioned(),
        sa.UniqueConstraint("person_id", "team_id", name="uq_memberships_person_id_team_id"),
        sa.CheckConstraint(cols.in_("role", TEAM_ROLES), name="ck_memberships_role"),
    )
    op.create_index("ix_memberships_person_id", "memberships", ["person_id"])
    op.create_index("ix_memberships_team_id", "memberships", ["team_id"])
    op.create_table(
        "programme_roles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="CASCADE", name="fk_programme_roles_person_id_people"
            ),
            nullable=False,
        ),
        sa.Column(
            "programme_id",
            sa.Integer(),
            sa.ForeignKey(
                "programmes.id",
                ondelete="CASCADE",
                name="fk_programme_roles_programme_id_programmes",
            ),
            nullable=False,
        ),
        sa.Column("role", sa.String(24), nullable=False),
        *cols.versioned(),
        sa.UniqueConstraint(
            "person_id", "programme_id", name="uq_programme_roles_person_id_programme_id"
        ),
        sa.CheckConstraint(cols.in_("role", PROGRAMME_ROLES), name="ck_programme_roles_role"),
    )
    op.create_index("ix_programme_roles_person_id", "programme_roles", ["person_id"])
    op.create_index("ix_programme_roles_programme_id", "programme_roles", ["programme_id"])
    op.create_table(
        "access_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="CASCADE", name="fk_access_links_person_id_people"),
            nullable=False,
        ),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("secret_hash", name="uq_access_links_secret_hash"),
    )
    op.create_index("ix_access_links_person_id", "access_links", ["person_id"])
    for table in SIGNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_updated_by_id_people",
                "people",
                ["updated_by_id"],
                ["id"],
                ondelete="SET NULL",
            )
    with op.batch_alter_table("observation_edits") as batch:
        batch.add_column(sa.Column("changed_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_observation_edits_changed_by_id_people",
            "people",
            ["changed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("observations") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    with op.batch_alter_table("reflections") as batch:
        batch.add_column(
            sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE reflections SET shared = TRUE")  # shown to the programme until now
    with op.batch_alter_table("reflections") as batch:
        batch.alter_column("shared", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("reflections") as batch:
        batch.drop_column("shared")
    with op.batch_alter_table("observations") as batch:
        batch.drop_column("note")
    with op.batch_alter_table("observation_edits") as batch:
        batch.drop_constraint("fk_observation_edits_changed_by_id_people", type_="foreignkey")
        batch.drop_column("changed_by_id")
    for table in SIGNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_updated_by_id_people", type_="foreignkey")
            batch.drop_column("updated_by_id")
    op.drop_table("access_links")
    op.drop_table("programme_roles")
    op.drop_table("memberships")
    op.drop_table("people")
