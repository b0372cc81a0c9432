"""safety: ONVIF device information of cameras; outage events told by the worker

Revision ID: 0029_safety_onvif_outage_events
Revises: 0028_wifi_radius_functions
Create Date: 2026-12-01 02:07:30.396474
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0029_safety_onvif_outage_events"
down_revision: str | None = "0028_wifi_radius_functions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safety_outage_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "outage_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fanned_out_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "event IN ('opened', 'closed')", name=op.f("ck_safety_outage_events_event")
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["safety_outages.id"],
            name=op.f("fk_safety_outage_events_outage_id_safety_outages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_outage_events")),
        sa.UniqueConstraint(
            "outage_id", "event", name=op.f("uq_safety_outage_events_outage_id_event")
        ),
    )
    with op.batch_alter_table("safety_outage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_safety_outage_events_fan_out", ["fanned_out_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_safety_outage_events_outage_id"), ["outage_id"], unique=False
        )

    with op.batch_alter_table("safety_cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("onvif_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("device_manufacturer", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("device_model", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("device_firmware", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("device_serial", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "device_checked_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("device_error", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safety_cameras", schema=None) as batch_op:
        batch_op.drop_column("device_error")
        batch_op.drop_column("device_checked_at")
        batch_op.drop_column("device_serial")
        batch_op.drop_column("device_firmware")
        batch_op.drop_column("device_model")
        batch_op.drop_column("device_manufacturer")
        batch_op.drop_column("onvif_url")

    with op.batch_alter_table("safety_outage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_outage_events_outage_id"))
        batch_op.drop_index("ix_safety_outage_events_fan_out")

    op.drop_table("safety_outage_events")
