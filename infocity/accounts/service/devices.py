"""The keys of machines (turnstiles, tills, RADIUS servers): issued, revoked, checked."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from infocity.accounts.errors import (
    DeviceNotFound,
    InvalidDeviceKey,
    InvalidDeviceKind,
    OrganisationNotFound,
)
from infocity.accounts.models import DeviceKey
from infocity.accounts.schemas import DeviceKeyCreate, DeviceKeyRead
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.errors import NotFound
from infocity.core.security import new_token, token_hash
from infocity.core.uow import UnitOfWork

DEVICE_KINDS = ("turnstile", "till", "radius", "validator", "camera")


# A device authenticates on every event; its last-seen time is refreshed at most this
# often so that a busy turnstile does not write a row per pass.
DEVICE_SEEN_RESOLUTION = timedelta(minutes=5)
# A device's key, once checked, is trusted for this many seconds by the process that
# checked it: a till or validator asking many times a second costs no query each time.
# A revocation takes effect at once in the process that revokes, within this time in
# the others.
DEVICE_KEY_CACHE_SECONDS = 10.0


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
        raise InvalidDeviceKind()
    uow = uow or UnitOfWork()
    with uow:
        try:
            city.get_organisation(data.organisation_id, uow=uow)
        except NotFound as exc:
            raise OrganisationNotFound() from exc
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
            raise DeviceNotFound()
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
        _checked_keys.forget(device_id)
        return result


class _CheckedKeys:
    """The keys this process checked lately (by their hash), each with its device and
    the moment it must be checked again."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[DeviceIdentity, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> DeviceIdentity | None:
        found = self._keys.get(key_hash)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, key_hash: str, device: DeviceIdentity) -> None:
        with self._lock:
            if len(self._keys) > 100_000:  # keys of devices gone quiet
                self._keys.clear()
            self._keys[key_hash] = (device, time.monotonic() + DEVICE_KEY_CACHE_SECONDS)

    def forget(self, device_id: int) -> None:
        with self._lock:
            self._keys = {
                key: found for key, found in self._keys.items() if found[0].device_id != device_id
            }


_checked_keys = _CheckedKeys()


def authenticate_device(raw_key: str, *, uow: UnitOfWork | None = None) -> DeviceIdentity:
    """The device behind a key, or Unauthenticated when the key is unknown or revoked.
    A key checked by this process in the last seconds is not looked up again."""
    key_hash = token_hash(raw_key)
    if (known := _checked_keys.get(key_hash)) is not None:
        return known
    uow = uow or UnitOfWork()
    with uow:
        device = uow.session.scalars(
            select(DeviceKey).where(DeviceKey.key_hash == key_hash, DeviceKey.revoked_at.is_(None))
        ).one_or_none()
        if device is None:
            raise InvalidDeviceKey()
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
        _checked_keys.put(key_hash, identity)
        return identity


def organisation_devices(session: Session, organisation_id: int) -> dict[int, DeviceIdentity]:
    """The machines of an organisation (revoked ones too: their past events still name
    them), by id, for another service's staff pages; read inside the caller's
    transaction."""
    return {
        device.id: DeviceIdentity(
            device_id=device.id,
            organisation_id=device.organisation_id,
            kind=device.kind,
            name=device.name,
        )
        for device in session.scalars(
            select(DeviceKey)
            .where(DeviceKey.organisation_id == organisation_id)
            .order_by(DeviceKey.id)
        )
    }
