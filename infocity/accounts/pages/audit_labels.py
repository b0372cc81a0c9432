"""The audit log in words: a label for every action code the services record, and the
detail of accounts' own entries made readable. A code without a label (a service added one
and forgot it here) is shown as it is; ``tests/test_accounts_audit_page.py`` finds them."""

from __future__ import annotations

import re

from infocity.accounts.pages.common import ROLE_LABELS
from infocity.accounts.schemas import AuditEntryRead
from infocity.core.auth import Role
from infocity.core.i18n import N_, gettext

ACTION_LABELS = {
    # Accounts and the city directory
    "citizen.lookup": N_("Looked a citizen up"),
    "user.confirm_contact": N_("Confirmed a citizen's e-mail or phone"),
    "staff.create": N_("Created a staff account"),
    "staff.update": N_("Changed a staff account's name or contacts"),
    "staff.grant": N_("Granted a role"),
    "staff.revoke": N_("Took a role away"),
    "staff.deactivate": N_("Deactivated a staff account"),
    "staff.reactivate": N_("Reactivated a staff account"),
    "device_key.issue": N_("Issued a device key"),
    "device_key.revoke": N_("Revoked a device key"),
    "district.create": N_("Added a district"),
    "organisation.create": N_("Added an organisation"),
    # Health
    "health.practitioner.open": N_("Opened a doctor's post"),
    "health.appointment.outcome_undone": N_("Undid the outcome of a visit"),
    "health.doctor.referrals": N_("Opened the referrals they issued"),
    "health.doctor.home_visits": N_("Opened the home visits assigned to them"),
    "health.appointment.book": N_("Booked an appointment for a patient"),
    "health.appointment.cancel": N_("Cancelled a patient's appointment"),
    "health.appointment.reschedule": N_("Moved a patient's appointment"),
    "health.appointment.outcome": N_("Recorded the outcome of an appointment"),
    "health.attach": N_("Attached a patient to a polyclinic"),
    "health.booking_status": N_("Checked a patient's appointments"),
    "health.doctor.day": N_("Opened a doctor's day"),
    "health.registry.day": N_("Opened the registry's day"),
    "health.patient.lookup": N_("Looked a patient up"),
    "health.patient.view": N_("Opened a patient's card"),
    "health.home_visit.queue": N_("Opened the home visit queue"),
    "health.home_visit.update": N_("Changed a home visit"),
    "health.referral.issue": N_("Issued a referral"),
    "health.specialty.update": N_("Changed a medical specialty"),
    # Housing
    "housing.bank_details.set": N_("Set a housing operator's bank details"),
    "housing.request.update": N_("Changed a housing request"),
    # Applications (portal)
    "portal.applicant_name": N_("Read an applicant's name"),
    "portal.application_read": N_("Opened an application"),
    "portal.application_submit": N_("Submitted an application"),
    "portal.application_take": N_("Took an application into review"),
    "portal.application_request_information": N_("Asked an applicant for information"),
    "portal.application_approve": N_("Approved an application"),
    "portal.application_reject": N_("Rejected an application"),
    "portal.application_complete": N_("Completed an application"),
    "portal.application_withdraw": N_("Withdrew an application"),
    # Education
    "education.territory.import": N_("Imported school territories"),
    "education.kindergarten.places": N_("Set a kindergarten's places"),
    "education.kindergarten.allocation": N_("Ran the allocation of kindergarten places"),
    "education.first_grade.campaign": N_("Set the first-grade campaign"),
    "education.first_grade.places": N_("Set a school's first-grade places"),
    "education.first_grade.allocation": N_("Ran the first-grade allocation"),
    "education.first_grade.documents": N_("Confirmed a child's documents for first grade"),
    "education.first_grade.school_list": N_("Opened a school's first-grade list"),
}

# The fields ``staff.update`` names in its detail.
FIELD_LABELS = {
    "display_name": N_("full name"),
    "email": N_("e-mail"),
    "phone": N_("phone"),
}

_ROLE = re.compile(r"\brole ([a-z_]+)$")
_FIELDS = re.compile(r"^user \d+: ([a-z_, ]+)$")


def action_label(code: str) -> str:
    """The action in the reader's language; an unknown code as it is."""
    label = ACTION_LABELS.get(code)
    return gettext(label) if label else code


def role_label(code: str | None) -> str:
    """A role in the reader's language (an unknown one as it is)."""
    if code is None:
        return ""
    try:
        return gettext(ROLE_LABELS[Role(code)])
    except (ValueError, KeyError):
        return code


def readable_detail(entry: AuditEntryRead) -> str:
    """What accounts' entries say beyond who and to whom, in words; other services'
    details (a masked number searched, an application's number) as they are."""
    detail = entry.detail or ""
    if entry.subject_user_id is None:
        return detail
    if found := _ROLE.search(detail):
        return role_label(found.group(1))
    if found := _FIELDS.match(detail):
        names = [name.strip() for name in found.group(1).split(",")]
        return ", ".join(gettext(FIELD_LABELS[n]) if n in FIELD_LABELS else n for n in names)
    return ""
