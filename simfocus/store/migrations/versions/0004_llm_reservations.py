"""llm_reservations: the gateway's journal of calls in flight

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_reservations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("discussion_id", sa.String(length=36), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_reservations")),
    )


def downgrade() -> None:
    op.drop_table("llm_reservations")
