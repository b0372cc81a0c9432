"""health: a specialty may see patients of one sex only (specialties.sex)

Revision ID: 0015_specialty_sex
Revises: 0014_education_kindergarten
Create Date: 2026-11-30 14:40:00.000000

``sex`` is female, male or null (both). Obstetrics-gynaecology sees women; urology sees
everyone. A plain ADD COLUMN needs no table rebuild on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_specialty_sex"
down_revision: str | None = "0014_education_kindergarten"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("specialties", sa.Column("sex", sa.String(length=6), nullable=True))
    op.execute("UPDATE specialties SET sex = 'female' WHERE code = 'obstetrician_gynaecologist'")


def downgrade() -> None:
    with op.batch_alter_table("specialties") as batch:
        batch.drop_column("sex")
