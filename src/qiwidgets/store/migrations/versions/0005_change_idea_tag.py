"""A change idea's shared name (``driver_nodes.idea_tag``): the programme's change-idea
library groups the ideas of different teams by it, when teams word the same idea differently;
empty means by the idea's text.

Revision ID: 0005_change_idea_tag
Revises: 0004_learning_practice
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_change_idea_tag"
down_revision = "0004_learning_practice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("driver_nodes") as batch:
        batch.add_column(sa.Column("idea_tag", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("driver_nodes") as batch:
        batch.drop_column("idea_tag")
