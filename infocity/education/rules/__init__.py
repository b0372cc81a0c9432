"""Pure rules of education, one module per sub-domain: no database, no web."""

from infocity.core.i18n import N_

# What education records in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
    "education.territory.import": N_("Imported school territories"),
    "education.school.create": N_("Registered a school"),
    "education.kindergarten.create": N_("Registered a kindergarten"),
    "education.kindergarten.places": N_("Set a kindergarten's places"),
    "education.kindergarten.allocation": N_("Ran the allocation of kindergarten places"),
    "education.first_grade.campaign": N_("Set the first-grade campaign"),
    "education.first_grade.places": N_("Set a school's first-grade places"),
    "education.first_grade.allocation": N_("Ran the first-grade allocation"),
    "education.first_grade.documents": N_("Confirmed a child's documents for first grade"),
    "education.first_grade.documents_refused": N_("Refused a child's documents for first grade"),
    "education.first_grade.school_list": N_("Opened a school's first-grade list"),
}
