"""The captive portal: a new device arrives from the controller's redirect with its MAC
and hotspot; the person is identified by a code sent by SMS to their phone (or by their
portal account, or by the portal's signed cookie) and the device is bound to them."""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.connectivity import errors, rules
from infocity.connectivity.models import WifiCode, WifiDevice, WifiHotspot, WifiNetwork
from infocity.connectivity.rules import CodeMove, CodeState
from infocity.connectivity.schemas import (
    BindingRead,
    CodeConfirm,
    CodeRequest,
    CodeSent,
    DeviceBind,
    PortalContext,
)
from infocity.connectivity.service.base import (
    DEVICES,
    IDENTITIES,
    IDENTITY_LOG,
    _hotspot_by_nas,
)
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.i18n import current_locale
from infocity.core.outbox import Recipient, notify
from infocity.core.ratelimit import Limit, hit_many
from infocity.core.security import token_hash
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork

# The cookie that keeps a person known to the portal: it names their identity, signed
# with the city's secret, valid as long as a binding.
IDENTITY_COOKIE = "infocity_wifi"
IDENTITY_COOKIE_SECONDS = rules.DEFAULT_BINDING_DAYS * 86400
OTHER = IDENTITIES.alias("other")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="wifi-identity")


def identity_cookie(identity_id: int) -> str:
    """The signed value of the portal's cookie for ``identity_id``."""
    return _serializer().dumps(identity_id)


def _identity_from_cookie(value: str | None) -> int | None:
    if not value:
        return None
    try:
        identity_id = _serializer().loads(value, max_age=IDENTITY_COOKIE_SECONDS)
    except BadSignature:
        return None
    return identity_id if isinstance(identity_id, int) else None


def _mac(value: str) -> str:
    mac = rules.normalize_mac(value)
    if mac is None:
        raise errors.InvalidMac()
    return mac


def _bindings(session: Session, mac: str) -> list[rules.Binding]:
    return [
        rules.Binding(network_id, bound_at, expires_at)
        for network_id, bound_at, expires_at in session.execute(
            select(WifiDevice.network_id, WifiDevice.bound_at, WifiDevice.expires_at).where(
                WifiDevice.mac == mac
            )
        )
    ]


def open_portal(
    actor: Principal | None,
    mac: str,
    hotspot: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PortalContext:
    """What the portal shows a device the controller sent: the hotspot, and whether the
    device already passes here (then the controller let it through already)."""
    now = now or utcnow()
    device = _mac(mac)
    uow = uow or UnitOfWork()
    with uow:
        spot, network = _hotspot_by_nas(uow.session, hotspot)
        bindings = _bindings(uow.session, device)
        passing = [b.expires_at for b in bindings if rules.passes([b], network.id, now)]
        return PortalContext(
            mac=device,
            randomised=rules.is_randomised_mac(device),
            hotspot_id=spot.id,
            hotspot_name=spot.name,
            network_name=network.name,
            bound_until=max(passing) if passing else None,
        )


def _count_sms(uow: UnitOfWork, phone: str, mac: str, ip: str | None, now: datetime) -> None:
    """Count the send per phone, device and address before anything is written (committed
    even when the send is then refused); keys are digests, so counters hold no number."""
    phone_key = token_hash(phone)[:40]
    hit_many(
        uow.session,
        [Limit(f"wifi-sms-cooldown:{phone_key}", 1)],
        window_seconds=rules.SMS_COOLDOWN_SECONDS,
        now=now,
    )
    limits = [
        Limit(f"wifi-sms-phone:{phone_key}", rules.SMS_PER_PHONE_A_DAY),
        Limit(f"wifi-sms-device:{token_hash(mac)[:40]}", rules.SMS_PER_DEVICE_A_DAY),
    ]
    if ip:
        limits.append(Limit(f"wifi-sms-ip:{token_hash(ip)[:40]}", rules.SMS_PER_ADDRESS_A_DAY))
    hit_many(uow.session, limits, window_seconds=rules.SMS_DAY_SECONDS, now=now)


def request_wifi_code(
    actor: Principal | None,
    data: CodeRequest,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CodeSent:
    """Send a 6-digit code by SMS to the phone a person entered at the portal, for the
    device at the hotspot; valid 5 minutes, 3 attempts."""
    now = now or utcnow()
    device = _mac(data.mac)
    phone = rules.normalize_phone(data.phone)
    if phone is None:
        raise errors.InvalidPhone()
    uow = uow or UnitOfWork()
    with uow:
        _count_sms(uow, phone, device, ip, now)
        spot, _ = _hotspot_by_nas(uow.session, data.hotspot)
        challenge = uuid.uuid4().hex
        code = rules.new_code()
        expires_at = now + rules.CODE_VALID
        uow.session.add(
            WifiCode(
                id=challenge,
                phone=phone,
                mac=device,
                hotspot_id=spot.id,
                code_digest=rules.code_digest(get_settings().secret_key, challenge, code),
                state=CodeState.SENT.value,
                attempts=0,
                expires_at=expires_at,
                created_at=now,
            )
        )
        notify(
            uow.session,
            Recipient(user_id=None, locale=current_locale(), phone=phone),
            kind="wifi_code",
            template="connectivity/messages/wifi_code.txt",
            context={"code": code, "minutes": int(rules.CODE_VALID.total_seconds() // 60)},
            channels=["sms"],
            expires_at=expires_at,
        )
        uow.commit()
    return CodeSent(
        challenge=challenge, phone_masked=rules.mask_phone(phone), expires_at=expires_at
    )


def _take_guess(uow: UnitOfWork, code: WifiCode, typed: str, now: datetime) -> None:
    """Check the typed code against the digest (constant time). A wrong guess counts,
    committed before the refusal; the last one exhausts the code. Each step is an update
    guarded by the attempts seen, so two guesses at once cannot both be the third."""
    expected = rules.code_digest(get_settings().secret_key, code.id, typed)
    right = hmac.compare_digest(code.code_digest, expected)
    attempts = code.attempts + 1
    if right:
        move = CodeMove.CONFIRM
    elif attempts >= rules.CODE_ATTEMPTS:
        move = CodeMove.LAST_WRONG_GUESS
    else:
        move = CodeMove.WRONG_GUESS
    taken = dml(
        uow.session,
        update(WifiCode)
        .where(
            WifiCode.id == code.id,
            WifiCode.state.in_(rules.states_before(move)),
            WifiCode.attempts == code.attempts,
            WifiCode.expires_at > now,
        )
        .values(state=rules.next_state(CodeState(code.state), move).value, attempts=attempts),
    ).rowcount
    if taken != 1:
        raise errors.CodeNotValid()
    if not right:
        uow.commit()
        if move is CodeMove.LAST_WRONG_GUESS:
            raise errors.CodeNotValid()
        raise errors.CodeWrong(left=rules.CODE_ATTEMPTS - attempts)


def _identity(session: Session, *, phone: str | None, user_id: int | None, now: datetime) -> int:
    """The identity of ``phone`` (or of the account), made on first use."""
    insert = upsert_insert(session)
    dml(
        session,
        insert(IDENTITIES)
        .values(phone=phone, user_id=user_id, created_at=now)
        .on_conflict_do_nothing(),
    )
    column = IDENTITIES.c.phone if user_id is None else IDENTITIES.c.user_id
    key = phone if user_id is None else user_id
    return int(session.execute(select(IDENTITIES.c.id).where(column == key)).scalar_one())


def _bind(
    session: Session,
    identity_id: int,
    mac: str,
    spot: WifiHotspot,
    network: WifiNetwork,
    method: str,
    now: datetime,
) -> BindingRead:
    """Bind the device on the hotspot's network (again, from now, if it was) and write
    the identity log."""
    expires_at = rules.binding_expiry(now, network.binding_days)
    values = {
        "identity_id": identity_id,
        "randomised": rules.is_randomised_mac(mac),
        "bound_at": now,
        "expires_at": expires_at,
    }
    insert = upsert_insert(session)
    dml(
        session,
        insert(DEVICES)
        .values(mac=mac, network_id=network.id, **values)
        .on_conflict_do_update(index_elements=["mac", "network_id"], set_=values),
    )
    phone, user_id = session.execute(
        select(IDENTITIES.c.phone, IDENTITIES.c.user_id).where(IDENTITIES.c.id == identity_id)
    ).one()
    dml(
        session,
        IDENTITY_LOG.insert().values(
            identity_id=identity_id,
            phone=phone,
            user_id=user_id,
            mac=mac,
            hotspot_id=spot.id,
            method=method,
            created_at=now,
        ),
    )
    return BindingRead(
        identity_id=identity_id,
        mac=mac,
        network_id=network.id,
        expires_at=expires_at,
        method=method,
    )


def confirm_wifi_code(
    actor: Principal | None,
    data: CodeConfirm,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BindingRead:
    """The person types the code from the SMS: the device is bound to their phone on
    the hotspot's network. A wrong, expired, used or unknown code binds nothing."""
    now = now or utcnow()
    typed = rules.normalize_code(data.code)
    if typed is None:
        raise errors.InvalidCode()
    uow = uow or UnitOfWork()
    with uow:
        code = uow.session.get(WifiCode, data.challenge.strip())
        if code is None or code.state != CodeState.SENT or code.expires_at <= now:
            raise errors.CodeNotValid()
        _take_guess(uow, code, typed, now)
        spot = uow.session.get(WifiHotspot, code.hotspot_id)
        assert spot is not None
        network = uow.session.get(WifiNetwork, spot.network_id)
        assert network is not None
        identity_id = _identity(uow.session, phone=code.phone, user_id=None, now=now)
        binding = _bind(uow.session, identity_id, code.mac, spot, network, "sms", now)
        uow.commit()
        return binding


def bind_device_as_citizen(
    actor: Principal | None,
    data: DeviceBind,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BindingRead:
    """A citizen logged in to the portal binds the device without an SMS: their account
    is the identity (with its confirmed phone, when it has one)."""
    actor = authorize(actor, Action.WIFI_BIND_OWN)
    now = now or utcnow()
    device = _mac(data.mac)
    uow = uow or UnitOfWork()
    with uow:
        spot, network = _hotspot_by_nas(uow.session, data.hotspot)
        phone = accounts.recipient_for_user(uow.session, actor.user_id).phone
        identity_id = _identity(uow.session, phone=None, user_id=actor.user_id, now=now)
        if phone:
            # The account's phone names the person in the log, unless the portal already
            # knows that phone as an identity of its own.
            dml(
                uow.session,
                update(IDENTITIES)
                .where(IDENTITIES.c.id == identity_id, IDENTITIES.c.phone.is_(None))
                .where(~select(OTHER.c.id).where(OTHER.c.phone == phone).exists())
                .values(phone=phone),
            )
        binding = _bind(uow.session, identity_id, device, spot, network, "account", now)
        uow.commit()
        return binding


def bind_known_device(
    actor: Principal | None,
    data: DeviceBind,
    cookie: str | None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BindingRead:
    """A person the portal knows by its signed cookie binds a new MAC (a phone's new
    randomised address, a second device) without a new SMS."""
    now = now or utcnow()
    device = _mac(data.mac)
    identity_id = _identity_from_cookie(cookie)
    if identity_id is None:
        raise errors.CodeNotValid()
    uow = uow or UnitOfWork()
    with uow:
        spot, network = _hotspot_by_nas(uow.session, data.hotspot)
        known = uow.session.execute(
            select(IDENTITIES.c.id).where(IDENTITIES.c.id == identity_id)
        ).scalar_one_or_none()
        if known is None:
            raise errors.CodeNotValid()
        binding = _bind(uow.session, identity_id, device, spot, network, "cookie", now)
        uow.commit()
        return binding


def known_identity(cookie: str | None) -> bool:
    """Whether the portal's cookie names someone (the page then offers to connect at once)."""
    return _identity_from_cookie(cookie) is not None
