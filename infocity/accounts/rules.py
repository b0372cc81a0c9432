"""Rules for personal data: formats, checksums, password policy and masking.

Pure functions, no I/O. Each ``normalize_*`` returns the canonical form that is stored
and compared, or raises ``InvalidInput`` with a machine code, an English message id
(translated where it is shown) and the name of the field.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email

from infocity.core.ages import ADULT_AGE, age_on
from infocity.core.auth import Role
from infocity.core.errors import InvalidFields, InvalidInput
from infocity.core.i18n import N_

OLDEST_AGE = 130
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
# A person's sex as the register keeps it (health refuses some specialties by it).
SEXES = ("female", "male")

# Separators people type inside numbers: "112-233-445 95", "+7 (916) 123-45-67".
_SEPARATORS = re.compile(r"[\s\-()]+")
_NAME = re.compile(r"^[A-Za-zА-Яа-яЁё]+(?:[ -][A-Za-zА-Яа-яЁё]+)*$")


def _digits(value: str) -> str | None:
    """The digits of ``value`` once separators are removed; None if anything else is left."""
    compact = _SEPARATORS.sub("", value)
    return compact if compact.isdigit() and compact.isascii() else None


# --- SNILS -------------------------------------------------------------------------


def snils_control_number(first_nine: str) -> str:
    """The two control digits of a SNILS from its first nine digits (Pension Fund rule)."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(9, 0, -1), strict=True)
    )
    if total > 101:
        total %= 101
    return "00" if total in (100, 101) else f"{total:02d}"


# The control number is defined only for numbers issued after 001-001-998; the earlier
# ones carry whatever control digits they were issued with.
_SNILS_CHECKED_FROM = 1_001_998


def normalize_snils(value: str, *, field: str = "snils") -> str:
    """Eleven digits of a valid SNILS (input may be written "112-233-445 95")."""
    digits = _digits(value)
    if digits is None or len(digits) != 11:
        raise InvalidInput(
            "invalid_snils",
            N_("SNILS must have 11 digits, for example 112-233-445 95."),
            field=field,
        )
    if int(digits[:9]) > _SNILS_CHECKED_FROM and snils_control_number(digits[:9]) != digits[9:]:
        raise InvalidInput(
            "invalid_snils",
            N_("This SNILS number is not valid: please check the digits."),
            field=field,
        )
    return digits


def mask_snils(snils: str) -> str:
    """'11223344595' → '***-***-445 95' (enough to recognise, not to reuse)."""
    return f"***-***-{snils[6:9]} {snils[9:]}"


def format_snils(snils: str) -> str:
    """'11223344595' → '112-233-445 95', as printed on the card."""
    return f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}"


# --- OMS policy, passport ----------------------------------------------------------


def normalize_oms_policy(value: str, *, field: str = "oms_policy") -> str:
    """The sixteen digits of a single-format OMS (health insurance) policy."""
    digits = _digits(value)
    if digits is None or len(digits) != 16:
        raise InvalidInput(
            "invalid_oms_policy",
            N_("The health insurance policy number must have 16 digits."),
            field=field,
        )
    return digits


def mask_oms_policy(policy: str) -> str:
    return "*" * 12 + policy[-4:]


@dataclass(frozen=True)
class Passport:
    series: str  # 4 digits
    number: str  # 6 digits


def normalize_passport(value: str, *, field: str = "passport") -> Passport:
    """A Russian internal passport: series of 4 digits and number of 6 ("45 06 123456")."""
    digits = _digits(value.replace("№", ""))
    if digits is None or len(digits) != 10:
        raise InvalidInput(
            "invalid_passport",
            N_(
                "The passport must have a 4-digit series and a 6-digit number, for example "
                "45 06 123456."
            ),
            field=field,
        )
    return Passport(series=digits[:4], number=digits[4:])


def mask_passport(series: str, number: str) -> str:
    return f"** ** ***{number[-3:]}"


# --- Contacts ----------------------------------------------------------------------


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """A Russian mobile or landline number in E.164: +7XXXXXXXXXX.

    Accepts "+7 (916) 123-45-67", "8 916 123 45 67", "79161234567" and "9161234567".
    """
    stripped = value.strip()
    plus = stripped.startswith("+")
    digits = _digits(stripped[1:] if plus else stripped)
    national: str | None = None
    if digits is not None:
        if plus:
            national = digits[1:] if len(digits) == 11 and digits[0] == "7" else None
        elif len(digits) == 11 and digits[0] in "78":
            national = digits[1:]
        elif len(digits) == 10:
            national = digits
    # Russian numbers never start with 0 after the country code.
    if national is None or national[0] == "0":
        raise InvalidInput(
            "invalid_phone",
            N_("Enter a Russian phone number, for example +7 916 123-45-67."),
            field=field,
        )
    return "+7" + national


def mask_phone(phone: str) -> str:
    """'+79161234567' → '+7 *** ***-**-67'."""
    return f"+7 *** ***-**-{phone[-2:]}"


def normalize_email(value: str, *, field: str = "email") -> str:
    """The address in lower case, checked for shape (deliverability is not checked here)."""
    candidate = value.strip()
    try:
        if len(candidate) > EMAIL_MAX_LENGTH:
            raise EmailNotValidError("too long")
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(
            "invalid_email",
            N_("Enter an e-mail address, for example name@example.ru."),
            field=field,
        ) from exc
    return candidate.lower()


@dataclass(frozen=True)
class Identifier:
    """What a person logs in with: an e-mail or a phone number, normalized."""

    kind: str  # email | phone
    value: str


def parse_identifier(value: str, *, field: str = "identifier") -> Identifier:
    """An e-mail if it has an @, otherwise a phone number."""
    if "@" in value:
        return Identifier("email", normalize_email(value, field=field))
    try:
        return Identifier("phone", normalize_phone(value, field=field))
    except InvalidInput as exc:
        raise InvalidInput(
            "invalid_identifier",
            N_("Enter your e-mail or phone number."),
            field=field,
        ) from exc


# --- Password ----------------------------------------------------------------------


def check_password(
    password: str, *, email: str | None = None, phone: str | None = None, field: str = "password"
) -> None:
    """At least 10 characters, not only digits, and not the log-in itself."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(
            "password_too_short",
            N_("The password must have at least %(min)s characters."),
            field=field,
            min=PASSWORD_MIN_LENGTH,
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            "password_too_long",
            N_("The password must have at most %(max)s characters."),
            field=field,
            max=PASSWORD_MAX_LENGTH,
        )
    if password.isdigit():
        raise InvalidInput(
            "password_all_digits",
            N_("The password must not consist of digits only."),
            field=field,
        )
    lowered = password.strip().lower()
    same_as_login = {c.lower() for c in (email, phone) if c}
    if phone:
        same_as_login |= {phone[1:], "8" + phone[2:], phone[2:]}
    if lowered in same_as_login:
        raise InvalidInput(
            "password_is_login",
            N_("The password must not be your e-mail or phone number."),
            field=field,
        )


# --- Registration ------------------------------------------------------------------

_T = TypeVar("_T")


@dataclass(frozen=True)
class Registration:
    """A registration's contacts and names in their stored form."""

    email: str | None
    phone: str | None
    last_name: str
    first_name: str
    middle_name: str | None


def check_registration(
    *,
    email: str | None,
    phone: str | None,
    password: str,
    last_name: str,
    first_name: str,
    middle_name: str | None,
) -> Registration:
    """Every field checked before any refusal, so the form shows all its mistakes at once."""
    errors: list[InvalidInput] = []

    def attempt(check: Callable[[], _T]) -> _T | None:
        try:
            return check()
        except InvalidInput as exc:
            errors.append(exc)
            return None

    email_ok = attempt(lambda: normalize_email(email)) if email else None
    phone_ok = attempt(lambda: normalize_phone(phone)) if phone else None
    if not email and not phone:
        errors.append(
            InvalidInput(
                "contact_required", N_("Enter an e-mail or a phone number."), field="email"
            )
        )
    last = attempt(lambda: normalize_name(last_name, field="last_name"))
    first = attempt(lambda: normalize_name(first_name, field="first_name"))
    middle = (
        attempt(lambda: normalize_name(middle_name, field="middle_name")) if middle_name else None
    )
    attempt(lambda: check_password(password, email=email_ok, phone=phone_ok))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidFields(errors)
    return Registration(email_ok, phone_ok, last or "", first or "", middle)


# --- Names and dates ---------------------------------------------------------------


def normalize_name(value: str, *, field: str) -> str:
    """A name in Cyrillic or Latin letters; words joined by a space or a hyphen."""
    name = " ".join(value.split())
    name = re.sub(r"\s*-\s*", "-", name)
    if not name or len(name) > NAME_MAX_LENGTH or not _NAME.match(name):
        raise InvalidInput(
            "invalid_name",
            N_("Use letters only (Russian or Latin), spaces and hyphens."),
            field=field,
        )
    return name


def check_birth_date(birth_date: date, *, today: date, field: str = "birth_date") -> None:
    """Not in the future and not impossibly long ago."""
    if birth_date > today:
        raise InvalidInput(
            "birth_date_in_future",
            N_("The date of birth cannot be in the future."),
            field=field,
        )
    if age_on(birth_date, today) > OLDEST_AGE:
        raise InvalidInput("invalid_birth_date", N_("Please check the date of birth."), field=field)


def check_child_birth_date(birth_date: date, *, today: date, field: str = "birth_date") -> None:
    """A child is someone born, and not yet 18 on ``today`` (the city's date)."""
    check_birth_date(birth_date, today=today, field=field)
    if age_on(birth_date, today) >= ADULT_AGE:
        raise InvalidInput(
            "not_a_child",
            N_("A child must be under 18. Adults register their own account."),
            field=field,
        )


# A child's details as a parent gives them (``ChildCreate``, ``ChildUpdate``).
CHILD_NAMES = ("last_name", "first_name", "middle_name")


def check_child(given: Mapping[str, object], *, today: date) -> dict[str, object]:
    """The stored form of each of a child's details in ``given`` (names, ``birth_date``,
    ``sex``, ``snils``, ``oms_policy``; a detail left out is not in the answer). Every
    detail is checked before any refusal, so a form marks all its mistakes at once."""
    errors: list[InvalidInput] = []
    changes: dict[str, object] = {}

    def required(field: str) -> None:
        errors.append(InvalidInput("required", N_("This field is required."), field=field))

    def attempt(field: str, normalize: Callable[[str], str], value: str) -> None:
        try:
            changes[field] = normalize(value)
        except InvalidInput as exc:
            errors.append(exc)

    def name_of(field: str) -> Callable[[str], str]:
        return lambda value: normalize_name(value, field=field)

    for name in CHILD_NAMES:
        value = given.get(name)
        if name not in given:
            continue
        if isinstance(value, str) and value.strip():
            attempt(name, name_of(name), value)
        elif name == "middle_name":
            changes[name] = None
        else:
            required(name)
    if "birth_date" in given:
        born = given["birth_date"]
        if isinstance(born, date):
            try:
                check_child_birth_date(born, today=today)
                changes["birth_date"] = born
            except InvalidInput as exc:
                errors.append(exc)
        else:
            required("birth_date")
    if "sex" in given:
        sex = given["sex"] or None
        if sex is None or sex in SEXES:
            changes["sex"] = sex
        else:
            errors.append(InvalidInput("invalid_sex", N_("Choose female or male."), field="sex"))
    for field, normalize in (("snils", normalize_snils), ("oms_policy", normalize_oms_policy)):
        if field in given:
            value = given[field]
            if isinstance(value, str) and value:
                attempt(field, normalize, value)
            else:
                changes[field] = None
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidFields(errors)
    return changes


def display_name(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}"


# --- Staff look-up -----------------------------------------------------------------


@dataclass(frozen=True)
class LookupQuery:
    """What a staff member typed, read as each document it could be (exact matches only)."""

    snils: str | None = None
    oms_policy: str | None = None
    phone: str | None = None

    def describe(self) -> str:
        """The query for the audit log, masked like everywhere else."""
        parts = []
        if self.snils:
            parts.append(f"snils {mask_snils(self.snils)}")
        if self.oms_policy:
            parts.append(f"oms_policy {mask_oms_policy(self.oms_policy)}")
        if self.phone:
            parts.append(f"phone {mask_phone(self.phone)}")
        return " or ".join(parts)


# What of a citizen each role sees after a look-up, beyond the name: only what its work
# needs (docs/accounts-and-access.md). The field names are ``CitizenRecordRead``'s.
CLINIC_FIELDS = frozenset({"birth_date", "oms_policy", "phone"})
SCHOOL_FIELDS = frozenset({"birth_date", "guardians"})  # guardians' names and phones
LOOKUP_FIELDS: dict[Role, frozenset[str]] = {
    Role.REGISTRAR: CLINIC_FIELDS,
    Role.DOCTOR: CLINIC_FIELDS,
    Role.CLINIC_ADMIN: CLINIC_FIELDS,
    Role.SCHOOL_STAFF: SCHOOL_FIELDS,
    Role.KINDERGARTEN_STAFF: SCHOOL_FIELDS,
    Role.HOUSING_OPERATOR: frozenset({"phone", "email"}),
    Role.CITY_ADMIN: frozenset(
        {"birth_date", "snils", "oms_policy", "passport", "phone", "email", "guardians"}
    ),
}


def lookup_fields(roles: Iterable[Role]) -> frozenset[str]:
    """The fields a staff member holding ``roles`` sees: the union of their roles'."""
    return frozenset().union(*(LOOKUP_FIELDS.get(role, frozenset()) for role in roles))


def parse_lookup_query(value: str, *, field: str = "query") -> LookupQuery:
    """A SNILS, an OMS policy number or a phone number.

    Eleven digits can be both a SNILS and a phone number ("8 916 ..."); then both are
    searched, each by exact match.
    """
    candidates: dict[str, str] = {}
    stripped = value.strip()
    digits = _digits(stripped)
    if digits is not None and len(digits) == 16:
        candidates["oms_policy"] = digits
    if digits is not None and len(digits) == 11:
        with contextlib.suppress(InvalidInput):
            candidates["snils"] = normalize_snils(digits)
    if "oms_policy" not in candidates:
        with contextlib.suppress(InvalidInput):
            candidates["phone"] = normalize_phone(stripped)
    if not candidates:
        raise InvalidInput(
            "invalid_lookup_query",
            N_("Enter a SNILS, a health insurance policy number or a phone number."),
            field=field,
        )
    return LookupQuery(**candidates)


# --- Log-in throttling -------------------------------------------------------------

LOGIN_DELAY_START = 0.5  # seconds, once an account's failures pass the threshold
LOGIN_DELAY_MAX = 4.0


def login_delay(failures: float, threshold: int) -> float:
    """Seconds every log-in to an account waits while it is being guessed at.

    Nothing up to ``threshold`` failures in the window; then half a second, doubling
    with each further ``threshold`` failures, capped: guessing from many addresses gets
    slow, while the owner with the right password still gets in, a little later.
    """
    if failures <= threshold:
        return 0.0
    doublings = int((failures - threshold - 1) // max(threshold, 1))
    return min(LOGIN_DELAY_MAX, LOGIN_DELAY_START * float(2 ** min(doublings, 8)))


# What accounts record in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
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
}
