"""Use cases of medical appointments: one function per thing a user does, one
transaction each.

One module per sub-domain; a module imports only the ones below it:

- ``batch_booking``: kiosk bookings of one process booked together (group commit);
- ``directory``, ``schedules``, ``booking``, ``waitlist``, ``reminders``, ``visits``: the use
  cases (``reminders`` cancels through ``booking``);
- ``taking``: the guarded take of a slot under every booking; ``holds``: a freed slot
  offered to the waiting list (so booking and the waiting list need not import each other);
- ``base``: the tables, the city's clock, who may act in which clinic, notifications.

Callers import the package (``from infocity.health import service``) and use the names
re-exported here.
"""

from __future__ import annotations

from infocity.health.service.base import (
    count_staff_lookup,
    in_care_of,
    staff_head_clinics,
)
from infocity.health.service.batch_booking import (
    KioskBooking,
    book_many_by_policy,
    books_in_batches,
    warm_up_booking,
)
from infocity.health.service.booking import (
    IDENTIFY_PER_POLICY,
    book_by_policy,
    book_for_patient,
    book_identified_patient,
    book_slot,
    cancel_appointment,
    cancel_by_policy,
    get_appointment,
    identify_patient,
    issue_referral,
    list_identified_appointments,
    list_my_appointments,
    list_patient_appointments,
    reschedule_appointment,
    reschedule_by_policy,
)
from infocity.health.service.clients import (
    TOKEN_PREFIX as FHIR_TOKEN_PREFIX,
)
from infocity.health.service.clients import (
    FhirClientAccess,
    fhir_client_access,
    find_patient_by_policy,
    issue_fhir_token,
    register_fhir_client,
)
from infocity.health.service.directory import (
    AUDIENCE_OF_CLINIC,
    add_practitioner,
    attach_patient,
    create_clinic,
    current_attachments,
    district_doctors,
    list_clinics,
    list_doctors,
    list_specialties,
    open_doctor_post,
    seed_specialties,
    set_patient_district,
    update_specialty,
)
from infocity.health.service.publication import (
    PUBLISH_BATCH,
    PublishedSlot,
    SlotPage,
    published_lines,
    published_slot,
    published_slots,
    published_span,
    search_published_slots,
)
from infocity.health.service.reminders import (
    appointment_link_token,
    appointment_links,
    cancel_by_link,
    confirm_by_link,
    reminder_offsets,
    send_due_reminders,
    verify_appointment_link,
)
from infocity.health.service.schedules import (
    add_schedule_exception,
    change_schedule_rule,
    exception_preview_token,
    materialise_horizon,
    materialise_slots,
    preview_schedule_exception,
    preview_schedule_rule_change,
    remove_schedule_rule,
    rule_preview_token,
    set_schedule_rule,
)
from infocity.health.service.search import search_free_slots
from infocity.health.service.visits import (
    OPEN_HOME_VISITS,
    cancel_home_visit,
    get_booking_status,
    identified_booking_status,
    list_home_visit_queue,
    list_my_home_visits,
    mark_appointment_outcome,
    request_home_visit,
    staff_booking_status,
    undo_appointment_outcome,
    update_home_visit,
)
from infocity.health.service.waitlist import (
    accept_hold,
    decline_hold,
    join_waitlist,
    leave_waitlist,
    list_my_waitlist,
    release_due_slots,
)

__all__ = [
    "AUDIENCE_OF_CLINIC",
    "FHIR_TOKEN_PREFIX",
    "IDENTIFY_PER_POLICY",
    "OPEN_HOME_VISITS",
    "PUBLISH_BATCH",
    "FhirClientAccess",
    "KioskBooking",
    "PublishedSlot",
    "SlotPage",
    "accept_hold",
    "add_practitioner",
    "add_schedule_exception",
    "appointment_link_token",
    "appointment_links",
    "attach_patient",
    "book_by_policy",
    "book_for_patient",
    "book_identified_patient",
    "book_many_by_policy",
    "book_slot",
    "books_in_batches",
    "cancel_appointment",
    "cancel_by_link",
    "cancel_by_policy",
    "cancel_home_visit",
    "change_schedule_rule",
    "confirm_by_link",
    "count_staff_lookup",
    "create_clinic",
    "current_attachments",
    "decline_hold",
    "district_doctors",
    "exception_preview_token",
    "fhir_client_access",
    "find_patient_by_policy",
    "get_appointment",
    "get_booking_status",
    "identified_booking_status",
    "identify_patient",
    "in_care_of",
    "issue_fhir_token",
    "issue_referral",
    "join_waitlist",
    "leave_waitlist",
    "list_clinics",
    "list_doctors",
    "list_home_visit_queue",
    "list_identified_appointments",
    "list_my_appointments",
    "list_my_home_visits",
    "list_my_waitlist",
    "list_patient_appointments",
    "list_specialties",
    "mark_appointment_outcome",
    "materialise_horizon",
    "materialise_slots",
    "open_doctor_post",
    "preview_schedule_exception",
    "preview_schedule_rule_change",
    "published_lines",
    "published_slot",
    "published_slots",
    "published_span",
    "register_fhir_client",
    "release_due_slots",
    "reminder_offsets",
    "remove_schedule_rule",
    "request_home_visit",
    "reschedule_appointment",
    "reschedule_by_policy",
    "rule_preview_token",
    "search_free_slots",
    "search_published_slots",
    "seed_specialties",
    "send_due_reminders",
    "set_patient_district",
    "set_schedule_rule",
    "staff_booking_status",
    "staff_head_clinics",
    "undo_appointment_outcome",
    "update_home_visit",
    "update_specialty",
    "verify_appointment_link",
    "warm_up_booking",
]
