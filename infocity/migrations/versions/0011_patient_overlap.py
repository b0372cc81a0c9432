"""health: a patient's booked appointments never overlap (appointments.ends_at)

Revision ID: 0011_patient_overlap
Revises: 0010_person_views
Create Date: 2026-11-30 13:00:00.000000

``ends_at`` is copied from the slot, as ``starts_at`` is. The guard is checked by the
appointment's INSERT itself: on PostgreSQL an exclusion constraint over the person and
the time range of booked rows (``btree_gist``, a trusted extension: the database's owner
may create it); on SQLite, which writes one transaction at a time, a trigger.

Existing rows: an exclusion constraint cannot be created NOT VALID, so the upgrade fails
if some patient already has overlapping booked appointments. The demo data books no
appointments; on a live database, cancel or move such pairs first (the query in
``OVERLAPS`` lists them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import infocity.core.db

revision: str = "0011_patient_overlap"
down_revision: str | None = "0010_person_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named in infocity/health/service/slot_sql.py, which maps a violation to ``patient_busy``.
CONSTRAINT = "ex_appointments_patient_busy"
TRIGGER = "tr_appointments_patient_busy"

BACKFILL = """UPDATE appointments SET ends_at =
    (SELECT slots.ends_at FROM slots WHERE slots.id = appointments.slot_id)"""

OVERLAPS = """SELECT a.person_id, a.id, b.id FROM appointments a JOIN appointments b
    ON a.person_id = b.person_id AND a.id < b.id
    AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    WHERE a.status = 'booked' AND b.status = 'booked'"""

EXCLUDE = f"""ALTER TABLE appointments ADD CONSTRAINT {CONSTRAINT}
    EXCLUDE USING gist (person_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
    WHERE (status = 'booked')"""

# The message is what slot_sql recognises; RAISE(ABORT) fails the statement with an
# integrity error, as the constraint does on PostgreSQL. Also on an update that makes a
# row booked or moves a booked one.
SQLITE_TRIGGERS = [  # built from constants only
    f"""CREATE TRIGGER {TRIGGER}_{event.split()[0].lower()} BEFORE {event} ON appointments
    WHEN NEW.status = 'booked'
    BEGIN
        SELECT RAISE(ABORT, 'patient_busy') WHERE EXISTS (
            SELECT 1 FROM appointments
            WHERE appointments.person_id = NEW.person_id
              AND appointments.status = 'booked'
              AND appointments.id IS NOT NEW.id
              AND appointments.starts_at < NEW.ends_at
              AND NEW.starts_at < appointments.ends_at);
    END"""  # noqa: S608
    for event in ("INSERT", "UPDATE OF status, starts_at, ends_at, person_id")
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.add_column(
            "appointments",
            sa.Column("ends_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True),
        )
        op.execute(BACKFILL)
        op.alter_column("appointments", "ends_at", nullable=False)
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(EXCLUDE)
        return
    # SQLite adds a NOT NULL column only with a default; the table is rebuilt instead.
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ends_at", infocity.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(BACKFILL)
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.alter_column(
            "ends_at", existing_type=infocity.core.db.UTCDateTime(timezone=True), nullable=False
        )
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE appointments DROP CONSTRAINT {CONSTRAINT}")
        op.drop_column("appointments", "ends_at")
        return
    op.execute(f"DROP TRIGGER {TRIGGER}_insert")
    op.execute(f"DROP TRIGGER {TRIGGER}_update")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("ends_at")
