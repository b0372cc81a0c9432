"""outbox: SMS delivery reports

Revision ID: 0018_outbox_sms_delivery_reports
Revises: 0017_education_first_grade
Create Date: 2026-11-30 17:03:11.369404

An SMS's outbox row keeps the gateway's latest delivery report (accepted, buffered,
delivered, failed), when the network made it, and the SMSC's own words.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0018_outbox_sms_delivery_reports"
down_revision: str | None = "0017_education_first_grade"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("reported_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("report_detail", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("report_detail")
        batch_op.drop_column("reported_at")
        batch_op.drop_column("report")
