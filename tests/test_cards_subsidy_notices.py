"""Parents are told when the school grants or revokes their child's subsidised meals: the
day it holds from, the sum a day, and for a revocation the meals ordered ahead it
cancelled and what came back to the balance. The legal representatives always, a
trusted adult who chose to hear of meals; each through the channels they chose; once,
however the fan-out is cut short or run again."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from infocity.accounts import service as accounts
from infocity.cards import errors, service
from infocity.cards.models.meals import SubsidyChange
from infocity.cards.schemas.cards import NotificationSettings, TrustedAdultAdd
from infocity.cards.schemas.events import ItemIn
from infocity.cards.schemas.meals import MealOrderIn, MenuIn, SubsidyGrant
from infocity.cards.service import notices
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today, city_tz
from infocity.core.i18n import format_day, use_locale
from infocity.core.models import OutboxMessage
from infocity.core.outbox import notify_many
from infocity.core.uow import UnitOfWork
from tests.builders import Account, make_citizen
from tests.cards_builders import Pupil, School, enrolled_child, make_school

LUNCH = ItemIn(name="Обед: суп, котлета, компот", category="hot_meal", price=15_000)


def _messages(user_id: int, kind: str) -> list[tuple[str, str, str]]:
    """The user's messages of ``kind``: (channel, subject, body), spaces made plain."""
    with UnitOfWork() as uow:
        return [
            (row.channel, row.subject, row.body.replace("\xa0", " "))
            for row in uow.session.execute(
                select(OutboxMessage.channel, OutboxMessage.subject, OutboxMessage.body)
                .where(OutboxMessage.user_id == user_id, OutboxMessage.kind == kind)
                .order_by(OutboxMessage.channel, OutboxMessage.id)
            )
        ]


def _ru(day: date) -> str:
    with use_locale("ru"):
        return format_day(day)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), city_tz())


def _family() -> tuple[School, Account, Pupil, Account, Account]:
    """A subsidised pupil's parent, a grandmother who hears of meals, a nanny who does
    not; the parent muted purchases and reads e-mail too."""
    school = make_school()
    parent, pupil = enrolled_child(school, first_name="Маша", balance=30_000)
    grandmother, nanny = make_citizen(first_name="Галина"), make_citizen(first_name="Оля")
    for adult in (grandmother, nanny):
        service.add_trusted_adult(
            parent.principal, pupil.id, TrustedAdultAdd(contact=adult.identifier)
        )
    service.set_notification_settings(
        parent.principal,
        pupil.id,
        NotificationSettings(purchases=False, channels=["inbox", "email"]),
    )
    service.set_notification_settings(
        nanny.principal, pupil.id, NotificationSettings(purchases=False)
    )
    return school, parent, pupil, grandmother, nanny


def test_parents_are_told_of_a_revoked_subsidy_with_the_orders_it_cancelled(
    database: str,
) -> None:
    school, parent, pupil, grandmother, nanny = _family()
    today = city_today()
    morning = _at(today, 9)
    tomorrow = today + timedelta(days=1)
    days = [today + timedelta(days=2), today + timedelta(days=3)]
    subsidy = service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(
            daily_amount=10_000, starts=today - timedelta(days=1), ends=today + timedelta(days=30)
        ),
    )
    for day in days:
        menu = service.publish_menu(
            school.staff.principal,
            school.id,
            day,
            MenuIn(items=[LUNCH]),
        )
        ordered = service.order_meal(
            parent.principal,
            pupil.id,
            MealOrderIn(day=day, items=[menu.items[0].id]),
            now=morning,
        )
        assert (ordered.subsidy, ordered.amount) == (10_000, 15_000)
    assert service.fan_out_subsidy_changes(SYSTEM) == 1  # the grant, told of first
    revoked = service.revoke_subsidy(
        school.staff.principal,
        school.id,
        subsidy.id,
        now=morning,
    )
    assert revoked.revoked_from == tomorrow
    # Nothing is told in the staff's transaction: the worker tells.
    assert _messages(parent.id, "cards_subsidy_revoked") == []
    assert service.fan_out_subsidy_changes(SYSTEM) == 1
    assert service.fan_out_subsidy_changes(SYSTEM) == 0

    told = _messages(parent.id, "cards_subsidy_revoked")
    # The parent muted purchases, yet hears of the child's right to meals, by both channels.
    assert [channel for channel, _s, _b in told] == ["email", "inbox"]
    _channel, subject, body = told[1]
    assert "Маша" in subject
    assert f"с {_ru(tomorrow)}" in body, body
    assert "100,00 руб. в день" in body, body
    for day in days:
        assert f"{_ru(day)}: {LUNCH.name}" in body, body
    # Each order's balance part (5,000 kopecks) came back: 100 roubles in all.
    assert "Возвращено на баланс карты: 100,00 руб." in body, body
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 30_000
    # The grandmother hears of meals; the nanny chose not to.
    assert [(c, b) for c, _s, b in _messages(grandmother.id, "cards_subsidy_revoked")] == [
        ("inbox", body)
    ]
    assert _messages(nanny.id, "cards_subsidy_revoked") == []

    # A second revocation is refused, and no one is told again.
    with pytest.raises(errors.SubsidyEnded):
        service.revoke_subsidy(
            school.staff.principal,
            school.id,
            subsidy.id,
            now=morning,
        )
    assert service.fan_out_subsidy_changes(SYSTEM) == 0
    assert len(_messages(parent.id, "cards_subsidy_revoked")) == 2
    assert len(_messages(grandmother.id, "cards_subsidy_revoked")) == 1


def test_parents_are_told_of_a_granted_subsidy_in_their_language(database: str) -> None:
    school, parent, pupil, grandmother, nanny = _family()
    accounts.set_locale(grandmother.id, "en")
    starts = city_today() + timedelta(days=1)
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=15_050, starts=starts, ends=starts + timedelta(days=60)),
    )
    assert service.fan_out_subsidy_changes(SYSTEM) == 1
    [(_c, subject, body)] = [
        m for m in _messages(parent.id, "cards_subsidy_granted") if m[0] == "inbox"
    ]
    assert "Маша" in subject
    assert "150,50 руб. в день" in body, body
    assert f"с {_ru(starts)} по {_ru(starts + timedelta(days=60))}" in body, body
    [(_c, subject, body)] = _messages(grandmother.id, "cards_subsidy_granted")
    assert subject == "Subsidised meals for Иванова Маша"
    with use_locale("en"):
        period = f"from {format_day(starts)} to {format_day(starts + timedelta(days=60))}"
    assert period in body, body
    assert "150.50 RUB a day" in body, body
    assert _messages(nanny.id, "cards_subsidy_granted") == []


def test_a_fan_out_cut_short_tells_everyone_once(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    school, parent, pupil, grandmother, _nanny = _family()
    today = city_today()
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=10_000, starts=today, ends=today + timedelta(days=9)),
    )

    def dies_after_queuing(*args: Any, **kwargs: Any) -> list[str]:
        notify_many(*args, **kwargs)
        raise RuntimeError("the worker is killed")

    # The adults' messages queued, the worker dies before the batch commits.
    monkeypatch.setattr(notices, "notify_many", dies_after_queuing)
    with pytest.raises(RuntimeError):
        service.fan_out_subsidy_changes(SYSTEM)
    monkeypatch.undo()
    assert _messages(parent.id, "cards_subsidy_granted") == []
    assert service.fan_out_subsidy_changes(SYSTEM) == 1
    assert service.fan_out_subsidy_changes(SYSTEM) == 0
    assert [c for c, _s, _b in _messages(parent.id, "cards_subsidy_granted")] == ["email", "inbox"]
    assert len(_messages(grandmother.id, "cards_subsidy_granted")) == 1
    # A second worker that took the change before the first committed (SQLite locks no
    # rows) finds everyone told already.
    with UnitOfWork() as uow:
        uow.session.execute(update(SubsidyChange).values(fanned_out_at=None))
        uow.commit()
    assert service.fan_out_subsidy_changes(SYSTEM) == 1
    assert len(_messages(parent.id, "cards_subsidy_granted")) == 2
    assert len(_messages(grandmother.id, "cards_subsidy_granted")) == 1
