"""Camera logins and passwords, encrypted at rest with Fernet (the ``cryptography``
package: AES-128-CBC with an HMAC, so a changed token is refused, not misread).

Keys come from ``INFOCITY_SAFETY_CREDENTIAL_KEYS`` (or ``_FILE``): comma-separated Fernet
keys, the first encrypts, all decrypt. To rotate: put a new key first and keep the old
after it, run ``infocity safety rotate-credentials`` (every token re-encrypted with the
new key), then drop the old key. Without the setting a key is derived from
``INFOCITY_SECRET_KEY``, which production requires to be a real secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from infocity.core.settings import get_settings


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def _keys() -> MultiFernet:
    settings = get_settings()
    configured = [k.strip() for k in (settings.safety_credential_keys or "").split(",")]
    keys = [k for k in configured if k]
    if not keys:
        derived = hashlib.sha256(b"infocity.safety.credentials:" + settings.secret_key.encode())
        keys = [base64.urlsafe_b64encode(derived.digest()).decode()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(credentials: Credentials) -> str:
    """The token stored for ``credentials``."""
    payload = json.dumps({"u": credentials.username, "p": credentials.password})
    return _keys().encrypt(payload.encode()).decode()


def decrypt(token: str) -> Credentials | None:
    """The credentials in ``token``; None if no configured key opens it."""
    try:
        payload = json.loads(_keys().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return None
    return Credentials(username=str(payload["u"]), password=str(payload["p"]))


def rotate(token: str) -> str:
    """``token`` re-encrypted with the first (newest) key."""
    return _keys().rotate(token.encode()).decode()
