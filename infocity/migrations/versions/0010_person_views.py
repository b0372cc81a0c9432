"""accounts: the register's read model for other services (person_facts, person_contacts)

Revision ID: 0010_person_views
Revises: 0009_utilities
Create Date: 2026-11-30 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_person_views"
down_revision: str | None = "0009_utilities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared for SQLAlchemy in infocity/accounts/read_model.py; the columns must agree.
# A later migration that rebuilds persons, users or family_links on SQLite (batch mode
# copies and renames the table) drops these views first and creates them again.
PERSON_FACTS = """CREATE VIEW person_facts AS
SELECT persons.id AS person_id, persons.oms_policy, persons.birth_date, persons.first_name
FROM persons"""

# Who hears about a person: their own active account and their guardians' (UNION ALL:
# no account is both; a filter on person_id reaches each branch's index).
PERSON_CONTACTS = """CREATE VIEW person_contacts AS
SELECT users.person_id AS person_id, users.id AS user_id
FROM users WHERE users.is_active AND users.person_id IS NOT NULL
UNION ALL
SELECT family_links.child_id AS person_id, users.id AS user_id
FROM family_links JOIN users ON users.person_id = family_links.guardian_id
WHERE users.is_active"""


def upgrade() -> None:
    op.execute(PERSON_FACTS)
    op.execute(PERSON_CONTACTS)


def downgrade() -> None:
    op.execute("DROP VIEW person_contacts")
    op.execute("DROP VIEW person_facts")
