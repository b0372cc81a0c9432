"""education: directory and the kindergarten queue

Revision ID: 0014_education_kindergarten
Revises: 0013_exam_results
Create Date: 2026-11-30 13:48:01.097247

Schools with their buildings, kindergartens with their age groups' places per school
year, the school territory table; kindergarten applications (one active per child: a
partial unique index), their chosen kindergartens, the positions parents were shown,
allocation runs and offers (one open offer per application).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0014_education_kindergarten"
down_revision: str | None = "0013_exam_results"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kindergarten_allocation_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_for", sa.Date(), nullable=False),
        sa.Column(
            "started_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["started_by"],
            ["users.id"],
            name=op.f("fk_kindergarten_allocation_runs_started_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kindergarten_allocation_runs")),
    )
    op.create_table(
        "kindergarten_applications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("child_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "guardian_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("child_birth_date", sa.Date(), nullable=False),
        sa.Column("age_group", sa.Integer(), nullable=False),
        sa.Column("desired_start", sa.Date(), nullable=False),
        sa.Column("benefit", sa.String(length=16), nullable=False),
        sa.Column("benefit_document", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["persons.id"], name=op.f("fk_kindergarten_applications_child_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["guardian_user_id"],
            ["users.id"],
            name=op.f("fk_kindergarten_applications_guardian_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kindergarten_applications")),
    )
    with op.batch_alter_table("kindergarten_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kindergarten_applications_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kindergarten_applications_guardian_user_id"),
            ["guardian_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_kindergarten_applications_status"), ["status"], unique=False
        )
        batch_op.create_index(
            "uq_kindergarten_applications_active_child",
            ["child_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'offered')"),
            sqlite_where=sa.text("status IN ('queued', 'offered')"),
        )

    op.create_table(
        "kindergartens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["organisations.id"], name=op.f("fk_kindergartens_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kindergartens")),
    )
    op.create_table(
        "schools",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["organisations.id"], name=op.f("fk_schools_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
    )
    op.create_table(
        "kindergarten_choices",
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "kindergarten_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seen_position", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["kindergarten_applications.id"],
            name=op.f("fk_kindergarten_choices_application_id_kindergarten_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["kindergarten_id"],
            ["kindergartens.id"],
            name=op.f("fk_kindergarten_choices_kindergarten_id_kindergartens"),
        ),
        sa.PrimaryKeyConstraint("application_id", "rank", name=op.f("pk_kindergarten_choices")),
        sa.UniqueConstraint(
            "application_id",
            "kindergarten_id",
            name=op.f("uq_kindergarten_choices_application_id_kindergarten_id"),
        ),
    )
    with op.batch_alter_table("kindergarten_choices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kindergarten_choices_kindergarten_id"), ["kindergarten_id"], unique=False
        )

    op.create_table(
        "kindergarten_groups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "kindergarten_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("age_group", sa.Integer(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("free_places", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "free_places >= 0 AND free_places <= places",
            name=op.f("ck_kindergarten_groups_free_places"),
        ),
        sa.ForeignKeyConstraint(
            ["kindergarten_id"],
            ["kindergartens.id"],
            name=op.f("fk_kindergarten_groups_kindergarten_id_kindergartens"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kindergarten_groups")),
        sa.UniqueConstraint(
            "kindergarten_id",
            "year",
            "age_group",
            name=op.f("uq_kindergarten_groups_kindergarten_id_year_age_group"),
        ),
    )
    with op.batch_alter_table("kindergarten_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kindergarten_groups_kindergarten_id"), ["kindergarten_id"], unique=False
        )

    op.create_table(
        "kindergarten_position_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kindergarten_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("old_position", sa.Integer(), nullable=False),
        sa.Column("new_position", sa.Integer(), nullable=False),
        sa.Column("noticed_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["kindergarten_applications.id"],
            name=op.f("fk_kindergarten_position_changes_application_id_kindergarten_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["kindergarten_id"],
            ["kindergartens.id"],
            name=op.f("fk_kindergarten_position_changes_kindergarten_id_kindergartens"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kindergarten_position_changes")),
    )
    with op.batch_alter_table("kindergarten_position_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kindergarten_position_changes_application_id"),
            ["application_id"],
            unique=False,
        )

    op.create_table(
        "school_buildings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_school_buildings_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_buildings")),
        sa.UniqueConstraint(
            "school_id", "address", name=op.f("uq_school_buildings_school_id_address")
        ),
    )
    with op.batch_alter_table("school_buildings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_school_buildings_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "school_territory",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("address_key", sa.String(length=500), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_school_territory_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_territory")),
        sa.UniqueConstraint("address_key", name=op.f("uq_school_territory_address_key")),
    )
    with op.batch_alter_table("school_territory", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_school_territory_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "kindergarten_offers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("offered_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["kindergarten_applications.id"],
            name=op.f("fk_kindergarten_offers_application_id_kindergarten_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["kindergarten_groups.id"],
            name=op.f("fk_kindergarten_offers_group_id_kindergarten_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["kindergarten_allocation_runs.id"],
            name=op.f("fk_kindergarten_offers_run_id_kindergarten_allocation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kindergarten_offers")),
    )
    with op.batch_alter_table("kindergarten_offers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kindergarten_offers_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kindergarten_offers_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kindergarten_offers_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            "ix_kindergarten_offers_status_expires", ["status", "expires_on"], unique=False
        )
        batch_op.create_index(
            "uq_kindergarten_offers_open",
            ["application_id"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("kindergarten_offers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_kindergarten_offers_open",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index("ix_kindergarten_offers_status_expires")
        batch_op.drop_index(batch_op.f("ix_kindergarten_offers_run_id"))
        batch_op.drop_index(batch_op.f("ix_kindergarten_offers_group_id"))
        batch_op.drop_index(batch_op.f("ix_kindergarten_offers_application_id"))

    op.drop_table("kindergarten_offers")
    with op.batch_alter_table("school_territory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_territory_school_id"))

    op.drop_table("school_territory")
    with op.batch_alter_table("school_buildings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_buildings_school_id"))

    op.drop_table("school_buildings")
    with op.batch_alter_table("kindergarten_position_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kindergarten_position_changes_application_id"))

    op.drop_table("kindergarten_position_changes")
    with op.batch_alter_table("kindergarten_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kindergarten_groups_kindergarten_id"))

    op.drop_table("kindergarten_groups")
    with op.batch_alter_table("kindergarten_choices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kindergarten_choices_kindergarten_id"))

    op.drop_table("kindergarten_choices")
    op.drop_table("schools")
    op.drop_table("kindergartens")
    with op.batch_alter_table("kindergarten_applications", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_kindergarten_applications_active_child",
            postgresql_where=sa.text("status IN ('queued', 'offered')"),
            sqlite_where=sa.text("status IN ('queued', 'offered')"),
        )
        batch_op.drop_index(batch_op.f("ix_kindergarten_applications_status"))
        batch_op.drop_index(batch_op.f("ix_kindergarten_applications_guardian_user_id"))
        batch_op.drop_index(batch_op.f("ix_kindergarten_applications_child_id"))

    op.drop_table("kindergarten_applications")
    op.drop_table("kindergarten_allocation_runs")
