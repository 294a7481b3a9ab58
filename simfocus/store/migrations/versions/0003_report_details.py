"""reports: analytics and details (citations, timings, cost of the writing)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("analytics", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("details", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("details")
        batch.drop_column("analytics")
