"""health: the last day the hourly job planned each practitioner's slots up to

Revision ID: 0036_health_slots_until
Revises: 0035_cards_subsidy_notices
Create Date: 2026-12-01 16:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_health_slots_until"
down_revision: str | None = "0035_cards_subsidy_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for every existing practitioner: the job's first run after this plans the
    # whole horizon once, as it did every hour before, and only new days from then on.
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slots_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_column("slots_until")
