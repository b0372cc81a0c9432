"""School meals: staff publish a day's menu and grant subsidised-meal allowances;
representatives order a day's meals ahead from the menu, paid from the balance at once
and refunded when cancelled before the cut-off; at the till the day's allowance pays
first, and an ordered meal is served once.

Below ``tills`` and ``events`` (which call the underscored helpers here), on ``ledger``
and ``money``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from infocity.accounts.service import DeviceIdentity
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil
from infocity.cards.models.events import CardEvent
from infocity.cards.models.meals import MealOrder, MenuItem, Subsidy, SubsidyChange, SubsidyDay
from infocity.cards.rules import meals as rules
from infocity.cards.rules.cards import CardStatus, Right
from infocity.cards.rules.ledger import CATEGORIES, EntryKind
from infocity.cards.rules.meals import OrderMove, OrderState, OrderWindow, SubsidyChangeKind
from infocity.cards.schemas.events import ItemIn
from infocity.cards.schemas.meals import (
    MealOrderIn,
    MealOrderRead,
    MealsRead,
    MenuIn,
    MenuItemRead,
    MenuRead,
    SubsidyGrant,
    SubsidyRead,
)
from infocity.cards.service import money
from infocity.cards.service.base import _add_history, _representative
from infocity.cards.service.cards import _school
from infocity.cards.service.ledger import (
    _banned_in,
    _card_at_device,
    _check_amount,
    _take_reference,
)
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date, city_tz
from infocity.core.db import utcnow
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork

# --- The menu --------------------------------------------------------------------------


def _menu(session: Session, school_id: int, day: date) -> MenuRead:
    items = session.scalars(
        select(MenuItem)
        .where(MenuItem.school_id == school_id, MenuItem.day == day)
        .order_by(MenuItem.position, MenuItem.id)
    )
    return MenuRead(
        school_id=school_id,
        day=day,
        items=[MenuItemRead.model_validate(item) for item in items],
    )


def publish_menu(
    actor: Principal | None,
    school_id: int,
    day: date,
    data: MenuIn,
    *,
    uow: UnitOfWork | None = None,
) -> MenuRead:
    """School staff publish (or replace) their school's menu of ``day``; orders already
    made keep what they ordered."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    if any(item.category not in CATEGORIES for item in data.items):
        raise errors.UnknownCategory()
    if any(item.price <= 0 for item in data.items):
        raise errors.MenuPriceRequired()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _school(school_id, uow)
        session.execute(
            delete(MenuItem).where(MenuItem.school_id == school_id, MenuItem.day == day)
        )
        for position, item in enumerate(data.items):
            session.add(
                MenuItem(
                    school_id=school_id,
                    day=day,
                    position=position,
                    name=item.name,
                    category=item.category,
                    price=item.price,
                    published_by=actor.acting_user_id,
                )
            )
        session.flush()
        audit.record(
            session,
            actor,
            "cards.menu.publish",
            organisation_id=school_id,
            detail=f"{day.isoformat()}: {len(data.items)} items",
        )
        result = _menu(session, school_id, day)
        uow.commit()
        return result


def school_menu(
    actor: Principal | None, school_id: int, day: date, *, uow: UnitOfWork | None = None
) -> MenuRead:
    """A school's menu of ``day`` as its staff published it."""
    authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    uow = uow or UnitOfWork()
    with uow:
        return _menu(uow.session, school_id, day)


def pupil_menu(
    actor: Principal | None, pupil_id: int, day: date, *, uow: UnitOfWork | None = None
) -> MenuRead:
    """The menu of ``day`` at the pupil's school, for a representative to order from."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    uow = uow or UnitOfWork()
    with uow:
        pupil, _told = _representative(uow.session, actor, pupil_id, Right.SEE)
        return _menu(uow.session, pupil.school_id, day)


# --- Subsidised meals --------------------------------------------------------------------


def grant_subsidy(
    actor: Principal | None,
    school_id: int,
    pupil_id: int,
    data: SubsidyGrant,
    *,
    uow: UnitOfWork | None = None,
) -> SubsidyRead:
    """School staff grant a pupil of their school a subsidised-meal allowance per day
    for a period; it may not overlap another of the pupil's allowances."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    if data.ends < data.starts or (data.ends - data.starts).days >= rules.MAX_SUBSIDY_DAYS:
        raise errors.SubsidyPeriodInvalid(rules.MAX_SUBSIDY_DAYS)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        # Locked: two grants for one pupil at once are decided one after the other.
        pupil = session.scalars(
            select(CardPupil).where(CardPupil.id == pupil_id).with_for_update()
        ).one_or_none()
        if pupil is None or pupil.school_id != school_id:
            raise errors.PupilNotFound()
        overlapping = session.scalar(
            select(func.count())
            .select_from(Subsidy)
            .where(
                Subsidy.pupil_id == pupil_id,
                Subsidy.starts <= data.ends,
                Subsidy.ends >= data.starts,
                # A revoked allowance's last day is the day before it was revoked from.
                or_(Subsidy.revoked_from.is_(None), Subsidy.revoked_from > data.starts),
            )
        )
        if overlapping:
            raise errors.SubsidyOverlaps()
        subsidy = Subsidy(
            pupil_id=pupil_id,
            school_id=school_id,
            daily_amount=data.daily_amount,
            starts=data.starts,
            ends=data.ends,
            granted_by=actor.acting_user_id,
        )
        session.add(subsidy)
        session.flush()
        # One row for the worker to tell the representatives (none looked up here).
        session.add(
            SubsidyChange(
                subsidy_id=subsidy.id,
                pupil_id=pupil_id,
                kind=SubsidyChangeKind.GRANTED,
                from_day=data.starts,
                daily_amount=data.daily_amount,
            )
        )
        detail = f"{data.daily_amount} a day, {data.starts.isoformat()}..{data.ends.isoformat()}"
        _add_history(session, actor, pupil_id, "subsidy", detail=detail)
        audit.record(
            session,
            actor,
            "cards.subsidy.grant",
            subject_person_id=pupil.person_id,
            organisation_id=school_id,
            detail=detail,
        )
        result = SubsidyRead.model_validate(subsidy)
        uow.commit()
        return result


def revoke_subsidy(
    actor: Principal | None,
    school_id: int,
    subsidy_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SubsidyRead:
    """School staff revoke a pupil's subsidised meals from tomorrow (the city day): the
    allowance pays nothing from then on; today and the days before stay as they were.
    Meals ordered for those days that the allowance paid are cancelled, what the balance
    paid of them returned (the parents may order again, paying, until the cut-off)."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    now = now or utcnow()
    revoked_from = city_date(now) + timedelta(days=1)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        subsidy = session.get(Subsidy, subsidy_id)
        if subsidy is None or subsidy.school_id != school_id:
            raise errors.SubsidyNotFound()
        # Once: a second revocation (or two staff at once) finds the row taken.
        revoked = dml(
            session,
            update(Subsidy)
            .where(
                Subsidy.id == subsidy.id,
                Subsidy.revoked_from.is_(None),
                Subsidy.ends >= revoked_from,
            )
            .values(revoked_from=revoked_from, revoked_by=actor.acting_user_id, revoked_at=now),
        ).rowcount
        if revoked != 1:
            raise errors.SubsidyEnded()
        orders = session.scalars(
            select(MealOrder)
            .where(
                MealOrder.subsidy_id == subsidy.id,
                MealOrder.day >= revoked_from,
                MealOrder.state == OrderState.PAID,
            )
            .order_by(MealOrder.day, MealOrder.id)
        ).all()
        cancelled = [order for order in orders if _cancel(session, actor, order, now)]
        # One row for the worker to tell the representatives: reached only by the
        # revocation that took the row above, so a second one tells no one again.
        told = [
            {
                "day": order.day.isoformat(),
                "meal": ", ".join(str(item["name"]) for item in order.items),
                "refund": order.amount - order.subsidy,
            }
            for order in cancelled
        ]
        session.add(
            SubsidyChange(
                subsidy_id=subsidy.id,
                pupil_id=subsidy.pupil_id,
                kind=SubsidyChangeKind.REVOKED,
                from_day=revoked_from,
                daily_amount=subsidy.daily_amount,
                orders=told or None,
                refunded=sum(order.amount - order.subsidy for order in cancelled),
            )
        )
        detail = f"{subsidy.id}: from {revoked_from.isoformat()}"
        if cancelled:
            detail += f"; orders cancelled: {', '.join(str(order.id) for order in cancelled)}"
        _add_history(session, actor, subsidy.pupil_id, "subsidy_revoke", detail=detail, at=now)
        pupil = session.get(CardPupil, subsidy.pupil_id)
        audit.record(
            session,
            actor,
            "cards.subsidy.revoke",
            subject_person_id=pupil.person_id if pupil else None,
            organisation_id=school_id,
            detail=detail,
        )
        session.refresh(subsidy)
        result = SubsidyRead.model_validate(subsidy)
        uow.commit()
        return result


def school_pupil_subsidies(
    actor: Principal | None, school_id: int, pupil_id: int, *, uow: UnitOfWork | None = None
) -> list[SubsidyRead]:
    """A pupil's subsidised-meal allowances, the latest first, for the school's staff."""
    authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil = session.get(CardPupil, pupil_id)
        if pupil is None or pupil.school_id != school_id:
            raise errors.PupilNotFound()
        rows = session.scalars(
            select(Subsidy)
            .where(Subsidy.pupil_id == pupil_id)
            .order_by(Subsidy.starts.desc(), Subsidy.id.desc())
        )
        return [SubsidyRead.model_validate(row) for row in rows]


def _pays_on(day: date) -> ColumnElement[bool]:
    """An allowance pays on the city ``day``: within its period, not revoked by then."""
    return and_(
        Subsidy.starts <= day,
        Subsidy.ends >= day,
        or_(Subsidy.revoked_from.is_(None), Subsidy.revoked_from > day),
    )


def _subsidies_on(session: Session, pupil_id: int, day: date) -> list[Subsidy]:
    return list(
        session.scalars(
            select(Subsidy).where(Subsidy.pupil_id == pupil_id, _pays_on(day)).order_by(Subsidy.id)
        )
    )


def _used_on(session: Session, subsidy_id: int, day: date) -> int:
    used = session.scalar(
        select(SubsidyDay.used).where(SubsidyDay.subsidy_id == subsidy_id, SubsidyDay.day == day)
    )
    return int(used or 0)


def _subsidy_left(session: Session, pupil_id: int, day: date) -> int:
    """What the pupil's allowances still pay on the city ``day``."""
    return sum(
        rules.subsidy_share(s.daily_amount, s.daily_amount, _used_on(session, s.id, day))
        for s in _subsidies_on(session, pupil_id, day)
    )


def _take_subsidy(session: Session, pupil_id: int, amount: int, day: date) -> int:
    """The part of a purchase of ``amount`` the day's allowance pays: the day's row of
    each allowance raised by a guarded update within the allowance (a till selling at
    the same moment is decided by the row, and the loser takes what is left)."""
    return _take_subsidy_of(session, pupil_id, amount, day)[0]


def _take_subsidy_of(
    session: Session, pupil_id: int, amount: int, day: date
) -> tuple[int, int | None]:
    """As ``_take_subsidy``, with the allowance that paid (allowances of one pupil never
    overlap, so one a day at most)."""
    taken, paid_by = 0, None
    for subsidy in _subsidies_on(session, pupil_id, day):
        session.execute(
            upsert_insert(session)(SubsidyDay)
            .values(subsidy_id=subsidy.id, day=day, used=0)
            .on_conflict_do_nothing(index_elements=["subsidy_id", "day"])
        )
        for _attempt in range(3):
            used = _used_on(session, subsidy.id, day)
            share = rules.subsidy_share(amount - taken, subsidy.daily_amount, used)
            if share == 0:
                break
            raised = dml(
                session,
                update(SubsidyDay)
                .where(
                    SubsidyDay.subsidy_id == subsidy.id,
                    SubsidyDay.day == day,
                    SubsidyDay.used + share <= subsidy.daily_amount,
                )
                .values({SubsidyDay.used: SubsidyDay.used + share}),
            ).rowcount
            if raised == 1:
                taken += share
                paid_by = subsidy.id
                break
    return taken, paid_by


def _give_back_subsidy(session: Session, order: MealOrder) -> None:
    """What a cancelled order took of its day's allowance is free for that day again."""
    if order.subsidy and order.subsidy_id is not None:
        dml(
            session,
            update(SubsidyDay)
            .where(
                SubsidyDay.subsidy_id == order.subsidy_id,
                SubsidyDay.day == order.day,
                SubsidyDay.used >= order.subsidy,
            )
            .values({SubsidyDay.used: SubsidyDay.used - order.subsidy}),
        )


# --- Pre-orders ----------------------------------------------------------------------------


def _check_window(day: date, now: datetime) -> None:
    window = rules.order_window(day, now, city_tz())
    if window is OrderWindow.CLOSED:
        raise errors.OrderClosed()
    if window is OrderWindow.TOO_FAR:
        raise errors.OrderTooFar(rules.MAX_DAYS_AHEAD)


def order_meal(
    actor: Principal | None,
    pupil_id: int,
    data: MealOrderIn,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> MealOrderRead:
    """A representative orders the pupil's meal of a day from the school's menu (until
    10:00 the day before, at most 31 days ahead), paid at once from the balance within
    the rules: the balance, today's limit, the banned categories."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    _check_window(data.day, now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, _told = _representative(session, actor, pupil_id, Right.TOP_UP)
        menu = {
            item.id: item
            for item in session.scalars(
                select(MenuItem).where(
                    MenuItem.school_id == pupil.school_id,
                    MenuItem.day == data.day,
                    MenuItem.id.in_(set(data.items)),
                )
            )
        }
        if any(item_id not in menu for item_id in data.items):
            raise errors.MenuItemNotFound()
        items = [
            ItemIn(name=menu[i].name, category=menu[i].category, price=menu[i].price)
            for i in data.items
        ]
        if _banned_in(session, pupil.id, items):
            raise errors.BannedItem()
        amount = _check_amount(sum(item.price for item in items))
        # The day's allowance pays first, as at the till on that day; the rest now.
        subsidy, subsidy_id = _take_subsidy_of(session, pupil.id, amount, data.day)
        rest = amount - subsidy
        if rest:
            balance = money._debit(session, pupil.id, rest, now, city_date(now))
            if balance is None:
                raise money._refusal(session, pupil.id, rest)
        else:
            balance = pupil.balance
        order = MealOrder(
            pupil_id=pupil.id,
            school_id=pupil.school_id,
            day=data.day,
            items=[item.model_dump() for item in items],
            amount=amount,
            subsidy=subsidy,
            subsidy_id=subsidy_id,
            state=OrderState.PAID,
            ordered_by=actor.acting_user_id,
            created_at=now,
        )
        session.add(order)
        session.flush()
        money._write_entry(
            session,
            pupil.id,
            EntryKind.PURCHASE,
            -rest,
            balance,
            now,
            subsidy=subsidy,
            items=order.items,
            reference=f"order:{order.id}",
            actor_user_id=actor.acting_user_id,
        )
        _add_history(
            session, actor, pupil.id, "meal_order", detail=f"{order.id}: {data.day}", at=now
        )
        result = MealOrderRead.model_validate(order)
        uow.commit()
        return result


def cancel_meal_order(
    actor: Principal | None,
    pupil_id: int,
    order_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> MealOrderRead:
    """A representative cancels an order before its cut-off; the money goes back once."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, _told = _representative(session, actor, pupil_id, Right.TOP_UP)
        order = session.get(MealOrder, order_id)
        if order is None or order.pupil_id != pupil.id:
            raise errors.OrderNotFound()
        _check_window(order.day, now)
        if not _cancel(session, actor, order, now):
            raise errors.OrderStateConflict()
        session.refresh(order)
        result = MealOrderRead.model_validate(order)
        uow.commit()
        return result


def _cancel(session: Session, actor: Principal, order: MealOrder, now: datetime) -> bool:
    """Cancel a paid order once (guarded update): what the balance paid goes back under
    a unique reference, what the allowance paid is free for its day again. False when
    the order was served or cancelled already."""
    moved = dml(
        session,
        update(MealOrder)
        .where(
            MealOrder.id == order.id,
            MealOrder.state == rules.order_state_before(OrderMove.CANCEL),
        )
        .values(state=rules.order_state_after(OrderMove.CANCEL), changed_at=now),
    ).rowcount
    if moved != 1:
        return False
    if order.amount > order.subsidy:
        _take_reference(
            session,
            order.pupil_id,
            f"order-refund:{order.id}",
            order.amount - order.subsidy,
            now,
            EntryKind.REFUND,
            actor,
        )
    _give_back_subsidy(session, order)
    _add_history(session, actor, order.pupil_id, "meal_cancel", detail=str(order.id), at=now)
    return True


def pupil_meals(
    actor: Principal | None,
    pupil_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> MealsRead:
    """A pupil's meals for a representative: today's allowance and what is left of it,
    the orders from a week ago on, the first day that may still be ordered."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, _told = _representative(session, actor, pupil_id, Right.SEE)
        subsidies = _subsidies_on(session, pupil.id, today)
        orders = session.scalars(
            select(MealOrder)
            .where(MealOrder.pupil_id == pupil.id, MealOrder.day >= today - timedelta(days=7))
            .order_by(MealOrder.day, MealOrder.id)
        )
        return MealsRead(
            subsidy=SubsidyRead.model_validate(subsidies[0]) if subsidies else None,
            subsidy_left_today=_subsidy_left(session, pupil.id, today),
            orders=[MealOrderRead.model_validate(order) for order in orders],
            first_orderable_day=rules.first_orderable_day(now, city_tz()),
        )


def till_meal_orders(
    device: DeviceIdentity,
    uid: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[MealOrderRead]:
    """A till reads the card's meals ordered for today (paid, or served already)."""
    if device.kind != "till":
        raise errors.NotACardDevice()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        card, pupil = _card_at_device(session, device, uid)
        if card.status != CardStatus.ACTIVE:
            raise errors.CardBlocked()
        orders = session.scalars(
            select(MealOrder)
            .where(
                MealOrder.pupil_id == pupil.id,
                MealOrder.day == city_date(now),
                MealOrder.state.in_([OrderState.PAID, OrderState.SERVED]),
            )
            .order_by(MealOrder.id)
        )
        return [MealOrderRead.model_validate(order) for order in orders]


def _serve_order(
    session: Session,
    device: DeviceIdentity,
    order_id: int,
    pupil_id: int,
    at: datetime,
    event_id: int,
) -> None:
    """The till serves an ordered meal of the event's day, once (guarded update); the
    purchase event carries the order's sum and items (paid when it was ordered)."""
    served = dml(
        session,
        update(MealOrder)
        .where(
            MealOrder.id == order_id,
            MealOrder.pupil_id == pupil_id,
            MealOrder.school_id == device.organisation_id,
            MealOrder.day == city_date(at),
            MealOrder.state == rules.order_state_before(OrderMove.SERVE),
        )
        .values(state=rules.order_state_after(OrderMove.SERVE), event_id=event_id, changed_at=at)
        .returning(MealOrder.amount, MealOrder.items),
    ).one_or_none()
    if served is None:
        order = session.get(MealOrder, order_id)
        if order is not None and order.pupil_id == pupil_id and order.state != OrderState.PAID:
            raise errors.OrderStateConflict()
        raise errors.OrderNotFound()
    dml(
        session,
        update(CardEvent)
        .where(CardEvent.id == event_id)
        .values(amount=served.amount, items=served.items),
    )
