"""Passwords, random tokens, signatures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from infocity.core.settings import get_settings


@lru_cache(maxsize=2)
def _hasher(cheap: bool) -> PasswordHasher:
    # The test suite hashes hundreds of passwords; there argon2 runs with its smallest
    # cost. Every other environment uses the library's recommended parameters.
    if cheap:
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def _current_hasher() -> PasswordHasher:
    return _hasher(get_settings().environment == "test")


_SLOTS_LOCK = threading.Lock()
_SLOTS: dict[int, threading.BoundedSemaphore] = {}


@lru_cache(maxsize=1)
def _hash_slots() -> threading.BoundedSemaphore:
    # Each argon2 hash takes its memory cost (64 MiB by default) while it runs: a burst
    # of registrations or log-ins waits here rather than growing the process. lru_cache
    # may run this for several of a burst's first callers at once: they share one set of
    # slots per size, made under the lock.
    size = get_settings().password_hash_concurrency
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(size, threading.BoundedSemaphore(size))


def hash_password(password: str) -> str:
    with _hash_slots():
        return _current_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _hash_slots():
            # verify() reads the parameters from the hash itself, whichever hasher made it.
            return _current_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=2)
def _dummy_hash(cheap: bool) -> str:
    return _hasher(cheap).hash(secrets.token_urlsafe(16))


def dummy_password_hash() -> str:
    """A hash to verify against when the account does not exist, so that the answer
    takes as long as a real check and does not reveal which accounts exist."""
    return _dummy_hash(get_settings().environment == "test")


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe secret for a session, API token, device key or reset link."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def hmac_sha256(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
