"""HTML pages (thin: parse the form, call one service function, render)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from infocity.core.auth import Principal
from infocity.core.errors import Unauthenticated
from infocity.core.i18n import N_
from infocity.portal import service
from infocity.portal.schemas import MAX_ID
from infocity.web.deps import csrf_protect, page_principal, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PAGE_SIZE = 20
MAX_PAGE = 100_000


def _logged_in(request: Request) -> Principal:
    principal = page_principal(request)
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    return principal


LoggedIn = Annotated[Principal, Depends(_logged_in)]


def safe_link(link: str | None) -> str | None:
    """A message's link if it is one a page may show (never ``javascript:`` and the like)."""
    if link and (link.startswith(("https://", "http://")) or link.startswith("/")):
        return link
    return None


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    request: Request,
    principal: LoggedIn,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    unread: bool = Query(False),
    marked: bool = Query(False),
) -> HTMLResponse:
    listing = service.list_inbox(
        principal, unread_only=unread, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "portal/inbox.html",
        {
            "listing": listing,
            "page": page,
            "unread_only": unread,
            "has_next": page * PAGE_SIZE < listing.total,
            "marked": marked,
        },
    )


@router.get("/inbox/{message_id}", response_class=HTMLResponse)
def message(
    request: Request, principal: LoggedIn, message_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> HTMLResponse:
    shown = service.read_message(principal, message_id)
    return render(
        request, "portal/inbox_message.html", {"message": shown, "link": safe_link(shown.link)}
    )


@router.post("/inbox/read-all")
def read_all(principal: LoggedIn) -> RedirectResponse:
    service.mark_all_read(principal)
    return RedirectResponse("/inbox?marked=1", status_code=303)
