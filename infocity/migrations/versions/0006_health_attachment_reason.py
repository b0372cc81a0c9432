"""health: attachment reason and new address

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 01:13:48.284504
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinic_attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reason", sa.String(length=16), server_default="yearly", nullable=False)
        )
        batch_op.add_column(sa.Column("new_address", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clinic_attachments", schema=None) as batch_op:
        batch_op.drop_column("new_address")
        batch_op.drop_column("reason")
