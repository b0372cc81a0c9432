"""Per-request context: request id, locale, CSRF cookie, access log and metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infocity.core import i18n
from infocity.core.audit import request_id_var
from infocity.core.logging import log
from infocity.web import csrf

logger = logging.getLogger("infocity.http")

REQUESTS = Counter(
    "infocity_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "infocity_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_headers(scope: Scope, names: tuple[bytes, ...]) -> dict[bytes, str]:
    """The first value of each of ``names`` (lower case, as ASGI gives them) that the
    request carries, in one pass over its headers: Starlette's ``Headers.get`` walks
    them once per name and raises and catches a ``KeyError`` for each one absent, which
    in the release rush was a measurable share of each booking's event-loop time."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in names and name not in found:
            found[name] = value.decode("latin-1")
    return found


def set_default_headers(message: Message, defaults: tuple[tuple[bytes, bytes], ...]) -> None:
    """Add to a response's start message each header of ``defaults`` it does not carry
    yet, in that order (``MutableHeaders.setdefault`` each, with one pass to see what
    is there)."""
    raw: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
    message["headers"] = raw
    present = {name for name, _ in raw}
    raw.extend((name, value) for name, value in defaults if name not in present)


def route_template(route: object, path: str) -> str:
    """The full template of the route that answered ``path``, e.g. ``/api/v1/health/x/{id}``.

    A route included under a prefix knows only its own part of the path (``/health/x/{id}``),
    so API and page traffic would share one series: the prefix is the part of the request's
    path before the shortest-prefixed tail that the route's own pattern matches."""
    template = getattr(route, "path", None)
    pattern = getattr(route, "path_regex", None)
    if not isinstance(template, str):
        return "unmatched"
    if pattern is None or pattern.match(path):
        return template
    for index, char in enumerate(path):
        if char == "/" and index and pattern.match(path[index:]):
            return path[:index] + template
    return template


_CONTEXT_HEADERS = (b"x-request-id", b"cookie", b"accept-language")


class RequestContextMiddleware:
    """A pure ASGI middleware, so the context variables it sets reach the endpoint.

    ``cookieless_prefixes``: paths of the machine APIs, which authenticate with bearer
    tokens and never read cookies, so they get no CSRF cookie (signing one per request is
    a measurable share of a booking's CPU in the release rush, and an API client has no
    use for it).
    """

    def __init__(self, app: ASGIApp, cookieless_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cookieless_prefixes = cookieless_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope, _CONTEXT_HEADERS)
        incoming = headers.get(b"x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(request_id)
        raw_cookies = headers.get(b"cookie")
        cookies = cookie_parser(raw_cookies) if raw_cookies else {}
        i18n.set_locale(i18n.negotiate_locale(cookies.get("lang"), headers.get(b"accept-language")))
        token, is_new = "", False
        if not scope["path"].startswith(self.cookieless_prefixes):
            token, is_new = csrf.token_for(cookies.get(csrf.COOKIE))
        scope.setdefault("state", {})["csrf_token"] = token
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers.setdefault("content-language", i18n.current_locale())
                if is_new:
                    headers.append("set-cookie", csrf.cookie_header(token))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route_name = route_template(scope.get("route"), scope["path"])
            status = status_holder["status"]
            method = scope["method"]
            REQUESTS.labels(method, route_name, str(status)).inc()
            LATENCY.labels(method, route_name).observe(elapsed)
            log(
                logger,
                logging.INFO,
                "request",
                method=method,
                path=scope["path"],
                status=status,
                ms=round(elapsed * 1000, 1),
            )


# Pages use only their own stylesheet and no scripts; the API docs (Swagger UI, served
# from the package) need inline start-up code and styles, and data: images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
# Cookies that mean the page is someone's own: a logged-in session or a kiosk's patient.
PRIVATE_COOKIES = ("infocity_session", "infocity_kiosk")
# Pages of a shared screen: the next person must not find the last one's in its history.
PRIVATE_PREFIXES = ("/kiosk",)
_PRIVATE_COOKIE_VALUES = tuple(name.encode("latin-1") for name in PRIVATE_COOKIES)
_SECURITY_HEADERS = (b"cookie", b"authorization")
# What every response carries unless it set its own, in this order.
_COMMON_DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    *_COMMON_DEFAULTS,
)
_DOCS_DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", DOCS_CONTENT_SECURITY_POLICY.encode()),
    *_COMMON_DEFAULTS,
)
_TLS_DEFAULTS = ((b"strict-transport-security", HSTS.encode()),)


class SecurityHeadersMiddleware:
    """Headers every response carries: no framing, no sniffing, no referrer to other
    sites, HSTS over TLS, and ``Cache-Control: no-store`` on what was answered to someone
    logged in (a browser session, an app's token, a kiosk's identified patient) and on
    the kiosk's pages, so a shared computer's cache or a proxy keeps nothing personal.

    ``docs_prefix``: the API documentation page, whose Swagger UI needs a looser policy.
    """

    def __init__(self, app: ASGIApp, docs_prefix: str = "") -> None:
        self.app = app
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope, _SECURITY_HEADERS)
        raw_cookies = headers.get(b"cookie")
        cookies = cookie_parser(raw_cookies) if raw_cookies else {}
        path: str = scope["path"]
        private = (
            b"authorization" in headers
            or any(name in cookies for name in PRIVATE_COOKIES)
            or path.startswith(PRIVATE_PREFIXES)
        )
        docs = bool(self.docs_prefix) and path.startswith(self.docs_prefix)
        defaults = _DOCS_DEFAULTS if docs else _DEFAULTS
        if scope.get("scheme") == "https":
            defaults += _TLS_DEFAULTS

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                set_default_headers(message, defaults)
                # A response that sets a session (the log-in) is private too.
                sets_session = any(
                    name == b"set-cookie" and value.startswith(_PRIVATE_COOKIE_VALUES)
                    for name, value in message["headers"]
                )
                if private or sets_session:
                    MutableHeaders(scope=message)["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_wrapper)
