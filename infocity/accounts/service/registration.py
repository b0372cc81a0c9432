"""A citizen signing up, and confirming the e-mail or phone they signed up with."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError

from infocity.accounts import rules
from infocity.accounts.errors import (
    AccountExists,
    InvalidVerificationLink,
    LoginRequired,
    UserNotFound,
)
from infocity.accounts.models import ContactVerification, Person, User
from infocity.accounts.schemas import CitizenCreate, UserRead
from infocity.accounts.service.base import (
    REGISTER_WINDOW_SECONDS,
    RESET_WINDOW_SECONDS,
    _find_user,
    _rate_key,
    _user_read,
)
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.errors import InvalidFields, InvalidInput
from infocity.core.i18n import current_locale
from infocity.core.outbox import Recipient, notify
from infocity.core.ratelimit import hit
from infocity.core.security import hash_password, new_token, token_hash
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

VERIFY_LINK_LIFETIME = timedelta(days=1)


VERIFY_RESENDS_PER_HOUR = 3


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
            raise AccountExists()
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
            raise AccountExists() from exc
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


def verify_contact(token: str, *, uow: UnitOfWork | None = None) -> None:
    """Confirm a new account's e-mail or phone with the link sent to it (once)."""
    uow = uow or UnitOfWork()
    with uow:
        now = utcnow()
        verification = uow.session.scalars(
            select(ContactVerification).where(ContactVerification.token_hash == token_hash(token))
        ).one_or_none()
        if verification is None:
            raise InvalidVerificationLink()
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
            raise InvalidVerificationLink()
        uow.session.execute(
            update(User)
            .where(User.id == verification.user_id, User.verified_at.is_(None))
            .values(verified_at=now)
        )
        uow.commit()


def resend_verification(actor: Principal | None, *, uow: UnitOfWork | None = None) -> None:
    """Send a new confirmation link to a citizen who has not confirmed yet."""
    if actor is None:
        raise LoginRequired()
    hit(
        f"verify-resend:{actor.user_id}",
        limit=VERIFY_RESENDS_PER_HOUR,
        window_seconds=RESET_WINDOW_SECONDS,
    )
    uow = uow or UnitOfWork()
    with uow:
        user = uow.session.get(User, actor.user_id)
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
            raise UserNotFound()
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
