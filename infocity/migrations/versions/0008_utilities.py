"""housing: operators' bank details for the bills' payment QR codes; readings reminders

Revision ID: 0008_utilities
Revises: 0007_abuse_sessions
Create Date: 2026-11-30 12:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0008_utilities"
down_revision: str | None = "0007_abuse_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_bank_details",
        sa.Column(
            "organisation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("personal_account", sa.String(length=20), nullable=False),
        sa.Column("bank_name", sa.String(length=160), nullable=False),
        sa.Column("bic", sa.String(length=9), nullable=False),
        sa.Column("correspondent_account", sa.String(length=20), nullable=False),
        sa.Column("inn", sa.String(length=12), nullable=False),
        sa.Column("updated_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_operator_bank_details_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_operator_bank_details")),
    )
    op.create_table(
        "reading_reminders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "apartment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("sent_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["apartment_id"],
            ["apartments.id"],
            name=op.f("fk_reading_reminders_apartment_id_apartments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_reminders")),
        sa.UniqueConstraint(
            "apartment_id", "period", name=op.f("uq_reading_reminders_apartment_id_period")
        ),
    )


def downgrade() -> None:
    op.drop_table("reading_reminders")
    op.drop_table("operator_bank_details")
