"""Column builders the Alembic migrations share (``store/migrations/versions/*.py``).

A migration must build the same schema for ever, so these helpers never change what they
build: a new shape of column gets a new helper. They write plain SQLAlchemy ``Column`` and
constraint text, the same as each migration wrote for itself before (0001 to 0006).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["fk", "in_", "optional_in", "signed", "versioned"]


def in_(column: str, values) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def optional_in(column: str, values) -> str:
    """A CHECK constraint's text: ``column`` is empty or holds one of ``values``."""
    return f"{column} IS NULL OR {in_(column, values)}"


def versioned() -> list[sa.Column]:
    """The version counter and timestamps of every versioned record."""
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def fk(name: str, table: str, target: str, ondelete: str, *, nullable: bool = True) -> sa.Column:
    """An integer column ``name`` of ``table`` referring to ``target.id``, with a named key."""
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{name}_{target}"),
        nullable=nullable,
    )


def signed(table: str) -> sa.Column:
    """Who last changed a record of ``table`` (kept when the person is removed: set null)."""
    return fk("updated_by_id", table, "people", "SET NULL")
