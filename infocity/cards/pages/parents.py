"""The parents' pages of school cards (thin: parse the form, call one service function,
render). /cards: the children told about and the activation; /cards/pupils/<id>: the
day's entries and meals, the ledger, the limit and banned categories, top-up, adults and
what the user is told."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.accounts import service as accounts
from infocity.cards import errors, service
from infocity.cards.rules.cards import STANDING_LABELS, STATUS_LABELS
from infocity.cards.rules.events import CHANNELS, EVENT_LABELS
from infocity.cards.rules.ledger import (
    CATEGORIES,
    CATEGORY_LABELS,
    DECLINE_LABELS,
    ENTRY_LABELS,
    TOP_UP_PERIOD_LABELS,
    TopUpPeriod,
)
from infocity.cards.rules.meals import ORDER_STATE_LABELS
from infocity.cards.schemas.cards import (
    Activation,
    AutoTopUpRule,
    NotificationSettings,
    TrustedAdultAdd,
)
from infocity.cards.schemas.ledger import LedgerFilter, SpendingRules, TopUp
from infocity.core.db import utcnow
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

NOTICES = {
    "activated": N_("The service is on: you will be told of the child's day."),
    "rules": N_("The limit and banned categories are saved."),
    "auto_top_up": N_("The automatic top-up is saved."),
    "adult": N_("The adult is added."),
    "settings": N_("Your settings are saved."),
    "topped_up": N_("The card is topped up."),
    "ordered": N_("The meal is ordered and paid."),
    "order_cancelled": N_("The order is cancelled; the money is back on the card."),
}
LABELS = {
    "status": STATUS_LABELS,
    "standing": STANDING_LABELS,
    "event": EVENT_LABELS,
    "category": CATEGORY_LABELS,
    "decline": DECLINE_LABELS,
    "entry": ENTRY_LABELS,
    "period": TOP_UP_PERIOD_LABELS,
    "order": ORDER_STATE_LABELS,
}


def _kopecks(text: str | None) -> int | None:
    """Roubles as typed ("150", "150,50") in kopecks; None when the field is empty."""
    if not text or not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(" ", "").replace(",", ".")) * 100
    except InvalidOperation as exc:
        raise errors.InvalidAmount() from exc
    if value != value.to_integral_value() or value < 0:
        raise errors.InvalidAmount()
    return int(value)


@router.get("/cards", response_class=HTMLResponse)
def my_pupils(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    actor = logged_in(request)
    pupils = service.list_my_pupils(actor)
    told = {pupil.person_id for pupil in pupils}
    children = [c for c in accounts.list_family(actor) if c.id not in told]
    return render(
        request,
        "cards/pupils.html",
        {
            "pupils": pupils,
            "children": children,
            "labels": LABELS,
            "error": error,
            "notice": notice(NOTICES, request.query_params.get("done")),
        },
        status_code=status,
    )


@router.post("/cards/activate", response_class=HTMLResponse)
def activate(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    try:
        service.activate_card_service(actor, Activation(child_id=int(form.get("child_id") or 0)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return my_pupils(request, refusal_status(exc), FormErrors.of(exc).form)
    return redirect("/cards?done=activated")


def _pupil_page(
    request: Request, pupil_id: int, *, status: int = 200, error: str | None = None
) -> HTMLResponse:
    actor = logged_in(request)
    now = utcnow()
    pupil = service.get_my_pupil(actor, pupil_id, now=now)
    kind = request.query_params.get("kind") or None
    try:
        filters = LedgerFilter(
            kind=kind,
            since=request.query_params.get("since") or None,
            until=request.query_params.get("until") or None,
        )
    except ValidationError:
        filters = LedgerFilter()
    adults = service.list_representatives(actor, pupil_id)
    mine = next(a for a in adults if a.user_id == actor.user_id)
    meals = service.pupil_meals(actor, pupil_id, now=now)
    try:
        menu_day = date.fromisoformat(request.query_params.get("menu_day", ""))
    except ValueError:
        menu_day = meals.first_orderable_day
    return render(
        request,
        "cards/pupil.html",
        {
            "pupil": pupil,
            "today": service.list_card_events(actor, pupil_id, now=now),
            "ledger": service.list_ledger(actor, pupil_id, filters),
            "filters": filters,
            "adults": adults,
            "mine": mine,
            "meals": meals,
            "menu": service.pupil_menu(actor, pupil_id, menu_day),
            "legal": pupil.standing == "legal",
            "categories": CATEGORIES,
            "channels": CHANNELS,
            "labels": LABELS,
            "top_up_reference": f"page-{uuid.uuid4().hex}",
            "error": error,
            "notice": notice(NOTICES, request.query_params.get("done")),
        },
        status_code=status,
    )


@router.get("/cards/pupils/{pupil_id}", response_class=HTMLResponse)
def pupil_page(request: Request, pupil_id: IdPath) -> HTMLResponse:
    return _pupil_page(request, pupil_id)


def _act(request: Request, pupil_id: int, done: str, act: Any) -> Response:
    try:
        act()
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _pupil_page(
            request, pupil_id, status=refusal_status(exc), error=FormErrors.of(exc).form
        )
    return redirect(f"/cards/pupils/{pupil_id}?done={done}")


@router.post("/cards/pupils/{pupil_id}/rules", response_class=HTMLResponse)
def spending_rules(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    return _act(
        request,
        pupil_id,
        "rules",
        lambda: service.set_spending_rules(
            actor,
            pupil_id,
            SpendingRules(
                daily_limit=_kopecks(form.get("daily_limit")),
                banned_categories=[c for c in CATEGORIES if form.get(f"banned_{c}")],
            ),
        ),
    )


def _auto_top_up_rule(form: dict[str, str]) -> AutoTopUpRule:
    """The form's rule: an empty trigger turns it off, an empty amount keeps the default."""
    period = form.get("auto_period", "")
    amount = _kopecks(form.get("auto_amount"))
    return AutoTopUpRule.model_validate(
        {
            "below": _kopecks(form.get("auto_below")) or None,
            "period": period if period in set(TopUpPeriod) else TopUpPeriod.WEEK,
            **({"amount": amount} if amount else {}),
        }
    )


@router.post("/cards/pupils/{pupil_id}/auto-top-up", response_class=HTMLResponse)
def auto_top_up(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    return _act(
        request,
        pupil_id,
        "auto_top_up",
        lambda: service.set_auto_top_up(actor, pupil_id, _auto_top_up_rule(form)),
    )


@router.post("/cards/pupils/{pupil_id}/adults", response_class=HTMLResponse)
def add_adult(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    return _act(
        request,
        pupil_id,
        "adult",
        lambda: service.add_trusted_adult(
            actor, pupil_id, TrustedAdultAdd(contact=form.get("contact", ""))
        ),
    )


@router.post("/cards/pupils/{pupil_id}/settings", response_class=HTMLResponse)
def settings(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    return _act(
        request,
        pupil_id,
        "settings",
        lambda: service.set_notification_settings(
            actor,
            pupil_id,
            NotificationSettings(
                passes=bool(form.get("passes")),
                purchases=bool(form.get("purchases")),
                low_balance=bool(form.get("low_balance")),
                digest=bool(form.get("digest")),
                channels=[c for c in CHANNELS if form.get(f"channel_{c}")],
            ),
        ),
    )


@router.post("/cards/pupils/{pupil_id}/top-up", response_class=HTMLResponse)
def top_up(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    # The form's own reference: sent twice (a double click, a reload), it counts once.
    reference = form.get("reference", "")
    return _act(
        request,
        pupil_id,
        "topped_up",
        lambda: service.top_up_card(
            actor,
            pupil_id,
            TopUp(amount=_kopecks(form.get("amount")) or 0, reference=reference),
        ),
    )
