"""cards: school menus, subsidised meals, meal pre-orders

Revision ID: 0027_cards_meals
Revises: 0026_cards_digests_auto_top_ups
Create Date: 2026-12-01 02:08:05.727665
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0027_cards_meals"
down_revision: str | None = "0026_cards_digests_auto_top_ups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_menu_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column(
            "published_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('hot_meal', 'bakery', 'sweets', 'drinks', 'fruit', 'snacks')",
            name=op.f("ck_card_menu_items_category"),
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_card_menu_items_price")),
        sa.ForeignKeyConstraint(
            ["published_by"], ["users.id"], name=op.f("fk_card_menu_items_published_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["organisations.id"],
            name=op.f("fk_card_menu_items_school_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_menu_items")),
    )
    with op.batch_alter_table("card_menu_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_menu_items_school_day", ["school_id", "day", "position"], unique=False
        )

    op.create_table(
        "card_subsidies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("pupil_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("daily_amount", sa.BigInteger(), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column(
            "granted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("daily_amount > 0", name=op.f("ck_card_subsidies_daily_amount")),
        sa.CheckConstraint("ends >= starts", name=op.f("ck_card_subsidies_period")),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_card_subsidies_granted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"], ["card_pupils.id"], name=op.f("fk_card_subsidies_pupil_id_card_pupils")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["organisations.id"],
            name=op.f("fk_card_subsidies_school_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_subsidies")),
    )
    with op.batch_alter_table("card_subsidies", schema=None) as batch_op:
        batch_op.create_index("ix_card_subsidies_pupil", ["pupil_id", "starts"], unique=False)

    op.create_table(
        "card_subsidy_days",
        sa.Column(
            "subsidy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_card_subsidy_days_used")),
        sa.ForeignKeyConstraint(
            ["subsidy_id"],
            ["card_subsidies.id"],
            name=op.f("fk_card_subsidy_days_subsidy_id_card_subsidies"),
        ),
        sa.PrimaryKeyConstraint("subsidy_id", "day", name=op.f("pk_card_subsidy_days")),
    )
    op.create_table(
        "card_meal_orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("pupil_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "ordered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('paid', 'served', 'cancelled')", name=op.f("ck_card_meal_orders_state")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_card_meal_orders_amount")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["card_events.id"], name=op.f("fk_card_meal_orders_event_id_card_events")
        ),
        sa.ForeignKeyConstraint(
            ["ordered_by"], ["users.id"], name=op.f("fk_card_meal_orders_ordered_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"], ["card_pupils.id"], name=op.f("fk_card_meal_orders_pupil_id_card_pupils")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["organisations.id"],
            name=op.f("fk_card_meal_orders_school_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_meal_orders")),
    )
    with op.batch_alter_table("card_meal_orders", schema=None) as batch_op:
        batch_op.create_index("ix_card_meal_orders_pupil_day", ["pupil_id", "day"], unique=False)

    with op.batch_alter_table("card_ledger", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("card_ledger", schema=None) as batch_op:
        batch_op.drop_column("subsidy")

    with op.batch_alter_table("card_meal_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_card_meal_orders_pupil_day")

    op.drop_table("card_meal_orders")
    op.drop_table("card_subsidy_days")
    with op.batch_alter_table("card_subsidies", schema=None) as batch_op:
        batch_op.drop_index("ix_card_subsidies_pupil")

    op.drop_table("card_subsidies")
    with op.batch_alter_table("card_menu_items", schema=None) as batch_op:
        batch_op.drop_index("ix_card_menu_items_school_day")

    op.drop_table("card_menu_items")
