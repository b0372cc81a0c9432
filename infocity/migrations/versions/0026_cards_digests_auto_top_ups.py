"""cards: daily digests sent to representatives; automatic top-up rules and requests

Revision ID: 0026_cards_digests_auto_top_ups
Revises: 0025_safety_cameras
Create Date: 2026-11-30 18:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0026_cards_digests_auto_top_ups"
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

    with op.batch_alter_table("card_pupils", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_top_up_below", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("auto_top_up_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("auto_top_up_period", sa.String(length=8), nullable=True))

    op.create_table(
        "card_auto_top_ups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("pupil_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "period IN ('day', 'week', 'month')", name=op.f("ck_card_auto_top_ups_period")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'settled')", name=op.f("ck_card_auto_top_ups_state")
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["card_pupils.id"],
            name=op.f("fk_card_auto_top_ups_pupil_id_card_pupils"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_auto_top_ups")),
        sa.UniqueConstraint("reference", name=op.f("uq_card_auto_top_ups_reference")),
        sa.UniqueConstraint(
            "pupil_id",
            "period",
            "period_start",
            name=op.f("uq_card_auto_top_ups_pupil_id_period_period_start"),
        ),
    )


def downgrade() -> None:
    op.drop_table("card_auto_top_ups")
    with op.batch_alter_table("card_pupils", schema=None) as batch_op:
        batch_op.drop_column("auto_top_up_period")
        batch_op.drop_column("auto_top_up_amount")
        batch_op.drop_column("auto_top_up_below")
    with op.batch_alter_table("card_digests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_digests_representative_id"))
    op.drop_table("card_digests")
