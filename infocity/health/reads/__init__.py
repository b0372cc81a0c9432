"""The read side of health: what its pages show, one transaction each.

These functions only read, with one exception: a read that shows a patient's name or
appointments to staff writes an audit entry in the same transaction, so the access and
its record commit together or not at all.

One module per who asks: ``citizens``, ``kiosk``, ``registry`` (the registrar's desk),
``doctors``, ``clinic_admin``, ``waitlist``, ``home_visits``, ``links`` (a reminder's
signed link) and ``city_admin``; they share ``base`` (the tables, clinics, the family,
free times) and ``shapes`` (what the reads return).

Callers import the package (``from infocity.health import reads``) and use the names
re-exported here.
"""

from __future__ import annotations

from infocity.health.reads.citizens import (
    booking_confirmation,
    booking_home,
    calendar_event,
    citizen_ticket,
    my_appointments,
    reschedule_choice,
    reschedule_confirmation,
    slot_choice,
)
from infocity.health.reads.city_admin import city_specialties
from infocity.health.reads.clinic_admin import clinic_schedules
from infocity.health.reads.doctors import doctor_day
from infocity.health.reads.home_visits import home_visit_queue, my_home_visits
from infocity.health.reads.kiosk import kiosk_confirmation, kiosk_home, kiosk_slots, kiosk_ticket
from infocity.health.reads.links import appointment_by_link
from infocity.health.reads.registry import (
    clinic_day,
    find_patient,
    find_patients_by_name,
    patient_card,
    registry_appointment,
    registry_clinic,
    registry_reschedule_choice,
    registry_slots,
)
from infocity.health.reads.shapes import (
    AppointmentView,
    BookingConfirmation,
    BookingHome,
    CalendarEvent,
    ClinicDay,
    ClinicInfo,
    ClinicSchedules,
    DaySlotRow,
    DaySlots,
    DoctorAppointment,
    DoctorChoice,
    DoctorDay,
    DoctorOption,
    DoctorSchedule,
    DoctorSlots,
    ExceptionView,
    FreeDay,
    HeldTime,
    HomeVisitQueue,
    HomeVisitView,
    LinkedAppointment,
    MyAppointments,
    MyHomeVisits,
    PatientCard,
    PatientOption,
    PractitionerSchedule,
    ReferralOption,
    ReferralView,
    RegistrySlotChoice,
    RescheduleChoice,
    RescheduleConfirmation,
    RuleView,
    SlotChoice,
    SlotDetails,
    SlotItem,
    SlotPicker,
    SpecialtyOption,
    Suspension,
    WaitlistPage,
    WaitlistView,
)
from infocity.health.reads.waitlist import my_waitlist

__all__ = [
    "AppointmentView",
    "BookingConfirmation",
    "BookingHome",
    "CalendarEvent",
    "ClinicDay",
    "ClinicInfo",
    "ClinicSchedules",
    "DaySlotRow",
    "DaySlots",
    "DoctorAppointment",
    "DoctorChoice",
    "DoctorDay",
    "DoctorOption",
    "DoctorSchedule",
    "DoctorSlots",
    "ExceptionView",
    "FreeDay",
    "HeldTime",
    "HomeVisitQueue",
    "HomeVisitView",
    "LinkedAppointment",
    "MyAppointments",
    "MyHomeVisits",
    "PatientCard",
    "PatientOption",
    "PractitionerSchedule",
    "ReferralOption",
    "ReferralView",
    "RegistrySlotChoice",
    "RescheduleChoice",
    "RescheduleConfirmation",
    "RuleView",
    "SlotChoice",
    "SlotDetails",
    "SlotItem",
    "SlotPicker",
    "SpecialtyOption",
    "Suspension",
    "WaitlistPage",
    "WaitlistView",
    "appointment_by_link",
    "booking_confirmation",
    "booking_home",
    "calendar_event",
    "citizen_ticket",
    "city_specialties",
    "clinic_day",
    "clinic_schedules",
    "doctor_day",
    "find_patient",
    "find_patients_by_name",
    "home_visit_queue",
    "kiosk_confirmation",
    "kiosk_home",
    "kiosk_slots",
    "kiosk_ticket",
    "my_appointments",
    "my_home_visits",
    "my_waitlist",
    "patient_card",
    "registry_appointment",
    "registry_clinic",
    "registry_reschedule_choice",
    "registry_slots",
    "reschedule_choice",
    "reschedule_confirmation",
    "slot_choice",
]
