"""cards: daily digests sent to representatives

Revision ID: 0026_cards_daily_digests
Revises: 0025_safety_cameras
Create Date: 2026-11-30 18:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0026_cards_daily_digests"
down_revision: str | None = "0025_safety_cameras"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_digests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "representative_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["card_representatives.id"],
            name=op.f("fk_card_digests_representative_id_card_representatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_digests")),
        sa.UniqueConstraint(
            "representative_id", "day", name=op.f("uq_card_digests_representative_id_day")
        ),
    )
    with op.batch_alter_table("card_digests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_card_digests_representative_id"), ["representative_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("card_digests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_digests_representative_id"))
    op.drop_table("card_digests")
