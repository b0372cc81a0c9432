"""accounts: contact verification; outbox: expiry of secret links

Revision ID: 0007_abuse_sessions
Revises: 0006
Create Date: 2026-11-30 11:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0007_abuse_sessions"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verified_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Accounts made before verification existed keep acting as they did.
    op.execute("UPDATE users SET verified_at = created_at")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "contact_verifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_contact_verifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_verifications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_contact_verifications_token_hash")),
    )
    with op.batch_alter_table("contact_verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_verifications_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_verifications_user_id"))
    op.drop_table("contact_verifications")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("verified_at")
