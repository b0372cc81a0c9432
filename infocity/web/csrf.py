"""CSRF protection for HTML forms: a signed double-submit cookie.

Each browser gets a random token in a cookie, signed with the secret key so that it
cannot be planted from elsewhere; every form carries the same token in a hidden field.
A cross-site page can make the browser send the cookie but cannot read it to fill the
field. The JSON API does not use cookies (bearer tokens), so it needs no token.
"""

from __future__ import annotations

from itsdangerous import BadSignature, Signer

from infocity.core.errors import Forbidden
from infocity.core.i18n import N_
from infocity.core.security import constant_time_equal, new_token
from infocity.core.settings import get_settings

COOKIE = "infocity_csrf"
FIELD = "csrf_token"


def _signer() -> Signer:
    return Signer(get_settings().secret_key, salt="csrf")


def token_for(cookie_value: str | None) -> tuple[str, bool]:
    """The browser's token from its cookie, or a new one (second value: is it new)."""
    if cookie_value:
        try:
            _signer().unsign(cookie_value)
            return cookie_value, False
        except BadSignature:
            pass
    return _signer().sign(new_token(16)).decode(), True


def cookie_header(token: str) -> str:
    secure = "; Secure" if get_settings().secure_cookies else ""
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"


def check(cookie_token: str | None, form_token: str | None) -> None:
    """Refuse a form whose token does not match the browser's cookie."""
    if not cookie_token or not form_token or not constant_time_equal(cookie_token, form_token):
        raise Forbidden(
            "csrf_failed",
            N_("The form has expired. Please reload the page and try again."),
        )
    try:
        _signer().unsign(cookie_token)
    except BadSignature as exc:
        raise Forbidden(
            "csrf_failed", N_("The form has expired. Please reload the page and try again.")
        ) from exc
