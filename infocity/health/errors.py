"""The refusals of medical appointments: one class per code, so tests and callers can
name them. Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from infocity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from infocity.core.i18n import N_

# --- Things that do not exist ------------------------------------------------------


class SlotNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("slot_not_found", N_("There is no such appointment time."))


class AppointmentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("appointment_not_found", N_("There is no such appointment."))


class ReferralNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "referral_not_found", N_("There is no such referral."), field="referral_id"
        )


class SpecialtyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("specialty_not_found", N_("There is no such specialty."))


class ClinicNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("clinic_not_found", N_("There is no such polyclinic."))


class PractitionerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("practitioner_not_found", N_("There is no such doctor."))


class PatientNotFound(NotFound):
    """The same answer for an unknown policy and for a wrong date of birth: a kiosk
    must not tell a stranger which policy numbers are registered."""

    def __init__(self) -> None:
        super().__init__(
            "patient_not_found",
            N_("No patient was found with this policy number and date of birth."),
        )


class PatientNotFoundByName(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "patient_not_found",
            N_("No patient of this polyclinic was found with this surname and date of birth."),
            field="last_name",
        )


# --- The slot ----------------------------------------------------------------------


class SlotInPast(Conflict):
    def __init__(self) -> None:
        super().__init__("slot_in_past", N_("This appointment time has already passed."))


class SlotNotReleased(Conflict):
    def __init__(self, *, opens: str) -> None:
        super().__init__(
            "slot_not_released",
            N_("This time is not open for booking yet. It opens on %(opens)s."),
            opens=opens,
        )


class SlotTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "slot_taken", N_("Someone has just booked this time. Please choose another.")
        )


class SlotHeld(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "slot_held", N_("This time is reserved for a patient on the waiting list.")
        )


class SlotBlocked(Conflict):
    def __init__(self) -> None:
        super().__init__("slot_blocked", N_("The doctor does not see patients at this time."))


# --- The patient -------------------------------------------------------------------


class NotAttached(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "not_attached",
            N_("This doctor can be booked only at the polyclinic the patient is attached to."),
        )


class AgeNotServed(Conflict):
    def __init__(self, *, adult_only: bool) -> None:
        super().__init__(
            "age_not_served",
            N_("This doctor sees only adults (from 18 years old).")
            if adult_only
            else N_("This doctor sees only children (under 18 years old)."),
        )


class SexNotServed(Conflict):
    def __init__(self, *, female_only: bool) -> None:
        super().__init__(
            "sex_not_served",
            N_("This doctor sees only women.") if female_only else N_("This doctor sees only men."),
        )


class BirthDateRequired(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "birth_date_required",
            N_("Please add the date of birth to the profile before booking."),
        )


class PatientBusy(Conflict):
    def __init__(self) -> None:
        super().__init__("patient_busy", N_("You already have an appointment at this time."))


class ActiveLimitReached(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "active_limit_reached",
            N_(
                "The patient already has an appointment with this specialist. Cancel it or "
                "move it to another time to book a new one."
            ),
        )


class AttachmentTooSoon(Conflict):
    def __init__(self, *, next_change: str) -> None:
        super().__init__(
            "attachment_change_too_soon",
            N_(
                "The polyclinic can be changed once a year; the next change is possible "
                "on %(date)s."
            ),
            date=next_change,
        )


class NewAddressRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "new_address_required",
            N_("To change the polyclinic after a move, give the new address."),
            field="new_address",
        )


class WrongClinicKind(InvalidInput):
    def __init__(self, *, adult: bool) -> None:
        super().__init__(
            "wrong_clinic_kind",
            N_("This is a children's polyclinic: adults are attached to adult polyclinics.")
            if adult
            else N_("This is an adult polyclinic: children are attached to children's ones."),
            field="clinic_id",
        )


# --- Referrals ---------------------------------------------------------------------


class ReferralRequired(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "referral_required",
            N_("This specialist sees patients by a referral from their doctor."),
            field="referral_id",
        )


class ReferralExpired(Conflict):
    def __init__(self) -> None:
        super().__init__("referral_expired", N_("This referral has expired."), field="referral_id")


class ReferralUsed(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "referral_used", N_("This referral has already been used."), field="referral_id"
        )


class ReferralMismatch(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "referral_mismatch",
            N_("This referral is for another patient, specialty or polyclinic."),
            field="referral_id",
        )


# --- Appointments and schedules ----------------------------------------------------


class TooLateToCancel(Conflict):
    def __init__(self) -> None:
        super().__init__("too_late_to_cancel", N_("The appointment has already started or passed."))


class AppointmentNotActive(Conflict):
    def __init__(self) -> None:
        super().__init__("appointment_not_active", N_("This appointment is no longer active."))


class OtherSpecialty(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "reschedule_other_specialty",
            N_("An appointment can be moved only to a time with a doctor of the same specialty."),
            field="slot_id",
        )


class InvalidSchedule(InvalidInput):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__("invalid_schedule", message, field=field)


class InvalidChannel(InvalidInput):
    def __init__(self) -> None:
        super().__init__("invalid_channel", N_("Unknown booking channel."), field="channel")


# --- Visits' outcome and no-shows --------------------------------------------------


class BookingSuspended(Conflict):
    """Self-booking (app, portal, kiosk) refused after too many no-shows; the registry
    may still book."""

    def __init__(self, *, until: str, count: int) -> None:
        super().__init__(
            "booking_suspended",
            N_(
                "Booking online and at the kiosk is suspended until %(until)s: appointments "
                "missed without cancelling: %(count)s. The registry of the polyclinic can "
                "still book an appointment."
            ),
            until=until,
            count=count,
        )


class VisitNotStarted(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "visit_not_started",
            N_("The outcome of a visit can be marked only once its time has come."),
        )


class OutcomeAlreadyMarked(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "outcome_already_marked", N_("The outcome of this visit has already been marked.")
        )


class NoOutcomeToUndo(Conflict):
    def __init__(self) -> None:
        super().__init__("no_outcome_to_undo", N_("This visit has no mark to undo."))


class OutcomeUndoTooLate(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "outcome_undo_too_late",
            N_("A mark can be undone only on the day it was made."),
        )


class AttachmentByApplication(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "attachment_by_application",
            N_(
                "A change of polyclinic is made by an application on the portal; "
                "the polyclinic reviews it and you are told of its decision."
            ),
        )


class NotYourAppointment(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "not_your_appointment",
            N_("Only the doctor the patient was booked with can mark the visit."),
        )


# --- Doctors' posts ----------------------------------------------------------------


class NotADoctorHere(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_a_doctor_here",
            N_("This account is not a doctor of this polyclinic."),
            field="user_id",
        )


class SpecialtyNotForClinic(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "specialty_not_for_clinic",
            N_("This specialty does not see the patients of this polyclinic (adults or children)."),
            field="specialty_code",
        )


class DoctorPostExists(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "doctor_post_exists",
            N_("This doctor already has a post of this specialty in this polyclinic."),
            field="specialty_code",
        )


class UnknownDistrict(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "unknown_district",
            N_("No doctor of this polyclinic serves this district."),
            field="district",
        )


# --- Schedule changes --------------------------------------------------------------


class OverlappingSchedule(InvalidInput):
    def __init__(self, *, start: str, end: str) -> None:
        super().__init__(
            "overlapping_schedule",
            N_(
                "The doctor already works %(start)s–%(end)s on this weekday in these dates: "
                "change or delete that schedule instead."
            ),
            field="start_time",
            start=start,
            end=end,
        )


class PreviewOutdated(Conflict):
    """Applying a change needs the preview of what it affects, as it still stands."""

    def __init__(self) -> None:
        super().__init__(
            "preview_outdated",
            N_(
                "Preview the change first: the appointments it affects are shown here. "
                "Apply it once you have seen them."
            ),
        )


class ScheduleRuleNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("schedule_rule_not_found", N_("There is no such working pattern."))


# --- Waiting list ------------------------------------------------------------------


class WaitlistEntryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "waitlist_entry_not_found", N_("There is no such place on the waiting list.")
        )


class AlreadyOnWaitlist(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "already_on_waitlist",
            N_("The patient is already on the waiting list for this specialist."),
        )


class InvalidWaitlist(InvalidInput):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__("invalid_waitlist", message, field=field)


class NoActiveHold(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "no_active_hold",
            N_(
                "No time is reserved for this waiting-list place now: it was taken back or "
                "has expired."
            ),
        )


class WaitlistEntryClosed(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "waitlist_entry_closed", N_("This place on the waiting list is no longer active.")
        )


# --- Reminder links ----------------------------------------------------------------


class InvalidLink(NotFound):
    """The same answer for a forged, altered, expired or another appointment's link."""

    def __init__(self) -> None:
        super().__init__(
            "invalid_link",
            N_("This link is not valid or has expired. Open the appointment in your account."),
        )


# --- Home visits -------------------------------------------------------------------


class HomeVisitNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("home_visit_not_found", N_("There is no such home visit request."))


class HomeVisitStatusConflict(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "home_visit_status_conflict",
            N_("The request is no longer in a state that allows this. Please reload it."),
        )


class HomeVisitNotAttached(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "not_attached",
            N_(
                "A home visit is requested from the polyclinic the patient is attached to. "
                "Please attach the patient to a polyclinic first."
            ),
        )


# --- Who may act, and forms naming what is not there ----------------------------------


class NoAccess(Forbidden):
    def __init__(self) -> None:
        super().__init__("forbidden", N_("You do not have access to this."))


class NotYourPatient(Forbidden):
    """A citizen acting for someone who is neither themself nor their child."""

    def __init__(self) -> None:
        super().__init__(
            "not_your_patient", N_("You can book only for yourself and your children.")
        )


class NotYourFamily(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "not_your_family",
            N_("You can apply only for yourself or your children."),
            field="person_id",
        )


class ChosenClinicNotFound(InvalidInput):
    """A polyclinic chosen in a form that does not exist: the form's field is wrong."""

    def __init__(self) -> None:
        super().__init__("clinic_not_found", N_("There is no such polyclinic."), field="clinic_id")


class NotAClinic(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_a_clinic",
            N_("This organisation is not a polyclinic."),
            field="organisation_id",
        )


class InvalidParentClinic(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_parent_clinic",
            N_("A branch belongs to a head polyclinic of the same kind."),
            field="parent_clinic_id",
        )


class ClinicExists(Conflict):
    def __init__(self) -> None:
        super().__init__("clinic_exists", N_("This polyclinic is already registered."))


class UserNotFound(InvalidInput):
    def __init__(self) -> None:
        super().__init__("user_not_found", N_("There is no such user."), field="user_id")


class PractitionerRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "practitioner_required",
            N_("Choose the doctor who will visit."),
            field="practitioner_id",
        )


# --- FHIR ----------------------------------------------------------------------------


class InvalidSearch(InvalidInput):
    def __init__(self, name: str) -> None:
        super().__init__(
            "invalid_search",
            N_("A search parameter is not understood: %(name)s."),
            status=400,
            name=name,
        )


class SearchTooBroad(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "search_too_broad",
            N_("Search free times by schedule, service type or location."),
            status=400,
        )


class InvalidResource(InvalidInput):
    def __init__(self, what: str) -> None:
        super().__init__(
            "invalid_resource",
            N_("The resource cannot be accepted: %(what)s."),
            what=what,
        )


class ChangeNotSupported(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "change_not_supported",
            N_("An appointment can only be cancelled here: set its status to cancelled."),
        )


class ResourceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("not_found", N_("Nothing was found at this address."))


class InvalidScope(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_scope",
            N_("Ask only for scopes that client systems may be granted."),
            field="scopes",
        )


class InvalidClient(Unauthenticated):
    """The same answer for an unknown client, a wrong secret and a withdrawn client."""

    def __init__(self) -> None:
        super().__init__("invalid_client", N_("The client system is not recognised."))


class ScopeNotGranted(Forbidden):
    def __init__(self) -> None:
        super().__init__("insufficient_scope", N_("The access token does not allow this."))


class UnsupportedGrant(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "unsupported_grant_type",
            N_("Only the client credentials grant is supported."),
            status=400,
        )


class InvalidToken(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("invalid_token", N_("The access token is invalid or expired."))


class TokenRequired(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("login_required", N_("Please log in to continue."))
