"""Pages of the shell: home, the language switch and the site's icon."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from infocity.core.i18n import LOCALES
from infocity.core.settings import get_settings
from infocity.web.deps import render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html")


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    """Browsers and bookmarks ask for /favicon.ico whatever the page links to."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str | None = None) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            "lang",
            locale,
            max_age=365 * 86400,
            samesite="lax",
            secure=get_settings().secure_cookies,
        )
    return response
