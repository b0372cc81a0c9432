"""What every page of health shares: the query parameters, the labels and notices, and
the rendering of a health page with them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from infocity.core.errors import InvalidInput
from infocity.core.i18n import N_
from infocity.core.schemas import MAX_ID
from infocity.health import reads, rules
from infocity.health.schemas import CityDate
from infocity.web.deps import render
from infocity.web.forms import FormErrors, notice

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Code = Annotated[str, Query(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
Day = Annotated[CityDate | None, Query()]
Done = Annotated[str | None, Query(max_length=20)]  # the notice to show after a change

STATUS_LABELS = rules.STATUS_LABELS  # beside the states and their moves
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
EXCEPTION_KINDS = {
    "vacation": N_("Vacation"),
    "sick_leave": N_("Sick leave"),
    "holiday": N_("Holiday"),
    "extra_hours": N_("Extra hours"),
}
NOTICES = {
    "booked": N_("You are booked. Here is your ticket."),
    "moved": N_("The appointment has been moved. Here is the new ticket."),
    "cancelled": N_("The appointment has been cancelled."),
    "referred": N_("The referral has been issued."),
    "rule": N_("The weekly schedule has been added; its times are open for booking."),
    "rule_changed": N_("The weekly schedule has been changed."),
    "rule_removed": N_("The weekly schedule has been deleted."),
    "post": N_("The doctor's post has been opened: add the doctor's weekly schedule."),
    "exception": N_("The exception has been recorded."),
    "marked": N_("The visit has been marked."),
    "unmarked": N_("The mark has been undone: the visit can be marked again."),
    "joined": N_("You are on the waiting list. We will tell you when a time is kept for you."),
    "held": N_("A time has been found at once and is kept for you: accept it below."),
    "left": N_("You have left the waiting list."),
    "declined": N_("The time has been turned down. You stay on the waiting list."),
    "requested": N_("The request has been sent to the polyclinic."),
    "visit_cancelled": N_("The request has been cancelled."),
    "visit_updated": N_("The request has been updated; the patient is told."),
    "confirmed": N_("Thank you! Your visit is confirmed."),
    "specialty": N_("The specialty has been saved."),
    "district": N_("The patient's district has been saved: its doctor is offered first."),
}
BOOKING_MODES = {"direct": N_("Directly"), "referral": N_("By referral")}


def _notice(key: str | None) -> str | None:
    return notice(NOTICES, key)


def _common() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "weekdays": WEEKDAYS,
        "kinds": EXCEPTION_KINDS,
        "booking_modes": BOOKING_MODES,
        "kiosk": False,
    }


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return render(request, f"health/{template}", {**_common(), **context}, status_code)


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_ID else None


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            "invalid_date", N_("Enter the date as DD.MM.YYYY."), field=field
        ) from exc


def _reschedule_page(
    request: Request,
    choice: reads.RescheduleChoice,
    action: str,
    errors: FormErrors | None = None,
    status_code: int = 200,
    *,
    hidden: dict[str, Any] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "reschedule.html",
        {
            "choice": choice,
            "action": action,
            "hidden": hidden or {},
            "errors": errors or FormErrors(),
        },
        status_code,
    )
