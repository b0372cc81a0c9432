"""core: the demo mailbox

Revision ID: 0008_notices
Revises: 0007_abuse_sessions
Create Date: 2026-11-30 12:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0008_notices"
down_revision: str | None = "0007_abuse_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demo_mailbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("outbox_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=2048), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_mailbox")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_demo_mailbox_outbox_id")),
    )
    with op.batch_alter_table("demo_mailbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_demo_mailbox_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("demo_mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_demo_mailbox_created_at"))
    op.drop_table("demo_mailbox")
