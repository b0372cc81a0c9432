"""housing: operators' bank details for the bills' payment QR codes; readings reminders;
service requests' history, photos, closing time and rating

Revision ID: 0009_utilities
Revises: 0008_notices
Create Date: 2026-11-30 12:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0009_utilities"
down_revision: str | None = "0008_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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
    with op.batch_alter_table("housing_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("rated_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Requests closed before this revision: their last update was the closing.
    op.execute("UPDATE housing_requests SET closed_at = updated_at WHERE status = 'closed'")
    op.create_table(
        "housing_request_events",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("request_id", BIG, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("by_user_id", BIG, nullable=True),
        sa.Column("at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_housing_request_events_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["housing_requests.id"],
            name=op.f("fk_housing_request_events_request_id_housing_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_request_events")),
    )
    with op.batch_alter_table("housing_request_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_housing_request_events_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "housing_request_photos",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("request_id", BIG, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by_user_id", BIG, nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["housing_requests.id"],
            name=op.f("fk_housing_request_photos_request_id_housing_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["users.id"],
            name=op.f("fk_housing_request_photos_uploaded_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_request_photos")),
    )
    with op.batch_alter_table("housing_request_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_housing_request_photos_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("housing_request_photos")
    op.drop_table("housing_request_events")
    with op.batch_alter_table("housing_requests", schema=None) as batch_op:
        batch_op.drop_column("rated_at")
        batch_op.drop_column("rating")
        batch_op.drop_column("closed_at")
    op.drop_table("reading_reminders")
    op.drop_table("operator_bank_details")
