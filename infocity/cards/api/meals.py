"""JSON routes of school meals (thin: parse, call one service function): menus and
subsidies (school staff), pre-orders (representatives), the till's orders of the day
(a device key in ``X-Device-Key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from infocity.cards import service
from infocity.cards.api.devices import Device
from infocity.cards.schemas.meals import (
    MealOrderIn,
    MealOrderRead,
    MealsRead,
    MenuIn,
    MenuRead,
    SubsidyGrant,
    SubsidyRead,
)
from infocity.core.schemas import IsoDate
from infocity.web.deps import CurrentUser
from infocity.web.errors import error_responses
from infocity.web.forms import IdPath

router = APIRouter(prefix="/cards", tags=["cards"])

DayPath = Annotated[IsoDate, Path()]


@router.put(
    "/schools/{school_id}/menus/{day}",
    response_model=MenuRead,
    summary="Publish (or replace) the school's menu of a day (school staff)",
    responses=error_responses(401, 403, 422),
)
def publish_menu(school_id: IdPath, day: DayPath, data: MenuIn, actor: CurrentUser) -> MenuRead:
    return service.publish_menu(actor, school_id, day, data)


@router.get(
    "/schools/{school_id}/menus/{day}",
    response_model=MenuRead,
    summary="The school's menu of a day (school staff)",
    responses=error_responses(401, 403, 422),
)
def school_menu(school_id: IdPath, day: DayPath, actor: CurrentUser) -> MenuRead:
    return service.school_menu(actor, school_id, day)


@router.post(
    "/schools/{school_id}/pupils/{pupil_id}/subsidies",
    status_code=201,
    response_model=SubsidyRead,
    summary="Grant a pupil a daily subsidised-meal allowance for a period (school staff)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def grant_subsidy(
    school_id: IdPath, pupil_id: IdPath, data: SubsidyGrant, actor: CurrentUser
) -> SubsidyRead:
    return service.grant_subsidy(actor, school_id, pupil_id, data)


@router.get(
    "/schools/{school_id}/pupils/{pupil_id}/subsidies",
    response_model=list[SubsidyRead],
    summary="A pupil's subsidised-meal allowances, the latest first (school staff)",
    responses=error_responses(401, 403, 404, 422),
)
def school_pupil_subsidies(
    school_id: IdPath, pupil_id: IdPath, actor: CurrentUser
) -> list[SubsidyRead]:
    return service.school_pupil_subsidies(actor, school_id, pupil_id)


@router.post(
    "/schools/{school_id}/subsidies/{subsidy_id}/revoke",
    response_model=SubsidyRead,
    summary="Revoke a pupil's subsidised meals from tomorrow (school staff)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def revoke_subsidy(school_id: IdPath, subsidy_id: IdPath, actor: CurrentUser) -> SubsidyRead:
    return service.revoke_subsidy(actor, school_id, subsidy_id)


@router.get(
    "/pupils/{pupil_id}/menus/{day}",
    response_model=MenuRead,
    summary="The menu of a day at the pupil's school",
    responses=error_responses(401, 403, 404, 422),
)
def pupil_menu(pupil_id: IdPath, day: DayPath, actor: CurrentUser) -> MenuRead:
    return service.pupil_menu(actor, pupil_id, day)


@router.get(
    "/pupils/{pupil_id}/meals",
    response_model=MealsRead,
    summary="The pupil's subsidy of today and meal orders",
    responses=error_responses(401, 403, 404),
)
def pupil_meals(pupil_id: IdPath, actor: CurrentUser) -> MealsRead:
    return service.pupil_meals(actor, pupil_id)


@router.post(
    "/pupils/{pupil_id}/meal-orders",
    status_code=201,
    response_model=MealOrderRead,
    summary="Order a day's meal from the menu, paid from the balance (until 10:00 the day before)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def order_meal(pupil_id: IdPath, data: MealOrderIn, actor: CurrentUser) -> MealOrderRead:
    return service.order_meal(actor, pupil_id, data)


@router.post(
    "/pupils/{pupil_id}/meal-orders/{order_id}/cancel",
    response_model=MealOrderRead,
    summary="Cancel a meal order before its cut-off; the money goes back",
    responses=error_responses(401, 403, 404, 409),
)
def cancel_meal_order(pupil_id: IdPath, order_id: IdPath, actor: CurrentUser) -> MealOrderRead:
    return service.cancel_meal_order(actor, pupil_id, order_id)


@router.get(
    "/devices/meal-orders/{card_uid}",
    response_model=list[MealOrderRead],
    summary="Tills: the card's meals ordered for today; serve one with a purchase naming "
    "its order_id",
    responses=error_responses(401, 403, 404, 409),
)
def till_meal_orders(
    card_uid: Annotated[str, Path(min_length=1, max_length=40)], who: Device
) -> list[MealOrderRead]:
    return service.till_meal_orders(who, card_uid)
