"""Reminder links (``/health/appointments/{id}/confirm?token=`` and ``…/cancel?token=``)
need no login: the signed token is the authority. The page shows the appointment and
one button that posts the token back (with the CSRF token)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from infocity.core.errors import AppError
from infocity.health import reads, service
from infocity.health.pages.common import Done, _notice, _page
from infocity.web.forms import Form, FormErrors, IdPath, redirect

router = APIRouter(include_in_schema=False)


# --- Citizen: reminder links (no login) ----------------------------------------------

Token = Annotated[str, Query(min_length=1, max_length=500)]


def _link_page(
    request: Request,
    linked: reads.LinkedAppointment,
    *,
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "appointment_link.html",
        {"linked": linked, "notice": notice, "errors": errors or FormErrors()},
        status_code,
    )


def _link_action(request: Request, appointment_id: int, action: str, token: str) -> Response:
    token = token.strip()[:500]
    try:
        if action == "confirm":
            service.confirm_by_link(appointment_id, token)
        else:
            service.cancel_by_link(appointment_id, token)
    except AppError as exc:
        if exc.code == "invalid_link":
            raise  # the error page: nothing to show for a link that is not genuine
        linked = reads.appointment_by_link(appointment_id, action, token)
        return _link_page(request, linked, errors=FormErrors.of(exc), status_code=exc.status)
    done = "confirmed" if action == "confirm" else "cancelled"
    query = urlencode({"token": token, "done": done})
    return redirect(f"/health/appointments/{appointment_id}/{action}?{query}")


@router.get("/health/appointments/{appointment_id}/confirm", response_class=HTMLResponse)
def link_confirm_page(
    request: Request, appointment_id: IdPath, token: Token, done: Done = None
) -> HTMLResponse:
    linked = reads.appointment_by_link(appointment_id, "confirm", token)
    return _link_page(request, linked, notice=_notice(done))


@router.post("/health/appointments/{appointment_id}/confirm", response_class=HTMLResponse)
def link_confirm(request: Request, appointment_id: IdPath, form: Form) -> Response:
    return _link_action(request, appointment_id, "confirm", form.get("token", ""))


@router.get("/health/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def link_cancel_page(
    request: Request, appointment_id: IdPath, token: Token, done: Done = None
) -> HTMLResponse:
    linked = reads.appointment_by_link(appointment_id, "cancel", token)
    return _link_page(request, linked, notice=_notice(done))
