"""health: the reason the registry gave for cancelling an appointment

Revision ID: 0016_appointment_cancel_reason
Revises: 0015_specialty_sex
Create Date: 2026-11-30 15:00:00.000000

Null for appointments cancelled without one (by the patient, or before it was asked); a
plain ADD COLUMN needs no table rebuild on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_appointment_cancel_reason"
down_revision: str | None = "0015_specialty_sex"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("appointments", sa.Column("cancel_reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    op.drop_column("appointments", "cancel_reason")
