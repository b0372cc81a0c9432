"""Pages of school meals (thin: parse the form, call one service function, render).

Parents order a day's meal from the school's menu and cancel it on the child's page
(/cards/pupils/<id>, the "Meals" part); school staff publish a day's menu at
/cards/school/menu.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.cards import errors, service
from infocity.cards.pages.parents import _act, _kopecks
from infocity.cards.rules.ledger import CATEGORIES, CATEGORY_LABELS
from infocity.cards.rules.meals import MAX_MENU_ITEMS, MAX_ORDER_ITEMS
from infocity.cards.schemas.meals import MealOrderIn, MenuIn
from infocity.city import service as city
from infocity.core.auth import Action, Principal, allowed
from infocity.core.clock import city_today
from infocity.core.errors import AppError
from infocity.core.i18n import N_
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    logged_in,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

MENU_PAGE = "/cards/school/menu"
# Empty lines offered under the dishes already on the menu.
BLANK_LINES = 4
NOTICES = {"published": N_("The menu is published: parents can order from it.")}


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


# --- Parents: order and cancel on the child's page ----------------------------------------


def _order(form: dict[str, str]) -> MealOrderIn:
    """The form's order: ``day`` and a number of portions per menu item (``qty_<id>``)."""
    items: list[int] = []
    for name, value in form.items():
        if name.startswith("qty_") and name[4:].isdigit() and value.strip():
            if not value.strip().isdigit():
                raise errors.MenuItemNotFound()
            items += [int(name[4:])] * min(int(value), MAX_ORDER_ITEMS + 1)
    return MealOrderIn.model_validate({"day": form.get("day", ""), "items": items})


@router.post("/cards/pupils/{pupil_id}/meal-orders", response_class=HTMLResponse)
def order_meal(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    # Back on the ordered day's menu, with the order listed above it.
    day = _day(form.get("day"), city_today())
    return _act(
        request,
        pupil_id,
        f"ordered&menu_day={day.isoformat()}#meals",
        lambda: service.order_meal(actor, pupil_id, _order(form)),
    )


@router.post("/cards/pupils/{pupil_id}/meal-orders/{order_id}/cancel", response_class=HTMLResponse)
def cancel_meal_order(request: Request, pupil_id: IdPath, order_id: IdPath) -> Response:
    actor = logged_in(request)
    return _act(
        request,
        pupil_id,
        "order_cancelled",
        lambda: service.cancel_meal_order(actor, pupil_id, order_id),
    )


# --- School staff: the day's menu ---------------------------------------------------------


def _schools(actor: Principal) -> list[tuple[int, str]]:
    """The schools whose menus this staff member publishes (every one for the city)."""
    return [
        (school.id, school.name)
        for school in city.list_organisations("school")
        if allowed(actor, Action.SCHOOL_CARDS_ISSUE, school.id)
    ]


def _menu_page(
    request: Request,
    actor: Principal,
    school_id: int | None,
    day: date,
    *,
    status: int = 200,
    failed: FormErrors | None = None,
    lines: list[dict[str, str]] | None = None,
) -> HTMLResponse:
    schools = _schools(actor)
    if school_id not in {s for s, _name in schools}:
        school_id = schools[0][0] if schools else None
    if lines is None and school_id is not None:
        menu = service.school_menu(actor, school_id, day)
        lines = [
            {"name": i.name, "category": i.category, "price": f"{i.price / 100:g}"}
            for i in menu.items
        ]
    lines = (lines or []) + [{"name": "", "category": "", "price": ""}] * BLANK_LINES
    return render(
        request,
        "cards/meals/menu.html",
        {
            "schools": schools,
            "school_id": school_id,
            "day": day,
            "lines": lines[: MAX_MENU_ITEMS + BLANK_LINES],
            "categories": [(c, CATEGORY_LABELS[c]) for c in CATEGORIES],
            "errors": failed or FormErrors(),
            "notice": notice(NOTICES, request.query_params.get("done")),
        },
        status_code=status,
    )


@router.get(MENU_PAGE, response_class=HTMLResponse)
def menu_page(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    school = request.query_params.get("school", "")
    return _menu_page(
        request,
        actor,
        int(school) if school.isdigit() else None,
        _day(request.query_params.get("day"), city_today() + timedelta(days=1)),
    )


def _lines(form: dict[str, str]) -> list[dict[str, str]]:
    """The dishes typed in the form, in order, empty lines left out."""
    lines = []
    for index in range(MAX_MENU_ITEMS + BLANK_LINES):
        line = {k: form.get(f"{k}_{index}", "").strip() for k in ("name", "category", "price")}
        if line["name"] or line["price"]:
            lines.append(line)
    return lines


def _menu(lines: list[dict[str, str]]) -> MenuIn:
    items: list[dict[str, Any]] = [
        {"name": line["name"], "category": line["category"], "price": _kopecks(line["price"]) or 0}
        for line in lines
    ]
    return MenuIn.model_validate({"items": items})


@router.post(MENU_PAGE, response_class=HTMLResponse)
def publish_menu(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    school = form.get("school", "")
    school_id = int(school) if school.isdigit() else 0
    day = _day(form.get("day"), city_today() + timedelta(days=1))
    lines = _lines(form)
    try:
        service.publish_menu(actor, school_id, day, _menu(lines))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _menu_page(
            request,
            actor,
            school_id,
            day,
            status=refusal_status(exc),
            failed=FormErrors.of(exc),
            lines=lines,
        )
    return redirect(f"{MENU_PAGE}?school={school_id}&day={day.isoformat()}&done=published")
