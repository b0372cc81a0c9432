"""Pure rules of the city directory."""

from __future__ import annotations

from infocity.core.i18n import N_

# What the city directory records in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
    "district.create": N_("Added a district"),
    "organisation.create": N_("Added an organisation"),
}

# Each kind of organisation (models.ORGANISATION_KINDS) in words, where staff pick one.
ORGANISATION_KIND_LABELS = {
    "city": N_("city administration"),
    "clinic": N_("polyclinic"),
    "school": N_("school"),
    "kindergarten": N_("kindergarten"),
    "housing_operator": N_("housing operator"),
    "wifi_operator": N_("public Wi-Fi operator"),
    "college": N_("college or university"),
    "education_office": N_("district education office"),
}
