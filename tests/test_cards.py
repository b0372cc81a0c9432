"""School cards: staff issue, block and re-issue cards (the balance stays with the
pupil); parents activate the service, add trusted adults with fewer rights, and choose
what they are told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from infocity.cards import service
from infocity.cards.models.cards import CardPupil, CardRepresentative, SchoolCard
from infocity.cards.schemas.cards import (
    Activation,
    CardIssue,
    NotificationSettings,
    TrustedAdultAdd,
)
from infocity.cards.schemas.ledger import SpendingRules
from infocity.core.auth import Role
from infocity.core.db import utcnow
from infocity.core.errors import Forbidden
from infocity.core.uow import UnitOfWork
from infocity.portal import service as portal
from tests.builders import make_citizen, make_organisation, make_staff
from tests.cards_builders import (
    enrolled_child,
    event,
    issue,
    make_child,
    make_device,
    make_school,
    new_uid,
    send,
    top_up,
)
from tests.support.refusals import refusals_change_nothing


def _snapshot() -> object:
    with UnitOfWork() as uow:
        cards = uow.session.execute(
            select(SchoolCard.uid, SchoolCard.status, SchoolCard.pupil_id).order_by(SchoolCard.id)
        ).all()
        pupils = uow.session.execute(
            select(CardPupil.id, CardPupil.balance, CardPupil.daily_limit).order_by(CardPupil.id)
        ).all()
        told = uow.session.execute(
            select(CardRepresentative.user_id, CardRepresentative.standing).order_by(
                CardRepresentative.id
            )
        ).all()
        return cards, pupils, told


unchanged = refusals_change_nothing(_snapshot)


def test_a_lost_card_is_blocked_and_reissued_and_the_money_stays(database: str) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=50_000)
    other_school = make_school()

    with unchanged("forbidden"):
        service.issue_card(
            other_school.staff.principal,
            CardIssue(school_id=school.id, person_id=pupil.person_id, uid=new_uid()),
        )
    with unchanged("cards_invalid_uid", "8, 14 или 20"):
        issue(school, pupil.person_id, uid="not a uid")
    with unchanged("cards_uid_taken"):
        issue(school, make_child(parent, "Петя"), uid=pupil.uid)
    with unchanged("cards_pupil_has_card"):
        issue(school, pupil.person_id)
    clinic = make_organisation("clinic")
    with unchanged("cards_not_a_school"):
        service.issue_card(
            make_staff(Role.CITY_ADMIN).principal,
            CardIssue(school_id=clinic.id, person_id=pupil.person_id, uid=new_uid()),
        )

    turnstile = make_device(school.id)
    now = utcnow()
    # The parent reports the card lost; the turnstile refuses it from then on.
    before = event("t0", "entry", pupil.uid, now - timedelta(minutes=2))
    assert send(turnstile, before).accepted == 1
    blocked = service.block_card(parent.principal, pupil.card_id)
    assert blocked.status == "blocked"
    refused = send(turnstile, event("t1", "entry", pupil.uid, now - timedelta(minutes=1)), before)
    assert [r.code for r in refused.refused] == ["cards_card_blocked"]
    assert refused.duplicates == 1  # a replay of what came before the block
    with unchanged("cards_card_state"):
        service.block_card(school.staff.principal, pupil.card_id)

    fresh = service.reissue_card(school.staff.principal, pupil.card_id, new_uid())
    assert (fresh.status, fresh.pupil_id) == ("active", pupil.id)
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert (mine.balance, mine.card_status) == (50_000, "active")
    assert send(turnstile, event("t2", "entry", fresh.uid, now)).accepted == 1

    history = service.card_history(school.staff.principal, pupil.id)
    assert [h.action for h in history][:3] == ["reissued", "blocked", "activated"]
    assert history[-1].action == "issued"
    assert [h.action for h in service.card_history(parent.principal, pupil.id)] == [
        h.action for h in history
    ]
    with pytest.raises(Forbidden):
        service.card_history(other_school.staff.principal, pupil.id)


def test_parents_activate_add_a_grandmother_and_choose_what_they_hear(database: str) -> None:
    school = make_school()
    parent, masha = enrolled_child(school, first_name="Маша")
    _parent, petya = enrolled_child(school, parent, first_name="Петя")
    assert [p.id for p in service.list_my_pupils(parent.principal)] == [masha.id, petya.id]
    stranger = make_citizen()

    with unchanged("cards_not_your_child"):
        service.activate_card_service(stranger.principal, Activation(child_id=masha.person_id))
    no_card = make_child(stranger)
    with unchanged("cards_no_card_yet"):
        service.activate_card_service(stranger.principal, Activation(child_id=no_card))
    with unchanged("cards_not_your_pupil"):
        service.get_my_pupil(stranger.principal, masha.id)

    grandmother = make_citizen(first_name="Галина")
    with unchanged("cards_adult_not_found"):
        service.add_trusted_adult(
            parent.principal, masha.id, TrustedAdultAdd(contact="nobody@example.ru")
        )
    added = service.add_trusted_adult(
        parent.principal, masha.id, TrustedAdultAdd(contact=grandmother.identifier)
    )
    assert added.standing == "trusted"
    with unchanged("cards_already_representative"):
        service.add_trusted_adult(
            parent.principal, masha.id, TrustedAdultAdd(contact=grandmother.identifier)
        )
    # The grandmother sees Masha and may top up, but changes no rules and adds no one.
    assert [p.id for p in service.list_my_pupils(grandmother.principal)] == [masha.id]
    assert top_up(grandmother, masha.id, 10_000).balance == 10_000
    with unchanged("cards_right_refused"):
        service.set_spending_rules(grandmother.principal, masha.id, SpendingRules(daily_limit=1))
    with unchanged("cards_right_refused"):
        service.add_trusted_adult(
            grandmother.principal, masha.id, TrustedAdultAdd(contact=stranger.identifier)
        )
    with unchanged("cards_right_refused"):
        service.block_card(grandmother.principal, masha.card_id)

    settings = service.set_notification_settings(
        grandmother.principal,
        masha.id,
        NotificationSettings(passes=True, purchases=False, channels=["inbox", "email"]),
    )
    assert (settings.purchases, settings.channels) == (False, ["inbox", "email"])
    with unchanged("cards_unknown_channel"):
        service.set_notification_settings(
            grandmother.principal, masha.id, NotificationSettings(channels=["pigeon"])
        )
    with unchanged("cards_right_refused"):
        service.set_notification_settings(
            grandmother.principal, masha.id, NotificationSettings(low_balance_level=1)
        )
    adults = service.list_representatives(parent.principal, masha.id)
    assert [(a.standing, a.display_name) for a in adults] == [
        ("legal", parent.principal.display_name),
        ("trusted", grandmother.principal.display_name),
    ]
    service.remove_trusted_adult(parent.principal, masha.id, added.id)
    assert service.list_my_pupils(grandmother.principal) == []

    # The parent's cabinet shows both children's cards; a citizen with no child sees none.
    cards = {card.code: card for card in portal.my_overview(parent.principal).cards}
    assert [item.text.split()[1] for item in cards["school_cards"].items] == ["Маша", "Петя"]
    assert "school_cards" not in {c.code for c in portal.my_overview(grandmother.principal).cards}
