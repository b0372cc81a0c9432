"""Tables of medical appointments.

Every row that belongs to a clinic keeps ``clinic_id`` (the ``organisations.id`` of the
clinic or branch), so that the big tables can be sharded by clinic later. A clinic's id
*is* its organisation's id: staff grants, which are scoped by organisation, apply to
health rows without a translation table.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId
from infocity.health.rules import (
    AppointmentStatus,
    Audience,
    HomeVisitStatus,
    OfferOutcome,
    ReferralStatus,
    SlotStatus,
    WaitlistStatus,
)

# The kinds of state and their values are the enums of ``rules`` (with the moves between
# them); what is neither a state nor decided by a rule is listed here.
CHANNELS = ("portal", "app", "kiosk", "call_centre", "registry")
EXCEPTION_KINDS = ("vacation", "sick_leave", "holiday", "extra_hours")

# The one condition both backends understand for "an appointment that holds its slot".
ACTIVE_APPOINTMENT = text(f"status = '{AppointmentStatus.BOOKED}'")
CURRENT_ATTACHMENT = text("valid_to IS NULL")
FREE_SLOT = text(f"status = '{SlotStatus.FREE}'")
ACTIVE_WAITLIST_ENTRY = text(f"status IN ('{WaitlistStatus.WAITING}', '{WaitlistStatus.HOLDING}')")
HOLD_IN_FORCE = text(f"outcome = '{OfferOutcome.HELD}'")


class Specialty(Base):
    """A kind of doctor patients book (data, not code: the city adds and tunes them)."""

    __tablename__ = "specialties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # Russian, the official name
    name_en: Mapped[str] = mapped_column(String(200))
    slot_minutes: Mapped[int] = mapped_column(Integer)
    booking_mode: Mapped[str] = mapped_column(String(16))  # direct | referral
    horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    release_time: Mapped[time] = mapped_column(Time)  # wall-clock time in the city
    active_limit: Mapped[int] = mapped_column(Integer, default=1)
    audience: Mapped[str] = mapped_column(String(8), default=Audience.ANY.value)
    sex: Mapped[str | None] = mapped_column(String(6))  # the only sex it sees; null: both
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Clinic(Base):
    """The health profile of an organisation of kind "clinic": adult or children's,
    and the head clinic when it is a branch. Patients attach to head clinics."""

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    clinic_kind: Mapped[str] = mapped_column(String(16))  # adult | children
    parent_clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Practitioner(Base):
    """A doctor's post: one specialty, in one clinic or branch, in one room."""

    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    room: Mapped[str | None] = mapped_column(String(20))
    # The district of the clinic this post serves as its district doctor; null: none.
    district: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last city date the hourly job planned this post's slots up to (null: never); the
    # job plans only the days after it. Changes of schedule plan their own days at once.
    slots_until: Mapped[date | None] = mapped_column(Date)


class Attachment(Base):
    """A patient attached to a head clinic. Rows are never deleted: a change closes the
    current row (``valid_to``) and opens a new one, so the history stays."""

    __tablename__ = "clinic_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # adult | children, the clinic's kind
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)  # null: current
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # yearly: the once-a-year free choice; address_change: a move, allowed any time.
    reason: Mapped[str] = mapped_column(String(16), default="yearly", server_default="yearly")
    new_address: Mapped[str | None] = mapped_column(String(500))
    # The patient's district in this clinic (its district doctor is offered first).
    district: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # One current attachment per person and kind, whoever attaches at the same moment.
        Index(
            "uq_clinic_attachments_current",
            "person_id",
            "kind",
            unique=True,
            sqlite_where=CURRENT_ATTACHMENT,
            postgresql_where=CURRENT_ATTACHMENT,
        ),
        Index("ix_clinic_attachments_person", "person_id", "valid_from"),
    )


class ScheduleRule(Base):
    """A weekly working pattern of a practitioner, valid for a range of city dates."""

    __tablename__ = "schedule_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday ... 6 = Sunday
    start_time: Mapped[time] = mapped_column(Time)  # wall-clock times in the city
    end_time: Mapped[time] = mapped_column(Time)
    break_start: Mapped[time | None] = mapped_column(Time)
    break_end: Mapped[time | None] = mapped_column(Time)
    slot_minutes: Mapped[int | None] = mapped_column(Integer)  # null: the specialty's
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; null: open-ended
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),)


class ScheduleException(Base):
    """Days a practitioner is away (vacation, sick leave, holiday) or works extra hours.
    Without times an absence covers whole days."""

    __tablename__ = "schedule_exceptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)  # inclusive
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Slot(Base):
    """A bookable time of a practitioner. Its ``status`` changes only through guarded
    updates (``... WHERE status = 'free'``): the database decides who gets it."""

    __tablename__ = "slots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default=SlotStatus.FREE.value)
    release_at: Mapped[datetime] = mapped_column(UTCDateTime)  # bookable from this instant
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The waiting-list entry the hold is for. No foreign key: waitlist_offers already
    # links entries and slots, and a cycle of keys would complicate partitioning.
    held_for_entry_id: Mapped[int | None] = mapped_column(BigId)
    ticket_code: Mapped[str] = mapped_column(String(24))  # printed on the patient's ticket
    version: Mapped[int] = mapped_column(Integer, default=0)  # +1 on every status change

    __table_args__ = (
        UniqueConstraint("practitioner_id", "starts_at"),
        # Searches read only free slots: partial indexes stay small as the day fills up.
        # In the order of the answer (starts_at, id), so the first ten are read and no
        # more: city-wide, and one polyclinic at a time (a polyclinic with its branches
        # is searched as one small scan per polyclinic).
        Index(
            "ix_slots_free_search",
            "specialty_id",
            "starts_at",
            "id",
            sqlite_where=FREE_SLOT,
            postgresql_where=FREE_SLOT,
        ),
        Index(
            "ix_slots_free_by_clinic",
            "specialty_id",
            "clinic_id",
            "starts_at",
            "id",
            sqlite_where=FREE_SLOT,
            postgresql_where=FREE_SLOT,
        ),
        Index("ix_slots_clinic_starts", "clinic_id", "starts_at"),
    )


class Referral(Base):
    """A doctor's referral of a patient to a specialty, used by one booking at a time."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))  # where it was issued
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    target_clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    issued_by_practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.ACTIVE.value)
    # No foreign key: appointments.referral_id already points here, and a cycle of
    # foreign keys would make both tables hard to create, load and partition.
    used_by_appointment_id: Mapped[int | None] = mapped_column(BigId)


class Appointment(Base):
    """A patient's booking of a slot. ``starts_at``, ``ends_at`` and ``specialty_id`` are
    copied from the slot so the per-patient limit, the patient's list and the overlap
    guard need no join.

    A patient's booked appointments never overlap, whatever writes them: on PostgreSQL
    the exclusion constraint ``ex_appointments_patient_busy`` (``person_id WITH =,
    tstzrange(starts_at, ends_at) WITH &&`` over booked rows, btree_gist), on SQLite
    the trigger ``tr_appointments_patient_busy``; both are created by migration 0011
    (neither can be declared here for both databases)."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(24), default=AppointmentStatus.BOOKED.value)
    channel: Mapped[str] = mapped_column(String(16))
    ticket_number: Mapped[str] = mapped_column(String(24))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    booked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the registry told the patient when it cancelled for them (null otherwise).
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # from a reminder
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # attended / no_show
    outcome_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        # The backstop of "never booked twice": at most one active appointment per slot,
        # whatever code path or process writes it.
        Index(
            "uq_appointments_active_slot",
            "slot_id",
            unique=True,
            sqlite_where=ACTIVE_APPOINTMENT,
            postgresql_where=ACTIVE_APPOINTMENT,
        ),
        Index("ix_appointments_patient", "person_id", "specialty_id", "starts_at"),
        Index("ix_appointments_clinic_starts", "clinic_id", "starts_at"),
        # The reminder job's scan: booked appointments starting soon.
        Index(
            "ix_appointments_upcoming",
            "starts_at",
            sqlite_where=ACTIVE_APPOINTMENT,
            postgresql_where=ACTIVE_APPOINTMENT,
        ),
    )


class BookingQuota(Base):
    """One row per patient and specialty, locked by every booking of that pair.

    The per-patient limit counts appointments that do not exist yet in a concurrent
    transaction, so two bookings of the same patient must not run side by side: the
    upsert of this row (``ON CONFLICT DO UPDATE``) takes its row lock on PostgreSQL
    and holds it to commit, and the second booking counts only after the first has
    committed. It is keyed by patient, not by clinic: the limit is city-wide.
    """

    __tablename__ = "booking_quotas"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"), primary_key=True)
    bookings: Mapped[int] = mapped_column(Integer, default=0)  # every booking ever made
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BookingStanding(Base):
    """A patient's right to book by themself: suspended for a while after too many
    no-shows. One row per patient, upserted (and so locked) by every no-show mark, so
    two doctors marking no-shows at once count one after the other."""

    __tablename__ = "booking_standings"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last suspension
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspension_no_shows: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WaitlistEntry(Base):
    """A patient waiting for a time of a specialty. Served by priority (a clinic
    cancelled the patient's appointment), then age. ``clinic_id`` is null when any
    clinic will do (referral specialties): the one health row that may lack it."""

    __tablename__ = "waitlist_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    date_from: Mapped[date | None] = mapped_column(Date)  # city dates, inclusive
    date_to: Mapped[date | None] = mapped_column(Date)
    time_from: Mapped[time | None] = mapped_column(Time)  # wall-clock window in the city
    time_to: Mapped[time | None] = mapped_column(Time)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(24), default="patient")  # patient | clinic_cancelled
    status: Mapped[str] = mapped_column(String(16), default=WaitlistStatus.WAITING.value)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One open entry per patient and specialty, whoever joins at the same moment.
        Index(
            "uq_waitlist_entries_open",
            "person_id",
            "specialty_id",
            unique=True,
            sqlite_where=ACTIVE_WAITLIST_ENTRY,
            postgresql_where=ACTIVE_WAITLIST_ENTRY,
        ),
        Index("ix_waitlist_entries_queue", "specialty_id", "status", "priority", "created_at"),
    )


class WaitlistOffer(Base):
    """A freed time kept (held) for a waiting-list entry, and how the hold ended. The
    partial unique indexes are the backstop of the guarded updates: a slot is held
    for one entry at a time, and an entry holds one slot at a time."""

    __tablename__ = "waitlist_offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    held_until: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default=OfferOutcome.HELD.value)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("entry_id", "slot_id"),  # a declined time is not offered again
        Index(
            "uq_waitlist_offers_slot_held",
            "slot_id",
            unique=True,
            sqlite_where=HOLD_IN_FORCE,
            postgresql_where=HOLD_IN_FORCE,
        ),
        Index(
            "uq_waitlist_offers_entry_held",
            "entry_id",
            unique=True,
            sqlite_where=HOLD_IN_FORCE,
            postgresql_where=HOLD_IN_FORCE,
        ),
    )


class AppointmentReminder(Base):
    """A reminder queued for an appointment: the primary key makes it once per offset,
    however many workers run the job."""

    __tablename__ = "appointment_reminders"

    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    offset_hours: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HomeVisitRequest(Base):
    """A patient's request for a doctor at home, handled by their attached clinic:
    new -> accepted -> assigned -> done, or cancelled on the way."""

    __tablename__ = "home_visit_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(1000))
    contact_phone: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=HomeVisitStatus.NEW.value)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_home_visit_requests_queue", "clinic_id", "status", "created_at"),)


class FhirClient(Base):
    """A client system (a mobile app's back end, the call centre, another clinic's system)
    registered by a city administrator to use FHIR with the scopes it was granted. Only
    the hash of its secret is kept."""

    __tablename__ = "fhir_clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(1000))  # space-separated, as OAuth writes them
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
