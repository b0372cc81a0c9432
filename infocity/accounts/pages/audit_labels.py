"""The audit log in words: the label of each action code (each service names its own in
its rules' ``AUDIT_ACTIONS``), and the detail of accounts' own entries made readable. A code
without a label is shown as it is; ``tests/test_accounts_audit_page.py`` finds them."""

from __future__ import annotations

import re

from infocity.accounts.pages.common import ROLE_LABELS
from infocity.accounts.schemas import AuditEntryRead
from infocity.core.audit import action_labels
from infocity.core.auth import Role
from infocity.core.i18n import N_, gettext

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
    label = action_labels().get(code)
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
