"""accounts: a person's sex (persons.sex), published in person_facts

Revision ID: 0012_person_sex
Revises: 0011_patient_overlap
Create Date: 2026-11-30 14:00:00.000000

``sex`` is female, male or null: people registered before it was asked have not stated
it. The view is created again with the new column last (so PostgreSQL could also have
replaced it in place); a plain ADD COLUMN needs no table rebuild on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_person_sex"
down_revision: str | None = "0011_patient_overlap"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared for SQLAlchemy in infocity/accounts/read_model.py; the columns must agree.
PERSON_FACTS = """CREATE VIEW person_facts AS
SELECT persons.id AS person_id, persons.oms_policy, persons.birth_date, persons.first_name,
    persons.sex
FROM persons"""

PERSON_FACTS_BEFORE = """CREATE VIEW person_facts AS
SELECT persons.id AS person_id, persons.oms_policy, persons.birth_date, persons.first_name
FROM persons"""


def upgrade() -> None:
    op.add_column("persons", sa.Column("sex", sa.String(length=6), nullable=True))
    op.execute("DROP VIEW person_facts")
    op.execute(PERSON_FACTS)


def downgrade() -> None:
    op.execute("DROP VIEW person_facts")
    op.execute(PERSON_FACTS_BEFORE)
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("sex")
