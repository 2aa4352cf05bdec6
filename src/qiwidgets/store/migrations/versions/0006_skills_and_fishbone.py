"""Skills profiles and cause-and-effect (fishbone) diagrams (issue M, items 2 and 3).

* ``skill_profiles``: a person's self-assessment on a team (one per person and team), and
  ``skill_ratings``: its rating of each item, 0 (not yet) to 3 (can teach others), in the
  three groups of the Health Foundation's "Skilled for improvement?" (technical, soft and
  learning skills);
* ``fishbones``: a team's fishbone, the effect (problem) it explains, one per team, and
  ``fishbone_causes``: its causes under a category, with sub-causes one level deep, each
  optionally linked to a node of the same team's driver diagram.

The allowed values are written out here: a migration is a snapshot of one point in time.

Revision ID: 0006_skills_and_fishbone
Revises: 0005_change_idea_tag
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qiwidgets.store import migration_columns as cols

revision = "0006_skills_and_fishbone"
down_revision = "0005_change_idea_tag"
branch_labels = None
depends_on = None

SKILL_ITEMS = ("tech_measures", "tech_variation", "tech_pdsa", "tech_mapping",
               "soft_relationships", "soft_engagement", "soft_influence", "soft_drivers_blockers",
               "learn_reflect", "learn_feedback", "learn_share")  # fmt: skip
FISHBONE_CATEGORIES = ("people", "equipment", "environment", "methods", "materials",
                       "management")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "skill_profiles",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("person_id", "skill_profiles", "people", "CASCADE", nullable=False),
        cols.fk("team_id", "skill_profiles", "teams", "CASCADE", nullable=False),
        *cols.versioned(),
        cols.signed("skill_profiles"),
        sa.UniqueConstraint("person_id", "team_id", name="uq_skill_profiles_person_id_team_id"),
    )
    op.create_index("ix_skill_profiles_person_id", "skill_profiles", ["person_id"])
    op.create_index("ix_skill_profiles_team_id", "skill_profiles", ["team_id"])

    op.create_table(
        "skill_ratings",
        sa.Column(
            "profile_id",
            sa.Integer(),
            sa.ForeignKey(
                "skill_profiles.id",
                ondelete="CASCADE",
                name="fk_skill_ratings_profile_id_skill_profiles",
            ),
            primary_key=True,
        ),
        sa.Column("item", sa.String(32), primary_key=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.CheckConstraint(cols.in_("item", SKILL_ITEMS), name="ck_skill_ratings_item"),
        sa.CheckConstraint("level >= 0 AND level <= 3", name="ck_skill_ratings_level"),
    )

    op.create_table(
        "fishbones",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "fishbones", "teams", "RESTRICT", nullable=False),
        sa.Column("effect", sa.Text(), nullable=False),
        *cols.versioned(),
        cols.signed("fishbones"),
        sa.UniqueConstraint("team_id", name="uq_fishbones_team_id"),
    )

    op.create_table(
        "fishbone_causes",
        sa.Column("id", sa.Integer(), primary_key=True),
        cols.fk("team_id", "fishbone_causes", "teams", "RESTRICT", nullable=False),
        cols.fk("fishbone_id", "fishbone_causes", "fishbones", "CASCADE", nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        cols.fk("parent_id", "fishbone_causes", "fishbone_causes", "RESTRICT"),
        sa.Column("text", sa.Text(), nullable=False),
        cols.fk("driver_node_id", "fishbone_causes", "driver_nodes", "SET NULL"),
        sa.Column("order", sa.Integer(), nullable=False),
        *cols.versioned(),
        cols.signed("fishbone_causes"),
        sa.CheckConstraint(cols.in_("category", FISHBONE_CATEGORIES), name="ck_fishbone_causes_category"),
    )
    op.create_index("ix_fishbone_causes_team_id", "fishbone_causes", ["team_id"])
    op.create_index("ix_fishbone_causes_fishbone_id", "fishbone_causes", ["fishbone_id"])
    op.create_index("ix_fishbone_causes_parent_id", "fishbone_causes", ["parent_id"])


def downgrade() -> None:
    op.drop_table("fishbone_causes")
    op.drop_table("fishbones")
    op.drop_table("skill_ratings")
    op.drop_table("skill_profiles")
