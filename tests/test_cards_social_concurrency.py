"""Staff of one student office issuing at the same moment: one card is issued once, and
one UID goes to one card, whatever the race: the guarded update and the unique UID decide."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest

from infocity.cards import errors, service
from infocity.cards.schemas.social import SocialCardIssue
from infocity.core.auth import Role
from infocity.core.errors import AppError
from tests.builders import make_staff
from tests.cards_social_builders import make_college, new_uid, ordered_card, student

STAFF = 4


def at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` in threads released together; each one's result or refusal code."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = calls[index]()
        except AppError as refusal:
            outcomes[index] = refusal.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.slow
def test_one_card_is_issued_once_and_one_uid_goes_to_one_card(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    college = make_college()
    office = [college.office] + [make_staff(Role.COLLEGE_STAFF, college.id) for _ in range(3)]
    card = ordered_card(student(), college)

    outcomes = at_once(
        [
            partial(
                service.issue_social_card, who.principal, card.id, SocialCardIssue(uid=new_uid())
            )
            for who in office[:STAFF]
        ]
    )
    assert sorted(o for o in outcomes if isinstance(o, str)) == [
        errors.SocialCardStatusConflict().code
    ] * (STAFF - 1)
    (mine,) = service.list_college_social_cards(college.office.principal, college.id)
    assert mine.status == "issued"

    cards = [ordered_card(student(), college) for _ in range(STAFF)]
    uid = new_uid()
    outcomes = at_once(
        [
            partial(service.issue_social_card, who.principal, c.id, SocialCardIssue(uid=uid))
            for c, who in zip(cards, office, strict=True)
        ]
    )
    assert sorted(o for o in outcomes if isinstance(o, str)) == [errors.CardUidTaken().code] * (
        STAFF - 1
    )
    holders = [
        c
        for c in service.list_college_social_cards(college.office.principal, college.id)
        if c.uid == uid
    ]
    assert len(holders) == 1
