"""Learning practice inside the loop (issue M): roles on a team, help, comments, the safety
pulse and the systems lenses.

* ``memberships.team_role``: a person's part in the team's work (team lead, team member,
  patient or family partner, sponsor, coach), beside their access role;
* ``pdsa_cycles.shared``: a team shares a PDSA cycle with the programme by choice (the cycles
  already stored were never shown to other teams, so they stay with their team);
* ``help_requests``: a team asks for help; the programme lead or its coach answers;
* ``comments``: on a shared PDSA cycle or a shared story, from another team of the programme;
* ``pulse_counts``: the safety pulse as counts per team, month, item and score (no answer is
  stored on its own), and ``pulse_responses``: who answered in a month, never what;
* ``pdsa_lenses``: a PDSA plan through Engineering Better Care's four perspectives, with a
  risk assessment of the change;
* ``reflection_disciplines``: Senge's disciplines a reflection speaks to.

The allowed values are written out here: a migration is a snapshot of one point in time.

Revision ID: 0004_learning_practice
Revises: 0003_people_and_notes
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qiwidgets.store import migration_columns as cols

revision = "0004_learning_practice"
down_revision = "0003_people_and_notes"
branch_labels = None
depends_on = None

TEAM_MEMBER_ROLES = ("team_lead", "team_member", "patient_partner", "sponsor", "coach")
HELP_STATUSES = ("open", "answered", "closed")
PULSE_ITEMS = ("speak_up", "mistakes", "ask_for_help", "try_new", "differences")
SENGE_DISCIPLINES = ("personal_mastery", "mental_models", "shared_vision", "team_learning",
                     "systems_thinking")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("team_role", sa.String(24), nullable=True))
        batch.create_check_constraint(
            "ck_memberships_team_role", f"team_role IS NULL OR {cols.in_('team_role', TEAM_MEMBER_ROLES)}"
        )
    with op.batch_alter_table("pdsa_cycles") as batch:
        batch.add_column(
            sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("pdsa_cycles") as batch:
        batch.alter_column("shared", server_default=None)

    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "help_requests", "teams", "RESTRICT", nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        cols.fk("raised_by_id", "help_requests", "people", "SET NULL"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_on", sa.Date(), nullable=True),
        cols.fk("responded_by_id", "help_requests", "people", "SET NULL"),
        *cols.versioned(),
        cols.signed("help_requests"),
        sa.CheckConstraint(cols.in_("status", HELP_STATUSES), name="ck_help_requests_status"),
    )
    op.create_index("ix_help_requests_team_id", "help_requests", ["team_id"])

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "comments", "teams", "RESTRICT", nullable=False),
        cols.fk("pdsa_id", "comments", "pdsa_cycles", "CASCADE"),
        cols.fk("reflection_id", "comments", "reflections", "CASCADE"),
        cols.fk("author_id", "comments", "people", "SET NULL"),
        cols.fk("author_team_id", "comments", "teams", "SET NULL"),
        sa.Column("text", sa.Text(), nullable=False),
        *cols.versioned(),
        cols.signed("comments"),
        sa.CheckConstraint(
            "(pdsa_id IS NULL) <> (reflection_id IS NULL)", name="ck_comments_one_target"
        ),
    )
    op.create_index("ix_comments_team_id", "comments", ["team_id"])
    op.create_index("ix_comments_pdsa_id", "comments", ["pdsa_id"])
    op.create_index("ix_comments_reflection_id", "comments", ["reflection_id"])

    op.create_table(
        "pulse_counts",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "pulse_counts", "teams", "CASCADE", nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "team_id", "month", "item", "score", name="uq_pulse_counts_team_id_month_item_score"
        ),
        sa.CheckConstraint(cols.in_("item", PULSE_ITEMS), name="ck_pulse_counts_item"),
        sa.CheckConstraint("score >= 1 AND score <= 5", name="ck_pulse_counts_score"),
        sa.CheckConstraint("count >= 0", name="ck_pulse_counts_count_not_negative"),
    )
    op.create_index("ix_pulse_counts_team_id", "pulse_counts", ["team_id"])

    op.create_table(
        "pulse_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "pulse_responses", "teams", "CASCADE", nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        cols.fk("person_id", "pulse_responses", "people", "CASCADE", nullable=False),
        sa.UniqueConstraint(
            "team_id", "month", "person_id", name="uq_pulse_responses_team_id_month_person_id"
        ),
    )
    op.create_index("ix_pulse_responses_team_id", "pulse_responses", ["team_id"])
    op.create_index("ix_pulse_responses_person_id", "pulse_responses", ["person_id"])

    op.create_table(
        "pdsa_lenses",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "pdsa_lenses", "teams", "RESTRICT", nullable=False),
        cols.fk("pdsa_id", "pdsa_lenses", "pdsa_cycles", "CASCADE", nullable=False),
        sa.Column("people", sa.Text(), nullable=True),
        sa.Column("systems", sa.Text(), nullable=True),
        sa.Column("design", sa.Text(), nullable=True),
        sa.Column("risk", sa.Text(), nullable=True),
        sa.Column("risk_likelihood", sa.Integer(), nullable=True),
        sa.Column("risk_consequence", sa.Integer(), nullable=True),
        sa.Column("risk_controls", sa.Text(), nullable=True),
        *cols.versioned(),
        cols.signed("pdsa_lenses"),
        sa.UniqueConstraint("pdsa_id", name="uq_pdsa_lenses_pdsa_id"),
        sa.CheckConstraint(
            "risk_likelihood IS NULL OR (risk_likelihood >= 1 AND risk_likelihood <= 5)",
            name="ck_pdsa_lenses_risk_likelihood",
        ),
        sa.CheckConstraint(
            "risk_consequence IS NULL OR (risk_consequence >= 1 AND risk_consequence <= 5)",
            name="ck_pdsa_lenses_risk_consequence",
        ),
    )
    op.create_index("ix_pdsa_lenses_team_id", "pdsa_lenses", ["team_id"])

    op.create_table(
        "reflection_disciplines",
        sa.Column(
            "reflection_id",
            sa.Integer(),
            sa.ForeignKey(
                "reflections.id",
                ondelete="CASCADE",
                name="fk_reflection_disciplines_reflection_id_reflections",
            ),
            primary_key=True,
        ),
        sa.Column("discipline", sa.String(24), primary_key=True),
        sa.CheckConstraint(
            cols.in_("discipline", SENGE_DISCIPLINES), name="ck_reflection_disciplines_discipline"
        ),
    )


def downgrade() -> None:
    op.drop_table("reflection_disciplines")
    op.drop_table("pdsa_lenses")
    op.drop_table("pulse_responses")
    op.drop_table("pulse_counts")
    op.drop_table("comments")
    op.drop_table("help_requests")
    with op.batch_alter_table("pdsa_cycles") as batch:
        batch.drop_column("shared")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_constraint("ck_memberships_team_role", type_="check")
        batch.drop_column("team_role")
