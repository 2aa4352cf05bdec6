"""Initial schema: programmes, teams, aims, driver diagrams, measures, observations and their
edit history, annotations, PDSA cycles, reflections, progress scores, health checks.

The allowed values of each CHECK constraint are written out here on purpose: a migration is a
snapshot of the schema at one point in time and must not change when the model changes later.

Revision ID: 0001_initial
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qiwidgets.store import migration_columns as cols

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


MEASURE_TYPES = ("outcome", "process", "balancing")
IMPROVEMENT_DIRECTIONS = ("increase", "decrease", "neutral")
CHART_TYPES = ("run", "i", "mr", "xbar", "s", "t", "p", "pp", "c", "u", "up", "g", "xmr")
FREQUENCIES = ("daily", "weekly", "fortnightly", "monthly", "quarterly")
DATA_QUALITY_FLAGS = ("ok", "provisional", "estimated", "incomplete", "suspect")
DRIVER_KINDS = ("primary", "secondary", "change_idea")
ANNOTATION_KINDS = ("pdsa_start", "event", "rebase", "baseline", "phase", "exclude")
PDSA_ACTS = ("adopt", "adapt", "abandon")
LEARNING_LEVELS = ("single_loop", "double_loop", "deutero")
PROGRESS_SCORES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
HEALTH_COMPONENTS = (
    "shared_purpose",
    "shared_language",
    "autonomy",
    "collective_leadership",
    "connections_and_relationships",
    "data_and_measures",
    "infrastructure",
)


def _fks(table: str, *specs: tuple) -> list[sa.ForeignKeyConstraint]:
    out = []
    for spec in specs:
        column, referred = spec[0], spec[1]
        ondelete = spec[2] if len(spec) > 2 else "RESTRICT"
        out.append(
            sa.ForeignKeyConstraint(
                [column],
                [f"{referred}.id"],
                ondelete=ondelete,
                name=f"fk_{table}_{column}_{referred}",
            )
        )
    return out


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("shared_aim", sa.Text(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_programmes"),
        sa.UniqueConstraint("code", name="uq_programmes_code"),
    )

    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("programme_id", "code", name="uq_teams_programme_id_code"),
        *_fks("teams", ("programme_id", "programmes")),
    )
    op.create_index("ix_teams_programme_id", "teams", ["programme_id"])

    op.create_table(
        "aims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("for_whom", sa.Text(), nullable=True),
        sa.Column("how_much", sa.Text(), nullable=True),
        sa.Column("by_when", sa.Date(), nullable=True),
        sa.Column("baseline", sa.Text(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_aims"),
        *_fks("aims", ("team_id", "teams")),
    )
    op.create_index("ix_aims_team_id", "aims", ["team_id"])

    op.create_table(
        "driver_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_driver_nodes"),
        sa.CheckConstraint(cols.in_("kind", DRIVER_KINDS), name="ck_driver_nodes_kind"),
        *_fks("driver_nodes", ("team_id", "teams"), ("parent_id", "driver_nodes")),
    )
    op.create_index("ix_driver_nodes_team_id", "driver_nodes", ["team_id"])
    op.create_index("ix_driver_nodes_parent_id", "driver_nodes", ["parent_id"])

    op.create_table(
        "measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("measure_type", sa.String(16), nullable=False),
        sa.Column("numerator_definition", sa.Text(), nullable=True),
        sa.Column("denominator_definition", sa.Text(), nullable=True),
        sa.Column("value_definition", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(100), nullable=True),
        sa.Column("multiplier", sa.Float(), nullable=True),
        sa.Column("population", sa.Text(), nullable=True),
        sa.Column("inclusions", sa.Text(), nullable=True),
        sa.Column("exclusions", sa.Text(), nullable=True),
        sa.Column("data_source", sa.Text(), nullable=True),
        sa.Column("collector", sa.String(200), nullable=True),
        sa.Column("frequency", sa.String(16), nullable=True),
        sa.Column("sampling", sa.Text(), nullable=True),
        sa.Column("improvement_direction", sa.String(16), nullable=True),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("chart_type", sa.String(16), nullable=True),
        sa.Column("baseline_start", sa.Date(), nullable=True),
        sa.Column("baseline_end", sa.Date(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_measures"),
        sa.CheckConstraint(cols.in_("measure_type", MEASURE_TYPES), name="ck_measures_measure_type"),
        sa.CheckConstraint(
            cols.optional_in("improvement_direction", IMPROVEMENT_DIRECTIONS),
            name="ck_measures_improvement_direction",
        ),
        sa.CheckConstraint(cols.optional_in("chart_type", CHART_TYPES), name="ck_measures_chart_type"),
        sa.CheckConstraint(cols.optional_in("frequency", FREQUENCIES), name="ck_measures_frequency"),
        sa.CheckConstraint(
            "multiplier IS NULL OR multiplier > 0", name="ck_measures_multiplier_positive"
        ),
        sa.CheckConstraint(
            "baseline_start IS NULL OR baseline_end IS NULL OR baseline_start <= baseline_end",
            name="ck_measures_baseline_order",
        ),
        *_fks("measures", ("programme_id", "programmes"), ("team_id", "teams")),
    )
    op.create_index("ix_measures_programme_id", "measures", ["programme_id"])
    op.create_index(
        "uq_measures_shared_code",
        "measures",
        ["programme_id", "code"],
        unique=True,
        sqlite_where=sa.text("team_id IS NULL"),
        postgresql_where=sa.text("team_id IS NULL"),
    )
    op.create_index(
        "uq_measures_team_code",
        "measures",
        ["team_id", "code"],
        unique=True,
        sqlite_where=sa.text("team_id IS NOT NULL"),
        postgresql_where=sa.text("team_id IS NOT NULL"),
    )

    op.create_table(
        "health_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("component", sa.String(40), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_health_checks"),
        sa.CheckConstraint(cols.in_("component", HEALTH_COMPONENTS), name="ck_health_checks_component"),
        sa.CheckConstraint("rating >= 1 AND rating <= 5", name="ck_health_checks_rating"),
        *_fks("health_checks", ("programme_id", "programmes"), ("team_id", "teams")),
    )
    op.create_index("ix_health_checks_programme_id", "health_checks", ["programme_id"])
    op.create_index(
        "uq_health_checks_programme",
        "health_checks",
        ["programme_id", "period", "component"],
        unique=True,
        sqlite_where=sa.text("team_id IS NULL"),
        postgresql_where=sa.text("team_id IS NULL"),
    )
    op.create_index(
        "uq_health_checks_team",
        "health_checks",
        ["team_id", "period", "component"],
        unique=True,
        sqlite_where=sa.text("team_id IS NOT NULL"),
        postgresql_where=sa.text("team_id IS NOT NULL"),
    )

    op.create_table(
        "progress_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("team_score", sa.Float(), nullable=True),
        sa.Column("lead_score", sa.Float(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_progress_scores"),
        sa.UniqueConstraint("team_id", "month", name="uq_progress_scores_team_id_month"),
        sa.CheckConstraint(
            cols.optional_in("team_score", PROGRESS_SCORES), name="ck_progress_scores_team_score"
        ),
        sa.CheckConstraint(
            cols.optional_in("lead_score", PROGRESS_SCORES), name="ck_progress_scores_lead_score"
        ),
        *_fks("progress_scores", ("team_id", "teams")),
    )

    op.create_table(
        "reflections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("authors", sa.Text(), nullable=True),
        sa.Column("what_happened", sa.Text(), nullable=True),
        sa.Column("what_worked", sa.Text(), nullable=True),
        sa.Column("what_did_not", sa.Text(), nullable=True),
        sa.Column("what_should_change", sa.Text(), nullable=True),
        sa.Column("learning_level", sa.String(16), nullable=True),
        sa.Column("bright_spot", sa.Boolean(), nullable=False),
        sa.Column("story", sa.Text(), nullable=True),
        sa.Column("generalisable", sa.Boolean(), nullable=False),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_reflections"),
        sa.CheckConstraint(
            cols.optional_in("learning_level", LEARNING_LEVELS), name="ck_reflections_learning_level"
        ),
        *_fks("reflections", ("team_id", "teams")),
    )
    op.create_index("ix_reflections_team_id_date", "reflections", ["team_id", "date"])

    op.create_table(
        "aim_measures",
        sa.Column("aim_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("aim_id", "measure_id", name="pk_aim_measures"),
        *_fks("aim_measures", ("aim_id", "aims", "CASCADE"), ("measure_id", "measures")),
    )

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("data_quality", sa.String(16), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_observations"),
        sa.UniqueConstraint(
            "team_id", "measure_id", "period", name="uq_observations_team_id_measure_id_period"
        ),
        sa.CheckConstraint(
            cols.in_("data_quality", DATA_QUALITY_FLAGS), name="ck_observations_data_quality"
        ),
        sa.CheckConstraint(
            "numerator IS NULL OR numerator >= 0", name="ck_observations_numerator_not_negative"
        ),
        sa.CheckConstraint(
            "denominator IS NULL OR denominator >= 0",
            name="ck_observations_denominator_not_negative",
        ),
        *_fks("observations", ("team_id", "teams"), ("measure_id", "measures")),
    )
    op.create_index("ix_observations_measure_id_period", "observations", ["measure_id", "period"])

    op.create_table(
        "pdsa_cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("change_idea_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("plan_question", sa.Text(), nullable=True),
        sa.Column("prediction", sa.Text(), nullable=True),
        sa.Column("plan_date", sa.Date(), nullable=True),
        sa.Column("do_start", sa.Date(), nullable=True),
        sa.Column("do_notes", sa.Text(), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("study_result", sa.Text(), nullable=True),
        sa.Column("act", sa.String(16), nullable=True),
        sa.Column("act_date", sa.Date(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_pdsa_cycles"),
        sa.CheckConstraint(cols.optional_in("act", PDSA_ACTS), name="ck_pdsa_cycles_act"),
        *_fks("pdsa_cycles", ("team_id", "teams"), ("change_idea_id", "driver_nodes")),
    )
    op.create_index("ix_pdsa_cycles_team_id", "pdsa_cycles", ["team_id"])

    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column("pdsa_id", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        *cols.versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_annotations"),
        sa.CheckConstraint(cols.in_("kind", ANNOTATION_KINDS), name="ck_annotations_kind"),
        sa.CheckConstraint(
            "NOT (kind IN ('rebase')) OR (reason IS NOT NULL AND reason <> '')",
            name="ck_annotations_reason_required",
        ),
        *_fks(
            "annotations",
            ("team_id", "teams"),
            ("measure_id", "measures"),
            ("pdsa_id", "pdsa_cycles", "SET NULL"),
        ),
    )
    op.create_index("ix_annotations_team_id_date", "annotations", ["team_id", "date"])

    op.create_table(
        "observation_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("old_value", sa.String(100), nullable=True),
        sa.Column("new_value", sa.String(100), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_observation_edits"),
        *_fks("observation_edits", ("observation_id", "observations")),
    )
    op.create_index("ix_observation_edits_observation_id", "observation_edits", ["observation_id"])

    op.create_table(
        "pdsa_measures",
        sa.Column("pdsa_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pdsa_id", "measure_id", name="pk_pdsa_measures"),
        *_fks("pdsa_measures", ("pdsa_id", "pdsa_cycles", "CASCADE"), ("measure_id", "measures")),
    )


def downgrade() -> None:
    for table in (
        "pdsa_measures",
        "observation_edits",
        "annotations",
        "pdsa_cycles",
        "observations",
        "aim_measures",
        "reflections",
        "progress_scores",
        "health_checks",
        "measures",
        "driver_nodes",
        "aims",
        "teams",
        "programmes",
    ):
        op.drop_table(table)
