"""connectivity: the statistics' roll-up by city day (hotspots, networks)

Revision ID: 0032_wifi_statistics_roll_up
Revises: 0031_districts
Create Date: 2026-12-01 05:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0032_wifi_statistics_roll_up"
down_revision: str | None = "0031_districts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "wifi_rolled_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_wifi_rolled_days")),
    )
    op.create_table(
        "wifi_network_days",
        sa.Column("network_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("peak_concurrent", sa.Integer(), nullable=False),
        sa.Column("unique_devices", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["wifi_networks.id"],
            name=op.f("fk_wifi_network_days_network_id_wifi_networks"),
        ),
        sa.PrimaryKeyConstraint("network_id", "day", name=op.f("pk_wifi_network_days")),
    )
    op.create_table(
        "wifi_hotspot_days",
        sa.Column("hotspot_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("peak_concurrent", sa.Integer(), nullable=False),
        sa.Column("unique_devices", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hotspot_id"],
            ["wifi_hotspots.id"],
            name=op.f("fk_wifi_hotspot_days_hotspot_id_wifi_hotspots"),
        ),
        sa.PrimaryKeyConstraint("hotspot_id", "day", name=op.f("pk_wifi_hotspot_days")),
    )


def downgrade() -> None:
    op.drop_table("wifi_hotspot_days")
    op.drop_table("wifi_network_days")
    op.drop_table("wifi_rolled_days")
