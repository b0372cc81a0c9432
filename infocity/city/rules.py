"""Pure rules of the city directory."""

from __future__ import annotations

from infocity.core.i18n import N_

# What the city directory records in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
    "district.create": N_("Added a district"),
    "organisation.create": N_("Added an organisation"),
}
