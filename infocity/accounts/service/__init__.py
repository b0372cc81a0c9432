"""Use cases of accounts: one function per thing a user does, one transaction each.

One module per sub-domain; a module imports only the ones below it:

- ``tokens`` (apps' bearer tokens, logged in as ``sessions`` logs browsers in),
  ``family`` (children, checked with ``profile``'s documents) and ``audit_log`` (naming
  people as ``persons`` does);
- ``sessions``, ``registration``, ``password_reset``, ``profile``, ``staff``, ``lookup``,
  ``devices``, and ``persons`` (the look-ups other services make inside their own
  transaction);
- ``base``: who a user is (principal, grants), what a person or user reads as, rate keys.

Callers import the package (``from infocity.accounts import service``) and use the names
re-exported here.
"""

from __future__ import annotations

from infocity.accounts.service.audit_log import list_audit
from infocity.accounts.service.base import recipient_for_user, recipients_for_users
from infocity.accounts.service.devices import (
    DeviceIdentity,
    authenticate_device,
    organisation_devices,
    register_device,
    revoke_device,
)
from infocity.accounts.service.family import (
    acts_for,
    add_child,
    get_child,
    list_family,
    remove_child,
    update_child,
)
from infocity.accounts.service.lookup import lookup_citizen
from infocity.accounts.service.password_reset import request_password_reset, reset_password
from infocity.accounts.service.persons import (
    PersonFacts,
    citizen_by_contact,
    normalize_oms_policy,
    normalize_phone,
    person_by_id,
    person_by_policy,
    person_names,
    persons_by_name_and_birth,
    staff_of_organisation,
    staff_with_role,
    users_to_notify,
)
from infocity.accounts.service.profile import get_profile, update_profile
from infocity.accounts.service.registration import (
    confirm_contact,
    register_citizen,
    registration_mistakes,
    resend_verification,
    verify_contact,
)
from infocity.accounts.service.sessions import (
    login,
    logout,
    principal_for_user,
    principal_from_session,
    set_locale,
)
from infocity.accounts.service.staff import (
    create_staff_account,
    deactivate_staff_account,
    get_staff_account,
    get_workplace,
    grant_role,
    list_staff,
    reactivate_staff_account,
    revoke_role,
    update_staff_account,
)
from infocity.accounts.service.tokens import (
    issue_api_token,
    principal_from_api_token,
    revoke_api_token,
)

__all__ = [
    "DeviceIdentity",
    "PersonFacts",
    "acts_for",
    "add_child",
    "authenticate_device",
    "citizen_by_contact",
    "confirm_contact",
    "create_staff_account",
    "deactivate_staff_account",
    "get_child",
    "get_profile",
    "get_staff_account",
    "get_workplace",
    "grant_role",
    "issue_api_token",
    "list_audit",
    "list_family",
    "list_staff",
    "login",
    "logout",
    "lookup_citizen",
    "normalize_oms_policy",
    "normalize_phone",
    "organisation_devices",
    "person_by_id",
    "person_by_policy",
    "person_names",
    "persons_by_name_and_birth",
    "principal_for_user",
    "principal_from_api_token",
    "principal_from_session",
    "reactivate_staff_account",
    "recipient_for_user",
    "recipients_for_users",
    "register_citizen",
    "register_device",
    "registration_mistakes",
    "remove_child",
    "request_password_reset",
    "resend_verification",
    "reset_password",
    "revoke_api_token",
    "revoke_device",
    "revoke_role",
    "set_locale",
    "staff_of_organisation",
    "staff_with_role",
    "update_child",
    "update_profile",
    "update_staff_account",
    "users_to_notify",
    "verify_contact",
]
