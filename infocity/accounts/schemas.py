"""What the accounts service takes and gives: Pydantic models ``XCreate/XUpdate/XRead``.

Input models check shape and size only (so oversized or mistyped input is a 422, never
a 500); the service applies the rules of ``rules.py`` (checksums, formats, ages) and
answers with a precise code and field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from infocity.accounts import rules
from infocity.core.schemas import Id, InputModel, IsoDate, IsoDateTime, OutputModel

Name = Field(min_length=1, max_length=rules.NAME_MAX_LENGTH)
OptionalName = Field(default=None, max_length=rules.NAME_MAX_LENGTH)
Password = Field(min_length=1, max_length=rules.PASSWORD_MAX_LENGTH)
# Documents as people type them: separators allowed, so a little longer than the digits.
Document = Field(default=None, max_length=40)
# As ``rules.SEXES``; null for people who have not stated it (registered before it was asked).
Sex = Literal["female", "male"]


# --- Accounts ----------------------------------------------------------------------


class CitizenCreate(InputModel):
    """A citizen registering: an e-mail or a phone number (or both), a password, names."""

    email: str | None = Field(default=None, max_length=rules.EMAIL_MAX_LENGTH)
    phone: str | None = Field(default=None, max_length=30)
    password: str = Password
    last_name: str = Name
    first_name: str = Name
    middle_name: str | None = OptionalName


class LoginRequest(InputModel):
    identifier: str = Field(min_length=1, max_length=rules.EMAIL_MAX_LENGTH)
    password: str = Password


class ApiTokenCreate(LoginRequest):
    """Log-in of a mobile app: the token is named after the device it lives on."""

    name: str = Field(default="mobile app", min_length=1, max_length=100)


class TokenRead(OutputModel):
    """A bearer token. ``access_token`` is shown once, when it is issued."""

    id: int
    name: str
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime | None


class PasswordResetRequest(InputModel):
    identifier: str = Field(min_length=1, max_length=rules.EMAIL_MAX_LENGTH)


class PasswordResetConfirm(InputModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Password


class ContactVerificationConfirm(InputModel):
    token: str = Field(min_length=1, max_length=200)


class MessageRead(BaseModel):
    """A plain answer for the user, in their language."""

    message: str


class GrantRead(OutputModel):
    role: str
    organisation_id: int | None


class UserRead(OutputModel):
    id: int
    kind: str
    display_name: str
    email: str | None
    phone: str | None
    locale: str
    person_id: int | None
    is_active: bool
    roles: list[GrantRead] = Field(default_factory=list)


# --- People ------------------------------------------------------------------------


class ProfileUpdate(InputModel):
    """Fields left out stay as they are; a document set to null is removed."""

    last_name: str | None = OptionalName
    first_name: str | None = OptionalName
    middle_name: str | None = OptionalName
    birth_date: IsoDate | None = None
    sex: Sex | None = None
    snils: str | None = Document
    oms_policy: str | None = Document
    passport: str | None = Document


class ChildCreate(InputModel):
    """A child added to the family: born, under 18 (checked on the city's date)."""

    last_name: str = Name
    first_name: str = Name
    middle_name: str | None = OptionalName
    birth_date: IsoDate
    sex: Sex | None = None
    snils: str | None = Document
    oms_policy: str | None = Document


class ChildUpdate(InputModel):
    """A child's details changed by a parent: fields left out stay as they are; the
    patronymic or a document set to null is removed."""

    last_name: str | None = OptionalName
    first_name: str | None = OptionalName
    middle_name: str | None = OptionalName
    birth_date: IsoDate | None = None
    sex: Sex | None = None
    snils: str | None = Document
    oms_policy: str | None = Document


class PersonRead(OutputModel):
    """A person as the citizen sees them: documents masked."""

    id: int
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    sex: Sex | None = Field(default=None, description="Null: not stated")
    snils: str | None = Field(description="Masked: ***-***-445 95")
    oms_policy: str | None = Field(description="Masked: ************1234")
    passport: str | None = Field(description="Masked: ** ** ***456")


class ProfileRead(OutputModel):
    user_id: int
    email: str | None
    phone: str | None = Field(description="Masked: +7 *** ***-**-67")
    locale: str
    person: PersonRead
    children: list[PersonRead]


class GuardianContactRead(OutputModel):
    """A child's parent or guardian, as school and kindergarten staff reach them."""

    person_id: int
    last_name: str
    first_name: str
    phone: str | None


class CitizenRecordRead(OutputModel):
    """A citizen as a staff member sees them after an audited look-up: the name, and of
    the rest only what the staff member's role needs (``rules.LOOKUP_FIELDS``; None or
    empty otherwise). Documents shown are shown in full."""

    person_id: int
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None = None
    snils: str | None = None
    oms_policy: str | None = None
    passport: str | None = None
    phone: str | None = None
    email: str | None = None
    guardians: list[GuardianContactRead] = Field(default_factory=list)


# --- Staff, audit, devices ---------------------------------------------------------


class StaffCreate(InputModel):
    """A staff account. ``role`` is a staff role name; city-wide roles take no organisation."""

    email: str = Field(min_length=3, max_length=rules.EMAIL_MAX_LENGTH)
    display_name: str = Field(min_length=1, max_length=300)
    role: str = Field(min_length=1, max_length=32)
    organisation_id: Id | None = None
    password: str = Password


class StaffUpdate(InputModel):
    """A staff account's details: fields left out stay as they are; a phone set to null is
    removed (the e-mail, their log-in, cannot be)."""

    display_name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=rules.EMAIL_MAX_LENGTH)
    phone: str | None = Field(default=None, max_length=30)


class GrantCreate(InputModel):
    role: str = Field(min_length=1, max_length=32)
    organisation_id: Id | None = None


class WorkplaceRead(OutputModel):
    """What a staff member's workplace page shows about them."""

    user_id: int
    display_name: str
    roles: list[WorkplaceRoleRead]


class WorkplaceRoleRead(OutputModel):
    role: str
    organisation_id: int | None
    organisation_name: str | None


class AuditFilter(InputModel):
    action: str | None = Field(default=None, max_length=64)
    actor_user_id: Id | None = None
    subject_person_id: Id | None = None
    organisation_id: Id | None = None
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AuditEntryRead(OutputModel):
    id: int
    at: datetime
    actor_user_id: int | None
    actor_name: str | None
    actor_role: str | None
    organisation_id: int | None
    organisation_name: str | None = None
    action: str
    subject_person_id: int | None
    subject_name: str | None = Field(default=None, description="The person's full name")
    subject_user_id: int | None = Field(default=None, description="The account acted upon")
    subject_user_name: str | None = None
    detail: str | None
    request_id: str | None


class DeviceKeyCreate(InputModel):
    organisation_id: Id
    kind: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)


class DeviceKeyRead(OutputModel):
    id: int
    organisation_id: int
    kind: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None


class DeviceKeyIssued(DeviceKeyRead):
    """A new device key: ``key`` is shown once and must be copied into the device."""

    key: str


WorkplaceRead.model_rebuild()
