"""A student's social card: applied for through the portal, confirmed by the college's
student office, issued, activated, reported lost and replaced; the student told at each
step; what each refusal says and that it changes nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from infocity.cards import service
from infocity.cards.schemas.social import SocialCardBlock, SocialCardIssue
from infocity.core.clock import city_today
from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from infocity.portal import service as portal
from infocity.portal.schemas import AssignCreate, DecisionCreate
from tests.builders import make_organisation
from tests.cards_social_builders import (
    active_card,
    apply,
    card_notices,
    confirm,
    graduation_year,
    make_college,
    new_uid,
    ordered_card,
    social_snapshot,
    student,
    validator_key,
)
from tests.support.refusals import refusals_change_nothing

unchanged = refusals_change_nothing(social_snapshot)


def test_a_card_goes_from_order_to_replacement_and_the_student_is_told(database: str) -> None:
    college, dasha = make_college(), student()
    key = validator_key()
    application = apply(dasha, college)
    assert application.organisation_id == college.id
    assert service.list_my_social_cards(dasha.principal) == []  # the college decides first

    confirm(college, application.id)
    (card,) = service.list_my_social_cards(dasha.principal)
    assert card.status == "ordered"
    assert card.valid_until == date(graduation_year(), 8, 31)
    # The office sees it in its list; the UID is typed as a reader shows it.
    listed = service.list_college_social_cards(college.office.principal, college.id)
    assert [c.id for c in listed] == [card.id]
    issued = service.issue_social_card(
        college.office.principal, card.id, SocialCardIssue(uid="04:a1:b2:c3:d4:e5:f6")
    )
    assert (issued.status, issued.uid) == ("issued", "04A1B2C3D4E5F6")
    uid = issued.uid
    assert uid is not None
    not_yet = service.check_social_card_eligibility(key, uid)
    assert (not_yet.eligible, not_yet.reason) == (False, "not_active")

    service.activate_social_card(dasha.principal, card.id)
    eligible = service.check_social_card_eligibility(key, uid.lower())
    assert (eligible.eligible, eligible.valid_until) == (True, card.valid_until)

    blocked = service.report_social_card_lost(
        dasha.principal, card.id, SocialCardBlock(reason="stolen")
    )
    assert (blocked.status, blocked.block_reason) == ("blocked", "stolen")
    refused = service.check_social_card_eligibility(key, uid)
    assert (refused.eligible, refused.reason) == (False, "blocked")

    new = service.reissue_social_card(dasha.principal, card.id)
    assert (new.status, new.replaces_card_id, new.uid) == ("ordered", card.id, None)
    cards = service.list_my_social_cards(dasha.principal)
    assert [(c.id, c.status) for c in cards] == [(new.id, "ordered"), (card.id, "reissued")]
    assert [e.status for e in cards[1].history] == [
        "ordered",
        "issued",
        "active",
        "blocked",
        "reissued",
    ]
    # The old UID stays refused; the new card gets its own.
    assert service.check_social_card_eligibility(key, uid).reason == "blocked"
    service.issue_social_card(college.office.principal, new.id, SocialCardIssue(uid=new_uid()))

    assert card_notices(dasha.id) == [
        "Ваша социальная карта: Заказана",
        "Ваша социальная карта: Готова к выдаче",
        "Ваша социальная карта: Действует",
        "Ваша социальная карта: Заблокирована",
        "Ваша социальная карта: Заменена новой картой",
        "Ваша социальная карта: Заказана",
        "Ваша социальная карта: Готова к выдаче",
    ]
    with UnitOfWork() as uow:
        audited = list(
            uow.session.scalars(
                select(AuditEntry.action).where(AuditEntry.organisation_id == college.id)
            )
        )
    assert audited.count("cards.social.issue") == 2


def test_refusals_say_why_and_change_nothing(database: str) -> None:
    college, other_college = make_college(), make_college("Университет")
    dasha, stranger = student(), student()
    card = ordered_card(dasha, college)
    school = make_organisation("school")

    with unchanged("social_card_already_held", "уже есть социальная карта"):
        apply(dasha, college)
    with unchanged("not_a_college", "Выберите колледж или вуз"):
        apply(stranger, college.__class__(school.id, college.office))
    with unchanged("graduation_year_passed"):
        apply(stranger, college, year=city_today().year - 1)
    with unchanged("graduation_year_too_far"):
        apply(stranger, college, year=city_today().year + 10)
    with unchanged("social_card_status_conflict", "обновите страницу"):
        service.activate_social_card(dasha.principal, card.id)  # not issued yet
    with unchanged("social_card_not_found"):
        service.report_social_card_lost(stranger.principal, card.id, SocialCardBlock(reason="lost"))
    with unchanged("invalid_block_reason"):
        service.report_social_card_lost(
            dasha.principal, card.id, SocialCardBlock(reason="studies_ended")
        )
    with unchanged("forbidden"):
        service.issue_social_card(
            other_college.office.principal, card.id, SocialCardIssue(uid=new_uid())
        )
    with unchanged("cards_invalid_uid", "шестнадцатеричных"):
        service.issue_social_card(
            college.office.principal, card.id, SocialCardIssue(uid="XYZ12345")
        )

    taken = active_card(stranger, college)
    assert taken.uid is not None
    with unchanged("cards_uid_taken"):
        service.issue_social_card(college.office.principal, card.id, SocialCardIssue(uid=taken.uid))
    # The college blocks a card when studies end; the student cannot re-open it.
    service.block_social_card(
        college.office.principal, taken.id, SocialCardBlock(reason="studies_ended")
    )
    with unchanged("social_card_status_conflict"):
        service.activate_social_card(stranger.principal, taken.id)
    # A new college's card instead of a replacement: then no replacement on top of it.
    confirm(other_college, apply(stranger, other_college).id)
    with unchanged("social_card_already_held"):
        service.reissue_social_card(stranger.principal, taken.id)
    assert [c.status for c in service.list_my_social_cards(stranger.principal)] == [
        "ordered",
        "blocked",
    ]


def test_an_application_made_while_a_card_is_ordered_cannot_make_a_second(
    database: str,
) -> None:
    college, dasha = make_college(), student()
    # Both filed before either is approved: the check at filing passes twice.
    first, second = apply(dasha, college), apply(dasha, college)
    confirm(college, first.id)
    portal.assign_application(college.office.principal, second.id, AssignCreate())
    with unchanged("social_card_already_held"):
        portal.decide_application(
            college.office.principal, second.id, DecisionCreate(decision="approve")
        )
    assert portal.get_application(dasha.principal, second.id).status == "in_review"
    assert [c.status for c in service.list_my_social_cards(dasha.principal)] == ["ordered"]
