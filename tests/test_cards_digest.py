"""The daily digest: one message per representative who chose it, per pupil and day,
with the day's entries, exits and purchases and the balance; a second run sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from infocity.cards import service
from infocity.cards.schemas.cards import NotificationSettings, TrustedAdultAdd
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from tests.builders import make_citizen
from tests.cards_builders import enrolled_child, event, make_device, make_school, send, yesterday_at


def _digests(user_id: int) -> list[tuple[str, str]]:
    with UnitOfWork() as uow:
        return [
            (row.subject, row.body)
            for row in uow.session.execute(
                select(OutboxMessage.subject, OutboxMessage.body)
                .where(
                    OutboxMessage.user_id == user_id,
                    OutboxMessage.channel == "inbox",
                    OutboxMessage.kind == "cards_digest",
                )
                .order_by(OutboxMessage.id)
            )
        ]


# The city day is the digest's: run either side of the city's midnight and at months' ends.
@pytest.mark.calendar
def test_parents_who_chose_the_digest_get_one_a_day(
    database: str, request: pytest.FixtureRequest
) -> None:
    # The scenario happens at one instant: a second before the city's midnight, a ticking
    # clock would move "yesterday" between the events and the digest.
    frozen = time_machine.travel(datetime.now(UTC), tick=False)
    frozen.start()
    request.addfinalizer(frozen.stop)
    school = make_school()
    parent, pupil = enrolled_child(school, first_name="Маша", balance=20_000)
    other_parent, quiet = enrolled_child(school, first_name="Петя")
    grandmother = make_citizen(first_name="Галина")
    service.add_trusted_adult(
        parent.principal, pupil.id, TrustedAdultAdd(contact=grandmother.identifier)
    )
    service.set_notification_settings(parent.principal, pupil.id, NotificationSettings(digest=True))
    service.set_notification_settings(
        other_parent.principal, quiet.id, NotificationSettings(digest=True)
    )
    turnstile, till = make_device(school.id), make_device(school.id, "till")
    send(turnstile, event("in", "entry", pupil.uid, yesterday_at(8, 10)))
    send(till, event("p1", "purchase", pupil.uid, yesterday_at(11, 0), amount=4_500))
    send(till, event("p2", "purchase", pupil.uid, yesterday_at(13, 0), amount=3_000))
    send(turnstile, event("out", "exit", pupil.uid, yesterday_at(15, 30)))
    # The day before is another digest's.
    send(turnstile, event("old", "entry", pupil.uid, yesterday_at(8) - timedelta(days=1)))

    assert service.send_daily_digests(SYSTEM) == 1
    assert service.send_daily_digests(SYSTEM) == 0  # the hourly run again: nothing more
    [(subject, body)] = _digests(parent.id)
    assert "Маша" in subject
    for line in ("Входы: 1", "Выходы: 1", "Покупки: 2", "75,00", "125,00"):
        assert line in body.replace("\xa0", " "), (line, body)
    # The grandmother did not choose the digest; Petya had no day at school.
    assert _digests(grandmother.id) == []
    assert _digests(other_parent.id) == []
    # The day before yesterday, asked for, is its own digest, sent once.
    two_days_ago = city_today() - timedelta(days=2)
    assert service.send_daily_digests(SYSTEM, day=two_days_ago) == 1
    assert service.send_daily_digests(SYSTEM, day=two_days_ago) == 0
