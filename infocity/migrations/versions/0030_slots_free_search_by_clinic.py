"""slots: the free-slot search ordered by (starts_at, id), and by polyclinic

Revision ID: 0030_slots_free_search_by_clinic
Revises: 0029_safety_onvif_outage_events
Create Date: 2026-12-01 02:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_slots_free_search_by_clinic"
down_revision: str | None = "0029_safety_onvif_outage_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FREE = sa.text("status = 'free'")


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index("ix_slots_free_search")
        batch_op.create_index(
            "ix_slots_free_search",
            ["specialty_id", "starts_at", "id"],
            unique=False,
            sqlite_where=FREE,
            postgresql_where=FREE,
        )
        batch_op.create_index(
            "ix_slots_free_by_clinic",
            ["specialty_id", "clinic_id", "starts_at", "id"],
            unique=False,
            sqlite_where=FREE,
            postgresql_where=FREE,
        )


def downgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index("ix_slots_free_by_clinic")
        batch_op.drop_index("ix_slots_free_search")
        batch_op.create_index(
            "ix_slots_free_search",
            ["specialty_id", "starts_at", "clinic_id"],
            unique=False,
            sqlite_where=FREE,
            postgresql_where=FREE,
        )
