"""cards: subsidised meals revoked by the school; the allowance's part of a meal order

Revision ID: 0034_cards_subsidy_revocation
Revises: 0033_wifi_radius_one_lookup
Create Date: 2026-12-01 10:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0034_cards_subsidy_revocation"
down_revision: str | None = "0033_wifi_radius_one_lookup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("card_subsidies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", _ID, nullable=True))
        batch_op.add_column(
            sa.Column("revoked_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_card_subsidies_revoked_by_users"), "users", ["revoked_by"], ["id"]
        )

    with op.batch_alter_table("card_meal_orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("subsidy_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_card_meal_orders_subsidy_id_card_subsidies"),
            "card_subsidies",
            ["subsidy_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_card_meal_orders_subsidy"), "subsidy >= 0 AND subsidy <= amount"
        )


def downgrade() -> None:
    with op.batch_alter_table("card_meal_orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_card_meal_orders_subsidy"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_card_meal_orders_subsidy_id_card_subsidies"), type_="foreignkey"
        )
        batch_op.drop_column("subsidy_id")
        batch_op.drop_column("subsidy")

    with op.batch_alter_table("card_subsidies", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_card_subsidies_revoked_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_from")
