"""Use cases of accounts: one function per thing a user does, one transaction each."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.models import (
    ApiToken,
    ContactVerification,
    DeviceKey,
    FamilyLink,
    PasswordResetToken,
    Person,
    StaffRole,
    User,
)
from infocity.accounts.read_model import PERSON_CONTACTS
from infocity.accounts.schemas import (
    AuditEntryRead,
    AuditFilter,
    ChildCreate,
    CitizenCreate,
    CitizenRecordRead,
    DeviceKeyCreate,
    DeviceKeyRead,
    GrantCreate,
    GrantRead,
    GuardianContactRead,
    PersonRead,
    ProfileRead,
    ProfileUpdate,
    StaffCreate,
    TokenRead,
    UserRead,
    WorkplaceRead,
    WorkplaceRoleRead,
)
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import (
    ROLE_ORGANISATION_KIND,
    STAFF_ROLES,
    Action,
    Grant,
    Principal,
    Role,
    authorize,
)
from infocity.core.clock import city_today
from infocity.core.db import utcnow
from infocity.core.errors import Conflict, InvalidFields, InvalidInput, NotFound, Unauthenticated
from infocity.core.i18n import LOCALES, N_, current_locale
from infocity.core.models import AuditEntry, WebSession
from infocity.core.outbox import Recipient, notify
from infocity.core.ratelimit import hit, peek
from infocity.core.security import (
    dummy_password_hash,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

LOGIN_WINDOW_SECONDS = 900
RESET_WINDOW_SECONDS = 3600
REGISTER_WINDOW_SECONDS = 3600
LOOKUP_WINDOW_SECONDS = 60
# Many people share one address (a polyclinic kiosk, an office behind NAT), so the
# per-address limit is this many times the per-account one.
PER_ADDRESS_FACTOR = 10
RESET_LINK_LIFETIME = timedelta(hours=1)
VERIFY_LINK_LIFETIME = timedelta(days=1)
VERIFY_RESENDS_PER_HOUR = 3
API_TOKEN_LIFETIME = timedelta(days=180)
MAX_CHILDREN = 20
LOOKUP_MAX_RESULTS = 10
DEVICE_KINDS = ("turnstile", "till", "radius", "validator", "camera")
# A device authenticates on every event; its last-seen time is refreshed at most this
# often so that a busy turnstile does not write a row per pass.
DEVICE_SEEN_RESOLUTION = timedelta(minutes=5)


# --- Helpers -----------------------------------------------------------------------


def _principal(uow: UnitOfWork, user: User) -> Principal:
    return Principal(
        user_id=user.id,
        kind=user.kind,
        display_name=user.display_name,
        locale=user.locale,
        person_id=user.person_id,
        grants=tuple(_grants(uow.session, user)),
        verified=user.verified_at is not None,
    )


def _grants(session: Session, user: User) -> list[Grant]:
    grants: list[Grant] = []
    if user.kind == "citizen":
        grants.append(Grant(Role.CITIZEN, None))
    roles = session.scalars(
        select(StaffRole).where(StaffRole.user_id == user.id).order_by(StaffRole.id)
    )
    grants += [Grant(Role(r.role), r.organisation_id) for r in roles]
    return grants


def _user_read(session: Session, user: User) -> UserRead:
    return UserRead(
        id=user.id,
        kind=user.kind,
        display_name=user.display_name,
        email=user.email,
        phone=user.phone,
        locale=user.locale,
        person_id=user.person_id,
        is_active=user.is_active,
        roles=[
            GrantRead(role=g.role.value, organisation_id=g.organisation_id)
            for g in _grants(session, user)
        ],
    )


def _person_read(person: Person) -> PersonRead:
    """The citizen's own view of a person: documents masked."""
    passport = None
    if person.passport_series and person.passport_number:
        passport = rules.mask_passport(person.passport_series, person.passport_number)
    return PersonRead(
        id=person.id,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        sex=person.sex,
        snils=rules.mask_snils(person.snils) if person.snils else None,
        oms_policy=rules.mask_oms_policy(person.oms_policy) if person.oms_policy else None,
        passport=passport,
    )


def _rate_key(prefix: str, value: str) -> str:
    # Hashed: the counters table must not become a list of who tried to log in.
    return f"{prefix}:{token_hash(value)[:40]}"


def _identifier_key(identifier: str) -> str:
    """The same account however its log-in is written ("8 916..." or "+7916...")."""
    try:
        return rules.parse_identifier(identifier).value
    except InvalidInput:
        return identifier.strip().lower()


def _find_user(session: Session, identifier: str) -> User | None:
    try:
        parsed = rules.parse_identifier(identifier)
    except InvalidInput:
        return None
    column = User.email if parsed.kind == "email" else User.phone
    return session.scalars(select(User).where(column == parsed.value)).one_or_none()


def _invalid_credentials() -> Unauthenticated:
    return Unauthenticated(
        "invalid_credentials",
        N_("The e-mail, phone number or password is wrong."),
    )


def _account_exists() -> Conflict:
    return Conflict(
        "account_exists",
        N_(
            "An account with this e-mail or phone number already exists. "
            "Log in or reset your password."
        ),
    )


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _check_credentials(uow: UnitOfWork, identifier: str, password: str, ip: str | None) -> int:
    """The id of the active user with this log-in and password; counts the attempt first.

    Attempts count per account and address, and per address: whoever fails from one
    address is stopped there and cannot lock the owner out of their account elsewhere.
    Failures count per account too, and make every log-in to it slower (never refused),
    so guessing from many addresses gets slow.
    """
    limit = get_settings().login_attempts_per_15min
    account = _identifier_key(identifier)
    hit(
        _rate_key("login", f"{account}|{ip or ''}"),
        limit=limit,
        window_seconds=LOGIN_WINDOW_SECONDS,
    )
    if ip:
        hit(
            _rate_key("login-ip", ip),
            limit=limit * PER_ADDRESS_FACTOR,
            window_seconds=LOGIN_WINDOW_SECONDS,
        )
    failures_key = _rate_key("login-failed", account)
    failures = peek(failures_key, window_seconds=LOGIN_WINDOW_SECONDS)
    user = _find_user(uow.session, identifier)
    found = (user.id, user.password_hash) if user is not None and user.is_active else None
    # End the read transaction: the hash check below is slow on purpose and must not
    # hold SQLite's write lock while it runs.
    uow.rollback()
    delay = rules.login_delay(failures, limit)
    if delay:
        _sleep(delay)
    # Same work as a real check when there is no account, so the answer time does not
    # tell who has one.
    if not verify_password(found[1] if found else dummy_password_hash(), password):
        found = None
    if found is None:
        hit(failures_key, limit=sys.maxsize, window_seconds=LOGIN_WINDOW_SECONDS)
        raise _invalid_credentials()
    return found[0]


# --- Sessions and tokens -----------------------------------------------------------


def principal_from_session(token: str, *, uow: UnitOfWork | None = None) -> Principal | None:
    """The user of a browser session token, or None when it is unknown or expired."""
    uow = uow or UnitOfWork()
    with uow:
        row = uow.session.execute(
            select(User)
            .join(WebSession, WebSession.user_id == User.id)
            .where(
                WebSession.token_hash == token_hash(token),
                WebSession.expires_at > utcnow(),
                User.is_active.is_(True),
            )
        ).scalar_one_or_none()
        return _principal(uow, row) if row else None


def principal_from_api_token(token: str, *, uow: UnitOfWork | None = None) -> Principal | None:
    """The user of a bearer token, or None when it is unknown, revoked or expired."""
    uow = uow or UnitOfWork()
    with uow:
        now = utcnow()
        api_token = uow.session.execute(
            select(ApiToken).where(
                ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
            )
        ).scalar_one_or_none()
        if api_token is None or (api_token.expires_at and api_token.expires_at <= now):
            return None
        user = uow.session.get(User, api_token.user_id)
        if user is None or not user.is_active:
            return None
        uow.session.execute(
            update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
        )
        principal = _principal(uow, user)
        uow.commit()
        return principal


def principal_for_user(user_id: int, *, uow: UnitOfWork | None = None) -> Principal | None:
    """The principal of an active user by id (the command line and jobs act as someone)."""
    uow = uow or UnitOfWork()
    with uow:
        user = uow.session.get(User, user_id)
        return _principal(uow, user) if user is not None and user.is_active else None


def register_citizen(
    data: CitizenCreate, *, ip: str | None = None, uow: UnitOfWork | None = None
) -> UserRead:
    """Create a citizen's account and their entry in the city register."""
    if ip:
        # Counted before anything else: each sign-up costs a slow, memory-hungry hash.
        hit(
            _rate_key("register-ip", ip),
            limit=get_settings().registrations_per_hour,
            window_seconds=REGISTER_WINDOW_SECONDS,
        )
    checked = rules.check_registration(
        email=data.email,
        phone=data.phone,
        password=data.password,
        last_name=data.last_name,
        first_name=data.first_name,
        middle_name=data.middle_name,
    )
    email, phone = checked.email, checked.phone
    last_name, first_name, middle_name = checked.last_name, checked.first_name, checked.middle_name
    password_hash = hash_password(data.password)  # slow: done before the transaction
    uow = uow or UnitOfWork()
    with uow:
        same_login: list[ColumnElement[bool]] = []
        if email:
            same_login.append(User.email == email)
        if phone:
            same_login.append(User.phone == phone)
        if uow.session.scalar(select(User.id).where(or_(*same_login)).limit(1)) is not None:
            raise _account_exists()
        person = Person(last_name=last_name, first_name=first_name, middle_name=middle_name)
        uow.session.add(person)
        uow.session.flush()
        user = User(
            kind="citizen",
            person_id=person.id,
            email=email,
            phone=phone,
            password_hash=password_hash,
            display_name=rules.display_name(first_name, last_name),
            locale=current_locale(),
            # verified_at stays empty until the link sent to the e-mail or phone is opened
        )
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError as exc:  # the same log-in registered at the same moment
            raise _account_exists() from exc
        _send_verification(uow, user)
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def _send_verification(uow: UnitOfWork, user: User) -> None:
    raw = new_token()
    expires_at = utcnow() + VERIFY_LINK_LIFETIME
    uow.session.add(
        ContactVerification(user_id=user.id, token_hash=token_hash(raw), expires_at=expires_at)
    )
    # The link proves the person reads this e-mail or phone: never the in-app inbox.
    channels = [c for c, address in (("email", user.email), ("sms", user.phone)) if address]
    notify(
        uow.session,
        Recipient(user_id=user.id, locale=user.locale, email=user.email, phone=user.phone),
        kind="contact_verification",
        template="accounts/messages/verify_contact.txt",
        context={
            "name": user.display_name,
            "hours": int(VERIFY_LINK_LIFETIME.total_seconds() // 3600),
        },
        link=f"{get_settings().base_url}/verify/{raw}",
        channels=channels,
        expires_at=expires_at,
    )


def _invalid_verification_link() -> InvalidInput:
    return InvalidInput(
        "invalid_verification_token",
        N_(
            "This confirmation link is invalid, expired or already used. "
            "Log in to have a new one sent."
        ),
        field="token",
    )


def verify_contact(token: str, *, uow: UnitOfWork | None = None) -> None:
    """Confirm a new account's e-mail or phone with the link sent to it (once)."""
    uow = uow or UnitOfWork()
    with uow:
        now = utcnow()
        verification = uow.session.scalars(
            select(ContactVerification).where(ContactVerification.token_hash == token_hash(token))
        ).one_or_none()
        if verification is None:
            raise _invalid_verification_link()
        used = dml(
            uow.session,
            update(ContactVerification)
            .where(
                ContactVerification.id == verification.id,
                ContactVerification.used_at.is_(None),
                ContactVerification.expires_at > now,
            )
            .values(used_at=now),
        )
        if used.rowcount != 1:
            raise _invalid_verification_link()
        uow.session.execute(
            update(User)
            .where(User.id == verification.user_id, User.verified_at.is_(None))
            .values(verified_at=now)
        )
        uow.commit()


def resend_verification(principal: Principal | None, *, uow: UnitOfWork | None = None) -> None:
    """Send a new confirmation link to a citizen who has not confirmed yet."""
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    hit(
        f"verify-resend:{principal.user_id}",
        limit=VERIFY_RESENDS_PER_HOUR,
        window_seconds=RESET_WINDOW_SECONDS,
    )
    uow = uow or UnitOfWork()
    with uow:
        user = uow.session.get(User, principal.user_id)
        if user is None or user.verified_at is not None:
            return
        _send_verification(uow, user)
        uow.commit()


def confirm_contact(
    actor: Principal | None, identifier: str, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Mark the contact of the account with this e-mail or phone confirmed without the
    link: an administrator who checked it in person (actor None: the command line and the
    demo, trusted)."""
    if actor is not None:
        authorize(actor, Action.STAFF_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        user = _find_user(uow.session, identifier)
        if user is None:
            raise NotFound("user_not_found", N_("There is no such user."))
        if user.verified_at is None:
            user.verified_at = utcnow()
            audit.record(uow.session, actor, "user.confirm_contact", detail=f"user {user.id}")
        uow.session.flush()
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def registration_mistakes(fields: dict[str, str]) -> dict[str, str]:
    """Each mistake in a registration form's contacts, names and password, by field, in
    the user's language; nothing is read or written. A form refused before the checks of
    ``register_citizen`` ran (a required field left empty) shows these too."""
    try:
        rules.check_registration(
            email=fields.get("email"),
            phone=fields.get("phone"),
            password=fields.get("password", ""),
            last_name=fields.get("last_name", ""),
            first_name=fields.get("first_name", ""),
            middle_name=fields.get("middle_name"),
        )
    except InvalidFields as exc:
        return {error.field: error.translated() for error in exc.errors if error.field}
    except InvalidInput as exc:
        return {exc.field: exc.translated()} if exc.field else {}
    return {}


def login(
    identifier: str,
    password: str,
    *,
    user_agent: str | None,
    ip: str | None,
    uow: UnitOfWork | None = None,
) -> str:
    """Check the log-in and password; return a new browser session token."""
    uow = uow or UnitOfWork()
    with uow:
        user_id = _check_credentials(uow, identifier, password, ip)
        # Notifications follow the language the person uses the site in.
        _store_locale(uow, user_id, current_locale())
        token = new_token()
        uow.session.add(
            WebSession(
                token_hash=token_hash(token),
                user_id=user_id,
                expires_at=utcnow() + timedelta(days=get_settings().session_days),
                user_agent=user_agent[:300] if user_agent else None,
            )
        )
        uow.commit()
        return token


def _store_locale(uow: UnitOfWork, user_id: int, locale: str) -> None:
    uow.session.execute(
        update(User).where(User.id == user_id, User.locale != locale).values(locale=locale)
    )


def set_locale(user_id: int, locale: str, *, uow: UnitOfWork | None = None) -> None:
    """Remember the language a user chose, for the notifications sent to them."""
    if locale not in LOCALES:
        return
    uow = uow or UnitOfWork()
    with uow:
        _store_locale(uow, user_id, locale)
        uow.commit()


def logout(token: str, *, uow: UnitOfWork | None = None) -> None:
    """End a browser session."""
    uow = uow or UnitOfWork()
    with uow:
        uow.session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))
        uow.commit()


def issue_api_token(
    identifier: str,
    password: str,
    name: str,
    *,
    ip: str | None = None,
    uow: UnitOfWork | None = None,
) -> TokenRead:
    """Log a mobile app in: a bearer token, shown once (only its hash is kept)."""
    uow = uow or UnitOfWork()
    with uow:
        user = uow.session.get(User, _check_credentials(uow, identifier, password, ip))
        assert user is not None
        authorize(_principal(uow, user), Action.API_TOKEN_ISSUE)
        _store_locale(uow, user.id, current_locale())  # the app's language, for its messages
        raw = new_token()
        api_token = ApiToken(
            user_id=user.id,
            name=name.strip()[:100] or "app",
            token_hash=token_hash(raw),
            expires_at=utcnow() + API_TOKEN_LIFETIME,
        )
        uow.session.add(api_token)
        uow.session.flush()
        result = TokenRead(
            id=api_token.id,
            name=api_token.name,
            access_token=raw,
            expires_at=api_token.expires_at,
        )
        uow.commit()
        return result


def revoke_api_token(token: str, *, uow: UnitOfWork | None = None) -> None:
    """Revoke a bearer token (an app logging out)."""
    uow = uow or UnitOfWork()
    with uow:
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        uow.commit()


# --- Password reset ----------------------------------------------------------------


def recipient_for_user(session: Session, user_id: int) -> Recipient:
    """Where and in which language a user is notified."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", N_("There is no such user."))
    return Recipient(user_id=user.id, locale=user.locale, email=user.email, phone=user.phone)


def request_password_reset(
    identifier: str, *, ip: str | None, uow: UnitOfWork | None = None
) -> None:
    """Send a one-hour reset link if the account exists (same answer if it does not)."""
    settings = get_settings()
    limit = settings.reset_requests_per_hour
    hit(
        _rate_key("reset", _identifier_key(identifier)),
        limit=limit,
        window_seconds=RESET_WINDOW_SECONDS,
    )
    if ip:
        hit(
            _rate_key("reset-ip", ip),
            limit=limit * PER_ADDRESS_FACTOR,
            window_seconds=RESET_WINDOW_SECONDS,
        )
    uow = uow or UnitOfWork()
    with uow:
        user = _find_user(uow.session, identifier)
        if user is None or not user.is_active:
            return
        raw = new_token()
        expires_at = utcnow() + RESET_LINK_LIFETIME
        uow.session.add(
            PasswordResetToken(user_id=user.id, token_hash=token_hash(raw), expires_at=expires_at)
        )
        recipient = recipient_for_user(uow.session, user.id)
        # A reset link goes where only the owner reads it; the inbox needs a log-in,
        # so it is the last resort.
        channels = [
            channel
            for channel, address in (("email", recipient.email), ("sms", recipient.phone))
            if address
        ] or ["inbox"]
        notify(
            uow.session,
            recipient,
            kind="password_reset",
            template="accounts/messages/password_reset.txt",
            context={
                "name": user.display_name,
                "minutes": int(RESET_LINK_LIFETIME.total_seconds() // 60),
            },
            link=f"{settings.base_url}/reset/{raw}",
            channels=channels,
            expires_at=expires_at,
        )
        uow.commit()


def _invalid_reset_link() -> InvalidInput:
    return InvalidInput(
        "invalid_reset_token",
        N_(
            "This password reset link is invalid, expired or already used. "
            "Please request a new one."
        ),
        field="token",
    )


def reset_password(token: str, new_password: str, *, uow: UnitOfWork | None = None) -> None:
    """Set a new password with a reset link (once) and log the user out everywhere."""
    uow = uow or UnitOfWork()
    with uow:
        now = utcnow()
        reset = uow.session.scalars(
            select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash(token))
        ).one_or_none()
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise _invalid_reset_link()
        user = uow.session.get(User, reset.user_id)
        assert user is not None  # the foreign key cascades
        rules.check_password(new_password, email=user.email, phone=user.phone, field="new_password")
        user_id, reset_id = user.id, reset.id
        uow.rollback()  # the slow hash below needs no lock
        password_hash = hash_password(new_password)
        # Two tabs submitting the same link at once: only the one that marks it used wins.
        used = dml(
            uow.session,
            update(PasswordResetToken)
            .where(
                PasswordResetToken.id == reset_id,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > now,
            )
            .values(used_at=now),
        )
        if used.rowcount != 1:
            raise _invalid_reset_link()
        uow.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=password_hash, password_changed_at=now)
        )
        # Whoever knew the old password is logged out: browsers, apps, other reset links.
        uow.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        uow.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
            .values(used_at=now)
        )
        uow.commit()


# --- Profile and family ------------------------------------------------------------


def _own_person(uow: UnitOfWork, principal: Principal) -> Person:
    person = uow.session.get(Person, principal.person_id) if principal.person_id else None
    if person is None:
        raise NotFound("person_not_found", N_("Your profile was not found."))
    return person


def _children(session: Session, guardian_id: int) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .join(FamilyLink, FamilyLink.child_id == Person.id)
            .where(FamilyLink.guardian_id == guardian_id)
            .order_by(Person.birth_date, Person.id)
        )
    )


def _profile(session: Session, principal: Principal, person: Person) -> ProfileRead:
    user = session.get(User, principal.user_id)
    assert user is not None
    return ProfileRead(
        user_id=user.id,
        email=user.email,
        phone=rules.mask_phone(user.phone) if user.phone else None,
        locale=user.locale,
        person=_person_read(person),
        children=[_person_read(child) for child in _children(session, person.id)],
    )


_DOCUMENT_TAKEN = {
    "snils": (
        "snils_taken",
        N_(
            "This SNILS is already registered to another person. "
            "If it is yours, please contact a registry office."
        ),
    ),
    "oms_policy": (
        "oms_policy_taken",
        N_(
            "This policy number is already registered to another person. "
            "If it is yours, please contact a registry office."
        ),
    ),
    "passport": (
        "passport_taken",
        N_(
            "This passport is already registered to another person. "
            "If it is yours, please contact a registry office."
        ),
    ),
}


def _refuse_taken_documents(
    session: Session, person_id: int | None, documents: dict[str, ColumnElement[bool]]
) -> None:
    """Conflict if a document is registered to someone other than ``person_id``."""
    for field, condition in documents.items():
        query = select(Person.id).where(condition)
        if person_id is not None:
            query = query.where(Person.id != person_id)
        if session.scalar(query.limit(1)) is not None:
            code, message = _DOCUMENT_TAKEN[field]
            raise Conflict(code, message, field=field)


def _documents_taken() -> Conflict:
    return Conflict(
        "document_taken",
        N_("One of these documents is already registered to another person."),
    )


def get_profile(principal: Principal | None, *, uow: UnitOfWork | None = None) -> ProfileRead:
    """The citizen's own profile and children, documents masked."""
    principal = authorize(principal, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        return _profile(uow.session, principal, _own_person(uow, principal))


def update_profile(
    principal: Principal | None, data: ProfileUpdate, *, uow: UnitOfWork | None = None
) -> ProfileRead:
    """Change the citizen's names, date of birth and documents (checked, unique)."""
    principal = authorize(principal, Action.OWN_PROFILE_EDIT)
    given = data.model_fields_set
    changes: dict[str, object] = {}
    for name in ("last_name", "first_name", "middle_name"):
        if name in given:
            value = getattr(data, name)
            if value:
                changes[name] = rules.normalize_name(value, field=name)
            elif name == "middle_name":
                changes[name] = None
            else:
                raise InvalidInput("required", N_("This field is required."), field=name)
    if "birth_date" in given:
        if data.birth_date is not None:
            rules.check_birth_date(data.birth_date, today=city_today())
        changes["birth_date"] = data.birth_date
    if "sex" in given:
        changes["sex"] = data.sex
    if "snils" in given:
        changes["snils"] = rules.normalize_snils(data.snils) if data.snils else None
    if "oms_policy" in given:
        changes["oms_policy"] = (
            rules.normalize_oms_policy(data.oms_policy) if data.oms_policy else None
        )
    if "passport" in given:
        passport = rules.normalize_passport(data.passport) if data.passport else None
        changes["passport_series"] = passport.series if passport else None
        changes["passport_number"] = passport.number if passport else None
    uow = uow or UnitOfWork()
    with uow:
        person = _own_person(uow, principal)
        documents: dict[str, ColumnElement[bool]] = {}
        if changes.get("snils"):
            documents["snils"] = Person.snils == changes["snils"]
        if changes.get("oms_policy"):
            documents["oms_policy"] = Person.oms_policy == changes["oms_policy"]
        if changes.get("passport_series"):
            documents["passport"] = (Person.passport_series == changes["passport_series"]) & (
                Person.passport_number == changes["passport_number"]
            )
        _refuse_taken_documents(uow.session, person.id, documents)
        for name, value in changes.items():
            setattr(person, name, value)
        if {"first_name", "last_name"} & changes.keys():
            uow.session.execute(
                update(User)
                .where(User.id == principal.user_id)
                .values(display_name=rules.display_name(person.first_name, person.last_name))
            )
        try:
            uow.session.flush()
        except IntegrityError as exc:  # registered by someone else at the same moment
            raise _documents_taken() from exc
        result = _profile(uow.session, principal, person)
        uow.commit()
        return result


def add_child(
    principal: Principal | None, data: ChildCreate, *, uow: UnitOfWork | None = None
) -> PersonRead:
    """Add a child to the citizen's family, so they can act for the child."""
    principal = authorize(principal, Action.OWN_PROFILE_EDIT)
    last_name = rules.normalize_name(data.last_name, field="last_name")
    first_name = rules.normalize_name(data.first_name, field="first_name")
    middle_name = (
        rules.normalize_name(data.middle_name, field="middle_name") if data.middle_name else None
    )
    rules.check_child_birth_date(data.birth_date, today=city_today())
    snils = rules.normalize_snils(data.snils) if data.snils else None
    oms_policy = rules.normalize_oms_policy(data.oms_policy) if data.oms_policy else None
    uow = uow or UnitOfWork()
    with uow:
        guardian = _own_person(uow, principal)
        count = uow.session.scalar(
            select(func.count())
            .select_from(FamilyLink)
            .where(FamilyLink.guardian_id == guardian.id)
        )
        if (count or 0) >= MAX_CHILDREN:
            raise Conflict(
                "too_many_children",
                N_(
                    "A family can have at most %(max)s children here. "
                    "Please contact a registry office."
                ),
                max=MAX_CHILDREN,
            )
        documents: dict[str, ColumnElement[bool]] = {}
        if snils:
            documents["snils"] = Person.snils == snils
        if oms_policy:
            documents["oms_policy"] = Person.oms_policy == oms_policy
        # A child already in the register is not linked by knowing its documents alone:
        # that would let anyone claim someone else's child.
        _refuse_taken_documents(uow.session, None, documents)
        child = Person(
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            birth_date=data.birth_date,
            sex=data.sex,
            snils=snils,
            oms_policy=oms_policy,
        )
        uow.session.add(child)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise _documents_taken() from exc
        uow.session.add(FamilyLink(guardian_id=guardian.id, child_id=child.id, relation="parent"))
        uow.session.flush()
        # Announced, so that an account taken over cannot quietly claim children.
        notify(
            uow.session,
            recipient_for_user(uow.session, principal.user_id),
            kind="child_added",
            template="accounts/messages/child_added.txt",
            context={
                "name": principal.display_name,
                "child": " ".join(filter(None, (last_name, first_name, middle_name))),
            },
            link=f"{get_settings().base_url}/cabinet",
        )
        result = _person_read(child)
        uow.commit()
        return result


def list_family(principal: Principal | None, *, uow: UnitOfWork | None = None) -> list[PersonRead]:
    """The citizen's children, documents masked."""
    principal = authorize(principal, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        guardian = _own_person(uow, principal)
        return [_person_read(child) for child in _children(uow.session, guardian.id)]


def acts_for(principal: Principal, person_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Whether a citizen may act for this person: themself or one of their children."""
    if principal.person_id is None:
        return False
    if principal.person_id == person_id:
        return True
    uow = uow or UnitOfWork()
    with uow:
        link = uow.session.get(FamilyLink, (principal.person_id, person_id))
        return link is not None


# --- Staff -------------------------------------------------------------------------


def _staff_role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        role = Role.CITIZEN
    if role not in STAFF_ROLES:
        raise InvalidInput("invalid_role", N_("Unknown staff role."), field="role")
    return role


def _check_role_organisation(uow: UnitOfWork, role: Role, organisation_id: int | None) -> None:
    """A city-wide role takes no organisation; any other, one of the right kind."""
    expected_kind = ROLE_ORGANISATION_KIND[role]
    if expected_kind is None:
        if organisation_id is not None:
            raise InvalidInput(
                "role_is_city_wide",
                N_("This role is city-wide: choose no organisation."),
                field="organisation_id",
            )
        return
    if organisation_id is None:
        raise InvalidInput(
            "organisation_required",
            N_("Choose the organisation for this role."),
            field="organisation_id",
        )
    try:
        organisation = city.get_organisation(organisation_id, uow=uow)
    except NotFound as exc:
        raise InvalidInput(
            "organisation_not_found",
            N_("There is no such organisation."),
            field="organisation_id",
        ) from exc
    if organisation.kind != expected_kind:
        raise InvalidInput(
            "organisation_kind_mismatch",
            N_("This role belongs to another kind of organisation."),
            field="organisation_id",
        )


def create_staff_account(
    data: StaffCreate, actor: Principal | None, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Create a staff account with one role (city administrators; ``SYSTEM``: the CLI)."""
    actor = authorize(actor, Action.STAFF_MANAGE, data.organisation_id)
    email = rules.normalize_email(data.email)
    role = _staff_role(data.role)
    display_name = " ".join(data.display_name.split())
    if not display_name:
        raise InvalidInput("required", N_("This field is required."), field="display_name")
    rules.check_password(data.password, email=email)
    password_hash = hash_password(data.password)
    uow = uow or UnitOfWork()
    with uow:
        _check_role_organisation(uow, role, data.organisation_id)
        if uow.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise _account_exists()
        user = User(
            kind="staff",
            email=email,
            password_hash=password_hash,
            display_name=display_name,
            locale=current_locale(),
            verified_at=utcnow(),  # an administrator made it: nothing to confirm
        )
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise _account_exists() from exc
        uow.session.add(
            StaffRole(user_id=user.id, role=role.value, organisation_id=data.organisation_id)
        )
        uow.session.flush()
        audit.record(
            uow.session,
            actor,
            "staff.create",
            organisation_id=data.organisation_id,
            detail=f"user {user.id} role {role.value}",
        )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def _staff_user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.session.get(User, user_id)
    if user is None or user.kind != "staff":
        raise NotFound("staff_not_found", N_("There is no such staff member."))
    return user


def _grant_query(user_id: int, role: Role, organisation_id: int | None) -> ColumnElement[bool]:
    org = (
        StaffRole.organisation_id.is_(None)
        if organisation_id is None
        else StaffRole.organisation_id == organisation_id
    )
    return (StaffRole.user_id == user_id) & (StaffRole.role == role.value) & org


def grant_role(
    actor: Principal | None, user_id: int, data: GrantCreate, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Give a staff member another role (in an organisation or city-wide)."""
    authorize(actor, Action.STAFF_MANAGE, data.organisation_id)
    role = _staff_role(data.role)
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        _check_role_organisation(uow, role, data.organisation_id)
        # NULLs never collide in a unique constraint, so city-wide duplicates are
        # caught here rather than by the database.
        if uow.session.scalar(
            select(StaffRole.id).where(_grant_query(user_id, role, data.organisation_id))
        ):
            raise Conflict("role_already_granted", N_("This role is already granted."))
        uow.session.add(
            StaffRole(user_id=user_id, role=role.value, organisation_id=data.organisation_id)
        )
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict("role_already_granted", N_("This role is already granted.")) from exc
        audit.record(
            uow.session,
            actor,
            "staff.grant",
            organisation_id=data.organisation_id,
            detail=f"user {user_id} role {role.value}",
        )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def revoke_role(
    actor: Principal | None, user_id: int, data: GrantCreate, *, uow: UnitOfWork | None = None
) -> UserRead:
    """Take a role away from a staff member (the city keeps at least one administrator)."""
    authorize(actor, Action.STAFF_MANAGE, data.organisation_id)
    role = _staff_role(data.role)
    uow = uow or UnitOfWork()
    with uow:
        user = _staff_user(uow, user_id)
        if role is Role.CITY_ADMIN:
            others = uow.session.scalar(
                select(func.count())
                .select_from(StaffRole)
                .join(User, User.id == StaffRole.user_id)
                .where(
                    StaffRole.role == Role.CITY_ADMIN.value,
                    StaffRole.user_id != user_id,
                    User.is_active.is_(True),
                )
            )
            if not others:
                raise Conflict(
                    "last_city_admin", N_("The city must keep at least one administrator.")
                )
        removed = dml(
            uow.session, delete(StaffRole).where(_grant_query(user_id, role, data.organisation_id))
        )
        if removed.rowcount == 0:
            raise NotFound("grant_not_found", N_("This staff member does not have this role."))
        audit.record(
            uow.session,
            actor,
            "staff.revoke",
            organisation_id=data.organisation_id,
            detail=f"user {user_id} role {role.value}",
        )
        result = _user_read(uow.session, user)
        uow.commit()
        return result


def list_staff(actor: Principal | None, *, uow: UnitOfWork | None = None) -> list[UserRead]:
    """Every staff account with its roles (city administrators)."""
    authorize(actor, Action.STAFF_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        users = uow.session.scalars(
            select(User).where(User.kind == "staff").order_by(User.display_name, User.id)
        )
        return [_user_read(uow.session, user) for user in users]


def get_workplace(principal: Principal | None, *, uow: UnitOfWork | None = None) -> WorkplaceRead:
    """A staff member's roles and the organisations they hold them in."""
    principal = authorize(principal, Action.WORKPLACE_OPEN)
    uow = uow or UnitOfWork()
    with uow:
        roles = []
        for grant in principal.grants:
            if grant.role is Role.CITIZEN:
                continue
            name = None
            if grant.organisation_id is not None:
                name = city.get_organisation(grant.organisation_id, uow=uow).name
            roles.append(
                WorkplaceRoleRead(
                    role=grant.role.value,
                    organisation_id=grant.organisation_id,
                    organisation_name=name,
                )
            )
        return WorkplaceRead(
            user_id=principal.user_id, display_name=principal.display_name, roles=roles
        )


def lookup_citizen(
    principal: Principal | None, query: str, *, uow: UnitOfWork | None = None
) -> list[CitizenRecordRead]:
    """Find a citizen by SNILS, OMS policy or phone (exact match); every access is audited."""
    principal = authorize(principal, Action.CITIZEN_LOOKUP)
    hit(
        f"lookup:{principal.user_id}",
        limit=get_settings().lookups_per_minute,
        window_seconds=LOOKUP_WINDOW_SECONDS,
    )
    parsed = rules.parse_lookup_query(query)
    uow = uow or UnitOfWork()
    with uow:
        conditions: list[ColumnElement[bool]] = []
        if parsed.snils:
            conditions.append(Person.snils == parsed.snils)
        if parsed.oms_policy:
            conditions.append(Person.oms_policy == parsed.oms_policy)
        if parsed.phone:
            conditions.append(
                Person.id.in_(select(User.person_id).where(User.phone == parsed.phone))
            )
        persons = uow.session.scalars(
            select(Person).where(or_(*conditions)).order_by(Person.id).limit(LOOKUP_MAX_RESULTS)
        ).all()
        fields = rules.lookup_fields(principal.roles)
        records = [_citizen_record(uow.session, person, fields) for person in persons]
        for person in persons:
            audit.record(
                uow.session,
                principal,
                "citizen.lookup",
                subject_person_id=person.id,
                detail=f"{parsed.describe()}: found",
            )
        if not persons:
            audit.record(
                uow.session, principal, "citizen.lookup", detail=f"{parsed.describe()}: not found"
            )
        uow.commit()
        return records


def _citizen_record(session: Session, person: Person, fields: frozenset[str]) -> CitizenRecordRead:
    """What of ``person`` the look-up shows: the name and ``fields`` (nothing else is read)."""
    record = CitizenRecordRead(
        person_id=person.id,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
    )
    if "birth_date" in fields:
        record.birth_date = person.birth_date
    if "snils" in fields and person.snils:
        record.snils = rules.format_snils(person.snils)
    if "oms_policy" in fields:
        record.oms_policy = person.oms_policy
    if "passport" in fields and person.passport_series and person.passport_number:
        record.passport = f"{person.passport_series} {person.passport_number}"
    if fields & {"phone", "email"}:
        user = session.scalars(select(User).where(User.person_id == person.id)).one_or_none()
        if user is not None:
            record.phone = user.phone if "phone" in fields else None
            record.email = user.email if "email" in fields else None
    if "guardians" in fields:
        rows = session.execute(
            select(Person.id, Person.last_name, Person.first_name, User.phone)
            .join(FamilyLink, FamilyLink.guardian_id == Person.id)
            .outerjoin(User, User.person_id == Person.id)
            .where(FamilyLink.child_id == person.id)
            .order_by(Person.id)
        )
        record.guardians = [
            GuardianContactRead(
                person_id=row.id,
                last_name=row.last_name,
                first_name=row.first_name,
                phone=row.phone,
            )
            for row in rows
        ]
    return record


def list_audit(
    principal: Principal | None, filters: AuditFilter, *, uow: UnitOfWork | None = None
) -> list[AuditEntryRead]:
    """Audit entries, newest first (city administrators)."""
    authorize(principal, Action.AUDIT_READ)
    uow = uow or UnitOfWork()
    with uow:
        query = select(AuditEntry, User.display_name).outerjoin(
            User, User.id == AuditEntry.actor_user_id
        )
        for column, value in (
            (AuditEntry.action, filters.action),
            (AuditEntry.actor_user_id, filters.actor_user_id),
            (AuditEntry.subject_person_id, filters.subject_person_id),
            (AuditEntry.organisation_id, filters.organisation_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.since is not None:
            query = query.where(AuditEntry.at >= filters.since)
        if filters.until is not None:
            query = query.where(AuditEntry.at < filters.until)
        query = (
            query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(filters.limit)
            .offset(filters.offset)
        )
        return [
            AuditEntryRead(
                id=entry.id,
                at=entry.at,
                actor_user_id=entry.actor_user_id,
                actor_name=actor_name,
                actor_role=entry.actor_role,
                organisation_id=entry.organisation_id,
                action=entry.action,
                subject_person_id=entry.subject_person_id,
                detail=entry.detail,
                request_id=entry.request_id,
            )
            for entry, actor_name in uow.session.execute(query)
        ]


# --- Devices -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceIdentity:
    """A machine that authenticated with its key."""

    device_id: int
    organisation_id: int
    kind: str
    name: str


def register_device(
    actor: Principal | None, data: DeviceKeyCreate, *, uow: UnitOfWork | None = None
) -> tuple[DeviceKeyRead, str]:
    """Issue a key for a turnstile, till, RADIUS server...: the raw key is returned once."""
    authorize(actor, Action.DEVICE_KEY_ISSUE, data.organisation_id)
    if data.kind not in DEVICE_KINDS:
        raise InvalidInput("invalid_device_kind", N_("Unknown kind of device."), field="kind")
    uow = uow or UnitOfWork()
    with uow:
        try:
            city.get_organisation(data.organisation_id, uow=uow)
        except NotFound as exc:
            raise InvalidInput(
                "organisation_not_found",
                N_("There is no such organisation."),
                field="organisation_id",
            ) from exc
        raw = "dev_" + new_token()
        device = DeviceKey(
            organisation_id=data.organisation_id,
            kind=data.kind,
            name=data.name,
            key_hash=token_hash(raw),
        )
        uow.session.add(device)
        uow.session.flush()
        audit.record(
            uow.session,
            actor,
            "device_key.issue",
            organisation_id=data.organisation_id,
            detail=f"device {device.id} {data.kind}",
        )
        result = DeviceKeyRead.model_validate(device)
        uow.commit()
        return result, raw


def revoke_device(
    actor: Principal | None, device_id: int, *, uow: UnitOfWork | None = None
) -> DeviceKeyRead:
    """Revoke a device's key (a stolen till, a decommissioned turnstile)."""
    uow = uow or UnitOfWork()
    with uow:
        device = uow.session.get(DeviceKey, device_id)
        if device is None:
            authorize(actor, Action.DEVICE_KEY_ISSUE)
            raise NotFound("device_not_found", N_("There is no such device."))
        authorize(actor, Action.DEVICE_KEY_ISSUE, device.organisation_id)
        if device.revoked_at is None:
            device.revoked_at = utcnow()
            audit.record(
                uow.session,
                actor,
                "device_key.revoke",
                organisation_id=device.organisation_id,
                detail=f"device {device.id}",
            )
        uow.session.flush()
        result = DeviceKeyRead.model_validate(device)
        uow.commit()
        return result


def authenticate_device(raw_key: str, *, uow: UnitOfWork | None = None) -> DeviceIdentity:
    """The device behind a key, or Unauthenticated when the key is unknown or revoked."""
    uow = uow or UnitOfWork()
    with uow:
        device = uow.session.scalars(
            select(DeviceKey).where(
                DeviceKey.key_hash == token_hash(raw_key), DeviceKey.revoked_at.is_(None)
            )
        ).one_or_none()
        if device is None:
            raise Unauthenticated("invalid_device_key", N_("The device key is invalid or revoked."))
        now = utcnow()
        uow.session.execute(
            update(DeviceKey)
            .where(
                DeviceKey.id == device.id,
                or_(
                    DeviceKey.last_seen_at.is_(None),
                    DeviceKey.last_seen_at < now - DEVICE_SEEN_RESOLUTION,
                ),
            )
            .values(last_seen_at=now)
        )
        identity = DeviceIdentity(
            device_id=device.id,
            organisation_id=device.organisation_id,
            kind=device.kind,
            name=device.name,
        )
        uow.commit()
        return identity


# --- The register, for other services ------------------------------------------------
# Read-only look-ups other services make inside their own transaction (they take the
# caller's session), so that, say, a booking stays one transaction.


@dataclass(frozen=True)
class PersonFacts:
    """What another service may know of a person: who, how old, and their sex (female,
    male, or None when not stated)."""

    person_id: int
    birth_date: date | None
    first_name: str
    sex: str | None = None


def person_by_policy(session: Session, oms_policy: str) -> PersonFacts | None:
    """The person holding this OMS policy number (any format; invalid → refused)."""
    policy = rules.normalize_oms_policy(oms_policy)
    row = session.execute(
        select(Person.id, Person.birth_date, Person.first_name, Person.sex).where(
            Person.oms_policy == policy
        )
    ).one_or_none()
    return PersonFacts(row.id, row.birth_date, row.first_name, row.sex) if row else None


def person_by_id(session: Session, person_id: int) -> PersonFacts | None:
    """The person with this id, if any."""
    row = session.execute(
        select(Person.id, Person.birth_date, Person.first_name, Person.sex).where(
            Person.id == person_id
        )
    ).one_or_none()
    return PersonFacts(row.id, row.birth_date, row.first_name, row.sex) if row else None


def person_names(session: Session, person_ids: Iterable[int]) -> dict[int, str]:
    """Full names ("Last First Middle") of these persons, for another service's staff
    pages; the caller audits the access in the same transaction."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Person.id, Person.last_name, Person.first_name, Person.middle_name).where(
            Person.id.in_(ids)
        )
    )
    return {
        row.id: " ".join(p for p in (row.last_name, row.first_name, row.middle_name) if p)
        for row in rows
    }


def users_to_notify(session: Session, person_id: int) -> list[int]:
    """The active accounts that hear about a person: their own and their guardians'
    (a child has no account of its own)."""
    # The published view is the one definition (health reads it in its own statements).
    return list(
        session.scalars(
            select(PERSON_CONTACTS.c.user_id)
            .where(PERSON_CONTACTS.c.person_id == person_id)
            .order_by(PERSON_CONTACTS.c.user_id)
        )
    )


def normalize_oms_policy(value: str) -> str:
    """An OMS policy number as 16 digits, or ``InvalidInput("invalid_oms_policy")``."""
    return rules.normalize_oms_policy(value)


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """A Russian phone number in E.164 (+7XXXXXXXXXX), or ``InvalidInput("invalid_phone")``."""
    return rules.normalize_phone(value, field=field)


def staff_of_organisation(session: Session, organisation_id: int, role: Role) -> dict[int, str]:
    """The active staff accounts holding ``role`` in this organisation, by user id with
    their display names (a clinic's doctors, for its administrator's post form)."""
    rows = session.execute(
        select(User.id, User.display_name)
        .join(StaffRole, StaffRole.user_id == User.id)
        .where(
            StaffRole.organisation_id == organisation_id,
            StaffRole.role == role.value,
            User.is_active.is_(True),
        )
        .order_by(User.display_name, User.id)
    )
    return {row.id: row.display_name for row in rows}


def persons_by_name_and_birth(
    session: Session, last_name: str, birth_date: date, *, limit: int = 20
) -> list[PersonFacts]:
    """The persons with this surname (as typed, or written as a name is) born on this
    date, for a registrar's desk; the caller limits who may ask and audits what is shown."""
    typed = " ".join(last_name.split())
    # SQLite's lower() knows only ASCII, so the spellings are listed, not lower-cased.
    spellings = {typed, typed.capitalize(), typed.title()}
    rows = session.execute(
        select(Person.id, Person.birth_date, Person.first_name, Person.sex)
        .where(
            Person.last_name.in_(sorted(spellings)),
            Person.birth_date == birth_date,
        )
        .order_by(Person.id)
        .limit(limit)
    )
    return [PersonFacts(row.id, row.birth_date, row.first_name, row.sex) for row in rows]
