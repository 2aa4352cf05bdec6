"""A measure's governing rule set: the one rule set its verdict (icons and reading) uses on
every screen. Empty means the default for its chart type (Making Data Count for an XmR chart,
Anhøj's rules otherwise; qiwidgets.workbook.measures.rule_set_for).

Revision ID: 0002_measure_rule_set
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_measure_rule_set"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

#: The rule sets as they were at this revision (a migration is a snapshot).
RULE_SETS = ("anhoej", "ihi", "mdc")


def upgrade() -> None:
    allowed = ", ".join(repr(v) for v in RULE_SETS)
    with op.batch_alter_table("measures") as batch:
        batch.add_column(sa.Column("rule_set", sa.String(16), nullable=True))
        batch.create_check_constraint("rule_set", f"rule_set IS NULL OR rule_set IN ({allowed})")


def downgrade() -> None:
    with op.batch_alter_table("measures") as batch:
        batch.drop_constraint("rule_set", type_="check")
        batch.drop_column("rule_set")
