"""School meals: a day's menu, subsidised-meal allowances, pre-orders."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from infocity.cards.rules.meals import MAX_MENU_ITEMS, MAX_ORDER_ITEMS
from infocity.cards.schemas.events import ItemIn
from infocity.core.schemas import Id, InputModel, IsoDate, OutputModel


class MenuIn(InputModel):
    """A school's menu of one day: publishing it again replaces it; no items clears it."""

    items: list[ItemIn] = Field(default_factory=list, max_length=MAX_MENU_ITEMS)


class MenuItemRead(OutputModel):
    id: int
    name: str
    category: str
    price: int  # kopecks


class MenuRead(BaseModel):
    school_id: int
    day: date
    items: list[MenuItemRead]


class SubsidyGrant(InputModel):
    """A daily subsidised-meal allowance (kopecks) from ``starts`` to ``ends`` (city days)."""

    daily_amount: int = Field(ge=1, le=1_000_000)
    starts: IsoDate
    ends: IsoDate


class SubsidyRead(OutputModel):
    id: int
    pupil_id: int
    school_id: int
    daily_amount: int
    starts: date
    ends: date
    revoked_from: date | None = None  # revoked: pays nothing from this day on


class MealOrderIn(InputModel):
    """The menu items (their ids; an id twice is two portions) ordered for ``day``."""

    day: IsoDate
    items: list[Id] = Field(min_length=1, max_length=MAX_ORDER_ITEMS)


class MealOrderRead(OutputModel):
    id: int
    pupil_id: int
    day: date
    items: list[dict[str, Any]]
    amount: int
    subsidy: int = 0  # the part of ``amount`` the day's allowance paid
    state: str
    created_at: datetime


class MealsRead(BaseModel):
    """A pupil's meals as a representative sees them: today's allowance, the orders."""

    subsidy: SubsidyRead | None  # the allowance of today, if any
    subsidy_left_today: int
    orders: list[MealOrderRead]
    first_orderable_day: date
