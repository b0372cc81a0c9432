"""What the health pages show: the shapes the reads return, shared by several of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from infocity.health import service
from infocity.health.rules import PatientTraits
from infocity.health.schemas import SpecialtyRead


@dataclass(frozen=True)
class ClinicInfo:
    id: int
    name: str
    name_en: str | None
    address: str | None


@dataclass(frozen=True)
class PatientOption:
    """Someone a citizen may book for: themself or a child."""

    id: int
    name: str
    birth_date: date | None
    is_self: bool = False
    sex: str | None = None  # female | male; None: not stated

    @property
    def traits(self) -> PatientTraits:
        return PatientTraits(self.birth_date, self.sex)


@dataclass(frozen=True)
class ReferralOption:
    id: int
    valid_until: datetime
    target_clinic: ClinicInfo | None


@dataclass(frozen=True)
class SpecialtyOption:
    specialty: SpecialtyRead
    referrals: tuple[ReferralOption, ...] = ()

    @property
    def needs_referral(self) -> bool:
        return self.specialty.booking_mode == "referral"


@dataclass(frozen=True)
class Suspension:
    """Self-booking of one of the family is suspended for no-shows: why and until when."""

    patient: PatientOption
    until: datetime
    reason: str  # in the user's language, with the date and the count


@dataclass(frozen=True)
class BookingHome:
    """The first step: who the patient is, their polyclinic, what they can book."""

    patients: list[PatientOption]
    patient: PatientOption
    clinic: ClinicInfo | None
    specialties: list[SpecialtyOption]
    suspensions: list[Suspension] = field(default_factory=list)

    @property
    def patient_suspended(self) -> bool:
        return any(s.patient.id == self.patient.id for s in self.suspensions)


@dataclass(frozen=True)
class SlotItem:
    id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class DoctorSlots:
    practitioner_id: int
    name: str
    room: str | None
    clinic: ClinicInfo
    slots: list[SlotItem]


@dataclass(frozen=True)
class DaySlots:
    day: date
    first: datetime  # for the heading, formatted in the city's zone
    doctors: list[DoctorSlots]


@dataclass(frozen=True)
class DoctorChoice:
    """A doctor with free time in the coming days, for the doctor filter."""

    practitioner_id: int
    name: str
    room: str | None
    clinic: ClinicInfo
    free: int  # free times over the whole period
    first: datetime  # the earliest of them
    own: bool  # the patient's own doctor of this specialty: listed first, marked


@dataclass(frozen=True)
class FreeDay:
    """A day that has free time (of the chosen doctor, or of any), for the day picker."""

    day: date
    first: datetime  # for the label, formatted in the city's zone
    free: int


@dataclass(frozen=True)
class SlotPicker:
    """The free times narrowed step by step: a doctor (or any), a day, the day's times."""

    doctors: list[DoctorChoice]
    doctor_id: int | None  # None: any doctor
    days: list[FreeDay]
    day: date | None  # None: no free day at all
    times: list[DaySlots]  # the chosen day's free times, of the chosen doctor

    @property
    def doctor(self) -> DoctorChoice | None:
        return next((d for d in self.doctors if d.practitioner_id == self.doctor_id), None)


@dataclass(frozen=True)
class SlotChoice:
    """Free times of one specialty for one patient, by day and doctor."""

    patient: PatientOption
    specialty: SpecialtyRead
    clinic: ClinicInfo | None
    days: list[DaySlots]
    referral_id: int | None = None
    problem: str | None = None  # an English message id: why nothing can be shown
    picker: SlotPicker | None = None  # a citizen's pages show one doctor's one day


@dataclass(frozen=True)
class SlotDetails:
    id: int
    starts_at: datetime
    ends_at: datetime
    doctor: str
    room: str | None
    specialty: SpecialtyRead
    clinic: ClinicInfo


@dataclass(frozen=True)
class BookingConfirmation:
    patient: PatientOption
    slot: SlotDetails
    referral_id: int | None


@dataclass(frozen=True)
class AppointmentView:
    id: int
    ticket_number: str
    status: str
    channel: str
    starts_at: datetime
    person_id: int
    patient_name: str
    specialty: SpecialtyRead
    doctor: str
    room: str | None
    clinic: ClinicInfo
    changeable: bool  # booked and not started: may be cancelled or moved


@dataclass(frozen=True)
class ReferralView:
    id: int
    person_id: int
    patient_name: str
    specialty: SpecialtyRead
    target_clinic: ClinicInfo | None
    issued_at: datetime
    valid_until: datetime
    status: str
    usable: bool
    state: str = ""  # open | used | expired | cancelled (rules.referral_state)


@dataclass(frozen=True)
class AttachmentView:
    """A patient's polyclinic: since when, and when the free yearly change is possible."""

    person_id: int
    clinic: ClinicInfo
    kind: str
    since: datetime
    can_change_from: datetime | None


@dataclass(frozen=True)
class MyAppointments:
    upcoming: list[AppointmentView]
    past: list[AppointmentView]
    referrals: list[ReferralView]


@dataclass(frozen=True)
class RescheduleChoice:
    appointment: AppointmentView
    days: list[DaySlots]
    picker: SlotPicker | None = None


@dataclass(frozen=True)
class RescheduleConfirmation:
    """The appointment to move and the time it would move to, side by side."""

    appointment: AppointmentView
    slot: SlotDetails


@dataclass(frozen=True)
class CalendarEvent:
    """An appointment as a calendar entry (the citizen's ``.ics`` download)."""

    appointment: AppointmentView
    ends_at: datetime


@dataclass(frozen=True)
class DaySlotRow:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    status: str  # the slot's: free | booked | held | blocked
    appointment_id: int | None = None
    appointment_status: str | None = None
    person_id: int | None = None
    patient_name: str | None = None
    ticket_number: str | None = None


@dataclass(frozen=True)
class DoctorDay:
    practitioner_id: int
    name: str
    room: str | None
    specialty: SpecialtyRead
    rows: list[DaySlotRow]


@dataclass(frozen=True)
class ClinicDay:
    """A clinic's day for the registry: every doctor's slots, patients by name."""

    clinics: list[ClinicInfo]
    clinic: ClinicInfo
    day: date
    doctors: list[DoctorDay]


@dataclass(frozen=True)
class PatientCard:
    """A patient as the registry sees them (audited)."""

    clinic: ClinicInfo
    person_id: int
    name: str
    birth_date: date | None
    attached_clinic: ClinicInfo | None
    appointments: list[AppointmentView]
    specialties: list[SpecialtyRead]
    suspension: Suspension | None = None  # self-booking suspended; the registry may book
    sex: str | None = None
    # An English message id: why the clinic books the patient only by referral, or not
    # at all (attached elsewhere, too old or young for the clinic), shown before any time.
    problem: str | None = None
    # The patient's district here (attached to this clinic only) and the districts the
    # clinic's doctors serve, each with their names, to choose from.
    district: int | None = None
    districts: dict[int, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistrySlotChoice:
    card: PatientCard
    choice: SlotChoice


@dataclass(frozen=True)
class DoctorAppointment:
    appointment: AppointmentView
    birth_date: date | None
    undoable: bool = False  # marked attended or missed today: the mark may be undone


@dataclass(frozen=True)
class DoctorSchedule:
    """A doctor's own day: their posts and appointments in order."""

    day: date
    clinic_ids: list[int]
    posts: list[str]
    appointments: list[DoctorAppointment]
    specialties: list[SpecialtyRead]
    clinics: list[ClinicInfo]
    referrals: list[ReferralView] = field(default_factory=list)  # issued by the doctor
    home_visits: list[HomeVisitView] = field(default_factory=list)  # open, assigned to them


@dataclass(frozen=True)
class RuleView:
    id: int
    weekday: int
    start_time: time
    end_time: time
    break_start: time | None
    break_end: time | None
    slot_minutes: int | None
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class ExceptionView:
    id: int
    kind: str
    date_from: date
    date_to: date
    start_time: time | None
    end_time: time | None


@dataclass(frozen=True)
class PractitionerSchedule:
    id: int
    name: str
    room: str | None
    active: bool
    specialty: SpecialtyRead
    rules: list[RuleView] = field(default_factory=list)
    exceptions: list[ExceptionView] = field(default_factory=list)
    district: int | None = None  # the district this post serves as its district doctor


@dataclass(frozen=True)
class ClinicSchedules:
    clinics: list[ClinicInfo]
    clinic: ClinicInfo
    practitioners: list[PractitionerSchedule]
    # For a new doctor's post: the clinic's doctor accounts (user id, name) and the
    # specialties that see the clinic's patients.
    doctor_accounts: list[tuple[int, str]] = field(default_factory=list)
    specialties: list[SpecialtyRead] = field(default_factory=list)


@dataclass(frozen=True)
class HeldTime:
    """A time the waiting list keeps for a place until ``held_until``."""

    slot_id: int
    starts_at: datetime
    held_until: datetime
    doctor: str
    room: str | None
    clinic: ClinicInfo


@dataclass(frozen=True)
class WaitlistView:
    id: int
    person_id: int
    patient_name: str
    specialty: SpecialtyRead
    clinic: ClinicInfo | None
    date_from: date | None
    date_to: date | None
    time_from: time | None
    time_to: time | None
    status: str  # waiting | holding | booked | left | expired
    priority: bool
    created_at: datetime
    appointment_id: int | None
    held: HeldTime | None

    @property
    def open(self) -> bool:
        return self.status in ("waiting", "holding")


@dataclass(frozen=True)
class WaitlistPage:
    """The family's waiting-list places and what the join form offers for one patient."""

    patients: list[PatientOption]
    patient: PatientOption
    specialties: list[SpecialtyOption]
    clinics: list[ClinicInfo]
    entries: list[WaitlistView]
    specialty_id: int | None = None  # chosen in advance (from the slot choice)
    referral_id: int | None = None

    @property
    def holds(self) -> list[WaitlistView]:
        return [e for e in self.entries if e.held is not None]


@dataclass(frozen=True)
class HomeVisitView:
    id: int
    person_id: int
    patient_name: str
    address: str
    reason: str
    contact_phone: str
    status: str  # new | accepted | assigned | done | cancelled
    doctor: str | None
    clinic: ClinicInfo
    created_at: datetime
    updated_at: datetime

    @property
    def open(self) -> bool:
        return self.status in service.OPEN_HOME_VISITS


@dataclass(frozen=True)
class MyHomeVisits:
    patients: list[PatientOption]
    patient: PatientOption
    visits: list[HomeVisitView]


@dataclass(frozen=True)
class DoctorOption:
    id: int
    label: str


@dataclass(frozen=True)
class HomeVisitQueue:
    """A clinic's home-visit requests for its registrars and administrators."""

    clinics: list[ClinicInfo]
    clinic: ClinicInfo
    status: str | None
    visits: list[HomeVisitView]
    doctors: list[DoctorOption]


@dataclass(frozen=True)
class LinkedAppointment:
    """An appointment opened from a reminder's signed link (no login)."""

    appointment: AppointmentView
    action: str  # confirm | cancel
    token: str
    confirmed_at: datetime | None

    @property
    def can_act(self) -> bool:
        if not self.appointment.changeable:
            return False
        return self.action == "cancel" or self.confirmed_at is None
