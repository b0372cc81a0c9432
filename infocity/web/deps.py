"""What routes share: who is asking, CSRF checks, the booking lane, and rendering a page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, Signer
from sqlalchemy.exc import SQLAlchemyError

from infocity.core.auth import Principal
from infocity.core.errors import AppError, Unauthenticated
from infocity.core.i18n import N_
from infocity.core.settings import get_settings
from infocity.core.templating import environment
from infocity.web import csrf

SESSION_COOKIE = "infocity_session"
T = TypeVar("T")


@dataclass(frozen=True)
class PrincipalSources:
    """How a browser session or a bearer token becomes a user, and how many unread
    messages the header shows them: the services' functions, handed over by the
    application. The kit imports no service, since the services' own pages import it."""

    from_session: Callable[[str], Principal | None]
    from_api_token: Callable[[str], Principal | None]
    unread_count: Callable[[Principal], int]


def install_principal_sources(app: FastAPI, sources: PrincipalSources) -> None:
    """Tell the kit, for every request of ``app``, how to find who is asking."""
    app.state.principal_sources = sources


def _sources(request: Request) -> PrincipalSources:
    sources: PrincipalSources = request.app.state.principal_sources
    return sources


def _session_signer() -> Signer:
    return Signer(get_settings().secret_key, salt="session")


def session_cookie_value(token: str) -> str:
    return _session_signer().sign(token).decode()


def set_session_cookie(response: Any, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie_value(token),
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def session_token(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        return _session_signer().unsign(raw).decode()
    except BadSignature:
        return None


def client_ip(request: Request) -> str | None:
    """The address the request came from (rate limits and the audit log keep it)."""
    return request.client.host if request.client else None


def page_principal(request: Request) -> Principal | None:
    """The user logged in to this browser, if any (pages: session cookie only)."""
    if "principal" not in request.state._state:
        token = session_token(request)
        request.state.principal = _sources(request).from_session(token) if token else None
    principal: Principal | None = request.state.principal
    return principal


# Declares the bearer scheme on exactly the operations that read the user (OpenAPI
# ``security``); the header is still read below, so that a wrong scheme is a 401.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="The token from POST /api/v1/auth/token: Authorization: Bearer <token>",
)


def api_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Principal | None:
    """The user of an app's bearer token, if any (the JSON API takes no cookies, so it
    needs no CSRF token)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("invalid_token", N_("The access token is invalid or expired."))
    principal = _sources(request).from_api_token(token.strip())
    if principal is None:
        raise Unauthenticated("invalid_token", N_("The access token is invalid or expired."))
    return principal


def logged_in(principal: Annotated[Principal | None, Depends(api_principal)]) -> Principal:
    """The app's user, required: service functions read a missing actor as the trusted
    command line, so routes that reach them must have a user."""
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    return principal


# Route parameters: the user of the bearer token if any, or required.
CurrentUser = Annotated[Principal | None, Depends(api_principal)]
LoggedIn = Annotated[Principal, Depends(logged_in)]


async def run_booking(request: Request, use_case: Callable[[], T]) -> T:
    """Run a booking use case in this process's booking threads (``booking_threads``,
    one by default) instead of the pool of every synchronous endpoint.

    Why: in a release rush nearly every request is a booking, and a dozen threads of one
    process booking at once spend more on the GIL than they save by overlapping their
    round trips to the database; one booking thread per process answered about twice as
    many requests as twelve (docs/benchmarks.md). Waiting requests queue on the event
    loop, which stays free for everything else.
    """
    limiter = getattr(request.app.state, "booking_limiter", None)  # None: no lifespan ran
    return await anyio.to_thread.run_sync(use_case, limiter=limiter)


async def csrf_protect(request: Request) -> None:
    """Dependency of every page router: unsafe methods need the form's CSRF token."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        form = await request.form()
        token = form.get(csrf.FIELD)
        csrf.check(request.cookies.get(csrf.COOKIE), token if isinstance(token, str) else None)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page inside the layout, in the request's locale."""
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            principal=page_principal(request),
            csrf_token=request.state.csrf_token,
            unread_count=lambda: header_unread(request),
            **(context or {}),
        )
    )
    return HTMLResponse(html, status_code=status_code)


def header_unread(request: Request) -> int:
    """Unread messages of the user logged in, for the header: one count query, asked only
    by a page that shows the menu, and once per request however often it is shown."""
    if "header_unread" not in request.state._state:
        principal = page_principal(request)
        try:
            request.state.header_unread = (
                _sources(request).unread_count(principal) if principal else 0
            )
        except (AppError, SQLAlchemyError):  # an error page must still render without it
            request.state.header_unread = 0
    unread: int = request.state.header_unread
    return unread


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after a form (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
