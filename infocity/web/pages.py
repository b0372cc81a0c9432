"""Pages of the shell: home, the language switch and the demo mailbox."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from infocity.accounts import service as accounts
from infocity.core import demo_mailbox
from infocity.core.i18n import LOCALES
from infocity.core.settings import get_settings
from infocity.web.deps import page_principal, render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html")


@router.get("/lang/{locale}")
def switch_language(request: Request, locale: str, next: str | None = None) -> RedirectResponse:
    """Remember the chosen language in a cookie (and the account's, for its
    notifications) and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        principal = page_principal(request)
        if principal is not None:
            accounts.set_locale(principal.user_id, locale)
        response.set_cookie(
            "lang",
            locale,
            max_age=365 * 86400,
            samesite="lax",
            secure=get_settings().secure_cookies,
        )
    return response


@router.get("/demo/mailbox", response_class=HTMLResponse)
def demo_mailbox_page(request: Request) -> HTMLResponse:
    """The e-mail and SMS the demo would have sent; 404 unless the demo mailbox is on."""
    if not get_settings().demo_mailbox_on:
        raise HTTPException(status_code=404)
    return render(request, "demo_mailbox.html", {"messages": demo_mailbox.recent()})
