"""The refusals of accounts: one class per code, so tests and callers can name them. Each
carries an English message id, translated where it is shown.

The checks of personal data (``rules.py``) refuse with ``InvalidInput`` and their own
codes (``invalid_snils``, ``not_a_child``...); these are the refusals of the use cases.
"""

from __future__ import annotations

from infocity.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from infocity.core.i18n import N_

# --- Logging in and links sent by mail --------------------------------------------


class InvalidCredentials(Unauthenticated):
    def __init__(self) -> None:
        super().__init__(
            "invalid_credentials", N_("The e-mail, phone number or password is wrong.")
        )


class LoginRequired(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("login_required", N_("Please log in to continue."))


class AccountExists(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "account_exists",
            N_(
                "An account with this e-mail or phone number already exists. "
                "Log in or reset your password."
            ),
        )


class InvalidVerificationLink(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_verification_token",
            N_(
                "This confirmation link is invalid, expired or already used. "
                "Log in to have a new one sent."
            ),
            field="token",
        )


class InvalidResetLink(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_reset_token",
            N_(
                "This password reset link is invalid, expired or already used. "
                "Please request a new one."
            ),
            field="token",
        )


class ContactTaken(Conflict):
    """The e-mail or phone is another account's log-in."""

    def __init__(self, field: str) -> None:
        super().__init__(
            "contact_taken",
            N_("Another account already logs in with this e-mail or phone number."),
            field=field,
        )


class UserNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("user_not_found", N_("There is no such user."))


class Required(InvalidInput):
    """A field that may not be left empty."""

    def __init__(self, field: str) -> None:
        super().__init__("required", N_("This field is required."), field=field)


# --- People and families -----------------------------------------------------------


class PersonNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("person_not_found", N_("Your profile was not found."))


class SnilsTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "snils_taken",
            N_(
                "This SNILS is already registered to another person. "
                "If it is yours, please contact a registry office."
            ),
            field="snils",
        )


class OmsPolicyTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "oms_policy_taken",
            N_(
                "This policy number is already registered to another person. "
                "If it is yours, please contact a registry office."
            ),
            field="oms_policy",
        )


class PassportTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "passport_taken",
            N_(
                "This passport is already registered to another person. "
                "If it is yours, please contact a registry office."
            ),
            field="passport",
        )


class DocumentTaken(Conflict):
    """Another person registered one of the documents at the same moment."""

    def __init__(self) -> None:
        super().__init__(
            "document_taken",
            N_("One of these documents is already registered to another person."),
        )


class TooManyChildren(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "too_many_children",
            N_(
                "A family can have at most %(max)s children here. Please contact a registry office."
            ),
            max=limit,
        )


class ChildAlreadyInFamily(Conflict):
    """The same names and date of birth as a child already in the family."""

    def __init__(self) -> None:
        super().__init__(
            "child_already_in_family",
            N_(
                "A child with this name and date of birth is already in your family. "
                "Change that child's details instead of adding them again."
            ),
        )


class ChildNotFound(NotFound):
    """Not a child of this family (whether or not such a person exists)."""

    def __init__(self) -> None:
        super().__init__("child_not_found", N_("There is no such child in your family."))


# --- Staff and roles ---------------------------------------------------------------


class StaffNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("staff_not_found", N_("There is no such staff member."))


class InvalidRole(InvalidInput):
    def __init__(self) -> None:
        super().__init__("invalid_role", N_("Unknown staff role."), field="role")


class RoleIsCityWide(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "role_is_city_wide",
            N_("This role is city-wide: choose no organisation."),
            field="organisation_id",
        )


class OrganisationRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "organisation_required",
            N_("Choose the organisation for this role."),
            field="organisation_id",
        )


class OrganisationNotFound(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "organisation_not_found",
            N_("There is no such organisation."),
            field="organisation_id",
        )


class OrganisationKindMismatch(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "organisation_kind_mismatch",
            N_("This role belongs to another kind of organisation."),
            field="organisation_id",
        )


class RoleAlreadyGranted(Conflict):
    def __init__(self) -> None:
        super().__init__("role_already_granted", N_("This role is already granted."))


class GrantNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("grant_not_found", N_("This staff member does not have this role."))


class LastCityAdmin(Conflict):
    def __init__(self) -> None:
        super().__init__("last_city_admin", N_("The city must keep at least one administrator."))


class OwnAccount(Conflict):
    """An administrator does not lock themself out."""

    def __init__(self) -> None:
        super().__init__("own_account", N_("You cannot deactivate your own account."))


# --- Devices -----------------------------------------------------------------------


class InvalidDeviceKind(InvalidInput):
    def __init__(self) -> None:
        super().__init__("invalid_device_kind", N_("Unknown kind of device."), field="kind")


class DeviceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("device_not_found", N_("There is no such device."))


class InvalidDeviceKey(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("invalid_device_key", N_("The device key is invalid or revoked."))
