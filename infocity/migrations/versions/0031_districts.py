"""health: districts — the district a doctor's post serves and a patient's district

Revision ID: 0031_districts
Revises: 0030_slots_free_search_by_clinic
Create Date: 2026-12-01 05:00:00.000000

A polyclinic divides its patients into numbered districts, each served by a district
doctor (a therapist, or a paediatrician in a children's polyclinic). The patient's own
district doctor is offered first when they book. Both columns are optional: a post that
serves no district, a patient whose district is not yet known.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_districts"
down_revision: str | None = "0030_slots_free_search_by_clinic"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("district", sa.Integer(), nullable=True))
    with op.batch_alter_table("clinic_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("district", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clinic_attachments", schema=None) as batch_op:
        batch_op.drop_column("district")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_column("district")
