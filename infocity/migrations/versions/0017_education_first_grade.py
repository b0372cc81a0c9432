"""education: first-grade enrolment

Revision ID: 0017_education_first_grade
Revises: 0016_appointment_cancel_reason
Create Date: 2026-11-30 15:00:23.960758

First-grade campaigns (one per school year: the phases' dates and decision terms), each
school's first-grade places (free places never below 0), applications (one active per
child: a partial unique index) with their chosen schools, and allocation runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0017_education_first_grade"
down_revision: str | None = "0016_appointment_cancel_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "first_grade_campaigns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("phase_1_opens", sa.Date(), nullable=False),
        sa.Column("phase_1_closes", sa.Date(), nullable=False),
        sa.Column("phase_2_opens", sa.Date(), nullable=False),
        sa.Column("phase_2_closes", sa.Date(), nullable=False),
        sa.Column("phase_1_decision_days", sa.Integer(), nullable=False),
        sa.Column("phase_2_decision_days", sa.Integer(), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_grade_campaigns")),
        sa.UniqueConstraint("year", name=op.f("uq_first_grade_campaigns_year")),
    )
    op.create_table(
        "first_grade_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column(
            "started_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("created_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["first_grade_campaigns.id"],
            name=op.f("fk_first_grade_runs_campaign_id_first_grade_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["started_by"], ["users.id"], name=op.f("fk_first_grade_runs_started_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_grade_runs")),
    )
    with op.batch_alter_table("first_grade_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_first_grade_runs_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "first_grade_applications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("child_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "guardian_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("child_birth_date", sa.Date(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("age_permission", sa.String(length=300), nullable=True),
        sa.Column(
            "sibling_school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sibling_name", sa.String(length=200), nullable=True),
        sa.Column("priority_document", sa.String(length=300), nullable=True),
        sa.Column("home_address", sa.String(length=500), nullable=True),
        sa.Column(
            "territory_school_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("refusal_reason", sa.String(length=32), nullable=True),
        sa.Column("applied_at", infocity.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decide_by", sa.Date(), nullable=False),
        sa.Column("decided_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "documents_confirmed_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["first_grade_campaigns.id"],
            name=op.f("fk_first_grade_applications_campaign_id_first_grade_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["persons.id"], name=op.f("fk_first_grade_applications_child_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["guardian_user_id"],
            ["users.id"],
            name=op.f("fk_first_grade_applications_guardian_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_first_grade_applications_school_id_schools"),
        ),
        sa.ForeignKeyConstraint(
            ["sibling_school_id"],
            ["schools.id"],
            name=op.f("fk_first_grade_applications_sibling_school_id_schools"),
        ),
        sa.ForeignKeyConstraint(
            ["territory_school_id"],
            ["schools.id"],
            name=op.f("fk_first_grade_applications_territory_school_id_schools"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_grade_applications")),
    )
    with op.batch_alter_table("first_grade_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_first_grade_applications_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_first_grade_applications_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_first_grade_applications_guardian_user_id"),
            ["guardian_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_first_grade_applications_school_id"), ["school_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_first_grade_applications_status"), ["status"], unique=False
        )
        batch_op.create_index(
            "uq_first_grade_applications_active_child",
            ["child_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('submitted', 'admitted', 'enrolled')"),
            sqlite_where=sa.text("status IN ('submitted', 'admitted', 'enrolled')"),
        )

    op.create_table(
        "first_grade_places",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("free_places", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "free_places >= 0 AND free_places <= places",
            name=op.f("ck_first_grade_places_first_grade_free_places"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["first_grade_campaigns.id"],
            name=op.f("fk_first_grade_places_campaign_id_first_grade_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_first_grade_places_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_grade_places")),
        sa.UniqueConstraint(
            "campaign_id", "school_id", name=op.f("uq_first_grade_places_campaign_id_school_id")
        ),
    )
    with op.batch_alter_table("first_grade_places", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_first_grade_places_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_first_grade_places_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "first_grade_choices",
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["first_grade_applications.id"],
            name=op.f("fk_first_grade_choices_application_id_first_grade_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_first_grade_choices_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("application_id", "rank", name=op.f("pk_first_grade_choices")),
        sa.UniqueConstraint(
            "application_id",
            "school_id",
            name=op.f("uq_first_grade_choices_application_id_school_id"),
        ),
    )
    with op.batch_alter_table("first_grade_choices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_first_grade_choices_school_id"), ["school_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("first_grade_choices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_first_grade_choices_school_id"))

    op.drop_table("first_grade_choices")
    with op.batch_alter_table("first_grade_places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_first_grade_places_school_id"))
        batch_op.drop_index(batch_op.f("ix_first_grade_places_campaign_id"))

    op.drop_table("first_grade_places")
    with op.batch_alter_table("first_grade_applications", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_first_grade_applications_active_child",
            postgresql_where=sa.text("status IN ('submitted', 'admitted', 'enrolled')"),
            sqlite_where=sa.text("status IN ('submitted', 'admitted', 'enrolled')"),
        )
        batch_op.drop_index(batch_op.f("ix_first_grade_applications_status"))
        batch_op.drop_index(batch_op.f("ix_first_grade_applications_school_id"))
        batch_op.drop_index(batch_op.f("ix_first_grade_applications_guardian_user_id"))
        batch_op.drop_index(batch_op.f("ix_first_grade_applications_child_id"))
        batch_op.drop_index(batch_op.f("ix_first_grade_applications_campaign_id"))

    op.drop_table("first_grade_applications")
    with op.batch_alter_table("first_grade_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_first_grade_runs_campaign_id"))

    op.drop_table("first_grade_runs")
    op.drop_table("first_grade_campaigns")
