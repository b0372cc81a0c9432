"""Pages of the shell: home, the site's icon and the demo mailbox."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from infocity.core import demo_mailbox
from infocity.core.settings import get_settings
from infocity.web.deps import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html")


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    """Browsers and bookmarks ask for /favicon.ico whatever the page links to."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/demo/mailbox", response_class=HTMLResponse)
def demo_mailbox_page(request: Request) -> HTMLResponse:
    """The e-mail and SMS the demo would have sent; 404 unless the demo mailbox is on."""
    if not get_settings().demo_mailbox_on:
        raise HTTPException(status_code=404)
    return render(request, "demo_mailbox.html", {"messages": demo_mailbox.recent()})
